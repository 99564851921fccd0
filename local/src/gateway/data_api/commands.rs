//! The commands: keyspace commands (`createCollection`, `findCollections`, `deleteCollection`)
//! and document commands (`insertOne`, `insertMany`, `findOne`, `find`, `findOneAndUpdate`,
//! `findOneAndReplace`, `findOneAndDelete`, `updateOne`, `updateMany`, `replaceOne`, `deleteOne`,
//! `deleteMany`, `countDocuments`, `estimatedDocumentCount`), each with the Data API's request
//! and response shapes and limits.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use super::Answer;
use super::errors::{Code, DataApiError, Result};
use super::filter::{self, Filter};
use super::projection::Projection;
use super::sort::{Sort, parse_vector};
use super::storage::{self, Collection, CollectionOptions, DocId, Existing, Row};
use super::update::{Update, upsert_base};
use crate::gateway::cql::Cql;
use axum::http::StatusCode;

/// Documents per page of `find` (the Data API's default page size).
pub const PAGE_SIZE: usize = 20;
/// Documents `updateMany` and `deleteMany` change per call (then `moreData`).
pub const MAX_CHANGE_COUNT: usize = 20;
/// Documents `insertMany` takes per call.
pub const MAX_INSERT_COUNT: usize = 100;
/// Documents `countDocuments` counts before it answers `moreData`.
pub const MAX_COUNT: usize = 1000;
/// Documents a sort may order in memory.
pub const MAX_SORT_COUNT: usize = 10_000;
/// The largest `limit` of a vector search.
pub const MAX_VECTOR_LIMIT: usize = 1000;
/// Rows read per round trip while scanning.
const SCAN_BATCH: i32 = 200;
/// Attempts at a conditional write before CONCURRENCY_FAILURE.
const WRITE_ATTEMPTS: usize = 5;
/// Inserts of one `insertMany` in flight at once.
const INSERT_CONCURRENCY: usize = 8;

const KEYSPACE_COMMANDS: &[&str] = &["createCollection", "deleteCollection", "findCollections"];
const COLLECTION_COMMANDS: &[&str] = &[
    "countDocuments",
    "deleteMany",
    "deleteOne",
    "estimatedDocumentCount",
    "find",
    "findOne",
    "findOneAndDelete",
    "findOneAndReplace",
    "findOneAndUpdate",
    "insertMany",
    "insertOne",
    "replaceOne",
    "updateMany",
    "updateOne",
];

fn ok_status(status: Value) -> Answer {
    Answer {
        status: StatusCode::OK,
        body: json!({ "status": status }),
    }
}

fn unknown_command(name: &str, kind: &str, known: &[&str]) -> DataApiError {
    DataApiError::new(
        Code::CommandUnknown,
        format!(
            "\"{name}\" not one of \"{kind}\"s: known commands are [{}]",
            known.join(", ")
        ),
    )
}

/// Checks a command's fields (and its `options`' fields) against those it takes.
fn check_fields(name: &str, command: &Value, fields: &[&str], options: &[&str]) -> Result<()> {
    let unknown = |field: &str, within: &str| {
        DataApiError::new(
            Code::InvalidRequestUnknownField,
            format!("unrecognized field \"{field}\" for {within} (known fields: [{}])", {
                if within.ends_with("options") {
                    options.join(", ")
                } else {
                    fields.join(", ")
                }
            }),
        )
    };
    if let Value::Object(map) = command {
        for key in map.keys() {
            if !fields.contains(&key.as_str()) {
                return Err(unknown(key, &format!("command '{name}'")));
            }
        }
        match map.get("options") {
            None | Some(Value::Null) => {}
            Some(Value::Object(opts)) => {
                for key in opts.keys() {
                    if !options.contains(&key.as_str()) {
                        return Err(unknown(key, &format!("'{name}' options")));
                    }
                }
            }
            Some(_) => {
                return Err(DataApiError::new(
                    Code::InvalidRequestStructureMismatch,
                    format!("'options' of '{name}' must be an object"),
                ));
            }
        }
    }
    Ok(())
}

fn option<'a>(command: &'a Value, name: &str) -> Option<&'a Value> {
    command
        .get("options")
        .and_then(|o| o.get(name))
        .filter(|v| !v.is_null())
}

fn bool_option(command: &Value, name: &str) -> Result<bool> {
    match option(command, name) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(DataApiError::new(
            Code::InvalidRequestStructureMismatch,
            format!("option '{name}' must be a boolean, not {other}"),
        )),
    }
}

fn count_option(command: &Value, name: &str) -> Result<Option<usize>> {
    match option(command, name) {
        None => Ok(None),
        Some(value) => value
            .as_u64()
            .map(|n| Some(usize::try_from(n).unwrap_or(usize::MAX)))
            .ok_or_else(|| {
                DataApiError::new(
                    Code::CommandFieldInvalid,
                    format!("field 'command.options.{name}' value `{value}` not valid. Problem: {name} should be greater than or equal to `0`."),
                )
            }),
    }
}

// ---------------------------------------------------------------------------------------------
// Keyspace commands
// ---------------------------------------------------------------------------------------------

/// Runs a command sent to `/v1/{keyspace}`.
pub async fn keyspace_command(cql: &Cql, keyspace: &str, name: &str, command: &Value) -> Answer {
    let outcome = match name {
        "createCollection" => create_collection(cql, keyspace, command).await,
        "findCollections" => find_collections(cql, keyspace, command).await,
        "deleteCollection" => delete_collection(cql, keyspace, command).await,
        other if COLLECTION_COMMANDS.contains(&other) => Err(DataApiError::new(
            Code::CommandUnknown,
            format!("\"{other}\" is a collection command: send it to /v1/{keyspace}/{{collection}}"),
        )),
        other => Err(unknown_command(other, "KeyspaceCommand", KEYSPACE_COMMANDS)),
    };
    outcome.unwrap_or_else(Answer::from)
}

fn collection_name(command: &Value) -> Result<String> {
    let name = command.get("name").and_then(Value::as_str).unwrap_or_default();
    let valid = !name.is_empty() && name.len() <= 48 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(DataApiError::new(
            Code::CommandFieldInvalid,
            format!(
                "field 'command.name' value \"{name}\" not valid. Problem: must match \"[a-zA-Z0-9_]+\" and be at most 48 characters long."
            ),
        ));
    }
    Ok(name.to_string())
}

async fn create_collection(cql: &Cql, keyspace: &str, command: &Value) -> Result<Answer> {
    check_fields(
        "createCollection",
        command,
        &["name", "options"],
        &["vector", "defaultId", "indexing"],
    )?;
    let name = collection_name(command)?;
    let options = CollectionOptions::parse(command.get("options"))?;
    if !cql.keyspace_exists(keyspace).await {
        return Err(storage::keyspace_not_exist(keyspace));
    }
    match storage::existing(cql, keyspace, &name).await? {
        Existing::Collection(current) if current == options => return Ok(ok_status(json!({"ok": 1}))),
        Existing::Collection(_) => {
            return Err(DataApiError::new(
                Code::ExistingCollectionDifferentSettings,
                format!("trying to create Collection ('{name}') with different settings"),
            ));
        }
        Existing::OtherTable => {
            return Err(DataApiError::new(
                Code::ExistingTableNotDataApiCollection,
                format!("table ('{name}') already exists and is not a collection"),
            ));
        }
        Existing::None => {}
    }
    storage::create_collection(cql, keyspace, &name, &options).await?;
    // Two clients may race to create the same name with different options: the comment decides.
    match storage::existing(cql, keyspace, &name).await? {
        Existing::Collection(current) if current != options => Err(DataApiError::new(
            Code::ExistingCollectionDifferentSettings,
            format!("trying to create Collection ('{name}') with different settings"),
        )),
        _ => Ok(ok_status(json!({"ok": 1}))),
    }
}

async fn find_collections(cql: &Cql, keyspace: &str, command: &Value) -> Result<Answer> {
    check_fields("findCollections", command, &["options"], &["explain"])?;
    let explain = bool_option(command, "explain")?;
    let collections = storage::list_collections(cql, keyspace).await?;
    let listed: Vec<Value> = collections
        .into_iter()
        .map(|c| {
            if explain {
                json!({"name": c.name, "options": c.options.to_json()})
            } else {
                Value::String(c.name)
            }
        })
        .collect();
    Ok(ok_status(json!({ "collections": listed })))
}

async fn delete_collection(cql: &Cql, keyspace: &str, command: &Value) -> Result<Answer> {
    check_fields("deleteCollection", command, &["name"], &[])?;
    let name = collection_name(command)?;
    if !cql.keyspace_exists(keyspace).await {
        return Err(storage::keyspace_not_exist(keyspace));
    }
    if let Existing::Collection(_) = storage::existing(cql, keyspace, &name).await? {
        storage::drop_collection(cql, keyspace, &name).await?;
    }
    Ok(ok_status(json!({"ok": 1})))
}

// ---------------------------------------------------------------------------------------------
// Document commands
// ---------------------------------------------------------------------------------------------

/// Runs a command sent to `/v1/{keyspace}/{collection}`.
pub async fn collection_command(cql: &Cql, keyspace: &str, collection: &str, name: &str, command: &Value) -> Answer {
    let outcome = async {
        if !COLLECTION_COMMANDS.contains(&name) {
            if KEYSPACE_COMMANDS.contains(&name) {
                return Err(DataApiError::new(
                    Code::CommandUnknown,
                    format!("\"{name}\" is a keyspace command: send it to /v1/{keyspace}"),
                ));
            }
            return Err(unknown_command(name, "CollectionCommand", COLLECTION_COMMANDS));
        }
        let coll = storage::collection(cql, keyspace, collection).await?;
        let ctx = Ctx { cql, coll };
        match name {
            "insertOne" => ctx.insert_one(command).await,
            "insertMany" => ctx.insert_many(command).await,
            "findOne" => ctx.find_one(command).await,
            "find" => ctx.find(command).await,
            "countDocuments" => ctx.count_documents(command).await,
            "estimatedDocumentCount" => ctx.estimated_count(command).await,
            "updateOne" => ctx.update_one(command).await,
            "updateMany" => ctx.update_many(command).await,
            "replaceOne" => ctx.replace_one(command).await,
            "findOneAndUpdate" => ctx.find_one_and_update(command).await,
            "findOneAndReplace" => ctx.find_one_and_replace(command).await,
            "findOneAndDelete" => ctx.find_one_and_delete(command).await,
            "deleteOne" => ctx.delete_one(command).await,
            _ => ctx.delete_many(command).await,
        }
    }
    .await;
    outcome.unwrap_or_else(Answer::from)
}

struct Ctx<'a> {
    cql: &'a Cql,
    coll: Collection,
}

/// A document ready to store: its `_id`, the JSON and its vector.
struct Prepared {
    id: DocId,
    doc: Value,
    vector: Option<Vec<f32>>,
}

/// Field names: not empty, no `.`, no leading `$` (except `$vector` at the top).
fn check_field_names(value: &Value, top: bool) -> Result<()> {
    match value {
        Value::Object(map) if !storage::is_ejson_literal(value) => {
            for (key, inner) in map {
                let bad = if key.is_empty() {
                    Some("field name cannot be empty".to_string())
                } else if key.starts_with('$') && !(top && key == "$vector") {
                    Some(format!("field name ('{key}') starts with '$'"))
                } else if key.contains('.') {
                    Some(format!(
                        "field name ('{key}') contains character '.' which is not allowed"
                    ))
                } else {
                    None
                };
                if let Some(detail) = bad {
                    return Err(DataApiError::new(Code::ShredDocKeyNameViolation, detail));
                }
                if !(top && key == "$vector") {
                    check_field_names(inner, false)?;
                }
            }
            Ok(())
        }
        Value::Array(items) => items.iter().try_for_each(|i| check_field_names(i, false)),
        _ => Ok(()),
    }
}

fn documents_option(command: &Value) -> Result<(Projection, Sort, Filter)> {
    Ok((
        Projection::parse(command.get("projection"))?,
        Sort::parse(command.get("sort"))?,
        filter::parse(command.get("filter"))?,
    ))
}

fn page_state(state: &str) -> Result<String> {
    URL_SAFE_NO_PAD
        .decode(state)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            DataApiError::new(
                Code::CommandFieldInvalid,
                "field 'command.options.pageState' value not valid",
            )
        })
}

impl Ctx<'_> {
    /// Checks and completes a document for storage: an `_id` (generated when absent, first
    /// field), field names, and the `$vector` against the collection's dimension.
    fn prepare(&self, document: Option<&Value>) -> Result<Prepared> {
        let Some(Value::Object(map)) = document else {
            let found = document.map(storage::type_name).unwrap_or("null");
            return Err(DataApiError::new(
                Code::ShredBadDocumentType,
                format!(
                    "document to shred must be a JSON Object, instead got {}",
                    found.to_uppercase()
                ),
            ));
        };
        let doc = Value::Object(map.clone());
        check_field_names(&doc, true)?;
        let id = match map.get("_id") {
            Some(value) => DocId::from_json(value)?,
            None => DocId::generate(self.coll.options.default_id.as_deref()),
        };
        let mut out = Map::with_capacity(map.len() + 1);
        out.insert("_id".into(), id.to_json());
        for (key, value) in map {
            if key != "_id" {
                out.insert(key.clone(), value.clone());
            }
        }
        let vector = self.vector_of(out.get("$vector"))?;
        if vector.is_none() {
            out.shift_remove("$vector");
        }
        Ok(Prepared {
            id,
            doc: Value::Object(out),
            vector,
        })
    }

    /// A document's `$vector`, checked against the collection.
    fn vector_of(&self, value: Option<&Value>) -> Result<Option<Vec<f32>>> {
        let Some(value) = value.filter(|v| !v.is_null()) else {
            return Ok(None);
        };
        let Some((dimension, _)) = self.coll.options.vector else {
            return Err(DataApiError::plain(Code::VectorSearchNotSupported));
        };
        let vector = parse_vector(value)?;
        if vector.len() != dimension as usize {
            return Err(DataApiError::new(
                Code::VectorSizeMismatch,
                format!("expected {dimension}, actual {}", vector.len()),
            ));
        }
        Ok(Some(vector))
    }

    async fn insert_one(&self, command: &Value) -> Result<Answer> {
        check_fields("insertOne", command, &["document"], &[])?;
        let prepared = self.prepare(command.get("document"))?;
        let inserted = self
            .coll
            .insert(self.cql, &prepared.id.key(), &prepared.doc, prepared.vector.as_deref())
            .await?;
        if !inserted {
            return Ok(Answer {
                status: StatusCode::OK,
                body: json!({
                    "status": {"insertedIds": []},
                    "errors": [DataApiError::plain(Code::DocumentAlreadyExists).to_json()],
                }),
            });
        }
        Ok(ok_status(json!({ "insertedIds": [prepared.id.to_json()] })))
    }

    async fn insert_many(&self, command: &Value) -> Result<Answer> {
        check_fields(
            "insertMany",
            command,
            &["documents", "options"],
            &["ordered", "returnDocumentResponses"],
        )?;
        let documents = command.get("documents").and_then(Value::as_array).ok_or_else(|| {
            DataApiError::new(
                Code::CommandFieldInvalid,
                "field 'command.documents' value `null` not valid. Problem: must not be null.",
            )
        })?;
        if documents.is_empty() || documents.len() > MAX_INSERT_COUNT {
            return Err(DataApiError::new(
                Code::CommandFieldInvalid,
                format!(
                    "field 'command.documents' not valid. Problem: amount of documents to insert is over the max limit ({} vs {MAX_INSERT_COUNT}) or empty.",
                    documents.len()
                ),
            ));
        }
        let ordered = bool_option(command, "ordered")?;
        let responses = bool_option(command, "returnDocumentResponses")?;
        let prepared = documents
            .iter()
            .map(|d| self.prepare(Some(d)))
            .collect::<Result<Vec<_>>>()?;
        // One outcome per document: Ok(true) inserted, Ok(false) duplicate, Err(failed), None skipped.
        let mut outcomes: Vec<Option<Result<bool>>> = vec![None; prepared.len()];
        if ordered {
            for (i, p) in prepared.iter().enumerate() {
                let outcome = self
                    .coll
                    .insert(self.cql, &p.id.key(), &p.doc, p.vector.as_deref())
                    .await;
                let stop = !matches!(outcome, Ok(true));
                outcomes[i] = Some(outcome);
                if stop {
                    break;
                }
            }
        } else {
            // Unordered: a few inserts at a time, each on its own.
            let mut results: Vec<Result<bool>> = Vec::with_capacity(prepared.len());
            for chunk in prepared.chunks(INSERT_CONCURRENCY) {
                let keys: Vec<String> = chunk.iter().map(|p| p.id.key()).collect();
                let inserts = chunk
                    .iter()
                    .zip(&keys)
                    .map(|(p, key)| self.coll.insert(self.cql, key, &p.doc, p.vector.as_deref()));
                results.extend(futures::future::join_all(inserts).await);
            }
            outcomes = results.into_iter().map(Some).collect();
        }
        let mut inserted_ids = Vec::new();
        let mut errors = Vec::new();
        let mut document_responses = Vec::new();
        for (p, outcome) in prepared.iter().zip(&outcomes) {
            let id = p.id.to_json();
            match outcome {
                Some(Ok(true)) => {
                    inserted_ids.push(id.clone());
                    document_responses.push(json!({"_id": id, "status": "OK"}));
                }
                Some(failure) => {
                    let error = match failure {
                        Ok(_) => DataApiError::plain(Code::DocumentAlreadyExists),
                        Err(e) => e.clone(),
                    };
                    // With more than one document, each message names its `_id`.
                    let error = if responses || prepared.len() == 1 {
                        error
                    } else {
                        DataApiError::with_message(
                            error.code,
                            format!("Failed to insert document with _id {}: {}", id_text(&id), error.message),
                        )
                    };
                    document_responses.push(json!({"_id": id, "status": "ERROR", "errorsIdx": errors.len()}));
                    errors.push(error.to_json());
                }
                None => document_responses.push(json!({"_id": id, "status": "SKIPPED"})),
            }
        }
        let status = if responses {
            json!({ "documentResponses": document_responses })
        } else {
            json!({ "insertedIds": inserted_ids })
        };
        let mut body = json!({ "status": status });
        if !errors.is_empty() {
            body["errors"] = Value::Array(errors);
        }
        Ok(Answer {
            status: StatusCode::OK,
            body,
        })
    }

    /// Up to `want` documents matching `filter`, scanning from after `after` (a key) in token
    /// order; the key to continue from when the scan stopped early.
    async fn scan(&self, filter: &Filter, after: Option<String>, want: usize) -> Result<(Vec<Row>, Option<String>)> {
        if let Some(ids) = filter.ids() {
            let keys = ids
                .iter()
                .map(|v| DocId::from_json(v).map(|id| id.key()))
                .collect::<Result<Vec<_>>>()?;
            let mut unique_keys: Vec<String> = Vec::with_capacity(keys.len());
            for key in keys {
                if !unique_keys.contains(&key) {
                    unique_keys.push(key);
                }
            }
            let rows = self.coll.get(self.cql, &unique_keys).await?;
            let mut matched: Vec<Row> = rows.into_iter().filter(|r| filter.matches(&r.doc)).collect();
            matched.truncate(want);
            return Ok((matched, None));
        }
        let mut matched = Vec::new();
        let mut cursor = after;
        loop {
            let rows = self.coll.scan(self.cql, cursor.as_deref(), SCAN_BATCH).await?;
            let exhausted = rows.len() < usize::try_from(SCAN_BATCH).unwrap_or(0);
            for row in rows {
                cursor = Some(row.key.clone());
                if filter.matches(&row.doc) {
                    matched.push(row);
                    if matched.len() == want {
                        return Ok((matched, cursor));
                    }
                }
            }
            if exhausted {
                return Ok((matched, None));
            }
        }
    }

    /// Every match, for sorting (DATASET_TOO_BIG beyond the in-memory limit).
    async fn all_matches(&self, filter: &Filter) -> Result<Vec<Row>> {
        let (rows, more) = self.scan(filter, None, MAX_SORT_COUNT + 1).await?;
        if rows.len() > MAX_SORT_COUNT || (more.is_some() && rows.len() == MAX_SORT_COUNT + 1) {
            return Err(DataApiError::plain(Code::DatasetTooBig));
        }
        Ok(rows)
    }

    /// The matching documents in the sort's order (vector sort: with their similarity).
    async fn sorted(&self, filter: &Filter, sort: &Sort) -> Result<Vec<(Row, Option<f64>)>> {
        match sort {
            Sort::None => Ok(self.all_matches(filter).await?.into_iter().map(|r| (r, None)).collect()),
            Sort::Fields(fields) => {
                let mut rows = self.all_matches(filter).await?;
                rows.sort_by(|a, b| Sort::compare(fields, &a.doc, &b.doc));
                Ok(rows.into_iter().map(|r| (r, None)).collect())
            }
            Sort::Vector(query) => {
                let Some((dimension, metric)) = self.coll.options.vector else {
                    return Err(DataApiError::plain(Code::VectorSearchNotSupported));
                };
                if query.len() != dimension as usize {
                    return Err(DataApiError::new(
                        Code::VectorSizeMismatch,
                        format!("expected {dimension}, actual {}", query.len()),
                    ));
                }
                let mut scored: Vec<(Row, Option<f64>)> = self
                    .all_matches(filter)
                    .await?
                    .into_iter()
                    .filter_map(|row| {
                        let vector = parse_vector(row.doc.get("$vector")?).ok()?;
                        let score = metric.similarity(query, &vector);
                        Some((row, Some(score)))
                    })
                    .collect();
                scored.sort_by(|a, b| b.1.partial_cmp(&a.1).unwrap_or(std::cmp::Ordering::Equal));
                Ok(scored)
            }
        }
    }

    /// The first document by filter and sort.
    async fn first(&self, filter: &Filter, sort: &Sort) -> Result<Option<(Row, Option<f64>)>> {
        if *sort == Sort::None {
            let (rows, _) = self.scan(filter, None, 1).await?;
            return Ok(rows.into_iter().next().map(|r| (r, None)));
        }
        Ok(self.sorted(filter, sort).await?.into_iter().next())
    }

    fn render(projection: &Projection, row: &Row, similarity: Option<f64>, include_similarity: bool) -> Value {
        let mut doc = projection.apply(&row.doc);
        if include_similarity && let (Some(score), Value::Object(map)) = (similarity, &mut doc) {
            map.insert("$similarity".into(), json!(score));
        }
        doc
    }

    async fn find_one(&self, command: &Value) -> Result<Answer> {
        check_fields(
            "findOne",
            command,
            &["filter", "projection", "sort", "options"],
            &["includeSimilarity", "includeSortVector"],
        )?;
        let (projection, sort, filter) = documents_option(command)?;
        let include_similarity = bool_option(command, "includeSimilarity")?;
        let found = self.first(&filter, &sort).await?;
        let document = found
            .map(|(row, score)| Self::render(&projection, &row, score, include_similarity))
            .unwrap_or(Value::Null);
        let mut body = json!({ "data": { "document": document } });
        if bool_option(command, "includeSortVector")? {
            body["status"] = json!({ "sortVector": sort_vector(&sort) });
        }
        Ok(Answer {
            status: StatusCode::OK,
            body,
        })
    }

    async fn find(&self, command: &Value) -> Result<Answer> {
        check_fields(
            "find",
            command,
            &["filter", "projection", "sort", "options"],
            &["limit", "skip", "pageState", "includeSimilarity", "includeSortVector"],
        )?;
        let (projection, sort, filter) = documents_option(command)?;
        let include_similarity = bool_option(command, "includeSimilarity")?;
        let limit = count_option(command, "limit")?;
        let skip = count_option(command, "skip")?;
        let state = match option(command, "pageState").and_then(Value::as_str) {
            Some(s) if !s.is_empty() => Some(page_state(s)?),
            _ => None,
        };
        if state.is_some() && sort != Sort::None {
            return Err(DataApiError::new(
                Code::InvalidSortClause,
                "pageState is not supported with non-empty sort clause",
            ));
        }
        if skip.is_some() && sort == Sort::None {
            return Err(DataApiError::new(
                Code::CommandFieldInvalid,
                "field 'command' value not valid. Problem: skip options should be used with sort clause.",
            ));
        }
        let (documents, next): (Vec<Value>, Option<String>) = match &sort {
            Sort::None => {
                let want = limit.unwrap_or(usize::MAX).min(PAGE_SIZE);
                if want == 0 {
                    (Vec::new(), None)
                } else {
                    let after = state.map(|s| s.strip_prefix("k:").unwrap_or(&s).to_string());
                    let (rows, more) = self.scan(&filter, after, want).await?;
                    let next = more
                        .filter(|_| limit.is_none_or(|l| l > want))
                        .map(|key| format!("k:{key}"));
                    (
                        rows.iter().map(|r| Self::render(&projection, r, None, false)).collect(),
                        next,
                    )
                }
            }
            Sort::Vector(_) => {
                if skip.is_some() {
                    return Err(DataApiError::new(
                        Code::CommandFieldInvalid,
                        "field 'command' value not valid. Problem: skip options should not be used with vector search.",
                    ));
                }
                let want = limit.unwrap_or(PAGE_SIZE).min(MAX_VECTOR_LIMIT);
                let rows = self.sorted(&filter, &sort).await?;
                let documents = rows
                    .iter()
                    .take(want)
                    .map(|(r, score)| Self::render(&projection, r, *score, include_similarity))
                    .collect();
                (documents, None)
            }
            Sort::Fields(_) => {
                // Sorted in memory: one answer of at most a page (`limit` lowers it), moved on
                // with `skip`, never a `nextPageState`.
                let rows = self.sorted(&filter, &sort).await?;
                let start = skip.unwrap_or(0).min(rows.len());
                let end = (start + limit.unwrap_or(PAGE_SIZE).min(PAGE_SIZE)).min(rows.len());
                let documents = rows[start..end]
                    .iter()
                    .map(|(r, _)| Self::render(&projection, r, None, false))
                    .collect();
                (documents, None)
            }
        };
        let next = next
            .map(|s| Value::String(URL_SAFE_NO_PAD.encode(s)))
            .unwrap_or(Value::Null);
        let mut body = json!({ "data": { "documents": documents, "nextPageState": next } });
        if bool_option(command, "includeSortVector")? {
            body["status"] = json!({ "sortVector": sort_vector(&sort) });
        }
        Ok(Answer {
            status: StatusCode::OK,
            body,
        })
    }

    async fn count_documents(&self, command: &Value) -> Result<Answer> {
        check_fields("countDocuments", command, &["filter"], &[])?;
        let filter = filter::parse(command.get("filter"))?;
        let (rows, _) = self.scan(&filter, None, MAX_COUNT + 1).await?;
        if rows.len() > MAX_COUNT {
            return Ok(ok_status(json!({ "count": MAX_COUNT, "moreData": true })));
        }
        Ok(ok_status(json!({ "count": rows.len() })))
    }

    async fn estimated_count(&self, command: &Value) -> Result<Answer> {
        check_fields("estimatedDocumentCount", command, &[], &[])?;
        Ok(ok_status(json!({ "count": self.coll.count(self.cql).await? })))
    }

    /// Changes one stored document with `change` (None: leave it), conditionally on it not
    /// having changed meanwhile; on a conflict re-reads it, and skips it when it no longer
    /// matches. Returns the document before and after, when it still matched.
    async fn change_row(
        &self,
        filter: &Filter,
        mut row: Row,
        change: &(dyn Fn(&Value) -> Result<Option<Value>> + Sync),
    ) -> Result<Option<(Value, Value)>> {
        for _ in 0..WRITE_ATTEMPTS {
            let Some(new_doc) = change(&row.doc)? else {
                return Ok(Some((row.doc.clone(), row.doc)));
            };
            let vector = self.vector_of(new_doc.get("$vector"))?;
            if self.coll.replace(self.cql, &row, &new_doc, vector.as_deref()).await? {
                return Ok(Some((row.doc, new_doc)));
            }
            match self
                .coll
                .get(self.cql, std::slice::from_ref(&row.key))
                .await?
                .into_iter()
                .next()
            {
                Some(fresh) if filter.matches(&fresh.doc) => row = fresh,
                _ => return Ok(None),
            }
        }
        Err(DataApiError::plain(Code::ConcurrencyFailure))
    }

    /// Inserts an upsert's new document (`base` from the filter, then the update or the
    /// replacement). Returns its `_id`, or None when another client inserted it meanwhile.
    async fn insert_upsert(&self, doc: Value) -> Result<Option<(Value, Value)>> {
        let prepared = self.prepare(Some(&doc))?;
        let inserted = self
            .coll
            .insert(self.cql, &prepared.id.key(), &prepared.doc, prepared.vector.as_deref())
            .await?;
        Ok(inserted.then(|| (prepared.id.to_json(), prepared.doc)))
    }

    /// updateOne / findOneAndUpdate / replaceOne / findOneAndReplace: the first match changed,
    /// or (upsert) a new document. Returns (before, after, matched, modified, upserted id).
    async fn change_one(&self, filter: &Filter, sort: &Sort, upsert: bool, edit: &Edit) -> Result<ChangeOne> {
        for _ in 0..WRITE_ATTEMPTS {
            if let Some((row, _)) = self.first(filter, sort).await? {
                let change = |doc: &Value| edit.apply(doc);
                match self.change_row(filter, row, &change).await? {
                    Some((before, after)) => {
                        let modified = before != after;
                        return Ok(ChangeOne {
                            before: Some(before),
                            after: Some(after),
                            matched: 1,
                            modified: usize::from(modified),
                            upserted: None,
                        });
                    }
                    None => continue,
                }
            }
            if !upsert {
                return Ok(ChangeOne::default());
            }
            let new_doc = edit.new_document(filter)?;
            if let Some((id, doc)) = self.insert_upsert(new_doc).await? {
                return Ok(ChangeOne {
                    before: None,
                    after: Some(doc),
                    matched: 0,
                    modified: 0,
                    upserted: Some(id),
                });
            }
        }
        Err(DataApiError::plain(Code::ConcurrencyFailure))
    }

    fn change_status(result: &ChangeOne) -> Value {
        let mut status = json!({ "matchedCount": result.matched, "modifiedCount": result.modified });
        if let Some(id) = &result.upserted {
            status["upsertedId"] = id.clone();
        }
        status
    }

    async fn update_one(&self, command: &Value) -> Result<Answer> {
        check_fields(
            "updateOne",
            command,
            &["filter", "update", "sort", "options"],
            &["upsert"],
        )?;
        let filter = filter::parse(command.get("filter"))?;
        let sort = Sort::parse(command.get("sort"))?;
        let edit = Edit::Update(Update::parse(command.get("update"))?);
        let result = self
            .change_one(&filter, &sort, bool_option(command, "upsert")?, &edit)
            .await?;
        Ok(ok_status(Self::change_status(&result)))
    }

    async fn replace_one(&self, command: &Value) -> Result<Answer> {
        check_fields(
            "replaceOne",
            command,
            &["filter", "replacement", "sort", "options"],
            &["upsert"],
        )?;
        let filter = filter::parse(command.get("filter"))?;
        let sort = Sort::parse(command.get("sort"))?;
        let edit = Edit::Replace(self.replacement(command)?);
        let result = self
            .change_one(&filter, &sort, bool_option(command, "upsert")?, &edit)
            .await?;
        Ok(ok_status(Self::change_status(&result)))
    }

    fn replacement(&self, command: &Value) -> Result<Value> {
        let replacement = command.get("replacement");
        let Some(Value::Object(_)) = replacement else {
            return Err(DataApiError::new(
                Code::ShredBadDocumentType,
                "document to shred must be a JSON Object",
            ));
        };
        let doc = replacement.cloned().unwrap_or_default();
        check_field_names(&doc, true)?;
        self.vector_of(doc.get("$vector"))?;
        if let Some(id) = doc.get("_id") {
            DocId::from_json(id)?;
        }
        Ok(doc)
    }

    async fn find_one_and(&self, command: &Value, edit: Edit, name: &str, field: &str) -> Result<Answer> {
        check_fields(
            name,
            command,
            &["filter", field, "sort", "projection", "options"],
            &["upsert", "returnDocument", "includeSimilarity"],
        )?;
        let (projection, sort, filter) = documents_option(command)?;
        let after = match option(command, "returnDocument").and_then(Value::as_str) {
            None | Some("before") => false,
            Some("after") => true,
            Some(other) => {
                return Err(DataApiError::new(
                    Code::CommandFieldInvalid,
                    format!(
                        "field 'command.options.returnDocument' value \"{other}\" not valid. Problem: value must be 'before' or 'after'."
                    ),
                ));
            }
        };
        let result = self
            .change_one(&filter, &sort, bool_option(command, "upsert")?, &edit)
            .await?;
        let shown = if after { &result.after } else { &result.before };
        let document = shown.as_ref().map(|d| projection.apply(d)).unwrap_or(Value::Null);
        Ok(Answer {
            status: StatusCode::OK,
            body: json!({ "data": { "document": document }, "status": Self::change_status(&result) }),
        })
    }

    async fn find_one_and_update(&self, command: &Value) -> Result<Answer> {
        let edit = Edit::Update(Update::parse(command.get("update"))?);
        self.find_one_and(command, edit, "findOneAndUpdate", "update").await
    }

    async fn find_one_and_replace(&self, command: &Value) -> Result<Answer> {
        let edit = Edit::Replace(self.replacement(command)?);
        self.find_one_and(command, edit, "findOneAndReplace", "replacement")
            .await
    }

    async fn update_many(&self, command: &Value) -> Result<Answer> {
        check_fields(
            "updateMany",
            command,
            &["filter", "update", "options"],
            &["upsert", "pageState"],
        )?;
        let filter = filter::parse(command.get("filter"))?;
        let update = Update::parse(command.get("update"))?;
        let upsert = bool_option(command, "upsert")?;
        let after = match option(command, "pageState").and_then(Value::as_str) {
            Some(s) if !s.is_empty() => Some(page_state(s)?),
            _ => None,
        };
        let (rows, _) = self.scan(&filter, after, MAX_CHANGE_COUNT + 1).await?;
        let more = rows.len() > MAX_CHANGE_COUNT;
        let rows: Vec<Row> = rows.into_iter().take(MAX_CHANGE_COUNT).collect();
        let last_key = rows.last().map(|r| r.key.clone());
        let (mut matched, mut modified) = (0usize, 0usize);
        let change = |doc: &Value| -> Result<Option<Value>> {
            let mut new_doc = doc.clone();
            Ok(update.apply(&mut new_doc, false)?.then_some(new_doc))
        };
        for row in rows {
            if let Some((before, after)) = self.change_row(&filter, row, &change).await? {
                matched += 1;
                modified += usize::from(before != after);
            }
        }
        let mut status = json!({ "matchedCount": matched, "modifiedCount": modified });
        if matched == 0 && upsert && !more {
            let mut doc = upsert_base(&filter.equalities());
            update.apply(&mut doc, true)?;
            if let Some((id, _)) = self.insert_upsert(doc).await? {
                status["upsertedId"] = id;
            }
        }
        if more {
            status["moreData"] = json!(true);
            if let Some(key) = last_key {
                status["nextPageState"] = json!(URL_SAFE_NO_PAD.encode(key));
            }
        }
        Ok(ok_status(status))
    }

    async fn delete_one(&self, command: &Value) -> Result<Answer> {
        check_fields("deleteOne", command, &["filter", "sort"], &[])?;
        let filter = filter::parse(command.get("filter"))?;
        let sort = Sort::parse(command.get("sort"))?;
        let deleted = self.delete_first(&filter, &sort).await?;
        Ok(ok_status(json!({ "deletedCount": usize::from(deleted.is_some()) })))
    }

    /// Deletes the first match (retrying when it changed meanwhile); the deleted document.
    async fn delete_first(&self, filter: &Filter, sort: &Sort) -> Result<Option<Value>> {
        for _ in 0..WRITE_ATTEMPTS {
            let Some((row, _)) = self.first(filter, sort).await? else {
                return Ok(None);
            };
            let doc = row.doc.clone();
            if self.coll.delete(self.cql, &row).await? {
                return Ok(Some(doc));
            }
        }
        Err(DataApiError::plain(Code::ConcurrencyFailure))
    }

    async fn find_one_and_delete(&self, command: &Value) -> Result<Answer> {
        check_fields("findOneAndDelete", command, &["filter", "sort", "projection"], &[])?;
        let (projection, sort, filter) = documents_option(command)?;
        let deleted = self.delete_first(&filter, &sort).await?;
        let count = usize::from(deleted.is_some());
        let document = deleted.map(|d| projection.apply(&d)).unwrap_or(Value::Null);
        Ok(Answer {
            status: StatusCode::OK,
            body: json!({ "data": { "document": document }, "status": { "deletedCount": count } }),
        })
    }

    async fn delete_many(&self, command: &Value) -> Result<Answer> {
        check_fields("deleteMany", command, &["filter"], &[])?;
        let filter = filter::parse(command.get("filter"))?;
        if filter == Filter::And(Vec::new()) {
            // An empty filter deletes everything at once, and the count is not known (-1).
            self.coll.truncate(self.cql).await?;
            return Ok(ok_status(json!({ "deletedCount": -1 })));
        }
        let (rows, _) = self.scan(&filter, None, MAX_CHANGE_COUNT + 1).await?;
        let more = rows.len() > MAX_CHANGE_COUNT;
        let mut deleted = 0usize;
        for mut row in rows.into_iter().take(MAX_CHANGE_COUNT) {
            for _ in 0..WRITE_ATTEMPTS {
                if self.coll.delete(self.cql, &row).await? {
                    deleted += 1;
                    break;
                }
                match self
                    .coll
                    .get(self.cql, std::slice::from_ref(&row.key))
                    .await?
                    .into_iter()
                    .next()
                {
                    Some(fresh) if filter.matches(&fresh.doc) => row = fresh,
                    _ => break,
                }
            }
        }
        let mut status = json!({ "deletedCount": deleted });
        if more {
            status["moreData"] = json!(true);
        }
        Ok(ok_status(status))
    }
}

/// What a one-document change does to the document it finds.
enum Edit {
    Update(Update),
    Replace(Value),
}

impl Edit {
    /// The new document, or None when unchanged.
    fn apply(&self, doc: &Value) -> Result<Option<Value>> {
        match self {
            Edit::Update(update) => {
                let mut new_doc = doc.clone();
                Ok(update.apply(&mut new_doc, false)?.then_some(new_doc))
            }
            Edit::Replace(replacement) => {
                let id = doc.get("_id").cloned().unwrap_or(Value::Null);
                if let Some(given) = replacement.get("_id")
                    && DocId::from_json(given)?.key() != DocId::from_json(&id)?.key()
                {
                    return Err(DataApiError::plain(Code::DocumentReplaceDifferentDocid));
                }
                let mut map = Map::new();
                map.insert("_id".into(), id);
                if let Value::Object(fields) = replacement {
                    for (k, v) in fields {
                        if k != "_id" && !(k == "$vector" && v.is_null()) {
                            map.insert(k.clone(), v.clone());
                        }
                    }
                }
                let new_doc = Value::Object(map);
                Ok((new_doc != *doc).then_some(new_doc))
            }
        }
    }

    /// An upsert's document: the filter's equalities (with `_id`) and the update, or the
    /// replacement (with the filter's `_id` unless it has one).
    fn new_document(&self, filter: &Filter) -> Result<Value> {
        let equalities = filter.equalities();
        match self {
            Edit::Update(update) => {
                let mut doc = upsert_base(&equalities);
                update.apply(&mut doc, true)?;
                Ok(doc)
            }
            Edit::Replace(replacement) => {
                let mut doc = replacement.clone();
                if doc.get("_id").is_none()
                    && let Some((_, id)) = equalities.iter().find(|(p, _)| p == "_id")
                    && let Value::Object(map) = &mut doc
                {
                    map.shift_insert(0, "_id".into(), id.clone());
                }
                Ok(doc)
            }
        }
    }
}

#[derive(Default)]
struct ChangeOne {
    before: Option<Value>,
    after: Option<Value>,
    matched: usize,
    modified: usize,
    upserted: Option<Value>,
}

fn sort_vector(sort: &Sort) -> Value {
    match sort {
        Sort::Vector(v) => json!(v),
        _ => Value::Null,
    }
}

/// An `_id` in an error message: strings as they are, others as JSON.
fn id_text(id: &Value) -> String {
    match id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

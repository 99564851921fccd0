//! Where collections live in Cassandra: one table per collection in its keyspace,
//!
//! ```text
//! CREATE TABLE "ks"."coll" (
//!     key text PRIMARY KEY,       -- the document's _id, type-tagged (see DocId::key)
//!     tx_id timeuuid,             -- changes on every write: updates and deletes are LWTs on it
//!     doc_json text,              -- the whole document
//!     query_vector_value vector<float, n>  -- only when the collection has a vector dimension
//! ) WITH comment = '{"collection":{"name":"coll","schema_version":1,"options":{…}}}'
//! ```
//!
//! The collection's options live in the table comment, as the Data API keeps them, so a table
//! is a collection when its comment says so, and a restart loses nothing. Inserts are
//! `IF NOT EXISTS` (a duplicate `_id` is refused even under concurrency); updates and deletes
//! are conditional on the `tx_id` read, and retried on a concurrent change.

use scylla::value::{CqlTimeuuid, CqlValue, MaybeUnset};
use serde_json::{Map, Number, Value, json};

use super::errors::{Code, DataApiError, Result};
use super::json::canonical_number;
use crate::gateway::cql::{Bind, Cql, Options, qualified, string_literal};

/// The largest vector dimension a collection may declare (the Data API's limit).
pub const MAX_VECTOR_DIMENSION: u64 = 4096;

/// A document's `_id`.
#[derive(Debug, Clone, PartialEq)]
pub enum DocId {
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
    Uuid(String),
    ObjectId(String),
    Date(i64),
}

/// True for `{"$date": …}`, `{"$uuid": …}` and `{"$objectId": …}`: values, not operators.
pub fn is_ejson_literal(value: &Value) -> bool {
    matches!(value, Value::Object(map) if map.len() == 1
        && map.keys().all(|k| k == "$date" || k == "$uuid" || k == "$objectId"))
}

fn bad_ejson(detail: impl std::fmt::Display) -> DataApiError {
    DataApiError::new(Code::ShredBadEjsonValue, detail)
}

impl DocId {
    /// The `_id` a JSON value names.
    pub fn from_json(value: &Value) -> Result<Self> {
        Ok(match value {
            Value::String(s) if s.is_empty() => return Err(DataApiError::plain(Code::ShredBadDocidEmptyString)),
            Value::String(s) => DocId::Str(s.clone()),
            Value::Number(n) => DocId::Num(n.clone()),
            Value::Bool(b) => DocId::Bool(*b),
            Value::Null => DocId::Null,
            Value::Object(map) if is_ejson_literal(value) => {
                let (key, inner) = map.iter().next().expect("one entry");
                match key.as_str() {
                    "$date" => DocId::Date(inner.as_i64().ok_or_else(|| {
                        bad_ejson(format!(
                            "Date ($date) needs to have NUMBER value, has {}",
                            type_name(inner)
                        ))
                    })?),
                    "$uuid" => {
                        let text = inner.as_str().unwrap_or_default();
                        let parsed = uuid::Uuid::parse_str(text)
                            .ok()
                            .filter(|_| text.len() == 36)
                            .ok_or_else(|| {
                                bad_ejson(format!("invalid value ({inner}) for extended JSON type '$uuid'"))
                            })?;
                        DocId::Uuid(parsed.hyphenated().to_string())
                    }
                    _ => {
                        let text = inner.as_str().unwrap_or_default();
                        if text.len() != 24 || !text.chars().all(|c| c.is_ascii_hexdigit()) {
                            return Err(bad_ejson(format!(
                                "invalid value ({inner}) for extended JSON type '$objectId'"
                            )));
                        }
                        DocId::ObjectId(text.to_ascii_lowercase())
                    }
                }
            }
            other => {
                return Err(DataApiError::new(
                    Code::ShredBadDocidType,
                    format!(
                        "Document Id must be a JSON String, Number, Boolean, EJSON-Encoded Date Object or NULL instead got {}",
                        type_name(other).to_uppercase()
                    ),
                ));
            }
        })
    }

    /// The row key: a type tag and one spelling per value, so `1` and `1.0` are the same `_id`
    /// while `"1"` is another.
    pub fn key(&self) -> String {
        match self {
            DocId::Str(s) => format!("s:{s}"),
            DocId::Num(n) => format!("n:{}", canonical_number(n)),
            DocId::Bool(b) => format!("b:{b}"),
            DocId::Null => "z:".into(),
            DocId::Uuid(u) => format!("u:{u}"),
            DocId::ObjectId(o) => format!("o:{o}"),
            DocId::Date(d) => format!("d:{d}"),
        }
    }

    /// The `_id` as documents and `insertedIds` show it.
    pub fn to_json(&self) -> Value {
        match self {
            DocId::Str(s) => Value::String(s.clone()),
            DocId::Num(n) => Value::Number(n.clone()),
            DocId::Bool(b) => Value::Bool(*b),
            DocId::Null => Value::Null,
            DocId::Uuid(u) => json!({ "$uuid": u }),
            DocId::ObjectId(o) => json!({ "$objectId": o }),
            DocId::Date(d) => json!({ "$date": d }),
        }
    }

    /// A new `_id` for a document without one: a UUID string, or the collection's `defaultId`.
    pub fn generate(default_id: Option<&str>) -> Self {
        match default_id {
            Some("objectId") => DocId::ObjectId(new_object_id()),
            Some("uuidv7") => {
                let millis = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);
                let random: [u8; 10] = rand::random();
                DocId::Uuid(
                    uuid::Builder::from_unix_timestamp_millis(millis, &random)
                        .into_uuid()
                        .hyphenated()
                        .to_string(),
                )
            }
            Some("uuidv6") => {
                // 100 ns intervals since the Gregorian calendar's start (1582-10-15).
                const GREGORIAN_OFFSET: u64 = 0x01B2_1DD2_1381_4000;
                let unix_ticks =
                    u64::try_from(chrono::Utc::now().timestamp_nanos_opt().unwrap_or(0) / 100).unwrap_or(0);
                let node: [u8; 6] = rand::random();
                DocId::Uuid(
                    uuid::Builder::from_sorted_gregorian_timestamp(
                        unix_ticks + GREGORIAN_OFFSET,
                        rand::random(),
                        &node,
                    )
                    .into_uuid()
                    .hyphenated()
                    .to_string(),
                )
            }
            Some(_) => DocId::Uuid(uuid::Uuid::new_v4().hyphenated().to_string()),
            None => DocId::Str(uuid::Uuid::new_v4().hyphenated().to_string()),
        }
    }
}

/// An ObjectId: 4 bytes of seconds, 8 random bytes.
fn new_object_id() -> String {
    let seconds = u32::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let random: [u8; 8] = rand::random();
    format!("{}{}", hex::encode(seconds.to_be_bytes()), hex::encode(random))
}

pub fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The similarity function of a vector collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    Cosine,
    DotProduct,
    Euclidean,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::Cosine => "cosine",
            Metric::DotProduct => "dot_product",
            Metric::Euclidean => "euclidean",
        }
    }

    /// The similarity Cassandra's vector functions return: 0..1, higher is closer.
    pub fn similarity(self, a: &[f32], b: &[f32]) -> f64 {
        let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
        match self {
            Metric::Cosine => {
                let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
                let denominator = norm(a) * norm(b);
                let cosine = if denominator == 0.0 { 0.0 } else { dot / denominator };
                (1.0 + cosine) / 2.0
            }
            Metric::DotProduct => (1.0 + dot) / 2.0,
            Metric::Euclidean => {
                let squared: f64 = a
                    .iter()
                    .zip(b)
                    .map(|(x, y)| (f64::from(*x) - f64::from(*y)).powi(2))
                    .sum();
                1.0 / (1.0 + squared)
            }
        }
    }
}

/// A collection's options, as `createCollection` takes them and `findCollections` shows them.
#[derive(Debug, Clone, PartialEq)]
pub struct CollectionOptions {
    pub vector: Option<(u32, Metric)>,
    /// The vector's `sourceModel` (`other` unless given); `None` without a vector.
    pub source_model: Option<String>,
    pub default_id: Option<String>,
    /// Accepted and kept (`allow`/`deny` lists); every field stays filterable here.
    pub indexing: Option<Value>,
}

fn invalid_options(detail: impl std::fmt::Display) -> DataApiError {
    DataApiError::new(Code::InvalidCreateCollectionOptions, detail)
}

impl CollectionOptions {
    /// Parses `createCollection`'s `options`.
    pub fn parse(options: Option<&Value>) -> Result<Self> {
        let empty = Map::new();
        let options = match options {
            None | Some(Value::Null) => &empty,
            Some(Value::Object(map)) => map,
            Some(_) => return Err(invalid_options("'options' must be an object")),
        };
        let mut parsed = CollectionOptions {
            vector: None,
            source_model: None,
            default_id: None,
            indexing: None,
        };
        for (key, value) in options {
            match key.as_str() {
                "vector" => {
                    let (dimension, metric, model) = parse_vector(value)?;
                    parsed.vector = Some((dimension, metric));
                    parsed.source_model = Some(model);
                }
                "defaultId" => {
                    let kind = value.get("type").and_then(Value::as_str).unwrap_or_default();
                    if !matches!(kind, "uuid" | "uuidv6" | "uuidv7" | "objectId") {
                        return Err(invalid_options(format!(
                            "Invalid value for 'defaultId', valid options are: [objectId, uuid, uuidv6, uuidv7], got '{kind}'"
                        )));
                    }
                    parsed.default_id = Some(kind.to_string());
                }
                "indexing" => {
                    let allow = value.get("allow").is_some();
                    let deny = value.get("deny").is_some();
                    if !value.is_object() || allow == deny {
                        return Err(DataApiError::with_message(
                            Code::InvalidCreateCollectionOptions,
                            "Invalid indexing definition: `allow` and `deny` cannot be used together, and one of them is required",
                        ));
                    }
                    parsed.indexing = Some(value.clone());
                }
                other => {
                    return Err(DataApiError::new(
                        Code::InvalidRequestUnknownField,
                        format!("unrecognized option '{other}' of createCollection"),
                    ));
                }
            }
        }
        Ok(parsed)
    }

    /// The options as `findCollections` with `explain` shows them (and the table comment keeps them).
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        if let Some((dimension, metric)) = self.vector {
            let model = self.source_model.as_deref().unwrap_or(DEFAULT_SOURCE_MODEL);
            map.insert(
                "vector".into(),
                json!({"dimension": dimension, "metric": metric.name(), "sourceModel": model}),
            );
        }
        if let Some(kind) = &self.default_id {
            map.insert("defaultId".into(), json!({ "type": kind }));
        }
        if let Some(indexing) = &self.indexing {
            map.insert("indexing".into(), indexing.clone());
        }
        Value::Object(map)
    }
}

/// The embedding models a vector collection may name as its `sourceModel`, each with the metric
/// it defaults to.
const SOURCE_MODELS: [(&str, Metric); 8] = [
    ("ada002", Metric::DotProduct),
    ("bert", Metric::DotProduct),
    ("cohere-v3", Metric::DotProduct),
    ("gecko", Metric::DotProduct),
    ("nv-qa-4", Metric::DotProduct),
    ("openai-v3-large", Metric::DotProduct),
    ("openai-v3-small", Metric::DotProduct),
    ("other", Metric::Cosine),
];
const DEFAULT_SOURCE_MODEL: &str = "other";

/// `vector`: its dimension, metric and source model.
fn parse_vector(value: &Value) -> Result<(u32, Metric, String)> {
    let Value::Object(map) = value else {
        return Err(invalid_options("'vector' must be an object"));
    };
    let dimension = match map.get("dimension") {
        Some(Value::Number(n)) => n.as_u64().filter(|d| *d > 0).ok_or_else(|| {
            invalid_options("The provided options are invalid: 'dimension' must be a positive integer")
        })?,
        None | Some(Value::Null) => {
            return Err(invalid_options(
                "The 'dimension' can not be null if 'service' is not provided",
            ));
        }
        Some(_) => return Err(invalid_options("'dimension' must be a number")),
    };
    if dimension > MAX_VECTOR_DIMENSION {
        return Err(DataApiError::new(
            Code::VectorSearchTooBigValue,
            format!("field value {dimension} exceeds maximum allowed ({MAX_VECTOR_DIMENSION})"),
        ));
    }
    let model = match map.get("sourceModel") {
        None | Some(Value::Null) => DEFAULT_SOURCE_MODEL,
        Some(given) => {
            let name = given.as_str().unwrap_or_default();
            SOURCE_MODELS
                .iter()
                .map(|(n, _)| *n)
                .find(|n| *n == name)
                .ok_or_else(|| {
                    let accepted: Vec<&str> = SOURCE_MODELS.iter().map(|(n, _)| *n).collect();
                    let received = given.as_str().map_or_else(|| given.to_string(), str::to_owned);
                    DataApiError::new(
                        Code::VectorSearchUnrecognizedSourceModelName,
                        format!("Received: '{received}'; Accepted: {}", accepted.join(", ")),
                    )
                })?
        }
    };
    let metric = match map.get("metric").and_then(Value::as_str) {
        // Without a metric, the source model's.
        None => SOURCE_MODELS
            .iter()
            .find(|(n, _)| *n == model)
            .map_or(Metric::Cosine, |(_, m)| *m),
        Some("cosine") => Metric::Cosine,
        Some("dot_product") => Metric::DotProduct,
        Some("euclidean") => Metric::Euclidean,
        Some(other) => {
            return Err(DataApiError::new(
                Code::VectorSearchInvalidFunctionName,
                format!("'{other}'; valid metrics are cosine, dot_product and euclidean"),
            ));
        }
    };
    for key in map.keys() {
        if !matches!(key.as_str(), "dimension" | "metric" | "sourceModel" | "service") {
            return Err(DataApiError::new(
                Code::InvalidRequestUnknownField,
                format!("unrecognized field '{key}' of 'vector'"),
            ));
        }
    }
    Ok((u32::try_from(dimension).unwrap_or(u32::MAX), metric, model.to_owned()))
}

/// A collection found in Cassandra.
#[derive(Debug, Clone)]
pub struct Collection {
    pub keyspace: String,
    pub name: String,
    pub options: CollectionOptions,
}

/// A stored document.
#[derive(Debug, Clone)]
pub struct Row {
    pub key: String,
    pub tx_id: Option<CqlTimeuuid>,
    pub doc: Value,
}

fn text(value: Option<&Option<CqlValue>>) -> Option<String> {
    match value {
        Some(Some(CqlValue::Text(s) | CqlValue::Ascii(s))) => Some(s.clone()),
        _ => None,
    }
}

fn bind_text(value: &str) -> Bind {
    MaybeUnset::Set(Some(CqlValue::Text(value.to_string())))
}

/// The table comment that marks a table as a collection.
fn comment(name: &str, options: &CollectionOptions) -> String {
    json!({"collection": {"name": name, "schema_version": 1, "options": options.to_json()}}).to_string()
}

/// A table comment's collection options, when the table is a collection.
fn options_from_comment(comment: &str) -> Option<CollectionOptions> {
    let value: Value = serde_json::from_str(comment).ok()?;
    let options = value.get("collection")?.get("options");
    CollectionOptions::parse(options).ok()
}

/// The tables of a keyspace with their comments; `None` when the keyspace does not exist.
async fn tables(cql: &Cql, keyspace: &str) -> Result<Option<Vec<(String, String)>>> {
    if !cql.keyspace_exists(keyspace).await {
        return Ok(None);
    }
    let outcome = cql
        .run(
            "SELECT table_name, comment FROM system_schema.tables WHERE keyspace_name = ?",
            vec![bind_text(keyspace)],
            &Options {
                page_size: 5000,
                ..Options::default()
            },
        )
        .await?;
    let rows = outcome.page.map(|p| p.rows).unwrap_or_default();
    Ok(Some(
        rows.iter()
            .filter_map(|row| Some((text(row.first())?, text(row.get(1)).unwrap_or_default())))
            .collect(),
    ))
}

pub fn keyspace_not_exist(keyspace: &str) -> DataApiError {
    DataApiError::new(Code::KeyspaceDoesNotExist, keyspace)
}

/// The keyspace's collections, in name order.
pub async fn list_collections(cql: &Cql, keyspace: &str) -> Result<Vec<Collection>> {
    let tables = tables(cql, keyspace)
        .await?
        .ok_or_else(|| keyspace_not_exist(keyspace))?;
    let mut collections: Vec<Collection> = tables
        .into_iter()
        .filter_map(|(name, comment)| {
            Some(Collection {
                options: options_from_comment(&comment)?,
                keyspace: keyspace.to_string(),
                name,
            })
        })
        .collect();
    collections.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(collections)
}

/// What a table of that name is.
pub enum Existing {
    None,
    Collection(CollectionOptions),
    OtherTable,
}

pub async fn existing(cql: &Cql, keyspace: &str, name: &str) -> Result<Existing> {
    let outcome = cql
        .run(
            "SELECT comment FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
            vec![bind_text(keyspace), bind_text(name)],
            &Options::default(),
        )
        .await?;
    let row = outcome.page.and_then(|p| p.rows.into_iter().next());
    Ok(match row {
        None => Existing::None,
        Some(row) => match options_from_comment(&text(row.first()).unwrap_or_default()) {
            Some(options) => Existing::Collection(options),
            None => Existing::OtherTable,
        },
    })
}

/// The collection a document command names, or COLLECTION_NOT_EXIST.
pub async fn collection(cql: &Cql, keyspace: &str, name: &str) -> Result<Collection> {
    match existing(cql, keyspace, name).await? {
        Existing::Collection(options) => Ok(Collection {
            keyspace: keyspace.to_string(),
            name: name.to_string(),
            options,
        }),
        Existing::OtherTable => Err(DataApiError::new(
            Code::ExistingTableNotDataApiCollection,
            format!("table '{name}' is not a collection"),
        )),
        Existing::None if !cql.keyspace_exists(keyspace).await => Err(keyspace_not_exist(keyspace)),
        Existing::None => Err(DataApiError::collection_not_exist(name)),
    }
}

/// `CREATE TABLE IF NOT EXISTS` for a collection.
pub fn create_table_cql(keyspace: &str, name: &str, options: &CollectionOptions) -> String {
    let vector = match options.vector {
        Some((dimension, _)) => format!(", query_vector_value vector<float, {dimension}>"),
        None => String::new(),
    };
    format!(
        "CREATE TABLE IF NOT EXISTS {} (key text PRIMARY KEY, tx_id timeuuid, doc_json text{vector}) WITH comment = {}",
        qualified(keyspace, name),
        string_literal(&comment(name, options))
    )
}

pub async fn create_collection(cql: &Cql, keyspace: &str, name: &str, options: &CollectionOptions) -> Result<()> {
    cql.run_ddl(&create_table_cql(keyspace, name, options)).await?;
    Ok(())
}

pub async fn drop_collection(cql: &Cql, keyspace: &str, name: &str) -> Result<()> {
    cql.run_ddl(&format!("DROP TABLE IF EXISTS {}", qualified(keyspace, name)))
        .await?;
    Ok(())
}

fn row_from(values: &[Option<CqlValue>]) -> Option<Row> {
    let key = text(values.first())?;
    let tx_id = match values.get(1) {
        Some(Some(CqlValue::Timeuuid(t))) => Some(*t),
        _ => None,
    };
    let doc = serde_json::from_str(&text(values.get(2))?).ok()?;
    Some(Row { key, tx_id, doc })
}

fn vector_bind(vector: Option<&[f32]>) -> Bind {
    match vector {
        Some(v) => MaybeUnset::Set(Some(CqlValue::Vector(v.iter().map(|x| CqlValue::Float(*x)).collect()))),
        None => MaybeUnset::Set(None),
    }
}

fn applied(outcome: &crate::gateway::cql::Outcome) -> bool {
    matches!(
        outcome
            .page
            .as_ref()
            .and_then(|p| p.rows.first())
            .and_then(|r| r.first()),
        Some(Some(CqlValue::Boolean(true)))
    )
}

impl Collection {
    fn table(&self) -> String {
        qualified(&self.keyspace, &self.name)
    }

    fn has_vector(&self) -> bool {
        self.options.vector.is_some()
    }

    /// Inserts a new document; false when its `_id` exists.
    pub async fn insert(&self, cql: &Cql, key: &str, doc: &Value, vector: Option<&[f32]>) -> Result<bool> {
        let (columns, marks, mut values) = (
            "key, tx_id, doc_json",
            "?, now(), ?",
            vec![bind_text(key), bind_text(&doc.to_string())],
        );
        let cql_text = if self.has_vector() {
            values.push(vector_bind(vector));
            format!(
                "INSERT INTO {} ({columns}, query_vector_value) VALUES ({marks}, ?) IF NOT EXISTS",
                self.table()
            )
        } else {
            format!(
                "INSERT INTO {} ({columns}) VALUES ({marks}) IF NOT EXISTS",
                self.table()
            )
        };
        let outcome = cql.run(&cql_text, values, &Options::default()).await?;
        Ok(applied(&outcome))
    }

    /// Replaces a document read earlier, if nobody changed it since; false otherwise.
    pub async fn replace(&self, cql: &Cql, row: &Row, doc: &Value, vector: Option<&[f32]>) -> Result<bool> {
        let mut values = vec![bind_text(&doc.to_string())];
        let vector_set = if self.has_vector() {
            values.push(vector_bind(vector));
            ", query_vector_value = ?"
        } else {
            ""
        };
        values.push(bind_text(&row.key));
        values.push(MaybeUnset::Set(row.tx_id.map(CqlValue::Timeuuid)));
        let cql_text = format!(
            "UPDATE {} SET doc_json = ?, tx_id = now(){vector_set} WHERE key = ? IF tx_id = ?",
            self.table()
        );
        Ok(applied(&cql.run(&cql_text, values, &Options::default()).await?))
    }

    /// Deletes a document read earlier, if nobody changed it since; false otherwise.
    pub async fn delete(&self, cql: &Cql, row: &Row) -> Result<bool> {
        let cql_text = format!("DELETE FROM {} WHERE key = ? IF tx_id = ?", self.table());
        let values = vec![bind_text(&row.key), MaybeUnset::Set(row.tx_id.map(CqlValue::Timeuuid))];
        Ok(applied(&cql.run(&cql_text, values, &Options::default()).await?))
    }

    /// Deletes every document.
    pub async fn truncate(&self, cql: &Cql) -> Result<()> {
        cql.run_unprepared(&format!("TRUNCATE {}", self.table())).await?;
        Ok(())
    }

    /// The documents with these keys (missing ones left out), in key order given.
    pub async fn get(&self, cql: &Cql, keys: &[String]) -> Result<Vec<Row>> {
        let cql_text = format!("SELECT key, tx_id, doc_json FROM {} WHERE key = ?", self.table());
        let mut rows = Vec::with_capacity(keys.len());
        for key in keys {
            let outcome = cql.run(&cql_text, vec![bind_text(key)], &Options::default()).await?;
            if let Some(row) = outcome
                .page
                .and_then(|p| p.rows.into_iter().next())
                .and_then(|r| row_from(&r))
            {
                rows.push(row);
            }
        }
        Ok(rows)
    }

    /// Up to `limit` documents after `after` (a key) in token order.
    pub async fn scan(&self, cql: &Cql, after: Option<&str>, limit: i32) -> Result<Vec<Row>> {
        let (cql_text, values) = match after {
            Some(key) => (
                format!(
                    "SELECT key, tx_id, doc_json FROM {} WHERE token(key) > token(?) LIMIT {limit}",
                    self.table()
                ),
                vec![bind_text(key)],
            ),
            None => (
                format!("SELECT key, tx_id, doc_json FROM {} LIMIT {limit}", self.table()),
                Vec::new(),
            ),
        };
        let options = Options {
            page_size: limit,
            ..Options::default()
        };
        let mut rows = Vec::new();
        let mut outcome = cql.run(&cql_text, values.clone(), &options).await?;
        loop {
            let page = outcome.page.unwrap_or_default();
            rows.extend(page.rows.iter().filter_map(|r| row_from(r)));
            match page.paging_state {
                Some(state) if rows.len() < usize::try_from(limit).unwrap_or(0) => {
                    let next = Options {
                        paging_state: Some(state),
                        ..options.clone()
                    };
                    outcome = cql.run(&cql_text, values.clone(), &next).await?;
                }
                _ => break,
            }
        }
        Ok(rows)
    }

    /// The number of documents.
    pub async fn count(&self, cql: &Cql) -> Result<u64> {
        let outcome = cql
            .run_unprepared(&format!("SELECT count(*) FROM {}", self.table()))
            .await?;
        let count = match outcome
            .page
            .and_then(|p| p.rows.into_iter().next())
            .and_then(|r| r.into_iter().next())
        {
            Some(Some(CqlValue::BigInt(n))) => u64::try_from(n).unwrap_or(0),
            _ => 0,
        };
        Ok(count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_every_type_have_distinct_keys() {
        let key = |v: Value| DocId::from_json(&v).unwrap().key();
        assert_eq!(key(json!(1)), key(json!(1.0)));
        assert_ne!(key(json!(1)), key(json!("1")));
        assert_ne!(key(json!(true)), key(json!("true")));
        assert_eq!(
            key(json!({"$uuid": "1B2C3D4E-0000-4000-8000-000000000000"})),
            "u:1b2c3d4e-0000-4000-8000-000000000000"
        );
        assert_eq!(key(json!({"$date": 5})), "d:5");
        assert_eq!(DocId::from_json(&json!([1])).unwrap_err().code, Code::ShredBadDocidType);
        assert_eq!(
            DocId::from_json(&json!("")).unwrap_err().code,
            Code::ShredBadDocidEmptyString
        );
        assert_eq!(
            DocId::from_json(&json!({"$uuid": "nope"})).unwrap_err().code,
            Code::ShredBadEjsonValue
        );
    }

    #[test]
    fn options_round_trip_through_the_table_comment() {
        let options =
            CollectionOptions::parse(Some(&json!({"vector": {"dimension": 3, "metric": "dot_product"}}))).unwrap();
        assert_eq!(options_from_comment(&comment("c", &options)), Some(options));
        assert!(options_from_comment("a plain table").is_none());
        let default_metric = CollectionOptions::parse(Some(&json!({"vector": {"dimension": 2}}))).unwrap();
        assert_eq!(default_metric.vector, Some((2, Metric::Cosine)));
    }

    #[test]
    fn similarities_are_cassandras() {
        assert!((Metric::Cosine.similarity(&[1.0, 0.0], &[1.0, 0.0]) - 1.0).abs() < 1e-9);
        assert!((Metric::Cosine.similarity(&[1.0, 0.0], &[-1.0, 0.0])).abs() < 1e-9);
        assert!((Metric::Euclidean.similarity(&[0.0, 0.0], &[1.0, 1.0]) - 1.0 / 3.0).abs() < 1e-9);
        assert!((Metric::DotProduct.similarity(&[0.5, 0.5], &[1.0, 0.0]) - 0.75).abs() < 1e-9);
    }
}

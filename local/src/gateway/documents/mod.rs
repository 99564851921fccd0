//! Stargate's Document API v2 (reference §3) on the REST port: namespaces, collections, documents,
//! search, JSON schemas and the built-in functions, at `/v2/...` and `/api/rest/v2/...`.
//!
//! Storage: a collection is a table `(key text PRIMARY KEY, doc text)` holding each document as
//! one JSON text (Stargate's row-per-leaf layout is not reproduced; what clients observe of it is,
//! see [`json`]). A collection's JSON schema lives in the table comment as `{"schema": …}`, as in
//! Stargate. Search scans the collection in token order (the order Stargate returns) and filters
//! with [`search`]; the page state is the URL-safe Base64 of the last document id returned.

pub mod json;
pub mod search;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use scylla::value::{CqlValue, MaybeUnset};
use serde_json::{Map, Value, json};

use super::Shared;
use super::cql::{Bind, Options, ident, qualified, string_literal};
use super::rest::{ApiError, Params, flag};

/// Rows read per round trip while searching a collection.
const SCAN_BATCH: i32 = 200;

/// The Document API's routes (merged into the REST port's `/v2` routes, token-checked there).
pub fn routes() -> Router<Arc<Shared>> {
    const COLLECTION: &str = "/v2/namespaces/{namespace}/collections/{collection}";
    Router::new()
        .route("/v2/schemas/namespaces", get(list_namespaces).post(create_namespace))
        .route(
            "/v2/schemas/namespaces/{namespace}",
            get(get_namespace).delete(delete_namespace),
        )
        .route(
            "/v2/namespaces/{namespace}/collections",
            get(list_collections).post(create_collection),
        )
        .route(
            COLLECTION,
            get(search_collection).post(create_document).delete(delete_collection),
        )
        .route(&format!("{COLLECTION}/batch"), post(batch_documents))
        .route(&format!("{COLLECTION}/upgrade"), post(upgrade_collection))
        .route(
            &format!("{COLLECTION}/json-schema"),
            get(get_json_schema).put(put_json_schema),
        )
        .route(
            &format!("{COLLECTION}/{{id}}"),
            get(read_document)
                .put(replace_document)
                .patch(patch_document)
                .delete(delete_document),
        )
        .route(
            &format!("{COLLECTION}/{{id}}/{{*path}}"),
            get(read_document_path)
                .put(replace_document_path)
                .patch(patch_document_path)
                .delete(delete_document_path)
                .post(function_on_path),
        )
}

// ---------------------------------------------------------------------------------------------
// Storage
// ---------------------------------------------------------------------------------------------

fn text(value: &CqlValue) -> String {
    match value {
        CqlValue::Text(s) | CqlValue::Ascii(s) => s.clone(),
        _ => String::new(),
    }
}

fn bind_text(value: &str) -> Bind {
    MaybeUnset::Set(Some(CqlValue::Text(value.to_string())))
}

async fn rows(
    shared: &Shared,
    cql: &str,
    values: Vec<Bind>,
    page_size: i32,
) -> Result<Vec<Vec<Option<CqlValue>>>, ApiError> {
    let options = Options {
        page_size,
        ..Options::default()
    };
    Ok(shared
        .cql
        .run(cql, values, &options)
        .await?
        .page
        .map(|p| p.rows)
        .unwrap_or_default())
}

fn unknown_namespace(namespace: &str) -> ApiError {
    ApiError::not_found(format!("Unknown namespace {namespace}, you must create it first."))
}

fn collection_not_found(collection: &str) -> ApiError {
    ApiError::not_found(format!("Collection '{collection}' not found."))
}

/// Path variables must be word characters, else Stargate's routes do not match (404).
fn check_names(names: &[&str]) -> Result<(), ApiError> {
    if names
        .iter()
        .all(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    {
        Ok(())
    } else {
        Err(ApiError::not_found("HTTP 404 Not Found"))
    }
}

async fn namespace_exists(shared: &Shared, namespace: &str) -> Result<bool, ApiError> {
    let found = rows(
        shared,
        "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?",
        vec![bind_text(namespace)],
        10,
    )
    .await?;
    Ok(!found.is_empty())
}

/// What a table is to the Document API.
#[derive(Debug, PartialEq, Eq)]
enum Collection {
    Missing,
    OtherTable,
    Present,
}

/// A column of `system_schema.columns`: name, kind, type.
type ColumnInfo = (String, String, String);

/// The shape of a collection table: `key text` partition key and one `doc text` column.
fn is_collection_shape(columns: &[ColumnInfo]) -> bool {
    let mut sorted: Vec<_> = columns
        .iter()
        .map(|(n, k, t)| (n.as_str(), k.as_str(), t.as_str()))
        .collect();
    sorted.sort();
    sorted == [("doc", "regular", "text"), ("key", "partition_key", "text")]
}

async fn collection(shared: &Shared, namespace: &str, collection: &str) -> Result<Collection, ApiError> {
    let found = rows(
        shared,
        "SELECT column_name, kind, type FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
        vec![bind_text(namespace), bind_text(collection)],
        100,
    )
    .await?;
    if found.is_empty() {
        return Ok(Collection::Missing);
    }
    let columns: Vec<ColumnInfo> = found
        .iter()
        .map(|r| {
            let cell = |i: usize| r.get(i).and_then(Option::as_ref).map(text).unwrap_or_default();
            (cell(0), cell(1), cell(2))
        })
        .collect();
    Ok(if is_collection_shape(&columns) {
        Collection::Present
    } else {
        Collection::OtherTable
    })
}

fn not_a_collection(namespace: &str, collection: &str) -> ApiError {
    ApiError::bad_request(format!(
        "The database table {namespace}.{collection} is not a Documents collection. Accessing arbitrary tables via the Documents API is not permitted."
    ))
}

/// The collection must exist (404 naming the namespace or the collection otherwise).
async fn require_collection(shared: &Shared, namespace: &str, name: &str) -> Result<(), ApiError> {
    check_names(&[namespace, name])?;
    match collection(shared, namespace, name).await? {
        Collection::Present => Ok(()),
        Collection::OtherTable => Err(not_a_collection(namespace, name)),
        Collection::Missing if !namespace_exists(shared, namespace).await? => Err(unknown_namespace(namespace)),
        Collection::Missing => Err(collection_not_found(name)),
    }
}

/// `CREATE TABLE` of a collection.
pub fn create_collection_cql(namespace: &str, collection: &str, if_not_exists: bool) -> String {
    format!(
        "CREATE TABLE {}{} (key text PRIMARY KEY, doc text)",
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        qualified(namespace, collection)
    )
}

/// Writes create the collection when it is missing (the namespace must exist).
async fn ensure_collection(shared: &Shared, namespace: &str, name: &str) -> Result<(), ApiError> {
    check_names(&[namespace, name])?;
    match collection(shared, namespace, name).await? {
        Collection::Present => Ok(()),
        Collection::OtherTable => Err(not_a_collection(namespace, name)),
        Collection::Missing => {
            if !namespace_exists(shared, namespace).await? {
                return Err(unknown_namespace(namespace));
            }
            shared
                .cql
                .run_ddl(&create_collection_cql(namespace, name, true))
                .await?;
            Ok(())
        }
    }
}

/// A document and its remaining TTL.
async fn read(
    shared: &Shared,
    namespace: &str,
    collection: &str,
    id: &str,
) -> Result<Option<(Value, Option<i32>)>, ApiError> {
    let cql = format!(
        "SELECT doc, TTL(doc) FROM {} WHERE key = ?",
        qualified(namespace, collection)
    );
    let found = rows(shared, &cql, vec![bind_text(id)], 10).await?;
    let Some(row) = found.into_iter().next() else {
        return Ok(None);
    };
    let doc = row.first().and_then(Option::as_ref).map(text).unwrap_or_default();
    let ttl = match row.get(1) {
        Some(Some(CqlValue::Int(ttl))) => Some(*ttl),
        _ => None,
    };
    let value =
        serde_json::from_str(&doc).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Some((value, ttl)))
}

async fn write(
    shared: &Shared,
    namespace: &str,
    collection: &str,
    id: &str,
    doc: &Value,
    ttl: Option<i32>,
) -> Result<(), ApiError> {
    let target = qualified(namespace, collection);
    let mut values = vec![bind_text(id), bind_text(&json::stored(doc).to_string())];
    let cql = match ttl {
        Some(ttl) => {
            values.push(MaybeUnset::Set(Some(CqlValue::Int(ttl))));
            format!("INSERT INTO {target} (key, doc) VALUES (?, ?) USING TTL ?")
        }
        None => format!("INSERT INTO {target} (key, doc) VALUES (?, ?)"),
    };
    shared.cql.run(&cql, values, &Options::default()).await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Request parsing
// ---------------------------------------------------------------------------------------------

/// A document body: present, JSON, and (at the root) a non-empty object or array.
fn document_body(body: &[u8], at_root: bool) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("Request invalid: payload must not be empty."));
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| ApiError::bad_request("HTTP 400 Bad Request"))?;
    if value.is_null() {
        return Err(ApiError::bad_request("Request invalid: payload must not be empty."));
    }
    if at_root {
        if !value.is_object() && !value.is_array() {
            return Err(ApiError::bad_request(
                "Updating a key with just a JSON primitive is not allowed. Hint: update the parent path with a defined object instead.",
            ));
        }
        if value.as_object().is_some_and(Map::is_empty) || value.as_array().is_some_and(Vec::is_empty) {
            return Err(ApiError::bad_request(
                "Updating a key with just an empty object or an empty array is not allowed. Hint: update the parent path with a defined object instead.",
            ));
        }
    }
    json::validate(&value).map_err(ApiError::bad_request)?;
    Ok(value)
}

/// `ttl` (whole-document writes): at least 1 second.
fn ttl(params: &Params) -> Result<Option<i32>, ApiError> {
    match params.get("ttl").filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) => match text.parse::<i32>() {
            Ok(ttl) if ttl >= 1 => Ok(Some(ttl)),
            Ok(_) => Err(ApiError::bad_request(
                "Request invalid: TTL value must be a positive integer.",
            )),
            Err(_) => Err(ApiError::not_found("HTTP 404 Not Found")),
        },
    }
}

/// `ttl-auto=true`: sub-document writes keep the document's remaining TTL.
fn keep_ttl(params: &Params, current: Option<i32>) -> Option<i32> {
    if flag(params, "ttl-auto") {
        current.filter(|t| *t > 0)
    } else {
        None
    }
}

fn location(response: &mut Response, path: &str) {
    if let Ok(value) = HeaderValue::from_str(path) {
        response.headers_mut().insert(header::LOCATION, value);
    }
}

fn document_id_body(id: &str) -> Response {
    (StatusCode::OK, axum::Json(json!({ "documentId": id }))).into_response()
}

fn segments(path: &str) -> Vec<String> {
    path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------------------------

/// A keyspace as a namespace: SimpleStrategy → `replicas` (always 1, as Stargate's bridge
/// reports), NetworkTopologyStrategy → `datacenters` sorted by name, others only `name`.
pub fn namespace_json(name: &str, replication: &[(String, String)]) -> Value {
    let class = replication
        .iter()
        .find(|(k, _)| k == "class")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if class.ends_with("SimpleStrategy") {
        return json!({"name": name, "replicas": 1});
    }
    if class.ends_with("NetworkTopologyStrategy") {
        let mut dcs: Vec<(&String, i64)> = replication
            .iter()
            .filter(|(k, _)| k != "class")
            .map(|(dc, r)| (dc, r.parse().unwrap_or(0)))
            .collect();
        dcs.sort();
        let datacenters: Vec<Value> = dcs.iter().map(|(dc, r)| json!({"name": dc, "replicas": r})).collect();
        return json!({"name": name, "datacenters": datacenters});
    }
    json!({ "name": name })
}

fn replication_of(row: &[Option<CqlValue>]) -> Vec<(String, String)> {
    match row.get(1) {
        Some(Some(CqlValue::Map(entries))) => entries.iter().map(|(k, v)| (text(k), text(v))).collect(),
        _ => Vec::new(),
    }
}

fn wrap(data: Value, raw: bool) -> Value {
    if raw { data } else { json!({ "data": data }) }
}

async fn list_namespaces(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let found = rows(
        &shared,
        "SELECT keyspace_name, replication FROM system_schema.keyspaces",
        Vec::new(),
        10_000,
    )
    .await?;
    let list: Vec<Value> = found
        .iter()
        .map(|r| {
            namespace_json(
                &r.first().and_then(Option::as_ref).map(text).unwrap_or_default(),
                &replication_of(r),
            )
        })
        .collect();
    Ok(axum::Json(wrap(Value::Array(list), flag(&params, "raw"))).into_response())
}

async fn get_namespace(
    State(shared): State<Arc<Shared>>,
    Path(namespace): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let found = rows(
        &shared,
        "SELECT keyspace_name, replication FROM system_schema.keyspaces WHERE keyspace_name = ?",
        vec![bind_text(&namespace)],
        10,
    )
    .await?;
    let row = found
        .first()
        .ok_or_else(|| ApiError::not_found(format!("Namespace {namespace} does not exist.")))?;
    Ok(axum::Json(wrap(
        namespace_json(&namespace, &replication_of(row)),
        flag(&params, "raw"),
    ))
    .into_response())
}

/// `CREATE KEYSPACE` (no `IF NOT EXISTS`: an existing namespace is a 409) and the echoed body.
pub fn create_namespace_cql(body: &Value) -> Result<(String, String, Value), String> {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or("Request invalid: `name` is required to create a namespace.")?;
    let mut echo = Map::new();
    echo.insert("name".into(), json!(name));
    let replication = match body
        .get("datacenters")
        .and_then(Value::as_array)
        .filter(|d| !d.is_empty())
    {
        Some(dcs) => {
            let mut parts = vec!["'class': 'NetworkTopologyStrategy'".to_string()];
            let mut echoed = Vec::new();
            for dc in dcs {
                let dc_name = dc.get("name").and_then(Value::as_str).unwrap_or_default();
                let replicas = dc.get("replicas").and_then(Value::as_i64).unwrap_or(3);
                parts.push(format!("{}: {replicas}", string_literal(dc_name)));
                echoed.push(json!({"name": dc_name, "replicas": replicas}));
            }
            if let Some(replicas) = body.get("replicas").filter(|r| !r.is_null()) {
                echo.insert("replicas".into(), replicas.clone());
            }
            echo.insert("datacenters".into(), Value::Array(echoed));
            parts.join(", ")
        }
        None => {
            let replicas = body.get("replicas").and_then(Value::as_i64).unwrap_or(1);
            echo.insert("replicas".into(), json!(replicas));
            format!("'class': 'SimpleStrategy', 'replication_factor': {replicas}")
        }
    };
    Ok((
        name.to_string(),
        format!("CREATE KEYSPACE {} WITH replication = {{{replication}}}", ident(name)),
        Value::Object(echo),
    ))
}

async fn create_namespace(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Response, ApiError> {
    let body = document_body(&body, false)?;
    let (name, cql, echo) = create_namespace_cql(&body).map_err(ApiError::bad_request)?;
    match shared.cql.run_ddl(&cql).await {
        Ok(_) => {}
        Err(error) if error.code == tonic::Code::AlreadyExists => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Create failed: namespace {name} already exists."),
            ));
        }
        Err(error) => return Err(error.into()),
    }
    let mut response = (StatusCode::CREATED, axum::Json(echo)).into_response();
    location(&mut response, &format!("/v2/schemas/namespaces/{name}"));
    Ok(response)
}

async fn delete_namespace(
    State(shared): State<Arc<Shared>>,
    Path(namespace): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !namespace_exists(&shared, &namespace).await? {
        return Err(ApiError::not_found(format!("Namespace {namespace} does not exist.")));
    }
    shared
        .cql
        .run_ddl(&format!("DROP KEYSPACE {}", ident(&namespace)))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Collections
// ---------------------------------------------------------------------------------------------

async fn list_collections(
    State(shared): State<Arc<Shared>>,
    Path(namespace): Path<String>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    check_names(&[&namespace])?;
    if !namespace_exists(&shared, &namespace).await? {
        return Err(unknown_namespace(&namespace));
    }
    let found = rows(
        &shared,
        "SELECT table_name, column_name, kind, type FROM system_schema.columns WHERE keyspace_name = ?",
        vec![bind_text(&namespace)],
        10_000,
    )
    .await?;
    let mut tables: Vec<(String, Vec<ColumnInfo>)> = Vec::new();
    for row in &found {
        let cell = |i: usize| row.get(i).and_then(Option::as_ref).map(text).unwrap_or_default();
        let table = cell(0);
        let column = (cell(1), cell(2), cell(3));
        match tables.iter_mut().find(|(t, _)| *t == table) {
            Some((_, columns)) => columns.push(column),
            None => tables.push((table, vec![column])),
        }
    }
    let list: Vec<Value> = tables
        .iter()
        .filter(|(_, columns)| is_collection_shape(columns))
        .map(|(name, _)| json!({"name": name, "upgradeAvailable": false}))
        .collect();
    Ok(axum::Json(wrap(Value::Array(list), flag(&params, "raw"))).into_response())
}

async fn create_collection(
    State(shared): State<Arc<Shared>>,
    Path(namespace): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    check_names(&[&namespace])?;
    let body = document_body(&body, false)?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ApiError::bad_request("Request invalid: `name` is required to create a collection."))?;
    if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(ApiError::bad_request(format!(
            "Could not create collection {name}, it has invalid characters. Valid characters are alphanumeric and underscores."
        )));
    }
    if !namespace_exists(&shared, &namespace).await? {
        return Err(unknown_namespace(&namespace));
    }
    match shared
        .cql
        .run_ddl(&create_collection_cql(&namespace, name, false))
        .await
    {
        Ok(_) => {}
        Err(error) if error.code == tonic::Code::AlreadyExists => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                format!("Create failed: collection {name} already exists."),
            ));
        }
        Err(error) => return Err(error.into()),
    }
    let mut response = StatusCode::CREATED.into_response();
    location(&mut response, &format!("/v2/namespaces/{namespace}/collections/{name}"));
    Ok(response)
}

async fn delete_collection(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    check_names(&[&namespace, &name])?;
    match collection(&shared, &namespace, &name).await? {
        Collection::Missing => Err(collection_not_found(&name)),
        Collection::OtherTable => Err(not_a_collection(&namespace, &name)),
        Collection::Present => {
            shared
                .cql
                .run_ddl(&format!("DROP TABLE {}", qualified(&namespace, &name)))
                .await?;
            Ok(StatusCode::NO_CONTENT)
        }
    }
}

async fn upgrade_collection(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require_collection(&shared, &namespace, &name).await?;
    Err(ApiError::bad_request(
        "The collection cannot be upgraded in given manner.",
    ))
}

async fn get_json_schema(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    require_collection(&shared, &namespace, &name).await?;
    let found = rows(
        &shared,
        "SELECT comment FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
        vec![bind_text(&namespace), bind_text(&name)],
        10,
    )
    .await?;
    let comment = found
        .first()
        .and_then(|r| r.first())
        .and_then(Option::as_ref)
        .map(text)
        .unwrap_or_default();
    let schema = serde_json::from_str::<Value>(&comment)
        .ok()
        .and_then(|c| c.get("schema").cloned());
    match schema {
        Some(schema) => Ok(axum::Json(json!({ "schema": schema })).into_response()),
        None => Err(ApiError::not_found("The JSON schema is not set for the collection.")),
    }
}

async fn put_json_schema(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    require_collection(&shared, &namespace, &name).await?;
    let schema = document_body(&body, false)?;
    if !schema.is_object() {
        return Err(ApiError::bad_request(
            "The provided JSON schema is invalid or malformed.",
        ));
    }
    let comment = json!({ "schema": schema }).to_string();
    let cql = format!(
        "ALTER TABLE {} WITH comment = {}",
        qualified(&namespace, &name),
        string_literal(&comment)
    );
    shared.cql.run_ddl(&cql).await?;
    Ok(axum::Json(json!({ "schema": schema })).into_response())
}

// ---------------------------------------------------------------------------------------------
// Documents
// ---------------------------------------------------------------------------------------------

async fn create_document(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name)): Path<(String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ttl = ttl(&params)?;
    let doc = document_body(&body, true)?;
    ensure_collection(&shared, &namespace, &name).await?;
    let id = uuid::Uuid::new_v4().to_string();
    write(&shared, &namespace, &name, &id, &doc, ttl).await?;
    let mut response = (StatusCode::CREATED, axum::Json(json!({ "documentId": id }))).into_response();
    location(
        &mut response,
        &format!("/v2/namespaces/{namespace}/collections/{name}/{id}"),
    );
    Ok(response)
}

/// The id a batch document gets: the scalar at `id-path` as text, or a random UUID.
pub fn batch_id(doc: &Value, id_path: Option<&str>) -> Result<String, String> {
    let Some(path) = id_path.filter(|p| !p.is_empty()) else {
        return Ok(uuid::Uuid::new_v4().to_string());
    };
    match json::get(doc, &json::parse_dotted(path)) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        _ => Err("ID path is invalid for document during batch write.".into()),
    }
}

async fn batch_documents(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name)): Path<(String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let ttl = ttl(&params)?;
    let docs = document_body(&body, false)?;
    let Value::Array(docs) = docs else {
        return Err(ApiError::bad_request(
            "The payload for the batched document write must be a JSON array.",
        ));
    };
    let id_path = params.get("id-path").map(String::as_str);
    let mut ids = Vec::with_capacity(docs.len());
    for doc in &docs {
        let id = batch_id(doc, id_path).map_err(ApiError::bad_request)?;
        if ids.contains(&id) {
            return Err(ApiError::bad_request(
                "A same document ID is found in more than one document when doing batched document write.",
            ));
        }
        ids.push(id);
    }
    ensure_collection(&shared, &namespace, &name).await?;
    let mut written = Vec::with_capacity(ids.len());
    for (id, doc) in ids.into_iter().zip(&docs) {
        // As in Stargate, a failed write is logged and its id left out of the answer.
        match write(&shared, &namespace, &name, &id, doc, ttl).await {
            Ok(()) => written.push(id),
            Err(error) => tracing::warn!(id, description = %error.description, "batch document write failed"),
        }
    }
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "documentIds": written }))).into_response())
}

/// GET of a document or a sub-path: `{"documentId","data"}`, or the bare data with `raw=true`.
async fn read_at(
    shared: &Shared,
    namespace: &str,
    name: &str,
    id: &str,
    path: &[String],
    params: &Params,
) -> Result<Response, ApiError> {
    require_collection(shared, namespace, name).await?;
    let fields = search::parse_fields(params.get("fields")).map_err(ApiError::bad_request)?;
    if let Some(filter) = params.get("where").filter(|w| !w.trim().is_empty()) {
        return search_document(shared, namespace, name, id, path, params, filter).await;
    }
    let missing = || {
        if path.is_empty() {
            ApiError::not_found(format!("A document with the id {id} does not exist."))
        } else {
            ApiError::not_found(format!(
                "A path {} in a document with the id {id}, or the document itself, does not exist.",
                json::java_list(path)
            ))
        }
    };
    let (doc, _) = read(shared, namespace, name, id).await?.ok_or_else(missing)?;
    let found = json::get(&doc, &json::parse_path(path)).ok_or_else(missing)?;
    let data = json::stored(&json::project(found, &fields));
    let body = if flag(params, "raw") {
        data
    } else {
        json!({"documentId": id, "data": data})
    };
    Ok(axum::Json(body).into_response())
}

/// Sub-document search (`where` on a document or a sub-path): an array of the matches rebuilt from
/// the document's root, or 204 when nothing matches.
async fn search_document(
    shared: &Shared,
    namespace: &str,
    name: &str,
    id: &str,
    path: &[String],
    params: &Params,
    filter: &str,
) -> Result<Response, ApiError> {
    let expr = search::parse_where(filter).map_err(ApiError::bad_request)?;
    let (steps, ops) = search::single_field(&expr).map_err(ApiError::bad_request)?;
    let fields: Vec<String> = match params.get("fields").filter(|f| !f.trim().is_empty()) {
        Some(text) => serde_json::from_str::<Vec<String>>(text).map_err(|_| {
            ApiError::bad_request("The `fields` parameter expects a valid JSON array containing field names.")
        })?,
        None => Vec::new(),
    };
    let where_field = match steps.last() {
        Some(search::Step::Exact(segment)) => segment.to_string(),
        _ => String::new(),
    };
    if !fields.is_empty() && !fields.contains(&where_field) {
        return Err(ApiError::bad_request(
            "When selecting `fields`, the field referenced by `where` must be in the selection.",
        ));
    }
    let page_size = match params.get("page-size").filter(|s| !s.is_empty()) {
        Some(text) => text
            .parse::<usize>()
            .map_err(|_| ApiError::not_found("HTTP 404 Not Found"))?
            .max(1),
        None => 100,
    };
    let Some((doc, _)) = read(shared, namespace, name, id).await? else {
        return Ok(StatusCode::NO_CONTENT.into_response());
    };
    let mut found = search::search_within(&json::stored(&doc), path, &steps, &ops, &fields);
    if found.is_empty() {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    found.truncate(page_size);
    let data = Value::Array(found);
    let body = if flag(params, "raw") {
        data
    } else {
        json!({"documentId": id, "data": data})
    };
    Ok(axum::Json(body).into_response())
}

async fn read_document(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name, id)): Path<(String, String, String)>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    read_at(&shared, &namespace, &name, &id, &[], &params).await
}

async fn read_document_path(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name, id, path)): Path<(String, String, String, String)>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    read_at(&shared, &namespace, &name, &id, &segments(&path), &params).await
}

/// PUT: replaces the document (empty path, `ttl`) or the sub-tree at the path (`ttl-auto`).
async fn replace_at(
    shared: &Shared,
    namespace: &str,
    name: &str,
    id: &str,
    path: &[String],
    params: &Params,
    body: &[u8],
) -> Result<Response, ApiError> {
    let value = document_body(body, path.is_empty())?;
    ensure_collection(shared, namespace, name).await?;
    if path.is_empty() {
        write(shared, namespace, name, id, &value, ttl(params)?).await?;
    } else {
        let (mut doc, current_ttl) = read(shared, namespace, name, id)
            .await?
            .unwrap_or((Value::Object(Map::new()), None));
        json::put(&mut doc, &json::parse_path(path), value);
        write(shared, namespace, name, id, &doc, keep_ttl(params, current_ttl)).await?;
    }
    Ok(document_id_body(id))
}

async fn replace_document(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name, id)): Path<(String, String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    replace_at(&shared, &namespace, &name, &id, &[], &params, &body).await
}

async fn replace_document_path(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name, id, path)): Path<(String, String, String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    replace_at(&shared, &namespace, &name, &id, &segments(&path), &params, &body).await
}

/// PATCH: a shallow merge of a non-empty JSON object at the path.
async fn patch_at(
    shared: &Shared,
    namespace: &str,
    name: &str,
    id: &str,
    path: &[String],
    params: &Params,
    body: &[u8],
) -> Result<Response, ApiError> {
    let value = document_body(body, false)?;
    let object = match value {
        Value::Array(_) => {
            return Err(ApiError::bad_request(
                "A patch operation must be done with a JSON object, not an array.",
            ));
        }
        Value::Object(object) if !object.is_empty() => object,
        _ => {
            return Err(ApiError::bad_request(
                "A patch operation must be done with a non-empty JSON object.",
            ));
        }
    };
    ensure_collection(shared, namespace, name).await?;
    let (mut doc, current_ttl) = read(shared, namespace, name, id)
        .await?
        .unwrap_or((Value::Object(Map::new()), None));
    json::patch(&mut doc, &json::parse_path(path), object);
    write(shared, namespace, name, id, &doc, keep_ttl(params, current_ttl)).await?;
    Ok(document_id_body(id))
}

async fn patch_document(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name, id)): Path<(String, String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    patch_at(&shared, &namespace, &name, &id, &[], &params, &body).await
}

async fn patch_document_path(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name, id, path)): Path<(String, String, String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    patch_at(&shared, &namespace, &name, &id, &segments(&path), &params, &body).await
}

/// DELETE: the document, or the sub-tree at the path; 204 even when nothing was there.
async fn delete_at(
    shared: &Shared,
    namespace: &str,
    name: &str,
    id: &str,
    path: &[String],
) -> Result<StatusCode, ApiError> {
    require_collection(shared, namespace, name).await?;
    if path.is_empty() {
        let cql = format!("DELETE FROM {} WHERE key = ?", qualified(namespace, name));
        shared.cql.run(&cql, vec![bind_text(id)], &Options::default()).await?;
    } else if let Some((mut doc, current_ttl)) = read(shared, namespace, name, id).await?
        && json::remove(&mut doc, &json::parse_path(path))
    {
        write(shared, namespace, name, id, &doc, current_ttl.filter(|t| *t > 0)).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_document(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name, id)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    delete_at(&shared, &namespace, &name, &id, &[]).await
}

async fn delete_document_path(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name, id, path)): Path<(String, String, String, String)>,
) -> Result<StatusCode, ApiError> {
    delete_at(&shared, &namespace, &name, &id, &segments(&path)).await
}

/// `POST …/{id}[/{path}]/function` with `{"operation":"$push"|"$pop"|"$set","value":…}`.
async fn function_on_path(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name, id, path)): Path<(String, String, String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let mut path = segments(&path);
    if path.last().map(String::as_str) != Some("function") {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "HTTP 405 Method Not Allowed",
        ));
    }
    path.pop();
    let request = document_body(&body, false)?;
    require_collection(&shared, &namespace, &name).await?;
    let missing = || {
        if path.is_empty() {
            ApiError::not_found(format!("A document with the id {id} does not exist."))
        } else {
            ApiError::not_found(format!(
                "A path {} in a document with the id {id}, or the document itself, does not exist.",
                json::java_list(&path)
            ))
        }
    };
    let (mut doc, current_ttl) = read(&shared, &namespace, &name, &id).await?.ok_or_else(missing)?;
    let target = json::parse_path(&path);
    let operation = request.get("operation").and_then(Value::as_str).unwrap_or_default();
    if operation != "$set" && json::get(&doc, &target).is_none() {
        return Err(missing());
    }
    let value = request.get("value").cloned().unwrap_or(Value::Null);
    let result = match operation {
        "$push" => json::push(&mut doc, &target, value),
        "$pop" => json::pop(&mut doc, &target),
        "$set" => json::set(&mut doc, &target, &value),
        _ => return Err(ApiError::bad_request("Invalid Built-In function name.")),
    }
    .map_err(ApiError::bad_request)?;
    write(&shared, &namespace, &name, &id, &doc, current_ttl.filter(|t| *t > 0)).await?;
    let result = json::stored(&result);
    let body = if flag(&params, "raw") {
        result
    } else {
        json!({"documentId": id, "data": result})
    };
    Ok(axum::Json(body).into_response())
}

// ---------------------------------------------------------------------------------------------
// Search
// ---------------------------------------------------------------------------------------------

/// `page-size` of a collection search: 1 to 20, default 3.
pub fn search_page_size(params: &Params) -> Result<usize, ApiError> {
    match params.get("page-size").filter(|s| !s.is_empty()) {
        None => Ok(3),
        Some(text) => match text.parse::<i64>() {
            Ok(n) if n > 20 => Err(ApiError::bad_request(
                "Request invalid: the max number of documents to return is 20.",
            )),
            Ok(n) if n < 1 => Err(ApiError::bad_request(
                "Request invalid: the minimum number of documents to return is one.",
            )),
            Ok(n) => Ok(n as usize),
            Err(_) => Err(ApiError::not_found("HTTP 404 Not Found")),
        },
    }
}

/// `GET …/collections/{c}`: documents in token order, filtered by `where`, keyed by id.
async fn search_collection(
    State(shared): State<Arc<Shared>>,
    Path((namespace, name)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Response, ApiError> {
    let page_size = search_page_size(&params)?;
    let filter = match params.get("where").filter(|w| !w.trim().is_empty()) {
        Some(text) => Some(search::parse_where(text).map_err(ApiError::bad_request)?),
        None => None,
    };
    let fields = search::parse_fields(params.get("fields")).map_err(ApiError::bad_request)?;
    require_collection(&shared, &namespace, &name).await?;
    let mut after = match params.get("page-state").filter(|s| !s.is_empty()) {
        Some(state) => Some(
            URL_SAFE
                .decode(state)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| ApiError::bad_request("The provided page state is invalid."))?,
        ),
        None => None,
    };
    let table = qualified(&namespace, &name);
    let mut data = Map::new();
    let mut last_id = None;
    while data.len() < page_size {
        let (cql, values) = match &after {
            Some(key) => (
                format!("SELECT key, doc FROM {table} WHERE token(key) > token(?) LIMIT {SCAN_BATCH}"),
                vec![bind_text(key)],
            ),
            None => (format!("SELECT key, doc FROM {table} LIMIT {SCAN_BATCH}"), Vec::new()),
        };
        let batch = rows(&shared, &cql, values, SCAN_BATCH).await?;
        let fetched = batch.len();
        for row in batch {
            let id = row.first().and_then(Option::as_ref).map(text).unwrap_or_default();
            after = Some(id.clone());
            let doc_text = row.get(1).and_then(Option::as_ref).map(text).unwrap_or_default();
            let Ok(doc) = serde_json::from_str::<Value>(&doc_text) else {
                continue;
            };
            if filter.as_ref().is_none_or(|f| search::matches(f, &doc)) {
                data.insert(id.clone(), json::stored(&json::project(&doc, &fields)));
                last_id = Some(id);
                if data.len() == page_size {
                    break;
                }
            }
        }
        if fetched < SCAN_BATCH as usize {
            break;
        }
    }
    let mut body = Map::new();
    // As in Stargate, a full page carries a page state (more documents may follow).
    if data.len() == page_size
        && let Some(last) = &last_id
    {
        body.insert("pageState".into(), Value::String(URL_SAFE.encode(last.as_bytes())));
    }
    if flag(&params, "raw") {
        return Ok(axum::Json(Value::Object(data)).into_response());
    }
    body.insert("data".into(), Value::Object(data));
    Ok(axum::Json(Value::Object(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_render_replicas_or_sorted_datacenters() {
        let simple = vec![
            (
                "class".to_string(),
                "org.apache.cassandra.locator.SimpleStrategy".to_string(),
            ),
            ("replication_factor".to_string(), "3".to_string()),
        ];
        assert_eq!(namespace_json("ks", &simple), json!({"name": "ks", "replicas": 1}));
        let nts = vec![
            (
                "class".to_string(),
                "org.apache.cassandra.locator.NetworkTopologyStrategy".to_string(),
            ),
            ("dc2".to_string(), "1".to_string()),
            ("dc1".to_string(), "3".to_string()),
        ];
        assert_eq!(
            namespace_json("ks", &nts),
            json!({"name": "ks", "datacenters": [{"name": "dc1", "replicas": 3}, {"name": "dc2", "replicas": 1}]})
        );
        let local = vec![(
            "class".to_string(),
            "org.apache.cassandra.locator.LocalStrategy".to_string(),
        )];
        assert_eq!(namespace_json("system", &local), json!({"name": "system"}));
    }

    #[test]
    fn namespace_creation_needs_a_name_and_echoes_the_request() {
        let (name, cql, echo) = create_namespace_cql(&json!({"name": "ns"})).expect("create");
        assert_eq!(name, "ns");
        assert_eq!(
            cql,
            "CREATE KEYSPACE \"ns\" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        );
        assert_eq!(echo, json!({"name": "ns", "replicas": 1}));
        assert_eq!(
            create_namespace_cql(&json!({"replicas": 1})).expect_err("no name"),
            "Request invalid: `name` is required to create a namespace."
        );
    }

    #[test]
    fn collection_tables_are_recognised_by_shape() {
        let shape = |cols: &[(&str, &str, &str)]| {
            is_collection_shape(
                &cols
                    .iter()
                    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
                    .collect::<Vec<_>>(),
            )
        };
        assert!(shape(&[("key", "partition_key", "text"), ("doc", "regular", "text")]));
        assert!(!shape(&[
            ("key", "partition_key", "text"),
            ("doc", "regular", "text"),
            ("x", "regular", "int")
        ]));
        assert!(!shape(&[("id", "partition_key", "uuid")]));
    }

    #[test]
    fn document_bodies_are_checked_like_stargate() {
        let error = |body: &str, root: bool| document_body(body.as_bytes(), root).expect_err(body).description;
        assert_eq!(error("", true), "Request invalid: payload must not be empty.");
        assert_eq!(error("{oops", true), "HTTP 400 Bad Request");
        assert!(error("1", true).starts_with("Updating a key with just a JSON primitive is not allowed."));
        assert!(
            error("{}", true).starts_with("Updating a key with just an empty object or an empty array is not allowed.")
        );
        assert!(document_body(b"1", false).is_ok(), "primitives are fine below the root");
    }

    #[test]
    fn batch_ids_come_from_the_id_path() {
        assert_eq!(
            batch_id(&json!({"user": {"id": "u1"}}), Some("user.id")),
            Ok("u1".into())
        );
        assert_eq!(batch_id(&json!({"n": 7}), Some("n")), Ok("7".into()));
        assert!(batch_id(&json!({}), Some("missing")).is_err());
        assert!(uuid::Uuid::parse_str(&batch_id(&json!({}), None).expect("uuid")).is_ok());
    }

    #[test]
    fn collection_search_page_size_is_1_to_20() {
        let params = |v: &str| Params::from([("page-size".to_string(), v.to_string())]);
        assert_eq!(search_page_size(&Params::new()).ok(), Some(3));
        assert_eq!(search_page_size(&params("20")).ok(), Some(20));
        assert_eq!(
            search_page_size(&params("21")).map_err(|e| e.description),
            Err("Request invalid: the max number of documents to return is 20.".into())
        );
    }
}

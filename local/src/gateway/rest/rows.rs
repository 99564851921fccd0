//! REST API v2 row endpoints, `/v2/keyspaces/{keyspace}/{table}...` (reference §2.2).
//!
//! Each handler parses the request into CQL text plus the JSON values to bind ([`Bound`]); the
//! statement is prepared, and every value is converted by the type Cassandra gives its bind
//! marker (see `values`). Pure parts (`where`, `sort`, key paths, page states) are unit-tested.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use scylla::cluster::metadata::{CollectionType, ColumnType, NativeType};
use scylla::value::MaybeUnset;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use super::{ApiError, Params, flag, optional_flag, unconvertible_parameter, wrap};
use crate::gateway::Shared;
use crate::gateway::cql::{self, Bind, Condition, Options, Order, Page, SchemaMiss, TableSchema};
use crate::gateway::values;

/// Rows per page when the request does not say (`DEFAULT_PAGE_SIZE`).
pub const DEFAULT_PAGE_SIZE: i32 = 100;

/// A JSON value to bind, with how to read it and what to say when it does not fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub field: String,
    pub value: Value,
    /// Strings are CQL literals (always true for path segments).
    pub stringified: bool,
}

impl Bound {
    fn loose(field: &str, value: Value) -> Self {
        Self {
            field: field.to_string(),
            value,
            stringified: false,
        }
    }
    fn path(field: &str, segment: &str) -> Self {
        Self {
            field: field.to_string(),
            value: Value::String(segment.to_string()),
            stringified: true,
        }
    }
}

/// A statement to run: CQL text and its values in marker order.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub cql: String,
    pub values: Vec<Bound>,
}

/// Converts the values by the prepared statement's marker types; failures are reported under
/// `problem_prefix` (e.g. `Invalid path for row to find, problem: `).
fn bind(
    prepared: &scylla::statement::prepared::PreparedStatement,
    values: &[Bound],
    compact_maps: bool,
    problem_prefix: &str,
) -> Result<Vec<Bind>, ApiError> {
    let specs = prepared.get_variable_col_specs();
    let mut out = Vec::with_capacity(values.len());
    for (i, bound) in values.iter().enumerate() {
        let Some(spec) = specs.get_by_index(i) else {
            return Err(ApiError::bad_request(format!(
                "{problem_prefix}too many values for the statement"
            )));
        };
        let typ = spec.typ();
        let converted = match (&bound.value, bound.stringified) {
            (Value::String(s), true) => values::from_stringified(s, typ),
            (value, _) => values::from_json(value, typ, compact_maps),
        };
        let value = converted.map_err(|e| {
            ApiError::bad_request(format!(
                "{problem_prefix}Failed to deserialize field '{}', problem: {e}",
                bound.field
            ))
        })?;
        out.push(MaybeUnset::Set(value));
    }
    Ok(out)
}

/// Prepares, binds and runs one statement.
async fn execute(
    shared: &Shared,
    statement: &Statement,
    options: &Options,
    compact_maps: bool,
    problem_prefix: &str,
) -> Result<Option<Page>, ApiError> {
    let prepared = shared.cql.prepare(&statement.cql, None).await?;
    let values = bind(&prepared, &statement.values, compact_maps, problem_prefix)?;
    Ok(shared.cql.execute(&prepared, values, options).await?.page)
}

/// The table, or Stargate's 400 for a missing keyspace or table.
async fn table(shared: &Shared, keyspace: &str, table: &str) -> Result<TableSchema, ApiError> {
    shared.cql.table(keyspace, table).await.map_err(|miss| match miss {
        SchemaMiss::Keyspace => ApiError::bad_request(format!("Keyspace '{keyspace}' not found")),
        SchemaMiss::Table => ApiError::bad_request(format!("Table '{table}' not found (in keyspace '{keyspace}')")),
    })
}

fn compact(shared: &Shared, params: &Params) -> bool {
    optional_flag(params, "compactMapData").unwrap_or(shared.config.compact_map_data)
}

/// `{"count","pageState","data"}` (or the bare rows with `raw=true`).
pub fn rows_envelope(page: Option<Page>, raw: bool, compact_maps: bool) -> Value {
    let page = page.unwrap_or_default();
    let rows: Vec<Value> = page
        .rows
        .iter()
        .map(|row| {
            let mut object = Map::new();
            for ((name, _), cell) in page.columns.iter().zip(row) {
                object.insert(name.clone(), values::to_json(cell.as_ref(), compact_maps));
            }
            Value::Object(object)
        })
        .collect();
    if raw {
        return Value::Array(rows);
    }
    let mut body = Map::new();
    body.insert("count".into(), Value::from(rows.len()));
    if let Some(state) = page.paging_state.filter(|s| !s.is_empty()) {
        body.insert("pageState".into(), Value::String(BASE64.encode(state)));
    }
    body.insert("data".into(), Value::Array(rows));
    Value::Object(body)
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/// `fields=a, b,,c` → `[a, b, c]`.
pub fn parse_fields(fields: Option<&String>) -> Vec<String> {
    fields
        .map(|f| {
            f.split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// `page-size`: `<= 0` or absent means the default; not a number is JAX-RS's 404.
pub fn parse_page_size(params: &Params) -> Result<i32, ApiError> {
    match params.get("page-size").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(DEFAULT_PAGE_SIZE),
        Some(text) => {
            let size: i32 = text.parse().map_err(|_| unconvertible_parameter())?;
            Ok(if size <= 0 { DEFAULT_PAGE_SIZE } else { size })
        }
    }
}

/// `page-state`, decoded as Java's basic Base64 decoder does (padding optional); the message
/// is Java's.
pub fn decode_page_state(text: &str) -> Result<Vec<u8>, String> {
    if let Some(bad) = text
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
    {
        return Err(format!("Illegal base64 character {:x}", u32::from(bad)));
    }
    let lenient = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    lenient
        .decode(text)
        .map_err(|_| "Input byte array has wrong 4-byte ending unit".to_string())
}

fn page_options(params: &Params) -> Result<(Options, Option<String>), ApiError> {
    let page_size = parse_page_size(params)?;
    let state = params.get("page-state").filter(|s| !s.is_empty()).cloned();
    Ok((
        Options {
            page_size,
            ..Options::default()
        },
        state,
    ))
}

/// `sort={"col":"desc"}`: only the exact string `desc` sorts descending (Stargate v2's rule).
pub fn parse_sort(sort: Option<&String>) -> Result<Vec<(String, Order)>, String> {
    let Some(text) = sort.filter(|s| !s.is_empty()) else {
        return Ok(Vec::new());
    };
    let root: Value =
        serde_json::from_str(text).map_err(|e| format!("Invalid 'sort' argument, not valid JSON ({text}): {e}"))?;
    let Value::Object(object) = root else {
        return Err(format!("Invalid 'sort' argument, not JSON Object ({text})"));
    };
    Ok(object
        .into_iter()
        .map(|(column, order)| {
            let text = match &order {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            (column, if text == "desc" { Order::Desc } else { Order::Asc })
        })
        .collect())
}

/// A JSON value whose objects may not repeat a key (Stargate's where parser is strict).
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
        Ok(Strict(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }
    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_none<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut items = Vec::new();
        while let Some(Strict(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Strict(Value::Array(items)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(value) = map.next_value()?;
            if object.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("Duplicate field '{key}'")));
            }
            object.insert(key, value);
        }
        // With `arbitrary_precision`, numbers arrive as a one-key map; rebuild them.
        if object.len() == 1
            && let Some(Value::String(number)) = object.get("$serde_json::private::Number")
            && let Ok(parsed) = number.parse::<serde_json::Number>()
        {
            return Ok(Strict(Value::Number(parsed)));
        }
        Ok(Strict(Value::Object(object)))
    }
}

fn unknown_field(field: &str, schema: &TableSchema) -> String {
    format!(
        "Unknown field name '{field}' (table '{}'); known fields: [{}]",
        schema.name,
        schema.column_names().join(", ")
    )
}

fn is_map(typ: &ColumnType) -> bool {
    matches!(
        typ,
        ColumnType::Collection {
            typ: CollectionType::Map(..),
            ..
        }
    )
}

/// The `where` parameter as conditions and the values they bind, in order. Errors are the text
/// after `Invalid 'where' parameter, problem: `.
pub fn parse_where(text: &str, schema: &TableSchema) -> Result<(Vec<Condition>, Vec<Bound>), String> {
    let Strict(root) =
        serde_json::from_str::<Strict>(text).map_err(|e| format!("Input provided is not valid json. {e}"))?;
    let Value::Object(fields) = root else {
        return Err("Was expecting a JSON object as input for where parameter.".into());
    };
    let mut conditions = Vec::new();
    let mut bound = Vec::new();
    for (field, condition) in fields {
        let Value::Object(operations) = condition else {
            return Err(format!("Entry for field {field} was expecting a JSON object as input."));
        };
        for (raw_op, value) in operations {
            let op = raw_op.to_ascii_lowercase();
            let compare = match op.as_str() {
                "$eq" => Some("="),
                "$lt" => Some("<"),
                "$lte" => Some("<="),
                "$gt" => Some(">"),
                "$gte" => Some(">="),
                "$exists" | "$in" | "$contains" | "$containskey" | "$containsentry" => None,
                _ => return Err(format!("Operation {raw_op} is not supported.")),
            };
            if value.is_null() {
                return Err(format!(
                    "Value entry for field {field}, operation {raw_op} was expecting a value, but found null."
                ));
            }
            let typ = schema.column(&field).ok_or_else(|| unknown_field(&field, schema))?;
            let column = field.clone();
            if let Some(op) = compare {
                let items = match value {
                    Value::Array(items) => items,
                    single => vec![single],
                };
                for item in items {
                    conditions.push(Condition::Compare {
                        column: column.clone(),
                        op,
                    });
                    bound.push(Bound {
                        stringified: item.is_string(),
                        ..Bound::loose(&field, item)
                    });
                }
                continue;
            }
            match op.as_str() {
                "$in" => {
                    let Value::Array(items) = value.clone() else {
                        return Err(format!(
                            "Value entry for field '{field}', operation $in must be a non-empty array"
                        ));
                    };
                    if items.is_empty() {
                        return Err(format!(
                            "Value entry for field '{field}', operation $in must be a non-empty array"
                        ));
                    }
                    conditions.push(Condition::In {
                        column,
                        count: items.len(),
                    });
                    bound.extend(items.into_iter().map(|item| Bound::loose(&field, item)));
                }
                "$exists" => {
                    if value != Value::Bool(true) {
                        return Err("`$exists` only supports the value `true`.".into());
                    }
                    conditions.push(Condition::Compare { column, op: "=" });
                    bound.push(Bound::loose(&field, Value::Bool(true)));
                }
                "$contains" => {
                    if !matches!(typ, ColumnType::Collection { .. }) {
                        return Err(format!(
                            "Field '{field}' not of container type (list, map, set); has to be for operation $contains"
                        ));
                    }
                    conditions.push(Condition::Contains { column });
                    bound.push(Bound::loose(&field, value));
                }
                "$containskey" => {
                    if !is_map(typ) {
                        return Err(format!(
                            "Field '{field}' not of map type; has to be for operation $containsKey"
                        ));
                    }
                    conditions.push(Condition::ContainsKey { column });
                    bound.push(Bound::loose(&field, value));
                }
                _ => {
                    let (Some(key), Some(entry_value)) = (value.get("key"), value.get("value")) else {
                        return Err(format!(
                            "Value entry for field {field}, operation $containsEntry must be an object with two fields 'key' and 'value'"
                        ));
                    };
                    if !is_map(typ) {
                        return Err(format!(
                            "Field '{field}' not of map type; has to be for operation $containsEntry"
                        ));
                    }
                    conditions.push(Condition::Entry { column });
                    bound.push(Bound::loose(&field, key.clone()));
                    bound.push(Bound::loose(&field, entry_value.clone()));
                }
            }
        }
    }
    Ok((conditions, bound))
}

/// Key path segments bound to the primary key in order (partition keys required, clustering
/// keys optional from the right). Errors are the text after `Invalid path for row to …, problem: `.
pub fn key_conditions(segments: &[String], schema: &TableSchema) -> Result<(Vec<Condition>, Vec<Bound>), String> {
    let partition = schema.partition_key.len();
    let clustering = schema.clustering_key.len();
    if segments.len() < partition {
        return Err(format!(
            "Number of key values provided ({}) less than number of partition keys ({partition})",
            segments.len()
        ));
    }
    if segments.len() > partition + clustering {
        return Err(format!(
            "Number of key values provided ({}) exceeds number of partition keys ({partition}) and clustering keys ({clustering})",
            segments.len()
        ));
    }
    let keys = schema.partition_key.iter().chain(&schema.clustering_key);
    let mut conditions = Vec::new();
    let mut bound = Vec::new();
    for (segment, column) in segments.iter().zip(keys) {
        conditions.push(Condition::Compare {
            column: column.clone(),
            op: "=",
        });
        bound.push(Bound::path(column, segment));
    }
    Ok((conditions, bound))
}

/// A write body: a JSON object (anything else is `Invalid JSON payload: …`).
pub fn parse_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(other) => Err(ApiError::bad_request(format!(
            "Invalid JSON payload: Cannot deserialize value of type `java.util.LinkedHashMap<java.lang.String,java.lang.Object>` from {} value",
            json_kind(&other)
        ))),
        Err(e) => Err(ApiError::bad_request(format!("Invalid JSON payload: {e}"))),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Array(_) => "Array",
        Value::String(_) => "String",
        Value::Number(_) => "Number",
        Value::Bool(_) => "Boolean",
        Value::Null => "Null",
        Value::Object(_) => "Object",
    }
}

/// The columns of a write body, each checked against the table.
fn body_columns(body: &Map<String, Value>, schema: &TableSchema) -> Result<Vec<Bound>, String> {
    body.iter()
        .map(|(column, value)| {
            schema.column(column).ok_or_else(|| unknown_field(column, schema))?;
            Ok(Bound::loose(column, value.clone()))
        })
        .collect()
}

/// POST: `INSERT` of the body's columns.
pub fn insert_statement(body: &Map<String, Value>, schema: &TableSchema) -> Result<Statement, String> {
    let values = body_columns(body, schema)?;
    let columns: Vec<String> = values.iter().map(|b| b.field.clone()).collect();
    Ok(Statement {
        cql: cql::insert(&schema.keyspace, &schema.name, &columns),
        values,
    })
}

/// PUT/PATCH: `UPDATE … SET` the body's columns (counters incremented) for the key path.
pub fn update_statement(
    body: &Map<String, Value>,
    segments: &[String],
    schema: &TableSchema,
) -> Result<Statement, String> {
    let mut values = body_columns(body, schema)?;
    let assignments: Vec<(String, bool)> = values
        .iter()
        .map(|b| {
            let counter = matches!(schema.column(&b.field), Some(ColumnType::Native(NativeType::Counter)));
            (b.field.clone(), counter)
        })
        .collect();
    let (conditions, keys) = key_conditions(segments, schema)?;
    values.extend(keys);
    Ok(Statement {
        cql: cql::update(&schema.keyspace, &schema.name, &assignments, &conditions),
        values,
    })
}

fn key_segments(key: &str) -> Vec<String> {
    key.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect()
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

const FIND: &str = "Invalid path for row to find, problem: ";
const CREATE: &str = "Invalid path for row to create, problem: ";
const UPDATE: &str = "Invalid path for row to update, problem: ";
const DELETE: &str = "Invalid path for row to delete, problem: ";
const WHERE: &str = "Invalid 'where' parameter, problem: ";
const SORT: &str = "Invalid 'sort' parameter, problem: ";

/// `GET /v2/keyspaces/{ks}/{t}?where=…`: rows matching the conditions.
pub async fn search(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table_name)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let Some(where_text) = params.get("where").filter(|w| !w.trim().is_empty()) else {
        return Err(ApiError::bad_request("Request invalid: 'where' must be provided."));
    };
    let fields = parse_fields(params.get("fields"));
    let sort = parse_sort(params.get("sort")).map_err(|e| ApiError::bad_request(format!("{SORT}{e}")))?;
    let (mut options, state) = page_options(&params)?;
    let schema = table(&shared, &keyspace, &table_name).await?;
    let (conditions, values) =
        parse_where(where_text, &schema).map_err(|e| ApiError::bad_request(format!("{WHERE}{e}")))?;
    // An undecodable page state escapes Stargate's handlers: a 500 with Java's message.
    if let Some(state) = state {
        options.paging_state =
            Some(decode_page_state(&state).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?);
    }
    let statement = Statement {
        cql: cql::select(&keyspace, &table_name, &fields, &conditions, &sort),
        values,
    };
    let compact_maps = compact(&shared, &params);
    let page = execute(&shared, &statement, &options, compact_maps, WHERE).await?;
    Ok(Json(rows_envelope(page, flag(&params, "raw"), compact_maps)))
}

/// `GET /v2/keyspaces/{ks}/{t}/rows`: every row, page by page (no schema lookup, as in Stargate).
pub async fn all(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table_name)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let fields = parse_fields(params.get("fields"));
    let sort = parse_sort(params.get("sort")).map_err(|e| ApiError::bad_request(format!("{SORT}{e}")))?;
    let (mut options, state) = page_options(&params)?;
    if let Some(state) = state {
        options.paging_state =
            Some(decode_page_state(&state).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?);
    }
    let statement = Statement {
        cql: cql::select(&keyspace, &table_name, &fields, &[], &sort),
        values: Vec::new(),
    };
    let compact_maps = compact(&shared, &params);
    let page = execute(&shared, &statement, &options, compact_maps, FIND).await?;
    Ok(Json(rows_envelope(page, flag(&params, "raw"), compact_maps)))
}

/// `GET /v2/keyspaces/{ks}/{t}/{pk…}`: rows by (a prefix of) the primary key.
pub async fn by_key(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table_name, key)): Path<(String, String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let fields = parse_fields(params.get("fields"));
    let sort = parse_sort(params.get("sort")).map_err(|e| ApiError::bad_request(format!("{SORT}{e}")))?;
    let (mut options, state) = page_options(&params)?;
    let schema = table(&shared, &keyspace, &table_name).await?;
    let (conditions, values) =
        key_conditions(&key_segments(&key), &schema).map_err(|e| ApiError::bad_request(format!("{FIND}{e}")))?;
    if let Some(state) = state {
        options.paging_state =
            Some(decode_page_state(&state).map_err(|e| ApiError::bad_request(format!("{FIND}{e}")))?);
    }
    let statement = Statement {
        cql: cql::select(&keyspace, &table_name, &fields, &conditions, &sort),
        values,
    };
    let compact_maps = compact(&shared, &params);
    let page = execute(&shared, &statement, &options, compact_maps, FIND).await?;
    Ok(Json(rows_envelope(page, flag(&params, "raw"), compact_maps)))
}

/// `POST /v2/keyspaces/{ks}/{t}`: inserts (upserts) a row; 201 with the request body echoed.
pub async fn add(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table_name)): Path<(String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let object = parse_body(&body)?;
    let schema = table(&shared, &keyspace, &table_name).await?;
    let statement = insert_statement(&object, &schema).map_err(|e| ApiError::bad_request(format!("{CREATE}{e}")))?;
    execute(
        &shared,
        &statement,
        &Options::default(),
        compact(&shared, &params),
        CREATE,
    )
    .await?;
    Ok((StatusCode::CREATED, [(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// `PUT` and `PATCH /v2/keyspaces/{ks}/{t}/{pk…}`: updates the body's columns; 200 with the body.
pub async fn update(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table_name, key)): Path<(String, String, String)>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let object = parse_body(&body)?;
    let schema = table(&shared, &keyspace, &table_name).await?;
    let statement = update_statement(&object, &key_segments(&key), &schema)
        .map_err(|e| ApiError::bad_request(format!("{UPDATE}{e}")))?;
    execute(
        &shared,
        &statement,
        &Options::default(),
        compact(&shared, &params),
        UPDATE,
    )
    .await?;
    Ok(Json(wrap(Value::Object(object), flag(&params, "raw"))))
}

/// `DELETE /v2/keyspaces/{ks}/{t}/{pk…}`: deletes the row (or a clustering range); 204.
pub async fn remove(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table_name, key)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let schema = table(&shared, &keyspace, &table_name).await?;
    let (conditions, values) =
        key_conditions(&key_segments(&key), &schema).map_err(|e| ApiError::bad_request(format!("{DELETE}{e}")))?;
    let statement = Statement {
        cql: cql::delete(&keyspace, &table_name, &conditions),
        values,
    };
    execute(&shared, &statement, &Options::default(), true, DELETE).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v2/cql`: raw CQL in a `text/plain` body; off unless the gateway enables it (as Stargate).
pub async fn cql(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Params>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    if !shared.config.rest_cql_enabled {
        return Err(ApiError::not_found("HTTP 404 Not Found"));
    }
    let text = String::from_utf8_lossy(&body).trim().to_string();
    if text.is_empty() {
        return Err(ApiError::bad_request("Request invalid: CQL query body required."));
    }
    let (mut options, state) = page_options(&params)?;
    if let Some(state) = state {
        options.paging_state =
            Some(decode_page_state(&state).map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?);
    }
    let keyspace = params.get("keyspace").map(String::as_str);
    let prepared = shared.cql.prepare(&text, keyspace).await?;
    let page = shared.cql.execute(&prepared, Vec::new(), &options).await?.page;
    let compact_maps = compact(&shared, &params);
    Ok(Json(rows_envelope(page, flag(&params, "raw"), compact_maps)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use scylla::cluster::metadata::ColumnKind;
    use serde_json::json;

    fn schema() -> TableSchema {
        let text = ColumnType::Native(NativeType::Text);
        let int = ColumnType::Native(NativeType::Int);
        let tags = ColumnType::Collection {
            frozen: false,
            typ: CollectionType::Set(Box::new(text.clone())),
        };
        let attrs = ColumnType::Collection {
            frozen: false,
            typ: CollectionType::Map(Box::new(text.clone()), Box::new(int.clone())),
        };
        TableSchema {
            keyspace: "ks".into(),
            name: "users".into(),
            partition_key: vec!["id".into()],
            clustering_key: vec!["seq".into()],
            columns: vec![
                ("id".into(), text.clone(), ColumnKind::PartitionKey),
                ("seq".into(), int.clone(), ColumnKind::Clustering),
                ("attrs".into(), attrs, ColumnKind::Regular),
                (
                    "hits".into(),
                    ColumnType::Native(NativeType::Counter),
                    ColumnKind::Regular,
                ),
                ("name".into(), text, ColumnKind::Regular),
                ("tags".into(), tags, ColumnKind::Regular),
            ],
        }
    }

    #[test]
    fn where_turns_operators_into_conditions() {
        let (conditions, bound) = parse_where(
            r#"{"id":{"$eq":"a"},"seq":{"$GT":1,"$lte":[5,9]},"tags":{"$contains":"x"}}"#,
            &schema(),
        )
        .expect("where");
        assert_eq!(
            conditions,
            vec![
                Condition::Compare {
                    column: "id".into(),
                    op: "="
                },
                Condition::Compare {
                    column: "seq".into(),
                    op: ">"
                },
                Condition::Compare {
                    column: "seq".into(),
                    op: "<="
                },
                Condition::Compare {
                    column: "seq".into(),
                    op: "<="
                },
                Condition::Contains { column: "tags".into() },
            ]
        );
        assert_eq!(bound.len(), 5);
        assert!(bound[0].stringified);
        let (conditions, bound) = parse_where(
            r#"{"seq":{"$in":[1,2]},"attrs":{"$containsEntry":{"key":"k","value":3}}}"#,
            &schema(),
        )
        .expect("in");
        assert_eq!(
            conditions[0],
            Condition::In {
                column: "seq".into(),
                count: 2
            }
        );
        assert_eq!(conditions[1], Condition::Entry { column: "attrs".into() });
        assert_eq!(
            bound.iter().map(|b| b.value.clone()).collect::<Vec<_>>(),
            vec![json!(1), json!(2), json!("k"), json!(3)]
        );
    }

    #[test]
    fn where_errors_use_stargates_messages() {
        let error = |text: &str| parse_where(text, &schema()).expect_err(text);
        assert_eq!(error(r#"{"id":{"$ne":"a"}}"#), "Operation $ne is not supported.");
        assert!(error("{not json").starts_with("Input provided is not valid json."));
        assert_eq!(
            error("[1]"),
            "Was expecting a JSON object as input for where parameter."
        );
        assert_eq!(
            error(r#"{"id":"a"}"#),
            "Entry for field id was expecting a JSON object as input."
        );
        assert_eq!(
            error(r#"{"id":{"$eq":null}}"#),
            "Value entry for field id, operation $eq was expecting a value, but found null."
        );
        assert!(
            error(r#"{"nope":{"$eq":1}}"#)
                .starts_with("Unknown field name 'nope' (table 'users'); known fields: [id, seq")
        );
        assert_eq!(
            error(r#"{"seq":{"$in":[]}}"#),
            "Value entry for field 'seq', operation $in must be a non-empty array"
        );
        assert_eq!(
            error(r#"{"name":{"$exists":false}}"#),
            "`$exists` only supports the value `true`."
        );
        assert_eq!(
            error(r#"{"name":{"$contains":"a"}}"#),
            "Field 'name' not of container type (list, map, set); has to be for operation $contains"
        );
        assert_eq!(
            error(r#"{"tags":{"$containsKey":"a"}}"#),
            "Field 'tags' not of map type; has to be for operation $containsKey"
        );
        assert_eq!(
            error(r#"{"attrs":{"$containsEntry":{"key":"a"}}}"#),
            "Value entry for field attrs, operation $containsEntry must be an object with two fields 'key' and 'value'"
        );
        assert!(error(r#"{"id":{"$eq":"a"},"id":{"$eq":"b"}}"#).contains("Duplicate field 'id'"));
    }

    #[test]
    fn key_paths_bind_partition_then_clustering_keys() {
        let (conditions, bound) = key_conditions(&["a".into(), "7".into()], &schema()).expect("full key");
        assert_eq!(conditions.len(), 2);
        assert_eq!(bound[1], Bound::path("seq", "7"));
        assert!(
            key_conditions(&["a".into()], &schema()).is_ok(),
            "a partition key alone is a prefix"
        );
        assert_eq!(
            key_conditions(&[], &schema()).expect_err("too few"),
            "Number of key values provided (0) less than number of partition keys (1)"
        );
        assert_eq!(
            key_conditions(&["a".into(), "1".into(), "2".into()], &schema()).expect_err("too many"),
            "Number of key values provided (3) exceeds number of partition keys (1) and clustering keys (1)"
        );
    }

    #[test]
    fn sort_is_descending_only_for_lowercase_desc() {
        let sort = parse_sort(Some(&r#"{"a":"desc","b":"DESC","c":"asc"}"#.to_string())).expect("sort");
        assert_eq!(
            sort,
            vec![
                ("a".into(), Order::Desc),
                ("b".into(), Order::Asc),
                ("c".into(), Order::Asc)
            ]
        );
        assert!(
            parse_sort(Some(&"nope".to_string()))
                .expect_err("not json")
                .starts_with("Invalid 'sort' argument, not valid JSON (nope): ")
        );
        assert_eq!(
            parse_sort(Some(&"[1]".to_string())).expect_err("array"),
            "Invalid 'sort' argument, not JSON Object ([1])"
        );
    }

    #[test]
    fn fields_page_size_and_page_state() {
        assert_eq!(parse_fields(Some(&" a, b,,c ".to_string())), vec!["a", "b", "c"]);
        let params = |v: &str| Params::from([("page-size".to_string(), v.to_string())]);
        assert_eq!(parse_page_size(&params("0")), Ok(DEFAULT_PAGE_SIZE));
        assert_eq!(parse_page_size(&params("5")), Ok(5));
        assert_eq!(
            parse_page_size(&params("x")).map_err(|e| e.status),
            Err(StatusCode::NOT_FOUND)
        );
        assert_eq!(decode_page_state("AQID"), Ok(vec![1, 2, 3]));
        assert_eq!(decode_page_state("AQI"), Ok(vec![1, 2]), "padding is optional");
        assert_eq!(
            decode_page_state("not-base64"),
            Err("Illegal base64 character 2d".into())
        );
    }

    #[test]
    fn writes_check_columns_and_increment_counters() {
        let body = parse_body(br#"{"name":"Ann","hits":"+1"}"#).expect("body");
        let statement = update_statement(&body, &["a".into(), "1".into()], &schema()).expect("update");
        assert_eq!(
            statement.cql,
            "UPDATE \"ks\".\"users\" SET \"name\" = ?, \"hits\" = \"hits\" + ? WHERE \"id\" = ? AND \"seq\" = ?"
        );
        let bad = parse_body(br#"{"x":1}"#).expect("body");
        assert!(
            insert_statement(&bad, &schema())
                .expect_err("unknown")
                .starts_with("Unknown field name 'x' (table 'users')")
        );
        assert!(
            parse_body(b"{oops")
                .expect_err("invalid")
                .description
                .starts_with("Invalid JSON payload: ")
        );
        assert!(parse_body(b"[1]").is_err());
    }

    #[test]
    fn rows_envelope_counts_the_page_and_encodes_the_state() {
        let page = Page {
            columns: vec![("key".into(), ColumnType::Native(NativeType::Text))],
            rows: vec![vec![Some(scylla::value::CqlValue::Text("local".into()))]],
            paging_state: None,
        };
        assert_eq!(
            rows_envelope(Some(page.clone()), false, true).to_string(),
            r#"{"count":1,"data":[{"key":"local"}]}"#
        );
        assert_eq!(rows_envelope(Some(page.clone()), true, true), json!([{"key": "local"}]));
        let more = Page {
            paging_state: Some(vec![1, 2, 3]),
            ..page
        };
        assert_eq!(rows_envelope(Some(more), false, true)["pageState"], json!("AQID"));
    }
}

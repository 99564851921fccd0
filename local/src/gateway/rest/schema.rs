//! REST API v2 schema endpoints, `/v2/schemas/keyspaces/...` (reference §2.1): keyspaces, tables,
//! columns, indexes and user-defined types. Reads come from Cassandra's `system_schema` tables
//! (always current, whoever changed the schema); writes are DDL built by the pure functions below.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use scylla::value::{CqlValue, MaybeUnset};
use serde_json::{Map, Value, json};

use super::{ApiError, Params, flag, wrap};
use crate::gateway::Shared;
use crate::gateway::cql::{Options, ident, qualified, string_literal};

type Rows = Vec<Vec<Option<CqlValue>>>;

fn text(cell: Option<&Option<CqlValue>>) -> String {
    match cell {
        Some(Some(CqlValue::Text(s) | CqlValue::Ascii(s))) => s.clone(),
        _ => String::new(),
    }
}

fn int(cell: Option<&Option<CqlValue>>) -> i64 {
    match cell {
        Some(Some(CqlValue::Int(n))) => i64::from(*n),
        Some(Some(CqlValue::BigInt(n))) => *n,
        _ => 0,
    }
}

fn text_map(cell: Option<&Option<CqlValue>>) -> Vec<(String, String)> {
    match cell {
        Some(Some(CqlValue::Map(entries))) => entries
            .iter()
            .map(|(k, v)| (text(Some(&Some(k.clone()))), text(Some(&Some(v.clone())))))
            .collect(),
        _ => Vec::new(),
    }
}

/// Runs a `system_schema` query with text parameters.
async fn query(shared: &Shared, cql: &str, params: &[&str]) -> Result<Rows, ApiError> {
    let values = params
        .iter()
        .map(|p| MaybeUnset::Set(Some(CqlValue::Text((*p).to_string()))))
        .collect();
    let options = Options {
        page_size: 10_000,
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

async fn ddl(shared: &Shared, cql: &str) -> Result<(), ApiError> {
    shared.cql.run_ddl(cql).await?;
    Ok(())
}

/// A JSON body, or `message_prefix` + the parser's message.
fn json_body(body: &[u8], message_prefix: &str) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("{message_prefix}{e}")))
}

fn created(body: Value) -> Response {
    (StatusCode::CREATED, Json(body)).into_response()
}

// ---------------------------------------------------------------------------------------------
// Keyspaces
// ---------------------------------------------------------------------------------------------

/// `{"name"}`, plus `datacenters` for NetworkTopologyStrategy keyspaces.
pub fn keyspace_json(name: &str, replication: &[(String, String)]) -> Value {
    let mut object = Map::new();
    object.insert("name".into(), Value::String(name.to_string()));
    let class = replication
        .iter()
        .find(|(k, _)| k == "class")
        .map(|(_, v)| v.as_str())
        .unwrap_or("");
    if class.ends_with("NetworkTopologyStrategy") {
        let datacenters: Vec<Value> = replication
            .iter()
            .filter(|(k, _)| k != "class")
            .map(|(dc, replicas)| json!({"name": dc, "replicas": replicas.parse::<i64>().unwrap_or(0)}))
            .collect();
        object.insert("datacenters".into(), Value::Array(datacenters));
    }
    Value::Object(object)
}

/// `GET /v2/schemas/keyspaces`.
pub async fn list_keyspaces(
    State(shared): State<Arc<Shared>>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let rows = query(
        &shared,
        "SELECT keyspace_name, replication FROM system_schema.keyspaces",
        &[],
    )
    .await?;
    let keyspaces = rows
        .iter()
        .map(|r| keyspace_json(&text(r.first()), &text_map(r.get(1))))
        .collect();
    Ok(Json(wrap(Value::Array(keyspaces), flag(&params, "raw"))))
}

/// `GET /v2/schemas/keyspaces/{ks}`.
pub async fn get_keyspace(
    State(shared): State<Arc<Shared>>,
    Path(keyspace): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let rows = query(
        &shared,
        "SELECT keyspace_name, replication FROM system_schema.keyspaces WHERE keyspace_name = ?",
        &[&keyspace],
    )
    .await?;
    let row = rows
        .first()
        .ok_or_else(|| ApiError::not_found(format!("Unable to describe keyspace '{keyspace}'")))?;
    Ok(Json(wrap(
        keyspace_json(&keyspace, &text_map(row.get(1))),
        flag(&params, "raw"),
    )))
}

/// The keyspace a `POST /v2/schemas/keyspaces` body asks for, as CQL (`IF NOT EXISTS`, so an
/// existing keyspace is fine).
pub fn create_keyspace_cql(body: &Value) -> Result<(String, String), String> {
    if !body.is_object() {
        return Err(format!(
            "Invalid JSON payload for Keyspace creation; must be JSON Object: {body}"
        ));
    }
    let Some(name) = body.get("name").and_then(Value::as_str) else {
        return Err(format!("Missing 'name' String property in payload Object: {body}"));
    };
    let replication = match body.get("datacenters").filter(|d| !d.is_null()) {
        Some(Value::Array(dcs)) if dcs.is_empty() => {
            return Err(format!(
                "malformatted JSON payload ({body}) for Keyspace creation: empty 'datacenters'"
            ));
        }
        Some(Value::Array(dcs)) => {
            let mut parts = vec!["'class': 'NetworkTopologyStrategy'".to_string()];
            for dc in dcs {
                let Some(dc_name) = dc.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) else {
                    return Err(format!(
                        "malformatted JSON payload ({body}) for Keyspace creation: one of 'datacenters' entries missing 'name'"
                    ));
                };
                let replicas = dc.get("replicas").and_then(Value::as_i64).unwrap_or(3);
                parts.push(format!("{}: {replicas}", string_literal(dc_name)));
            }
            parts.join(", ")
        }
        Some(_) => {
            return Err(format!(
                "Malformatted JSON payload ({body}) for Keyspace creation, problem: 'datacenters' must be an array"
            ));
        }
        None => {
            let replicas = body.get("replicas").and_then(Value::as_i64).unwrap_or(1);
            format!("'class': 'SimpleStrategy', 'replication_factor': {replicas}")
        }
    };
    Ok((
        name.to_string(),
        format!(
            "CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {{{replication}}}",
            ident(name)
        ),
    ))
}

/// `POST /v2/schemas/keyspaces` → 201 `{"name"}`.
pub async fn create_keyspace(State(shared): State<Arc<Shared>>, body: Bytes) -> Result<Response, ApiError> {
    let body = json_body(&body, "Invalid JSON payload for Keyspace creation, problem: ")?;
    let (name, cql) = create_keyspace_cql(&body).map_err(ApiError::bad_request)?;
    ddl(&shared, &cql).await?;
    Ok(created(json!({ "name": name })))
}

/// `DELETE /v2/schemas/keyspaces/{ks}` → 204, also for a keyspace that does not exist.
pub async fn delete_keyspace(
    State(shared): State<Arc<Shared>>,
    Path(keyspace): Path<String>,
) -> Result<StatusCode, ApiError> {
    ddl(&shared, &format!("DROP KEYSPACE IF EXISTS {}", ident(&keyspace))).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Tables and columns
// ---------------------------------------------------------------------------------------------

/// A CQL type as written in `system_schema` rendered as Stargate's `typeDefinition`: UDTs
/// become `udt<name>`, `varchar` is `text`, type arguments separated by `, `.
pub fn type_definition(cql_type: &str) -> String {
    let tokens = tokenize_type(cql_type);
    let mut at = 0;
    render_type(&tokens, &mut at)
}

fn tokenize_type(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        match c {
            '"' => {
                quoted = !quoted;
            }
            '<' | '>' | ',' if !quoted => {
                if !current.trim().is_empty() {
                    tokens.push(current.trim().to_string());
                }
                current.clear();
                tokens.push(c.to_string());
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() {
        tokens.push(current.trim().to_string());
    }
    tokens
}

const NATIVE_TYPES: &[&str] = &[
    "ascii",
    "bigint",
    "blob",
    "boolean",
    "counter",
    "date",
    "decimal",
    "double",
    "duration",
    "float",
    "inet",
    "int",
    "smallint",
    "text",
    "time",
    "timestamp",
    "timeuuid",
    "tinyint",
    "uuid",
    "varchar",
    "varint",
];

fn render_type(tokens: &[String], at: &mut usize) -> String {
    let Some(name) = tokens.get(*at).cloned() else {
        return String::new();
    };
    *at += 1;
    let lower = name.to_ascii_lowercase();
    if tokens.get(*at).map(String::as_str) == Some("<") {
        *at += 1;
        let mut args = Vec::new();
        loop {
            args.push(render_type(tokens, at));
            match tokens.get(*at).map(String::as_str) {
                Some(",") => *at += 1,
                Some(">") => {
                    *at += 1;
                    break;
                }
                _ => break,
            }
        }
        return format!("{lower}<{}>", args.join(", "));
    }
    if lower == "varchar" {
        "text".to_string()
    } else if NATIVE_TYPES.contains(&lower.as_str()) || name.chars().all(|c| c.is_ascii_digit()) {
        lower
    } else {
        format!("udt<{name}>")
    }
}

/// One row of `system_schema.columns`.
#[derive(Debug, Clone)]
pub struct ColumnRow {
    pub table: String,
    pub name: String,
    pub kind: String,
    pub position: i64,
    pub clustering_order: String,
    pub cql_type: String,
}

/// A column as Stargate's `ColumnDefinition`.
pub fn column_json(column: &ColumnRow) -> Value {
    json!({
        "name": column.name,
        "typeDefinition": type_definition(&column.cql_type),
        "static": column.kind == "static",
    })
}

/// Columns in Stargate's order: partition keys, clustering keys, statics, regular columns.
pub fn ordered_columns(mut columns: Vec<ColumnRow>) -> Vec<ColumnRow> {
    let rank = |kind: &str| match kind {
        "partition_key" => 0,
        "clustering" => 1,
        "static" => 2,
        _ => 3,
    };
    columns.sort_by(|a, b| (rank(&a.kind), a.position, &a.name).cmp(&(rank(&b.kind), b.position, &b.name)));
    columns
}

/// A table as Stargate's table response.
pub fn table_json(keyspace: &str, table: &str, default_ttl: i64, columns: &[ColumnRow]) -> Value {
    let keys = |kind: &str| -> Vec<Value> {
        columns
            .iter()
            .filter(|c| c.kind == kind)
            .map(|c| Value::String(c.name.clone()))
            .collect()
    };
    let clustering: Vec<Value> = columns
        .iter()
        .filter(|c| c.kind == "clustering")
        .map(|c| json!({"column": c.name, "order": c.clustering_order.to_ascii_uppercase()}))
        .collect();
    json!({
        "name": table,
        "keyspace": keyspace,
        "columnDefinitions": columns.iter().map(column_json).collect::<Vec<_>>(),
        "primaryKey": {"partitionKey": keys("partition_key"), "clusteringKey": keys("clustering")},
        "tableOptions": {"defaultTimeToLive": default_ttl, "clusteringExpression": clustering},
    })
}

async fn keyspace_exists(shared: &Shared, keyspace: &str) -> Result<(), ApiError> {
    let rows = query(
        shared,
        "SELECT keyspace_name FROM system_schema.keyspaces WHERE keyspace_name = ?",
        &[keyspace],
    )
    .await?;
    if rows.is_empty() {
        return Err(ApiError::bad_request(format!("Keyspace '{keyspace}' not found")));
    }
    Ok(())
}

async fn column_rows(shared: &Shared, keyspace: &str, table: Option<&str>) -> Result<Vec<ColumnRow>, ApiError> {
    let base = "SELECT table_name, column_name, kind, position, clustering_order, type FROM system_schema.columns WHERE keyspace_name = ?";
    let rows = match table {
        Some(table) => query(shared, &format!("{base} AND table_name = ?"), &[keyspace, table]).await?,
        None => query(shared, base, &[keyspace]).await?,
    };
    Ok(rows
        .iter()
        .map(|r| ColumnRow {
            table: text(r.first()),
            name: text(r.get(1)),
            kind: text(r.get(2)),
            position: int(r.get(3)),
            clustering_order: text(r.get(4)),
            cql_type: text(r.get(5)),
        })
        .collect())
}

/// The tables of a keyspace (all, or one) as JSON, in name order.
async fn tables_json(shared: &Shared, keyspace: &str, table: Option<&str>) -> Result<Vec<Value>, ApiError> {
    keyspace_exists(shared, keyspace).await?;
    let base = "SELECT table_name, default_time_to_live FROM system_schema.tables WHERE keyspace_name = ?";
    let tables = match table {
        Some(table) => query(shared, &format!("{base} AND table_name = ?"), &[keyspace, table]).await?,
        None => query(shared, base, &[keyspace]).await?,
    };
    let columns = column_rows(shared, keyspace, table).await?;
    Ok(tables
        .iter()
        .map(|row| {
            let name = text(row.first());
            let own: Vec<ColumnRow> = columns.iter().filter(|c| c.table == name).cloned().collect();
            table_json(keyspace, &name, int(row.get(1)), &ordered_columns(own))
        })
        .collect())
}

fn table_not_found(keyspace: &str, table: &str) -> ApiError {
    ApiError::not_found(format!("Table '{table}' not found (in keyspace {keyspace})"))
}

/// `GET …/tables`.
pub async fn list_tables(
    State(shared): State<Arc<Shared>>,
    Path(keyspace): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let tables = tables_json(&shared, &keyspace, None).await?;
    Ok(Json(wrap(Value::Array(tables), flag(&params, "raw"))))
}

/// `GET …/tables/{t}`.
pub async fn get_table(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let found = tables_json(&shared, &keyspace, Some(&table)).await?.into_iter().next();
    let found = found.ok_or_else(|| table_not_found(&keyspace, &table))?;
    Ok(Json(wrap(found, flag(&params, "raw"))))
}

/// A column definition in a request: `name typeDefinition [STATIC]`.
fn column_cql(column: &Value) -> Result<(String, String), String> {
    let name = column
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or("Request invalid: columnDefinition.name must be provided.")?;
    let typ = column
        .get("typeDefinition")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| format!("Request invalid: typeDefinition of column '{name}' must be provided."))?;
    let is_static = column.get("static").and_then(Value::as_bool).unwrap_or(false);
    let typ = typ.replace("udt<", "frozen<");
    Ok((
        name.to_string(),
        format!("{} {typ}{}", ident(name), if is_static { " STATIC" } else { "" }),
    ))
}

fn string_list(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).map(str::to_string).collect())
        .unwrap_or_default()
}

/// `CREATE TABLE` for a `TableAdd` body. `tableOptions.defaultTimeToLive` is ignored on create,
/// as Stargate v2 does.
pub fn create_table_cql(keyspace: &str, body: &Value) -> Result<(String, String), String> {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or("Request invalid: TableAdd.name must be provided.")?;
    let columns = body
        .get("columnDefinitions")
        .and_then(Value::as_array)
        .filter(|c| !c.is_empty())
        .ok_or("TableAdd.columnDefinitions must be provided")?;
    let definitions = columns.iter().map(column_cql).collect::<Result<Vec<_>, _>>()?;
    let primary = body.get("primaryKey").ok_or("TableAdd.primaryKey must be provided")?;
    let partition = string_list(primary.get("partitionKey"));
    if partition.is_empty() {
        return Err("TableAdd.primaryKey.partitionKey must be provided".into());
    }
    let clustering = string_list(primary.get("clusteringKey"));
    for key in partition.iter().chain(&clustering) {
        if !definitions.iter().any(|(n, _)| n == key) {
            return Err(format!(
                "Unknown field name '{key}' in primary key: must also be in columnDefinitions"
            ));
        }
    }
    let mut key = format!(
        "({})",
        partition.iter().map(|k| ident(k)).collect::<Vec<_>>().join(", ")
    );
    for c in &clustering {
        key.push_str(&format!(", {}", ident(c)));
    }
    let body_columns: Vec<String> = definitions.into_iter().map(|(_, d)| d).collect();
    let if_not_exists = if body.get("ifNotExists").and_then(Value::as_bool).unwrap_or(false) {
        "IF NOT EXISTS "
    } else {
        ""
    };
    let mut cql = format!(
        "CREATE TABLE {if_not_exists}{} ({}, PRIMARY KEY ({key}))",
        qualified(keyspace, name),
        body_columns.join(", ")
    );
    let order: Vec<String> = body
        .pointer("/tableOptions/clusteringExpression")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|item| {
                    let column = item.get("column")?.as_str()?;
                    let desc = item.get("order")?.as_str()?.eq_ignore_ascii_case("DESC");
                    Some(format!("{} {}", ident(column), if desc { "DESC" } else { "ASC" }))
                })
                .collect()
        })
        .unwrap_or_default();
    if !order.is_empty() {
        cql.push_str(&format!(" WITH CLUSTERING ORDER BY ({})", order.join(", ")));
    }
    Ok((name.to_string(), cql))
}

/// `POST …/tables` → 201 `{"name"}`; an existing table without `ifNotExists` is a 409.
pub async fn create_table(
    State(shared): State<Arc<Shared>>,
    Path(keyspace): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body, "Invalid JSON payload: ")?;
    let (name, cql) = create_table_cql(&keyspace, &body).map_err(ApiError::bad_request)?;
    keyspace_exists(&shared, &keyspace).await?;
    ddl(&shared, &cql).await?;
    Ok(created(json!({ "name": name })))
}

/// `PUT …/tables/{t}`: only `tableOptions.defaultTimeToLive` can change.
pub async fn update_table(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(&body, "Invalid JSON payload: ")?;
    if body
        .get("name")
        .and_then(Value::as_str)
        .is_none_or(|n| n.trim().is_empty())
    {
        return Err(ApiError::bad_request(
            "Request invalid: TableAdd.name must be provided.",
        ));
    }
    if body
        .pointer("/tableOptions/clusteringExpression")
        .and_then(Value::as_array)
        .is_some_and(|c| !c.is_empty())
    {
        return Err(ApiError::bad_request("Cannot update the clustering order of a table"));
    }
    let Some(ttl) = body.pointer("/tableOptions/defaultTimeToLive").and_then(Value::as_i64) else {
        return Err(ApiError::bad_request("No update provided for defaultTTL"));
    };
    keyspace_exists(&shared, &keyspace).await?;
    if tables_json(&shared, &keyspace, Some(&table)).await?.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Table '{table}' not found (in keyspace {keyspace})"
        )));
    }
    ddl(
        &shared,
        &format!(
            "ALTER TABLE {} WITH default_time_to_live = {ttl}",
            qualified(&keyspace, &table)
        ),
    )
    .await?;
    Ok(Json(json!({ "name": table })))
}

/// `DELETE …/tables/{t}` → 204 (`IF EXISTS`).
pub async fn delete_table(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    ddl(
        &shared,
        &format!("DROP TABLE IF EXISTS {}", qualified(&keyspace, &table)),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The table's columns in Stargate's order, or 400 when the table is missing.
async fn table_columns(shared: &Shared, keyspace: &str, table: &str) -> Result<Vec<ColumnRow>, ApiError> {
    keyspace_exists(shared, keyspace).await?;
    let columns = column_rows(shared, keyspace, Some(table)).await?;
    if columns.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Table '{table}' not found (in keyspace {keyspace})"
        )));
    }
    Ok(ordered_columns(columns))
}

/// `GET …/columns`.
pub async fn list_columns(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let columns = table_columns(&shared, &keyspace, &table).await?;
    Ok(Json(wrap(
        Value::Array(columns.iter().map(column_json).collect()),
        flag(&params, "raw"),
    )))
}

/// `GET …/columns/{c}`.
pub async fn get_column(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table, column)): Path<(String, String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    let columns = table_columns(&shared, &keyspace, &table).await?;
    let found = columns
        .iter()
        .find(|c| c.name == column)
        .ok_or_else(|| ApiError::not_found(format!("Column '{column}' not found in table '{table}'")))?;
    Ok(Json(wrap(column_json(found), flag(&params, "raw"))))
}

/// `POST …/columns` → 201 `{"name"}` (`ALTER TABLE … ADD`).
pub async fn add_column(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body, "Invalid JSON payload: ")?;
    let (name, definition) = column_cql(&body).map_err(ApiError::bad_request)?;
    table_columns(&shared, &keyspace, &table).await?;
    ddl(
        &shared,
        &format!("ALTER TABLE {} ADD {definition}", qualified(&keyspace, &table)),
    )
    .await?;
    Ok(created(json!({ "name": name })))
}

/// `PUT …/columns/{c}`: renames the column to the body's `name`.
pub async fn rename_column(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table, column)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let body = json_body(&body, "Invalid JSON payload: ")?;
    let new_name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("Request invalid: columnDefinition.name must be provided."))?
        .to_string();
    let columns = table_columns(&shared, &keyspace, &table).await?;
    if !columns.iter().any(|c| c.name == column) {
        return Err(ApiError::bad_request(format!(
            "Column '{column}' not found in table '{table}'"
        )));
    }
    if new_name != column {
        let cql = format!(
            "ALTER TABLE {} RENAME {} TO {}",
            qualified(&keyspace, &table),
            ident(&column),
            ident(&new_name)
        );
        ddl(&shared, &cql).await?;
    }
    Ok(Json(json!({ "name": new_name })))
}

/// `DELETE …/columns/{c}` → 204 (`ALTER TABLE … DROP`).
pub async fn drop_column(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table, column)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    let columns = table_columns(&shared, &keyspace, &table).await?;
    if !columns.iter().any(|c| c.name == column) {
        return Err(ApiError::bad_request(format!(
            "Column '{column}' not found in table '{table}'"
        )));
    }
    ddl(
        &shared,
        &format!("ALTER TABLE {} DROP {}", qualified(&keyspace, &table), ident(&column)),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// Indexes
// ---------------------------------------------------------------------------------------------

/// `GET …/indexes`: the rows of `system_schema.indexes`, always raw.
pub async fn list_indexes(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    table_columns(&shared, &keyspace, &table).await?;
    let rows = query(
        &shared,
        "SELECT keyspace_name, table_name, index_name, kind, options FROM system_schema.indexes WHERE keyspace_name = ? AND table_name = ?",
        &[&keyspace, &table],
    )
    .await?;
    let indexes = rows
        .iter()
        .map(|r| {
            let options: Map<String, Value> = text_map(r.get(4))
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect();
            json!({
                "keyspace_name": text(r.first()),
                "table_name": text(r.get(1)),
                "index_name": text(r.get(2)),
                "kind": text(r.get(3)),
                "options": options,
            })
        })
        .collect();
    Ok(Json(Value::Array(indexes)))
}

/// `CREATE [CUSTOM] INDEX` for an index request body.
pub fn create_index_cql(keyspace: &str, table: &str, body: &Value) -> Result<String, String> {
    let column = body
        .get("column")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .ok_or("Request invalid: IndexAddRequest.column must be provided.")?;
    let custom_type = body.get("type").and_then(Value::as_str).filter(|t| !t.is_empty());
    let options = body.get("options").and_then(Value::as_object).filter(|o| !o.is_empty());
    if options.is_some() && custom_type.is_none() {
        return Err("Index 'type' must be specified if 'options' are specified".into());
    }
    let target = match body
        .get("kind")
        .and_then(Value::as_str)
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        Some(kind @ ("KEYS" | "VALUES" | "ENTRIES" | "FULL")) => format!("{kind}({})", ident(column)),
        Some(other) => {
            return Err(format!(
                "Invalid index kind '{other}': expected KEYS, VALUES, ENTRIES or FULL"
            ));
        }
        None => ident(column),
    };
    let if_not_exists = if body.get("ifNotExists").and_then(Value::as_bool).unwrap_or(false) {
        "IF NOT EXISTS "
    } else {
        ""
    };
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .map(|n| format!("{} ", ident(n)))
        .unwrap_or_default();
    let mut cql = format!(
        "CREATE {}INDEX {if_not_exists}{name}ON {} ({target})",
        if custom_type.is_some() { "CUSTOM " } else { "" },
        qualified(keyspace, table)
    );
    if let Some(custom_type) = custom_type {
        cql.push_str(&format!(" USING {}", string_literal(custom_type)));
    }
    if let Some(options) = options {
        let entries: Vec<String> = options
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}: {}",
                    string_literal(k),
                    string_literal(v.as_str().unwrap_or(&v.to_string()))
                )
            })
            .collect();
        cql.push_str(&format!(" WITH OPTIONS = {{{}}}", entries.join(", ")));
    }
    Ok(cql)
}

/// `POST …/indexes` → 201 `{"success":true}`.
pub async fn create_index(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, table)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body, "Invalid JSON payload: ")?;
    let cql = create_index_cql(&keyspace, &table, &body).map_err(ApiError::bad_request)?;
    let columns = table_columns(&shared, &keyspace, &table).await?;
    let column = body.get("column").and_then(Value::as_str).unwrap_or_default();
    if !columns.iter().any(|c| c.name == column) {
        return Err(ApiError::not_found(format!(
            "Column '{column}' not found in table '{table}'"
        )));
    }
    ddl(&shared, &cql).await?;
    Ok(created(json!({ "success": true })))
}

/// `DELETE …/indexes/{idx}[?ifExists=true]` → 204.
pub async fn drop_index(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, _table, index)): Path<(String, String, String)>,
    Query(params): Query<Params>,
) -> Result<StatusCode, ApiError> {
    let if_exists = if flag(&params, "ifExists") { "IF EXISTS " } else { "" };
    ddl(
        &shared,
        &format!("DROP INDEX {if_exists}{}", qualified(&keyspace, &index)),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---------------------------------------------------------------------------------------------
// User-defined types
// ---------------------------------------------------------------------------------------------

fn list_cell(cell: Option<&Option<CqlValue>>) -> Vec<String> {
    match cell {
        Some(Some(CqlValue::List(items))) => items.iter().map(|i| text(Some(&Some(i.clone())))).collect(),
        _ => Vec::new(),
    }
}

fn udt_json(keyspace: &str, row: &[Option<CqlValue>]) -> Value {
    let names = list_cell(row.get(1));
    let types = list_cell(row.get(2));
    let fields: Vec<Value> = names
        .iter()
        .zip(&types)
        .map(|(n, t)| json!({"name": n, "typeDefinition": type_definition(t)}))
        .collect();
    json!({"name": text(row.first()), "keyspace": keyspace, "fields": fields})
}

async fn udt_rows(shared: &Shared, keyspace: &str, name: Option<&str>) -> Result<Rows, ApiError> {
    let base = "SELECT type_name, field_names, field_types FROM system_schema.types WHERE keyspace_name = ?";
    match name {
        Some(name) => query(shared, &format!("{base} AND type_name = ?"), &[keyspace, name]).await,
        None => query(shared, base, &[keyspace]).await,
    }
}

/// `GET …/types`.
pub async fn list_types(
    State(shared): State<Arc<Shared>>,
    Path(keyspace): Path<String>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    keyspace_exists(&shared, &keyspace).await?;
    let rows = udt_rows(&shared, &keyspace, None).await?;
    Ok(Json(wrap(
        Value::Array(rows.iter().map(|r| udt_json(&keyspace, r)).collect()),
        flag(&params, "raw"),
    )))
}

/// `GET …/types/{type}`.
pub async fn get_type(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, name)): Path<(String, String)>,
    Query(params): Query<Params>,
) -> Result<Json<Value>, ApiError> {
    keyspace_exists(&shared, &keyspace).await?;
    let rows = udt_rows(&shared, &keyspace, Some(&name)).await?;
    let row = rows
        .first()
        .ok_or_else(|| ApiError::not_found(format!("No definition found for UDT '{name}' (keyspace '{keyspace}')")))?;
    Ok(Json(wrap(udt_json(&keyspace, row), flag(&params, "raw"))))
}

fn udt_field(field: &Value) -> Result<String, String> {
    let (Some(name), Some(typ)) = (
        field.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()),
        field
            .get("typeDefinition")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty()),
    ) else {
        return Err("Field 'name' and 'typeDefinition' must be provided".into());
    };
    Ok(format!("{} {}", ident(name), typ.replace("udt<", "frozen<")))
}

/// `CREATE TYPE` for a UDT request body.
pub fn create_type_cql(keyspace: &str, body: &Value) -> Result<(String, String), String> {
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or("Request invalid: UserDefinedTypeAdd.name must be provided.")?;
    let fields = body.get("fields").and_then(Value::as_array).filter(|f| !f.is_empty());
    let fields = fields.ok_or("There should be at least one field defined")?;
    let fields = fields.iter().map(udt_field).collect::<Result<Vec<_>, _>>()?;
    let if_not_exists = if body.get("ifNotExists").and_then(Value::as_bool).unwrap_or(false) {
        "IF NOT EXISTS "
    } else {
        ""
    };
    Ok((
        name.to_string(),
        format!(
            "CREATE TYPE {if_not_exists}{} ({})",
            qualified(keyspace, name),
            fields.join(", ")
        ),
    ))
}

/// `POST …/types` → 201 `{"name"}`; an existing type is a 400 `Bad request: …`.
pub async fn create_type(
    State(shared): State<Arc<Shared>>,
    Path(keyspace): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let body = json_body(&body, "Invalid JSON payload: ")?;
    let (name, cql) = create_type_cql(&keyspace, &body).map_err(ApiError::bad_request)?;
    keyspace_exists(&shared, &keyspace).await?;
    match shared.cql.run_ddl(&cql).await {
        Ok(_) => Ok(created(json!({ "name": name }))),
        Err(error) if error.message.contains("already exists") => {
            Err(ApiError::bad_request(format!("Bad request: {}", error.message)))
        }
        Err(error) => Err(error.into()),
    }
}

/// `PUT …/types`: adds fields (one `ALTER TYPE … ADD` each), then renames; 200 with no body.
pub async fn update_type(
    State(shared): State<Arc<Shared>>,
    Path(keyspace): Path<String>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let body = json_body(&body, "Invalid JSON payload: ")?;
    let name = body
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| ApiError::bad_request("Request invalid: UserDefinedTypeUpdate.name must be provided."))?;
    let add = body
        .get("addFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let rename = body
        .get("renameFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if add.is_empty() && rename.is_empty() {
        return Err(ApiError::bad_request(
            "addFields and/or renameFields is required to update an UDT",
        ));
    }
    let target = qualified(&keyspace, name);
    for field in &add {
        let definition = udt_field(field).map_err(ApiError::bad_request)?;
        ddl(&shared, &format!("ALTER TYPE {target} ADD {definition}")).await?;
    }
    if !rename.is_empty() {
        let mut pairs = Vec::new();
        for r in &rename {
            let (Some(from), Some(to)) = (
                r.get("from").and_then(Value::as_str),
                r.get("to").and_then(Value::as_str),
            ) else {
                return Err(ApiError::bad_request("Field 'from' and 'to' must be provided"));
            };
            pairs.push(format!("{} TO {}", ident(from), ident(to)));
        }
        ddl(&shared, &format!("ALTER TYPE {target} RENAME {}", pairs.join(" AND "))).await?;
    }
    Ok(StatusCode::OK)
}

/// `DELETE …/types/{type}` → 204 (`IF EXISTS`).
pub async fn delete_type(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, name)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    ddl(&shared, &format!("DROP TYPE IF EXISTS {}", qualified(&keyspace, &name))).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_definitions_render_like_stargate() {
        assert_eq!(type_definition("varchar"), "text");
        assert_eq!(type_definition("frozen<map<date, text>>"), "frozen<map<date, text>>");
        assert_eq!(type_definition("frozen<set<boolean>>"), "frozen<set<boolean>>");
        assert_eq!(type_definition("tuple<duration,inet>"), "tuple<duration, inet>");
        assert_eq!(type_definition("frozen<address>"), "frozen<udt<address>>");
        assert_eq!(type_definition("list<frozen<address>>"), "list<frozen<udt<address>>>");
    }

    #[test]
    fn keyspace_creation_is_simple_or_network_topology() {
        let (name, cql) = create_keyspace_cql(&json!({"name": "ks"})).expect("simple");
        assert_eq!(name, "ks");
        assert_eq!(
            cql,
            "CREATE KEYSPACE IF NOT EXISTS \"ks\" WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}"
        );
        let (_, cql) = create_keyspace_cql(&json!({"name": "ks", "datacenters": [{"name": "dc1"}]})).expect("nts");
        assert!(cql.ends_with("{'class': 'NetworkTopologyStrategy', 'dc1': 3}"), "{cql}");
        assert_eq!(
            create_keyspace_cql(&json!({"replicas": 1})).expect_err("no name"),
            r#"Missing 'name' String property in payload Object: {"replicas":1}"#
        );
    }

    #[test]
    fn keyspaces_show_datacenters_only_for_network_topology() {
        let simple = vec![(
            "class".to_string(),
            "org.apache.cassandra.locator.SimpleStrategy".to_string(),
        )];
        assert_eq!(keyspace_json("ks", &simple), json!({"name": "ks"}));
        let nts = vec![
            (
                "class".to_string(),
                "org.apache.cassandra.locator.NetworkTopologyStrategy".to_string(),
            ),
            ("dc1".to_string(), "3".to_string()),
        ];
        assert_eq!(
            keyspace_json("ks", &nts),
            json!({"name": "ks", "datacenters": [{"name": "dc1", "replicas": 3}]})
        );
    }

    #[test]
    fn table_creation_builds_keys_and_clustering_order() {
        let body = json!({
            "name": "events",
            "primaryKey": {"partitionKey": ["id"], "clusteringKey": ["at"]},
            "columnDefinitions": [
                {"name": "id", "typeDefinition": "uuid"},
                {"name": "at", "typeDefinition": "timestamp"},
                {"name": "owner", "typeDefinition": "text", "static": true},
                {"name": "place", "typeDefinition": "udt<address>"}
            ],
            "tableOptions": {"defaultTimeToLive": 60, "clusteringExpression": [{"column": "at", "order": "desc"}]}
        });
        let (name, cql) = create_table_cql("ks", &body).expect("table");
        assert_eq!(name, "events");
        assert_eq!(
            cql,
            "CREATE TABLE \"ks\".\"events\" (\"id\" uuid, \"at\" timestamp, \"owner\" text STATIC, \"place\" frozen<address>, \
             PRIMARY KEY ((\"id\"), \"at\")) WITH CLUSTERING ORDER BY (\"at\" DESC)"
        );
        assert_eq!(
            create_table_cql("ks", &json!({"name": "t", "primaryKey": {"partitionKey": ["id"]}}))
                .expect_err("no columns"),
            "TableAdd.columnDefinitions must be provided"
        );
    }

    #[test]
    fn table_json_orders_columns_and_keys() {
        let row = |name: &str, kind: &str, position: i64, order: &str, typ: &str| ColumnRow {
            table: "t".into(),
            name: name.into(),
            kind: kind.into(),
            position,
            clustering_order: order.into(),
            cql_type: typ.into(),
        };
        let columns = ordered_columns(vec![
            row("z", "regular", -1, "none", "text"),
            row("b", "clustering", 0, "desc", "int"),
            row("a", "partition_key", 0, "none", "uuid"),
            row("s", "static", -1, "none", "text"),
        ]);
        let table = table_json("ks", "t", 0, &columns);
        let names: Vec<&str> = table["columnDefinitions"]
            .as_array()
            .expect("columns")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, vec!["a", "b", "s", "z"]);
        assert_eq!(
            table["primaryKey"],
            json!({"partitionKey": ["a"], "clusteringKey": ["b"]})
        );
        assert_eq!(
            table["tableOptions"]["clusteringExpression"],
            json!([{"column": "b", "order": "DESC"}])
        );
        assert_eq!(table["columnDefinitions"][2]["static"], json!(true));
    }

    #[test]
    fn index_creation_checks_type_and_kind() {
        let cql = create_index_cql(
            "ks",
            "t",
            &json!({"column": "tags", "name": "tags_idx", "kind": "values"}),
        )
        .expect("index");
        assert_eq!(cql, "CREATE INDEX \"tags_idx\" ON \"ks\".\"t\" (VALUES(\"tags\"))");
        assert_eq!(
            create_index_cql("ks", "t", &json!({"column": "c", "options": {"a": "b"}})).expect_err("options"),
            "Index 'type' must be specified if 'options' are specified"
        );
    }

    #[test]
    fn udt_creation_needs_fields() {
        let (_, cql) = create_type_cql(
            "ks",
            &json!({"name": "address", "fields": [{"name": "street", "typeDefinition": "text"}]}),
        )
        .expect("udt");
        assert_eq!(cql, "CREATE TYPE \"ks\".\"address\" (\"street\" text)");
        assert_eq!(
            create_type_cql("ks", &json!({"name": "a", "fields": []})).expect_err("no fields"),
            "There should be at least one field defined"
        );
    }
}

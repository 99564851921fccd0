//! `/graphql-schema`: Stargate's CQL-first DDL schema (reference §4.2). Queries `keyspaces` and
//! `keyspace(name)` read the node's schema; the mutations (`createKeyspace`, `createTable`,
//! `alterTableAdd`, `createIndex`, …) run the CQL DDL and return `true`.

use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Schema, SchemaError,
    TypeRef,
};
use async_graphql::{Name, Value};
use scylla::cluster::metadata::{CollectionType, ColumnKind, ColumnType, Keyspace, NativeType, Strategy};

use super::types::value_field;
use super::{RequestData, caught, cql_cause, fetch_error};
use crate::gateway::Shared;
use crate::gateway::cql::{ident, qualified, string_literal};

const BASIC_TYPES: [&str; 27] = [
    "CUSTOM",
    "INT",
    "TIMEUUID",
    "TIMESTAMP",
    "UDT",
    "BIGINT",
    "TIME",
    "DURATION",
    "VARINT",
    "UUID",
    "BOOLEAN",
    "TINYINT",
    "SMALLINT",
    "INET",
    "ASCII",
    "DECIMAL",
    "BLOB",
    "LIST",
    "MAP",
    "VARCHAR",
    "TUPLE",
    "DOUBLE",
    "COUNTER",
    "DATE",
    "TEXT",
    "FLOAT",
    "SET",
];

fn object(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (Name::new(k), v)).collect())
}

/// The name a field's result goes under (its alias, or its name), for Stargate's error message.
pub fn response_key(ctx: &ResolverContext<'_>) -> String {
    let field = ctx.ctx.field();
    field.alias().unwrap_or(field.name()).to_string()
}

/// Fails the field the way Stargate's fetchers fail when the token was refused.
pub fn check_token(ctx: &ResolverContext<'_>) -> async_graphql::Result<()> {
    match ctx.data::<RequestData>().ok().and_then(|d| d.token_error.clone()) {
        Some(cause) => Err(fetch_error(&response_key(ctx), &cause)),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Reading the schema
// ---------------------------------------------------------------------------------------------

/// A CQL type as the DDL schema's `DataType` object.
pub fn data_type(typ: &ColumnType) -> Value {
    let parameterized = |basic: &str, frozen: bool, subs: Vec<&ColumnType>| {
        object(vec![
            ("basic", Value::String(basic.into())),
            (
                "info",
                object(vec![
                    ("subTypes", Value::List(subs.into_iter().map(data_type).collect())),
                    ("frozen", Value::Boolean(frozen)),
                ]),
            ),
        ])
    };
    match typ {
        ColumnType::Native(native) => {
            let name = match native {
                NativeType::Text => "TEXT".to_string(),
                other => crate::gateway::values::type_name(&ColumnType::Native(other.clone())).to_uppercase(),
            };
            object(vec![("basic", Value::String(name))])
        }
        ColumnType::Collection {
            frozen,
            typ: CollectionType::List(e),
        } => parameterized("LIST", *frozen, vec![e]),
        ColumnType::Collection {
            frozen,
            typ: CollectionType::Set(e),
        } => parameterized("SET", *frozen, vec![e]),
        ColumnType::Collection {
            frozen,
            typ: CollectionType::Map(k, v),
        } => parameterized("MAP", *frozen, vec![k, v]),
        ColumnType::Tuple(elements) => parameterized("TUPLE", true, elements.iter().collect()),
        ColumnType::UserDefinedType { frozen, definition } => object(vec![
            ("basic", Value::String("UDT".into())),
            (
                "info",
                object(vec![
                    ("name", Value::String(definition.name.to_string())),
                    ("frozen", Value::Boolean(*frozen)),
                ]),
            ),
        ]),
        _ => object(vec![("basic", Value::String("CUSTOM".into()))]),
    }
}

fn keyspace_value(name: &str, keyspace: &Keyspace) -> Value {
    let dcs = match &keyspace.strategy {
        Strategy::NetworkTopologyStrategy { datacenter_repfactors } => {
            let mut dcs: Vec<_> = datacenter_repfactors.iter().collect();
            dcs.sort();
            dcs.into_iter()
                .map(|(dc, replicas)| {
                    object(vec![
                        ("name", Value::String(dc.clone())),
                        ("replicas", Value::from(*replicas as i64)),
                    ])
                })
                .collect()
        }
        _ => Vec::new(),
    };
    let mut table_names: Vec<&String> = keyspace.tables.keys().collect();
    table_names.sort();
    let tables = table_names
        .into_iter()
        .map(|table_name| {
            let table = &keyspace.tables[table_name];
            let mut columns = Vec::new();
            let mut push = |column: &str, kind: &str| {
                if let Some(c) = table.columns.get(column) {
                    columns.push(object(vec![
                        ("kind", Value::String(kind.into())),
                        ("name", Value::String(column.to_string())),
                        ("type", data_type(&c.typ)),
                    ]));
                }
            };
            for c in &table.partition_key {
                push(c, "PARTITION");
            }
            for c in &table.clustering_key {
                push(c, "CLUSTERING");
            }
            let mut others: Vec<(&String, bool)> = table
                .columns
                .iter()
                .filter(|(_, c)| matches!(c.kind, ColumnKind::Regular | ColumnKind::Static))
                .map(|(n, c)| (n, c.kind == ColumnKind::Static))
                .collect();
            others.sort_by_key(|(n, is_static)| (*is_static, n.to_string()));
            for (c, is_static) in others {
                push(c, if is_static { "STATIC" } else { "REGULAR" });
            }
            object(vec![
                ("name", Value::String(table_name.clone())),
                ("columns", Value::List(columns)),
            ])
        })
        .collect();
    let mut type_names: Vec<&String> = keyspace.user_defined_types.keys().collect();
    type_names.sort();
    let types = type_names
        .into_iter()
        .map(|type_name| {
            let udt = &keyspace.user_defined_types[type_name];
            let fields = udt
                .field_types
                .iter()
                .map(|(f, t)| object(vec![("name", Value::String(f.to_string())), ("type", data_type(t))]))
                .collect();
            object(vec![
                ("name", Value::String(type_name.clone())),
                ("fields", Value::List(fields)),
            ])
        })
        .collect();
    object(vec![
        ("name", Value::String(name.to_string())),
        ("dcs", Value::List(dcs)),
        ("tables", Value::List(tables)),
        ("types", Value::List(types)),
    ])
}

async fn keyspaces(shared: &Shared) -> Vec<Value> {
    shared.cql.refresh_schema().await;
    let state = shared.cql.session().get_cluster_state();
    let mut names: Vec<&str> = state.keyspaces_iter().map(|(name, _)| name).collect();
    names.sort();
    names
        .into_iter()
        .filter_map(|name| state.get_keyspace(name).map(|ks| keyspace_value(name, ks)))
        .collect()
}

/// A field that picks the element named `name` from the parent's list `list`.
fn by_name_field(field: &str, list: &'static str, typ: &str) -> Field {
    Field::new(field, TypeRef::named(typ), move |ctx| {
        FieldFuture::new(async move {
            let name = ctx.args.try_get("name")?.string()?.to_string();
            let parent = ctx.parent_value.try_to_value()?;
            let Value::Object(map) = parent else { return Ok(None) };
            let Some(Value::List(items)) = map.get(list) else {
                return Ok(None);
            };
            Ok(items
                .iter()
                .find(|item| matches!(item, Value::Object(o) if o.get("name") == Some(&Value::String(name.clone()))))
                .cloned()
                .map(FieldValue::value))
        })
    })
    .argument(InputValue::new("name", TypeRef::named_nn(TypeRef::STRING)))
}

// ---------------------------------------------------------------------------------------------
// DDL
// ---------------------------------------------------------------------------------------------

/// A `DataTypeInput` as CQL type text (Stargate's `DdlQueryFetcher.decodeType`).
pub fn decode_type(input: &Value) -> Result<String, String> {
    let Value::Object(map) = input else {
        return Err("Invalid type".into());
    };
    let basic = match map.get("basic") {
        Some(Value::Enum(name)) => name.to_string(),
        Some(Value::String(name)) => name.clone(),
        _ => return Err("Invalid type".into()),
    };
    let info = match map.get("info") {
        Some(Value::Object(info)) => Some(info),
        _ => None,
    };
    let name = info.and_then(|i| match i.get("name") {
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    });
    let subs = info.and_then(|i| match i.get("subTypes") {
        Some(Value::List(l)) => Some(l.clone()),
        _ => None,
    });
    let frozen = info.is_some_and(|i| i.get("frozen") == Some(&Value::Boolean(true)));
    let wrap = |text: String| if frozen { format!("frozen<{text}>") } else { text };
    match basic.as_str() {
        "INT" | "INET" | "TIMEUUID" | "TIMESTAMP" | "BIGINT" | "TIME" | "DURATION" | "VARINT" | "UUID" | "BOOLEAN"
        | "TINYINT" | "SMALLINT" | "ASCII" | "DECIMAL" | "BLOB" | "VARCHAR" | "TEXT" | "DOUBLE" | "COUNTER"
        | "DATE" | "FLOAT" => Ok(basic.to_lowercase()),
        "LIST" | "SET" => {
            let label = if basic == "LIST" { "List" } else { "Set" };
            if info.is_none() {
                return Err(format!(
                    "{label} type should contain an 'info' field specifying the sub type"
                ));
            }
            match subs.as_deref() {
                Some([element]) => Ok(wrap(format!("{}<{}>", basic.to_lowercase(), decode_type(element)?))),
                _ => Err(format!("{label} sub types should contain 1 item")),
            }
        }
        "MAP" => {
            if info.is_none() {
                return Err("Map type should contain an 'info' field specifying the sub types".into());
            }
            match subs.as_deref() {
                Some([k, v]) => Ok(wrap(format!("map<{}, {}>", decode_type(k)?, decode_type(v)?))),
                _ => Err("Map sub types should contain 2 items".into()),
            }
        }
        "UDT" => {
            let name = name.ok_or("UDT type should contain an 'info' field specifying the UDT name")?;
            // The gateway's CQL driver cannot read a column typed with a case-sensitive UDT
            // name: its schema metadata would fail for every keyspace (a difference from Stargate).
            let plain = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
            if !plain {
                return Err(format!(
                    "UDT names used in columns must be lower case on this gateway (got '{name}')"
                ));
            }
            Ok(wrap(ident(&name)))
        }
        "TUPLE" => {
            if info.is_none() {
                return Err("TUPLE type should contain an 'info' field specifying the sub types".into());
            }
            let subs = subs.unwrap_or_default();
            if subs.is_empty() {
                return Err("TUPLE type should have at least one sub type".into());
            }
            let inner = subs.iter().map(decode_type).collect::<Result<Vec<_>, _>>()?;
            Ok(format!("frozen<tuple<{}>>", inner.join(", ")))
        }
        other => Err(format!("Data type {other} is not supported")),
    }
}

fn list_arg(ctx: &ResolverContext<'_>, name: &str) -> Vec<Value> {
    match ctx.args.get(name).map(|v| v.as_value().clone()) {
        Some(Value::List(items)) => items,
        _ => Vec::new(),
    }
}

fn string_arg(ctx: &ResolverContext<'_>, name: &str) -> Option<String> {
    ctx.args.get(name).and_then(|v| v.string().ok().map(str::to_string))
}

fn bool_arg(ctx: &ResolverContext<'_>, name: &str) -> bool {
    ctx.args.get(name).and_then(|v| v.boolean().ok()).unwrap_or(false)
}

fn columns(items: &[Value]) -> Result<Vec<(String, String, Option<String>)>, String> {
    items
        .iter()
        .map(|item| {
            let Value::Object(map) = item else {
                return Err("Invalid column".to_string());
            };
            let name = match map.get("name") {
                Some(Value::String(s)) => s.clone(),
                _ => return Err("Invalid column".to_string()),
            };
            let typ = decode_type(map.get("type").unwrap_or(&Value::Null))?;
            let order = match map.get("order") {
                Some(Value::String(s)) => Some(s.to_uppercase()),
                _ => None,
            };
            Ok((name, typ, order))
        })
        .collect()
}

fn if_not_exists(flag: bool) -> &'static str {
    if flag { "IF NOT EXISTS " } else { "" }
}

fn if_exists(flag: bool) -> &'static str {
    if flag { "IF EXISTS " } else { "" }
}

/// The CQL of one DDL mutation from its arguments.
fn ddl_cql(ctx: &ResolverContext<'_>, mutation: &str) -> Result<String, String> {
    let required = |name: &str| string_arg(ctx, name).ok_or_else(|| format!("Missing argument '{name}'"));
    Ok(match mutation {
        "createKeyspace" => {
            let name = required("name")?;
            let replicas = ctx.args.get("replicas").and_then(|v| v.i64().ok());
            let datacenters = ctx.args.get("datacenters").filter(|v| !v.is_null());
            let replication = match (replicas, datacenters) {
                (None, None) => return Err("You must specify either replicas or datacenters".into()),
                (Some(_), Some(_)) => return Err("You can't specify both replicas and datacenters".into()),
                (Some(n), None) => format!("{{'class': 'SimpleStrategy', 'replication_factor': {n}}}"),
                (None, Some(_)) => {
                    let dcs = list_arg(ctx, "datacenters");
                    if dcs.is_empty() {
                        return Err("datacenters must contain at least one element".into());
                    }
                    let mut parts = vec!["'class': 'NetworkTopologyStrategy'".to_string()];
                    for dc in dcs {
                        let Value::Object(map) = dc else { continue };
                        let Some(Value::String(dc_name)) = map.get("name") else {
                            continue;
                        };
                        let replicas = match map.get("replicas") {
                            Some(Value::Number(n)) => n.as_i64().unwrap_or(3),
                            _ => 3,
                        };
                        parts.push(format!("{}: {replicas}", string_literal(dc_name)));
                    }
                    format!("{{{}}}", parts.join(", "))
                }
            };
            format!(
                "CREATE KEYSPACE {}{} WITH replication = {replication}",
                if_not_exists(bool_arg(ctx, "ifNotExists")),
                ident(&name)
            )
        }
        "dropKeyspace" => format!(
            "DROP KEYSPACE {}{}",
            if_exists(bool_arg(ctx, "ifExists")),
            ident(&required("name")?)
        ),
        "createTable" => {
            let table = qualified(&required("keyspaceName")?, &required("tableName")?);
            let partition = columns(&list_arg(ctx, "partitionKeys"))?;
            if partition.is_empty() {
                return Err("partitionKeys must contain at least one element".into());
            }
            let clustering = columns(&list_arg(ctx, "clusteringKeys"))?;
            let values = columns(&list_arg(ctx, "values"))?;
            let definitions: Vec<String> = partition
                .iter()
                .chain(&clustering)
                .chain(&values)
                .map(|(name, typ, _)| format!("{} {typ}", ident(name)))
                .collect();
            let mut key = format!(
                "({})",
                partition
                    .iter()
                    .map(|(n, _, _)| ident(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            for (name, _, _) in &clustering {
                key.push_str(", ");
                key.push_str(&ident(name));
            }
            let mut cql = format!(
                "CREATE TABLE {}{table} ({}, PRIMARY KEY ({key}))",
                if_not_exists(bool_arg(ctx, "ifNotExists")),
                definitions.join(", ")
            );
            if !clustering.is_empty() {
                let mut orders = Vec::new();
                for (name, _, order) in &clustering {
                    let order = match order.as_deref() {
                        None | Some("ASC") => "ASC",
                        Some("DESC") => "DESC",
                        Some(other) => return Err(format!("No enum constant Column.Order.{other}")),
                    };
                    orders.push(format!("{} {order}", ident(name)));
                }
                cql.push_str(&format!(" WITH CLUSTERING ORDER BY ({})", orders.join(", ")));
            }
            cql
        }
        "alterTableAdd" => {
            let table = qualified(&required("keyspaceName")?, &required("tableName")?);
            let add = columns(&list_arg(ctx, "toAdd"))?;
            if add.is_empty() {
                return Err("toAdd must contain at least one element".into());
            }
            let definitions: Vec<String> = add.iter().map(|(n, t, _)| format!("{} {t}", ident(n))).collect();
            format!("ALTER TABLE {table} ADD ({})", definitions.join(", "))
        }
        "alterTableDrop" => {
            let table = qualified(&required("keyspaceName")?, &required("tableName")?);
            let drop: Vec<String> = list_arg(ctx, "toDrop")
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(ident(s)),
                    _ => None,
                })
                .collect();
            if drop.is_empty() {
                return Err("toDrop must contain at least one element".into());
            }
            format!("ALTER TABLE {table} DROP ({})", drop.join(", "))
        }
        "dropTable" => format!(
            "DROP TABLE {}{}",
            if_exists(bool_arg(ctx, "ifExists")),
            qualified(&required("keyspaceName")?, &required("tableName")?)
        ),
        "createType" => {
            let name = qualified(&required("keyspaceName")?, &required("typeName")?);
            let fields = columns(&list_arg(ctx, "fields"))?;
            if fields.is_empty() {
                return Err("fields must contain at least one element".into());
            }
            let definitions: Vec<String> = fields.iter().map(|(n, t, _)| format!("{} {t}", ident(n))).collect();
            format!(
                "CREATE TYPE {}{name} ({})",
                if_not_exists(bool_arg(ctx, "ifNotExists")),
                definitions.join(", ")
            )
        }
        "dropType" => format!(
            "DROP TYPE {}{}",
            if_exists(bool_arg(ctx, "ifExists")),
            qualified(&required("keyspaceName")?, &required("typeName")?)
        ),
        "createIndex" => {
            let table = qualified(&required("keyspaceName")?, &required("tableName")?);
            let column = ident(&required("columnName")?);
            let kind = ctx
                .args
                .get("indexKind")
                .and_then(|v| v.enum_name().ok().map(str::to_string));
            let target = match kind.as_deref() {
                None => column,
                Some("KEYS") => format!("KEYS({column})"),
                Some("VALUES") => format!("VALUES({column})"),
                Some("ENTRIES") => format!("ENTRIES({column})"),
                Some("FULL") => format!("FULL({column})"),
                Some(other) => return Err(format!("Invalid indexKind value: {other}")),
            };
            let custom = string_arg(ctx, "indexType");
            let name = string_arg(ctx, "indexName")
                .map(|n| format!("{} ", ident(&n)))
                .unwrap_or_default();
            let mut cql = format!(
                "CREATE {}INDEX {}{name}ON {table} ({target})",
                if custom.is_some() { "CUSTOM " } else { "" },
                if_not_exists(bool_arg(ctx, "ifNotExists")),
            );
            if let Some(class) = custom {
                cql.push_str(&format!(" USING {}", string_literal(&class)));
            }
            cql
        }
        "dropIndex" => format!(
            "DROP INDEX {}{}",
            if_exists(bool_arg(ctx, "ifExists")),
            qualified(&required("keyspaceName")?, &required("indexName")?)
        ),
        other => return Err(format!("unknown mutation {other}")),
    })
}

fn ddl_mutation(name: &'static str, arguments: Vec<InputValue>) -> Field {
    arguments.into_iter().fold(
        Field::new(name, TypeRef::named(TypeRef::BOOLEAN), move |ctx| {
            FieldFuture::new(async move {
                let result: async_graphql::Result<Option<FieldValue>> = async {
                    check_token(&ctx)?;
                    let key = response_key(&ctx);
                    let shared = ctx.data::<Arc<Shared>>()?;
                    let cql = ddl_cql(&ctx, name).map_err(|e| fetch_error(&key, &e))?;
                    shared
                        .cql
                        .run_ddl(&cql)
                        .await
                        .map_err(|e| fetch_error(&key, &cql_cause(&e)))?;
                    Ok(Some(FieldValue::value(Value::Boolean(true))))
                }
                .await;
                caught(&ctx, result)
            })
        }),
        |field, argument| field.argument(argument),
    )
}

fn arg(name: &str, typ: TypeRef) -> InputValue {
    InputValue::new(name, typ)
}

fn nn(name: &str) -> TypeRef {
    TypeRef::named_nn(name)
}

fn nn_list(name: &str) -> TypeRef {
    TypeRef::NonNull(Box::new(TypeRef::named_list(name)))
}

/// The `/graphql-schema` schema.
pub fn schema(shared: Arc<Shared>) -> Result<Schema, SchemaError> {
    let string = || TypeRef::named(TypeRef::STRING);
    let boolean = || TypeRef::named(TypeRef::BOOLEAN);
    let query = Object::new("Query")
        .field(Field::new("keyspaces", TypeRef::named_list("Keyspace"), |ctx| {
            FieldFuture::new(async move {
                let result: async_graphql::Result<Option<FieldValue>> = async {
                    check_token(&ctx)?;
                    let shared = ctx.data::<Arc<Shared>>()?;
                    Ok(Some(FieldValue::value(Value::List(keyspaces(shared).await))))
                }
                .await;
                caught(&ctx, result)
            })
        }))
        .field(
            Field::new("keyspace", TypeRef::named("Keyspace"), |ctx| {
                FieldFuture::new(async move {
                    let result: async_graphql::Result<Option<FieldValue>> = async {
                        check_token(&ctx)?;
                        let name = ctx.args.try_get("name")?.string()?.to_string();
                        let shared = ctx.data::<Arc<Shared>>()?;
                        shared.cql.refresh_schema().await;
                        let state = shared.cql.session().get_cluster_state();
                        Ok(state
                            .get_keyspace(&name)
                            .map(|ks| FieldValue::value(keyspace_value(&name, ks))))
                    }
                    .await;
                    caught(&ctx, result)
                })
            })
            .argument(arg("name", nn(TypeRef::STRING))),
        );
    let keyspace = Object::new("Keyspace")
        .field(value_field("dcs", "dcs", TypeRef::named_list("DataCenter")))
        .field(value_field("name", "name", nn(TypeRef::STRING)))
        .field(by_name_field("table", "tables", "Table"))
        .field(value_field("tables", "tables", TypeRef::named_list("Table")))
        .field(by_name_field("type", "types", "Type"))
        .field(value_field("types", "types", TypeRef::named_list("Type")));
    let table = Object::new("Table")
        .field(value_field("columns", "columns", TypeRef::named_list("Column")))
        .field(value_field("name", "name", nn(TypeRef::STRING)));
    let udt = Object::new("Type")
        .field(value_field("fields", "fields", TypeRef::named_list("Field")))
        .field(value_field("name", "name", nn(TypeRef::STRING)));
    let column = Object::new("Column")
        .field(value_field("kind", "kind", TypeRef::named("ColumnKind")))
        .field(value_field("name", "name", nn(TypeRef::STRING)))
        .field(value_field("type", "type", nn("DataType")));
    let udt_field = Object::new("Field")
        .field(value_field("name", "name", nn(TypeRef::STRING)))
        .field(value_field("type", "type", nn("DataType")));
    let data_type = Object::new("DataType")
        .field(value_field("basic", "basic", nn("BasicType")))
        .field(value_field("info", "info", TypeRef::named("DataTypeInfo")));
    let data_type_info = Object::new("DataTypeInfo")
        .field(value_field("name", "name", string()))
        .field(value_field("subTypes", "subTypes", TypeRef::named_list("DataType")))
        .field(value_field("frozen", "frozen", boolean()));
    let data_center = Object::new("DataCenter")
        .field(value_field("name", "name", nn(TypeRef::STRING)))
        .field(value_field("replicas", "replicas", nn(TypeRef::INT)));
    let column_kind =
        Enum::new("ColumnKind").items(["COMPACT", "UNKNOWN", "PARTITION", "CLUSTERING", "REGULAR", "STATIC"]);
    let basic_type = Enum::new("BasicType").items(BASIC_TYPES);
    let index_kind = Enum::new("IndexKind").items(["KEYS", "VALUES", "ENTRIES", "FULL"]);
    let data_center_input = InputObject::new("DataCenterInput")
        .field(arg("name", nn(TypeRef::STRING)))
        .field(arg("replicas", TypeRef::named(TypeRef::INT)));
    let column_input = InputObject::new("ColumnInput")
        .field(arg("name", nn(TypeRef::STRING)))
        .field(arg("type", nn("DataTypeInput")));
    let clustering_input = InputObject::new("ClusteringKeyInput")
        .field(arg("name", nn(TypeRef::STRING)))
        .field(arg("type", nn("DataTypeInput")))
        .field(arg("order", string()));
    let data_type_input = InputObject::new("DataTypeInput")
        .field(arg("basic", nn("BasicType")))
        .field(arg("info", TypeRef::named("DataTypeInfoInput")));
    let data_type_info_input = InputObject::new("DataTypeInfoInput")
        .field(arg("subTypes", TypeRef::named_list("DataTypeInput")))
        .field(arg("name", string()))
        .field(arg("frozen", boolean()));

    let ks = || arg("keyspaceName", nn(TypeRef::STRING));
    let tbl = || arg("tableName", nn(TypeRef::STRING));
    let mutation = Object::new("Mutation")
        .field(ddl_mutation(
            "alterTableAdd",
            vec![ks(), tbl(), arg("toAdd", nn_list("ColumnInput"))],
        ))
        .field(ddl_mutation(
            "alterTableDrop",
            vec![ks(), tbl(), arg("toDrop", nn_list(TypeRef::STRING))],
        ))
        .field(ddl_mutation(
            "createIndex",
            vec![
                ks(),
                tbl(),
                arg("columnName", nn(TypeRef::STRING)),
                arg("indexName", string()),
                arg("indexType", string()),
                arg("ifNotExists", boolean()),
                arg("indexKind", TypeRef::named("IndexKind")),
            ],
        ))
        .field(ddl_mutation(
            "createKeyspace",
            vec![
                arg("name", nn(TypeRef::STRING)),
                arg("ifNotExists", boolean()),
                arg("replicas", TypeRef::named(TypeRef::INT)),
                arg("datacenters", TypeRef::named_list("DataCenterInput")),
            ],
        ))
        .field(ddl_mutation(
            "createTable",
            vec![
                ks(),
                tbl(),
                arg("partitionKeys", nn_list("ColumnInput")),
                arg("clusteringKeys", TypeRef::named_list("ClusteringKeyInput")),
                arg("values", TypeRef::named_list("ColumnInput")),
                arg("ifNotExists", boolean()),
            ],
        ))
        .field(ddl_mutation(
            "createType",
            vec![
                ks(),
                arg("typeName", nn(TypeRef::STRING)),
                arg("fields", nn_list("ColumnInput")),
                arg("ifNotExists", boolean()),
            ],
        ))
        .field(ddl_mutation(
            "dropIndex",
            vec![ks(), arg("indexName", nn(TypeRef::STRING)), arg("ifExists", boolean())],
        ))
        .field(ddl_mutation(
            "dropKeyspace",
            vec![arg("name", nn(TypeRef::STRING)), arg("ifExists", boolean())],
        ))
        .field(ddl_mutation("dropTable", vec![ks(), tbl(), arg("ifExists", boolean())]))
        .field(ddl_mutation(
            "dropType",
            vec![ks(), arg("typeName", nn(TypeRef::STRING)), arg("ifExists", boolean())],
        ));
    Schema::build("Query", Some("Mutation"), None)
        .register(query)
        .register(mutation)
        .register(keyspace)
        .register(table)
        .register(udt)
        .register(column)
        .register(udt_field)
        .register(data_type)
        .register(data_type_info)
        .register(data_center)
        .register(column_kind)
        .register(basic_type)
        .register(index_kind)
        .register(data_center_input)
        .register(column_input)
        .register(clustering_input)
        .register(data_type_input)
        .register(data_type_info_input)
        .data(shared)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: serde_json::Value) -> Value {
        Value::from_json(json).expect("a GraphQL value")
    }

    #[test]
    fn data_type_inputs_decode_to_cql_types() {
        assert_eq!(
            decode_type(&parse(serde_json::json!({"basic": "TEXT"}))),
            Ok("text".into())
        );
        assert_eq!(
            decode_type(&parse(
                serde_json::json!({"basic": "MAP", "info": {"subTypes": [{"basic": "TEXT"}, {"basic": "INT"}]}})
            )),
            Ok("map<text, int>".into())
        );
        assert_eq!(
            decode_type(&parse(
                serde_json::json!({"basic": "LIST", "info": {"subTypes": [{"basic": "INT"}], "frozen": true}})
            )),
            Ok("frozen<list<int>>".into())
        );
        assert_eq!(
            decode_type(&parse(serde_json::json!({"basic": "LIST"}))),
            Err("List type should contain an 'info' field specifying the sub type".into())
        );
        assert_eq!(
            decode_type(&parse(serde_json::json!({"basic": "UDT", "info": {"name": "addr"}}))),
            Ok("\"addr\"".into())
        );
        assert!(decode_type(&parse(serde_json::json!({"basic": "UDT", "info": {"name": "Addr"}}))).is_err());
    }
}

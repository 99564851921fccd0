//! `/graphql/{keyspace}`, CQL-first: the schema Stargate generates from a keyspace's tables
//! (reference §4.3). Per table `book`: the object `book`, inputs `bookInput`,
//! `bookFilterInput` and `bookGroupByInput`, the enum `bookOrder`, results `bookResult {pageState,
//! values}` and `bookMutationResult {applied, accepted, value}`; the query `book(value, filter,
//! orderBy, groupBy, options)` and the mutations `insertbook`, `updatebook`, `deletebook`,
//! `bulkInsertbook`.
//!
//! Schemas are cached per keyspace with the node's `schema_version` (`system.local`), read on every
//! request: a table created or altered through any interface (REST, gRPC, plain CQL) gives the
//! next request a new schema.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext, Schema, SchemaError,
    TypeRef,
};
use async_graphql::{Name, Value};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use scylla::cluster::metadata::{ColumnKind, ColumnType, Keyspace, NativeType};
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::{Consistency, SerialConsistency};
use scylla::value::{CqlValue, MaybeUnset, Row};
use tokio::sync::Mutex;
use tonic::Code;

use super::ddl::response_key;
use super::types::{self, Composites, NameKind, graphql_name, value_field};
use super::{FieldErrors, GraphqlState, RequestData, caught, cql_cause, fetch_error, render};
use crate::gateway::Shared;
use crate::gateway::cql::{Bind, Cql, CqlError, Options, ident, qualified};

/// What a cached schema was built from: the node's `schema_version` and the keyspace's deployed
/// GraphQL-first version, if any.
type BuiltFrom = (uuid::Uuid, Option<uuid::Uuid>);

/// Served schemas by keyspace: what each was built from, the schema, and whether it is a
/// deployed GraphQL-first one.
#[derive(Default)]
pub struct SchemaCache {
    entries: Mutex<HashMap<String, (BuiltFrom, Schema, bool)>>,
    /// The `schema_version` the driver's metadata was last refreshed at.
    refreshed: Mutex<Option<uuid::Uuid>>,
}

/// A column as the generated schema and its resolvers need it.
#[derive(Debug, Clone)]
pub struct ColumnModel {
    pub cql: String,
    pub gql: String,
    pub typ: ColumnType<'static>,
    /// Partition or clustering key.
    pub key: bool,
}

/// A table as the generated schema and its resolvers need it.
#[derive(Debug)]
pub struct TableModel {
    pub keyspace: String,
    pub name: String,
    pub gql: String,
    /// Partition keys, clustering keys, regular columns, static columns (Stargate's order).
    pub columns: Vec<ColumnModel>,
}

impl TableModel {
    fn from_metadata(keyspace: &str, name: &str, table: &scylla::cluster::metadata::Table) -> Self {
        let mut columns = Vec::new();
        let mut push = |column: &str, key: bool| {
            if let Some(c) = table.columns.get(column) {
                columns.push(ColumnModel {
                    cql: column.to_string(),
                    gql: graphql_name(column, NameKind::Column),
                    typ: c.typ.clone(),
                    key,
                });
            }
        };
        for c in table.partition_key.iter().chain(&table.clustering_key) {
            push(c, true);
        }
        let mut others: Vec<(&String, bool)> = table
            .columns
            .iter()
            .filter(|(_, c)| matches!(c.kind, ColumnKind::Regular | ColumnKind::Static))
            .map(|(n, c)| (n, c.kind == ColumnKind::Static))
            .collect();
        others.sort_by_key(|(n, is_static)| (*is_static, n.to_string()));
        for (c, _) in others {
            push(c, false);
        }
        Self {
            keyspace: keyspace.to_string(),
            name: name.to_string(),
            gql: graphql_name(name, NameKind::Table),
            columns,
        }
    }

    fn by_gql(&self, name: &str) -> Result<&ColumnModel, String> {
        self.columns
            .iter()
            .find(|c| c.gql == name)
            .ok_or_else(|| format!("Unknown field {name} for table {}", self.name))
    }

    fn by_cql(&self, name: &str) -> Option<&ColumnModel> {
        self.columns.iter().find(|c| c.cql == name)
    }

    fn qualified(&self) -> String {
        qualified(&self.keyspace, &self.name)
    }

    /// A row as the GraphQL object of the table (unknown columns, e.g. aggregates, keep their name).
    fn row_value(&self, names: &[String], row: Vec<Option<CqlValue>>) -> Value {
        Value::Object(
            names
                .iter()
                .zip(row)
                .filter(|(name, _)| name.as_str() != "[applied]")
                .map(|(name, value)| {
                    let key = self.by_cql(name).map_or_else(|| name.clone(), |c| c.gql.clone());
                    (Name::new(key), types::to_graphql(value.as_ref()))
                })
                .collect(),
        )
    }

    /// An input value normalised through the column types (what Stargate echoes as `value`).
    fn echo(&self, input: &Value) -> Value {
        let Value::Object(map) = input else {
            return input.clone();
        };
        Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let normalised = self
                        .by_gql(k)
                        .ok()
                        .and_then(|c| types::from_graphql(v, &c.typ).ok())
                        .map_or_else(|| v.clone(), |cql| types::to_graphql(cql.as_ref()));
                    (k.clone(), normalised)
                })
                .collect(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// The schema cache
// ---------------------------------------------------------------------------------------------

/// The node's `schema_version` (`system.local`): it changes with every schema change, so one
/// small read per request tells whether the driver's metadata and the cached schemas are current.
async fn schema_version(cql: &Cql) -> Result<uuid::Uuid, CqlError> {
    let outcome = cql
        .run(
            "SELECT schema_version FROM system.local",
            Vec::new(),
            &Options::default(),
        )
        .await?;
    match outcome
        .page
        .and_then(|p| p.rows.into_iter().next())
        .and_then(|row| row.into_iter().next())
    {
        Some(Some(CqlValue::Uuid(version))) => Ok(version),
        _ => Err(CqlError::new(
            Code::Internal,
            "system.local has no schema_version".to_string(),
        )),
    }
}

/// The schema `/graphql/{keyspace}` serves: the deployed GraphQL-first schema if there is one
/// (`true`), else the one generated from the tables. `None` when the keyspace does not exist.
///
/// A cached schema is reused while the node's `schema_version` and the keyspace's deployed
/// version are those it was built from: two small reads per request.
pub async fn keyspace_schema(state: &GraphqlState, keyspace: &str) -> Result<Option<(Schema, bool)>, CqlError> {
    let cql = &state.shared.cql;
    let version = schema_version(cql).await?;
    {
        // Bring the driver's metadata up to `version` (read first, so it is at least as new).
        let mut refreshed = state.keyspaces.refreshed.lock().await;
        if *refreshed != Some(version) {
            // A failed refresh keeps the driver's previous metadata (it cannot parse every
            // schema, e.g. mixed-case UDT names): serve that rather than fail every request.
            cql.refresh_schema().await;
            *refreshed = Some(version);
        }
    }
    let cluster = cql.session().get_cluster_state();
    let Some(metadata) = cluster.get_keyspace(keyspace) else {
        return Ok(None);
    };
    let source_table = cluster
        .get_keyspace(super::admin::SCHEMA_KEYSPACE)
        .is_some_and(|k| k.tables.contains_key(super::admin::SCHEMA_TABLE));
    let latest = if source_table {
        super::admin::latest_version(cql, keyspace).await?
    } else {
        None
    };
    let print = (version, latest);
    let mut entries = state.keyspaces.entries.lock().await;
    if let Some((cached, schema, schema_first)) = entries.get(keyspace)
        && *cached == print
    {
        return Ok(Some((schema.clone(), *schema_first)));
    }
    let deployed = match latest {
        Some(v) => super::admin::versions(cql, keyspace, Some(v)).await?.into_iter().next(),
        None => None,
    };
    let built = match &deployed {
        Some(source) => super::schema_first::process(&source.contents)
            .and_then(|mapping| super::schema_first::build(state.shared.clone(), keyspace, mapping, metadata))
            .map_err(|e| {
                CqlError::new(
                    Code::Internal,
                    format!("the deployed schema of {keyspace}: {}", e.message),
                )
            })?,
        None => {
            build(state.shared.clone(), keyspace, metadata).map_err(|e| CqlError::new(Code::Internal, e.to_string()))?
        }
    };
    let schema_first = deployed.is_some();
    entries.insert(keyspace.to_string(), (print, built.clone(), schema_first));
    Ok(Some((built, schema_first)))
}

/// The keyspace `/graphql` serves: the oldest by `writetime(durable_writes)`, unless that one
/// is a system keyspace.
pub async fn default_keyspace(cql: &Cql) -> Option<String> {
    let outcome = cql
        .run_unprepared("SELECT keyspace_name, writetime(durable_writes) FROM system_schema.keyspaces")
        .await
        .ok()?;
    let oldest = outcome
        .page?
        .rows
        .into_iter()
        .filter_map(|row| {
            let mut values = row.into_iter();
            let name = values.next()??.into_string()?;
            let written = match values.next()? {
                Some(CqlValue::BigInt(t)) => t,
                _ => i64::MAX,
            };
            Some((written, name))
        })
        .min()?
        .1;
    let system = oldest.starts_with("system")
        || oldest.starts_with("dse_")
        || oldest == "data_endpoint_auth"
        || oldest == "solr_admin";
    (!system).then_some(oldest)
}

// ---------------------------------------------------------------------------------------------
// Building the schema
// ---------------------------------------------------------------------------------------------

const AGGREGATES: [(&str, &str); 8] = [
    ("_int_function", "Int"),
    ("_double_function", "Float"),
    ("_bigint_function", "BigInt"),
    ("_decimal_function", "Decimal"),
    ("_varint_function", "Varint"),
    ("_float_function", "Float32"),
    ("_smallint_function", "SmallInt"),
    ("_tinyint_function", "TinyInt"),
];

/// An aggregate field of a row: its value is in the row under the field's response key.
fn aggregate_field(name: &str, scalar: &str) -> Field {
    Field::new(name, TypeRef::named(scalar), |ctx| {
        FieldFuture::new(async move {
            let key = response_key(&ctx);
            let parent = ctx.parent_value.try_to_value()?;
            Ok(match parent {
                Value::Object(map) => map
                    .get(key.as_str())
                    .filter(|v| !matches!(v, Value::Null))
                    .cloned()
                    .map(FieldValue::value),
                _ => None,
            })
        })
    })
    .description(format!("Invocation of an aggregate function that returns {scalar}."))
    .argument(InputValue::new("name", TypeRef::named_nn(TypeRef::STRING)).description("Name of the function to invoke"))
    .argument(
        InputValue::new("args", TypeRef::named_nn_list_nn(TypeRef::STRING))
            .description("Arguments passed to a function. It can be a list of column names."),
    )
}

fn primary_key_description(table: &TableModel) -> String {
    let keys: Vec<String> = table
        .columns
        .iter()
        .filter(|c| c.key)
        .map(|c| format!("'{}'", c.gql))
        .collect();
    match keys.as_slice() {
        [] => String::new(),
        [one] => format!("\nNote that {one} is the field that corresponds to the table primary key."),
        [init @ .., last] => format!(
            "\nNote that {} and {last} are the fields that correspond to the table primary key.",
            init.join(", ")
        ),
    }
}

/// The generated schema of a keyspace's tables.
pub fn build(shared: Arc<Shared>, keyspace: &str, metadata: &Keyspace) -> Result<Schema, SchemaError> {
    let mut composites = Composites::default();
    let mut warnings: Vec<String> = Vec::new();
    let mut query = Object::new("Query");
    let mut mutation = Object::new("Mutation");
    let mut objects = Vec::new();
    let mut inputs = Vec::new();
    let mut enums = Vec::new();
    let mut names: Vec<&String> = metadata.tables.keys().collect();
    names.sort();
    let mut any_table = false;
    for name in names {
        let mut table = TableModel::from_metadata(keyspace, name, &metadata.tables[name]);
        let mut typed = Vec::new();
        table.columns.retain(|c| {
            let output = composites.type_ref(&c.typ, false);
            let input = composites.type_ref(&c.typ, true);
            let filter = composites.filter_ref(&c.typ);
            match (output, input, filter) {
                (Some(o), Some(i), Some(f)) => {
                    typed.push((c.gql.clone(), o, i, f));
                    true
                }
                _ => {
                    warnings.push(format!(
                        "Could not create output type for column {} in table {}, skipping (Unsupported type {})",
                        c.cql,
                        name,
                        crate::gateway::values::type_name(&c.typ)
                    ));
                    false
                }
            }
        });
        if !table.columns.iter().any(|c| c.key) {
            warnings.push(format!("Could not convert table {name}, skipping"));
            continue;
        }
        any_table = true;
        let table = Arc::new(table);
        let t = table.gql.clone();
        let pk = primary_key_description(&table);

        let mut row = Object::new(&t).description(format!(
            "The type used to represent results of a query for the table '{name}'."
        ));
        let mut input =
            InputObject::new(format!("{t}Input")).description(format!("The input type for the table '{name}'.{pk}"));
        let mut filter = InputObject::new(format!("{t}FilterInput")).description(format!(
            "The input type used for filtering with non-equality operators for the table '{name}'.{pk}"
        ));
        let mut order = Enum::new(format!("{t}Order")).description(format!(
            "The enum used to order a query result based on one or more fields for the table '{name}'."
        ));
        let mut group_by = InputObject::new(format!("{t}GroupByInput"));
        for ((gql, output, input_type, filter_type), column) in typed.into_iter().zip(&table.columns) {
            row = row.field(value_field(&gql, &gql, output));
            input = input.field(InputValue::new(&gql, input_type));
            filter = filter.field(InputValue::new(&gql, filter_type));
            order = order.item(format!("{gql}_DESC")).item(format!("{gql}_ASC"));
            if column.key {
                group_by = group_by.field(InputValue::new(&gql, TypeRef::named(TypeRef::BOOLEAN)));
            }
        }
        for (field, scalar) in AGGREGATES {
            row = row.field(aggregate_field(field, scalar));
        }
        let result = Object::new(format!("{t}Result"))
            .field(value_field("pageState", "pageState", TypeRef::named(TypeRef::STRING)))
            .field(value_field("values", "values", TypeRef::named_nn_list(&t)));
        let mutation_result = Object::new(format!("{t}MutationResult"))
            .description(format!(
                "The type used to represent results of a mutation for the table '{name}'."
            ))
            .field(value_field("applied", "applied", TypeRef::named(TypeRef::BOOLEAN)))
            .field(
                value_field("accepted", "accepted", TypeRef::named(TypeRef::BOOLEAN)).description(
                    "This field is relevant and fulfilled with data, only when used with the @async directive",
                ),
            )
            .field(value_field("value", "value", TypeRef::named(&t)));
        objects.extend([row, result, mutation_result]);
        inputs.extend([input, filter, group_by]);
        enums.push(order);

        let select = |field: Field| {
            field
                .argument(InputValue::new("filter", TypeRef::named(format!("{t}FilterInput"))))
                .argument(InputValue::new("orderBy", TypeRef::named_list(format!("{t}Order"))))
        };
        let table_for_query = table.clone();
        query = query.field(
            select(
                Field::new(&t, TypeRef::named(format!("{t}Result")), move |ctx| {
                    let table = table_for_query.clone();
                    FieldFuture::new(async move {
                        let result = select_rows(&ctx, &table).await.map(|v| Some(FieldValue::value(v)));
                        caught(&ctx, result)
                    })
                })
                .description(format!("Query for the table '{name}'.{pk}"))
                .argument(InputValue::new("value", TypeRef::named(format!("{t}Input")))),
            )
            .argument(
                InputValue::new("groupBy", TypeRef::named(format!("{t}GroupByInput")))
                    .description("The columns to group results by."),
            )
            .argument(InputValue::new("options", TypeRef::named("QueryOptions"))),
        );
        let table_for_filter = table.clone();
        query = query.field(
            select(Field::new(
                format!("{t}Filter"),
                TypeRef::named(format!("{t}Result")),
                move |ctx| {
                    let table = table_for_filter.clone();
                    FieldFuture::new(async move {
                        let result = select_rows(&ctx, &table).await.map(|v| Some(FieldValue::value(v)));
                        caught(&ctx, result)
                    })
                },
            ))
            .argument(InputValue::new("options", TypeRef::named("QueryOptions")))
            .deprecation(Some("No longer supported. Use root type instead.")),
        );

        let result_type = format!("{t}MutationResult");
        for kind in [Kind::Delete, Kind::Insert, Kind::BulkInsert, Kind::Update] {
            let table_for_mutation = table.clone();
            let (prefix, description) = match kind {
                Kind::Delete => ("delete", "Delete mutation"),
                Kind::Insert => ("insert", "Insert mutation"),
                Kind::BulkInsert => ("bulkInsert", "Bulk insert mutations"),
                Kind::Update => ("update", "Update mutation"),
            };
            let returns = if kind == Kind::BulkInsert {
                TypeRef::named_list(&result_type)
            } else {
                TypeRef::named(&result_type)
            };
            let mut field = Field::new(format!("{prefix}{t}"), returns, move |ctx| {
                let table = table_for_mutation.clone();
                FieldFuture::new(async move {
                    let result = mutate(&ctx, &table, kind).await.map(|v| Some(FieldValue::value(v)));
                    caught(&ctx, result)
                })
            })
            .description(format!("{description} for the table '{name}'.{pk}"));
            field = if kind == Kind::BulkInsert {
                field.argument(InputValue::new("values", TypeRef::named_nn_list(format!("{t}Input"))))
            } else {
                field.argument(InputValue::new("value", TypeRef::named_nn(format!("{t}Input"))))
            };
            field = match kind {
                Kind::Insert | Kind::BulkInsert => {
                    field.argument(InputValue::new("ifNotExists", TypeRef::named(TypeRef::BOOLEAN)))
                }
                Kind::Update | Kind::Delete => field
                    .argument(InputValue::new("ifExists", TypeRef::named(TypeRef::BOOLEAN)))
                    .argument(InputValue::new(
                        "ifCondition",
                        TypeRef::named(format!("{t}FilterInput")),
                    )),
            };
            mutation = mutation.field(field.argument(InputValue::new("options", TypeRef::named("MutationOptions"))));
        }
    }
    let mut description = String::from("Warnings encountered during the CQL to GraphQL conversion.");
    if warnings.is_empty() {
        description.push_str("\nNo warnings found, this will return an empty list.");
    } else {
        description.push_str("\nThis will return:");
        for warning in &warnings {
            description.push_str(&format!("\n- {warning}"));
        }
    }
    let warning_values = Value::List(warnings.into_iter().map(Value::String).collect());
    query = query.field(
        Field::new("conversionWarnings", TypeRef::named_list(TypeRef::STRING), move |_| {
            let warnings = warning_values.clone();
            FieldFuture::new(async move { Ok(Some(warnings)) })
        })
        .description(description),
    );
    if !any_table {
        mutation = mutation.field(
            Field::new("keyspaceEmptyMutation", TypeRef::named(TypeRef::BOOLEAN), |_| {
                FieldFuture::new(async move { Ok(Some(Value::Boolean(true))) })
            })
            .description("Placeholder mutation that is exposed when a keyspace is empty."),
        );
    }
    let mut builder = Schema::build("Query", Some("Mutation"), None)
        .register(query)
        .register(mutation)
        .register(query_options())
        .register(Enum::new("QueryConsistency").items(["LOCAL_ONE", "LOCAL_QUORUM", "ALL", "SERIAL", "LOCAL_SERIAL"]))
        .register(mutation_options())
        .register(Enum::new("MutationConsistency").items(["LOCAL_ONE", "LOCAL_QUORUM", "ALL"]))
        .register(Enum::new("SerialConsistency").items(["SERIAL", "LOCAL_SERIAL"]))
        .data(shared);
    for scalar in types::custom_scalars() {
        builder = builder.register(scalar);
    }
    for object in objects.into_iter().chain(composites.objects.into_values()) {
        builder = builder.register(object);
    }
    for input in inputs.into_iter().chain(composites.inputs.into_values()) {
        builder = builder.register(input);
    }
    for e in enums {
        builder = builder.register(e);
    }
    builder.finish()
}

fn query_options() -> InputObject {
    InputObject::new("QueryOptions")
        .description("The execution options for the query.")
        .field(
            InputValue::new("consistency", TypeRef::named("QueryConsistency"))
                .default_value(Value::Enum(Name::new("LOCAL_QUORUM"))),
        )
        .field(InputValue::new("limit", TypeRef::named(TypeRef::INT)))
        .field(InputValue::new("pageSize", TypeRef::named(TypeRef::INT)).default_value(Value::from(100)))
        .field(InputValue::new("pageState", TypeRef::named(TypeRef::STRING)))
}

fn mutation_options() -> InputObject {
    InputObject::new("MutationOptions")
        .description("The execution options for the mutation.")
        .field(
            InputValue::new("consistency", TypeRef::named("MutationConsistency"))
                .default_value(Value::Enum(Name::new("LOCAL_QUORUM"))),
        )
        .field(
            InputValue::new("serialConsistency", TypeRef::named("SerialConsistency"))
                .default_value(Value::Enum(Name::new("SERIAL"))),
        )
        .field(InputValue::new("ttl", TypeRef::named(TypeRef::INT)))
}

// ---------------------------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------------------------

/// A CQL condition with its bound values.
struct Clause {
    cql: String,
    binds: Vec<Bind>,
}

fn bind(value: Option<CqlValue>) -> Bind {
    MaybeUnset::Set(value)
}

fn convert(value: &Value, typ: &ColumnType) -> Result<Option<CqlValue>, String> {
    types::from_graphql(value, typ)
}

/// The conditions of a `…FilterInput` (`{col: {eq: …, in: […]}}`).
fn filter_clauses(table: &TableModel, filter: &Value) -> Result<Vec<Clause>, String> {
    let Value::Object(columns) = filter else {
        return Ok(Vec::new());
    };
    let mut clauses = Vec::new();
    for (name, operators) in columns {
        let column = table.by_gql(name)?;
        let Value::Object(operators) = operators else { continue };
        let col = ident(&column.cql);
        for (op, value) in operators {
            let (element, key_type, value_type) = match &column.typ {
                ColumnType::Collection {
                    typ:
                        scylla::cluster::metadata::CollectionType::List(e)
                        | scylla::cluster::metadata::CollectionType::Set(e),
                    ..
                } => (Some(e.as_ref()), None, None),
                ColumnType::Collection {
                    typ: scylla::cluster::metadata::CollectionType::Map(k, v),
                    ..
                } => (None, Some(k.as_ref()), Some(v.as_ref())),
                _ => (None, None, None),
            };
            let compare = |sign: &str| -> Result<Clause, String> {
                Ok(Clause {
                    cql: format!("{col} {sign} ?"),
                    binds: vec![bind(convert(value, &column.typ)?)],
                })
            };
            clauses.push(match op.as_str() {
                "eq" => compare("=")?,
                "notEq" => compare("!=")?,
                "gt" => compare(">")?,
                "gte" => compare(">=")?,
                "lt" => compare("<")?,
                "lte" => compare("<=")?,
                "in" => {
                    let Value::List(items) = value else {
                        return Err(format!("'in' of {name} must be a list"));
                    };
                    Clause {
                        cql: format!("{col} IN ({})", vec!["?"; items.len()].join(", ")),
                        binds: items
                            .iter()
                            .map(|v| convert(v, &column.typ).map(bind))
                            .collect::<Result<_, _>>()?,
                    }
                }
                "contains" => {
                    let typ = element.or(value_type).ok_or("'contains' needs a collection column")?;
                    Clause {
                        cql: format!("{col} CONTAINS ?"),
                        binds: vec![bind(convert(value, typ)?)],
                    }
                }
                "containsKey" => {
                    let typ = key_type.ok_or("'containsKey' needs a map column")?;
                    Clause {
                        cql: format!("{col} CONTAINS KEY ?"),
                        binds: vec![bind(convert(value, typ)?)],
                    }
                }
                "containsEntry" => {
                    let (Some(k), Some(v)) = (key_type, value_type) else {
                        return Err("'containsEntry' needs a map column".into());
                    };
                    let Value::Object(entry) = value else {
                        return Err("'containsEntry' needs {key, value}".into());
                    };
                    Clause {
                        cql: format!("{col}[?] = ?"),
                        binds: vec![
                            bind(convert(entry.get("key").unwrap_or(&Value::Null), k)?),
                            bind(convert(entry.get("value").unwrap_or(&Value::Null), v)?),
                        ],
                    }
                }
                other => return Err(format!("Invalid filter field name: {other}")),
            });
        }
    }
    Ok(clauses)
}

/// `col = ?` for each field of a `…Input` value.
fn value_clauses(table: &TableModel, value: &Value, keys_only: bool) -> Result<Vec<Clause>, String> {
    let Value::Object(fields) = value else {
        return Ok(Vec::new());
    };
    let mut clauses = Vec::new();
    for (name, v) in fields {
        let column = table.by_gql(name)?;
        if keys_only && !column.key {
            continue;
        }
        clauses.push(Clause {
            cql: format!("{} = ?", ident(&column.cql)),
            binds: vec![bind(convert(v, &column.typ)?)],
        });
    }
    Ok(clauses)
}

fn join(clauses: Vec<Clause>, keyword: &str, out: &mut String, binds: &mut Vec<Bind>) {
    if clauses.is_empty() {
        return;
    }
    let texts: Vec<String> = clauses.iter().map(|c| c.cql.clone()).collect();
    out.push_str(&format!(" {keyword} {}", texts.join(" AND ")));
    for clause in clauses {
        binds.extend(clause.binds);
    }
}

fn consistency(name: &str) -> Consistency {
    match name {
        "LOCAL_ONE" => Consistency::LocalOne,
        "ALL" => Consistency::All,
        "SERIAL" => Consistency::Serial,
        "LOCAL_SERIAL" => Consistency::LocalSerial,
        _ => Consistency::LocalQuorum,
    }
}

fn options_arg(ctx: &ResolverContext<'_>) -> Option<async_graphql::indexmap::IndexMap<Name, Value>> {
    match ctx.args.get("options").map(|v| v.as_value().clone()) {
        Some(Value::Object(map)) => Some(map),
        _ => None,
    }
}

fn enum_text(value: Option<&Value>) -> Option<String> {
    match value {
        Some(Value::Enum(name)) => Some(name.to_string()),
        Some(Value::String(s)) => Some(s.clone()),
        _ => None,
    }
}

fn int(value: Option<&Value>) -> Option<i64> {
    match value {
        Some(Value::Number(n)) => n.as_i64(),
        _ => None,
    }
}

/// Only letters, digits and `_`: a CQL function name we can put into the statement.
fn plain_identifier(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

async fn select_rows(ctx: &ResolverContext<'_>, table: &TableModel) -> async_graphql::Result<Value> {
    let key = response_key(ctx);
    let fail = |cause: String| fetch_error(&key, &cause);
    let shared = ctx.data::<Arc<Shared>>()?;

    // Only the columns selected under `values` are read, plus the aggregates asked for.
    let mut selected: Vec<String> = Vec::new();
    for values in ctx.ctx.field().selection_set().filter(|f| f.name() == "values") {
        for field in values.selection_set() {
            let name = field.name();
            if name == "__typename" {
                continue;
            }
            if AGGREGATES.iter().any(|(f, _)| *f == name) {
                let arguments = field.arguments().map_err(|e| fail(e.message))?;
                let argument = |n: &str| arguments.iter().find(|(k, _)| k.as_str() == n).map(|(_, v)| v.clone());
                let Some(Value::String(function)) = argument("name") else {
                    continue;
                };
                if !plain_identifier(&function) {
                    return Err(fail(format!("Invalid function name '{function}'")));
                }
                let args = match argument("args") {
                    Some(Value::List(items)) => items
                        .iter()
                        .map(|v| match v {
                            Value::String(s) => table.by_gql(s).map(|c| ident(&c.cql)).or_else(|_| {
                                if s == "*" {
                                    Ok("*".to_string())
                                } else {
                                    Err(format!("Unknown column {s}"))
                                }
                            }),
                            _ => Err("function arguments must be strings".to_string()),
                        })
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(&fail)?,
                    _ => Vec::new(),
                };
                let alias = field.alias().unwrap_or(name);
                selected.push(format!("{function}({}) AS {}", args.join(", "), ident(alias)));
            } else if let Ok(column) = table.by_gql(name) {
                let text = ident(&column.cql);
                if !selected.contains(&text) {
                    selected.push(text);
                }
            }
        }
    }
    let columns = if selected.is_empty() {
        "*".to_string()
    } else {
        selected.join(", ")
    };
    let mut cql = format!("SELECT {columns} FROM {}", table.qualified());
    let mut binds = Vec::new();
    let clauses = match ctx.args.get("filter") {
        Some(filter) => filter_clauses(table, filter.as_value()),
        None => match ctx.args.get("value") {
            Some(value) => value_clauses(table, value.as_value(), false),
            None => Ok(Vec::new()),
        },
    }
    .map_err(&fail)?;
    join(clauses, "WHERE", &mut cql, &mut binds);
    if let Some(Value::Object(group)) = ctx.args.get("groupBy").map(|v| v.as_value().clone()) {
        let columns: Vec<String> = table
            .columns
            .iter()
            .filter(|c| c.key && group.get(c.gql.as_str()) == Some(&Value::Boolean(true)))
            .map(|c| ident(&c.cql))
            .collect();
        if !columns.is_empty() {
            cql.push_str(&format!(" GROUP BY {}", columns.join(", ")));
        }
    }
    if let Some(Value::List(orders)) = ctx.args.get("orderBy").map(|v| v.as_value().clone()) {
        let mut terms = Vec::new();
        for order in orders {
            let Some(text) = enum_text(Some(&order)) else { continue };
            let Some((column, direction)) = text.rsplit_once('_') else {
                continue;
            };
            let column = table.by_gql(column).map_err(&fail)?;
            terms.push(format!(
                "{} {}",
                ident(&column.cql),
                if direction == "DESC" { "DESC" } else { "ASC" }
            ));
        }
        if !terms.is_empty() {
            cql.push_str(&format!(" ORDER BY {}", terms.join(", ")));
        }
    }
    let mut options = Options::default();
    if let Some(given) = options_arg(ctx) {
        if let Some(limit) = int(given.get("limit")) {
            cql.push_str(&format!(" LIMIT {limit}"));
        }
        if let Some(c) = enum_text(given.get("consistency")) {
            options.consistency = consistency(&c);
        }
        if let Some(size) = int(given.get("pageSize")) {
            options.page_size = i32::try_from(size).unwrap_or(i32::MAX);
        }
        if let Some(Value::String(state)) = given.get("pageState") {
            options.paging_state = Some(
                BASE64
                    .decode(state)
                    .map_err(|e| fail(format!("Invalid pageState: {e}")))?,
            );
        }
    }
    let outcome = shared
        .cql
        .run(&cql, binds, &options)
        .await
        .map_err(|e| fail(cql_cause(&e)))?;
    let page = outcome.page.unwrap_or_default();
    let names: Vec<String> = page.columns.iter().map(|(n, _)| n.clone()).collect();
    let rows: Vec<Value> = page.rows.into_iter().map(|row| table.row_value(&names, row)).collect();
    let mut result = async_graphql::indexmap::IndexMap::new();
    result.insert(Name::new("values"), Value::List(rows));
    if let Some(state) = page.paging_state {
        result.insert(Name::new("pageState"), Value::String(BASE64.encode(state)));
    }
    Ok(Value::Object(result))
}

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

/// Which mutation a field is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Insert,
    Update,
    Delete,
    BulkInsert,
}

/// A statement a mutation field runs, with what its result needs.
#[derive(Debug, Clone)]
pub struct Planned {
    cql: String,
    binds: Vec<Bind>,
    options: Options,
    /// The field had an `options` argument (at most one may in an `@atomic` batch).
    has_options: bool,
    /// The input, as echoed in `value`.
    echo: Value,
    /// The primary key values given, to find the row of an unapplied batch.
    key: Vec<(String, CqlValue)>,
    table: Arc<TableModel>,
}

/// The statements the fields of an `@atomic` mutation planned (per field: bulk or not, and the
/// statements or why there are none).
pub type Collected = Arc<std::sync::Mutex<Vec<(bool, Result<Vec<Planned>, String>)>>>;

/// How the mutation fields of a request run.
#[derive(Clone, Default)]
pub enum MutationMode {
    /// Each field runs its statement and waits for it.
    #[default]
    Direct,
    /// `@async`: each field starts its statement and answers `accepted: true` at once.
    Async,
    /// First pass of `@atomic`: fields only plan their statements.
    Collect(Collected),
    /// Second pass of `@atomic`: fields answer with the batch's results, in order.
    Replay(Arc<std::sync::Mutex<VecDeque<Result<Value, String>>>>),
    /// First pass of `@atomic` on a deployed (GraphQL-first) schema: its statements.
    Statements(Arc<std::sync::Mutex<Vec<super::schema_first::AtomicStatement>>>),
}

fn object(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (Name::new(k), v)).collect())
}

fn plan_one(ctx: &ResolverContext<'_>, table: &Arc<TableModel>, kind: Kind, value: &Value) -> Result<Planned, String> {
    let Value::Object(fields) = value else {
        return Err("value must be an object".into());
    };
    let given = options_arg(ctx);
    let mut options = Options::default();
    let mut ttl = None;
    if let Some(given) = &given {
        if let Some(c) = enum_text(given.get("consistency")) {
            options.consistency = consistency(&c);
        }
        options.serial_consistency = Some(match enum_text(given.get("serialConsistency")).as_deref() {
            Some("LOCAL_SERIAL") => SerialConsistency::LocalSerial,
            _ => SerialConsistency::Serial,
        });
        ttl = int(given.get("ttl"));
    } else {
        options.serial_consistency = Some(SerialConsistency::Serial);
    }
    let flag = |name: &str| ctx.args.get(name).and_then(|v| v.boolean().ok()).unwrap_or(false);
    let mut key = Vec::new();
    for (name, v) in fields {
        let column = table.by_gql(name)?;
        if column.key
            && let Some(cql) = convert(v, &column.typ)?
        {
            key.push((column.cql.clone(), cql));
        }
    }
    let mut binds = Vec::new();
    let using_ttl = ttl.map(|t| format!(" USING TTL {t}")).unwrap_or_default();
    let cql = match kind {
        Kind::Insert | Kind::BulkInsert => {
            if fields.is_empty() {
                return Err("Insert statement must contain at least one field".into());
            }
            let mut names = Vec::new();
            for (name, v) in fields {
                let column = table.by_gql(name)?;
                names.push(ident(&column.cql));
                binds.push(bind(convert(v, &column.typ)?));
            }
            format!(
                "INSERT INTO {} ({}) VALUES ({}){}{using_ttl}",
                table.qualified(),
                names.join(", "),
                vec!["?"; names.len()].join(", "),
                if flag("ifNotExists") { " IF NOT EXISTS" } else { "" }
            )
        }
        Kind::Update => {
            let mut assignments = Vec::new();
            for (name, v) in fields {
                let column = table.by_gql(name)?;
                if column.key {
                    continue;
                }
                let col = ident(&column.cql);
                if matches!(column.typ, ColumnType::Native(NativeType::Counter)) {
                    assignments.push(format!("{col} = {col} + ?"));
                } else {
                    assignments.push(format!("{col} = ?"));
                }
                binds.push(bind(convert(v, &column.typ)?));
            }
            let mut cql = format!("UPDATE {}{using_ttl} SET {}", table.qualified(), assignments.join(", "));
            join(value_clauses(table, value, true)?, "WHERE", &mut cql, &mut binds);
            conditions(ctx, table, flag("ifExists"), &mut cql, &mut binds)?;
            cql
        }
        Kind::Delete => {
            let mut cql = format!("DELETE FROM {}", table.qualified());
            join(value_clauses(table, value, false)?, "WHERE", &mut cql, &mut binds);
            conditions(ctx, table, flag("ifExists"), &mut cql, &mut binds)?;
            cql
        }
    };
    Ok(Planned {
        cql,
        binds,
        options,
        has_options: given.is_some(),
        echo: table.echo(value),
        key,
        table: table.clone(),
    })
}

/// `IF <ifCondition>` and `IF EXISTS`.
fn conditions(
    ctx: &ResolverContext<'_>,
    table: &TableModel,
    if_exists: bool,
    cql: &mut String,
    binds: &mut Vec<Bind>,
) -> Result<(), String> {
    let clauses = match ctx.args.get("ifCondition") {
        Some(filter) => filter_clauses(table, filter.as_value())?,
        None => Vec::new(),
    };
    join(clauses, "IF", cql, binds);
    if if_exists {
        cql.push_str(" IF EXISTS");
    }
    Ok(())
}

fn plan(ctx: &ResolverContext<'_>, table: &Arc<TableModel>, kind: Kind) -> Result<Vec<Planned>, String> {
    if kind == Kind::BulkInsert {
        let values = match ctx.args.get("values").map(|v| v.as_value().clone()) {
            Some(Value::List(values)) => values,
            _ => Vec::new(),
        };
        values.iter().map(|v| plan_one(ctx, table, kind, v)).collect()
    } else {
        let value = ctx
            .args
            .get("value")
            .map(|v| v.as_value().clone())
            .unwrap_or(Value::Null);
        Ok(vec![plan_one(ctx, table, kind, &value)?])
    }
}

/// A statement's rows as a mutation result: applied (with the input echoed), or not applied
/// with the row that is there.
fn mutation_result(table: &TableModel, planned: &Planned, page: Option<crate::gateway::cql::Page>) -> Value {
    let applied = |echo: Value| object(vec![("value", echo), ("applied", Value::Boolean(true))]);
    let Some(page) = page else {
        return applied(planned.echo.clone());
    };
    let names: Vec<String> = page.columns.iter().map(|(n, _)| n.clone()).collect();
    let Some(row) = page.rows.into_iter().next() else {
        return applied(planned.echo.clone());
    };
    let flag = names
        .iter()
        .position(|n| n == "[applied]")
        .and_then(|i| match row.get(i) {
            Some(Some(CqlValue::Boolean(b))) => Some(*b),
            _ => None,
        })
        .unwrap_or(false);
    if flag {
        applied(planned.echo.clone())
    } else {
        object(vec![
            ("value", table.row_value(&names, row)),
            ("applied", Value::Boolean(false)),
        ])
    }
}

async fn run_planned(shared: &Shared, table: &TableModel, planned: &Planned) -> Result<Value, String> {
    let outcome = shared
        .cql
        .run(&planned.cql, planned.binds.clone(), &planned.options)
        .await
        .map_err(|e| cql_cause(&e))?;
    Ok(mutation_result(table, planned, outcome.page))
}

async fn mutate(ctx: &ResolverContext<'_>, table: &Arc<TableModel>, kind: Kind) -> async_graphql::Result<Value> {
    let key = response_key(ctx);
    let fail = |cause: String| fetch_error(&key, &cause);
    let shared = ctx.data::<Arc<Shared>>()?.clone();
    let mode = ctx
        .data::<RequestData>()
        .map(|d| d.mutations.clone())
        .unwrap_or_default();
    let many = |values: Vec<Value>| {
        if kind == Kind::BulkInsert {
            Value::List(values)
        } else {
            values.into_iter().next().unwrap_or(Value::Null)
        }
    };
    match mode {
        MutationMode::Replay(results) => {
            let next = results
                .lock()
                .map_err(|_| fail("batch state poisoned".into()))?
                .pop_front();
            match next {
                Some(Ok(value)) => Ok(value),
                Some(Err(cause)) => Err(fail(cause)),
                None => Err(fail("the batch has no result for this mutation".into())),
            }
        }
        MutationMode::Collect(collected) => {
            let planned = plan(ctx, table, kind);
            let echo = planned
                .as_ref()
                .map(|p| p.iter().map(|p| p.echo.clone()).collect::<Vec<_>>())
                .unwrap_or_default();
            collected
                .lock()
                .map_err(|_| fail("batch state poisoned".into()))?
                .push((kind == Kind::BulkInsert, planned));
            Ok(many(
                echo.into_iter()
                    .map(|e| object(vec![("value", e), ("applied", Value::Boolean(true))]))
                    .collect(),
            ))
        }
        MutationMode::Async => {
            let planned = plan(ctx, table, kind).map_err(&fail)?;
            let mut results = Vec::new();
            for p in planned {
                results.push(object(vec![
                    ("value", p.echo.clone()),
                    ("accepted", Value::Boolean(true)),
                ]));
                let shared = shared.clone();
                let table = table.clone();
                tokio::spawn(async move {
                    if let Err(error) = run_planned(&shared, &table, &p).await {
                        tracing::warn!(%error, "a mutation executed within the @async directive failed");
                    }
                });
            }
            Ok(many(results))
        }
        // (Only deployed schemas collect statements; a generated one runs them.)
        MutationMode::Direct | MutationMode::Statements(_) => {
            let planned = plan(ctx, table, kind).map_err(&fail)?;
            let mut results = Vec::with_capacity(planned.len());
            for p in &planned {
                results.push(run_planned(&shared, table, p).await.map_err(&fail)?);
            }
            Ok(many(results))
        }
    }
}

/// Runs an `@atomic` mutation: a first pass plans every field's statements, one LOGGED batch
/// runs them, a second pass answers each field from the batch's outcome.
pub async fn execute_atomic(state: &GraphqlState, schema: &Schema, request: async_graphql::Request) -> Response {
    let query = request.query.clone();
    let variables = request.variables.clone();
    let operation = request.operation_name.clone();
    let again = || {
        let mut r = async_graphql::Request::new(query.clone()).variables(variables.clone());
        if let Some(name) = &operation {
            r = r.operation_name(name.clone());
        }
        r
    };
    let collected = Arc::new(std::sync::Mutex::new(Vec::new()));
    let first_errors = FieldErrors::default();
    let first = schema
        .execute(request.data(RequestData {
            token_error: None,
            mutations: MutationMode::Collect(collected.clone()),
            errors: first_errors.clone(),
        }))
        .await;
    if !first.errors.is_empty() || !first_errors.is_empty() {
        return render(first, &first_errors);
    }
    let fields: Vec<(bool, Result<Vec<Planned>, String>)> = collected
        .lock()
        .map(|mut c| std::mem::take(&mut *c))
        .unwrap_or_default();
    let outcome = run_batch(&state.shared, &fields).await;
    let results: VecDeque<Result<Value, String>> = match outcome {
        Err(cause) => fields.iter().map(|_| Err(cause.clone())).collect(),
        Ok(batch) => fields
            .iter()
            .map(|(bulk, field)| {
                let planned = field.as_ref().map_err(Clone::clone)?;
                let values: Vec<Value> = planned.iter().map(|p| batch.result_for(p)).collect();
                Ok(if *bulk {
                    Value::List(values)
                } else {
                    values.into_iter().next().unwrap_or(Value::Null)
                })
            })
            .collect(),
    };
    let second_errors = FieldErrors::default();
    let second = schema
        .execute(again().data(RequestData {
            token_error: None,
            mutations: MutationMode::Replay(Arc::new(std::sync::Mutex::new(results))),
            errors: second_errors.clone(),
        }))
        .await;
    render(second, &second_errors)
}

/// What a LOGGED batch answered: whether it applied and, when a condition failed, the rows the
/// node returned.
pub(super) struct BatchOutcome {
    pub applied: bool,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Option<CqlValue>>>,
}

impl BatchOutcome {
    /// The returned row whose columns hold the given key values.
    pub fn row_for(&self, key: &[(String, CqlValue)]) -> Option<&Vec<Option<CqlValue>>> {
        self.rows.iter().find(|row| {
            key.iter().all(|(name, value)| {
                self.columns
                    .iter()
                    .position(|c| c == name)
                    .is_some_and(|i| row.get(i).and_then(Option::as_ref) == Some(value))
            })
        })
    }

    fn result_for(&self, planned: &Planned) -> Value {
        if self.applied {
            return object(vec![("value", planned.echo.clone()), ("applied", Value::Boolean(true))]);
        }
        match self.row_for(&planned.key) {
            Some(row) => object(vec![
                ("applied", Value::Boolean(false)),
                ("value", planned.table.row_value(&self.columns, row.clone())),
            ]),
            None => object(vec![("applied", Value::Boolean(false))]),
        }
    }
}

async fn run_batch(shared: &Shared, fields: &[(bool, Result<Vec<Planned>, String>)]) -> Result<BatchOutcome, String> {
    let mut statements = Vec::new();
    for (_, field) in fields {
        statements.extend(field.as_ref().map_err(Clone::clone)?.iter().cloned());
    }
    let with_options: Vec<&Planned> = statements.iter().filter(|p| p.has_options).collect();
    if with_options.len() > 1 {
        return Err("options can only de defined once in an @atomic mutation selection".into());
    }
    let options = with_options
        .first()
        .map(|p| p.options.clone())
        .unwrap_or_else(|| Options {
            serial_consistency: Some(SerialConsistency::Serial),
            ..Options::default()
        });
    let statements: Vec<(&str, Vec<Bind>)> = statements.iter().map(|p| (p.cql.as_str(), p.binds.clone())).collect();
    run_logged_batch(shared, statements, &options).await
}

/// Runs the statements as one LOGGED batch with the options' consistencies.
pub(super) async fn run_logged_batch(
    shared: &Shared,
    statements: Vec<(&str, Vec<Bind>)>,
    options: &Options,
) -> Result<BatchOutcome, String> {
    let mut batch = Batch::new(BatchType::Logged);
    let mut values = Vec::with_capacity(statements.len());
    for (cql, binds) in statements {
        let prepared = shared.cql.prepare(cql, None).await.map_err(|e| cql_cause(&e))?;
        batch.append_statement(prepared);
        values.push(binds);
    }
    batch.set_consistency(options.consistency);
    batch.set_serial_consistency(options.serial_consistency);
    let result = shared
        .cql
        .session()
        .batch(&batch, values)
        .await
        .map_err(|e| cql_cause(&CqlError::from(e)))?;
    let mut outcome = BatchOutcome {
        applied: true,
        columns: Vec::new(),
        rows: Vec::new(),
    };
    if result.is_rows()
        && let Ok(rows) = result.into_rows_result()
    {
        outcome.columns = rows.column_specs().iter().map(|s| s.name().to_string()).collect();
        outcome.rows = rows
            .rows::<Row>()
            .map(|it| it.filter_map(Result::ok).map(|r| r.columns).collect())
            .unwrap_or_default();
        if let (Some(i), Some(first)) = (
            outcome.columns.iter().position(|c| c == "[applied]"),
            outcome.rows.first(),
        ) {
            outcome.applied = matches!(first.get(i), Some(Some(CqlValue::Boolean(true))));
        }
    }
    Ok(outcome)
}

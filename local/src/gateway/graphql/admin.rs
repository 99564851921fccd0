//! `/graphql-admin`: deploying GraphQL-first schemas (reference §4.4). `deploySchema` (or
//! `deploySchemaFile`, the SDL from an uploaded file) processes the SDL
//! ([`super::schema_first`]), brings the keyspace's tables in line under the migration
//! strategy, and stores the SDL as a new version in `stargate_graphql.schema_source`, the table
//! Stargate keeps them in (created on first use); `schema` / `schemas` read that table,
//! `undeploySchema` clears the keyspace's latest version. Versions are timeuuids; a deployment
//! must name the latest one as `expectedVersion`, checked with a lightweight transaction as
//! Stargate's `SchemaSourceDao` does.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_graphql::dynamic::{
    Enum, Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, Schema, SchemaError, TypeRef,
};
use async_graphql::{Name, Value};
use scylla::value::{CqlTimeuuid, CqlValue, MaybeUnset};
use tonic::Code;

use super::ddl::{check_token, response_key};
use super::schema_first::{self, DeployError, STRATEGIES};
use super::types::value_field;
use super::{caught, cql_cause, fetch_error};
use crate::gateway::Shared;
use crate::gateway::cql::{Bind, Cql, CqlError, Options};

pub const SCHEMA_KEYSPACE: &str = "stargate_graphql";
pub const SCHEMA_TABLE: &str = "schema_source";
/// Stargate keeps this many versions per keyspace.
const RETAINED_VERSIONS: usize = 10;

/// The directives a GraphQL-first schema may use, and the CQL scalars, as
/// `GET /graphql-files/cql_directives.graphql` serves them (for editors and codegen tools).
pub const CQL_DIRECTIVES: &str = r#"# Maps an object type to a CQL table (default) or UDT.
directive @cql_entity(name: String, target: EntityTarget = TABLE) on OBJECT
enum EntityTarget { TABLE UDT }

# Generates an input type with the entity's fields (named <Type>Input by default).
directive @cql_input(name: String) on OBJECT

# A response wrapper: not stored, holds an entity (or a list of them) and technical fields
# such as `applied` and `pagingState`.
directive @cql_payload on OBJECT

# Maps a field to a column.
directive @cql_column(name: String, partitionKey: Boolean = false, clusteringOrder: ClusteringOrder, typeHint: String) on FIELD_DEFINITION
enum ClusteringOrder { ASC DESC }

# Creates a secondary index on the column.
directive @cql_index(name: String, class: String, target: IndexTarget, options: String) on FIELD_DEFINITION
enum IndexTarget { KEYS VALUES ENTRIES FULL }

# Query options.
directive @cql_select(limit: Int, pageSize: Int = 100, consistencyLevel: QueryConsistency = LOCAL_QUORUM) on FIELD_DEFINITION
enum QueryConsistency { ALL EACH_QUORUM QUORUM LOCAL_QUORUM ONE TWO THREE LOCAL_ONE ANY SERIAL LOCAL_SERIAL }

# The argument carrying the paging state of the previous page.
directive @cql_pagingState on ARGUMENT_DEFINITION

# Mutation kinds and options (otherwise inferred from the name: insert/create, update, delete/remove).
directive @cql_insert(ifNotExists: Boolean = false, consistencyLevel: MutationConsistency = LOCAL_QUORUM, serialConsistency: SerialConsistency = SERIAL, ttl: String) on FIELD_DEFINITION
directive @cql_update(targetEntity: String, ifExists: Boolean = false, consistencyLevel: MutationConsistency = LOCAL_QUORUM, serialConsistency: SerialConsistency = SERIAL, ttl: String) on FIELD_DEFINITION
directive @cql_delete(targetEntity: String, ifExists: Boolean = false, consistencyLevel: MutationConsistency = LOCAL_QUORUM, serialConsistency: SerialConsistency = SERIAL) on FIELD_DEFINITION
enum MutationConsistency { ALL EACH_QUORUM QUORUM LOCAL_QUORUM ONE TWO THREE LOCAL_ONE ANY }
enum SerialConsistency { SERIAL LOCAL_SERIAL }

# Conditions: an argument stands for `field <predicate> value` in the WHERE (or IF) clause.
directive @cql_where(field: String, predicate: Predicate = EQ) on ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION
directive @cql_if(field: String, predicate: Predicate = EQ) on ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION
enum Predicate { EQ NEQ LT GT LTE GTE IN CONTAINS CONTAINS_KEY CONTAINS_ENTRY }

# Counter and collection updates, write timestamps.
directive @cql_increment(field: String, prepend: Boolean = false) on ARGUMENT_DEFINITION | INPUT_FIELD_DEFINITION
directive @cql_timestamp on ARGUMENT_DEFINITION

scalar Uuid
scalar TimeUuid
scalar Inet
scalar Date
scalar Duration
scalar BigInt
scalar Counter
scalar Ascii
scalar Decimal
scalar Varint
scalar Float32
scalar Blob
scalar SmallInt
scalar TinyInt
scalar Timestamp
scalar Time
"#;

/// A stored deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaSource {
    pub keyspace: String,
    pub version: uuid::Uuid,
    pub contents: String,
    /// The keyspace's `latest_version` (static): `None` once undeployed.
    pub latest: Option<uuid::Uuid>,
}

impl SchemaSource {
    fn value(&self) -> Value {
        let millis = timeuuid_millis(self.version);
        let object = [
            ("keyspace", Value::String(self.keyspace.clone())),
            ("version", Value::String(self.version.to_string())),
            ("deployDate", Value::String(super::types::render_timestamp(millis))),
            ("contents", Value::String(self.contents.clone())),
            (
                "contentsUri",
                Value::String(format!(
                    "../graphql-files/keyspace/{}.graphql?version={}",
                    self.keyspace, self.version
                )),
            ),
        ];
        Value::Object(object.into_iter().map(|(k, v)| (Name::new(k), v)).collect())
    }
}

/// Milliseconds since the epoch of a version-1 UUID.
fn timeuuid_millis(id: uuid::Uuid) -> i64 {
    let (low, mid, hi, _) = id.as_fields();
    let ticks = (u64::from(hi & 0x0FFF) << 48) | (u64::from(mid) << 32) | u64::from(low);
    (i64::try_from(ticks).unwrap_or(0) - 0x01B2_1DD2_1381_4000) / 10_000
}

fn text(value: &str) -> Bind {
    MaybeUnset::Set(Some(CqlValue::Text(value.to_string())))
}

fn timeuuid(value: Option<uuid::Uuid>) -> Bind {
    MaybeUnset::Set(value.map(|v| CqlValue::Timeuuid(CqlTimeuuid::from(v))))
}

fn uuid_of(value: Option<&Option<CqlValue>>) -> Option<uuid::Uuid> {
    match value? {
        Some(CqlValue::Timeuuid(t)) => Some((*t).into()),
        Some(CqlValue::Uuid(u)) => Some(*u),
        _ => None,
    }
}

fn table() -> String {
    format!("{SCHEMA_KEYSPACE}.{SCHEMA_TABLE}")
}

/// True when `stargate_graphql.schema_source` exists (asked of the node, not of the driver's
/// possibly older view).
async fn table_exists(cql: &Cql) -> Result<bool, CqlError> {
    let outcome = cql
        .run(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
            vec![text(SCHEMA_KEYSPACE), text(SCHEMA_TABLE)],
            &Options::default(),
        )
        .await?;
    Ok(outcome.page.is_some_and(|p| !p.rows.is_empty()))
}

async fn ensure_table(cql: &Cql) -> Result<(), CqlError> {
    if table_exists(cql).await? {
        return Ok(());
    }
    cql.run_ddl(&format!(
        "CREATE KEYSPACE IF NOT EXISTS {SCHEMA_KEYSPACE} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
    ))
    .await?;
    cql.run_ddl(&format!(
        "CREATE TABLE IF NOT EXISTS {} (keyspace_name varchar, version timeuuid, contents varchar, latest_version timeuuid static, deployment_in_progress boolean static, PRIMARY KEY ((keyspace_name), version)) WITH CLUSTERING ORDER BY (version DESC)",
        table()
    ))
    .await?;
    Ok(())
}

/// The keyspace's versions, newest first.
pub async fn versions(cql: &Cql, keyspace: &str, version: Option<uuid::Uuid>) -> Result<Vec<SchemaSource>, CqlError> {
    if !table_exists(cql).await? {
        return Ok(Vec::new());
    }
    let mut statement = format!(
        "SELECT version, contents, latest_version FROM {} WHERE keyspace_name = ?",
        table()
    );
    let mut binds = vec![text(keyspace)];
    if let Some(v) = version {
        statement.push_str(" AND version = ?");
        binds.push(timeuuid(Some(v)));
    }
    let outcome = cql
        .run(
            &statement,
            binds,
            &Options {
                page_size: 1000,
                ..Options::default()
            },
        )
        .await?;
    Ok(outcome
        .page
        .map(|p| p.rows)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|row| {
            let version = uuid_of(row.first())?;
            let contents = match row.get(1) {
                Some(Some(CqlValue::Text(s))) => s.clone(),
                _ => String::new(),
            };
            Some(SchemaSource {
                keyspace: keyspace.to_string(),
                version,
                contents,
                latest: uuid_of(row.get(2)),
            })
        })
        .collect())
}

/// The keyspace's `latest_version` (static column): `None` when nothing is deployed or it was
/// undeployed. The caller knows the table exists.
pub async fn latest_version(cql: &Cql, keyspace: &str) -> Result<Option<uuid::Uuid>, CqlError> {
    let outcome = cql
        .run(
            &format!("SELECT latest_version FROM {} WHERE keyspace_name = ? LIMIT 1", table()),
            vec![text(keyspace)],
            &Options::default(),
        )
        .await?;
    Ok(outcome
        .page
        .and_then(|p| p.rows.into_iter().next())
        .and_then(|row| uuid_of(row.first())))
}

/// Why a deployment cannot start: Stargate's `IllegalStateException` messages.
async fn conditional(cql: &Cql, statement: &str, binds: Vec<Bind>, expected: Option<uuid::Uuid>) -> Result<(), String> {
    let outcome = cql
        .run(
            statement,
            binds,
            &Options {
                serial_consistency: Some(scylla::statement::SerialConsistency::Serial),
                ..Options::default()
            },
        )
        .await
        .map_err(|e| cql_cause(&e))?;
    let page = outcome.page.unwrap_or_default();
    let names: Vec<&str> = page.columns.iter().map(|(n, _)| n.as_str()).collect();
    let Some(row) = page.rows.first() else { return Ok(()) };
    let at = |name: &str| names.iter().position(|n| *n == name).and_then(|i| row.get(i));
    if matches!(at("[applied]"), Some(Some(CqlValue::Boolean(true)))) {
        return Ok(());
    }
    if !names.contains(&"latest_version") {
        return Err("You specified expectedVersion but no previous version was found".into());
    }
    let actual = uuid_of(at("latest_version"));
    if actual == expected {
        return Err("It looks like someone else is deploying a new schema, please check the latest version and try again. This can also happen if a previous deployment failed unexpectedly, in that case you can use the 'force' argument to bypass this check.".into());
    }
    Err(format!(
        "You specified expectedVersion {}, but there is a more recent version {}",
        expected.map_or_else(|| "null".to_string(), |v| v.to_string()),
        actual.map_or_else(|| "null".to_string(), |v| v.to_string())
    ))
}

async fn start_deployment(cql: &Cql, keyspace: &str, expected: Option<uuid::Uuid>, force: bool) -> Result<(), String> {
    ensure_table(cql).await.map_err(|e| cql_cause(&e))?;
    let condition = if force {
        "IF latest_version = ?"
    } else {
        "IF latest_version = ? AND deployment_in_progress != true"
    };
    conditional(
        cql,
        &format!(
            "UPDATE {} SET deployment_in_progress = true WHERE keyspace_name = ? {condition}",
            table()
        ),
        vec![text(keyspace), timeuuid(expected)],
        expected,
    )
    .await
}

async fn abort_deployment(cql: &Cql, keyspace: &str) {
    let statement = format!(
        "UPDATE {} SET deployment_in_progress = false WHERE keyspace_name = ?",
        table()
    );
    if let Err(error) = cql.run(&statement, vec![text(keyspace)], &Options::default()).await {
        tracing::warn!(%keyspace, error = %error.message, "could not clear the deployment flag");
    }
}

async fn store(cql: &Cql, keyspace: &str, contents: &str) -> Result<uuid::Uuid, String> {
    let version = schema_first::time_uuid();
    let statement = format!(
        "INSERT INTO {} (keyspace_name, version, latest_version, contents, deployment_in_progress) VALUES (?, ?, ?, ?, false)",
        table()
    );
    cql.run(
        &statement,
        vec![
            text(keyspace),
            timeuuid(Some(version)),
            timeuuid(Some(version)),
            text(contents),
        ],
        &Options::default(),
    )
    .await
    .map_err(|_| format!("Schema deployment for keyspace: {keyspace} and version: {version} failed."))?;
    // Only the newest versions are kept.
    if let Ok(all) = versions(cql, keyspace, None).await
        && let Some(oldest_kept) = all.get(RETAINED_VERSIONS)
    {
        let purge = format!("DELETE FROM {} WHERE keyspace_name = ? AND version <= ?", table());
        if let Err(error) = cql
            .run(
                &purge,
                vec![text(keyspace), timeuuid(Some(oldest_kept.version))],
                &Options::default(),
            )
            .await
        {
            tracing::warn!(%keyspace, error = %error.message, "could not purge old schema versions");
        }
    }
    Ok(version)
}

/// The clustering columns stored in descending order, and the indexed columns, per table.
async fn table_details(
    cql: &Cql,
    keyspace: &str,
) -> Result<(HashSet<(String, String)>, HashMap<String, HashSet<String>>), CqlError> {
    let big = Options {
        page_size: 10_000,
        ..Options::default()
    };
    let columns = cql
        .run(
            "SELECT table_name, column_name, clustering_order FROM system_schema.columns WHERE keyspace_name = ?",
            vec![text(keyspace)],
            &big,
        )
        .await?;
    let mut descending = HashSet::new();
    for row in columns.page.map(|p| p.rows).unwrap_or_default() {
        if let [
            Some(CqlValue::Text(t)),
            Some(CqlValue::Text(c)),
            Some(CqlValue::Text(order)),
        ] = row.as_slice()
            && order == "desc"
        {
            descending.insert((t.clone(), c.clone()));
        }
    }
    let indexes = cql
        .run(
            "SELECT table_name, options FROM system_schema.indexes WHERE keyspace_name = ?",
            vec![text(keyspace)],
            &big,
        )
        .await?;
    let mut indexed: HashMap<String, HashSet<String>> = HashMap::new();
    for row in indexes.page.map(|p| p.rows).unwrap_or_default() {
        let (Some(Some(CqlValue::Text(t))), Some(Some(CqlValue::Map(options)))) = (row.first(), row.get(1)) else {
            continue;
        };
        for (k, v) in options {
            if let (CqlValue::Text(k), CqlValue::Text(v)) = (k, v)
                && k == "target"
            {
                let mut target = v.as_str();
                for prefix in ["values(", "keys(", "entries(", "full("] {
                    if let Some(rest) = target.strip_prefix(prefix) {
                        target = rest.trim_end_matches(')');
                    }
                }
                indexed
                    .entry(t.clone())
                    .or_default()
                    .insert(target.trim_matches('"').to_string());
            }
        }
    }
    Ok((descending, indexed))
}

fn object(entries: Vec<(&str, Value)>) -> Value {
    Value::Object(entries.into_iter().map(|(k, v)| (Name::new(k), v)).collect())
}

fn log_value(message: &schema_first::Message, category: &str) -> Value {
    object(vec![
        ("message", Value::String(message.text.clone())),
        ("category", Value::Enum(Name::new(category))),
        (
            "locations",
            Value::List(
                message
                    .pos
                    .iter()
                    .map(|p| {
                        object(vec![
                            ("line", Value::from(p.line as i64)),
                            ("column", Value::from(p.column as i64)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

fn string_arg(ctx: &ResolverContext<'_>, name: &str) -> Option<String> {
    ctx.args.get(name).and_then(|v| v.string().ok().map(str::to_string))
}

fn bool_arg(ctx: &ResolverContext<'_>, name: &str) -> bool {
    ctx.args.get(name).and_then(|v| v.boolean().ok()).unwrap_or(false)
}

async fn existing_keyspace(shared: &Shared, key: &str, keyspace: &str) -> async_graphql::Result<()> {
    if shared.cql.keyspace_exists(keyspace).await {
        Ok(())
    } else {
        Err(fetch_error(key, &format!("Keyspace '{keyspace}' does not exist.")))
    }
}

fn parse_version(key: &str, text: Option<String>) -> async_graphql::Result<Option<uuid::Uuid>> {
    match text {
        None => Ok(None),
        Some(t) => uuid::Uuid::parse_str(&t)
            .map(Some)
            .map_err(|_| fetch_error(key, "Invalid 'expectedVersion' value.")),
    }
}

async fn deploy(ctx: &ResolverContext<'_>) -> async_graphql::Result<Value> {
    check_token(ctx)?;
    let key = response_key(ctx);
    let shared = ctx.data::<Arc<Shared>>()?.clone();
    let cql = &shared.cql;
    let keyspace = string_arg(ctx, "keyspace").unwrap_or_default();
    existing_keyspace(&shared, &key, &keyspace).await?;
    let expected = parse_version(&key, string_arg(ctx, "expectedVersion"))?;
    let strategy = ctx
        .args
        .get("migrationStrategy")
        .and_then(|v| v.enum_name().ok().map(str::to_string))
        .unwrap_or_else(|| "ADD_MISSING_TABLES_AND_COLUMNS".into());
    let force = bool_arg(ctx, "force");
    let dry_run = bool_arg(ctx, "dryRun");
    let source = match ctx.args.get("schemaFile") {
        // deploySchemaFile: the SDL is the uploaded file (a multipart request, see `multipart`).
        Some(file) => {
            let upload = file.upload()?.value(ctx.ctx)?;
            String::from_utf8_lossy(&upload.content).into_owned()
        }
        None => string_arg(ctx, "schema").unwrap_or_default(),
    };
    if !dry_run {
        start_deployment(cql, &keyspace, expected, force)
            .await
            .map_err(|cause| fetch_error(&key, &cause))?;
    }
    let planned = plan(&shared, &keyspace, &source, &strategy).await;
    let (mapping, changes) = match planned {
        Ok(planned) => planned,
        Err(error) => {
            if !dry_run {
                abort_deployment(cql, &keyspace).await;
            }
            return Err(error.into_graphql(&key));
        }
    };
    let mut version = Value::Null;
    if !dry_run {
        for change in &changes {
            if let Err(error) = cql.run_ddl(&change.cql).await {
                abort_deployment(cql, &keyspace).await;
                return Err(fetch_error(&key, &cql_cause(&error)));
            }
        }
        let stored = store(cql, &keyspace, &source).await;
        match stored {
            Ok(v) => version = Value::String(v.to_string()),
            Err(cause) => {
                abort_deployment(cql, &keyspace).await;
                return Err(fetch_error(&key, &cause));
            }
        }
    }
    let changes = if changes.is_empty() {
        vec![Value::String("No changes, the CQL schema is up to date".into())]
    } else {
        changes.into_iter().map(|c| Value::String(c.description)).collect()
    };
    Ok(object(vec![
        ("version", version),
        (
            "logs",
            Value::List(mapping.logs.iter().map(|m| log_value(m, "INFO")).collect()),
        ),
        ("cqlChanges", Value::List(changes)),
    ]))
}

/// Processes the SDL, checks that it can be served, and computes the CQL changes.
async fn plan(
    shared: &Arc<Shared>,
    keyspace: &str,
    source: &str,
    strategy: &str,
) -> Result<(schema_first::Mapping, Vec<schema_first::Change>), DeployError> {
    let internal = |e: CqlError| DeployError {
        message: cql_cause(&e),
        key: "cqlErrors",
        details: Vec::new(),
    };
    let mapping = schema_first::process(source)?;
    shared.cql.refresh_schema().await;
    let cluster = shared.cql.session().get_cluster_state();
    let metadata = cluster.get_keyspace(keyspace).ok_or_else(|| {
        internal(CqlError::new(
            Code::NotFound,
            format!("Keyspace '{keyspace}' does not exist."),
        ))
    })?;
    schema_first::build(shared.clone(), keyspace, mapping.clone(), metadata)?;
    let (descending, indexed) = table_details(&shared.cql, keyspace).await.map_err(internal)?;
    let changes = schema_first::migrate(&mapping, keyspace, metadata, &descending, &indexed, strategy)?;
    Ok((mapping, changes))
}

async fn undeploy(ctx: &ResolverContext<'_>) -> async_graphql::Result<Value> {
    check_token(ctx)?;
    let key = response_key(ctx);
    let shared = ctx.data::<Arc<Shared>>()?.clone();
    let keyspace = string_arg(ctx, "keyspace").unwrap_or_default();
    existing_keyspace(&shared, &key, &keyspace).await?;
    let expected = parse_version(&key, Some(string_arg(ctx, "expectedVersion").unwrap_or_default()))?;
    ensure_table(&shared.cql)
        .await
        .map_err(|e| fetch_error(&key, &cql_cause(&e)))?;
    let condition = if bool_arg(ctx, "force") {
        "IF latest_version = ?"
    } else {
        "IF latest_version = ? AND deployment_in_progress != true"
    };
    conditional(
        &shared.cql,
        &format!(
            "UPDATE {} SET latest_version = null, deployment_in_progress = false WHERE keyspace_name = ? {condition}",
            table()
        ),
        vec![text(&keyspace), timeuuid(expected)],
        expected,
    )
    .await
    .map_err(|cause| fetch_error(&key, &cause))?;
    Ok(Value::Boolean(true))
}

/// The `/graphql-admin` schema.
pub fn schema(shared: Arc<Shared>) -> Result<Schema, SchemaError> {
    let string = || TypeRef::named(TypeRef::STRING);
    let nn_string = || TypeRef::named_nn(TypeRef::STRING);
    let nn_bool_false =
        |name: &str| InputValue::new(name, TypeRef::named_nn(TypeRef::BOOLEAN)).default_value(Value::Boolean(false));
    let query = Object::new("Query")
        .field(
            Field::new("schema", TypeRef::named("Schema"), |ctx| {
                FieldFuture::new(async move {
                    let result: async_graphql::Result<Option<FieldValue>> = async {
                        check_token(&ctx)?;
                        let key = response_key(&ctx);
                        let shared = ctx.data::<Arc<Shared>>()?.clone();
                        let keyspace = string_arg(&ctx, "keyspace").unwrap_or_default();
                        existing_keyspace(&shared, &key, &keyspace).await?;
                        let version = match string_arg(&ctx, "version") {
                            None => None,
                            Some(v) => Some(
                                uuid::Uuid::parse_str(&v)
                                    .map_err(|e| fetch_error(&key, &format!("Invalid UUID string: {v} ({e})")))?,
                            ),
                        };
                        let found = versions(&shared.cql, &keyspace, version)
                            .await
                            .map_err(|e| fetch_error(&key, &cql_cause(&e)))?;
                        Ok(found.first().map(|s| FieldValue::value(s.value())))
                    }
                    .await;
                    caught(&ctx, result)
                })
            })
            .argument(InputValue::new("keyspace", nn_string()))
            .argument(InputValue::new("version", string())),
        )
        .field(
            Field::new("schemas", TypeRef::named_list("Schema"), |ctx| {
                FieldFuture::new(async move {
                    let result: async_graphql::Result<Option<FieldValue>> = async {
                        check_token(&ctx)?;
                        let key = response_key(&ctx);
                        let shared = ctx.data::<Arc<Shared>>()?.clone();
                        let keyspace = string_arg(&ctx, "keyspace").unwrap_or_default();
                        existing_keyspace(&shared, &key, &keyspace).await?;
                        let found = versions(&shared.cql, &keyspace, None)
                            .await
                            .map_err(|e| fetch_error(&key, &cql_cause(&e)))?;
                        Ok(Some(FieldValue::value(Value::List(
                            found.iter().map(SchemaSource::value).collect(),
                        ))))
                    }
                    .await;
                    caught(&ctx, result)
                })
            })
            .argument(InputValue::new("keyspace", nn_string())),
        );
    // deploySchema and deploySchemaFile take the same arguments but for where the SDL comes from.
    let deploy_field = |name: &str, description: &str, source: InputValue| {
        Field::new(name, TypeRef::named("DeploySchemaResponse"), |ctx| {
            FieldFuture::new(async move {
                let result = deploy(&ctx).await.map(|v| Some(FieldValue::value(v)));
                caught(&ctx, result)
            })
        })
        .description(description)
        .argument(InputValue::new("keyspace", nn_string()))
        .argument(InputValue::new("expectedVersion", string()))
        .argument(
            InputValue::new("migrationStrategy", TypeRef::named_nn("MigrationStrategy"))
                .default_value(Value::Enum(Name::new("ADD_MISSING_TABLES_AND_COLUMNS"))),
        )
        .argument(nn_bool_false("force"))
        .argument(nn_bool_false("dryRun"))
        .argument(source)
    };
    let mutation = Object::new("Mutation")
        .field(deploy_field(
            "deploySchema",
            "Deploys a GraphQL schema to a keyspace.",
            InputValue::new("schema", nn_string()),
        ))
        .field(deploy_field(
            "deploySchemaFile",
            "Deploys a GraphQL schema to a keyspace from an uploaded file (a multipart request).",
            InputValue::new("schemaFile", TypeRef::named_nn(TypeRef::UPLOAD)),
        ))
        .field(
            Field::new("undeploySchema", TypeRef::named(TypeRef::BOOLEAN), |ctx| {
                FieldFuture::new(async move {
                    let result = undeploy(&ctx).await.map(|v| Some(FieldValue::value(v)));
                    caught(&ctx, result)
                })
            })
            .description("Undeploys the GraphQL schema of a keyspace.")
            .argument(InputValue::new("keyspace", nn_string()))
            .argument(InputValue::new("expectedVersion", nn_string()))
            .argument(nn_bool_false("force")),
        );
    let response = Object::new("DeploySchemaResponse")
        .field(value_field("version", "version", string()))
        .field(
            Field::new("logs", TypeRef::named_list("Log"), |ctx| {
                FieldFuture::new(async move {
                    let category = ctx
                        .args
                        .get("category")
                        .and_then(|v| v.enum_name().ok().map(str::to_string));
                    let parent = ctx.parent_value.try_to_value()?;
                    let Value::Object(map) = parent else { return Ok(None) };
                    let Some(Value::List(logs)) = map.get("logs") else {
                        return Ok(None);
                    };
                    let kept: Vec<Value> = logs
                        .iter()
                        .filter(|log| match (&category, log) {
                            (None, _) => true,
                            (Some(c), Value::Object(l)) => l.get("category") == Some(&Value::Enum(Name::new(c))),
                            _ => false,
                        })
                        .cloned()
                        .collect();
                    Ok(Some(Value::List(kept)))
                })
            })
            .argument(InputValue::new("category", TypeRef::named("LogCategory"))),
        )
        .field(value_field(
            "cqlChanges",
            "cqlChanges",
            TypeRef::named_list(TypeRef::STRING),
        ));
    let log = Object::new("Log")
        .field(value_field("message", "message", nn_string()))
        .field(value_field("category", "category", TypeRef::named_nn("LogCategory")))
        .field(value_field("locations", "locations", TypeRef::named_list("Location")));
    let location = Object::new("Location")
        .field(value_field("line", "line", TypeRef::named(TypeRef::INT)))
        .field(value_field("column", "column", TypeRef::named(TypeRef::INT)));
    let source = Object::new("Schema")
        .field(value_field("keyspace", "keyspace", nn_string()))
        .field(value_field("version", "version", string()))
        .field(value_field("deployDate", "deployDate", string()))
        .field(value_field("contents", "contents", string()))
        .field(value_field("contentsUri", "contentsUri", string()));
    Schema::build("Query", Some("Mutation"), None)
        .enable_uploading()
        .register(query)
        .register(mutation)
        .register(response)
        .register(log)
        .register(location)
        .register(source)
        .register(Enum::new("MigrationStrategy").items(STRATEGIES))
        .register(Enum::new("LogCategory").items(["INFO", "WARNING"]))
        .data(shared)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeuuid_tells_its_time() {
        let before = chrono::Utc::now().timestamp_millis();
        let id = schema_first::time_uuid();
        let after = chrono::Utc::now().timestamp_millis();
        let at = timeuuid_millis(id);
        assert!(before <= at && at <= after, "{before} <= {at} <= {after}");
    }
}

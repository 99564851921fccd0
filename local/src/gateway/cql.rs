//! The gateway's one connection to Cassandra, and the CQL it builds.
//!
//! Every API of the gateway turns a request into CQL and runs it here, on the stack's real node:
//! that is what makes a row written through REST readable through gRPC or plain CQL. The session
//! logs in as the superuser (the APIs check their own tokens first, see `auth`), prepares every
//! statement once (`CachingSession`) and binds values by the types Cassandra reports for the bind
//! markers. Builders of CQL text are pure functions, unit-tested below.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use scylla::client::caching_session::CachingSession;
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::cluster::metadata::{ColumnKind, ColumnType};
use scylla::errors::{
    ConnectionError, ConnectionPoolError, ConnectionSetupRequestErrorKind, DbError, ExecutionError, MetadataError,
    NewSessionError, PrepareError, RequestAttemptError,
};
use scylla::response::{PagingState, PagingStateResponse};
use scylla::statement::Consistency;
use scylla::statement::batch::{Batch, BatchType};
use scylla::statement::prepared::PreparedStatement;
use scylla::statement::unprepared::Statement;
use scylla::value::{CqlValue, MaybeUnset, Row};
use tokio::sync::Mutex;
use tonic::Code;

/// Prepared statements kept per session (the REST API's statements repeat a lot).
const STATEMENT_CACHE_SIZE: usize = 2048;
/// Keyspace-scoped sessions kept for gRPC's `QueryParameters.keyspace`.
const KEYSPACE_SESSIONS: usize = 16;
/// How long a login (the gateway's own, or a credentials check) may take.
const LOGIN_TIMEOUT: Duration = Duration::from_secs(15);

/// A bind value: a value, a CQL null (`Set(None)`), or left unset.
pub type Bind = MaybeUnset<Option<CqlValue>>;

/// How often, and how long apart, a statement is retried when the node says its table does not
/// exist although the schema lists it. Cassandra writes a new table into `system_schema` a
/// moment before it accepts statements on it, so a client that sees another client's fresh
/// table can hit that window; Stargate reads the node's live schema and never sees it.
const SCHEMA_RACE_RETRIES: u32 = 5;
const SCHEMA_RACE_PAUSE: std::time::Duration = std::time::Duration::from_millis(50);

/// True for the node's answers inside that window: "table … does not exist" (Cassandra 5;
/// older: "unconfigured table") and, for a write, "Unknown CF <table id>" (the table is in the
/// schema but its storage is not open yet). Neither applied anything, so a retry is safe.
fn is_schema_race(message: &str) -> bool {
    (message.contains("table ") && message.contains("does not exist"))
        || message.contains("unconfigured table")
        || message.contains("Unknown CF ")
}

/// A failed statement, classified the way Stargate's gRPC layer classifies Cassandra's errors
/// (reference §5.3). The REST API maps the same code to HTTP (reference §0).
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct CqlError {
    pub code: Code,
    /// Cassandra's own message (e.g. `unconfigured table t`), or the driver's.
    pub message: String,
    /// The server's error, when the node answered with one.
    pub db_error: Option<DbError>,
}

impl CqlError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            db_error: None,
        }
    }
}

/// The gRPC code Stargate answers a Cassandra error with.
pub fn code_for_db_error(error: &DbError) -> Code {
    match error {
        DbError::SyntaxError | DbError::Invalid => Code::InvalidArgument,
        DbError::AlreadyExists { .. } => Code::AlreadyExists,
        DbError::Unauthorized => Code::PermissionDenied,
        DbError::AuthenticationError => Code::Unauthenticated,
        DbError::ConfigError | DbError::FunctionFailure { .. } => Code::FailedPrecondition,
        DbError::Unavailable { .. } | DbError::IsBootstrapping => Code::Unavailable,
        DbError::Overloaded | DbError::RateLimitReached { .. } => Code::ResourceExhausted,
        DbError::WriteTimeout { .. } | DbError::ReadTimeout { .. } => Code::DeadlineExceeded,
        DbError::ReadFailure { .. } | DbError::WriteFailure { .. } | DbError::TruncateError => Code::Aborted,
        DbError::ServerError | DbError::ProtocolError | DbError::Unprepared { .. } => Code::Internal,
        _ => Code::Unknown,
    }
}

fn from_attempt(error: &RequestAttemptError) -> CqlError {
    match error {
        RequestAttemptError::DbError(db, message) => CqlError {
            code: code_for_db_error(db),
            message: message.clone(),
            db_error: Some(db.clone()),
        },
        RequestAttemptError::SerializationError(e) => CqlError::new(Code::InvalidArgument, e.to_string()),
        RequestAttemptError::BrokenConnectionError(e) => CqlError::new(Code::Unavailable, e.to_string()),
        other => CqlError::new(Code::Internal, other.to_string()),
    }
}

impl From<ExecutionError> for CqlError {
    fn from(error: ExecutionError) -> Self {
        match &error {
            ExecutionError::LastAttemptError(attempt) => from_attempt(attempt),
            ExecutionError::PrepareError(prepare) => from_prepare(prepare),
            ExecutionError::BadQuery(e) => CqlError::new(Code::InvalidArgument, e.to_string()),
            ExecutionError::RequestTimeout(_) => CqlError::new(Code::DeadlineExceeded, error.to_string()),
            ExecutionError::ConnectionPoolError(_) | ExecutionError::EmptyPlan => {
                CqlError::new(Code::Unavailable, error.to_string())
            }
            _ => CqlError::new(Code::Internal, error.to_string()),
        }
    }
}

fn from_prepare(error: &PrepareError) -> CqlError {
    match error {
        PrepareError::AllAttemptsFailed { first_attempt } => from_attempt(first_attempt),
        PrepareError::ConnectionPoolError(e) => CqlError::new(Code::Unavailable, e.to_string()),
        other => CqlError::new(Code::Internal, other.to_string()),
    }
}

impl From<PrepareError> for CqlError {
    fn from(error: PrepareError) -> Self {
        from_prepare(&error)
    }
}

/// True when the node refused the credentials (CQL error "bad credentials").
pub fn is_bad_credentials(error: &NewSessionError) -> bool {
    let NewSessionError::MetadataError(MetadataError::ConnectionPoolError(ConnectionPoolError::Broken {
        last_connection_error: ConnectionError::ConnectionSetupRequestError(setup),
    })) = error
    else {
        return false;
    };
    matches!(
        setup.get_error(),
        ConnectionSetupRequestErrorKind::DbError(DbError::AuthenticationError, _)
    )
}

/// A login attempt's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Login {
    Accepted,
    Rejected,
}

/// One page of rows with the types of its columns.
#[derive(Debug, Clone, Default)]
pub struct Page {
    pub columns: Vec<(String, ColumnType<'static>)>,
    pub rows: Vec<Vec<Option<CqlValue>>>,
    /// Cassandra's paging state when more rows follow.
    pub paging_state: Option<Vec<u8>>,
}

/// What a statement returned.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `Some` for statements that return rows (SELECT).
    pub page: Option<Page>,
    pub warnings: Vec<String>,
}

/// How to run a statement.
#[derive(Debug, Clone)]
pub struct Options {
    pub consistency: Consistency,
    pub serial_consistency: Option<scylla::statement::SerialConsistency>,
    pub page_size: i32,
    pub paging_state: Option<Vec<u8>>,
    /// Write timestamp in microseconds.
    pub timestamp: Option<i64>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            consistency: Consistency::LocalQuorum,
            serial_consistency: None,
            page_size: 100,
            paging_state: None,
            timestamp: None,
        }
    }
}

/// A table as the row endpoints need it: key columns in order, then the others by name.
#[derive(Debug, Clone)]
pub struct TableSchema {
    pub keyspace: String,
    pub name: String,
    pub partition_key: Vec<String>,
    pub clustering_key: Vec<String>,
    pub columns: Vec<(String, ColumnType<'static>, ColumnKind)>,
}

impl TableSchema {
    pub fn column(&self, name: &str) -> Option<&ColumnType<'static>> {
        self.columns.iter().find(|(n, _, _)| n == name).map(|(_, t, _)| t)
    }
    /// Partition keys then clustering keys, with their types.
    pub fn primary_key(&self) -> Vec<(&str, &ColumnType<'static>)> {
        self.partition_key
            .iter()
            .chain(&self.clustering_key)
            .filter_map(|name| self.column(name).map(|t| (name.as_str(), t)))
            .collect()
    }
    pub fn column_names(&self) -> Vec<&str> {
        self.columns.iter().map(|(n, _, _)| n.as_str()).collect()
    }
}

/// Why a table could not be found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemaMiss {
    Keyspace,
    Table,
}

/// The gateway's Cassandra: a superuser session plus keyspace-scoped sessions for gRPC.
pub struct Cql {
    session: CachingSession,
    scoped: Mutex<HashMap<String, Arc<CachingSession>>>,
    contact_point: String,
    username: String,
    password: String,
}

impl std::fmt::Debug for Cql {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cql")
            .field("contact_point", &self.contact_point)
            .finish_non_exhaustive()
    }
}

async fn open_session(
    contact_point: &str,
    username: &str,
    password: &str,
    keyspace: Option<&str>,
    metadata: bool,
) -> Result<Session, NewSessionError> {
    let mut builder = SessionBuilder::new()
        .known_node(contact_point)
        .user(username, password)
        .connection_timeout(Duration::from_secs(5))
        .fetch_schema_metadata(metadata);
    if let Some(keyspace) = keyspace {
        builder = builder.use_keyspace(keyspace, true);
    }
    builder.build().await
}

impl Cql {
    /// Logs in to `contact_point` (host:port) as `username`.
    pub async fn connect(contact_point: &str, username: &str, password: &str) -> Result<Self, NewSessionError> {
        let session = open_session(contact_point, username, password, None, true).await?;
        Ok(Self {
            session: CachingSession::from(session, STATEMENT_CACHE_SIZE),
            scoped: Mutex::new(HashMap::new()),
            contact_point: contact_point.to_string(),
            username: username.to_string(),
            password: password.to_string(),
        })
    }

    pub fn session(&self) -> &Session {
        self.session.get_session()
    }

    /// Checks credentials by logging in with them (a throw-away connection): Cassandra itself
    /// decides, with its own password hashes.
    pub async fn check_login(&self, username: &str, password: &str) -> Result<Login, CqlError> {
        let attempt = open_session(&self.contact_point, username, password, None, false);
        match tokio::time::timeout(LOGIN_TIMEOUT, attempt).await {
            Ok(Ok(_session)) => Ok(Login::Accepted),
            Ok(Err(error)) if is_bad_credentials(&error) => Ok(Login::Rejected),
            Ok(Err(error)) => Err(CqlError::new(Code::Unavailable, error.to_string())),
            Err(_) => Err(CqlError::new(Code::Unavailable, "login to Cassandra timed out")),
        }
    }

    /// The session whose unqualified table names resolve in `keyspace`.
    async fn scoped(&self, keyspace: Option<&str>) -> Result<Option<Arc<CachingSession>>, CqlError> {
        let Some(keyspace) = keyspace.filter(|k| !k.is_empty()) else {
            return Ok(None);
        };
        let mut scoped = self.scoped.lock().await;
        if let Some(session) = scoped.get(keyspace) {
            return Ok(Some(session.clone()));
        }
        let session = open_session(
            &self.contact_point,
            &self.username,
            &self.password,
            Some(keyspace),
            false,
        )
        .await
        .map_err(|e| match e {
            NewSessionError::UseKeyspaceError(..) => {
                CqlError::new(Code::InvalidArgument, format!("Keyspace '{keyspace}' does not exist"))
            }
            other => CqlError::new(Code::Unavailable, other.to_string()),
        })?;
        if scoped.len() >= KEYSPACE_SESSIONS
            && let Some(oldest) = scoped.keys().next().cloned()
        {
            scoped.remove(&oldest);
        }
        let session = Arc::new(CachingSession::from(session, STATEMENT_CACHE_SIZE / 4));
        scoped.insert(keyspace.to_string(), session.clone());
        Ok(Some(session))
    }

    /// Prepares `cql` (cached), with unqualified names resolved in `keyspace` when given.
    pub async fn prepare(&self, cql: &str, keyspace: Option<&str>) -> Result<PreparedStatement, CqlError> {
        let statement = Statement::new(cql);
        let scoped = self.scoped(keyspace).await?;
        let mut attempt = 0;
        loop {
            let prepared = match &scoped {
                Some(scoped) => scoped.add_prepared_statement(&statement).await,
                None => self.session.add_prepared_statement(&statement).await,
            };
            match prepared {
                Err(error) if attempt < SCHEMA_RACE_RETRIES && is_schema_race(&error.to_string()) => {
                    attempt += 1;
                    tokio::time::sleep(SCHEMA_RACE_PAUSE).await;
                }
                other => return Ok(other?),
            }
        }
    }

    /// Runs a prepared statement and returns one page.
    pub async fn execute(
        &self,
        prepared: &PreparedStatement,
        values: Vec<Bind>,
        options: &Options,
    ) -> Result<Outcome, CqlError> {
        let mut prepared = prepared.clone();
        prepared.set_consistency(options.consistency);
        prepared.set_serial_consistency(options.serial_consistency);
        prepared.set_page_size(if options.page_size > 0 { options.page_size } else { 100 });
        if let Some(timestamp) = options.timestamp {
            prepared.set_timestamp(Some(timestamp));
        }
        let paging = match &options.paging_state {
            Some(state) => PagingState::new_from_raw_bytes(state.as_slice()),
            None => PagingState::start(),
        };
        let mut attempt = 0;
        let (result, paging_response) = loop {
            match self
                .session()
                .execute_single_page(&prepared, values.clone(), paging.clone())
                .await
            {
                Err(error) if attempt < SCHEMA_RACE_RETRIES && is_schema_race(&error.to_string()) => {
                    attempt += 1;
                    tokio::time::sleep(SCHEMA_RACE_PAUSE).await;
                }
                other => break other?,
            }
        };
        let warnings = result.warnings().map(str::to_string).collect();
        if !result.is_rows() {
            return Ok(Outcome { page: None, warnings });
        }
        let rows_result = result
            .into_rows_result()
            .map_err(|e| CqlError::new(Code::Internal, e.to_string()))?;
        let columns = rows_result
            .column_specs()
            .iter()
            .map(|spec| (spec.name().to_string(), spec.typ().clone().into_owned()))
            .collect();
        let rows = rows_result
            .rows::<Row>()
            .map_err(|e| CqlError::new(Code::Internal, e.to_string()))?
            .map(|row| row.map(|r| r.columns))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CqlError::new(Code::Internal, e.to_string()))?;
        let paging_state = match paging_response {
            PagingStateResponse::HasMorePages { state } => state.as_bytes_slice().map(|b| b.to_vec()),
            PagingStateResponse::NoMorePages => None,
        };
        Ok(Outcome {
            page: Some(Page {
                columns,
                rows,
                paging_state,
            }),
            warnings,
        })
    }

    /// Prepares and runs `cql` with `values`.
    pub async fn run(&self, cql: &str, values: Vec<Bind>, options: &Options) -> Result<Outcome, CqlError> {
        let prepared = self.prepare(cql, None).await?;
        self.execute(&prepared, values, options).await
    }

    /// Runs a statement that takes no values without preparing it (DDL, one-off reads).
    pub async fn run_unprepared(&self, cql: &str) -> Result<Outcome, CqlError> {
        let mut statement = Statement::new(cql);
        statement.set_consistency(Consistency::LocalQuorum);
        let result = self.session().query_unpaged(statement, ()).await?;
        let warnings = result.warnings().map(str::to_string).collect();
        if !result.is_rows() {
            return Ok(Outcome { page: None, warnings });
        }
        let rows_result = result
            .into_rows_result()
            .map_err(|e| CqlError::new(Code::Internal, e.to_string()))?;
        let columns = rows_result
            .column_specs()
            .iter()
            .map(|spec| (spec.name().to_string(), spec.typ().clone().into_owned()))
            .collect();
        let rows = rows_result
            .rows::<Row>()
            .map_err(|e| CqlError::new(Code::Internal, e.to_string()))?
            .map(|row| row.map(|r| r.columns))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| CqlError::new(Code::Internal, e.to_string()))?;
        Ok(Outcome {
            page: Some(Page {
                columns,
                rows,
                paging_state: None,
            }),
            warnings,
        })
    }

    /// Runs a DDL statement, then refreshes the schema the row endpoints read.
    pub async fn run_ddl(&self, cql: &str) -> Result<Outcome, CqlError> {
        let outcome = self.run_unprepared(cql).await?;
        self.refresh_schema().await;
        Ok(outcome)
    }

    /// Runs prepared statements as one batch.
    pub async fn batch(
        &self,
        batch_type: BatchType,
        statements: Vec<(PreparedStatement, Vec<Bind>)>,
        options: &Options,
    ) -> Result<Outcome, CqlError> {
        let mut batch = Batch::new(batch_type);
        let mut values = Vec::with_capacity(statements.len());
        for (prepared, bind) in statements {
            batch.append_statement(prepared);
            values.push(bind);
        }
        batch.set_consistency(options.consistency);
        batch.set_serial_consistency(options.serial_consistency);
        if let Some(timestamp) = options.timestamp {
            batch.set_timestamp(Some(timestamp));
        }
        let result = self.session().batch(&batch, values).await?;
        Ok(Outcome {
            page: None,
            warnings: result.warnings().map(str::to_string).collect(),
        })
    }

    /// Asks the node for the current schema (after our own DDL, or when a name is not found).
    pub async fn refresh_schema(&self) {
        if let Err(error) = self.session().refresh_metadata().await {
            tracing::warn!(%error, "could not refresh the schema metadata");
        }
    }

    fn lookup(&self, keyspace: &str, table: &str) -> Result<TableSchema, SchemaMiss> {
        let state = self.session().get_cluster_state();
        let ks = state.get_keyspace(keyspace).ok_or(SchemaMiss::Keyspace)?;
        let t = ks.tables.get(table).ok_or(SchemaMiss::Table)?;
        let mut columns: Vec<(String, ColumnType<'static>, ColumnKind)> = Vec::with_capacity(t.columns.len());
        for name in t.partition_key.iter().chain(&t.clustering_key) {
            if let Some(c) = t.columns.get(name) {
                columns.push((name.clone(), c.typ.clone(), c.kind.clone()));
            }
        }
        let mut others: Vec<_> = t
            .columns
            .iter()
            .filter(|(_, c)| matches!(c.kind, ColumnKind::Regular | ColumnKind::Static))
            .map(|(n, c)| (n.clone(), c.typ.clone(), c.kind.clone()))
            .collect();
        others.sort_by(|a, b| (a.2 != ColumnKind::Static, &a.0).cmp(&(b.2 != ColumnKind::Static, &b.0)));
        columns.extend(others);
        Ok(TableSchema {
            keyspace: keyspace.to_string(),
            name: table.to_string(),
            partition_key: t.partition_key.clone(),
            clustering_key: t.clustering_key.clone(),
            columns,
        })
    }

    /// A table's schema; on a miss the schema is refreshed once before giving up, so tables
    /// created a moment ago (through any interface) are found.
    pub async fn table(&self, keyspace: &str, table: &str) -> Result<TableSchema, SchemaMiss> {
        match self.lookup(keyspace, table) {
            Ok(schema) => Ok(schema),
            Err(_) => {
                self.refresh_schema().await;
                self.lookup(keyspace, table)
            }
        }
    }

    /// True when the keyspace exists (refreshing the schema once on a miss).
    pub async fn keyspace_exists(&self, keyspace: &str) -> bool {
        if self.session().get_cluster_state().get_keyspace(keyspace).is_some() {
            return true;
        }
        self.refresh_schema().await;
        self.session().get_cluster_state().get_keyspace(keyspace).is_some()
    }
}

// ---------------------------------------------------------------------------------------------
// CQL text builders (pure)
// ---------------------------------------------------------------------------------------------

/// A CQL identifier, always double-quoted: the REST API's names are case-sensitive.
pub fn ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"ks"."t"`.
pub fn qualified(keyspace: &str, table: &str) -> String {
    format!("{}.{}", ident(keyspace), ident(table))
}

/// A CQL string literal.
pub fn string_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// A condition of a WHERE clause, with one `?` per bound value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `"c" <op> ?` for `=`, `<`, `<=`, `>`, `>=`.
    Compare { column: String, op: &'static str },
    /// `"c" IN (?, ?, …)`.
    In { column: String, count: usize },
    /// `"c" CONTAINS ?`.
    Contains { column: String },
    /// `"c" CONTAINS KEY ?`.
    ContainsKey { column: String },
    /// `"c"[?] = ?`.
    Entry { column: String },
}

impl Condition {
    fn to_cql(&self) -> String {
        match self {
            Condition::Compare { column, op } => format!("{} {op} ?", ident(column)),
            Condition::In { column, count } => format!("{} IN ({})", ident(column), vec!["?"; *count].join(", ")),
            Condition::Contains { column } => format!("{} CONTAINS ?", ident(column)),
            Condition::ContainsKey { column } => format!("{} CONTAINS KEY ?", ident(column)),
            Condition::Entry { column } => format!("{}[?] = ?", ident(column)),
        }
    }
}

fn where_clause(conditions: &[Condition]) -> String {
    if conditions.is_empty() {
        String::new()
    } else {
        format!(
            " WHERE {}",
            conditions
                .iter()
                .map(Condition::to_cql)
                .collect::<Vec<_>>()
                .join(" AND ")
        )
    }
}

/// Ascending or descending, for ORDER BY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// `SELECT <fields or *> FROM ks.t [WHERE …] [ORDER BY …]`.
pub fn select(
    keyspace: &str,
    table: &str,
    fields: &[String],
    conditions: &[Condition],
    sort: &[(String, Order)],
) -> String {
    let columns = if fields.is_empty() {
        "*".to_string()
    } else {
        fields.iter().map(|f| ident(f)).collect::<Vec<_>>().join(", ")
    };
    let mut cql = format!(
        "SELECT {columns} FROM {}{}",
        qualified(keyspace, table),
        where_clause(conditions)
    );
    if !sort.is_empty() {
        let order: Vec<String> = sort
            .iter()
            .map(|(c, o)| format!("{} {}", ident(c), if *o == Order::Desc { "DESC" } else { "ASC" }))
            .collect();
        cql.push_str(&format!(" ORDER BY {}", order.join(", ")));
    }
    cql
}

/// `INSERT INTO ks.t (a, b) VALUES (?, ?)`.
pub fn insert(keyspace: &str, table: &str, columns: &[String]) -> String {
    format!(
        "INSERT INTO {} ({}) VALUES ({})",
        qualified(keyspace, table),
        columns.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "),
        vec!["?"; columns.len()].join(", ")
    )
}

/// `UPDATE ks.t SET a = ?, n = n + ? WHERE …` (counters are incremented).
pub fn update(keyspace: &str, table: &str, assignments: &[(String, bool)], conditions: &[Condition]) -> String {
    let set: Vec<String> = assignments
        .iter()
        .map(|(c, counter)| {
            if *counter {
                format!("{0} = {0} + ?", ident(c))
            } else {
                format!("{} = ?", ident(c))
            }
        })
        .collect();
    format!(
        "UPDATE {} SET {}{}",
        qualified(keyspace, table),
        set.join(", "),
        where_clause(conditions)
    )
}

/// `DELETE FROM ks.t WHERE …`.
pub fn delete(keyspace: &str, table: &str, conditions: &[Condition]) -> String {
    format!("DELETE FROM {}{}", qualified(keyspace, table), where_clause(conditions))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_and_escaped() {
        assert_eq!(ident("Name"), "\"Name\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(string_literal("it's"), "'it''s'");
    }

    #[test]
    fn select_builds_fields_conditions_and_order() {
        let cql = select(
            "ks",
            "t",
            &["a".into(), "b".into()],
            &[
                Condition::Compare {
                    column: "id".into(),
                    op: "=",
                },
                Condition::In {
                    column: "c".into(),
                    count: 2,
                },
                Condition::Entry { column: "m".into() },
            ],
            &[("c".into(), Order::Desc)],
        );
        assert_eq!(
            cql,
            "SELECT \"a\", \"b\" FROM \"ks\".\"t\" WHERE \"id\" = ? AND \"c\" IN (?, ?) AND \"m\"[?] = ? ORDER BY \"c\" DESC"
        );
        assert_eq!(select("ks", "t", &[], &[], &[]), "SELECT * FROM \"ks\".\"t\"");
    }

    #[test]
    fn writes_bind_every_value() {
        assert_eq!(
            insert("ks", "t", &["id".into(), "v".into()]),
            "INSERT INTO \"ks\".\"t\" (\"id\", \"v\") VALUES (?, ?)"
        );
        assert_eq!(
            update(
                "ks",
                "t",
                &[("v".into(), false), ("n".into(), true)],
                &[Condition::Compare {
                    column: "id".into(),
                    op: "="
                }]
            ),
            "UPDATE \"ks\".\"t\" SET \"v\" = ?, \"n\" = \"n\" + ? WHERE \"id\" = ?"
        );
        assert_eq!(
            delete(
                "ks",
                "t",
                &[Condition::Compare {
                    column: "id".into(),
                    op: "="
                }]
            ),
            "DELETE FROM \"ks\".\"t\" WHERE \"id\" = ?"
        );
    }

    #[test]
    fn cassandra_errors_map_to_stargates_grpc_codes() {
        assert_eq!(code_for_db_error(&DbError::SyntaxError), Code::InvalidArgument);
        assert_eq!(code_for_db_error(&DbError::Invalid), Code::InvalidArgument);
        assert_eq!(
            code_for_db_error(&DbError::AlreadyExists {
                keyspace: "k".into(),
                table: "t".into()
            }),
            Code::AlreadyExists
        );
        assert_eq!(code_for_db_error(&DbError::Unauthorized), Code::PermissionDenied);
        assert_eq!(code_for_db_error(&DbError::ConfigError), Code::FailedPrecondition);
        assert_eq!(code_for_db_error(&DbError::Overloaded), Code::ResourceExhausted);
        assert_eq!(code_for_db_error(&DbError::ServerError), Code::Internal);
    }
}

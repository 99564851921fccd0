//! sample-grpc: CQL over Stargate's gRPC API with `tonic` and `prost`. It connects (TLS to
//! Astra, plaintext HTTP/2 to a self-hosted Stargate), sends the token as `x-cassandra-token`
//! metadata, reads `system.local`, creates a table, inserts rows with bound values, runs a batch,
//! reads rows into typed Rust values, pages through them with a paging state, deletes a row and
//! drops the table.
//!
//! Stargate gRPC is deprecated on Astra (September 2024, end of life from the end of 2025); it
//! serves self-hosted Stargate. New Astra projects should use CQL (`sample-cql`) or the Data API.
//!
//! ```text
//! cargo run -p sample-grpc                                   # the whole tour
//! cargo run -p sample-grpc -- --cql "SELECT * FROM system.local"   # run one statement, print its rows
//! cargo run -p sample-grpc -- --keep-table                   # leave the table for a look with cqlsh
//! ```
//!
//! Astra: `ASTRA_DB_ID`, `ASTRA_DB_REGION`, `ASTRA_DB_APPLICATION_TOKEN`, `ASTRA_DB_KEYSPACE`.
//! Self-hosted Stargate: `STARGATE_GRPC_ENDPOINT` (e.g. `http://localhost:8090`), a token in
//! `ASTRA_DB_APPLICATION_TOKEN` or `STARGATE_AUTH_URL` + `STARGATE_USERNAME` + `STARGATE_PASSWORD`,
//! and `ASTRA_DB_KEYSPACE`. Settings come from the environment or `.env`.
//! Walkthrough: samples/grpc/README.md.

mod values;

use std::fmt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use clap::Parser;
use common::{Token, endpoints, http, settings};
use reqwest::Url;
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Code, Request, Status};
use uuid::Uuid;

use proto::stargate::stargate_client::StargateClient;
use proto::stargate::{
    self as pb, Batch, BatchParameters, BatchQuery, Consistency, ConsistencyValue, Query, QueryParameters, ResultSet,
    Value, Values, batch, response, schema_change,
};
use values::{as_bigint, as_boolean, as_double, as_int, as_text, as_timestamp, as_uuid, named_rows, optional};

/// The code `build.rs` generates from `proto/`: package `stargate` (the service and its messages)
/// and `google.rpc` (the `Status` that streaming answers carry).
#[allow(dead_code)] // the generated API is larger than this sample uses
mod proto {
    pub mod stargate {
        tonic::include_proto!("stargate");
    }
    pub mod google {
        pub mod rpc {
            tonic::include_proto!("google.rpc");
        }
    }
}

/// TCP, TLS and HTTP/2 set-up together must finish within this time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How many tasks the tour writes: half one by one, half in a batch.
const TASKS: i32 = 10;
/// Rows per page when paging (small, so that a few rows make several pages).
const PAGE_SIZE: i32 = 4;
/// A bound on the paging loop, far above what `TASKS` and `PAGE_SIZE` need.
const MAX_PAGES: usize = 100;

#[derive(Parser)]
#[command(about = "CQL over Stargate's gRPC API (Astra or self-hosted Stargate) with tonic and prost.")]
struct Args {
    /// Run this one CQL statement instead of the tour, and print what comes back (the first page
    /// of rows). Qualify table names with their keyspace.
    #[arg(long, value_name = "STATEMENT")]
    cql: Option<String>,
    /// Leave the tour's table and rows in place at the end (to look at them with cqlsh); by
    /// default the table is dropped.
    #[arg(long)]
    keep_table: bool,
    /// Seconds to wait for each answer. DDL (CREATE/DROP TABLE) waits for schema agreement and is
    /// the slowest call.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "sample_grpc=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // One TLS stack for the whole program: rustls with the aws-lc-rs crypto provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: what failed, then why ("a: b: c").
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    settings::load_dotenv()?;
    let started = Instant::now();
    let endpoint = endpoints::grpc_endpoint()?;
    let keyspace = if args.cql.is_none() { Some(keyspace()?) } else { None };
    let token = token().await?;

    // 1. Connect, and check the token with a first query.
    let session = connect(&endpoint, &token, Duration::from_secs(args.timeout)).await?;
    print_cluster_info(&session).await?;

    if let Some(cql) = &args.cql {
        run_statement(&session, cql).await?;
        println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
        return Ok(());
    }

    // 2. A table of our own: its name is unique to this run, so runs never meet, even at the
    //    same time, and dropping it at the end leaves nothing behind.
    let keyspace = keyspace.context("the keyspace was read above")?;
    let list_id = Uuid::new_v4();
    let table = format!("{keyspace}.sample_grpc_{}", &list_id.simple().to_string()[..12]);
    create_table(&session, &table).await?;

    // 3. Data, then clean-up (also when a step fails, so a failed run leaves no table behind).
    let outcome = use_table(&session, &table, list_id).await;
    if args.keep_table {
        println!("Kept table {table} (--keep-table): drop it with `DROP TABLE {table}`.");
    } else if let Err(error) = drop_table(&session, &table).await {
        if outcome.is_ok() {
            return Err(error);
        }
        tracing::warn!("could not drop {table} after the failure below: {error:#}");
    }
    outcome?;

    println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// The steps that write and read the table.
async fn use_table(session: &Session, table: &str, list_id: Uuid) -> anyhow::Result<()> {
    insert_tasks(session, table, list_id).await?;
    run_batch(session, table, list_id).await?;
    select_tasks(session, table, list_id).await?;
    page_through_tasks(session, table, list_id).await?;
    delete_task(session, table, list_id).await
}

// ---- Settings ----------------------------------------------------------------------------------

fn keyspace() -> anyhow::Result<String> {
    let keyspace = settings::required(settings::ASTRA_DB_KEYSPACE)?;
    // The name goes into CQL text (it cannot be a bound value), so accept only a plain identifier.
    let valid = keyspace.len() <= 48 && keyspace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(settings::SettingError::Malformed {
            var: settings::ASTRA_DB_KEYSPACE,
            reason: "a keyspace name has only letters, digits and underscores (at most 48)".into(),
        }
        .into());
    }
    Ok(keyspace)
}

/// The token sent with every call: an Astra application token (`AstraCS:…`) or a Stargate token.
/// Without one, a self-hosted Stargate's auth API turns a Cassandra user name and password into
/// one.
async fn token() -> anyhow::Result<Token> {
    if let Some(token) = settings::optional_token(settings::ASTRA_DB_APPLICATION_TOKEN)? {
        return Ok(token);
    }
    match settings::optional(settings::STARGATE_USERNAME)? {
        Some(username) => token_from_auth_api(&username, &settings::token(settings::STARGATE_PASSWORD)?).await,
        None => Err(settings::SettingError::Missing(settings::ASTRA_DB_APPLICATION_TOKEN).into()),
    }
}

/// Stargate's auth API: `POST /v1/auth` with `{"username", "password"}` answers 201 with
/// `{"authToken": "<uuid>"}`. The token expires after 30 minutes without use.
async fn token_from_auth_api(username: &str, password: &Token) -> anyhow::Result<Token> {
    let url = endpoints::join(&endpoints::auth_url()?, "/v1/auth");
    let client = http::client("sample-grpc")?;
    let body = serde_json::json!({ "username": username, "password": password.expose() });
    // Sent once: a login is not retried blindly.
    let response = http::check(http::send_once(client.post(url.clone()).json(&body)).await?).await?;
    let answer: serde_json::Value = response
        .json()
        .await
        .with_context(|| format!("{url} did not answer JSON"))?;
    let token = answer["authToken"]
        .as_str()
        .with_context(|| format!("{url} answered without an authToken"))?;
    tracing::info!("got a token from {url} for {username}");
    Ok(Token::new(token))
}

// ---- The connection ----------------------------------------------------------------------------

/// The generated client, with the token added to every call by [`TokenInterceptor`].
type Client = StargateClient<InterceptedService<Channel, TokenInterceptor>>;

/// Adds the token to every request as `x-cassandra-token` metadata, the header Stargate (and
/// Astra) authenticate each gRPC call with. gRPC metadata travels as HTTP/2 headers, whose names
/// are lowercase.
#[derive(Clone)]
struct TokenInterceptor {
    token: AsciiMetadataValue,
}

impl TokenInterceptor {
    fn new(token: &Token) -> anyhow::Result<Self> {
        let mut token = MetadataValue::try_from(token.expose()).map_err(|_| {
            anyhow!("the token has characters that cannot be sent in a header: check the token setting")
        })?;
        // Keeps the value out of tonic's and hyper's debug output.
        token.set_sensitive(true);
        Ok(Self { token })
    }
}

impl Interceptor for TokenInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request.metadata_mut().insert("x-cassandra-token", self.token.clone());
        Ok(request)
    }
}

/// The client and the deadline for each call.
struct Session {
    client: Client,
    timeout: Duration,
}

/// Opens the HTTP/2 connection: TLS for `https://` (Astra: the database's host on port 443, with
/// the certificate checked against public roots), plaintext HTTP/2 for `http://` (a self-hosted
/// Stargate on port 8090).
async fn connect(endpoint: &Url, token: &Token, timeout: Duration) -> anyhow::Result<Session> {
    let host = endpoint.host_str().context("the gRPC endpoint has no host")?;
    let port = endpoint
        .port_or_known_default()
        .context("the gRPC endpoint has no port")?;
    let uri = format!("{}://{host}:{port}", endpoint.scheme());
    let mut channel = Endpoint::from_shared(uri.clone())
        .with_context(|| format!("{uri} is not a valid gRPC endpoint"))?
        .user_agent(concat!("astra-rust-samples/sample-grpc ", env!("CARGO_PKG_VERSION")))?
        .connect_timeout(CONNECT_TIMEOUT);
    let tls = endpoint.scheme() == "https";
    let hint = if tls { UNREACHABLE_HINT_TLS } else { UNREACHABLE_HINT };
    if tls {
        // tonic negotiates HTTP/2 through ALPN, as Astra requires.
        let config = ClientTlsConfig::new()
            .with_enabled_roots()
            .domain_name(host)
            .timeout(CONNECT_TIMEOUT);
        channel = channel.tls_config(config).context("cannot set up TLS")?;
    }
    let channel = tokio::time::timeout(CONNECT_TIMEOUT, channel.connect())
        .await
        .map_err(|_| anyhow!("no answer from {uri} within {CONNECT_TIMEOUT:?}: {hint}"))?
        .map_err(|e| anyhow!("cannot connect to {uri} ({}): {hint}", http::error_chain(&e)))?;
    println!(
        "Opened an HTTP/2 connection to {uri} ({}).",
        if tls { "TLS" } else { "plaintext" }
    );
    let client = StargateClient::with_interceptor(channel, TokenInterceptor::new(token)?);
    Ok(Session { client, timeout })
}

const UNREACHABLE_HINT: &str = "check STARGATE_GRPC_ENDPOINT (self-hosted Stargate: http://<host>:8090) or \
     ASTRA_DB_ID and ASTRA_DB_REGION (Astra), and that the server is running";
const UNREACHABLE_HINT_TLS: &str = "check ASTRA_DB_ID and ASTRA_DB_REGION (Astra) or STARGATE_GRPC_ENDPOINT (a \
     Stargate without TLS needs http://), and that the server is running";

impl Session {
    /// Runs one statement (`ExecuteQuery`).
    async fn query(&self, query: Query) -> anyhow::Result<pb::Response> {
        tracing::debug!(cql = %query.cql, "ExecuteQuery");
        let mut client = self.client.clone(); // cheap: clones share one HTTP/2 connection
        let call = client.execute_query(request(query, self.timeout));
        finish(call, self.timeout).await
    }

    /// Runs a batch (`ExecuteBatch`).
    async fn batch(&self, batch: Batch) -> anyhow::Result<pb::Response> {
        tracing::debug!(statements = batch.queries.len(), "ExecuteBatch");
        let mut client = self.client.clone();
        let call = client.execute_batch(request(batch, self.timeout));
        finish(call, self.timeout).await
    }
}

fn request<T>(message: T, timeout: Duration) -> Request<T> {
    let mut request = Request::new(message);
    // Sent as the `grpc-timeout` header: tonic gives up after it, and so does the server.
    request.set_timeout(timeout);
    request
}

/// Waits for a call's answer: the response, or one line saying what went wrong.
async fn finish(
    call: impl Future<Output = Result<tonic::Response<pb::Response>, Status>>,
    timeout: Duration,
) -> anyhow::Result<pb::Response> {
    let no_answer = || anyhow!("no answer within {timeout:?} (raise it with --timeout)");
    let response = match tokio::time::timeout(timeout, call).await {
        Err(_elapsed) => return Err(no_answer()),
        Ok(Err(status)) if status.code() == Code::Cancelled && status.message() == "Timeout expired" => {
            return Err(no_answer());
        }
        Ok(Err(status)) => return Err(explain(&status)),
        Ok(Ok(response)) => response.into_inner(),
    };
    // Cassandra's warnings (a large batch, tombstones…) come back with the answer.
    for warning in &response.warnings {
        tracing::warn!("server warning: {warning}");
    }
    Ok(response)
}

/// A failed call as one line: the gRPC status code, the server's message, and what to do.
fn explain(status: &Status) -> anyhow::Error {
    let hint = match status.code() {
        Code::Unauthenticated => {
            ". The token is missing, wrong or expired: set ASTRA_DB_APPLICATION_TOKEN to an Astra token (Astra \
             Portal → Settings → Tokens) or a Stargate token (from its auth API, POST /v1/auth), or run \
             `scripts/astra-local env` for the local stack"
        }
        Code::PermissionDenied => ". The token's role may not do this: use a token with a role that can",
        Code::Unavailable => {
            ". The server or the database cannot be reached: check the endpoint, and that the database is active"
        }
        Code::DeadlineExceeded => ". Cassandra did not answer in time: try again",
        Code::Unimplemented => ". Is this a Stargate gRPC endpoint? (self-hosted Stargate serves it on port 8090)",
        _ => "",
    };
    anyhow!("Stargate answered {:?}: {}{hint}", status.code(), status.message())
}

// ---- Building requests -------------------------------------------------------------------------

/// How to run a query. Table names in this sample are qualified with their keyspace rather than
/// set here in `keyspace`: Astra once rejected that parameter (stargate#1317).
fn parameters(page_size: Option<i32>, paging_state: Option<Vec<u8>>) -> QueryParameters {
    QueryParameters {
        // LOCAL_QUORUM is also the server's default; Astra rejects writes at ONE or ANY.
        consistency: Some(ConsistencyValue {
            value: Consistency::LocalQuorum as i32,
        }),
        page_size,
        paging_state,
        ..QueryParameters::default()
    }
}

/// A statement with positional bind values, one per `?` marker, in order.
fn query(cql: impl Into<String>, values: Vec<Value>) -> Query {
    Query {
        cql: cql.into(),
        values: Some(Values {
            values,
            value_names: Vec::new(),
        }),
        parameters: Some(parameters(None, None)),
    }
}

/// A statement with named bind values, for `:name` markers (in any order).
fn named_query(cql: impl Into<String>, named: Vec<(&str, Value)>) -> Query {
    let (value_names, values) = named.into_iter().map(|(name, value)| (name.to_owned(), value)).unzip();
    Query {
        cql: cql.into(),
        values: Some(Values { values, value_names }),
        parameters: Some(parameters(None, None)),
    }
}

/// The rows of a SELECT; any other answer is an error.
fn rows(response: pb::Response) -> anyhow::Result<ResultSet> {
    match response.result {
        Some(response::Result::ResultSet(result)) => Ok(result),
        Some(response::Result::SchemaChange(_)) => bail!("expected rows, got a schema change"),
        None => bail!("expected rows, got an empty answer"),
    }
}

/// "CREATED TABLE default_keyspace.t" for a DDL answer.
fn describe_schema_change(response: &pb::Response) -> String {
    let Some(response::Result::SchemaChange(change)) = &response.result else {
        return "no schema change".into();
    };
    let kind = schema_change::Type::try_from(change.change_type).map_or("CHANGED", |t| t.as_str_name());
    let target = schema_change::Target::try_from(change.target).map_or("OBJECT", |t| t.as_str_name());
    match &change.name {
        Some(name) => format!("{kind} {target} {}.{name}", change.keyspace),
        None => format!("{kind} {target} {}", change.keyspace),
    }
}

// ---- The steps ---------------------------------------------------------------------------------

/// The same first query as every Astra tutorial: who are we talking to? As the first call, it
/// also proves the token (the connection alone does not: the token travels with each call).
async fn print_cluster_info(session: &Session) -> anyhow::Result<()> {
    let response = session
        .query(query(
            "SELECT release_version, cluster_name FROM system.local",
            Vec::new(),
        ))
        .await
        .context("cannot read system.local")?;
    let result = rows(response)?;
    let row = named_rows(&result).next().context("system.local returned no row")?;
    let (version, cluster) = (row.get("release_version", as_text)?, row.get("cluster_name", as_text)?);
    println!("Connected to cluster {cluster:?}, Cassandra {version}.");
    Ok(())
}

/// Creates the table. A DDL statement answers with a schema change, sent once the cluster
/// agrees on the new schema.
async fn create_table(session: &Session, table: &str) -> anyhow::Result<()> {
    let cql = format!(
        "CREATE TABLE {table} (
            list_id uuid, seq int, title text, done boolean, due timestamp, estimate_minutes bigint, score double,
            PRIMARY KEY (list_id, seq))"
    );
    let response = session
        .query(query(cql, Vec::new()))
        .await
        .with_context(|| format!("cannot create table {table}"))?;
    println!("Created the table: {}.", describe_schema_change(&response));
    Ok(())
}

/// When task `seq` is due: one day after another from 5 January 2026, 09:00 UTC.
fn due_date(seq: i32) -> anyhow::Result<DateTime<Utc>> {
    let first = NaiveDate::from_ymd_opt(2026, 1, 5)
        .and_then(|d| d.and_hms_opt(9, 0, 0))
        .context("a valid date")?;
    Ok(first.and_utc() + TimeDelta::days(i64::from(seq)))
}

const INSERT: &str = "(list_id, seq, title, done, due, estimate_minutes, score) VALUES (?, ?, ?, ?, ?, ?, ?)";

/// The bind values for task `seq`, in the order of [`INSERT`]'s markers.
fn task_values(list_id: Uuid, seq: i32, score: Value) -> anyhow::Result<Vec<Value>> {
    Ok(vec![
        values::uuid(list_id),
        values::int(seq),
        values::text(format!("task #{seq}")),
        values::boolean(false),
        values::timestamp(due_date(seq)?),
        values::bigint(15 * i64::from(seq)),
        score,
    ])
}

/// Inserts the first half of the tasks one statement at a time, with positional bound values.
/// The server prepares the statement and converts each value by its marker's CQL type.
async fn insert_tasks(session: &Session, table: &str, list_id: Uuid) -> anyhow::Result<()> {
    for seq in 1..=TASKS / 2 {
        let values = task_values(list_id, seq, values::double(f64::from(seq) / 10.0))?;
        // An INSERT answers with no result at all (neither rows nor a schema change).
        session
            .query(query(format!("INSERT INTO {table} {INSERT}"), values))
            .await
            .with_context(|| format!("cannot insert task #{seq}"))?;
    }
    println!("Inserted tasks #1 to #{} one by one (list {list_id}).", TASKS / 2);
    Ok(())
}

/// Inserts the other half and completes task #1 in one logged batch: all of it applies, or none.
/// These tasks get no score: `unset` writes nothing, so the column reads as null.
async fn run_batch(session: &Session, table: &str, list_id: Uuid) -> anyhow::Result<()> {
    let mut queries = Vec::new();
    for seq in TASKS / 2 + 1..=TASKS {
        let values = task_values(list_id, seq, values::unset())?;
        queries.push(BatchQuery {
            cql: format!("INSERT INTO {table} {INSERT}"),
            values: Some(Values {
                values,
                value_names: Vec::new(),
            }),
        });
    }
    queries.push(BatchQuery {
        cql: format!("UPDATE {table} SET done = ? WHERE list_id = ? AND seq = ?"),
        values: Some(Values {
            values: vec![values::boolean(true), values::uuid(list_id), values::int(1)],
            value_names: Vec::new(),
        }),
    });
    let batch = Batch {
        r#type: batch::Type::Logged as i32,
        queries,
        parameters: Some(BatchParameters {
            consistency: Some(ConsistencyValue {
                value: Consistency::LocalQuorum as i32,
            }),
            ..BatchParameters::default()
        }),
    };
    session.batch(batch).await.context("the batch failed")?;
    println!(
        "Ran a logged batch: inserted tasks #{} to #{TASKS} and marked task #1 done.",
        TASKS / 2 + 1
    );
    Ok(())
}

/// One task, decoded from a row into Rust types.
#[derive(Debug)]
struct Task {
    list_id: Uuid,
    seq: i32,
    title: String,
    done: bool,
    due: DateTime<Utc>,
    estimate_minutes: i64,
    score: Option<f64>,
}

impl Task {
    fn from_row(row: &values::NamedRow<'_>) -> anyhow::Result<Self> {
        Ok(Self {
            list_id: row.get("list_id", as_uuid)?,
            seq: row.get("seq", as_int)?,
            title: row.get("title", as_text)?,
            done: row.get("done", as_boolean)?,
            due: row.get("due", as_timestamp)?,
            estimate_minutes: row.get("estimate_minutes", as_bigint)?,
            score: row.get("score", |v| optional(v, as_double))?,
        })
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let score = self.score.map_or_else(|| "none".to_owned(), |s| s.to_string());
        write!(
            f,
            "#{} {:?}: done={}, due {}, estimate {} min, score {score}",
            self.seq,
            self.title,
            self.done,
            self.due.format("%Y-%m-%d %H:%M UTC"),
            self.estimate_minutes
        )
    }
}

/// Reads two tasks back with named bind values and decodes each row into a [`Task`].
async fn select_tasks(session: &Session, table: &str, list_id: Uuid) -> anyhow::Result<()> {
    let (first, last) = (1, TASKS);
    let select = named_query(
        format!("SELECT * FROM {table} WHERE list_id = :list_id AND seq IN (:first, :last)"),
        vec![
            ("list_id", values::uuid(list_id)),
            ("first", values::int(first)),
            ("last", values::int(last)),
        ],
    );
    let result = rows(session.query(select).await.context("cannot read the tasks")?)?;
    println!("Read tasks #{first} and #{last}:");
    for row in named_rows(&result) {
        let task = Task::from_row(&row)?;
        if task.list_id != list_id {
            bail!("task #{} belongs to list {}, not {list_id}", task.seq, task.list_id);
        }
        println!("  {task}");
    }
    Ok(())
}

/// Reads the whole list a few rows at a time. Each page comes with a paging state, an opaque
/// bookmark: send it back to get the next page. The last page has none.
async fn page_through_tasks(session: &Session, table: &str, list_id: Uuid) -> anyhow::Result<()> {
    println!("Paging through the list, {PAGE_SIZE} tasks a page:");
    let mut paging_state = None;
    let mut total = 0;
    for page in 1..=MAX_PAGES {
        let mut select = query(
            format!("SELECT seq FROM {table} WHERE list_id = ?"),
            vec![values::uuid(list_id)],
        );
        select.parameters = Some(parameters(Some(PAGE_SIZE), paging_state.take()));
        let result = rows(
            session
                .query(select)
                .await
                .with_context(|| format!("cannot read page {page}"))?,
        )?;
        let seqs = named_rows(&result)
            .map(|row| row.get("seq", as_int))
            .collect::<anyhow::Result<Vec<_>>>()?;
        total += seqs.len();
        println!("  page {page}: tasks {seqs:?}");
        match result.paging_state {
            Some(state) if !state.is_empty() => paging_state = Some(state),
            _ => {
                println!("Read {total} tasks in {page} pages.");
                return Ok(());
            }
        }
    }
    bail!("still more rows after {MAX_PAGES} pages: stopped")
}

/// Deletes the last task and counts what is left (`COUNT(*)` is a `bigint`).
async fn delete_task(session: &Session, table: &str, list_id: Uuid) -> anyhow::Result<()> {
    let key = || vec![("list_id", values::uuid(list_id)), ("seq", values::int(TASKS))];
    let delete = named_query(
        format!("DELETE FROM {table} WHERE list_id = :list_id AND seq = :seq"),
        key(),
    );
    session
        .query(delete)
        .await
        .with_context(|| format!("cannot delete task #{TASKS}"))?;
    let count = query(
        format!("SELECT COUNT(*) FROM {table} WHERE list_id = ?"),
        vec![values::uuid(list_id)],
    );
    let result = rows(session.query(count).await.context("cannot count the tasks")?)?;
    let left = named_rows(&result)
        .next()
        .context("COUNT(*) returned no row")?
        .get("count", as_bigint)?;
    println!("Deleted task #{TASKS}: {left} tasks left.");
    Ok(())
}

/// Drops the table: the run leaves nothing behind.
async fn drop_table(session: &Session, table: &str) -> anyhow::Result<()> {
    let response = session
        .query(query(format!("DROP TABLE {table}"), Vec::new()))
        .await
        .with_context(|| format!("cannot drop table {table}"))?;
    println!("Dropped the table: {}.", describe_schema_change(&response));
    Ok(())
}

/// `--cql`: runs one statement and prints the answer; values are rendered by their column type.
async fn run_statement(session: &Session, cql: &str) -> anyhow::Result<()> {
    let response = session
        .query(query(cql, Vec::new()))
        .await
        .with_context(|| format!("cannot run {cql:?}"))?;
    let result = match response.result {
        Some(response::Result::ResultSet(result)) => result,
        Some(response::Result::SchemaChange(_)) => {
            println!("{}.", describe_schema_change(&response));
            return Ok(());
        }
        None => {
            println!("OK (no rows).");
            return Ok(());
        }
    };
    let names: Vec<&str> = result.columns.iter().map(|c| c.name.as_str()).collect();
    println!("{}", names.join(" | "));
    for row in &result.rows {
        let cells: Vec<String> = row
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| values::display(v, result.columns.get(i).and_then(|c| c.r#type.as_ref())))
            .collect();
        println!("{}", cells.join(" | "));
    }
    let more = if result.paging_state.is_some() {
        " (first page only)"
    } else {
        ""
    };
    let count = result.rows.len();
    println!("({count} {}){more}", if count == 1 { "row" } else { "rows" });
    Ok(())
}

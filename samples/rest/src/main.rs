//! sample-rest: Stargate's REST API v2 with `reqwest`. Creates a table through the schema
//! endpoints (if missing), adds rows, reads one by primary key, searches with a `where` filter,
//! pages through results with `page-size`/`page-state`, updates rows with PUT and PATCH, deletes,
//! and lists the keyspace's tables.
//!
//! ```text
//! cargo run -p sample-rest                # the whole tour
//! cargo run -p sample-rest -- --rows 25   # more rows, more pages
//! cargo run -p sample-rest -- --keep      # leave this run's rows in the table, to look at them
//! ```
//!
//! The REST API is deprecated on Astra (September 2024, end of life from the end of 2025); it is
//! still Stargate's API. New Astra projects should use the Data API or CQL.
//!
//! Astra: `ASTRA_DB_ID`, `ASTRA_DB_REGION`, `ASTRA_DB_APPLICATION_TOKEN`, `ASTRA_DB_KEYSPACE`.
//! Self-hosted Stargate: `STARGATE_REST_URL` (e.g. http://localhost:8082), `ASTRA_DB_KEYSPACE`, and
//! a token in `ASTRA_DB_APPLICATION_TOKEN`, or `STARGATE_USERNAME` + `STARGATE_PASSWORD` to get
//! one from `STARGATE_AUTH_URL` (e.g. http://localhost:8081). Settings come from the environment
//! or `.env`. Walkthrough: samples/rest/README.md.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use common::http::{self, HttpError};
use common::{Token, endpoints, settings};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The table this sample writes to. Runs share it: each run writes its own partition (`run_id`),
/// so runs can go on at the same time, and each deletes its partition at the end.
const TABLE: &str = "sample_rest_tasks";
/// Rows per page when paging through the run's rows.
const PAGE_SIZE: usize = 4;
/// A bound on the paging loop (25 pages are enough for the largest `--rows`).
const MAX_PAGES: usize = 100;
/// Stargate reads the token from this header on every `/v2` call.
const TOKEN_HEADER: &str = "X-Cassandra-Token";

#[derive(Parser)]
#[command(
    about = "Create a table, then add, read, search, page through, update and delete rows with Stargate's REST API v2."
)]
struct Args {
    /// How many rows to add.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i32).range(3..=100))]
    rows: i32,
    /// Leave this run's rows in the table (they are deleted by default).
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // `common=warn` shows the HTTP client's "retrying" lines.
                .unwrap_or_else(|_| "sample_rest=info,common=warn".into()),
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

    // 1. Where the API is, and a token for it.
    let base = endpoints::rest_url()?;
    let keyspace = keyspace()?;
    let client = http::client("sample-rest")?;
    let token = get_token(&client).await?;
    println!(
        "REST API at {}, keyspace {keyspace}.",
        base.as_str().trim_end_matches('/')
    );
    let api = RestApi { client, base, token };

    // 2. The table (shared by every run).
    create_table_if_missing(&api, &keyspace).await?;

    // 3. This run's rows: added, read, searched, updated; deleted afterwards even if a step fails.
    let run_id = Uuid::new_v4();
    let tour = tour(&api, &keyspace, run_id, args.rows).await;
    if args.keep {
        tour?;
        println!("Kept the run's rows: run_id = {run_id} in {keyspace}.{TABLE}.");
    } else {
        let cleanup = delete_run_rows(&api, &keyspace, run_id).await;
        if let (Err(_), Err(cleanup_error)) = (&tour, &cleanup) {
            tracing::warn!("could not delete the run's rows either: {cleanup_error:#}");
        }
        tour.and(cleanup)?;
    }
    println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Everything done to the rows of one run, in order.
async fn tour(api: &RestApi, keyspace: &str, run_id: Uuid, rows: i32) -> anyhow::Result<()> {
    add_rows(api, keyspace, run_id, rows).await?;
    read_row_by_key(api, keyspace, run_id, 1).await?;
    search_rows(api, keyspace, run_id, rows - 3).await?;
    page_through_rows(api, keyspace, run_id).await?;
    update_rows(api, keyspace, run_id).await?;
    delete_row(api, keyspace, run_id, rows).await?;
    list_tables(api, keyspace).await
}

// ---------------------------------------------------------------------------------------------
// What travels: typed requests and responses

/// One row of the table. The REST API takes and returns rows as JSON objects, one key per column.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Task {
    run_id: Uuid,
    seq: i32,
    title: String,
    done: bool,
}

/// Part of a row: what a search with `fields=seq,title` returns.
#[derive(Debug, Deserialize)]
struct TaskTitle {
    seq: i32,
    title: String,
}

/// The columns an update sets; the others keep their values.
#[derive(Debug, Serialize, Deserialize)]
struct TaskChanges {
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    done: Option<bool>,
}

/// What every row read returns: the rows of one page, how many, and (when there may be more) the
/// paging state that asks for the next page.
#[derive(Debug, Deserialize)]
struct Rows<T> {
    count: usize,
    #[serde(rename = "pageState")]
    page_state: Option<String>,
    data: Vec<T>,
}

/// Schema reads wrap their answer in `{"data": …}` (unless `raw=true` is asked for).
#[derive(Debug, Deserialize)]
struct Wrapped<T> {
    data: T,
}

/// A table, as the schema endpoints describe it and as `POST …/tables` takes it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Table {
    name: String,
    /// Create only if missing (request only): makes concurrent creators safe.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    if_not_exists: bool,
    #[serde(default)]
    primary_key: PrimaryKey,
    #[serde(default)]
    column_definitions: Vec<ColumnDefinition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    table_options: Option<TableOptions>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrimaryKey {
    partition_key: Vec<String>,
    #[serde(default)]
    clustering_key: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ColumnDefinition {
    name: String,
    /// A CQL type as text: `uuid`, `int`, `list<text>`, `map<text, int>`…
    type_definition: String,
    #[serde(default, rename = "static")]
    is_static: bool,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TableOptions {
    #[serde(default)]
    clustering_expression: Vec<ClusteringExpression>,
}

#[derive(Debug, Serialize, Deserialize)]
struct ClusteringExpression {
    column: String,
    order: String,
}

/// The body of `POST /v1/auth`.
#[derive(Serialize)]
struct Credentials<'a> {
    username: &'a str,
    password: &'a str,
}

/// The answer of `POST /v1/auth`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthToken {
    auth_token: String,
}

/// `where` conditions are a JSON object: column → {operator: value}. All conditions must hold.
#[derive(Serialize)]
struct TasksOfRun<Seq> {
    run_id: Eq<Uuid>,
    seq: Seq,
}

#[derive(Serialize)]
struct Eq<T> {
    #[serde(rename = "$eq")]
    eq: T,
}

#[derive(Serialize)]
struct Gt<T> {
    #[serde(rename = "$gt")]
    gt: T,
}

#[derive(Serialize)]
struct In<T> {
    #[serde(rename = "$in")]
    values: Vec<T>,
}

/// `sort`: column → "asc" or "desc" (lowercase: Stargate v2 takes only `desc` as descending).
#[derive(Serialize)]
struct BySeq {
    seq: &'static str,
}

// ---------------------------------------------------------------------------------------------
// The API

/// The REST API's base URL with a client and a token: every call sends the token in
/// `X-Cassandra-Token`, and is bounded by the client's timeouts (5 s to connect, 30 s in all).
struct RestApi {
    client: reqwest::Client,
    base: Url,
    token: Token,
}

impl RestApi {
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = endpoints::join(&self.base, path);
        tracing::debug!(%method, %url, "request");
        self.client
            .request(method, url)
            .header(TOKEN_HEADER, self.token.expose())
    }

    /// Sends a call and reads its JSON answer, turning a non-2xx status into an error that
    /// carries the status and the API's own `description`.
    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> anyhow::Result<T> {
        let response = http::send_checked(request).await?;
        read_json(response).await
    }

    /// Sends a call whose answer body does not matter (201, 204).
    async fn call(&self, request: RequestBuilder) -> Result<StatusCode, HttpError> {
        Ok(http::send_checked(request).await?.status())
    }
}

async fn read_json<T: DeserializeOwned>(response: Response) -> anyhow::Result<T> {
    let url = response.url().path().to_owned();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    serde_json::from_slice(&body).with_context(|| format!("unexpected answer from {url}"))
}

fn rows_path(keyspace: &str) -> String {
    format!("/v2/keyspaces/{keyspace}/{TABLE}")
}

fn keyspace() -> anyhow::Result<String> {
    let keyspace = settings::required(settings::ASTRA_DB_KEYSPACE)?;
    // The name goes into URL paths: accept only a plain CQL identifier.
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

// ---------------------------------------------------------------------------------------------
// The steps

/// An Astra application token is sent as it is. Self-hosted Stargate users usually have a user
/// name and password instead: the auth API turns them into a token (valid 30 minutes since its
/// last use).
async fn get_token(client: &reqwest::Client) -> anyhow::Result<Token> {
    if let Some(token) = settings::optional_token(settings::ASTRA_DB_APPLICATION_TOKEN)? {
        println!("Token: {token} from ASTRA_DB_APPLICATION_TOKEN.");
        return Ok(token);
    }
    let Some(username) = settings::optional(settings::STARGATE_USERNAME)? else {
        bail!(
            "ASTRA_DB_APPLICATION_TOKEN is not set, nor STARGATE_USERNAME and STARGATE_PASSWORD: set the token \
             (Astra Portal → Settings → Tokens → Generate token, or `scripts/astra-local env` for the local stack), \
             or a Stargate user name and password to get one from the auth API"
        );
    };
    let password = settings::token(settings::STARGATE_PASSWORD)?;
    let url = endpoints::join(&endpoints::auth_url()?, "/v1/auth");
    let body = Credentials {
        username: &username,
        password: password.expose(),
    };
    // Sent once: each call creates a token.
    let response = http::send_once(client.post(url.clone()).json(&body)).await?;
    if response.status() == StatusCode::UNAUTHORIZED {
        let text = response.text().await.unwrap_or_default();
        let description = http::api_message(&text).unwrap_or_default();
        bail!(
            "the auth API at {url} refused STARGATE_USERNAME and STARGATE_PASSWORD (HTTP 401: {description}): \
             check them, they are a role of the Cassandra cluster behind Stargate"
        );
    }
    let answer: AuthToken = read_json(http::check(response).await?).await?;
    let token = Token::new(answer.auth_token);
    println!("Token: got one from {url} for {username}.");
    Ok(token)
}

/// Looks the table up, and creates it when it is missing. `ifNotExists` makes the create safe
/// when another run creates the same table at the same moment.
async fn create_table_if_missing(api: &RestApi, keyspace: &str) -> anyhow::Result<()> {
    let table_path = format!("/v2/schemas/keyspaces/{keyspace}/tables/{TABLE}");
    let response = http::send(api.request(Method::GET, &table_path))
        .await
        .with_context(|| format!("cannot look up table {keyspace}.{TABLE}"))?;
    if response.status() != StatusCode::NOT_FOUND {
        let response = http::check(response).await.map_err(|e| {
            // Stargate answers 400 "Keyspace '…' not found" for a keyspace that does not exist.
            let hint = if e.status() == Some(StatusCode::BAD_REQUEST) {
                " (is ASTRA_DB_KEYSPACE right?)"
            } else {
                ""
            };
            anyhow::Error::from(e).context(format!("cannot look up table {keyspace}.{TABLE}{hint}"))
        })?;
        let table: Wrapped<Table> = read_json(response).await?;
        println!("Table {keyspace}.{TABLE} exists: {}.", describe(&table.data));
        return Ok(());
    }

    let column = |name: &str, type_definition: &str| ColumnDefinition {
        name: name.to_owned(),
        type_definition: type_definition.to_owned(),
        is_static: false,
    };
    let table = Table {
        name: TABLE.to_owned(),
        if_not_exists: true,
        primary_key: PrimaryKey {
            partition_key: vec!["run_id".into()],
            clustering_key: vec!["seq".into()],
        },
        column_definitions: vec![
            column("run_id", "uuid"),
            column("seq", "int"),
            column("title", "text"),
            column("done", "boolean"),
        ],
        table_options: Some(TableOptions {
            clustering_expression: vec![ClusteringExpression {
                column: "seq".into(),
                order: "ASC".into(),
            }],
        }),
    };
    let request = api
        .request(Method::POST, &format!("/v2/schemas/keyspaces/{keyspace}/tables"))
        .json(&table);
    api.call(request)
        .await
        .with_context(|| format!("cannot create table {keyspace}.{TABLE}"))?;
    println!("Table {keyspace}.{TABLE} created: {}.", describe(&table));
    Ok(())
}

/// "run_id uuid, seq int, …; primary key ((run_id), seq)".
fn describe(table: &Table) -> String {
    let columns: Vec<String> = table
        .column_definitions
        .iter()
        .map(|c| format!("{} {}", c.name, c.type_definition))
        .collect();
    let key = &table.primary_key;
    let mut primary_key = format!("({})", key.partition_key.join(", "));
    for clustering in &key.clustering_key {
        primary_key.push_str(", ");
        primary_key.push_str(clustering);
    }
    format!("{}; primary key ({primary_key})", columns.join(", "))
}

/// Adds rows one `POST` at a time. A `POST` is an upsert: a row with the same primary key would
/// be overwritten, not rejected.
async fn add_rows(api: &RestApi, keyspace: &str, run_id: Uuid, count: i32) -> anyhow::Result<()> {
    for seq in 1..=count {
        let task = Task {
            run_id,
            seq,
            title: format!("task #{seq}"),
            done: false,
        };
        let request = api.request(Method::POST, &rows_path(keyspace)).json(&task);
        api.call(request)
            .await
            .with_context(|| format!("cannot add row {seq}"))?;
    }
    println!("Added {count} rows (run {run_id}).");
    Ok(())
}

/// Reads one row by its primary key: the key values are path segments, in key order (partition
/// key first, then clustering columns).
async fn read_row_by_key(api: &RestApi, keyspace: &str, run_id: Uuid, seq: i32) -> anyhow::Result<()> {
    let request = api.request(Method::GET, &format!("{}/{run_id}/{seq}", rows_path(keyspace)));
    let rows: Rows<Task> = api
        .json(request)
        .await
        .with_context(|| format!("cannot read row {seq}"))?;
    let Some(task) = rows.data.first() else {
        bail!("row {seq} of run {run_id} was not found right after it was added");
    };
    println!(
        "Read row {seq} by key: title {:?}, done = {} ({} row).",
        task.title, task.done, rows.count
    );
    Ok(())
}

/// Searches with `where`: a JSON object of conditions on columns. Stargate adds no `ALLOW
/// FILTERING`, so conditions must follow the table's key (or an index), as in CQL. `fields`
/// picks columns, `sort` orders by clustering columns.
async fn search_rows(api: &RestApi, keyspace: &str, run_id: Uuid, after: i32) -> anyhow::Result<()> {
    let filter = TasksOfRun {
        run_id: Eq { eq: run_id },
        seq: Gt { gt: after },
    };
    let request = api.request(Method::GET, &rows_path(keyspace)).query(&[
        ("where", serde_json::to_string(&filter)?),
        ("fields", "seq,title".to_owned()),
        ("sort", serde_json::to_string(&BySeq { seq: "desc" })?),
    ]);
    let rows: Rows<TaskTitle> = api.json(request).await.context("cannot search rows")?;
    let found: Vec<String> = rows.data.iter().map(|t| format!("{} {:?}", t.seq, t.title)).collect();
    println!(
        "Search seq > {after}, newest first: {} rows: {}.",
        rows.count,
        found.join(", ")
    );
    Ok(())
}

/// Reads the run's partition a page at a time. Each page but the last carries a `pageState`: an
/// opaque bookmark to send back as `page-state` for the next page. It is Base64 with `+`, `/` and
/// `=`, so it must be URL-encoded (reqwest's `query` does that).
async fn page_through_rows(api: &RestApi, keyspace: &str, run_id: Uuid) -> anyhow::Result<()> {
    let path = format!("{}/{run_id}", rows_path(keyspace));
    let mut page_state: Option<String> = None;
    let mut total = 0;
    for page in 1..=MAX_PAGES {
        let mut request = api.request(Method::GET, &path).query(&[("page-size", PAGE_SIZE)]);
        if let Some(state) = &page_state {
            request = request.query(&[("page-state", state)]);
        }
        let rows: Rows<Task> = api
            .json(request)
            .await
            .with_context(|| format!("cannot read page {page}"))?;
        let seqs: Vec<i32> = rows.data.iter().map(|t| t.seq).collect();
        total += rows.count;
        println!("  page {page}: rows {seqs:?}");
        page_state = rows.page_state;
        if page_state.is_none() {
            println!("Read {total} rows in {page} pages of at most {PAGE_SIZE}.");
            return Ok(());
        }
    }
    bail!("still more pages after {MAX_PAGES}: the run has more rows than it added")
}

/// Updates two rows, one with `PUT` and one with `PATCH`, then reads both back. Both run a CQL
/// `UPDATE` of the columns sent: columns left out keep their values (even with `PUT`), and a
/// missing row is created.
async fn update_rows(api: &RestApi, keyspace: &str, run_id: Uuid) -> anyhow::Result<()> {
    let put = TaskChanges {
        title: Some("task #1, renamed".into()),
        done: Some(true),
    };
    let request = api
        .request(Method::PUT, &format!("{}/{run_id}/1", rows_path(keyspace)))
        .json(&put);
    let sent: Wrapped<TaskChanges> = api.json(request).await.context("cannot update row 1 with PUT")?;
    println!("PUT row 1: {}.", describe_changes(&sent.data));

    let patch = TaskChanges {
        title: None,
        done: Some(true),
    };
    let request = api
        .request(Method::PATCH, &format!("{}/{run_id}/2", rows_path(keyspace)))
        .json(&patch);
    let sent: Wrapped<TaskChanges> = api.json(request).await.context("cannot update row 2 with PATCH")?;
    println!("PATCH row 2: {}.", describe_changes(&sent.data));

    let filter = TasksOfRun {
        run_id: Eq { eq: run_id },
        seq: In { values: vec![1, 2] },
    };
    let request = api
        .request(Method::GET, &rows_path(keyspace))
        .query(&[("where", serde_json::to_string(&filter)?)]);
    let rows: Rows<Task> = api.json(request).await.context("cannot read the updated rows")?;
    for task in &rows.data {
        println!("  row {}: title {:?}, done = {}", task.seq, task.title, task.done);
    }
    Ok(())
}

fn describe_changes(changes: &TaskChanges) -> String {
    let mut set = Vec::new();
    if let Some(title) = &changes.title {
        set.push(format!("title = {title:?}"));
    }
    if let Some(done) = changes.done {
        set.push(format!("done = {done}"));
    }
    format!("set {}", set.join(", "))
}

/// Deletes one row by its primary key (`204 No Content`), then reads it to show it is gone.
async fn delete_row(api: &RestApi, keyspace: &str, run_id: Uuid, seq: i32) -> anyhow::Result<()> {
    let path = format!("{}/{run_id}/{seq}", rows_path(keyspace));
    api.call(api.request(Method::DELETE, &path))
        .await
        .with_context(|| format!("cannot delete row {seq}"))?;
    let rows: Rows<Task> = api.json(api.request(Method::GET, &path)).await?;
    println!("Deleted row {seq}: reading it by key now finds {} rows.", rows.count);
    Ok(())
}

/// Lists the keyspace's tables with their columns (the keyspace may hold many).
async fn list_tables(api: &RestApi, keyspace: &str) -> anyhow::Result<()> {
    let request = api.request(Method::GET, &format!("/v2/schemas/keyspaces/{keyspace}/tables"));
    let tables: Wrapped<Vec<Table>> = api.json(request).await.context("cannot list tables")?;
    let ours = tables.data.iter().find(|t| t.name == TABLE);
    println!(
        "Keyspace {keyspace} has {} tables; {TABLE}: {}.",
        tables.data.len(),
        ours.map(describe).unwrap_or_else(|| "not listed".to_owned())
    );
    Ok(())
}

/// Deletes the run's partition with one `DELETE` of a key prefix, and counts what is left.
async fn delete_run_rows(api: &RestApi, keyspace: &str, run_id: Uuid) -> anyhow::Result<()> {
    let path = format!("{}/{run_id}", rows_path(keyspace));
    api.call(api.request(Method::DELETE, &path))
        .await
        .context("cannot delete the run's rows")?;
    let rows: Rows<Task> = api.json(api.request(Method::GET, &path)).await?;
    println!("Deleted the run's rows ({} left).", rows.count);
    Ok(())
}

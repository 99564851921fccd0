//! sample-graphql-cql-first: Stargate's GraphQL API, CQL-first, with `graphql_client`. Creates a
//! table through the schema API (`/graphql-schema`), then uses the queries and mutations Stargate
//! generates for it at `/graphql/{keyspace}`: inserts rows, reads one by key, searches with a
//! filter, pages, updates with `ifExists`, deletes, and shows how a refused query comes back.
//! The operations live in `graphql/*.graphql` and are checked against the API's schema (the JSON
//! files next to them) at build time.
//!
//! ```text
//! cargo run -p sample-graphql-cql-first                # the whole tour
//! cargo run -p sample-graphql-cql-first -- --rows 25   # more rows, more pages
//! cargo run -p sample-graphql-cql-first -- --keep      # leave this run's rows in the table
//! ```
//!
//! The GraphQL API is deprecated on Astra (September 2024, end of life from the end of 2025); it
//! is still Stargate's API. New Astra projects should use the Data API or CQL.
//!
//! Astra: `ASTRA_DB_ID`, `ASTRA_DB_REGION`, `ASTRA_DB_APPLICATION_TOKEN`, `ASTRA_DB_KEYSPACE`.
//! Self-hosted Stargate: `STARGATE_GRAPHQL_URL` (e.g. http://localhost:8080), a token in
//! `ASTRA_DB_APPLICATION_TOKEN`, and `ASTRA_DB_KEYSPACE`. Settings come from the environment or
//! `.env`. Walkthrough: samples/graphql-cql-first/README.md.

use std::fmt;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use common::http;
use common::{Token, endpoints, settings};
use graphql_client::GraphQLQuery;
use reqwest::Url;

/// The table this sample writes to. Runs share it: each run writes its own partition (`run_id`)
/// and deletes it at the end. The name is also written in `graphql/*.graphql`: Stargate names the
/// generated operations after the table (`sample_graphql_tasks`, `insertsample_graphql_tasks`…).
const TABLE: &str = "sample_graphql_tasks";
/// Rows per page when paging through the run's rows.
const PAGE_SIZE: i64 = 4;
/// A bound on the paging loop (25 pages are enough for the largest `--rows`).
const MAX_PAGES: usize = 100;
/// Stargate reads the token from this header on every call.
const TOKEN_HEADER: &str = "X-Cassandra-Token";

#[derive(Parser)]
#[command(
    about = "Create a table through Stargate's GraphQL schema API, then insert, read, search, page through, update and delete rows with the API it generates."
)]
struct Args {
    /// How many rows to insert.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i64).range(3..=100))]
    rows: i64,
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
                .unwrap_or_else(|_| "sample_graphql_cql_first=info,common=warn".into()),
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

    // 1. Where the API is, and the token.
    let base = endpoints::graphql_url()?;
    let keyspace = keyspace()?;
    let token = settings::token(settings::ASTRA_DB_APPLICATION_TOKEN)?;
    println!(
        "GraphQL API at {}, keyspace {keyspace}; token {token} from ASTRA_DB_APPLICATION_TOKEN.",
        base.as_str().trim_end_matches('/')
    );
    let client = http::client("sample-graphql-cql-first")?;
    let api = GraphqlApi { client, base, token };

    // 2. The table, through the schema API (shared by every run).
    create_table_if_missing(&api, &keyspace).await?;

    // 3. This run's rows, through the keyspace's generated API; deleted afterwards even if a
    //    step fails.
    let tasks = Endpoint::Keyspace(&keyspace);
    let run_id = uuid::Uuid::new_v4();
    let tour = tour(&api, &tasks, run_id, args.rows).await;
    if args.keep {
        tour?;
        println!("Kept the run's rows: run_id = {run_id} in {keyspace}.{TABLE}.");
    } else {
        let cleanup = delete_run_rows(&api, &tasks, run_id).await;
        if let (Err(_), Err(cleanup_error)) = (&tour, &cleanup) {
            tracing::warn!("could not delete the run's rows either: {cleanup_error:#}");
        }
        tour.and(cleanup)?;
    }
    println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Everything done to the rows of one run, in order.
async fn tour(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: Uuid, rows: i64) -> anyhow::Result<()> {
    insert_rows(api, tasks, run_id, rows).await?;
    read_row_by_key(api, tasks, run_id, 1).await?;
    search_rows(api, tasks, run_id, rows - 3).await?;
    filter_on_a_regular_column(api, tasks).await?;
    page_through_rows(api, tasks, run_id).await?;
    update_rows(api, tasks, run_id, rows).await?;
    delete_row(api, tasks, run_id, rows).await
}

// ---------------------------------------------------------------------------------------------
// The operations
//
// One struct per operation in graphql/*.graphql. The derive reads the schema file and the
// operation at compile time, and generates a module named after the struct with the operation's
// `Variables` and `ResponseData` types (`insert_task::Variables`, …): a misspelt field or a
// variable of the wrong type is a build error. Regenerate the schema files with
// `scripts/graphql-schema` when the API changes (see the README).

/// Stargate's `Uuid` scalar (a UUID as a JSON string). The generated code finds custom scalars
/// by their GraphQL name, in this module.
type Uuid = uuid::Uuid;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/ddl-schema.json",
    query_path = "graphql/ddl.graphql",
    response_derives = "Debug"
)]
struct TableColumns;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/ddl-schema.json",
    query_path = "graphql/ddl.graphql",
    response_derives = "Debug"
)]
struct CreateTasksTable;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/dml-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct InsertTask;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/dml-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct TaskByKey;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/dml-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct TasksAfter;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/dml-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct TasksTitled;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/dml-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct TasksPage;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/dml-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct CompleteTask;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/dml-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct DeleteTask;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/dml-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct DeleteRun;

// ---------------------------------------------------------------------------------------------
// The API

/// Stargate serves one GraphQL schema per path: the schema API for the whole database, and one
/// generated API per keyspace.
enum Endpoint<'a> {
    Schema,
    Keyspace(&'a str),
}

impl Endpoint<'_> {
    fn path(&self) -> String {
        match self {
            Self::Schema => "/graphql-schema".to_owned(),
            Self::Keyspace(keyspace) => format!("/graphql/{keyspace}"),
        }
    }
}

/// The API's base URL with a client and a token. Every operation is a `POST` of
/// `{"query", "variables", "operationName"}` (graphql_client's `QueryBody`) with the token in
/// `X-Cassandra-Token`, bounded by the client's timeouts (5 s to connect, 30 s in all).
struct GraphqlApi {
    client: reqwest::Client,
    base: Url,
    token: Token,
}

/// The `errors` of a GraphQL answer. GraphQL reports a failed operation with HTTP 200: the status
/// says only that the request reached the server, so every answer's `errors` must be checked.
#[derive(Debug)]
struct GraphqlErrors {
    operation: &'static str,
    messages: Vec<String>,
}

impl fmt::Display for GraphqlErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} answered errors: {}", self.operation, self.messages.join("; "))?;
        // A token Stargate does not accept fails inside the operation on the schema API.
        let about_the_token = self.messages.iter().any(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("unauthenticated") || m.contains("token") || m.contains("not authorized")
        });
        if about_the_token {
            write!(
                f,
                ". The token is missing, wrong or expired: create a new one (Astra Portal → Settings → Tokens), or run `scripts/astra-local env` for the local stack"
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for GraphqlErrors {}

/// An error's message, followed by the details Stargate puts in `extensions` (a deployment
/// refused by the schema-first API says "See details in `extensions.migrationErrors`"; the
/// details are what tells you what to fix).
fn with_details(error: graphql_client::Error) -> String {
    let mut text = error.message;
    for (key, value) in error.extensions.iter().flatten() {
        let details: Vec<String> = value
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| match item {
                serde_json::Value::String(detail) => Some(detail.clone()),
                other => other.get("message").and_then(|m| m.as_str()).map(|message| {
                    // Schema-first mapping errors say where in the deployed SDL they are.
                    let at = other.pointer("/locations/0");
                    let line = at.and_then(|l| l.get("line")).and_then(|n| n.as_u64());
                    let column = at.and_then(|l| l.get("column")).and_then(|n| n.as_u64());
                    match (line, column) {
                        (Some(line), Some(column)) => format!("{message} (line {line}, column {column})"),
                        _ => message.to_owned(),
                    }
                }),
            })
            .collect();
        if !details.is_empty() {
            text.push_str(&format!(" [{key}: {}]", details.join("; ")));
        }
    }
    text
}

impl GraphqlApi {
    /// Runs the operation `Q` at `endpoint` and returns its `data`. A non-2xx status becomes an
    /// error with the status and the API's message; an answer with `errors` becomes
    /// [`GraphqlErrors`].
    async fn run<Q: GraphQLQuery>(
        &self,
        endpoint: &Endpoint<'_>,
        variables: Q::Variables,
    ) -> anyhow::Result<Q::ResponseData> {
        let url = endpoints::join(&self.base, &endpoint.path());
        let body = Q::build_query(variables);
        tracing::debug!(operation = body.operation_name, %url, "request");
        let request = self
            .client
            .post(url.clone())
            .header(TOKEN_HEADER, self.token.expose())
            .json(&body);
        // A POST is retried only after a 429 (the server ran nothing); see common::http.
        let response = http::send_checked(request).await?;
        let bytes = response
            .bytes()
            .await
            .with_context(|| format!("reading the answer of {url}"))?;
        let answer: graphql_client::Response<Q::ResponseData> =
            serde_json::from_slice(&bytes).with_context(|| format!("unexpected answer from {url}"))?;
        if let Some(errors) = answer.errors.filter(|errors| !errors.is_empty()) {
            // graphql_client sends the whole operations file, and the server validates every
            // operation in it: the same message can come once per operation.
            let mut messages: Vec<String> = Vec::new();
            for error in errors {
                let message = with_details(error);
                if !messages.contains(&message) {
                    messages.push(message);
                }
            }
            return Err(GraphqlErrors {
                operation: body.operation_name,
                messages,
            }
            .into());
        }
        answer
            .data
            .with_context(|| format!("{} at {url} answered neither data nor errors", body.operation_name))
    }
}

fn keyspace() -> anyhow::Result<String> {
    let keyspace = settings::required(settings::ASTRA_DB_KEYSPACE)?;
    // The name goes into the URL path: accept only a plain CQL identifier.
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

/// Looks the table up through the schema API, and creates it when it is missing. `ifNotExists`
/// makes the create safe when another run creates the same table at the same moment.
async fn create_table_if_missing(api: &GraphqlApi, keyspace: &str) -> anyhow::Result<()> {
    let lookup = || async {
        let variables = table_columns::Variables {
            keyspace: keyspace.to_owned(),
        };
        let data = api
            .run::<TableColumns>(&Endpoint::Schema, variables)
            .await
            .with_context(|| format!("cannot look up table {keyspace}.{TABLE}"))?;
        let Some(found) = data.keyspace else {
            bail!("keyspace {keyspace} does not exist (is ASTRA_DB_KEYSPACE right?)");
        };
        Ok(found.table.map(|table| describe(&table)))
    };
    if let Some(columns) = lookup().await? {
        println!("Table {keyspace}.{TABLE} exists: {columns}.");
        return Ok(());
    }

    let variables = create_tasks_table::Variables {
        keyspace: keyspace.to_owned(),
    };
    let created = api
        .run::<CreateTasksTable>(&Endpoint::Schema, variables)
        .await
        .with_context(|| format!("cannot create table {keyspace}.{TABLE}"))?;
    let columns = lookup().await?.unwrap_or_else(|| "not listed yet".to_owned());
    println!(
        "Table {keyspace}.{TABLE} created (createTable answered {}): {columns}.",
        created.create_table.unwrap_or_default()
    );
    Ok(())
}

/// "run_id uuid (partition key), seq int (clustering), …": the columns as the schema API lists
/// them (a CQL type is `{basic: …}`, plus `info` for collections and UDTs).
fn describe(table: &table_columns::TableColumnsKeyspaceTable) -> String {
    use table_columns::ColumnKind;
    let columns = table.columns.iter().flatten().flatten().map(|column| {
        let kind = match column.kind {
            Some(ColumnKind::PARTITION) => " (partition key)",
            Some(ColumnKind::CLUSTERING) => " (clustering)",
            Some(ColumnKind::STATIC) => " (static)",
            _ => "",
        };
        let cql_type = format!("{:?}", column.type_.basic).to_ascii_lowercase();
        format!("{} {cql_type}{kind}", column.name)
    });
    columns.collect::<Vec<_>>().join(", ")
}

/// Inserts rows one mutation at a time. An insert is an upsert: a row with the same primary key
/// would be overwritten, not rejected (add `ifNotExists: true` to reject it).
async fn insert_rows(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: Uuid, count: i64) -> anyhow::Result<()> {
    for seq in 1..=count {
        let variables = insert_task::Variables {
            run_id,
            seq,
            title: format!("task #{seq}"),
        };
        let data = api
            .run::<InsertTask>(tasks, variables)
            .await
            .with_context(|| format!("cannot insert row {seq}"))?;
        let applied = data.insertsample_graphql_tasks.and_then(|result| result.applied);
        if applied != Some(true) {
            bail!("inserting row {seq} was not applied ({applied:?})");
        }
    }
    println!("Inserted {count} rows (run {run_id}).");
    Ok(())
}

/// Reads one row with `value:`, which means equality on every column given.
async fn read_row_by_key(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: Uuid, seq: i64) -> anyhow::Result<()> {
    let data = api
        .run::<TaskByKey>(tasks, task_by_key::Variables { run_id, seq })
        .await
        .with_context(|| format!("cannot read row {seq}"))?;
    let rows = data
        .sample_graphql_tasks
        .and_then(|result| result.values)
        .unwrap_or_default();
    let Some(task) = rows.first() else {
        bail!("row {seq} of run {run_id} was not found right after it was inserted");
    };
    println!(
        "Read row {seq} by key: title {:?}, done = {:?} ({} row).",
        task.title.as_deref().unwrap_or_default(),
        task.done.unwrap_or_default(),
        rows.len()
    );
    Ok(())
}

/// Searches with `filter:` (conditions per column) and `orderBy`.
async fn search_rows(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: Uuid, after: i64) -> anyhow::Result<()> {
    let data = api
        .run::<TasksAfter>(tasks, tasks_after::Variables { run_id, after })
        .await
        .context("cannot search rows")?;
    let rows = data
        .sample_graphql_tasks
        .and_then(|result| result.values)
        .unwrap_or_default();
    let found: Vec<String> = rows
        .iter()
        .map(|t| {
            format!(
                "{} {:?}",
                t.seq.unwrap_or_default(),
                t.title.as_deref().unwrap_or_default()
            )
        })
        .collect();
    println!(
        "Filter seq > {after}, newest first: {} rows: {}.",
        rows.len(),
        found.join(", ")
    );
    Ok(())
}

/// Filters on `title`, a regular column. Cassandra would have to read the whole table, so
/// Stargate refuses: the answer is HTTP 200 with an `errors` entry, and no data.
async fn filter_on_a_regular_column(api: &GraphqlApi, tasks: &Endpoint<'_>) -> anyhow::Result<()> {
    let variables = tasks_titled::Variables {
        title: "task #1".to_owned(),
    };
    match api.run::<TasksTitled>(tasks, variables).await {
        Err(error) => match error.downcast_ref::<GraphqlErrors>() {
            Some(refused) => println!(
                "Filter on title (not in the primary key): refused: {}",
                refused.messages.join("; ")
            ),
            // Not a GraphQL error (the server is unreachable…): a real failure.
            None => return Err(error.context("cannot run the filter on title")),
        },
        Ok(data) => {
            let rows = data
                .sample_graphql_tasks
                .and_then(|result| result.values)
                .unwrap_or_default();
            println!(
                "Filter on title (not in the primary key): accepted, {} rows.",
                rows.len()
            );
        }
    }
    Ok(())
}

/// Reads the run's partition a page at a time. Each page but the last carries a `pageState`: an
/// opaque bookmark to send back in `options` for the next page.
async fn page_through_rows(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: Uuid) -> anyhow::Result<()> {
    let mut page_state: Option<String> = None;
    let mut total = 0;
    for page in 1..=MAX_PAGES {
        let variables = tasks_page::Variables {
            run_id,
            page_size: PAGE_SIZE,
            page_state: page_state.take(),
        };
        let data = api
            .run::<TasksPage>(tasks, variables)
            .await
            .with_context(|| format!("cannot read page {page}"))?;
        let Some(result) = data.sample_graphql_tasks else {
            bail!("page {page} came back empty");
        };
        let seqs: Vec<i64> = result.values.iter().flatten().filter_map(|t| t.seq).collect();
        total += seqs.len();
        println!("  page {page}: rows {seqs:?}");
        page_state = result.page_state;
        if page_state.is_none() {
            println!("Read {total} rows in {page} pages of at most {PAGE_SIZE}.");
            return Ok(());
        }
    }
    bail!("still more pages after {MAX_PAGES}: the run has more rows than it inserted")
}

/// Updates row 1 with `ifExists: true`, a lightweight transaction: `applied` says whether the row
/// was there. Then the same update of a row that does not exist: `applied = false`, nothing is
/// written (a plain update, like a CQL UPDATE, would have created the row).
async fn update_rows(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: Uuid, rows: i64) -> anyhow::Result<()> {
    for seq in [1, rows + 1] {
        let variables = complete_task::Variables {
            run_id,
            seq,
            title: format!("task #{seq}, done"),
        };
        let data = api
            .run::<CompleteTask>(tasks, variables)
            .await
            .with_context(|| format!("cannot update row {seq}"))?;
        let applied = data.updatesample_graphql_tasks.and_then(|result| result.applied);
        println!(
            "Update row {seq} if it exists: applied = {}.",
            applied.unwrap_or_default()
        );
    }
    read_row_by_key(api, tasks, run_id, 1).await
}

/// Deletes one row by its primary key, then reads it to show it is gone.
async fn delete_row(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: Uuid, seq: i64) -> anyhow::Result<()> {
    api.run::<DeleteTask>(tasks, delete_task::Variables { run_id, seq })
        .await
        .with_context(|| format!("cannot delete row {seq}"))?;
    let data = api
        .run::<TaskByKey>(tasks, task_by_key::Variables { run_id, seq })
        .await?;
    let found = data.sample_graphql_tasks.and_then(|r| r.values).unwrap_or_default();
    println!("Deleted row {seq}: reading it by key now finds {} rows.", found.len());
    Ok(())
}

/// Deletes the run's partition with one mutation (the partition key alone), and counts what is
/// left.
async fn delete_run_rows(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: Uuid) -> anyhow::Result<()> {
    api.run::<DeleteRun>(tasks, delete_run::Variables { run_id })
        .await
        .context("cannot delete the run's rows")?;
    let variables = tasks_page::Variables {
        run_id,
        page_size: PAGE_SIZE,
        page_state: None,
    };
    let data = api.run::<TasksPage>(tasks, variables).await?;
    let left = data.sample_graphql_tasks.and_then(|r| r.values).unwrap_or_default();
    println!("Deleted the run's rows ({} left).", left.len());
    Ok(())
}

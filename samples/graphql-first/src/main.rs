//! sample-graphql-first: Stargate's GraphQL API, schema-first, with `graphql_client`. Deploys the
//! GraphQL schema in `graphql/schema.graphql` to a keyspace of its own through the admin API
//! (`/graphql-admin`, `deploySchema`): Stargate creates the CQL table for it and serves the
//! queries and mutations it declares at `/graphql/{keyspace}`. Then inserts rows, reads them page
//! by page and with a condition, and deletes them. Running it again deploys the same schema again:
//! Stargate finds the tables up to date and changes nothing in CQL. The operations live in `graphql/*.graphql` and are checked against the
//! API's schema (the JSON files next to them) at build time.
//!
//! ```text
//! cargo run -p sample-graphql-first                          # keyspace graphql_first
//! cargo run -p sample-graphql-first -- --keyspace my_ks --rows 9
//! ```
//!
//! The GraphQL API is deprecated on Astra (September 2024, end of life from the end of 2025); it
//! is still Stargate's API. New Astra projects should use the Data API or CQL.
//!
//! Astra: `ASTRA_DB_ID`, `ASTRA_DB_REGION`, `ASTRA_DB_APPLICATION_TOKEN`, and a keyspace created in
//! the Astra Portal. Self-hosted Stargate: `STARGATE_GRAPHQL_URL` (e.g. http://localhost:8080) and a
//! token in `ASTRA_DB_APPLICATION_TOKEN`. Settings come from the environment or `.env`.
//! Walkthrough: samples/graphql-first/README.md.

use std::fmt;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use common::http;
use common::{Token, endpoints, settings};
use graphql_client::GraphQLQuery;
use reqwest::Url;

/// The schema this sample deploys, as it is in the file (Stargate keeps the text of every
/// deployed version).
const SCHEMA: &str = include_str!("../graphql/schema.graphql");
/// Stargate reads the token from this header on every call.
const TOKEN_HEADER: &str = "X-Cassandra-Token";
/// A bound on the paging loop (25 pages are enough for the largest `--rows`).
const MAX_PAGES: usize = 100;
/// How many times a deployment is tried when other deployments come first.
const DEPLOY_ATTEMPTS: u32 = 5;

#[derive(Parser)]
#[command(
    about = "Deploy a GraphQL schema to Stargate (schema-first), then insert, read and delete rows with the operations it declares."
)]
struct Args {
    /// The keyspace to deploy to. Use one of its own: once a schema is deployed, Stargate serves
    /// it at /graphql/{keyspace} instead of the API generated from the keyspace's tables.
    #[arg(long, default_value = "graphql_first", value_parser = keyspace_name)]
    keyspace: String,
    /// How many rows to insert.
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(i64).range(3..=100))]
    rows: i64,
}

/// The keyspace goes into a URL path: accept only a plain CQL identifier.
fn keyspace_name(name: &str) -> Result<String, String> {
    let valid = !name.is_empty() && name.len() <= 48 && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(name.to_owned())
    } else {
        Err("a keyspace name has only letters, digits and underscores (at most 48)".to_owned())
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // `common=warn` shows the HTTP client's "retrying" lines.
                .unwrap_or_else(|_| "sample_graphql_first=info,common=warn".into()),
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
    let keyspace = args.keyspace.as_str();

    // 1. Where the API is, and the token.
    let base = endpoints::graphql_url()?;
    let token = settings::token(settings::ASTRA_DB_APPLICATION_TOKEN)?;
    println!(
        "GraphQL API at {}, keyspace {keyspace}; token {token} from ASTRA_DB_APPLICATION_TOKEN.",
        base.as_str().trim_end_matches('/')
    );
    let client = http::client("sample-graphql-first")?;
    let api = GraphqlApi { client, base, token };

    // 2. The keyspace, and our schema deployed to it.
    create_keyspace_if_missing(&api, keyspace).await?;
    deploy_schema(&api, keyspace).await?;

    // 3. This run's rows, through the operations the schema declares; deleted afterwards even if
    //    a step fails.
    let tasks = Endpoint::Keyspace(keyspace);
    let run_id = uuid::Uuid::new_v4().to_string();
    let tour = tour(&api, &tasks, &run_id, args.rows).await;
    let cleanup = delete_run_rows(&api, &tasks, &run_id).await;
    if let (Err(_), Err(cleanup_error)) = (&tour, &cleanup) {
        tracing::warn!("could not delete the run's rows either: {cleanup_error:#}");
    }
    tour.and(cleanup)?;
    println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Everything done to the rows of one run, in order.
async fn tour(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: &str, rows: i64) -> anyhow::Result<()> {
    insert_rows(api, tasks, run_id, rows).await?;
    insert_again(api, tasks, run_id).await?;
    page_through_rows(api, tasks, run_id).await?;
    rows_after(api, tasks, run_id, rows - 2).await
}

// ---------------------------------------------------------------------------------------------
// The operations
//
// One struct per operation in graphql/*.graphql. The derive reads the schema file and the
// operation at compile time, and generates a module named after the struct with the operation's
// `Variables` and `ResponseData` types (`insert_task::Variables`, …): a misspelt field or a
// variable of the wrong type is a build error. tasks-schema.json is what Stargate serves once
// schema.graphql is deployed: regenerate it with `scripts/graphql-schema` after changing the
// schema (see the README).

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/ddl-schema.json",
    query_path = "graphql/ddl.graphql",
    response_derives = "Debug"
)]
struct FindKeyspace;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/ddl-schema.json",
    query_path = "graphql/ddl.graphql",
    response_derives = "Debug"
)]
struct CreateKeyspace;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/admin-schema.json",
    query_path = "graphql/admin.graphql",
    response_derives = "Debug"
)]
struct DeployedSchema;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/admin-schema.json",
    query_path = "graphql/admin.graphql",
    response_derives = "Debug"
)]
struct DeploySchema;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/tasks-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct InsertTask;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/tasks-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct TasksOfRun;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/tasks-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct TasksAfter;

#[derive(GraphQLQuery)]
#[graphql(
    schema_path = "graphql/tasks-schema.json",
    query_path = "graphql/tasks.graphql",
    response_derives = "Debug"
)]
struct DeleteTasksOfRun;

// ---------------------------------------------------------------------------------------------
// The API

/// Stargate serves one GraphQL schema per path: the schema API (DDL), the admin API (deployed
/// schemas), and one API per keyspace.
enum Endpoint<'a> {
    Schema,
    Admin,
    Keyspace(&'a str),
}

impl Endpoint<'_> {
    fn path(&self) -> String {
        match self {
            Self::Schema => "/graphql-schema".to_owned(),
            Self::Admin => "/graphql-admin".to_owned(),
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

// ---------------------------------------------------------------------------------------------
// The steps

/// Looks the keyspace up through the schema API, and creates it when it is missing (self-hosted
/// Stargate; on Astra, keyspaces are created in the Astra Portal or with the DevOps API).
async fn create_keyspace_if_missing(api: &GraphqlApi, keyspace: &str) -> anyhow::Result<()> {
    let variables = find_keyspace::Variables {
        name: keyspace.to_owned(),
    };
    let found = api
        .run::<FindKeyspace>(&Endpoint::Schema, variables)
        .await
        .with_context(|| format!("cannot look up keyspace {keyspace}"))?;
    if found.keyspace.is_some() {
        println!("Keyspace {keyspace} exists.");
        return Ok(());
    }
    let variables = create_keyspace::Variables {
        name: keyspace.to_owned(),
    };
    api.run::<CreateKeyspace>(&Endpoint::Schema, variables)
        .await
        .with_context(|| {
            format!(
                "keyspace {keyspace} does not exist and cannot be created (on Astra, add it in the Astra Portal: \
                 your database → Add Keyspace; or pass --keyspace with one that exists)"
            )
        })?;
    println!("Keyspace {keyspace} created (replication factor 1).");
    Ok(())
}

/// Deploys `SCHEMA`, passing the keyspace's latest deployed version as `expectedVersion` (none
/// for the first deployment). Deploying is idempotent: Stargate compares the schema with the
/// keyspace's tables and runs only the CQL that is missing, so deploying the same schema again
/// changes no table ("No changes, the CQL schema is up to date") and only records a new version.
async fn deploy_schema(api: &GraphqlApi, keyspace: &str) -> anyhow::Result<()> {
    for attempt in 1..=DEPLOY_ATTEMPTS {
        let latest = latest_version(api, keyspace).await?;
        match &latest {
            Some(version) => println!("Latest deployed schema of {keyspace}: version {version}."),
            None => println!("No schema deployed to {keyspace} yet."),
        }
        let variables = deploy_schema::Variables {
            keyspace: keyspace.to_owned(),
            schema: SCHEMA.to_owned(),
            expected_version: latest,
        };
        let deployed = match api.run::<DeploySchema>(&Endpoint::Admin, variables).await {
            Ok(data) => data.deploy_schema,
            // Someone deployed between our read and our deploy: read the new version, try again.
            Err(error) if attempt < DEPLOY_ATTEMPTS && is_version_conflict(&error) => {
                tracing::info!("another deployment came first ({error:#}); trying again");
                tokio::time::sleep(Duration::from_millis(300 * u64::from(attempt))).await;
                continue;
            }
            Err(error) => return Err(error.context(format!("cannot deploy graphql/schema.graphql to {keyspace}"))),
        };
        let Some(deployed) = deployed else {
            bail!("deploySchema answered no result");
        };
        println!(
            "Deployed graphql/schema.graphql to {keyspace}: version {}.",
            deployed.version.as_deref().unwrap_or("?")
        );
        for change in deployed.cql_changes.iter().flatten().flatten() {
            println!("  CQL: {change}");
        }
        for log in deployed.logs.iter().flatten().flatten() {
            println!("  {:?}: {}", log.category, log.message);
        }
        return Ok(());
    }
    bail!("cannot deploy graphql/schema.graphql to {keyspace}: other deployments kept coming first")
}

/// Stargate refuses a deployment whose `expectedVersion` is no longer the latest one, or while
/// another deployment is running.
fn is_version_conflict(error: &anyhow::Error) -> bool {
    error.downcast_ref::<GraphqlErrors>().is_some_and(|errors| {
        errors
            .messages
            .iter()
            .any(|m| m.contains("but there is a more recent version") || m.contains("someone else is deploying"))
    })
}

/// The version of the keyspace's latest deployed schema, or `None` when none is deployed.
async fn latest_version(api: &GraphqlApi, keyspace: &str) -> anyhow::Result<Option<String>> {
    let variables = deployed_schema::Variables {
        keyspace: keyspace.to_owned(),
    };
    let data = api
        .run::<DeployedSchema>(&Endpoint::Admin, variables)
        .await
        .with_context(|| format!("cannot read the schema deployed to {keyspace}"))?;
    Ok(data.schema.and_then(|schema| schema.version))
}

/// Inserts rows with `insertTask`, which the schema declares `@cql_insert(ifNotExists: true)`.
async fn insert_rows(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: &str, count: i64) -> anyhow::Result<()> {
    for seq in 1..=count {
        let variables = insert_task::Variables {
            run_id: run_id.to_owned(),
            seq,
            title: format!("task #{seq}"),
        };
        let data = api
            .run::<InsertTask>(tasks, variables)
            .await
            .with_context(|| format!("cannot insert row {seq}"))?;
        let applied = data.insert_task.map(|response| response.applied);
        if applied != Some(true) {
            bail!("inserting row {seq} was not applied ({applied:?})");
        }
    }
    println!("Inserted {count} rows (run {run_id}).");
    Ok(())
}

/// Inserts row 1 again: `IF NOT EXISTS` finds it, so nothing is written and `applied` is false;
/// the payload's `task` is the row that is there.
async fn insert_again(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: &str) -> anyhow::Result<()> {
    let variables = insert_task::Variables {
        run_id: run_id.to_owned(),
        seq: 1,
        title: "task #1, again".to_owned(),
    };
    let data = api
        .run::<InsertTask>(tasks, variables)
        .await
        .context("cannot insert row 1 again")?;
    let Some(response) = data.insert_task else {
        bail!("insertTask answered no result");
    };
    let title = response.task.and_then(|task| task.title);
    println!(
        "Insert row 1 again: applied = {}; the row keeps title {:?}.",
        response.applied,
        title.unwrap_or_default()
    );
    Ok(())
}

/// Reads the run's rows with `tasksOfRun`, a page at a time (`@cql_select(pageSize: 4)`): each
/// page but the last carries a `pagingState` to send back for the next one.
async fn page_through_rows(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: &str) -> anyhow::Result<()> {
    let mut paging_state: Option<String> = None;
    let mut total = 0;
    for page in 1..=MAX_PAGES {
        let variables = tasks_of_run::Variables {
            run_id: run_id.to_owned(),
            paging_state: paging_state.take(),
        };
        let data = api
            .run::<TasksOfRun>(tasks, variables)
            .await
            .with_context(|| format!("cannot read page {page}"))?;
        let Some(result) = data.tasks_of_run else {
            bail!("page {page} came back empty");
        };
        let rows: Vec<String> = result
            .data
            .iter()
            .flatten()
            .flatten()
            .map(|t| format!("{} {:?}", t.seq, t.title.as_deref().unwrap_or_default()))
            .collect();
        total += rows.len();
        println!("  page {page}: {}", rows.join(", "));
        paging_state = result.paging_state;
        if paging_state.is_none() {
            println!("Read {total} rows in {page} pages.");
            return Ok(());
        }
    }
    bail!("still more pages after {MAX_PAGES}: the run has more rows than it inserted")
}

/// Reads the rows after a position with `tasksAfter`, whose `seq` argument the schema maps to
/// `seq > ?` (`@cql_where(field: "seq", predicate: GT)`).
async fn rows_after(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: &str, after: i64) -> anyhow::Result<()> {
    let variables = tasks_after::Variables {
        run_id: run_id.to_owned(),
        seq: after,
    };
    let data = api
        .run::<TasksAfter>(tasks, variables)
        .await
        .context("cannot read the rows after a position")?;
    let found: Vec<i64> = data.tasks_after.iter().flatten().flatten().map(|t| t.seq).collect();
    println!("Rows with seq > {after}: {found:?}.");
    Ok(())
}

/// Deletes the run's partition with `deleteTasksOfRun`, then reads what is left.
async fn delete_run_rows(api: &GraphqlApi, tasks: &Endpoint<'_>, run_id: &str) -> anyhow::Result<()> {
    let variables = delete_tasks_of_run::Variables {
        run_id: run_id.to_owned(),
    };
    api.run::<DeleteTasksOfRun>(tasks, variables)
        .await
        .context("cannot delete the run's rows")?;
    let variables = tasks_of_run::Variables {
        run_id: run_id.to_owned(),
        paging_state: None,
    };
    let data = api.run::<TasksOfRun>(tasks, variables).await?;
    let left = data.tasks_of_run.and_then(|page| page.data).unwrap_or_default();
    println!("Deleted the run's rows ({} left).", left.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_details_from_extensions_are_kept_with_their_place_in_the_schema() {
        // A deployment refused by Stargate's schema-first API (its JSON, shortened).
        let error: graphql_client::Error = serde_json::from_str(
            r#"{"message": "The GraphQL schema that you provided contains CQL mapping errors.",
                "extensions": {"classification": "DataFetchingException",
                  "mappingErrors": [{"message": "Foo must have at least one partition key field",
                                     "locations": [{"line": 1, "column": 1}]}]}}"#,
        )
        .expect("a GraphQL error");
        assert_eq!(
            with_details(error),
            "The GraphQL schema that you provided contains CQL mapping errors. \
             [mappingErrors: Foo must have at least one partition key field (line 1, column 1)]"
        );

        let error: graphql_client::Error = serde_json::from_str(
            r#"{"message": "can't be mapped", "extensions": {"migrationErrors": ["[WRONG_TYPE] tasks.seq"]}}"#,
        )
        .expect("a GraphQL error");
        assert_eq!(
            with_details(error),
            "can't be mapped [migrationErrors: [WRONG_TYPE] tasks.seq]"
        );
    }
}

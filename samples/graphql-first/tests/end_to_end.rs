//! sample-graphql-first against the local stack's Stargate-compatible gateway, its results
//! checked through plain CQL. Run with `scripts/test` (it starts the stack and exports its
//! settings).

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

const NEEDS_STACK: &str = "needs the local stack: run scripts/test";
/// The sample's default keyspace, and the table its schema maps `Task` to.
const KEYSPACE: &str = "graphql_first";
const TABLE: &str = "tasks";
/// A whole run against the local stack takes a few seconds; this bounds it generously.
const RUN_BOUND: Duration = Duration::from_secs(60);

fn env(name: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| panic!("{name} is not set: {NEEDS_STACK}"))
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

/// Runs the sample binary with exactly `vars` as its environment, in an empty directory (so no
/// `.env` is picked up).
fn run_sample(vars: &[(&str, String)], args: &[&str]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_sample-graphql-first"))
        .args(args)
        .env_clear()
        .envs(vars.iter().map(|(n, v)| (*n, v.as_str())))
        .current_dir(dir.path())
        .output()
        .unwrap();
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// The stack's GraphQL URL and application token.
fn stack_vars() -> Vec<(&'static str, String)> {
    ["STARGATE_GRAPHQL_URL", "ASTRA_DB_APPLICATION_TOKEN"]
        .into_iter()
        .map(|n| (n, env(n)))
        .collect()
}

fn with(vars: &[(&'static str, String)], overrides: &[(&'static str, Option<&str>)]) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = vars
        .iter()
        .filter(|(n, _)| !overrides.iter().any(|(o, _)| o == n))
        .cloned()
        .collect();
    for (name, value) in overrides {
        if let Some(value) = value {
            out.push((name, (*value).to_owned()));
        }
    }
    out
}

/// A successful run: exit 0, the last line, and its run id.
fn assert_success(run: &Run) -> String {
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Done in"), "{}", run.stdout);
    assert!(run.elapsed <= RUN_BOUND, "took {:?}", run.elapsed);
    run.stdout
        .split("(run ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("run id in output: {}", run.stdout))
        .to_owned()
}

/// A failed run: the exit code, one `error:` line containing each of `expected`, no panic, no
/// token.
fn assert_clear_failure(run: &Run, code: i32, expected: &[&str], bound: Duration) {
    let token = env("ASTRA_DB_APPLICATION_TOKEN");
    assert_eq!(
        run.code,
        Some(code),
        "exit code; stdout: {}\nstderr: {}",
        run.stdout,
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "panic: {}", run.stderr);
    let error_lines: Vec<&str> = run.stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(error_lines.len(), 1, "one error line expected: {}", run.stderr);
    for text in expected {
        assert!(
            error_lines[0].contains(text),
            "expected {text:?} in {:?}",
            error_lines[0]
        );
    }
    assert!(
        !run.stdout.contains(&token) && !run.stderr.contains(&token),
        "token leaked"
    );
    assert!(run.elapsed <= bound, "took {:?} (bound {bound:?})", run.elapsed);
}

/// The version in the line that starts with `prefix` and ends "version V.", e.g.
/// "Deployed graphql/schema.graphql to ks: version V.".
fn version_after(stdout: &str, prefix: &str) -> String {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(prefix))
        .unwrap_or_else(|| panic!("a line starting {prefix:?} in: {stdout}"));
    let version = line.rsplit("version ").next().unwrap_or_default().trim_end_matches('.');
    assert!(version.parse::<uuid::Uuid>().is_ok(), "a timeuuid version in {line:?}");
    version.to_owned()
}

async fn cql_session() -> Session {
    let builder = SessionBuilder::new()
        .known_node(env("CASSANDRA_CONTACT_POINT"))
        .user(env("CASSANDRA_USERNAME"), env("CASSANDRA_PASSWORD"));
    tokio::time::timeout(Duration::from_secs(30), builder.build())
        .await
        .expect("CQL connect in time")
        .unwrap()
}

async fn cql(session: &Session, statement: String) {
    session.query_unpaged(statement, ()).await.unwrap();
}

/// The columns of `keyspace.table` as `(name, type, kind)`, sorted, from `system_schema`.
async fn columns(session: &Session, keyspace: &str, table: &str) -> Vec<(String, String, String)> {
    let result = session
        .query_unpaged(
            "SELECT column_name, type, kind FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
            (keyspace, table),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let mut columns: Vec<(String, String, String)> = result.rows().unwrap().map(Result::unwrap).collect();
    columns.sort();
    columns
}

/// What the schema's `Task` type becomes in CQL.
fn task_table_columns() -> Vec<(String, String, String)> {
    [
        ("done", "boolean", "regular"),
        ("run_id", "uuid", "partition_key"),
        ("seq", "int", "clustering"),
        ("title", "text", "regular"),
    ]
    .iter()
    .map(|(n, t, k)| ((*n).to_owned(), (*t).to_owned(), (*k).to_owned()))
    .collect()
}

/// The run's rows as `seq`, read with plain CQL.
async fn rows_of_run(session: &Session, keyspace: &str, run_id: &str) -> Vec<i32> {
    let run_id: uuid::Uuid = run_id.parse().unwrap();
    let result = session
        .query_unpaged(
            format!("SELECT seq FROM {keyspace}.{TABLE} WHERE run_id = ?"),
            (run_id,),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    result.rows::<(i32,)>().unwrap().map(|r| r.unwrap().0).collect()
}

/// A keyspace name of its own for one test (dropped by the test).
fn scratch_keyspace(test: &str) -> String {
    format!(
        "graphql_first_{test}_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn full_run_deploys_inserts_reads_and_deletes() {
    let run = run_sample(&stack_vars(), &[]);
    let run_id = assert_success(&run);
    let out = &run.stdout;
    for expected in [
        format!("keyspace {KEYSPACE}; token AstraCS:… from ASTRA_DB_APPLICATION_TOKEN."),
        format!("Inserted 6 rows (run {run_id})."),
        "Insert row 1 again: applied = false; the row keeps title \"task #1\".".to_owned(),
        "  page 1: 1 \"task #1\", 2 \"task #2\", 3 \"task #3\", 4 \"task #4\"".to_owned(),
        "  page 2: 5 \"task #5\", 6 \"task #6\"".to_owned(),
        "Read 6 rows in 2 pages.".to_owned(),
        "Rows with seq > 4: [5, 6].".to_owned(),
        "Deleted the run's rows (0 left).".to_owned(),
    ] {
        assert!(out.contains(&expected), "expected {expected:?} in:\n{out}");
    }
    // Every run deploys, with the latest version as expectedVersion.
    version_after(out, &format!("Deployed graphql/schema.graphql to {KEYSPACE}: version "));

    // Through plain CQL: Stargate created the table the schema describes, and the run's rows are
    // gone.
    let session = cql_session().await;
    assert_eq!(columns(&session, KEYSPACE, TABLE).await, task_table_columns());
    assert!(rows_of_run(&session, KEYSPACE, &run_id).await.is_empty());
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_new_keyspace_is_created_and_three_deployments_in_a_row_change_nothing_after_the_first() {
    let keyspace = scratch_keyspace("rerun");
    let runs: Vec<Run> = (0..3)
        .map(|_| run_sample(&stack_vars(), &["--keyspace", &keyspace]))
        .collect();
    let session = cql_session().await;
    let created = columns(&session, &keyspace, TABLE).await;
    // Stargate keeps every deployed version, with its text, in stargate_graphql.schema_source.
    let deployed: Vec<(scylla::value::CqlTimeuuid, String)> = session
        .query_unpaged(
            "SELECT version, contents FROM stargate_graphql.schema_source WHERE keyspace_name = ?",
            (&keyspace,),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap()
        .rows()
        .unwrap()
        .map(Result::unwrap)
        .collect();
    cql(&session, format!("DROP KEYSPACE IF EXISTS {keyspace}")).await;
    cql(
        &session,
        format!("DELETE FROM stargate_graphql.schema_source WHERE keyspace_name = '{keyspace}'"),
    )
    .await;

    for run in &runs {
        assert_success(run);
    }
    let deployed_prefix = format!("Deployed graphql/schema.graphql to {keyspace}: version ");
    let first = &runs[0].stdout;
    for expected in [
        format!("Keyspace {keyspace} created (replication factor 1)."),
        format!("No schema deployed to {keyspace} yet."),
        "  CQL: Create table tasks".to_owned(),
    ] {
        assert!(first.contains(&expected), "expected {expected:?} in:\n{first}");
    }
    // Each later run finds the previous run's version, passes it as expectedVersion, and
    // Stargate has nothing to change in CQL.
    for pair in runs.windows(2) {
        let (before, after) = (&pair[0].stdout, &pair[1].stdout);
        let previous = version_after(before, &deployed_prefix);
        for expected in [
            format!("Keyspace {keyspace} exists."),
            format!("Latest deployed schema of {keyspace}: version {previous}."),
            "  CQL: No changes, the CQL schema is up to date".to_owned(),
        ] {
            assert!(after.contains(&expected), "expected {expected:?} in:\n{after}");
        }
        assert!(!after.contains("Create table"), "{after}");
        assert_ne!(version_after(after, &deployed_prefix), previous);
    }
    assert_eq!(created, task_table_columns());
    let schema = include_str!("../graphql/schema.graphql");
    let mut versions: Vec<String> = runs
        .iter()
        .map(|run| version_after(&run.stdout, &deployed_prefix))
        .collect();
    versions.sort();
    let mut stored: Vec<String> = deployed.iter().map(|(version, _)| version.to_string()).collect();
    stored.sort();
    assert_eq!(stored, versions, "one stored version per deployment");
    assert!(
        deployed.iter().all(|(_, contents)| contents == schema),
        "every stored version holds the sample's schema"
    );
}

/// A keyspace where `tasks` exists with `seq text`: the schema's `seq: Int!` cannot be mapped to
/// it, so `deploySchema` answers HTTP 200 with an error. The sample must stop with its message.
#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_deploy_refused_with_http_200_stops_the_run_with_its_message() {
    let keyspace = scratch_keyspace("mismatch");
    let session = cql_session().await;
    cql(
        &session,
        format!("CREATE KEYSPACE {keyspace} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"),
    )
    .await;
    cql(
        &session,
        format!("CREATE TABLE {keyspace}.{TABLE} (run_id uuid, seq text, title text, done boolean, PRIMARY KEY ((run_id), seq))"),
    )
    .await;
    let run = run_sample(&stack_vars(), &["--keyspace", &keyspace]);
    cql(&session, format!("DROP KEYSPACE IF EXISTS {keyspace}")).await;
    cql(
        &session,
        format!("DELETE FROM stargate_graphql.schema_source WHERE keyspace_name = '{keyspace}'"),
    )
    .await;
    assert_clear_failure(
        &run,
        1,
        &[
            &format!("cannot deploy graphql/schema.graphql to {keyspace}"),
            "DeploySchema answered errors: ",
            // The details Stargate gives in `extensions`, which say what to fix.
            "[migrationErrors: ",
            "seq",
        ],
        Duration::from_secs(30),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn missing_token_names_the_variable() {
    let run = run_sample(&with(&stack_vars(), &[("ASTRA_DB_APPLICATION_TOKEN", None)]), &[]);
    assert_clear_failure(
        &run,
        1,
        &["ASTRA_DB_APPLICATION_TOKEN is not set", "Generate token"],
        Duration::from_secs(2),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn wrong_token_is_refused_with_how_to_fix_it() {
    let wrong = format!("AstraCS:{}:{}", "x".repeat(24), "0".repeat(64));
    let run = run_sample(
        &with(&stack_vars(), &[("ASTRA_DB_APPLICATION_TOKEN", Some(&wrong))]),
        &[],
    );
    assert_clear_failure(
        &run,
        1,
        &[
            "cannot look up keyspace graphql_first",
            "token is missing, wrong or expired",
        ],
        Duration::from_secs(15),
    );
    assert!(
        !run.stderr.contains(&wrong),
        "the wrong token must not be echoed either"
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn unreachable_base_url_fails_within_the_bound() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    drop(listener);
    let run = run_sample(&with(&stack_vars(), &[("STARGATE_GRAPHQL_URL", Some(&url))]), &[]);
    assert_clear_failure(
        &run,
        1,
        &[&format!("cannot reach {url}/graphql-schema"), "Check the URL"],
        Duration::from_secs(10),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn a_keyspace_name_that_is_not_an_identifier_is_refused() {
    let run = run_sample(&stack_vars(), &["--keyspace", "graphql-first"]);
    // clap's usage errors exit with 2.
    assert_clear_failure(
        &run,
        2,
        &["--keyspace", "only letters, digits and underscores"],
        Duration::from_secs(2),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn schema_files_match_what_the_gateway_serves() {
    // The schema must be deployed for the keyspace's API to serve it.
    assert_success(&run_sample(&stack_vars(), &["--rows", "3"]));
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/graphql-schema");
    let output = Command::new(script)
        .args(["--check", "graphql-first"])
        .env_clear()
        .env("PATH", env("PATH"))
        .envs(stack_vars())
        .env("GRAPHQL_FIRST_KEYSPACE", KEYSPACE)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "graphql/*.json differ from what the gateway serves (run scripts/graphql-schema):\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn three_runs_at_once_leave_nothing_behind() {
    let runs: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(|| run_sample(&stack_vars(), &[])))
        .collect();
    let run_ids: Vec<String> = runs.into_iter().map(|r| assert_success(&r.join().unwrap())).collect();
    let session = cql_session().await;
    for run_id in run_ids {
        assert!(
            rows_of_run(&session, KEYSPACE, &run_id).await.is_empty(),
            "rows left for run {run_id}"
        );
    }
}

//! sample-graphql-cql-first against the local stack's Stargate-compatible gateway, its results
//! checked through plain CQL. Run with `scripts/test` (it starts the stack and exports its
//! settings).

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use uuid::Uuid;

const NEEDS_STACK: &str = "needs the local stack: run scripts/test";
const TABLE: &str = "sample_graphql_tasks";
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
    let output = Command::new(env!("CARGO_BIN_EXE_sample-graphql-cql-first"))
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

/// The stack's GraphQL URL, application token and keyspace.
fn stack_vars() -> Vec<(&'static str, String)> {
    [
        "STARGATE_GRAPHQL_URL",
        "ASTRA_DB_APPLICATION_TOKEN",
        "ASTRA_DB_KEYSPACE",
    ]
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

/// A successful run: exit 0, the tour's last line, and its run id.
fn assert_success(run: &Run) -> Uuid {
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Done in"), "{}", run.stdout);
    assert!(run.elapsed <= RUN_BOUND, "took {:?}", run.elapsed);
    run_id(&run.stdout)
}

fn run_id(stdout: &str) -> Uuid {
    stdout
        .split("(run ")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("run id in output: {stdout}"))
}

/// A failed run: exit 1, one `error:` line containing each of `expected`, no panic, no token.
fn assert_clear_failure(run: &Run, expected: &[&str], bound: Duration) {
    let token = env("ASTRA_DB_APPLICATION_TOKEN");
    assert_eq!(
        run.code,
        Some(1),
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

async fn cql_session() -> Session {
    let builder = SessionBuilder::new()
        .known_node(env("CASSANDRA_CONTACT_POINT"))
        .user(env("CASSANDRA_USERNAME"), env("CASSANDRA_PASSWORD"));
    tokio::time::timeout(Duration::from_secs(30), builder.build())
        .await
        .expect("CQL connect in time")
        .unwrap()
}

/// The run's rows as `(seq, title, done)`, read with plain CQL.
async fn rows_of_run(session: &Session, run_id: Uuid) -> Vec<(i32, String, bool)> {
    let keyspace = env("ASTRA_DB_KEYSPACE");
    let cql = format!("SELECT seq, title, done FROM {keyspace}.{TABLE} WHERE run_id = ?");
    let result = session
        .query_unpaged(cql, (run_id,))
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    result
        .rows::<(i32, String, bool)>()
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn full_tour_prints_every_step_and_leaves_no_rows() {
    let run = run_sample(&stack_vars(), &[]);
    let run_id = assert_success(&run);
    let out = &run.stdout;
    let keyspace = env("ASTRA_DB_KEYSPACE");
    for expected in [
        "token AstraCS:… from ASTRA_DB_APPLICATION_TOKEN.".to_owned(),
        format!("Table {keyspace}.{TABLE} "),
        "run_id uuid (partition key), seq int (clustering)".to_owned(),
        format!("Inserted 10 rows (run {run_id})."),
        "Read row 1 by key: title \"task #1\", done = false (1 row).".to_owned(),
        "Filter seq > 7, newest first: 3 rows: 10 \"task #10\", 9 \"task #9\", 8 \"task #8\".".to_owned(),
        "Filter on title (not in the primary key): refused: ".to_owned(),
        "  page 1: rows [1, 2, 3, 4]".to_owned(),
        "  page 2: rows [5, 6, 7, 8]".to_owned(),
        "  page 3: rows [9, 10]".to_owned(),
        "Read 10 rows in 3 pages of at most 4.".to_owned(),
        "Update row 1 if it exists: applied = true.".to_owned(),
        "Update row 11 if it exists: applied = false.".to_owned(),
        "Read row 1 by key: title \"task #1, done\", done = true (1 row).".to_owned(),
        "Deleted row 10: reading it by key now finds 0 rows.".to_owned(),
        "Deleted the run's rows (0 left).".to_owned(),
    ] {
        assert!(out.contains(&expected), "expected {expected:?} in:\n{out}");
    }
    // The refused filter is Cassandra's own message, carried in the GraphQL `errors` array.
    assert!(out.contains("data filtering"), "{out}");
    assert!(!out.contains(&env("ASTRA_DB_APPLICATION_TOKEN")), "token printed");

    // Through plain CQL: the table has the columns createTable was given, and the run's
    // partition is gone.
    let session = cql_session().await;
    let columns = session
        .query_unpaged(
            "SELECT column_name, type, kind FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
            (&keyspace, TABLE),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let mut columns: Vec<(String, String, String)> = columns.rows().unwrap().map(Result::unwrap).collect();
    columns.sort();
    let expected: Vec<(String, String, String)> = [
        ("done", "boolean", "regular"),
        ("run_id", "uuid", "partition_key"),
        ("seq", "int", "clustering"),
        ("title", "text", "regular"),
    ]
    .iter()
    .map(|(n, t, k)| ((*n).to_owned(), (*t).to_owned(), (*k).to_owned()))
    .collect();
    assert_eq!(columns, expected);
    assert!(
        rows_of_run(&session, run_id).await.is_empty(),
        "the run's rows must be deleted"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn kept_rows_show_the_writes_in_cql() {
    let run = run_sample(&stack_vars(), &["--keep", "--rows", "5"]);
    let run_id = assert_success(&run);
    assert!(
        run.stdout.contains(&format!("Kept the run's rows: run_id = {run_id}")),
        "{}",
        run.stdout
    );

    let session = cql_session().await;
    let rows = rows_of_run(&session, run_id).await;
    // Row 1 was updated (title and done), row 5 deleted, and the update of row 6 with ifExists
    // was not applied: no row 6.
    let expected = vec![
        (1, "task #1, done".to_owned(), true),
        (2, "task #2".to_owned(), false),
        (3, "task #3".to_owned(), false),
        (4, "task #4".to_owned(), false),
    ];
    // Clean up before asserting, so that a failure leaves nothing behind either.
    let keyspace = env("ASTRA_DB_KEYSPACE");
    session
        .query_unpaged(format!("DELETE FROM {keyspace}.{TABLE} WHERE run_id = ?"), (run_id,))
        .await
        .unwrap();
    assert_eq!(rows, expected);
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn missing_token_names_the_variable() {
    let run = run_sample(&with(&stack_vars(), &[("ASTRA_DB_APPLICATION_TOKEN", None)]), &[]);
    assert_clear_failure(
        &run,
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
        &[
            "cannot look up table",
            "token is missing, wrong or expired",
            "Settings → Tokens",
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
        &[&format!("cannot reach {url}/graphql-schema"), "Check the URL"],
        Duration::from_secs(10),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn astra_url_comes_from_database_id_and_region() {
    // No STARGATE_GRAPHQL_URL: the URL is Astra's. The database does not exist, so the call fails
    // (no DNS name offline, an HTTP error online); either way the error names the URL.
    let id = "3a6d1c7e-1234-4bcd-9abc-0123456789ab";
    let vars = with(
        &stack_vars(),
        &[
            ("STARGATE_GRAPHQL_URL", None),
            ("ASTRA_DB_ID", Some(id)),
            ("ASTRA_DB_REGION", Some("us-east1")),
        ],
    );
    let run = run_sample(&vars, &[]);
    let url = format!("https://{id}-us-east1.apps.astra.datastax.com/api/graphql-schema");
    assert_clear_failure(&run, &[&url], Duration::from_secs(40));
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn missing_keyspace_is_named() {
    let run = run_sample(
        &with(&stack_vars(), &[("ASTRA_DB_KEYSPACE", Some("no_such_keyspace"))]),
        &[],
    );
    assert_clear_failure(
        &run,
        &[
            "keyspace no_such_keyspace does not exist",
            "is ASTRA_DB_KEYSPACE right?",
        ],
        Duration::from_secs(15),
    );
}

/// A keyspace where `sample_graphql_tasks` exists with `seq text` instead of `seq int`: the
/// generated API then wants a String for `seq`, the sample's operations send an Int, and Stargate
/// answers HTTP 200 with a validation error. The sample must stop with GraphQL's message.
#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_graphql_error_with_http_200_stops_the_run_with_its_message() {
    let keyspace = "sample_graphql_mismatch";
    let session = cql_session().await;
    session
        .query_unpaged(
            format!(
                "CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
            ),
            (),
        )
        .await
        .unwrap();
    session
        .query_unpaged(
            format!(
                "CREATE TABLE IF NOT EXISTS {keyspace}.{TABLE} (run_id uuid, seq text, title text, done boolean, PRIMARY KEY ((run_id), seq))"
            ),
            (),
        )
        .await
        .unwrap();

    let run = run_sample(&with(&stack_vars(), &[("ASTRA_DB_KEYSPACE", Some(keyspace))]), &[]);
    session
        .query_unpaged(format!("DROP KEYSPACE IF EXISTS {keyspace}"), ())
        .await
        .unwrap();
    assert!(
        run.stdout.contains("seq text (clustering)"),
        "the table's columns are listed first: {}",
        run.stdout
    );
    assert_clear_failure(
        &run,
        &["cannot insert row 1", "InsertTask answered errors: ", "seq"],
        Duration::from_secs(30),
    );
}

/// `scripts/graphql-schema --check cql-first`: the committed schema files against what the
/// gateway serves now.
fn check_schema_files() -> std::process::Output {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/graphql-schema");
    Command::new(script)
        .args(["--check", "cql-first"])
        .env_clear()
        .env("PATH", env("PATH"))
        .envs(stack_vars())
        .output()
        .unwrap()
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn schema_files_match_what_the_gateway_serves_whatever_else_is_in_the_keyspace() {
    // The table must exist for the keyspace's API to have its operations.
    assert_success(&run_sample(&stack_vars(), &["--rows", "3"]));
    // Another table in the same keyspace adds operations and types to the keyspace's API; the
    // check compares only what concerns the sample's table, so it must still pass.
    let keyspace = env("ASTRA_DB_KEYSPACE");
    let unrelated = format!("sample_graphql_unrelated_{}", &Uuid::new_v4().simple().to_string()[..8]);
    let session = cql_session().await;
    session
        .query_unpaged(
            format!("CREATE TABLE {keyspace}.{unrelated} (id bigint PRIMARY KEY, note text, tags set<text>)"),
            (),
        )
        .await
        .unwrap();
    let output = check_schema_files();
    session
        .query_unpaged(format!("DROP TABLE IF EXISTS {keyspace}.{unrelated}"), ())
        .await
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
async fn three_runs_in_a_row_leave_nothing_behind() {
    let mut run_ids = Vec::new();
    for _ in 0..3 {
        run_ids.push(assert_success(&run_sample(&stack_vars(), &[])));
    }
    let session = cql_session().await;
    for run_id in run_ids {
        assert!(
            rows_of_run(&session, run_id).await.is_empty(),
            "rows left for run {run_id}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn four_runs_at_once_leave_nothing_behind() {
    let runs: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| run_sample(&stack_vars(), &[])))
        .collect();
    let run_ids: Vec<Uuid> = runs.into_iter().map(|r| assert_success(&r.join().unwrap())).collect();
    let session = cql_session().await;
    for run_id in run_ids {
        assert!(
            rows_of_run(&session, run_id).await.is_empty(),
            "rows left for run {run_id}"
        );
    }
}

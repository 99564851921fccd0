//! sample-grpc against the local stack's Stargate-compatible gateway, with the results checked
//! through plain CQL. Run with `scripts/test` (it starts the stack and exports its settings).
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::process::Command;
use std::time::{Duration, Instant};

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::value::CqlTimestamp;
use uuid::Uuid;

const NEEDS_STACK: &str = "needs the local stack: run scripts/test";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {NEEDS_STACK}"))
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
    let output = Command::new(env!("CARGO_BIN_EXE_sample-grpc"))
        .args(args)
        .env_clear()
        .envs(vars.iter().map(|(n, v)| (n, v)))
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

/// What the sample needs against the local stack: the gateway's gRPC endpoint, a token, a keyspace.
fn stack_vars() -> Vec<(&'static str, String)> {
    [
        "STARGATE_GRPC_ENDPOINT",
        "ASTRA_DB_APPLICATION_TOKEN",
        "ASTRA_DB_KEYSPACE",
    ]
    .into_iter()
    .map(|name| (name, env(name)))
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

fn assert_success(run: &Run) {
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(!run.stderr.contains("error:"), "{}", run.stderr);
}

/// A failed run: exit code 1, one `error:` line naming `expected`, no panic, no token, in time.
fn assert_clear_failure(run: &Run, expected: &str, bound: Duration) {
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
    assert!(
        error_lines[0].contains(expected),
        "expected {expected:?} in {:?}",
        error_lines[0]
    );
    assert!(
        !run.stdout.contains(&token) && !run.stderr.contains(&token),
        "token leaked"
    );
    assert!(run.elapsed <= bound, "took {:?} (bound {bound:?})", run.elapsed);
}

/// The `keyspace.sample_grpc_…` table a run names in its output.
fn table_of(run: &Run) -> String {
    let keyspace = env("ASTRA_DB_KEYSPACE");
    let start = run
        .stdout
        .find("sample_grpc_")
        .unwrap_or_else(|| panic!("no table in {}", run.stdout));
    let name: String = run.stdout[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect();
    format!("{keyspace}.{name}")
}

/// An independent, plain CQL session as the stack's superuser.
async fn cql() -> Session {
    SessionBuilder::new()
        .known_node(env("CASSANDRA_CONTACT_POINT"))
        .user(env("CASSANDRA_USERNAME"), env("CASSANDRA_PASSWORD"))
        .build()
        .await
        .unwrap()
}

async fn table_exists(session: &Session, qualified: &str) -> bool {
    let (keyspace, table) = qualified.split_once('.').unwrap();
    let rows = session
        .query_unpaged(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
            (keyspace, table),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    rows.rows_num() > 0
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn full_tour_leaves_nothing_behind() {
    let run = run_sample(&stack_vars(), &[]);
    assert_success(&run);
    let out = &run.stdout;
    assert!(out.contains("(plaintext)"), "{out}");
    assert!(
        out.contains("Connected to cluster \"astra-local\", Cassandra 5.0"),
        "{out}"
    );
    assert!(out.contains("Created the table: CREATED TABLE"), "{out}");
    assert!(out.contains("Inserted tasks #1 to #5 one by one"), "{out}");
    assert!(
        out.contains("inserted tasks #6 to #10 and marked task #1 done"),
        "{out}"
    );
    assert!(
        out.contains("#1 \"task #1\": done=true, due 2026-01-06 09:00 UTC, estimate 15 min, score 0.1"),
        "{out}"
    );
    assert!(
        out.contains("#10 \"task #10\": done=false, due 2026-01-15 09:00 UTC, estimate 150 min, score none"),
        "{out}"
    );
    assert!(out.contains("page 1: tasks [1, 2, 3, 4]"), "{out}");
    assert!(out.contains("page 2: tasks [5, 6, 7, 8]"), "{out}");
    assert!(out.contains("page 3: tasks [9, 10]"), "{out}");
    assert!(out.contains("Read 10 tasks in 3 pages."), "{out}");
    assert!(out.contains("Deleted task #10: 9 tasks left."), "{out}");
    assert!(out.contains("Dropped the table: DROPPED TABLE"), "{out}");
    assert!(out.trim_end().ends_with(" s."), "{out}");

    let table = table_of(&run);
    assert!(!table_exists(&cql().await, &table).await, "{table} must be dropped");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn kept_table_holds_what_the_sample_wrote() {
    let run = run_sample(&stack_vars(), &["--keep-table"]);
    assert_success(&run);
    assert!(run.stdout.contains("Kept table"), "{}", run.stdout);
    assert!(!run.stdout.contains("Dropped the table"), "{}", run.stdout);
    let table = table_of(&run);
    let list_id: Uuid = run
        .stdout
        .split("(list ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .unwrap()
        .parse()
        .unwrap();

    let session = cql().await;
    let rows = session
        .query_unpaged(
            format!("SELECT seq, title, done, due, estimate_minutes, score FROM {table} WHERE list_id = ?"),
            (list_id,),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let rows: Vec<(i32, String, bool, CqlTimestamp, i64, Option<f64>)> =
        rows.rows().unwrap().collect::<Result<_, _>>().unwrap();
    session.query_unpaged(format!("DROP TABLE {table}"), &[]).await.unwrap();

    // Tasks 1 to 9 (10 was deleted); 1 to 5 inserted one by one with a score, 6 to 9 by the
    // batch without one; the batch also marked task 1 done.
    assert_eq!(
        rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        (1..=9).collect::<Vec<_>>()
    );
    let day_ms = 86_400_000;
    let jan_5_9h_ms = 1_767_603_600_000;
    for (seq, title, done, due, estimate, score) in &rows {
        assert_eq!(title, &format!("task #{seq}"));
        assert_eq!(*done, *seq == 1, "task {seq}");
        assert_eq!(due.0, jan_5_9h_ms + i64::from(*seq) * day_ms, "task {seq}");
        assert_eq!(*estimate, 15 * i64::from(*seq));
        let expected_score = (*seq <= 5).then(|| f64::from(*seq) / 10.0);
        assert_eq!(*score, expected_score, "task {seq}");
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn three_runs_in_a_row_and_four_at_once_all_clean_up() {
    let vars = stack_vars();
    let mut runs: Vec<Run> = (0..3).map(|_| run_sample(&vars, &[])).collect();
    runs.extend(std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| run_sample(&vars, &[]))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect::<Vec<_>>()
    }));
    let session = cql().await;
    let mut tables = Vec::new();
    for run in &runs {
        assert_success(run);
        assert!(run.stdout.contains("Deleted task #10: 9 tasks left."), "{}", run.stdout);
        let table = table_of(run);
        assert!(!table_exists(&session, &table).await, "{table} must be dropped");
        tables.push(table);
    }
    tables.sort();
    tables.dedup();
    assert_eq!(tables.len(), 7, "each run has a table of its own");
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn wrong_token_is_unauthenticated() {
    let wrong = format!("AstraCS:{}:{}", "x".repeat(24), "0".repeat(64));
    let vars = with(&stack_vars(), &[("ASTRA_DB_APPLICATION_TOKEN", Some(&wrong))]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(
        &run,
        "Stargate answered Unauthenticated: Invalid token",
        Duration::from_secs(10),
    );
    assert!(
        run.stderr.contains("ASTRA_DB_APPLICATION_TOKEN"),
        "the fix is named: {}",
        run.stderr
    );
    assert!(
        !run.stderr.contains(&wrong) && !run.stdout.contains(&wrong),
        "the wrong token must not be echoed"
    );
    assert!(
        !run.stdout.contains("Created"),
        "nothing runs after the failed first call"
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn missing_token_names_the_variable() {
    let vars = with(&stack_vars(), &[("ASTRA_DB_APPLICATION_TOKEN", None)]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(&run, "ASTRA_DB_APPLICATION_TOKEN is not set", Duration::from_secs(2));
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn token_from_the_auth_api() {
    let vars = with(
        &stack_vars(),
        &[
            ("ASTRA_DB_APPLICATION_TOKEN", None),
            ("STARGATE_AUTH_URL", Some(&env("STARGATE_AUTH_URL"))),
            ("STARGATE_USERNAME", Some(&env("STARGATE_USERNAME"))),
            ("STARGATE_PASSWORD", Some(&env("STARGATE_PASSWORD"))),
        ],
    );
    let run = run_sample(&vars, &["--cql", "SELECT cluster_name FROM system.local"]);
    assert_success(&run);
    assert!(run.stderr.contains("got a token from"), "{}", run.stderr);
    assert!(
        run.stdout.contains("cluster_name\nastra-local\n(1 row)"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(&env("STARGATE_PASSWORD")) && !run.stderr.contains(&env("STARGATE_PASSWORD")));
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn cql_option_prints_typed_rows() {
    let keyspace = env("ASTRA_DB_KEYSPACE");
    let statement = format!(
        "SELECT keyspace_name, durable_writes, replication FROM system_schema.keyspaces WHERE keyspace_name = '{keyspace}'"
    );
    let run = run_sample(&stack_vars(), &["--cql", &statement]);
    assert_success(&run);
    let out = &run.stdout;
    assert!(out.contains("keyspace_name | durable_writes | replication"), "{out}");
    // A map column is shown as a map, thanks to the column's type in the result's metadata.
    assert!(
        out.contains(&format!("{keyspace} | true | {{class: org.apache.cassandra.locator.")),
        "{out}"
    );
    assert!(out.contains("(1 row)"), "{out}");
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn cql_syntax_error_shows_the_server_message() {
    let run = run_sample(&stack_vars(), &["--cql", "SELEC 1"]);
    assert_clear_failure(
        &run,
        "cannot run \"SELEC 1\": Stargate answered InvalidArgument: ",
        Duration::from_secs(10),
    );
    // Cassandra's own parser message, passed through unchanged.
    assert!(
        run.stderr.contains("no viable alternative at input 'SELEC'"),
        "{}",
        run.stderr
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn unreachable_endpoint_fails_within_bound() {
    // A port where nothing listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let endpoint = format!("http://127.0.0.1:{port}");
    let vars = with(&stack_vars(), &[("STARGATE_GRPC_ENDPOINT", Some(&endpoint))]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(&run, &format!("cannot connect to {endpoint}"), Duration::from_secs(10));
    assert!(run.stderr.contains("STARGATE_GRPC_ENDPOINT"), "{}", run.stderr);
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn silent_server_is_bounded_by_the_call_timeout() {
    // Accepts TCP connections and never says a word: HTTP/2 set-up does not wait for the server,
    // so it is the first call's deadline that ends the wait.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let vars = with(&stack_vars(), &[("STARGATE_GRPC_ENDPOINT", Some(&endpoint))]);
    let run = run_sample(&vars, &["--timeout", "3"]);
    drop(listener);
    assert_clear_failure(
        &run,
        "cannot read system.local: no answer within 3s",
        Duration::from_secs(10),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn https_endpoint_speaks_tls() {
    // The gateway's port is plaintext: a TLS client must fail there, fast, and say so.
    let plaintext = env("STARGATE_GRPC_ENDPOINT");
    let endpoint = plaintext.replacen("http://", "https://", 1);
    let vars = with(&stack_vars(), &[("STARGATE_GRPC_ENDPOINT", Some(&endpoint))]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(&run, "cannot connect to https://", Duration::from_secs(10));
    assert!(run.stderr.contains("needs http://"), "{}", run.stderr);
}

//! sample-document against the local stack's Stargate-compatible gateway, its results checked
//! through plain CQL. Run with `scripts/test` (it starts the stack and exports its settings).

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::value::{CqlValue, Row};

const NEEDS_STACK: &str = "needs the local stack: run scripts/test";
const COLLECTION: &str = "sample_document_tasks";
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
    let output = Command::new(env!("CARGO_BIN_EXE_sample-document"))
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

/// The stack's REST URL (which serves the Document API too), application token and keyspace.
fn stack_vars() -> Vec<(&'static str, String)> {
    ["STARGATE_REST_URL", "ASTRA_DB_APPLICATION_TOKEN", "ASTRA_DB_KEYSPACE"]
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

/// The documents a run wrote: the chosen id, then the generated ones.
fn document_ids(stdout: &str) -> Vec<String> {
    let chosen = stdout
        .split("PUT document ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("chosen id in output: {stdout}"));
    let generated = stdout
        .split("the API chose their ids: ")
        .nth(1)
        .and_then(|rest| rest.split(".\n").next())
        .unwrap_or_else(|| panic!("generated ids in output: {stdout}"));
    let mut ids = vec![chosen.to_owned()];
    ids.extend(generated.split(", ").map(str::to_owned));
    ids
}

/// A successful run: exit 0, the closing line, and the ids of the documents it wrote.
fn assert_success(run: &Run) -> Vec<String> {
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Done in"), "{}", run.stdout);
    assert!(run.elapsed <= RUN_BOUND, "took {:?}", run.elapsed);
    document_ids(&run.stdout)
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

/// The text cells stored for document `id`. A collection's table has the document id as its
/// partition key `key` in Stargate and in the local gateway (which store the rest differently:
/// one row per JSON leaf, or one JSON text), so this works for both.
async fn stored_text(session: &Session, id: &str) -> Option<String> {
    let keyspace = env("ASTRA_DB_KEYSPACE");
    let cql = format!("SELECT * FROM {keyspace}.{COLLECTION} WHERE key = ?");
    let result = session
        .query_unpaged(cql, (id,))
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let rows: Vec<Row> = result.rows::<Row>().unwrap().map(Result::unwrap).collect();
    if rows.is_empty() {
        return None;
    }
    let mut text = String::new();
    for value in rows.iter().flat_map(|row| row.columns.iter().flatten()) {
        if let CqlValue::Text(s) = value {
            text.push_str(s);
            text.push('\n');
        }
    }
    Some(text)
}

async fn assert_no_documents_left(session: &Session, ids: &[String]) {
    for id in ids {
        assert_eq!(stored_text(session, id).await, None, "document {id} is still stored");
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn full_tour_prints_every_step_and_leaves_no_documents() {
    let run = run_sample(&stack_vars(), &[]);
    let ids = assert_success(&run);
    assert_eq!(ids.len(), 5, "{ids:?}");
    let chosen = &ids[0];
    assert!(chosen.starts_with("first-task-"), "{chosen}");
    let out = &run.stdout;
    let namespace = env("ASTRA_DB_KEYSPACE");
    for expected in [
        "Token: AstraCS:… from ASTRA_DB_APPLICATION_TOKEN.".to_owned(),
        format!("Collection {namespace}.{COLLECTION} exists"),
        format!("PUT document {chosen} (an id we chose)."),
        "POSTed 4 documents; the API chose their ids: ".to_owned(),
        format!("Read {chosen}: \"task #1\", priority 1, assignee Ada (storage), tags [\"sample\", \"odd\"]."),
        "Search priority >= 4: 2 documents: task #4, task #5.".to_owned(),
        "  page 1: ".to_owned(),
        "  page 3: ".to_owned(),
        "Read 5 documents in 3 pages of at most 2.".to_owned(),
        format!("PATCH {chosen}/assignee {{\"team\": \"search\"}}: assignee is now Ada (search)."),
        format!("Deleted 5 documents; reading {chosen} now answers 404 Not Found."),
        "Deleted the run's documents (0 left).".to_owned(),
    ] {
        assert!(out.contains(&expected), "expected {expected:?} in:\n{out}");
    }
    // The generated ids are UUIDs, as Stargate makes them.
    for id in &ids[1..] {
        assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
    }

    let session = cql_session().await;
    let tables = session
        .query_unpaged(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
            (&namespace, COLLECTION),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    assert_eq!(tables.rows_num(), 1, "the collection is a table of the keyspace");
    assert_no_documents_left(&session, &ids).await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn kept_documents_show_the_writes_in_cql() {
    let run = run_sample(&stack_vars(), &["--keep", "--documents", "3"]);
    let ids = assert_success(&run);
    assert!(
        run.stdout.contains("Kept the run's 3 documents: run = "),
        "{}",
        run.stdout
    );

    let session = cql_session().await;
    let mut stored = Vec::new();
    for id in &ids {
        stored.push(stored_text(&session, id).await);
    }
    // Clean up before asserting, so that a failure leaves nothing behind either.
    let keyspace = env("ASTRA_DB_KEYSPACE");
    for id in &ids {
        session
            .query_unpaged(format!("DELETE FROM {keyspace}.{COLLECTION} WHERE key = ?"), (id,))
            .await
            .unwrap();
    }
    for (id, text) in ids.iter().zip(&stored) {
        let text = text.as_deref().unwrap_or_else(|| panic!("document {id} is not stored"));
        assert!(text.contains("Ada"), "{id}: {text}");
    }
    // The PATCH of `assignee` replaced its team and kept its name.
    let first = stored[0].as_deref().unwrap_or_default();
    assert!(first.contains("search") && !first.contains("storage"), "{first}");
    assert!(first.contains("task #1"), "{first}");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn stargate_user_and_password_get_a_token_from_the_auth_api() {
    let vars = with(
        &stack_vars(),
        &[
            ("ASTRA_DB_APPLICATION_TOKEN", None),
            ("STARGATE_AUTH_URL", Some(&env("STARGATE_AUTH_URL"))),
            ("STARGATE_USERNAME", Some(&env("STARGATE_USERNAME"))),
            ("STARGATE_PASSWORD", Some(&env("STARGATE_PASSWORD"))),
        ],
    );
    let run = run_sample(&vars, &[]);
    let ids = assert_success(&run);
    let auth = format!("{}/v1/auth", env("STARGATE_AUTH_URL").trim_end_matches('/'));
    assert!(
        run.stdout.contains(&format!("Token: got one from {auth} for ")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains(&env("STARGATE_PASSWORD")), "password printed");
    assert_no_documents_left(&cql_session().await, &ids).await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn stargate_docs_url_wins_over_the_rest_url() {
    // Stargate v2 serves the Document API on its own port: STARGATE_DOCS_URL points there.
    let vars = with(
        &stack_vars(),
        &[
            ("STARGATE_REST_URL", Some("http://127.0.0.1:9")),
            ("STARGATE_DOCS_URL", Some(&env("STARGATE_REST_URL"))),
        ],
    );
    let ids = assert_success(&run_sample(&vars, &["--documents", "3"]));
    assert_no_documents_left(&cql_session().await, &ids).await;
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn missing_token_names_the_variables() {
    let run = run_sample(&with(&stack_vars(), &[("ASTRA_DB_APPLICATION_TOKEN", None)]), &[]);
    assert_clear_failure(
        &run,
        &[
            "ASTRA_DB_APPLICATION_TOKEN is not set",
            "STARGATE_USERNAME",
            "Generate token",
        ],
        Duration::from_secs(2),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn wrong_token_is_a_401_that_says_how_to_fix_it() {
    let wrong = format!("AstraCS:{}:{}", "x".repeat(24), "0".repeat(64));
    let run = run_sample(
        &with(&stack_vars(), &[("ASTRA_DB_APPLICATION_TOKEN", Some(&wrong))]),
        &[],
    );
    assert_clear_failure(
        &run,
        &[
            "HTTP 401",
            "Invalid token",
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
    let run = run_sample(&with(&stack_vars(), &[("STARGATE_REST_URL", Some(&url))]), &[]);
    assert_clear_failure(
        &run,
        &[&format!("cannot reach {url}/v2/namespaces/"), "Check the URL"],
        Duration::from_secs(10),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn astra_url_comes_from_database_id_and_region() {
    // No STARGATE_REST_URL: the URL is Astra's. The database does not exist, so the call fails
    // (no DNS name offline, an HTTP error online); either way the error names the URL.
    let id = "3a6d1c7e-1234-4bcd-9abc-0123456789ab";
    let vars = with(
        &stack_vars(),
        &[
            ("STARGATE_REST_URL", None),
            ("ASTRA_DB_ID", Some(id)),
            ("ASTRA_DB_REGION", Some("us-east1")),
        ],
    );
    let run = run_sample(&vars, &[]);
    let url = format!("https://{id}-us-east1.apps.astra.datastax.com/api/rest/v2/namespaces/");
    assert_clear_failure(&run, &[&url], Duration::from_secs(40));
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn missing_namespace_is_a_404_with_the_apis_description() {
    let run = run_sample(
        &with(&stack_vars(), &[("ASTRA_DB_KEYSPACE", Some("no_such_keyspace"))]),
        &[],
    );
    assert_clear_failure(
        &run,
        &[
            "HTTP 404",
            "Unknown namespace no_such_keyspace, you must create it first.",
            "is ASTRA_DB_KEYSPACE right?",
        ],
        Duration::from_secs(15),
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn three_runs_in_a_row_leave_nothing_behind() {
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.extend(assert_success(&run_sample(&stack_vars(), &[])));
    }
    assert_no_documents_left(&cql_session().await, &ids).await;
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn four_runs_at_once_leave_nothing_behind() {
    let runs: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| run_sample(&stack_vars(), &[])))
        .collect();
    let ids: Vec<String> = runs
        .into_iter()
        .flat_map(|r| assert_success(&r.join().unwrap()))
        .collect();
    assert_eq!(ids.len(), 20);
    assert_no_documents_left(&cql_session().await, &ids).await;
}

//! sample-data-api against the local stack's Data API, its results checked through plain CQL (the
//! gateway keeps each collection in a table of the keyspace, one row per document, the document
//! in `doc_json`). Run with `scripts/test` (it starts the stack and exports its settings).

// A failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::process::Command;
use std::time::{Duration, Instant};

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use serde_json::Value;

const NEEDS_STACK: &str = "needs the local stack: run scripts/test";
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
    let output = Command::new(env!("CARGO_BIN_EXE_sample-data-api"))
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

/// The stack's Data API endpoint, application token and keyspace.
fn stack_vars() -> Vec<(&'static str, String)> {
    [
        "ASTRA_DB_API_ENDPOINT",
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

/// A successful run: exit 0, the last line, and the name of the collection it created.
fn assert_success(run: &Run) -> String {
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Done in"), "{}", run.stdout);
    assert!(run.elapsed <= RUN_BOUND, "took {:?}", run.elapsed);
    collection_of(&run.stdout)
}

fn collection_of(stdout: &str) -> String {
    stdout
        .split("Created collection ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .filter(|name| name.starts_with("sample_data_api_"))
        .unwrap_or_else(|| panic!("collection name in output: {stdout}"))
        .to_owned()
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

/// Whether the collection's table exists, read from Cassandra's schema tables.
async fn table_exists(session: &Session, table: &str) -> bool {
    let result = session
        .query_unpaged(
            "SELECT table_name FROM system_schema.tables WHERE keyspace_name = ? AND table_name = ?",
            (env("ASTRA_DB_KEYSPACE"), table),
        )
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    result.rows_num() > 0
}

/// The collection's documents, read with plain CQL, sorted by `_id`.
async fn documents(session: &Session, collection: &str) -> Vec<Value> {
    let cql = format!("SELECT doc_json FROM {}.{collection}", env("ASTRA_DB_KEYSPACE"));
    let result = session
        .query_unpaged(cql, ())
        .await
        .unwrap()
        .into_rows_result()
        .unwrap();
    let mut documents: Vec<Value> = result
        .rows::<(String,)>()
        .unwrap()
        .map(|row| serde_json::from_str(&row.unwrap().0).unwrap())
        .collect();
    documents.sort_by_key(|d| d["_id"].as_str().unwrap_or_default().to_owned());
    documents
}

async fn drop_table(session: &Session, table: &str) {
    let cql = format!("DROP TABLE IF EXISTS {}.{table}", env("ASTRA_DB_KEYSPACE"));
    session.query_unpaged(cql, ()).await.unwrap();
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn full_tour_prints_every_step_and_drops_the_collection() {
    let run = run_sample(&stack_vars(), &[]);
    let collection = assert_success(&run);
    let out = &run.stdout;
    let endpoint = env("ASTRA_DB_API_ENDPOINT");
    let keyspace = env("ASTRA_DB_KEYSPACE");
    for expected in [
        "Token: AstraCS:… from ASTRA_DB_APPLICATION_TOKEN.".to_owned(),
        format!(
            "Data API at {}/api/json/v1/{keyspace}.",
            endpoint.trim_end_matches('/')
        ),
        format!("Created collection {collection} (ok: 1): vectors of 5 numbers, cosine similarity."),
        "insertOne: \"Dragon Road 1\", the API gave it _id ".to_owned(),
        "insertMany: inserted 59 of 59 books.".to_owned(),
        "findOne by _id: \"Dragon Road 1\" by Ada Merrow, fantasy (1961), 2 copies, tags [\"hardcover\"], \
         $vector returned: false."
            .to_owned(),
        "find {\"genre\":\"mystery\"}: 12 books: book-03, book-08, book-13, book-18, book-23 and 7 more.".to_owned(),
        "find {\"year\":{\"$gt\":2010}}: 10 books: book-51, book-52, book-53, book-54, book-55 and 5 more.".to_owned(),
        // 24 books match; `find` answers the first page of 20 and a nextPageState.
        "find {\"genre\":{\"$in\":[\"poetry\",\"history\"]}}: 20 books on the first page (more follow): "
            .to_owned(),
        "find {\"award\":{\"$exists\":true}}: 10 books: book-06, book-12, book-18, book-24, book-30 and 5 more.".to_owned(),
        "find {\"$and\":[{\"year\":{\"$gt\":2000}},{\"$or\":[{\"genre\":\"poetry\"},{\"award\":{\"$exists\":true}}]}]}: \
         7 books: book-42, book-45, book-48, book-50, book-54 and 2 more."
            .to_owned(),
        "find science fiction, title and year only, newest first, limit 3: book-57 \"Star Harbor 57\" (2017), \
         book-52 \"Star Harbor 52\" (2012), book-47 \"Star Harbor 47\" (2007)."
            .to_owned(),
        // The local stack's pages hold 20 documents, as Astra's did before Data API 1.0.47; the
        // third page is full, so a bookmark comes with it and the fourth page is empty.
        "  page 1: 20 books\n  page 2: 20 books\n  page 3: 20 books\n  page 4: 0 books\nRead 60 books in 4 pages."
            .to_owned(),
        "updateOne book-02 ($set, $inc, $push): matched 1, modified 1; now award \"Silver Comet\", 5 copies, \
         tags [\"paperback\", \"signed\"]."
            .to_owned(),
        "updateOne book-61 with upsert: matched 0, upserted _id book-61.".to_owned(),
        "countDocuments {}: 61, {\"genre\":\"poetry\"}: 12.".to_owned(),
        "find sorted by $vector [0.0, 1.0, 0.0, 0.0, 0.0], limit 3:\n  1.0000 book-02 \"Star Harbor 2\" (science fiction)\n"
            .to_owned(),
        " book-07 \"Star Harbor 7\" (science fiction)\n  0.99".to_owned(),
        " book-12 \"Star Harbor 12\" (science fiction)\n".to_owned(),
        "deleteMany {\"genre\":{\"$in\":[\"poetry\",\"history\"]}}: deleted 24 in 2 calls; countDocuments now 37.".to_owned(),
        format!("deleteCollection {collection}: ok 1."),
    ] {
        assert!(out.contains(&expected), "expected {expected:?} in:\n{out}");
    }
    assert!(
        !table_exists(&cql_session().await, &collection).await,
        "{collection} must be dropped"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn kept_collection_holds_the_writes_in_cql_and_a_second_run_meets_duplicate_ids() {
    let run = run_sample(&stack_vars(), &["--keep"]);
    let collection = assert_success(&run);
    assert!(
        run.stdout.contains(&format!(
            "Kept the collection {collection}: run again with --collection {collection} to use it."
        )),
        "{}",
        run.stdout
    );
    let session = cql_session().await;
    let kept = documents(&session, &collection).await;

    // The second run works in the kept collection: its insertOne gets a new _id, its insertMany
    // finds 35 of its 59 _ids taken (the 24 poetry and history books were deleted by the first
    // run), and it deletes what it added before it stops.
    let second = run_sample(&stack_vars(), &["--collection", &collection]);
    let after_second = documents(&session, &collection).await;
    // Clean up before asserting, so that a failure leaves nothing behind either.
    drop_table(&session, &collection).await;

    // What the first run left, read through CQL: 60 books + 1 upserted - 24 poetry and history.
    assert_eq!(kept.len(), 37, "{kept:#?}");
    let by_id = |id: &str| {
        kept.iter()
            .find(|d| d["_id"] == id)
            .unwrap_or_else(|| panic!("{id} in {kept:#?}"))
    };
    let updated = by_id("book-02");
    assert_eq!(updated["award"], "Silver Comet");
    assert_eq!(updated["copies"], 5);
    assert_eq!(updated["tags"], serde_json::json!(["paperback", "signed"]));
    assert_eq!(updated["$vector"].as_array().map(Vec::len), Some(5));
    let upserted = by_id("book-61");
    assert_eq!(upserted["title"], "Dragon Road 61");
    assert_eq!(upserted["year"], 2021);
    assert_eq!(upserted["copies"], 1, "$inc on a missing field starts from 0");
    assert!(
        kept.iter().all(|d| d["genre"] != "poetry" && d["genre"] != "history"),
        "poetry and history deleted"
    );
    let assigned = kept.iter().find(|d| d["title"] == "Dragon Road 1").unwrap();
    let assigned_id = assigned["_id"].as_str().unwrap();
    assert!(assigned_id.parse::<uuid::Uuid>().is_ok(), "assigned _id {assigned_id}");

    assert_clear_failure(
        &second,
        &[
            "insertMany inserted 24 of 59 books; not inserted: book-02, book-03, book-06, book-07, book-08 and 30 more",
            "DOCUMENT_ALREADY_EXISTS",
            "book-02",
        ],
        RUN_BOUND,
    );
    assert!(
        second
            .stdout
            .contains(&format!("Using the existing collection {collection}.")),
        "{}",
        second.stdout
    );
    assert!(
        second
            .stdout
            .contains(&format!("Deleted the 25 documents this run added to {collection}.")),
        "{}",
        second.stdout
    );
    assert_eq!(
        after_second, kept,
        "the second run must leave the collection as it found it"
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn missing_collection_is_the_apis_error() {
    let run = run_sample(&stack_vars(), &["--collection", "no_such_collection"]);
    assert_clear_failure(
        &run,
        &[
            "cannot insert a book into no_such_collection",
            "insertOne failed: COLLECTION_NOT_EXIST",
            "no_such_collection",
        ],
        Duration::from_secs(15),
    );
    assert!(
        run.stdout
            .contains("Added no documents to no_such_collection: nothing to delete."),
        "{}",
        run.stdout
    );
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
fn wrong_token_is_a_401_that_says_how_to_fix_it() {
    let wrong = format!("AstraCS:{}:{}", "x".repeat(24), "0".repeat(64));
    let run = run_sample(
        &with(&stack_vars(), &[("ASTRA_DB_APPLICATION_TOKEN", Some(&wrong))]),
        &[],
    );
    assert_clear_failure(
        &run,
        &[
            "cannot create the collection",
            "HTTP 401",
            "createCollection: UNAUTHENTICATED_REQUEST",
            "set ASTRA_DB_APPLICATION_TOKEN",
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
fn missing_keyspace_is_the_apis_error() {
    let run = run_sample(
        &with(&stack_vars(), &[("ASTRA_DB_KEYSPACE", Some("no_such_keyspace"))]),
        &[],
    );
    assert_clear_failure(
        &run,
        &[
            "is ASTRA_DB_KEYSPACE right?",
            "createCollection failed: KEYSPACE_DOES_NOT_EXIST",
            "no_such_keyspace",
        ],
        Duration::from_secs(15),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn unreachable_endpoint_fails_within_the_bound() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    drop(listener);
    let run = run_sample(&with(&stack_vars(), &[("ASTRA_DB_API_ENDPOINT", Some(&url))]), &[]);
    assert_clear_failure(
        &run,
        &[&format!("cannot reach {url}/api/json/v1/"), "Check the URL"],
        Duration::from_secs(10),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn astra_endpoint_comes_from_database_id_and_region() {
    // No ASTRA_DB_API_ENDPOINT: the endpoint is Astra's. The database does not exist, so the call
    // fails (no DNS name offline, an HTTP error online); either way the error names the URL.
    let id = "3a6d1c7e-1234-4bcd-9abc-0123456789ab";
    let vars = with(
        &stack_vars(),
        &[
            ("ASTRA_DB_API_ENDPOINT", None),
            ("ASTRA_DB_ID", Some(id)),
            ("ASTRA_DB_REGION", Some("us-east1")),
        ],
    );
    let run = run_sample(&vars, &[]);
    let url = format!(
        "https://{id}-us-east1.apps.astra.datastax.com/api/json/v1/{}",
        env("ASTRA_DB_KEYSPACE")
    );
    assert!(run.stdout.contains(&format!("Data API at {url}.")), "{}", run.stdout);
    assert_clear_failure(&run, &[&url], Duration::from_secs(40));
}

#[test]
fn a_malformed_collection_name_is_refused_before_any_call() {
    let output = Command::new(env!("CARGO_BIN_EXE_sample-data-api"))
        .args(["--collection", "books; drop"])
        .env_clear()
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("a collection name has only letters, digits and underscores"),
        "{stderr}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn three_runs_in_a_row_leave_nothing_behind() {
    let mut collections = Vec::new();
    for _ in 0..3 {
        collections.push(assert_success(&run_sample(&stack_vars(), &[])));
    }
    let session = cql_session().await;
    for collection in collections {
        assert!(!table_exists(&session, &collection).await, "{collection} left behind");
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn four_runs_at_once_leave_nothing_behind() {
    let runs: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| run_sample(&stack_vars(), &[])))
        .collect();
    let collections: Vec<String> = runs.into_iter().map(|r| assert_success(&r.join().unwrap())).collect();
    let session = cql_session().await;
    for collection in collections {
        assert!(!table_exists(&session, &collection).await, "{collection} left behind");
    }
}

//! What the contract server cannot do: rate limits, server failures, slow answers, 403/404
//! bodies, a database that takes a while to become ACTIVE. A local test server (wiremock)
//! answers what each test tells it to, and counts what the sample sent.

// A failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{TOKEN, run_against};
use wiremock::matchers::{header, method, path, path_regex, query_param, query_param_is_missing};
use wiremock::{Mock, MockServer, ResponseTemplate};

const DB1: &str = "11111111-1111-4111-8111-111111111111";
const DB2: &str = "22222222-2222-4222-8222-222222222222";
const DB3: &str = "33333333-3333-4333-8333-333333333333";
const NEW: &str = "99999999-9999-4999-8999-999999999999";

fn database(id: &str, name: &str, status: &str) -> Value {
    json!({
        "id": id, "orgId": "org", "ownerId": "owner", "status": status,
        "info": {"name": name, "keyspace": "default_keyspace", "cloudProvider": "GCP", "region": "us-east1",
                 "tier": "serverless", "capacityUnits": 1},
        "availableActions": ["getCreds", "terminate"]
    })
}

fn ok_json(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// A server that lists DB1 and shows any database as ACTIVE.
async fn server_with_databases() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v2/databases"))
        .respond_with(ok_json(json!([database(DB1, "first", "ACTIVE")])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path_regex(r"^/v2/databases/[^/]+$"))
        .respond_with(ok_json(database(DB1, "first", "ACTIVE")))
        .with_priority(250) // after any more specific mock of a test
        .mount(&server)
        .await;
    server
}

/// Fails the test (at `verify`) if the sample sends anything that changes state.
async fn forbid_mutations(server: &MockServer) {
    for verb in ["POST", "PUT", "PATCH", "DELETE"] {
        Mock::given(method(verb))
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .named(verb)
            .mount(server)
            .await;
    }
}

#[tokio::test]
async fn without_apply_nothing_is_changed() {
    let server = server_with_databases().await;
    forbid_mutations(&server).await;
    let run = run_against(&server.uri(), &[]).await;
    run.assert_success();
    assert!(run.stdout.contains("1 database(s)"), "{}", run.stdout);
    assert!(
        run.stdout.contains(&format!("Database {DB1} (first)")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Read-only run: nothing was changed"),
        "{}",
        run.stdout
    );
    server.verify().await;
}

#[tokio::test]
async fn every_call_carries_the_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(path("/v2/databases"))
        .respond_with(ok_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &[]).await;
    run.assert_success();
    assert!(run.stdout.contains("No database to show."), "{}", run.stdout);
    server.verify().await;
}

#[tokio::test]
async fn pages_are_followed_with_starting_after() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/databases"))
        .and(query_param("limit", "2"))
        .and(query_param_is_missing("starting_after"))
        .respond_with(ok_json(json!([
            database(DB1, "one", "ACTIVE"),
            database(DB2, "two", "PARKED")
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/databases"))
        .and(query_param("starting_after", DB2))
        .respond_with(ok_json(json!([database(DB3, "three", "HIBERNATED")])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path(format!("/v2/databases/{DB1}")))
        .respond_with(ok_json(database(DB1, "one", "ACTIVE")))
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &["--page-size", "2"]).await;
    run.assert_success();
    assert!(
        run.stdout.contains("3 database(s) (2 page(s) of at most 2)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("HIBERNATED"),
        "an unknown-to-the-enum status is shown as is: {}",
        run.stdout
    );
    server.verify().await;
}

#[tokio::test]
async fn rate_limited_read_waits_for_retry_after_and_succeeds() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/databases"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v2/databases"))
        .respond_with(ok_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &[]).await;
    run.assert_success();
    assert!(
        run.elapsed >= Duration::from_secs(1),
        "Retry-After was not honoured: {:?}",
        run.elapsed
    );
    assert!(run.stderr.contains("retrying"), "the retry is logged: {}", run.stderr);
    server.verify().await;
}

#[tokio::test]
async fn unavailable_read_is_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/databases"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "0"))
        .up_to_n_times(2)
        .with_priority(1)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(path("/v2/databases"))
        .respond_with(ok_json(json!([])))
        .expect(1)
        .mount(&server)
        .await;
    run_against(&server.uri(), &[]).await.assert_success();
    server.verify().await;
}

#[tokio::test]
async fn reads_give_up_after_the_retries() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/databases"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "0"))
        .expect(4)
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &[]).await;
    run.assert_failure(&["cannot list databases", "HTTP 503", "try again later"]);
    server.verify().await;
}

#[tokio::test]
async fn failed_create_is_not_retried() {
    let server = server_with_databases().await;
    Mock::given(method("POST"))
        .and(path("/v2/databases"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "0"))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &["--apply"]).await;
    run.assert_failure(&["cannot create a database", "POST", "HTTP 503"]);
    server.verify().await;
}

#[tokio::test]
async fn rate_limited_create_is_reported_not_retried() {
    let server = server_with_databases().await;
    Mock::given(method("POST"))
        .and(path("/v2/databases"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "7"))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &["--apply"]).await;
    run.assert_failure(&["cannot create a database", "HTTP 429", "retry after 7 s"]);
    assert!(
        run.elapsed < Duration::from_secs(7),
        "it must not wait and retry: {:?}",
        run.elapsed
    );
    server.verify().await;
}

#[tokio::test]
async fn slow_answer_is_cut_by_the_timeout() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/databases"))
        .respond_with(ok_json(json!([])).set_delay(Duration::from_secs(20)))
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &["--timeout", "1"]).await;
    run.assert_failure(&["cannot list databases", "did not answer in time"]);
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
}

#[tokio::test]
async fn unauthorized_says_what_to_do_with_the_token() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/databases"))
        .respond_with(
            ResponseTemplate::new(401).set_body_json(json!({"errors": [{"ID": 401, "message": "Unauthorized"}]})),
        )
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &[]).await;
    run.assert_failure(&["HTTP 401", "token is missing, wrong or expired"]);
}

#[tokio::test]
async fn forbidden_names_the_missing_permission() {
    let server = MockServer::start().await;
    let body = json!({"errors": [{"ID": 403, "message": "role lacks permission org-db-view"}]});
    Mock::given(path("/v2/databases"))
        .respond_with(ResponseTemplate::new(403).set_body_json(body))
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &[]).await;
    // The API's own words, and what the sample knows the call needs.
    run.assert_failure(&[
        "HTTP 403",
        "role lacks permission org-db-view",
        "needs the org-db-view permission",
    ]);
}

#[tokio::test]
async fn unknown_database_is_named() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/databases"))
        .respond_with(ok_json(json!([])))
        .mount(&server)
        .await;
    let body = json!({"errors": [{"ID": 2000, "message": "database not found"}]});
    Mock::given(path(format!("/v2/databases/{DB3}")))
        .respond_with(ResponseTemplate::new(404).set_body_json(body))
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &["--database-id", DB3]).await;
    run.assert_failure(&[
        "HTTP 404",
        "database not found",
        &format!("no database {DB3} in this organization"),
    ]);
}

/// Mounts the create → … → terminate calls; GET of the new database answers `statuses` in turn,
/// then the last one forever.
async fn mount_lifecycle(server: &MockServer, statuses: &[&str]) {
    Mock::given(method("POST"))
        .and(path("/v2/databases"))
        .respond_with(ResponseTemplate::new(201).insert_header("Location", NEW))
        .expect(1)
        .mount(server)
        .await;
    let (last, first) = statuses.split_last().expect("statuses");
    for (i, status) in first.iter().enumerate() {
        Mock::given(method("GET"))
            .and(path(format!("/v2/databases/{NEW}")))
            .respond_with(ok_json(database(NEW, "new", status)))
            .up_to_n_times(1)
            .with_priority(u8::try_from(i + 1).expect("a few statuses"))
            .mount(server)
            .await;
    }
    Mock::given(method("GET"))
        .and(path(format!("/v2/databases/{NEW}")))
        .respond_with(ok_json(database(NEW, "new", last)))
        .with_priority(100)
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v2/databases/{NEW}/terminate")))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .named("terminate")
        .mount(server)
        .await;
}

#[tokio::test]
async fn apply_creates_waits_adds_a_keyspace_gets_the_bundle_and_terminates() {
    let server = server_with_databases().await;
    mount_lifecycle(&server, &["PENDING", "INITIALIZING", "ACTIVE"]).await;
    Mock::given(method("POST"))
        .and(path(format!("/v2/databases/{NEW}/keyspaces/tour_ks")))
        .respond_with(ResponseTemplate::new(409).set_body_json(json!({"errors": [{"message": "not ready"}]})))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("/v2/databases/{NEW}/keyspaces/tour_ks")))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    let bundle = json!({"downloadURL": "https://bundles.example/scb.zip?X-Amz-Signature=SECRETSIG"});
    Mock::given(method("POST"))
        .and(path(format!("/v2/databases/{NEW}/secureBundleURL")))
        .respond_with(ok_json(bundle))
        .expect(1)
        .mount(&server)
        .await;

    let run = run_against(
        &server.uri(),
        &["--apply", "--keyspace", "tour_ks", "--poll-interval", "1"],
    )
    .await;
    run.assert_success();
    let out = &run.stdout;
    for expected in [
        format!("id {NEW}"),
        "PENDING".into(),
        "INITIALIZING".into(),
        format!("Database {NEW} is ACTIVE."),
        "cannot take a keyspace yet (409)".into(),
        "Keyspace tour_ks added.".into(),
        "Secure connect bundle: https://bundles.example/scb.zip?… (signed".into(),
        format!("Database {NEW} is being terminated."),
    ] {
        assert!(out.contains(&expected), "{expected:?} missing in:\n{out}");
    }
    assert!(!out.contains("SECRETSIG"), "the URL's signature must not be printed");
    // The create body is what the contract asks for.
    let requests = server.received_requests().await.unwrap();
    let create = requests
        .iter()
        .find(|r| r.method.as_str() == "POST" && r.url.path() == "/v2/databases")
        .unwrap();
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["tier"], "serverless");
    assert_eq!(body["capacityUnits"], 1);
    assert_eq!(body["keyspace"], "tour_ks");
    server.verify().await;
}

#[tokio::test]
async fn database_in_error_stops_the_wait_and_is_terminated() {
    let server = server_with_databases().await;
    mount_lifecycle(&server, &["PENDING", "ERROR"]).await;
    forbid_keyspace_and_bundle(&server).await;
    let run = run_against(&server.uri(), &["--apply", "--poll-interval", "1"]).await;
    run.assert_failure(&[&format!("database {NEW} is ERROR and will not become ACTIVE")]);
    assert!(
        run.stdout.contains(&format!("Database {NEW} is being terminated.")),
        "{}",
        run.stdout
    );
    server.verify().await;
}

#[tokio::test]
async fn waiting_for_active_is_bounded() {
    let server = server_with_databases().await;
    mount_lifecycle(&server, &["PENDING"]).await;
    forbid_keyspace_and_bundle(&server).await;
    let run = run_against(
        &server.uri(),
        &["--apply", "--poll-interval", "1", "--wait-timeout", "2"],
    )
    .await;
    run.assert_failure(&[&format!("database {NEW} is still not ACTIVE after"), "--wait-timeout"]);
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
    assert!(
        run.stdout.matches("PENDING").count() >= 2,
        "progress is printed: {}",
        run.stdout
    );
    server.verify().await;
}

async fn forbid_keyspace_and_bundle(server: &MockServer) {
    Mock::given(path_regex(r"/keyspaces/|/secureBundleURL$"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(server)
        .await;
}

#[tokio::test]
async fn a_bad_keyspace_name_is_refused_before_anything_is_created() {
    let server = server_with_databases().await;
    forbid_mutations(&server).await;
    let run = run_against(&server.uri(), &["--apply", "--keyspace", "bad-name"]).await;
    assert_eq!(run.code, Some(2), "clap rejects it: {}", run.stderr);
    assert!(run.stderr.contains("--keyspace"), "{}", run.stderr);
    server.verify().await;
}

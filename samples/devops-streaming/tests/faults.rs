//! What the contract server cannot do: rate limits, server failures, slow answers, 403/404/409
//! bodies. A local test server (wiremock) answers what each test tells it to, and counts what
//! the sample sent.

// A failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::run_against;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const PULSAR_TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.must-never-be-printed.sig";

fn ok_json(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn tenant(name: &str) -> Value {
    json!({"tenantName": name, "clusterName": "pulsar-gcp-useast1", "cloudProvider": "gcp", "cloudRegion": "useast1",
           "plan": "payg", "status": "active", "namespace": "default", "pulsarToken": PULSAR_TOKEN,
           "brokerServiceUrl": "pulsar+ssl://pulsar-gcp-useast1.streaming.datastax.com:6651",
           "webServiceUrl": "https://pulsar-gcp-useast1.api.streaming.datastax.com"})
}

/// Providers, one tenant and the organization.
async fn streaming() -> MockServer {
    let server = MockServer::start().await;
    let reads = [
        (
            "/v2/streaming/providers",
            json!({"aws": ["useast2"], "gcp": ["useast1", "europewest1"]}),
        ),
        ("/v2/streaming/tenants", json!([tenant("existing-tenant")])),
        ("/v2/currentOrg", json!({"id": "f9a2c1d4-6b3e-4a7f-9d21-3c5e8b7a1f60"})),
    ];
    for (route, body) in reads {
        Mock::given(method("GET"))
            .and(path(route))
            .respond_with(ok_json(body))
            .with_priority(250)
            .mount(&server)
            .await;
    }
    server
}

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
async fn without_apply_nothing_is_changed_and_no_pulsar_token_is_shown() {
    let server = streaming().await;
    forbid_mutations(&server).await;
    let run = run_against(&server.uri(), &[]).await;
    run.assert_success();
    for expected in [
        "gcp    useast1, europewest1",
        "1 tenant(s):",
        "existing-tenant",
        "Read-only run",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} missing in:\n{}",
            run.stdout
        );
    }
    assert!(
        !run.stdout.contains(PULSAR_TOKEN),
        "the tenant's Pulsar token was printed"
    );
    server.verify().await;
}

#[tokio::test]
async fn apply_without_email_changes_nothing() {
    let server = streaming().await;
    forbid_mutations(&server).await;
    let run = run_against(&server.uri(), &["--apply"]).await;
    run.assert_failure(&["--apply needs --email"]);
    server.verify().await;
}

#[tokio::test]
async fn apply_creates_and_deletes_the_tenant() {
    let server = streaming().await;
    Mock::given(method("POST"))
        .and(path("/v2/streaming/tenants"))
        .respond_with(ok_json(tenant("tour-tenant")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/v2/streaming/tenants/tour-tenant/clusters/pulsar-gcp-useast1"))
        .respond_with(ResponseTemplate::new(202))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_against(
        &server.uri(),
        &["--apply", "--email", "ada@example.com", "--tenant", "tour-tenant"],
    )
    .await;
    run.assert_success();
    assert!(
        run.stdout
            .contains("Created tenant tour-tenant on cluster pulsar-gcp-useast1"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("Deleting tenant tour-tenant."), "{}", run.stdout);
    assert!(
        !run.stdout.contains(PULSAR_TOKEN),
        "the tenant's Pulsar token was printed"
    );
    let requests = server.received_requests().await.unwrap();
    let create = requests.iter().find(|r| r.method.as_str() == "POST").unwrap();
    let body: Value = serde_json::from_slice(&create.body).unwrap();
    assert_eq!(body["tenantName"], "tour-tenant");
    assert_eq!(body["cloudRegion"], "useast1");
    assert_eq!(body["orgID"], "f9a2c1d4-6b3e-4a7f-9d21-3c5e8b7a1f60");
    assert_eq!(body["userEmail"], "ada@example.com");
    server.verify().await;
}

#[tokio::test]
async fn a_taken_tenant_name_is_explained_and_not_retried() {
    let server = streaming().await;
    let body = json!({"reason": "ALREADY_EXIST: tenant name is taken"});
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(409).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let run = run_against(
        &server.uri(),
        &["--apply", "--email", "a@example.com", "--tenant", "taken"],
    )
    .await;
    run.assert_failure(&["taken is taken", "--tenant", "HTTP 409", "ALREADY_EXIST"]);
    server.verify().await;
}

#[tokio::test]
async fn failed_create_is_not_retried() {
    let server = streaming().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "0"))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &["--apply", "--email", "a@example.com"]).await;
    run.assert_failure(&["cannot create a tenant", "HTTP 503"]);
    server.verify().await;
}

#[tokio::test]
async fn deleting_an_unknown_tenant_names_it() {
    let server = streaming().await;
    Mock::given(method("POST"))
        .respond_with(ok_json(tenant("gone")))
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"reason": "tenant not found"})))
        .mount(&server)
        .await;
    let run = run_against(
        &server.uri(),
        &["--apply", "--email", "a@example.com", "--tenant", "gone"],
    )
    .await;
    run.assert_failure(&[
        "HTTP 404",
        "tenant not found",
        "no tenant gone on cluster pulsar-gcp-useast1",
    ]);
}

#[tokio::test]
async fn rate_limited_read_waits_for_retry_after_and_succeeds() {
    let server = streaming().await;
    Mock::given(path("/v2/streaming/tenants"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "1"))
        .up_to_n_times(1)
        .with_priority(1)
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
    server.verify().await;
}

#[tokio::test]
async fn server_error_on_a_read_is_retried() {
    let server = streaming().await;
    Mock::given(path("/v2/streaming/providers"))
        .respond_with(ResponseTemplate::new(502))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    run_against(&server.uri(), &[]).await.assert_success();
    server.verify().await;
}

#[tokio::test]
async fn forbidden_names_the_missing_permission() {
    let server = MockServer::start().await;
    let body = json!({"reason": "token lacks the Manage Streaming permission"});
    Mock::given(path("/v2/streaming/providers"))
        .respond_with(ResponseTemplate::new(403).set_body_json(body))
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &[]).await;
    run.assert_failure(&[
        "HTTP 403",
        "token lacks the Manage Streaming permission",
        "needs the \"Manage Streaming\" permission",
    ]);
}

#[tokio::test]
async fn slow_answer_is_cut_by_the_timeout() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/streaming/providers"))
        .respond_with(ok_json(json!({})).set_delay(Duration::from_secs(20)))
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &["--timeout", "1"]).await;
    run.assert_failure(&["cannot list the streaming providers", "did not answer in time"]);
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
}

#[tokio::test]
async fn unauthorized_says_what_to_do_with_the_token() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/streaming/providers"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &[]).await;
    run.assert_failure(&["HTTP 401", "token is missing, wrong or expired"]);
}

//! What the contract server cannot do: rate limits, server failures, slow answers, 403/404
//! bodies. A local test server (wiremock) answers what each test tells it to, and counts what
//! the sample sent.

// A failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::run_against;
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const ADMIN: &str = "role-admin-id";
const READ_ONLY: &str = "role-read-only-id";
const NEW_CLIENT: &str = "NewClientIdNewClientIdAb";
const NEW_SECRET: &str = "new-secret-that-must-never-be-printed";

fn ok_json(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

/// A server with one organization, one user, two roles and one token.
async fn organization() -> MockServer {
    let server = MockServer::start().await;
    let admin = json!({"id": ADMIN, "name": "Organization Administrator",
                       "policy": {"description": "admin", "resources": [], "actions": ["org-read", "org-write"], "effect": "allow"}});
    let read_only = json!({"id": READ_ONLY, "name": "Read Only User"});
    let reads = [
        ("/v2/currentOrg", json!({"id": "org-1"})),
        (
            "/v2/organizations/users",
            json!({"orgID": "org-1", "orgName": "Test Org",
            "users": [{"userID": "u1", "email": "ada@example.com", "status": "active", "roles": [admin]}]}),
        ),
        ("/v2/organizations/roles", json!([admin, read_only])),
        (
            "/v2/clientIdSecrets",
            json!({"clients": [{"clientId": "ExistingClientIdExisting", "roles": [READ_ONLY]}]}),
        ),
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

fn created_token() -> ResponseTemplate {
    ok_json(
        json!({"clientId": NEW_CLIENT, "secret": NEW_SECRET, "orgId": "org-1", "roles": [READ_ONLY],
                   "token": format!("AstraCS:{NEW_CLIENT}:{}", "ab".repeat(32))}),
    )
}

#[tokio::test]
async fn without_apply_nothing_is_changed() {
    let server = organization().await;
    forbid_mutations(&server).await;
    let run = run_against(&server.uri(), &[]).await;
    run.assert_success();
    for expected in [
        "Organization: org-1",
        "1 user(s) in Test Org",
        "ada@example.com",
        "2 role(s)",
        "ExistingClientIdExisting   Read Only User",
    ] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} missing in:\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("Read-only run"), "{}", run.stdout);
    server.verify().await;
}

#[tokio::test]
async fn apply_creates_a_token_for_the_role_id_and_revokes_it_without_printing_secrets() {
    let server = organization().await;
    Mock::given(method("POST"))
        .and(path("/v2/clientIdSecrets"))
        .and(body_json(json!({"roles": [READ_ONLY]})))
        .respond_with(created_token())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .and(path(format!("/v2/clientIdSecrets/{NEW_CLIENT}")))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &["--apply"]).await;
    run.assert_success();
    assert!(
        run.stdout.contains(&format!("client id {NEW_CLIENT}")),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("Revoked token {NEW_CLIENT}.")),
        "{}",
        run.stdout
    );
    let everything = format!("{}{}", run.stdout, run.stderr);
    assert!(
        !everything.contains(NEW_SECRET) && !everything.contains(&"ab".repeat(32)),
        "a secret was printed"
    );
    server.verify().await;
}

#[tokio::test]
async fn an_unknown_role_is_refused_before_anything_is_created() {
    let server = organization().await;
    forbid_mutations(&server).await;
    let run = run_against(&server.uri(), &["--apply", "--role", "Billing Wizard"]).await;
    run.assert_failure(&[
        "no role \"Billing Wizard\"",
        "Organization Administrator, Read Only User",
    ]);
    server.verify().await;
}

#[tokio::test]
async fn failed_token_creation_is_not_retried() {
    let server = organization().await;
    Mock::given(method("POST"))
        .and(path("/v2/clientIdSecrets"))
        .respond_with(ResponseTemplate::new(502))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &["--apply"]).await;
    run.assert_failure(&["cannot create a token", "HTTP 502"]);
    server.verify().await;
}

#[tokio::test]
async fn revoking_is_idempotent_so_it_is_retried() {
    let server = organization().await;
    Mock::given(method("POST"))
        .and(path("/v2/clientIdSecrets"))
        .respond_with(created_token())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(503).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .with_priority(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    run_against(&server.uri(), &["--apply"]).await.assert_success();
    server.verify().await;
}

#[tokio::test]
async fn rate_limited_read_waits_for_retry_after_and_succeeds() {
    let server = organization().await;
    Mock::given(path("/v2/organizations/roles"))
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
async fn forbidden_names_the_missing_permission() {
    let server = organization().await;
    let body = json!({"errors": [{"ID": 403, "message": "missing permission org-token-read"}]});
    Mock::given(path("/v2/clientIdSecrets"))
        .respond_with(ResponseTemplate::new(403).set_body_json(body))
        .with_priority(1)
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &[]).await;
    run.assert_failure(&[
        "cannot list the tokens",
        "HTTP 403",
        "missing permission org-token-read",
        "needs the org-token-read permission",
    ]);
}

#[tokio::test]
async fn revoking_an_unknown_token_names_it() {
    let server = organization().await;
    Mock::given(method("POST"))
        .and(path("/v2/clientIdSecrets"))
        .respond_with(created_token())
        .mount(&server)
        .await;
    // Some organization endpoints answer in plain text.
    Mock::given(method("DELETE"))
        .respond_with(ResponseTemplate::new(404).set_body_string("client not found"))
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &["--apply"]).await;
    run.assert_failure(&[
        "HTTP 404",
        "client not found",
        &format!("no token {NEW_CLIENT} in this organization"),
    ]);
}

#[tokio::test]
async fn slow_answer_is_cut_by_the_timeout() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/currentOrg"))
        .respond_with(ok_json(json!({"id": "o"})).set_delay(Duration::from_secs(20)))
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &["--timeout", "1"]).await;
    run.assert_failure(&["cannot read the current organization", "did not answer in time"]);
    assert!(run.elapsed < Duration::from_secs(10), "took {:?}", run.elapsed);
}

#[tokio::test]
async fn unauthorized_says_what_to_do_with_the_token() {
    let server = MockServer::start().await;
    Mock::given(path("/v2/currentOrg"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&server)
        .await;
    let run = run_against(&server.uri(), &[]).await;
    run.assert_failure(&["HTTP 401", "token is missing, wrong or expired"]);
}

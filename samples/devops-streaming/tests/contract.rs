//! sample-devops-streaming against the contract server: our OpenAPI description of the DevOps API
//! (local/devops/openapi.yaml) served by Prism, which rejects every request that breaks it.
//! These tests check the sample against the contract, not against Astra.
//! Run with `scripts/test` (it starts the local stack and exports its settings).

// A failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use support::run_sample;

const NEEDS_STACK: &str = "needs the local stack: run scripts/test";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {NEEDS_STACK}"))
}

fn stack_vars() -> Vec<(&'static str, String)> {
    ["ASTRA_DEVOPS_URL", "ASTRA_DB_APPLICATION_TOKEN"]
        .into_iter()
        .map(|name| (name, env(name)))
        .collect()
}

fn as_refs<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn read_only_tour_passes_the_contract() {
    let run = run_sample(&as_refs(&stack_vars()), &[]).await;
    assert_eq!(run.code, Some(0), "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    for expected in ["Streaming regions by provider:", "tenant(s):", "Read-only run"] {
        assert!(
            run.stdout.contains(expected),
            "{expected:?} missing in:\n{}",
            run.stdout
        );
    }
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn apply_tour_passes_the_contract() {
    let run = run_sample(&as_refs(&stack_vars()), &["--apply", "--email", "ada@example.com"]).await;
    assert_eq!(run.code, Some(0), "stdout:\n{}\nstderr:\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Created tenant rust-sample-"), "{}", run.stdout);
    assert!(run.stdout.contains("Deleting tenant rust-sample-"), "{}", run.stdout);
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_request_that_breaks_the_contract_fails_with_422() {
    // Through the sample: a region written the database way, with dashes.
    let run = run_sample(
        &as_refs(&stack_vars()),
        &["--apply", "--email", "ada@example.com", "--region", "us-east-1"],
    )
    .await;
    run.assert_failure(&["HTTP 422", "try --region useast1"]);

    // Directly: neither a cloud and region nor a cluster.
    let url = format!("{}/v2/streaming/tenants", env("ASTRA_DEVOPS_URL").trim_end_matches('/'));
    let body = serde_json::json!({"tenantName": "t", "userEmail": "a@example.com",
                                  "orgID": "f9a2c1d4-6b3e-4a7f-9d21-3c5e8b7a1f60", "orgName": "o"});
    let response = client()
        .post(url)
        .bearer_auth(env("ASTRA_DB_APPLICATION_TOKEN"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 422);
    let violations = response
        .headers()
        .get("sl-violations")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(violations.contains("cloudRegion"), "{violations}");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn a_request_without_a_token_gets_401() {
    let url = format!("{}/v2/streaming/tenants", env("ASTRA_DEVOPS_URL").trim_end_matches('/'));
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 401);

    let vars = [("ASTRA_DEVOPS_URL", env("ASTRA_DEVOPS_URL"))];
    let run = run_sample(&as_refs(&vars), &[]).await;
    run.assert_failure(&["ASTRA_DB_APPLICATION_TOKEN is not set"]);
}

//! sample-pulsar-admin against the local stack's Pulsar admin API (HTTPS on 8443, token
//! authentication). Run with `scripts/test` (it starts the stack and exports its settings).

use std::process::Command;
use std::time::{Duration, Instant};

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

fn stack_vars() -> Vec<(&'static str, String)> {
    [
        "ASTRA_STREAMING_WEB_URL",
        "ASTRA_STREAMING_TOKEN",
        "ASTRA_STREAMING_TENANT",
        "ASTRA_STREAMING_NAMESPACE",
        "ASTRA_STREAMING_CA_PATH",
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

/// Runs the sample binary with exactly `vars` as its environment, in an empty directory (so no
/// `.env` is picked up).
fn run_sample(vars: &[(&'static str, String)], args: &[&str]) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_sample-pulsar-admin"))
        .args(args)
        .env_clear()
        .envs(vars.iter().map(|(n, v)| (*n, v.as_str())))
        .current_dir(dir.path())
        .output()
        .expect("run the sample");
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        elapsed: started.elapsed(),
    }
}

/// A failed run: exit code 1, one `error:` line naming `expected`, no panic, no token.
fn assert_clear_failure(run: &Run, expected: &str, bound: Duration) {
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
    assert_no_token(run);
    assert!(run.elapsed <= bound, "took {:?} (bound {bound:?})", run.elapsed);
}

fn assert_no_token(run: &Run) {
    for name in ["ASTRA_STREAMING_TOKEN", "ASTRA_LOCAL_PULSAR_ADMIN_TOKEN"] {
        let token = env(name);
        assert!(
            !run.stdout.contains(&token) && !run.stderr.contains(&token),
            "{name} leaked"
        );
    }
}

/// The admin REST API as the super-user, to check what the sample did with a second request.
struct AdminApi {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl AdminApi {
    fn new() -> Self {
        let ca = std::fs::read(env("ASTRA_STREAMING_CA_PATH")).expect("read the stack's CA");
        Self {
            http: common::http::client_with_ca("sample-pulsar-admin-tests", &ca).expect("HTTP client"),
            base: format!("{}/admin/v2", env("ASTRA_STREAMING_WEB_URL").trim_end_matches('/')),
            token: env("ASTRA_LOCAL_PULSAR_ADMIN_TOKEN"),
        }
    }

    async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self
            .http
            .get(format!("{}/{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET");
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        (
            status,
            serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
        )
    }

    async fn delete(&self, path: &str) -> u16 {
        let response = self
            .http
            .delete(format!("{}/{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("DELETE");
        response.status().as_u16()
    }

    /// The token that administers the tenant: on Astra and on the local stack, the tenant's
    /// own token (`ASTRA_STREAMING_TOKEN`), whose role is one of the tenant's `adminRoles`.
    async fn tenant_admin_token(&self) -> String {
        let tenant = env("ASTRA_STREAMING_TENANT");
        let (status, info) = self.get(&format!("tenants/{tenant}")).await;
        assert_eq!(status, 200, "GET tenants/{tenant}: {info}");
        let client_is_admin = info["adminRoles"]
            .as_array()
            .is_some_and(|roles| roles.iter().any(|r| r == "client"));
        assert!(
            client_is_admin,
            "the stack's `client` role must administer tenant {tenant}: {info}"
        );
        env("ASTRA_STREAMING_TOKEN")
    }
}

fn topics_path() -> String {
    format!(
        "persistent/{}/{}",
        env("ASTRA_STREAMING_TENANT"),
        env("ASTRA_STREAMING_NAMESPACE")
    )
}

/// The short topic name in "Created partitioned topic persistent://t/ns/NAME with …".
fn created_topic(stdout: &str) -> String {
    let full = stdout
        .split("Created partitioned topic ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("no created topic in: {stdout}"));
    full.rsplit('/').next().expect("a topic name").to_owned()
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn tour_creates_reads_and_deletes_a_partitioned_topic() {
    let admin = AdminApi::new();
    let token = admin.tenant_admin_token().await;
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_TOKEN", Some(&token))]);
    let run = run_sample(&vars, &["--partitions", "3"]);
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let out = &run.stdout;
    let (tenant, namespace) = (env("ASTRA_STREAMING_TENANT"), env("ASTRA_STREAMING_NAMESPACE"));
    let topic = created_topic(out);
    let full = format!("persistent://{tenant}/{namespace}/{topic}");
    assert!(out.contains(&format!("Namespaces of tenant {tenant} (")), "{out}");
    assert!(out.contains(&format!("{tenant}/{namespace}")), "{out}");
    assert!(out.contains(&format!("Topics in {tenant}/{namespace} (")), "{out}");
    assert!(
        out.contains(&format!(
            "Created partitioned topic {full} with 3 partitions (the broker reports 3)."
        )),
        "{out}"
    );
    assert!(
        out.contains("Created subscription \"sample-pulsar-admin\" on it."),
        "{out}"
    );
    assert!(out.contains(&format!("Stats of {full}:")), "{out}");
    assert!(out.contains("  rates: in 0.0 msg/s"), "{out}");
    assert!(out.contains("  subscription \"sample-pulsar-admin\" ("), "{out}");
    assert!(out.contains("backlog 0 message(s)"), "{out}");
    for partition in 0..3 {
        assert!(
            out.contains(&format!("  partition {full}-partition-{partition}: ")),
            "{out}"
        );
    }
    assert!(
        out.contains(&format!("Deleted {full}; it is no longer listed.")),
        "{out}"
    );
    assert_no_token(&run);

    // A second, independent request: the topic is gone.
    let (status, metadata) = admin.get(&format!("{}/{topic}/partitions", topics_path())).await;
    assert!(
        status == 404 || (status == 200 && metadata["partitions"] == 0),
        "GET partitions after the delete: {status} {metadata}"
    );
    let (status, listed) = admin.get(&format!("{}/partitioned", topics_path())).await;
    assert_eq!(status, 200, "{listed}");
    assert!(
        !listed.as_array().expect("a list").iter().any(|t| *t == full.as_str()),
        "{listed}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn kept_topic_exists_with_its_partitions_and_subscription() {
    let admin = AdminApi::new();
    let token = admin.tenant_admin_token().await;
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_TOKEN", Some(&token))]);
    let run = run_sample(&vars, &["--partitions", "4", "--keep"]);
    assert_eq!(run.code, Some(0), "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    let topic = created_topic(&run.stdout);
    assert!(run.stdout.contains("(--keep)"), "{}", run.stdout);
    assert!(!run.stdout.contains("Deleted"), "{}", run.stdout);

    // A second, independent request: the topic exists, with 4 partitions and the subscription.
    let path = format!("{}/{topic}", topics_path());
    let (status, metadata) = admin.get(&format!("{path}/partitions")).await;
    let (stats_status, stats) = admin.get(&format!("{path}/partitioned-stats")).await;
    let deleted = admin.delete(&format!("{path}/partitions")).await;
    assert_eq!((status, metadata["partitions"].as_u64()), (200, Some(4)), "{metadata}");
    assert_eq!(stats_status, 200, "{stats}");
    assert!(stats["subscriptions"]["sample-pulsar-admin"].is_object(), "{stats}");
    assert_eq!(deleted, 204, "clean-up DELETE");
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn wrong_token_is_a_401_authentication_error() {
    let token = env("ASTRA_STREAMING_TOKEN");
    let (signed, _signature) = token.rsplit_once('.').expect("a JWT");
    let wrong = format!("{signed}.{}", "A".repeat(43));
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_TOKEN", Some(&wrong))]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(
        &run,
        "authentication failed: the web service rejected ASTRA_STREAMING_TOKEN",
        Duration::from_secs(10),
    );
    assert!(run.stderr.contains("HTTP 401"), "{}", run.stderr);
    assert!(!run.stderr.contains(&wrong), "the wrong token must not be echoed");
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn role_without_rights_on_the_tenant_is_told_so() {
    // The client role has no rights at all on the broker's own tenant `public`.
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_TENANT", Some("public"))]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(
        &run,
        "cannot list the namespaces of tenant public: the token is valid, but its role is not allowed",
        Duration::from_secs(10),
    );
    assert!(
        run.stderr.contains("HTTP 401") || run.stderr.contains("HTTP 403"),
        "{}",
        run.stderr
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn unreachable_web_service_fails_within_seconds() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let url = format!("https://127.0.0.1:{port}");
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_WEB_URL", Some(&url))]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(&run, "cannot reach", Duration::from_secs(10));
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn without_the_stack_ca_the_certificate_is_not_trusted() {
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_CA_PATH", None)]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(
        &run,
        "the web service's TLS certificate is not signed by a CA this program trusts",
        Duration::from_secs(10),
    );
    assert!(run.stderr.contains("UnknownIssuer"), "{}", run.stderr);
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn host_name_not_in_the_certificate_is_named() {
    let vars = with(
        &stack_vars(),
        &[("ASTRA_STREAMING_WEB_URL", Some("https://127.0.0.2:8443"))],
    );
    let run = run_sample(&vars, &[]);
    assert_clear_failure(
        &run,
        "is not issued for the host in ASTRA_STREAMING_WEB_URL",
        Duration::from_secs(10),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn plain_http_to_another_host_is_refused() {
    let vars = with(
        &stack_vars(),
        &[("ASTRA_STREAMING_WEB_URL", Some("http://pulsar.example.com:8080"))],
    );
    let run = run_sample(&vars, &[]);
    assert_clear_failure(
        &run,
        "the token would cross the network unencrypted",
        Duration::from_secs(2),
    );
}

#[test]
#[ignore = "needs the local stack: run scripts/test"]
fn missing_tenant_names_the_variable() {
    let vars = with(&stack_vars(), &[("ASTRA_STREAMING_TENANT", None)]);
    let run = run_sample(&vars, &[]);
    assert_clear_failure(&run, "ASTRA_STREAMING_TENANT is not set", Duration::from_secs(2));
}

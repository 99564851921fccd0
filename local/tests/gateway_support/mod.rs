//! Scaffolding shared by the gateway's conformance tests: a gateway started in-process on free
//! ports against the local stack's Cassandra, an HTTP client, and unique names.
//!
//! These tests need the local stack: run them with `scripts/test` (or `scripts/astra-local up`,
//! then `eval "$(scripts/astra-local env)"` and `cargo test -p astra-local -- --ignored`).

#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use astra_local::gateway::{Gateway, GatewayAddrs, GatewayConfig};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// Every HTTP call in the tests is bounded by this.
pub const BOUND: Duration = Duration::from_secs(60);

/// The stack's settings, from `scripts/astra-local env`.
pub struct StackEnv {
    pub contact_point: String,
    pub username: String,
    pub password: String,
    pub application_token: String,
}

fn required(name: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| {
        panic!(
            "{name} is not set: these tests need the local stack. Run `scripts/test`, or \
             `scripts/astra-local up && eval \"$(scripts/astra-local env)\"` and then \
             `cargo test -p astra-local -- --ignored`"
        )
    })
}

impl StackEnv {
    pub fn load() -> Self {
        Self {
            contact_point: required("CASSANDRA_CONTACT_POINT"),
            username: required("CASSANDRA_USERNAME"),
            password: required("CASSANDRA_PASSWORD"),
            application_token: required("ASTRA_DB_APPLICATION_TOKEN"),
        }
    }
}

/// A running gateway; stopped when dropped.
pub struct TestGateway {
    pub addrs: GatewayAddrs,
    pub env: StackEnv,
    pub http: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub fn install_crypto() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

impl TestGateway {
    pub async fn start() -> Self {
        Self::start_with(|config| config).await
    }

    /// A gateway whose configuration `adjust` may change (e.g. enabling `/v2/cql`).
    pub async fn start_with(adjust: impl FnOnce(GatewayConfig) -> GatewayConfig) -> Self {
        install_crypto();
        let env = StackEnv::load();
        let config = adjust(GatewayConfig::new(&env.contact_point, &env.username, &env.password).with_any_ports());
        let gateway = tokio::time::timeout(BOUND, Gateway::bind(config))
            .await
            .expect("the gateway starts within the bound")
            .expect("the gateway logs in to the local stack's Cassandra");
        let addrs = gateway.local_addrs();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = gateway
                .run_until(async move {
                    let _ = stopped.await;
                })
                .await;
        });
        let http = reqwest::Client::builder()
            .timeout(BOUND)
            .build()
            .expect("an HTTP client");
        Self {
            addrs,
            env,
            http,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Stops the gateway and waits until it no longer serves.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(BOUND, task).await;
        }
    }

    /// A plain CQL session on the stack's Cassandra, to check what the gateway wrote or to change
    /// the schema behind its back.
    pub async fn plain_cql(&self) -> scylla::client::session::Session {
        scylla::client::session_builder::SessionBuilder::new()
            .known_node(&self.env.contact_point)
            .user(&self.env.username, &self.env.password)
            .build()
            .await
            .expect("a plain CQL session")
    }

    pub fn rest_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addrs.rest)
    }
    pub fn auth_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addrs.auth)
    }
    pub fn grpc_url(&self) -> String {
        format!("http://{}", self.addrs.grpc)
    }
    pub fn graphql_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addrs.graphql)
    }

    /// A request to the REST port with the stack's application token.
    pub async fn rest(&self, method: Method, path: &str, body: Option<&str>) -> (StatusCode, String) {
        let token = self.env.application_token.clone();
        self.rest_with(method, path, body, Some(&token)).await
    }

    /// A request to the REST port with `token` (or none).
    pub async fn rest_with(
        &self,
        method: Method,
        path: &str,
        body: Option<&str>,
        token: Option<&str>,
    ) -> (StatusCode, String) {
        let mut request = self.http.request(method, self.rest_url(path));
        if let Some(token) = token {
            request = request.header("X-Cassandra-Token", token);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.expect("the REST API answers");
        let status = response.status();
        (status, response.text().await.expect("a response body"))
    }

    /// The same, with the body parsed as JSON (`Null` for an empty body).
    pub async fn rest_json(&self, method: Method, path: &str, body: Option<&str>) -> (StatusCode, Value) {
        let (status, text) = self.rest(method, path, body).await;
        (status, parse(&text))
    }

    /// Creates a keyspace (idempotent) through the REST API.
    pub async fn ensure_keyspace(&self, keyspace: &str) {
        let body = format!(r#"{{"name":"{keyspace}","replicas":1}}"#);
        let (status, text) = self.rest(Method::POST, "/v2/schemas/keyspaces", Some(&body)).await;
        assert_eq!(status, StatusCode::CREATED, "creating keyspace {keyspace}: {text}");
    }

    /// Creates a table through the REST API from a `TableAdd` body.
    pub async fn create_table(&self, keyspace: &str, body: &str) {
        let (status, text) = self
            .rest(
                Method::POST,
                &format!("/v2/schemas/keyspaces/{keyspace}/tables"),
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "creating a table: {text}");
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub fn parse(text: &str) -> Value {
    if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    }
}

/// The keyspace most tests share (created on first use, never dropped).
pub const KEYSPACE: &str = "gateway_conformance";

/// A name no other test (or earlier run) uses: `<prefix>_<pid>_<n>`.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}_{}_{n}_{}", std::process::id(), nanos % 100_000)
}

/// `application/x-www-form-urlencoded` encoding of a query value.
pub fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(byte)),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

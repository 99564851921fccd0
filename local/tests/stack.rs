//! The running local stack, used the way the samples use it: CQL logins with the Astra-style
//! credentials (plain and through the front door with the bundle), Pulsar over `pulsar+ssl` with
//! the client token, the admin REST API with the super-user token, and the refusals.
//!
//! These tests need the stack: they are ignored by a plain `cargo test`, and `scripts/test` runs
//! them (`--include-ignored`) after `scripts/astra-local up` and `eval "$(scripts/astra-local env)"`.
//! Run by hand:
//!
//! ```text
//! scripts/astra-local up && eval "$(scripts/astra-local env)"
//! cargo test -p astra-local --test stack -- --include-ignored
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use pulsar::consumer::InitialPosition;
use pulsar::{Authentication, ConnectionRetryOptions, Consumer, ConsumerOptions, Pulsar, SubType, TokioExecutor};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::{DbError, ExecutionError, NewSessionError, RequestAttemptError};

/// Bounds every network operation here, so a hang fails as a timeout.
const BOUND: Duration = Duration::from_secs(20);

/// A setting from `astra-local env`. Missing means the test was run without the stack's settings:
/// that is a failure, not a skip.
fn setting(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: these tests need the running local stack and its settings. Run them with \
             scripts/test, or: scripts/astra-local up && eval \"$(scripts/astra-local env)\" && \
             cargo test -p astra-local --test stack -- --include-ignored"
        ),
    }
}

fn install_crypto_provider() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
}

async fn cql_session(user: &str, password: &str) -> Result<Session, NewSessionError> {
    let builder = SessionBuilder::new()
        .known_node(setting("CASSANDRA_CONTACT_POINT"))
        .user(user, password)
        .connection_timeout(Duration::from_secs(5));
    tokio::time::timeout(BOUND, builder.build())
        .await
        .expect("CQL connect timed out")
}

async fn cluster_name(session: &Session) -> String {
    let result = session
        .query_unpaged("SELECT cluster_name FROM system.local", ())
        .await
        .expect("query system.local");
    let rows = result.into_rows_result().expect("rows");
    let (name,) = rows.single_row::<(String,)>().expect("one row");
    name
}

// ---------------------------------------------------------------------------------------------
// CQL
// ---------------------------------------------------------------------------------------------

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn cql_token_role_logs_in_with_the_application_token() {
    let token = setting("ASTRA_DB_APPLICATION_TOKEN");
    assert!(token.starts_with("AstraCS:"), "not an Astra-style token");
    let session = cql_session("token", &token).await.expect("log in as token");
    assert_eq!(cluster_name(&session).await, "astra-local");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn cql_client_id_logs_in_with_the_client_secret() {
    let session = cql_session(&setting("ASTRA_DB_CLIENT_ID"), &setting("ASTRA_DB_CLIENT_SECRET"))
        .await
        .expect("log in");
    assert_eq!(cluster_name(&session).await, "astra-local");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn cql_wrong_token_is_an_authentication_error() {
    let wrong = astra_local::state::application_token();
    let error = cql_session("token", &wrong)
        .await
        .expect_err("a wrong token must not log in");
    assert!(
        astra_local::cassandra::is_auth_error(&error),
        "not an authentication error: {error}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn cql_default_superuser_password_no_longer_works() {
    let error = cql_session("cassandra", "cassandra")
        .await
        .expect_err("the default password must be changed");
    assert!(
        astra_local::cassandra::is_auth_error(&error),
        "not an authentication error: {error}"
    );
    let session = cql_session(&setting("CASSANDRA_USERNAME"), &setting("CASSANDRA_PASSWORD"))
        .await
        .expect("superuser");
    assert_eq!(cluster_name(&session).await, "astra-local");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn cql_token_role_creates_and_uses_tables_but_is_not_a_superuser() {
    let session = cql_session("token", &setting("ASTRA_DB_APPLICATION_TOKEN"))
        .await
        .expect("log in");
    let keyspace = setting("ASTRA_DB_KEYSPACE");
    session
        .query_unpaged(
            format!("CREATE TABLE IF NOT EXISTS {keyspace}.stack_test (k text PRIMARY KEY, v int)"),
            (),
        )
        .await
        .expect("create table");
    session
        .query_unpaged(
            format!("INSERT INTO {keyspace}.stack_test (k, v) VALUES (?, ?)"),
            ("a", 1),
        )
        .await
        .expect("insert");
    let result = session
        .query_unpaged(format!("SELECT v FROM {keyspace}.stack_test WHERE k = ?"), ("a",))
        .await
        .expect("select");
    let (v,) = result
        .into_rows_result()
        .expect("rows")
        .single_row::<(i32,)>()
        .expect("one row");
    assert_eq!(v, 1);
    let refused = session
        .query_unpaged("CREATE ROLE stack_test_role WITH LOGIN = false", ())
        .await;
    let error = refused.expect_err("token must not manage roles");
    assert!(
        matches!(
            error,
            ExecutionError::LastAttemptError(RequestAttemptError::DbError(DbError::Unauthorized, _))
        ),
        "not an authorization error: {error}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn cql_through_the_front_door_with_the_bundle() {
    install_crypto_provider();
    let bundle_path = setting("ASTRA_DB_SECURE_BUNDLE_PATH");
    let bundle = common::bundle::SecureConnectBundle::open(std::path::Path::new(&bundle_path)).expect("open bundle");
    let metadata = common::metadata::fetch(&bundle, BOUND).await.expect("metadata service");

    // The metadata lists the node's real host id, which the superuser reads from system.local.
    let admin = cql_session(&setting("CASSANDRA_USERNAME"), &setting("CASSANDRA_PASSWORD"))
        .await
        .expect("superuser");
    let result = admin
        .query_unpaged("SELECT host_id FROM system.local", ())
        .await
        .expect("host_id");
    let (host_id,) = result
        .into_rows_result()
        .expect("rows")
        .single_row::<(uuid::Uuid,)>()
        .expect("one row");
    assert_eq!(metadata.contact_info.contact_points, vec![host_id.to_string()]);

    // `scylla` names the proxy by IP (no SNI); the server certificate carries IP:127.0.0.1.
    let proxy: SocketAddr = tokio::net::lookup_host(&metadata.contact_info.sni_proxy_address)
        .await
        .expect("resolve the proxy")
        .find(SocketAddr::is_ipv4)
        .expect("an IPv4 address");
    let mut roots = rustls::RootCertStore::empty();
    for ca in bundle.ca_certs().expect("CA") {
        roots.add(ca).expect("add CA");
    }
    let tls = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_client_auth_cert(
            bundle.client_cert_chain().expect("cert"),
            bundle.client_key().expect("key"),
        )
        .expect("client TLS config");
    let builder = SessionBuilder::new()
        .known_node_addr(proxy)
        .user("token", setting("ASTRA_DB_APPLICATION_TOKEN"))
        .tls_context(Some(Arc::new(tls)));
    let session = tokio::time::timeout(BOUND, builder.build())
        .await
        .expect("timed out")
        .expect("CQL through the proxy");
    assert_eq!(cluster_name(&session).await, "astra-local");
}

// ---------------------------------------------------------------------------------------------
// Pulsar
// ---------------------------------------------------------------------------------------------

async fn pulsar_client(token: &str) -> Result<Pulsar<TokioExecutor>, pulsar::Error> {
    install_crypto_provider();
    let builder = Pulsar::builder(setting("ASTRA_STREAMING_SERVICE_URL"), TokioExecutor)
        .with_auth(Authentication {
            name: "token".into(),
            data: token.as_bytes().to_vec(),
        })
        .with_certificate_chain_file(setting("ASTRA_STREAMING_CA_PATH"))
        .expect("read the CA file")
        // Fail at once instead of retrying for ~40 s when something is wrong.
        .with_connection_retry_options(ConnectionRetryOptions {
            max_retries: 0,
            connection_timeout: Duration::from_secs(5),
            ..ConnectionRetryOptions::default()
        });
    tokio::time::timeout(BOUND, builder.build())
        .await
        .expect("Pulsar connect timed out")
}

fn topic(name: &str) -> String {
    format!(
        "persistent://{}/{}/{name}",
        setting("ASTRA_STREAMING_TENANT"),
        setting("ASTRA_STREAMING_NAMESPACE")
    )
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn pulsar_produce_and_consume_over_tls_with_the_client_token() {
    let url = setting("ASTRA_STREAMING_SERVICE_URL");
    assert!(url.starts_with("pulsar+ssl://"), "{url}");
    let client = pulsar_client(&setting("ASTRA_STREAMING_TOKEN"))
        .await
        .expect("connect with the client token");
    let topic = topic(&format!("stack-test-{}", uuid::Uuid::new_v4()));
    let mut consumer: Consumer<String, _> = client
        .consumer()
        .with_topic(&topic)
        .with_subscription("stack-test")
        .with_subscription_type(SubType::Exclusive)
        .with_options(ConsumerOptions::default().with_initial_position(InitialPosition::Earliest))
        .build()
        .await
        .expect("subscribe");
    let mut producer = client.producer().with_topic(&topic).build().await.expect("producer");
    let receipt = producer
        .send_non_blocking("hello from the stack test".to_string())
        .await
        .expect("send");
    tokio::time::timeout(BOUND, receipt)
        .await
        .expect("receipt timed out")
        .expect("receipt");
    let message = tokio::time::timeout(BOUND, consumer.next())
        .await
        .expect("receive timed out")
        .expect("a message")
        .expect("no error");
    assert_eq!(message.deserialize().expect("UTF-8"), "hello from the stack test");
    consumer.ack(&message).await.expect("ack");
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn pulsar_forged_token_is_rejected() {
    let forged = astra_local::pulsar::token(&[42u8; 32], "client").expect("a token signed with another key");
    let result = pulsar_client(&forged).await;
    assert!(result.is_err(), "a token signed with another key must not connect");
}

async fn admin_get(path: &str, token: &str) -> reqwest::Response {
    install_crypto_provider();
    let ca = std::fs::read(setting("ASTRA_STREAMING_CA_PATH")).expect("read the CA");
    let client = astra_local::pulsar::admin_client(&ca).expect("client");
    let url = format!("{}/admin/v2/{path}", setting("ASTRA_STREAMING_WEB_URL"));
    client
        .get(&url)
        .bearer_auth(token)
        .send()
        .await
        .expect("admin API reachable")
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn pulsar_admin_rest_answers_the_super_user_token() {
    let response = admin_get("tenants", &setting("ASTRA_LOCAL_PULSAR_ADMIN_TOKEN")).await;
    assert_eq!(response.status(), reqwest::StatusCode::OK);
    let tenants: Vec<String> = response.json().await.expect("a JSON list");
    assert!(tenants.contains(&setting("ASTRA_STREAMING_TENANT")), "{tenants:?}");
    let namespace = format!(
        "namespaces/{}/{}/permissions",
        setting("ASTRA_STREAMING_TENANT"),
        setting("ASTRA_STREAMING_NAMESPACE")
    );
    let response = admin_get(&namespace, &setting("ASTRA_LOCAL_PULSAR_ADMIN_TOKEN")).await;
    let permissions: serde_json::Value = response.json().await.expect("JSON");
    let client_actions = permissions["client"]
        .as_array()
        .expect("the client role has permissions");
    assert!(
        client_actions.contains(&"produce".into()) && client_actions.contains(&"consume".into()),
        "{permissions}"
    );
}

#[tokio::test]
#[ignore = "needs the local stack: run scripts/test"]
async fn pulsar_admin_rest_rejects_forged_and_client_tokens_with_401() {
    let forged = astra_local::pulsar::token(&[42u8; 32], "admin").expect("a token signed with another key");
    assert_eq!(
        admin_get("tenants", &forged).await.status(),
        reqwest::StatusCode::UNAUTHORIZED
    );
    // A valid token without super-user rights: Pulsar answers 401 (not 403) for tenant listing.
    let client = setting("ASTRA_STREAMING_TOKEN");
    assert_eq!(
        admin_get("tenants", &client).await.status(),
        reqwest::StatusCode::UNAUTHORIZED
    );
}

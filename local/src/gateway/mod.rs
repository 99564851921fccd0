//! The Stargate-compatible gateway: Stargate's Auth API (8081), REST API v2 (8082), gRPC API
//! (8090), GraphQL API (8080) and the Data API (8181), every request turned into CQL against the
//! stack's real Cassandra.
//!
//! One module per protocol, named as in Stargate's docs: [`auth`], [`rest`], [`documents`] (the
//! Document API, on the REST port), [`grpc`], [`graphql`] and [`data_api`]; [`cql`] owns
//! the driver session and builds the CQL; [`values`] converts CQL values to and from Stargate's
//! JSON. Handlers are thin: parse, translate to CQL, run, render.
//!
//! ```no_run
//! # async fn start() -> Result<(), astra_local::gateway::GatewayError> {
//! use astra_local::gateway::{Gateway, GatewayConfig};
//! let config = GatewayConfig::new("127.0.0.1:9042", "cassandra", "the-superuser-password");
//! let gateway = Gateway::bind(config).await?;
//! println!("REST on {}", gateway.local_addrs().rest);
//! gateway.run().await
//! # }
//! ```

pub mod auth;
pub mod cql;
pub mod data_api;
pub mod documents;
pub mod graphql;
pub mod grpc;
pub mod rest;
pub mod values;

use axum::serve::ListenerExt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

use self::auth::Tokens;
use self::cql::Cql;

/// What the gateway serves and where its Cassandra is.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Cassandra's CQL address, `host:port`.
    pub contact_point: String,
    /// The role the gateway's own session logs in as (the stack's superuser).
    pub username: String,
    pub password: String,
    /// Auth API (Stargate: 8081).
    pub auth_addr: SocketAddr,
    /// REST API v2, and the Auth API again under Astra's `/api/rest` prefix (Stargate: 8082).
    pub rest_addr: SocketAddr,
    /// gRPC API (Stargate: 8090).
    pub grpc_addr: SocketAddr,
    /// GraphQL API (Stargate: 8080).
    pub graphql_addr: SocketAddr,
    /// Data API (the self-hosted Data API's port: 8181).
    pub data_api_addr: SocketAddr,
    /// Lifetime of a token from `/v1/auth` since its last use (Stargate: 1800 s).
    pub token_ttl: Duration,
    /// Accept `AstraCS:` application tokens directly, as Astra does.
    pub accept_application_tokens: bool,
    /// Serve `POST /v2/cql` (off by default, as in Stargate: then it answers 404).
    pub rest_cql_enabled: bool,
    /// Render maps as JSON objects unless a request says `compactMapData=false` (Stargate ≥ 2.0.17).
    pub compact_map_data: bool,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("contact_point", &self.contact_point)
            .field("username", &self.username)
            .field("auth_addr", &self.auth_addr)
            .field("rest_addr", &self.rest_addr)
            .field("grpc_addr", &self.grpc_addr)
            .field("graphql_addr", &self.graphql_addr)
            .field("data_api_addr", &self.data_api_addr)
            .finish_non_exhaustive()
    }
}

/// Stargate's ports on 127.0.0.1.
pub const DEFAULT_AUTH_PORT: u16 = 8081;
pub const DEFAULT_REST_PORT: u16 = 8082;
pub const DEFAULT_GRPC_PORT: u16 = 8090;
pub const DEFAULT_GRAPHQL_PORT: u16 = 8080;

/// `astra-local serve` runs no gateway when this variable is `1`: a second stack on the same
/// machine (the faults test's) leaves Stargate's fixed ports to the first one.
pub const NO_GATEWAY_VAR: &str = "ASTRA_LOCAL_NO_GATEWAY";

/// Whether `astra-local serve` (started by `up`, which passes its environment on) runs the gateway.
pub fn enabled() -> bool {
    std::env::var_os(NO_GATEWAY_VAR).is_none_or(|v| v != "1")
}

/// The ports `astra-local serve`'s gateway listens on, with what each is for.
pub const STACK_PORTS: [(u16, &str); 5] = [
    (DEFAULT_AUTH_PORT, "Stargate Auth API"),
    (DEFAULT_REST_PORT, "Stargate REST and Document APIs"),
    (DEFAULT_GRPC_PORT, "Stargate gRPC API"),
    (DEFAULT_GRAPHQL_PORT, "Stargate GraphQL API"),
    (data_api::DEFAULT_PORT, "Data API"),
];

impl GatewayConfig {
    /// Stargate's ports on 127.0.0.1 and Stargate's defaults.
    pub fn new(contact_point: impl Into<String>, username: impl Into<String>, password: impl Into<String>) -> Self {
        let local = |port| SocketAddr::from(([127, 0, 0, 1], port));
        Self {
            contact_point: contact_point.into(),
            username: username.into(),
            password: password.into(),
            auth_addr: local(DEFAULT_AUTH_PORT),
            rest_addr: local(DEFAULT_REST_PORT),
            grpc_addr: local(DEFAULT_GRPC_PORT),
            graphql_addr: local(DEFAULT_GRAPHQL_PORT),
            data_api_addr: local(data_api::DEFAULT_PORT),
            token_ttl: Duration::from_secs(1800),
            accept_application_tokens: true,
            rest_cql_enabled: false,
            compact_map_data: true,
        }
    }

    /// Every port 0 (the OS picks free ones): for tests, which read them from [`Gateway::local_addrs`].
    pub fn with_any_ports(mut self) -> Self {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        self.auth_addr = any;
        self.rest_addr = any;
        self.grpc_addr = any;
        self.graphql_addr = any;
        self.data_api_addr = any;
        self
    }
}

/// Why the gateway could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error("gateway: cannot log in to Cassandra at {contact_point} as {username}: {reason}")]
    Connect {
        contact_point: String,
        username: String,
        reason: String,
    },
    #[error("gateway: cannot set up: {reason}")]
    Setup { reason: String },
    #[error("gateway: cannot listen on {addr} ({purpose}): {source}; is another Stargate or gateway running?")]
    Bind {
        purpose: &'static str,
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("gateway: {purpose} server failed: {reason}")]
    Serve { purpose: &'static str, reason: String },
}

/// Where the gateway listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayAddrs {
    pub auth: SocketAddr,
    pub rest: SocketAddr,
    pub grpc: SocketAddr,
    pub graphql: SocketAddr,
    pub data_api: SocketAddr,
}

/// What every handler shares.
pub struct Shared {
    pub cql: Arc<Cql>,
    pub tokens: Arc<Tokens>,
    pub config: GatewayConfig,
}

/// A gateway whose ports are bound and whose Cassandra session is open: call [`Gateway::run`].
pub struct Gateway {
    shared: Arc<Shared>,
    auth: TcpListener,
    rest: TcpListener,
    grpc: TcpListener,
    graphql: TcpListener,
    data_api: TcpListener,
    addrs: GatewayAddrs,
}

/// Small answers go out at once: without TCP_NODELAY, Nagle's algorithm holds a response's last
/// segment until the client's delayed ACK (up to 40 ms), which showed in gRPC's p99 (scripts/bench).
fn no_delay(stream: &mut tokio::net::TcpStream) {
    if let Err(error) = stream.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY");
    }
}

async fn listen(purpose: &'static str, addr: SocketAddr) -> Result<TcpListener, GatewayError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| GatewayError::Bind { purpose, addr, source })
}

impl Gateway {
    /// Logs in to Cassandra, creates the token table if needed, and binds the five ports.
    pub async fn bind(config: GatewayConfig) -> Result<Self, GatewayError> {
        let cql = Cql::connect(&config.contact_point, &config.username, &config.password)
            .await
            .map_err(|e| GatewayError::Connect {
                contact_point: config.contact_point.clone(),
                username: config.username.clone(),
                reason: error_chain(&e),
            })?;
        for statement in auth::token_schema() {
            cql.run_ddl(&statement).await.map_err(|e| GatewayError::Setup {
                reason: format!("cannot create the token table {}: {}", auth::TOKEN_TABLE, e.message),
            })?;
        }
        let cql = Arc::new(cql);
        let tokens = Arc::new(Tokens::new(
            cql.clone(),
            config.token_ttl,
            config.accept_application_tokens,
        ));
        let auth = listen("Auth API", config.auth_addr).await?;
        let rest = listen("REST API", config.rest_addr).await?;
        let grpc = listen("gRPC API", config.grpc_addr).await?;
        let graphql = listen("GraphQL API", config.graphql_addr).await?;
        let data_api = listen("Data API", config.data_api_addr).await?;
        let addr = |l: &TcpListener, purpose, configured| {
            l.local_addr().map_err(|source| GatewayError::Bind {
                purpose,
                addr: configured,
                source,
            })
        };
        let addrs = GatewayAddrs {
            auth: addr(&auth, "Auth API", config.auth_addr)?,
            rest: addr(&rest, "REST API", config.rest_addr)?,
            grpc: addr(&grpc, "gRPC API", config.grpc_addr)?,
            graphql: addr(&graphql, "GraphQL API", config.graphql_addr)?,
            data_api: addr(&data_api, "Data API", config.data_api_addr)?,
        };
        Ok(Self {
            shared: Arc::new(Shared { cql, tokens, config }),
            auth,
            rest,
            grpc,
            graphql,
            data_api,
            addrs,
        })
    }

    pub fn local_addrs(&self) -> GatewayAddrs {
        self.addrs
    }

    /// Serves until a server fails.
    pub async fn run(self) -> Result<(), GatewayError> {
        self.run_until(std::future::pending()).await
    }

    /// Serves until `shutdown` completes (then stops accepting and returns) or a server fails.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), GatewayError> {
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|stop| *stop).await;
        };
        let auth_state = auth::AuthState {
            cql: self.shared.cql.clone(),
            tokens: self.shared.tokens.clone(),
        };
        let auth_app = auth::router(auth_state, "");
        let rest_app = rest::router(self.shared.clone());
        let grpc_service = grpc::service(self.shared.clone());
        let graphql_app = graphql::router(self.shared.clone()).map_err(|reason| GatewayError::Setup { reason })?;
        let data_api_app = data_api::router(self.shared.clone());
        tracing::info!(auth = %self.addrs.auth, rest = %self.addrs.rest, grpc = %self.addrs.grpc, graphql = %self.addrs.graphql, data_api = %self.addrs.data_api, "Stargate-compatible gateway listening");

        let auth = axum::serve(self.auth.tap_io(no_delay), auth_app).with_graceful_shutdown(stopped(stop_rx.clone()));
        let rest = axum::serve(self.rest.tap_io(no_delay), rest_app).with_graceful_shutdown(stopped(stop_rx.clone()));
        let graphql =
            axum::serve(self.graphql.tap_io(no_delay), graphql_app).with_graceful_shutdown(stopped(stop_rx.clone()));
        let data_api =
            axum::serve(self.data_api.tap_io(no_delay), data_api_app).with_graceful_shutdown(stopped(stop_rx.clone()));
        let grpc = tonic::transport::Server::builder()
            .add_service(grpc_service)
            .serve_with_incoming_shutdown(
                tonic::transport::server::TcpIncoming::from(self.grpc).with_nodelay(Some(true)),
                stopped(stop_rx),
            );
        let mut servers = tokio::task::JoinSet::new();
        servers.spawn(async move {
            auth.await.map_err(|e| GatewayError::Serve {
                purpose: "Auth API",
                reason: e.to_string(),
            })
        });
        servers.spawn(async move {
            rest.await.map_err(|e| GatewayError::Serve {
                purpose: "REST API",
                reason: e.to_string(),
            })
        });
        servers.spawn(async move {
            data_api.await.map_err(|e| GatewayError::Serve {
                purpose: "Data API",
                reason: e.to_string(),
            })
        });
        servers.spawn(async move {
            graphql.await.map_err(|e| GatewayError::Serve {
                purpose: "GraphQL API",
                reason: e.to_string(),
            })
        });
        servers.spawn(async move {
            grpc.await.map_err(|e| GatewayError::Serve {
                purpose: "gRPC API",
                reason: e.to_string(),
            })
        });
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        });
        let mut result = Ok(());
        while let Some(joined) = servers.join_next().await {
            let outcome = joined.unwrap_or_else(|e| {
                Err(GatewayError::Serve {
                    purpose: "gateway",
                    reason: e.to_string(),
                })
            });
            if let Err(error) = outcome {
                servers.abort_all();
                result = Err(error);
                break;
            }
        }
        result
    }
}

/// An error and its causes on one line ("a: b: c").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The gateway of the local stack in `paths` (`astra-local serve`): Stargate's ports, the node
/// from `stack.json`, the superuser's password from `secrets.json`.
pub fn config_from_stack(paths: &crate::state::Paths) -> Result<GatewayConfig, GatewayError> {
    let not_set_up = |what: &str| GatewayError::Setup {
        reason: format!(
            "{what} in {} is missing: run `scripts/astra-local up`",
            paths.root.display()
        ),
    };
    let settings = crate::state::Settings::load(paths)
        .map_err(|e| GatewayError::Setup { reason: e.to_string() })?
        .ok_or_else(|| not_set_up("stack.json"))?;
    let secrets = crate::state::Secrets::load(paths)
        .map_err(|e| GatewayError::Setup { reason: e.to_string() })?
        .ok_or_else(|| not_set_up("secrets.json"))?;
    Ok(GatewayConfig::new(
        format!("127.0.0.1:{}", settings.ports.cql),
        crate::cassandra::SUPERUSER,
        secrets.cassandra_password,
    ))
}

/// `astra-local serve`'s gateway: runs until the process ends. A gateway that cannot start (a
/// port taken, Cassandra not answering) is logged and retried, without stopping the other servers.
pub async fn serve_stack(paths: &crate::state::Paths) {
    loop {
        let outcome = match config_from_stack(paths) {
            Ok(config) => serve(config).await,
            Err(error) => Err(error),
        };
        if let Err(error) = outcome {
            tracing::error!(%error, "Stargate-compatible gateway stopped; retrying in 10 s");
        }
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
}

/// Binds Stargate's ports and serves until a server fails.
pub async fn serve(config: GatewayConfig) -> Result<(), GatewayError> {
    Gateway::bind(config).await?.run().await
}

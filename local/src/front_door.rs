//! Astra's secure-connect front door, in process: the SNI proxy, the metadata service and the bundle.
//!
//! A driver given a secure connect bundle does three things, and this module answers each the way
//! Astra does:
//!
//! 1. It asks the **metadata service** (`https://<bundle host>:<bundle port>/metadata`, mutual TLS)
//!    where the CQL proxy is and which nodes sit behind it. The answer lists the nodes' host ids.
//! 2. It opens TLS connections to the **SNI proxy**, presenting the bundle's client certificate and
//!    sending a node's host id as the TLS server name (SNI). The proxy checks the certificate, then
//!    pipes the decrypted bytes to that node's plain CQL port.
//! 3. All of it trusts only the bundle's `ca.crt` and proves itself with the bundle's `cert`/`key`,
//!    which [`write_bundle`] packs from the stack's [`Pki`].
//!
//! Routing, as Astra's proxy does it:
//!
//! | SNI sent by the client | goes to |
//! |---|---|
//! | a known node's host id (any letter case) | that node |
//! | none (Rust `scylla` sends none: it names the proxy by IP) | the default node |
//! | the bundle host (`localhost`) | the default node |
//! | anything else | refused with a fatal `unrecognized_name` alert, so the client fails at once |
//!
//! A client without a certificate signed by the stack's CA gets a fatal alert from the handshake
//! (under TLS 1.3, on its first read: the client finishes its half of the handshake before the server
//! has checked the certificate). Refused connections are closed gracefully (alert, then FIN, then a
//! short drain) so the alert is not lost to a TCP reset.

use std::collections::HashMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio::time::{Instant, timeout, timeout_at};
use tokio_rustls::{LazyConfigAcceptor, TlsAcceptor};
use tracing::{debug, info, warn};
use uuid::Uuid;

use crate::pki::{Pki, PkiError};

/// Astra's port for the CQL SNI proxy.
pub const DEFAULT_CQL_PORT: u16 = 29042;
/// Astra's port for the metadata service.
pub const DEFAULT_METADATA_PORT: u16 = 29080;

/// The whole TLS handshake (ClientHello included) must finish within this.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting to a node's native CQL port.
const NODE_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Reading one HTTP request head on the metadata port.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest HTTP request head the metadata service reads.
const MAX_REQUEST_HEAD: usize = 8 * 1024;
/// After refusing a client, how long to keep reading (and discarding) what it still sends, so that
/// closing does not turn into a TCP reset that could destroy the alert before the client reads it.
const LINGER: Duration = Duration::from_secs(1);
const LINGER_MAX_BYTES: usize = 64 * 1024;

/// A TLS record carrying a fatal `unrecognized_name` (112) alert, sent in the clear before any
/// handshake message, as a server does when it does not serve the requested name.
const UNRECOGNIZED_NAME_ALERT: [u8; 7] = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 112];

/// A Cassandra node behind the proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The node's `host_id` from `system.local`: drivers send it as the SNI.
    pub host_id: Uuid,
    /// The node's plain native CQL address, e.g. 127.0.0.1:9042.
    pub address: SocketAddr,
}

/// What the front door listens on and routes to.
#[derive(Debug, Clone)]
pub struct FrontDoorConfig {
    /// The SNI proxy's address (Astra: port 29042).
    pub cql_listen: SocketAddr,
    /// The metadata service's address (Astra: port 29080).
    pub metadata_listen: SocketAddr,
    /// The host clients use for the proxy: the host part of `sni_proxy_address` in the metadata,
    /// and a name the proxy accepts as SNI for the default node. The bundle's `host`, normally `localhost`.
    pub proxy_host: String,
    /// Every node behind the proxy. Include every node a driver may learn of from `system.peers`:
    /// it reaches each with that node's host id as SNI.
    pub nodes: Vec<Node>,
    /// Index in `nodes` of the node for connections without SNI (or with the proxy host as SNI).
    pub default_node: usize,
    /// The data center drivers should treat as local (`datacenter1` with SimpleSnitch).
    pub local_dc: String,
    /// The metadata's `region`. Some proxies (cql-proxy) drop peers whose DC differs from it, so it
    /// is the DC name locally.
    pub region: String,
}

impl FrontDoorConfig {
    /// Astra's ports on 127.0.0.1, proxy host `localhost`, the first node as default, and data
    /// center and region `datacenter1`.
    pub fn new(nodes: Vec<Node>) -> Self {
        Self {
            cql_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_CQL_PORT)),
            metadata_listen: SocketAddr::from((Ipv4Addr::LOCALHOST, DEFAULT_METADATA_PORT)),
            proxy_host: "localhost".into(),
            nodes,
            default_node: 0,
            local_dc: "datacenter1".into(),
            region: "datacenter1".into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FrontDoorError {
    #[error("the front door has no node to route to: start Cassandra and pass its host id and native address")]
    NoNodes,
    #[error("the front door's default node is number {index}, but there are only {count} nodes")]
    BadDefaultNode { index: usize, count: usize },
    #[error(
        "cannot listen on {addr} for the front door's {what}: {source}. Stop whatever uses port {port}, or choose another port."
    )]
    Bind {
        what: &'static str,
        addr: SocketAddr,
        port: u16,
        source: io::Error,
    },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("cannot write the secure connect bundle {path}: {reason}")]
    Bundle { path: PathBuf, reason: String },
}

/// Where an SNI value sends a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    /// The SNI named this node's host id.
    HostId(Uuid, SocketAddr),
    /// No SNI, or the proxy host: the default node.
    Default(Uuid, SocketAddr),
    /// An SNI the proxy does not serve.
    Unknown,
}

/// The SNI routing table, built once from the configuration.
#[derive(Debug)]
struct Router {
    by_host_id: HashMap<Uuid, SocketAddr>,
    default: Node,
    proxy_host: String,
}

impl Router {
    fn new(config: &FrontDoorConfig) -> Result<Self, FrontDoorError> {
        if config.nodes.is_empty() {
            return Err(FrontDoorError::NoNodes);
        }
        let default = config
            .nodes
            .get(config.default_node)
            .cloned()
            .ok_or(FrontDoorError::BadDefaultNode {
                index: config.default_node,
                count: config.nodes.len(),
            })?;
        Ok(Self {
            by_host_id: config.nodes.iter().map(|node| (node.host_id, node.address)).collect(),
            default,
            proxy_host: config.proxy_host.clone(),
        })
    }

    fn route(&self, sni: Option<&str>) -> Route {
        let default = Route::Default(self.default.host_id, self.default.address);
        let Some(sni) = sni else { return default };
        // A fully qualified name may end in a dot; it names the same host.
        let name = sni.strip_suffix('.').unwrap_or(sni);
        // `Uuid::parse_str` accepts any letter case, so `2D41…` finds `2d41…`.
        if let Ok(host_id) = Uuid::parse_str(name)
            && let Some(address) = self.by_host_id.get(&host_id)
        {
            return Route::HostId(host_id, *address);
        }
        if name.eq_ignore_ascii_case(&self.proxy_host) || name.eq_ignore_ascii_case("localhost") {
            return default;
        }
        Route::Unknown
    }
}

/// The metadata service's answer, as Astra shapes it. `cql_port` is the port the proxy really
/// listens on (it differs from the configured one when that was 0).
pub fn metadata_json(config: &FrontDoorConfig, cql_port: u16) -> serde_json::Value {
    let contact_points: Vec<String> = config.nodes.iter().map(|node| node.host_id.to_string()).collect();
    json!({
        "version": 1,
        "region": config.region,
        "contact_info": {
            "type": "sni_proxy",
            "local_dc": config.local_dc,
            "contact_points": contact_points,
            // Drivers need the port here: without it the Python driver falls back to 9042.
            "sni_proxy_address": format!("{}:{}", config.proxy_host, cql_port),
        }
    })
}

/// What both listeners share.
struct Shared {
    tls: Arc<ServerConfig>,
    router: Router,
    metadata_body: Vec<u8>,
}

/// The front door with both listeners bound; [`FrontDoor::run`] serves them.
pub struct FrontDoor {
    cql: TcpListener,
    metadata: TcpListener,
    cql_addr: SocketAddr,
    metadata_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FrontDoor {
    /// Checks the configuration, builds the TLS configuration from `pki` and binds both ports.
    /// Port 0 picks a free port; read it back with [`Self::cql_addr`] and [`Self::metadata_addr`].
    pub async fn bind(config: FrontDoorConfig, pki: &Pki) -> Result<Self, FrontDoorError> {
        let router = Router::new(&config)?;
        let tls = pki.server_config()?;
        let cql = bind("CQL SNI proxy", config.cql_listen).await?;
        let metadata = bind("metadata service", config.metadata_listen).await?;
        let cql_addr = local_addr("CQL SNI proxy", &cql, config.cql_listen)?;
        let metadata_addr = local_addr("metadata service", &metadata, config.metadata_listen)?;
        let metadata_body = metadata_json(&config, cql_addr.port()).to_string().into_bytes();
        Ok(Self {
            cql,
            metadata,
            cql_addr,
            metadata_addr,
            shared: Arc::new(Shared {
                tls,
                router,
                metadata_body,
            }),
        })
    }

    /// The address the SNI proxy listens on.
    pub fn cql_addr(&self) -> SocketAddr {
        self.cql_addr
    }

    /// The address the metadata service listens on.
    pub fn metadata_addr(&self) -> SocketAddr {
        self.metadata_addr
    }

    /// Serves both listeners until this future is dropped (or its task aborted), which also ends
    /// every connection it is still serving.
    pub async fn run(self) {
        let Self {
            cql,
            metadata,
            cql_addr,
            metadata_addr,
            shared,
        } = self;
        info!(%cql_addr, %metadata_addr, nodes = shared.router.by_host_id.len(), "front door listening");
        // Connections live in this set, so dropping `run` aborts them all.
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = cql.accept() => match accepted {
                    Ok((stream, peer)) => {
                        connections.spawn(proxy_connection(shared.clone(), stream, peer));
                    }
                    Err(e) => accept_failed("CQL SNI proxy", e).await,
                },
                accepted = metadata.accept() => match accepted {
                    Ok((stream, peer)) => {
                        connections.spawn(metadata_connection(shared.clone(), stream, peer));
                    }
                    Err(e) => accept_failed("metadata service", e).await,
                },
                Some(finished) = connections.join_next(), if !connections.is_empty() => {
                    if let Err(e) = finished && e.is_panic() {
                        warn!(error = %e, "a front door connection task panicked");
                    }
                }
            }
        }
    }
}

/// Binds both listeners and serves them until the future is dropped.
pub async fn serve(config: FrontDoorConfig, pki: &Pki) -> Result<(), FrontDoorError> {
    FrontDoor::bind(config, pki).await?.run().await;
    Ok(())
}

async fn bind(what: &'static str, addr: SocketAddr) -> Result<TcpListener, FrontDoorError> {
    TcpListener::bind(addr).await.map_err(|source| FrontDoorError::Bind {
        what,
        addr,
        port: addr.port(),
        source,
    })
}

fn local_addr(what: &'static str, listener: &TcpListener, addr: SocketAddr) -> Result<SocketAddr, FrontDoorError> {
    listener.local_addr().map_err(|source| FrontDoorError::Bind {
        what,
        addr,
        port: addr.port(),
        source,
    })
}

/// Accepting fails for reasons such as running out of file descriptors; pausing a moment keeps the
/// loop from spinning while it lasts.
async fn accept_failed(what: &str, error: io::Error) {
    warn!(listener = what, %error, "cannot accept a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// One SNI proxy connection: read the ClientHello, pick the node from the SNI, finish the mutual TLS
/// handshake, connect to the node and pipe bytes both ways.
async fn proxy_connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
    let mut hello = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream);
    let start = match timeout_at(deadline, &mut hello).await {
        Ok(Ok(start)) => start,
        Ok(Err(error)) => {
            // A bare connect-and-close (a port probe) is no problem worth a warning. Anything
            // else is not TLS or a broken ClientHello, and rustls has already sent the alert.
            if error.kind() == io::ErrorKind::UnexpectedEof {
                debug!(%peer, "CQL proxy: closed before a TLS ClientHello");
            } else {
                warn!(%peer, %error, "CQL proxy: no valid TLS ClientHello");
            }
            if let Some(io) = hello.take_io() {
                close_gently(io).await;
            }
            return;
        }
        Err(_) => {
            warn!(%peer, "CQL proxy: no TLS ClientHello within {HANDSHAKE_TIMEOUT:?}");
            return;
        }
    };

    let sni = start.client_hello().server_name().map(str::to_owned);
    let (host_id, node) = match shared.router.route(sni.as_deref()) {
        Route::HostId(host_id, node) | Route::Default(host_id, node) => (host_id, node),
        Route::Unknown => {
            warn!(%peer, ?sni, "CQL proxy: refusing a server name that is no node's host id");
            let mut io = start.io;
            let _ = io.write_all(&UNRECOGNIZED_NAME_ALERT).await;
            close_gently(io).await;
            return;
        }
    };
    debug!(%peer, ?sni, %host_id, %node, "CQL proxy: routing");

    let mut tls = match timeout_at(deadline, start.into_stream(shared.tls.clone()).into_fallible()).await {
        Ok(Ok(tls)) => tls,
        Ok(Err((error, io))) => {
            // Typically a missing or foreign client certificate; the alert is already on its way.
            warn!(%peer, ?sni, %error, "CQL proxy: TLS handshake failed");
            close_gently(io).await;
            return;
        }
        Err(_) => {
            warn!(%peer, ?sni, "CQL proxy: TLS handshake not finished within {HANDSHAKE_TIMEOUT:?}");
            return;
        }
    };

    let mut upstream = match timeout(NODE_CONNECT_TIMEOUT, TcpStream::connect(node)).await {
        Ok(Ok(upstream)) => upstream,
        Ok(Err(error)) => {
            warn!(%peer, %host_id, %node, %error, "CQL proxy: cannot reach the node; closing the client connection");
            let _ = tls.shutdown().await;
            return;
        }
        Err(_) => {
            warn!(%peer, %host_id, %node, "CQL proxy: node did not accept within {NODE_CONNECT_TIMEOUT:?}; closing the client connection");
            let _ = tls.shutdown().await;
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    match tokio::io::copy_bidirectional(&mut tls, &mut upstream).await {
        Ok((to_node, to_client)) => debug!(%peer, %host_id, to_node, to_client, "CQL proxy: connection closed"),
        // Resets and unclean TLS closes are how drivers often hang up; not worth a warning.
        Err(error) => debug!(%peer, %host_id, %error, "CQL proxy: connection ended with an error"),
    }
}

/// One metadata service connection: mutual TLS, one HTTP/1.1 request, one answer, close.
async fn metadata_connection(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let acceptor = TlsAcceptor::from(shared.tls.clone());
    let mut tls = match timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream).into_fallible()).await {
        Ok(Ok(tls)) => tls,
        Ok(Err((error, io))) => {
            if error.kind() == io::ErrorKind::UnexpectedEof {
                debug!(%peer, %error, "metadata service: closed during the TLS handshake");
            } else {
                warn!(%peer, %error, "metadata service: TLS handshake failed");
            }
            close_gently(io).await;
            return;
        }
        Err(_) => {
            warn!(%peer, "metadata service: TLS handshake not finished within {HANDSHAKE_TIMEOUT:?}");
            return;
        }
    };
    let head = match timeout(REQUEST_TIMEOUT, read_request_head(&mut tls)).await {
        Ok(Ok(head)) => head,
        Ok(Err(error)) => {
            warn!(%peer, %error, "metadata service: no HTTP request");
            let _ = tls.shutdown().await;
            return;
        }
        Err(_) => {
            warn!(%peer, "metadata service: no complete HTTP request within {REQUEST_TIMEOUT:?}");
            return;
        }
    };
    let response = respond(&head, &shared.metadata_body);
    debug!(%peer, request = %request_line(&head), status = response.status, "metadata service");
    let result = async {
        tls.write_all(&response.to_bytes()).await?;
        // `shutdown` sends TLS close_notify, then FIN: the client sees a clean end of the answer.
        tls.shutdown().await
    }
    .await;
    if let Err(error) = result {
        debug!(%peer, %error, "metadata service: cannot send the answer");
    }
}

/// Reads up to the blank line that ends an HTTP request head, at most [`MAX_REQUEST_HEAD`] bytes.
/// The head is returned without that blank line; any body is ignored (a GET has none).
async fn read_request_head<R: AsyncRead + Unpin>(reader: &mut R) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    loop {
        if let Some(end) = head_end(&head) {
            head.truncate(end);
            return Ok(head);
        }
        if head.len() > MAX_REQUEST_HEAD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request head larger than 8 KiB",
            ));
        }
        let n = reader.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before a complete request",
            ));
        }
        head.extend_from_slice(&chunk[..n]);
    }
}

/// Where the head's terminating blank line starts (`\r\n\r\n`, or a bare `\n\n` from lax clients).
fn head_end(buf: &[u8]) -> Option<usize> {
    let crlf = buf.windows(4).position(|w| w == b"\r\n\r\n");
    let lf = buf.windows(2).position(|w| w == b"\n\n");
    match (crlf, lf) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

fn request_line(head: &[u8]) -> String {
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    String::from_utf8_lossy(line).trim_end().to_owned()
}

/// An HTTP answer of the metadata service.
#[derive(Debug, PartialEq, Eq)]
struct Response {
    status: u16,
    reason: &'static str,
    content_type: &'static str,
    allow: Option<&'static str>,
    body: Vec<u8>,
    /// HEAD: send the headers of the GET answer without its body.
    head_only: bool,
}

impl Response {
    fn text(status: u16, reason: &'static str, body: &str) -> Self {
        Self {
            status,
            reason,
            content_type: "text/plain; charset=utf-8",
            allow: None,
            body: format!("{body}\n").into_bytes(),
            head_only: false,
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            self.reason,
            self.content_type,
            self.body.len()
        );
        if let Some(allow) = self.allow {
            out.push_str(&format!("Allow: {allow}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        if !self.head_only {
            bytes.extend_from_slice(&self.body);
        }
        bytes
    }
}

/// The metadata service's routing: `GET /metadata` with any query string (the C++ driver adds
/// `?version=1`) answers the metadata; every other path is 404.
fn respond(head: &[u8], metadata_body: &[u8]) -> Response {
    let line = request_line(head);
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Response::text(400, "Bad Request", "malformed request line");
    };
    if !version.starts_with("HTTP/1.") {
        return Response::text(400, "Bad Request", "only HTTP/1.x is served here");
    }
    let path = target.split(['?', '#']).next().unwrap_or_default();
    if path != "/metadata" {
        return Response::text(
            404,
            "Not Found",
            "not found; the metadata service answers GET /metadata",
        );
    }
    match method {
        "GET" | "HEAD" => Response {
            status: 200,
            reason: "OK",
            content_type: "application/json",
            allow: None,
            body: metadata_body.to_vec(),
            head_only: method == "HEAD",
        },
        _ => Response {
            allow: Some("GET, HEAD"),
            ..Response::text(405, "Method Not Allowed", "use GET")
        },
    }
}

/// Closes a connection the front door refused: FIN first, then read and discard what the client
/// still sends (for at most [`LINGER`]). Closing a socket with unread input makes the kernel send a
/// reset, and a reset can make the client lose the alert that explains the refusal.
async fn close_gently<IO: AsyncRead + AsyncWrite + Unpin>(mut io: IO) {
    let _ = io.shutdown().await;
    let drain = async {
        let mut buf = [0u8; 4096];
        let mut total = 0;
        while total < LINGER_MAX_BYTES {
            match io.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = timeout(LINGER, drain).await;
}

/// Writes a secure connect bundle for the stack: the members of Astra's bundle that drivers read.
///
/// - `config.json`: `host` and `port` (the metadata service), `cql_port` (the proxy), `keyspace`,
///   `localDC`, and where the PEM members are (`caCertLocation`, `certLocation`, `keyLocation`).
/// - `ca.crt`: the stack's CA; `cert` and `key`: the client certificate and its PKCS#8 key.
///
/// Astra's bundles also hold Java keystores (`identity.jks`, `trustStore.jks`, `cert.pfx`) for the
/// Java driver; this one does not, so Java clients must be given the PEM files instead.
///
/// The zip holds a private key: it is written with mode 0600, through a temporary file and a rename
/// so a reader never sees half a bundle.
pub fn write_bundle(
    path: &Path,
    pki: &Pki,
    host: &str,
    metadata_port: u16,
    cql_port: u16,
    keyspace: &str,
    local_dc: &str,
) -> Result<(), FrontDoorError> {
    let failed = |reason: String| FrontDoorError::Bundle {
        path: path.to_path_buf(),
        reason,
    };
    let config = json!({
        "host": host,
        "port": metadata_port,
        "cql_port": cql_port,
        "keyspace": keyspace,
        "localDC": local_dc,
        "caCertLocation": "./ca.crt",
        "keyLocation": "./key",
        "certLocation": "./cert",
    });
    let config = serde_json::to_vec_pretty(&config).map_err(|e| failed(e.to_string()))?;
    let members: [(&str, &[u8]); 4] = [
        ("config.json", &config),
        ("ca.crt", pki.ca_cert_pem().as_bytes()),
        ("cert", pki.client_cert_pem().as_bytes()),
        ("key", pki.client_key_pem().as_bytes()),
    ];
    let mut zip = zip::ZipWriter::new(io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().unix_permissions(0o600);
    for (name, body) in members {
        zip.start_file(name, options)
            .map_err(|e| failed(format!("cannot add {name}: {e}")))?;
        io::Write::write_all(&mut zip, body).map_err(|e| failed(format!("cannot add {name}: {e}")))?;
    }
    let bytes = zip.finish().map_err(|e| failed(e.to_string()))?.into_inner();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| failed(format!("cannot create {}: {e}", parent.display())))?;
    }
    crate::pki::write_atomically(path, &bytes, 0o600).map_err(|(action, e)| failed(format!("cannot {action} it: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NODE_A: &str = "2d414e60-4e33-4154-b38d-701d2d2f86ae";
    const NODE_B: &str = "51545190-c27b-42df-9fdd-32224ceb17a5";

    fn node(host_id: &str, address: &str) -> Node {
        Node {
            host_id: host_id.parse().expect("a host id"),
            address: address.parse().expect("a socket address"),
        }
    }

    fn config() -> FrontDoorConfig {
        FrontDoorConfig::new(vec![node(NODE_A, "127.0.0.1:9042"), node(NODE_B, "127.0.0.2:9042")])
    }

    #[test]
    fn sni_routing_follows_astra() {
        let router = Router::new(&config()).expect("a valid configuration");
        let (a, b) = (node(NODE_A, "127.0.0.1:9042"), node(NODE_B, "127.0.0.2:9042"));
        let to_b = Route::HostId(b.host_id, b.address);
        let to_default = Route::Default(a.host_id, a.address);
        assert_eq!(router.route(Some(NODE_B)), to_b);
        assert_eq!(router.route(Some(&NODE_B.to_uppercase())), to_b);
        assert_eq!(router.route(Some(&format!("{NODE_B}."))), to_b);
        assert_eq!(router.route(None), to_default);
        assert_eq!(router.route(Some("localhost")), to_default);
        assert_eq!(router.route(Some("LocalHost")), to_default);
        assert_eq!(router.route(Some("other.example")), Route::Unknown);
        assert_eq!(
            router.route(Some("00000000-0000-0000-0000-000000000000")),
            Route::Unknown
        );
    }

    #[test]
    fn bad_configurations_are_refused() {
        let mut empty = config();
        empty.nodes.clear();
        assert!(matches!(Router::new(&empty), Err(FrontDoorError::NoNodes)));
        let mut out_of_range = config();
        out_of_range.default_node = 2;
        assert!(matches!(
            Router::new(&out_of_range),
            Err(FrontDoorError::BadDefaultNode { index: 2, count: 2 })
        ));
    }

    #[test]
    fn metadata_has_astras_shape() {
        let value = metadata_json(&config(), 29042);
        assert_eq!(value["version"], 1);
        assert_eq!(value["region"], "datacenter1");
        assert_eq!(value["contact_info"]["type"], "sni_proxy");
        assert_eq!(value["contact_info"]["local_dc"], "datacenter1");
        assert_eq!(value["contact_info"]["contact_points"], json!([NODE_A, NODE_B]));
        assert_eq!(value["contact_info"]["sni_proxy_address"], "localhost:29042");
    }

    #[test]
    fn metadata_requests_are_routed_by_path() {
        let body = b"{}";
        let ok = respond(b"GET /metadata HTTP/1.1\r\nHost: localhost:29080", body);
        assert_eq!((ok.status, ok.content_type), (200, "application/json"));
        assert_eq!(respond(b"GET /metadata?version=1 HTTP/1.1", body).status, 200);
        let head = respond(b"HEAD /metadata HTTP/1.1", body);
        assert!(head.head_only && !head.to_bytes().ends_with(b"{}"));
        assert_eq!(respond(b"GET /other HTTP/1.1", body).status, 404);
        assert_eq!(respond(b"GET /metadata/x HTTP/1.1", body).status, 404);
        let post = respond(b"POST /metadata HTTP/1.1", body);
        assert_eq!((post.status, post.allow), (405, Some("GET, HEAD")));
        assert_eq!(respond(b"garbage", body).status, 400);
        assert_eq!(respond(b"GET /metadata SPDY/3", body).status, 400);
    }

    #[test]
    fn answers_close_the_connection_and_state_their_length() {
        let bytes = respond(b"GET /metadata HTTP/1.1", b"{\"a\":1}").to_bytes();
        let text = String::from_utf8_lossy(&bytes);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
        assert!(
            text.contains("\r\nContent-Length: 7\r\n") && text.contains("\r\nConnection: close\r\n"),
            "{text}"
        );
        assert!(text.ends_with("\r\n\r\n{\"a\":1}"), "{text}");
    }

    #[test]
    fn head_end_accepts_crlf_and_bare_lf() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody"), Some(20));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\n"), Some(14));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\n"), None);
    }
}

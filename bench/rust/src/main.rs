//! astra-bench: the Rust side of `scripts/bench` (not a sample). It reads the same rows through
//! every interface with the crates and `common` code the samples use, and measures the floor of a
//! connect: the bundle's metadata request and one CQL login through the proxy.
//!
//! ```text
//! astra-bench setup                          # the table `bench` and the collection `benchdocs`, 1,000 rows each
//! astra-bench floor --rounds 5               # metadata request, TLS, one login (proxy and Cassandra)
//! astra-bench cql --reads 10000 --concurrency 64
//! astra-bench rest|docs|grpc|graphql --reads 1000 --concurrency 32
//! ```
//!
//! Each command prints one JSON line on stdout; `bench/python/harness.py` collects them.
//! Settings: the samples' variables (`scripts/astra-local env` for the local stack).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail, ensure};
use clap::{Parser, Subcommand};
use common::bundle::SecureConnectBundle;
use common::{Token, endpoints, http, metadata, settings};
use futures::StreamExt;
use reqwest::Method;
use rustls::RootCertStore;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::TranslationError;
use scylla::policies::address_translator::{AddressTranslator, UntranslatedPeer};
use serde_json::{Value as Json, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

#[allow(dead_code, clippy::all)] // generated; the API is larger than the bench uses
mod proto {
    pub mod stargate {
        tonic::include_proto!("stargate");
    }
    pub mod google {
        pub mod rpc {
            tonic::include_proto!("google.rpc");
        }
    }
}
use proto::stargate as pb;

const TIMEOUT: Duration = Duration::from_secs(30);
/// The table every interface reads (CQL, REST, gRPC, GraphQL): `id int PRIMARY KEY, title text, done boolean`.
/// No underscores, so the GraphQL field name is the table name.
const TABLE: &str = "bench";
/// The Document API collection: documents `doc-{id}` with the same fields.
const COLLECTION: &str = "benchdocs";

#[derive(Parser)]
#[command(about = "The Rust side of scripts/bench: one JSON line per command on stdout.")]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create and fill the table `bench` and the collection `benchdocs` (idempotent).
    Setup {
        #[arg(long, default_value_t = 1000)]
        rows: i32,
    },
    /// Time the connect floor: the bundle's metadata request, the TLS handshake with the proxy, one
    /// CQL login through the proxy, and one login straight to Cassandra (no TLS).
    Floor {
        #[arg(long, default_value_t = 5)]
        rounds: u32,
    },
    /// Prepared-statement reads over CQL (scylla, through the bundle and proxy).
    Cql(Load),
    /// Row reads through the REST API v2 (`GET /v2/keyspaces/{ks}/bench/{id}`).
    Rest(Load),
    /// Document reads through the Document API v2 (`GET …/collections/benchdocs/doc-{id}`).
    Docs(Load),
    /// Row reads through Stargate's gRPC API (`ExecuteQuery` with a bound id).
    Grpc(Load),
    /// Row reads through the GraphQL API (`POST /graphql/{ks}`, query `bench(value: {id})`).
    Graphql(Load),
}

#[derive(clap::Args)]
struct Load {
    #[arg(long, default_value_t = 1000)]
    reads: u32,
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// How many rows `setup` wrote; read ids cycle through 0..rows.
    #[arg(long, default_value_t = 1000)]
    rows: i32,
}

#[tokio::main]
async fn main() -> ExitCode {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let args = Args::parse();
    match run(args.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    settings::load_dotenv()?;
    let keyspace = settings::required(settings::ASTRA_DB_KEYSPACE)?;
    match command {
        Command::Setup { rows } => setup(&keyspace, rows).await,
        Command::Floor { rounds } => floor(rounds).await,
        Command::Cql(load) => {
            let started = Instant::now();
            let session = Arc::new(connect_cql().await?);
            let cql = format!("SELECT id, title, done FROM {keyspace}.{TABLE} WHERE id = ?");
            let prepared = Arc::new(session.prepare(cql).await?);
            let connect = started.elapsed();
            let read = move |id: i32| {
                let (session, prepared) = (session.clone(), prepared.clone());
                async move {
                    let rows = session.execute_unpaged(&prepared, (id,)).await?.into_rows_result()?;
                    let (got, _title, _done) = rows.first_row::<(i32, String, bool)>()?;
                    ensure!(got == id, "asked for row {id}, got {got}");
                    Ok(())
                }
            };
            report("cql", &load, connect, drive(&load, read).await?);
            Ok(())
        }
        Command::Rest(load) => {
            let api = HttpApi::new()?;
            let base = format!("/v2/keyspaces/{keyspace}/{TABLE}");
            let read = move |id: i32| {
                let (api, path) = (api.clone(), format!("{base}/{id}"));
                async move {
                    let body = api.call(Method::GET, &path, None).await?;
                    ensure!(body["data"][0]["id"] == json!(id), "asked for row {id}, got {body}");
                    Ok(())
                }
            };
            report("rest", &load, Duration::ZERO, drive(&load, read).await?);
            Ok(())
        }
        Command::Docs(load) => {
            let api = HttpApi::new()?;
            let base = format!("/v2/namespaces/{keyspace}/collections/{COLLECTION}");
            let read = move |id: i32| {
                let (api, path) = (api.clone(), format!("{base}/doc-{id}"));
                async move {
                    let body = api.call(Method::GET, &path, None).await?;
                    ensure!(body["data"]["id"] == json!(id), "asked for document {id}, got {body}");
                    Ok(())
                }
            };
            report("docs", &load, Duration::ZERO, drive(&load, read).await?);
            Ok(())
        }
        Command::Grpc(load) => {
            let started = Instant::now();
            let client = connect_grpc().await?;
            let connect = started.elapsed();
            let cql = format!("SELECT id, title, done FROM {keyspace}.{TABLE} WHERE id = ?");
            let read = move |id: i32| {
                let (mut client, cql) = (client.clone(), cql.clone());
                async move {
                    let query = pb::Query {
                        cql,
                        values: Some(pb::Values {
                            values: vec![pb::Value {
                                inner: Some(pb::value::Inner::Int(id.into())),
                            }],
                            value_names: Vec::new(),
                        }),
                        parameters: None,
                    };
                    let response = client.execute_query(query).await?.into_inner();
                    let Some(pb::response::Result::ResultSet(rows)) = response.result else {
                        bail!("row {id}: expected rows");
                    };
                    let first = rows
                        .rows
                        .first()
                        .and_then(|r| r.values.first())
                        .and_then(|v| v.inner.clone());
                    ensure!(
                        first == Some(pb::value::Inner::Int(id.into())),
                        "asked for row {id}, got {first:?}"
                    );
                    Ok(())
                }
            };
            report("grpc", &load, connect, drive(&load, read).await?);
            Ok(())
        }
        Command::Graphql(load) => {
            let api = HttpApi::graphql()?;
            let path = format!("/graphql/{keyspace}");
            let read = move |id: i32| {
                let (api, path) = (api.clone(), path.clone());
                async move {
                    let query = json!({
                        "query": format!("query Read($id: Int) {{ {TABLE}(value: {{id: $id}}) {{ values {{ id title done }} }} }}"),
                        "variables": {"id": id},
                    });
                    let body = api.call(Method::POST, &path, Some(query)).await?;
                    let got = &body["data"][TABLE]["values"][0]["id"];
                    ensure!(*got == json!(id), "asked for row {id}, got {body}");
                    Ok(())
                }
            };
            report("graphql", &load, Duration::ZERO, drive(&load, read).await?);
            Ok(())
        }
    }
}

// ---- Driving the reads -------------------------------------------------------------------------

struct Outcome {
    elapsed: Duration,
    /// Each read's latency in microseconds, sorted.
    latencies: Vec<u64>,
}

/// Runs `load.reads` reads, at most `load.concurrency` at a time; ids cycle through the rows.
async fn drive<F, Fut>(load: &Load, read: F) -> anyhow::Result<Outcome>
where
    F: Fn(i32) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    ensure!(
        load.concurrency > 0 && load.rows > 0,
        "--concurrency and --rows must be at least 1"
    );
    let started = Instant::now();
    let rows = load.rows;
    let mut latencies: Vec<u64> = futures::stream::iter(0..load.reads)
        .map(|n| {
            let future = read((n % rows as u32) as i32);
            async move {
                let start = Instant::now();
                future.await?;
                Ok::<_, anyhow::Error>(start.elapsed().as_micros() as u64)
            }
        })
        .buffer_unordered(load.concurrency)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<_>>()?;
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    Ok(Outcome { elapsed, latencies })
}

fn percentile(sorted: &[u64], p: usize) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = (sorted.len() * p / 100).min(sorted.len() - 1);
    sorted[index] as f64 / 1000.0
}

fn report(interface: &str, load: &Load, connect: Duration, outcome: Outcome) {
    let line = json!({
        "interface": interface,
        "client": "rust",
        "reads": load.reads,
        "concurrency": load.concurrency,
        "connect_ms": connect.as_secs_f64() * 1000.0,
        "elapsed_s": outcome.elapsed.as_secs_f64(),
        "ops_per_s": f64::from(load.reads) / outcome.elapsed.as_secs_f64(),
        "p50_ms": percentile(&outcome.latencies, 50),
        "p99_ms": percentile(&outcome.latencies, 99),
    });
    println!("{line}");
}

// ---- HTTP (REST, Documents, GraphQL) -----------------------------------------------------------

/// The samples' HTTP client (`common::http`: timeouts, bounded retries, one-line errors) with the
/// token in `X-Cassandra-Token`. Clones share one connection pool.
#[derive(Clone)]
struct HttpApi {
    client: reqwest::Client,
    base: reqwest::Url,
    token: Arc<Token>,
}

impl HttpApi {
    fn new() -> anyhow::Result<Self> {
        Self::with_base(endpoints::rest_url()?)
    }

    fn graphql() -> anyhow::Result<Self> {
        Self::with_base(endpoints::graphql_url()?)
    }

    fn with_base(base: reqwest::Url) -> anyhow::Result<Self> {
        Ok(Self {
            client: http::client("astra-bench")?,
            base,
            token: Arc::new(settings::token(settings::ASTRA_DB_APPLICATION_TOKEN)?),
        })
    }

    async fn call(&self, method: Method, path: &str, body: Option<Json>) -> anyhow::Result<Json> {
        let mut request = self
            .client
            .request(method, endpoints::join(&self.base, path))
            .header("X-Cassandra-Token", self.token.expose());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = http::send_checked(request).await?;
        // Some calls answer with an empty body (creating a collection: 201, nothing else).
        let body = response.bytes().await?;
        if body.is_empty() {
            return Ok(Json::Null);
        }
        Ok(serde_json::from_slice(&body)?)
    }
}

// ---- gRPC --------------------------------------------------------------------------------------

type GrpcClient = pb::stargate_client::StargateClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, TokenInterceptor>,
>;

#[derive(Clone)]
struct TokenInterceptor(tonic::metadata::AsciiMetadataValue);

impl tonic::service::Interceptor for TokenInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert("x-cassandra-token", self.0.clone());
        Ok(request)
    }
}

/// One HTTP/2 connection (plaintext, as the local gateway serves it), the token on every call.
async fn connect_grpc() -> anyhow::Result<GrpcClient> {
    let endpoint = endpoints::grpc_endpoint()?;
    let uri = endpoint.as_str().trim_end_matches('/').to_owned();
    let channel = tonic::transport::Endpoint::from_shared(uri.clone())?
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .with_context(|| format!("cannot connect to {uri}"))?;
    let token = settings::token(settings::ASTRA_DB_APPLICATION_TOKEN)?;
    let mut value = tonic::metadata::MetadataValue::try_from(token.expose())?;
    value.set_sensitive(true);
    Ok(pb::stargate_client::StargateClient::with_interceptor(
        channel,
        TokenInterceptor(value),
    ))
}

// ---- CQL through the bundle (as sample-cql connects) -------------------------------------------

fn bundle() -> anyhow::Result<SecureConnectBundle> {
    let path = settings::optional_file(settings::ASTRA_DB_SECURE_BUNDLE_PATH)?
        .context("ASTRA_DB_SECURE_BUNDLE_PATH is not set: run through scripts/bench")?;
    Ok(SecureConnectBundle::open(&path)?)
}

async fn proxy_address(bundle: &SecureConnectBundle) -> anyhow::Result<(String, SocketAddr)> {
    let meta = metadata::fetch(bundle, TIMEOUT).await?;
    let host_port = meta.contact_info.sni_proxy_address;
    let addr = tokio::net::lookup_host(&host_port)
        .await?
        .next()
        .with_context(|| format!("{host_port} resolves to no address"))?;
    Ok((meta.contact_info.local_dc, addr))
}

async fn connect_cql() -> anyhow::Result<Session> {
    let bundle = bundle()?;
    let token = settings::token(settings::ASTRA_DB_APPLICATION_TOKEN)?;
    let (local_dc, proxy) = proxy_address(&bundle).await?;
    let session = SessionBuilder::new()
        .known_node_addr(proxy)
        .address_translator(Arc::new(ThroughProxy(proxy)))
        .tls_context(Some(Arc::new(tls_config(&bundle, true)?)))
        .user("token", token.expose())
        .prefer_datacenter(local_dc)
        .build()
        .await
        .context("cannot open a CQL session through the proxy")?;
    Ok(session)
}

/// sample-cql's TLS: only the bundle's CA, its client certificate, and the bundle's host name
/// checked in place of the node address the driver asks for (`bundle_host`).
fn tls_config(bundle: &SecureConnectBundle, bundle_host: bool) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    for ca in bundle.ca_certs().map_err(anyhow::Error::msg)? {
        roots.add(ca)?;
    }
    let inner = WebPkiServerVerifier::builder(Arc::new(roots)).build()?;
    let builder = if bundle_host {
        let host = ServerName::try_from(bundle.config.host.clone())?;
        rustls::ClientConfig::builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(BundleHostVerifier { inner, host }))
    } else {
        rustls::ClientConfig::builder().with_webpki_verifier(inner)
    };
    let key = bundle.client_key().map_err(anyhow::Error::msg)?;
    let chain = bundle.client_cert_chain().map_err(anyhow::Error::msg)?;
    Ok(builder.with_client_auth_cert(chain, key)?)
}

#[derive(Debug)]
struct BundleHostVerifier {
    inner: Arc<WebPkiServerVerifier>,
    host: ServerName<'static>,
}

impl ServerCertVerifier for BundleHostVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _requested_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.inner
            .verify_server_cert(end_entity, intermediates, &self.host, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

struct ThroughProxy(SocketAddr);

#[async_trait::async_trait]
impl AddressTranslator for ThroughProxy {
    async fn translate_address(&self, _peer: &UntranslatedPeer) -> Result<SocketAddr, TranslationError> {
        Ok(self.0)
    }
}

// ---- setup -------------------------------------------------------------------------------------

async fn setup(keyspace: &str, rows: i32) -> anyhow::Result<()> {
    let session = connect_cql().await?;
    session
        .query_unpaged(
            format!("CREATE TABLE IF NOT EXISTS {keyspace}.{TABLE} (id int PRIMARY KEY, title text, done boolean)"),
            &[],
        )
        .await?;
    session.await_schema_agreement().await?;
    let insert = session
        .prepare(format!(
            "INSERT INTO {keyspace}.{TABLE} (id, title, done) VALUES (?, ?, ?)"
        ))
        .await?;
    let (session, insert) = (&session, &insert);
    futures::stream::iter(0..rows)
        .map(|id| async move { session.execute_unpaged(insert, (id, title(id), id % 2 == 0)).await })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;

    let api = HttpApi::new()?;
    let collections = api
        .call(Method::GET, &format!("/v2/namespaces/{keyspace}/collections"), None)
        .await?;
    let exists = collections["data"]
        .as_array()
        .is_some_and(|all| all.iter().any(|c| c["name"] == COLLECTION));
    if !exists {
        let body = json!({ "name": COLLECTION });
        api.call(
            Method::POST,
            &format!("/v2/namespaces/{keyspace}/collections"),
            Some(body),
        )
        .await?;
    }
    let base = format!("/v2/namespaces/{keyspace}/collections/{COLLECTION}");
    let api = &api;
    futures::stream::iter(0..rows)
        .map(|id| {
            let path = format!("{base}/doc-{id}");
            async move {
                let doc = json!({ "id": id, "title": title(id), "done": id % 2 == 0 });
                api.call(Method::PUT, &path, Some(doc)).await
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect::<anyhow::Result<Vec<_>>>()?;
    println!(
        "{}",
        json!({ "setup": "ok", "rows": rows, "table": TABLE, "collection": COLLECTION })
    );
    Ok(())
}

fn title(id: i32) -> String {
    format!("row {id}")
}

// ---- the connect floor -------------------------------------------------------------------------

/// What a connect costs the server at least: the metadata request, the proxy's TLS handshake and
/// one login (Cassandra checks the password with bcrypt), each timed on its own, plus one login
/// straight to Cassandra without TLS (the bcrypt check alone, nearly).
async fn floor(rounds: u32) -> anyhow::Result<()> {
    let bundle = bundle()?;
    let token = settings::token(settings::ASTRA_DB_APPLICATION_TOKEN)?;
    let tls = tokio_rustls::TlsConnector::from(Arc::new(tls_config(&bundle, false)?));
    let host = ServerName::try_from(bundle.config.host.clone())?;
    let direct = settings::required(settings::CASSANDRA_CONTACT_POINT)?;
    let direct_user = settings::required(settings::CASSANDRA_USERNAME)?;
    let direct_password = settings::token(settings::CASSANDRA_PASSWORD)?;
    let (mut metadata_ms, mut tls_ms, mut login_ms, mut direct_ms) = (vec![], vec![], vec![], vec![]);
    for _ in 0..rounds {
        let started = Instant::now();
        let (_, proxy) = proxy_address(&bundle).await?;
        metadata_ms.push(started.elapsed().as_secs_f64() * 1000.0);

        let started = Instant::now();
        let tcp = tokio::net::TcpStream::connect(proxy).await?;
        tcp.set_nodelay(true)?;
        let mut stream = tls.connect(host.clone(), tcp).await.context("TLS with the proxy")?;
        tls_ms.push(started.elapsed().as_secs_f64() * 1000.0);
        let started = Instant::now();
        login(&mut stream, "token", token.expose())
            .await
            .context("login through the proxy")?;
        login_ms.push(started.elapsed().as_secs_f64() * 1000.0);

        let mut tcp = tokio::net::TcpStream::connect(&direct).await?;
        tcp.set_nodelay(true)?;
        let started = Instant::now();
        login(&mut tcp, &direct_user, direct_password.expose())
            .await
            .context("login to Cassandra")?;
        direct_ms.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let line = json!({
        "floor": {
            "rounds": rounds,
            "metadata_ms": median(&mut metadata_ms),
            "proxy_tls_ms": median(&mut tls_ms),
            "proxy_login_ms": median(&mut login_ms),
            "cassandra_login_ms": median(&mut direct_ms),
        }
    });
    println!("{line}");
    Ok(())
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// The CQL native protocol v4 handshake: STARTUP, then the password authenticator's
/// AUTH_RESPONSE (`\0user\0password`), until AUTH_SUCCESS.
async fn login<S: AsyncRead + AsyncWrite + Unpin>(stream: &mut S, user: &str, password: &str) -> anyhow::Result<()> {
    let mut startup = 1u16.to_be_bytes().to_vec();
    for s in ["CQL_VERSION", "3.0.0"] {
        startup.extend_from_slice(&(s.len() as u16).to_be_bytes());
        startup.extend_from_slice(s.as_bytes());
    }
    write_frame(stream, 0x01, &startup).await?;
    match read_frame(stream).await? {
        (0x03, _) => {}
        (0x02, _) => bail!("the server asked for no login"),
        (op, body) => bail!("unexpected answer to STARTUP: {}", describe_frame(op, &body)),
    }
    let credentials = [b"\0", user.as_bytes(), b"\0", password.as_bytes()].concat();
    let mut response = (credentials.len() as i32).to_be_bytes().to_vec();
    response.extend_from_slice(&credentials);
    write_frame(stream, 0x0F, &response).await?;
    match read_frame(stream).await? {
        (0x10, _) => Ok(()),
        (op, body) => bail!("login refused: {}", describe_frame(op, &body)),
    }
}

async fn write_frame<S: AsyncWrite + Unpin>(stream: &mut S, opcode: u8, body: &[u8]) -> anyhow::Result<()> {
    let mut frame = vec![0x04, 0, 0, 0, opcode];
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(body);
    stream.write_all(&frame).await?;
    stream.flush().await?;
    Ok(())
}

async fn read_frame<S: AsyncRead + Unpin>(stream: &mut S) -> anyhow::Result<(u8, Vec<u8>)> {
    let mut header = [0u8; 9];
    tokio::time::timeout(TIMEOUT, stream.read_exact(&mut header))
        .await
        .map_err(|_| anyhow!("no answer within {TIMEOUT:?}"))??;
    let length = u32::from_be_bytes([header[5], header[6], header[7], header[8]]) as usize;
    ensure!(length < 1 << 20, "frame of {length} bytes");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await?;
    Ok((header[4], body))
}

fn describe_frame(opcode: u8, body: &[u8]) -> String {
    if opcode == 0 && body.len() >= 6 {
        let len = u16::from_be_bytes([body[4], body[5]]) as usize;
        let message = body.get(6..6 + len).map(String::from_utf8_lossy).unwrap_or_default();
        return format!("ERROR {message}");
    }
    format!("opcode {opcode:#04x}")
}

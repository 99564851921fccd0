//! The front door against the clients' side of Astra's contract: the metadata service read through
//! `common::metadata::fetch` and a bundle from `write_bundle`, SNI routing to stand-in nodes (echo
//! servers that prefix their answers with their name), and refusals that fail fast with a TLS alert.

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use astra_local::front_door::{FrontDoor, FrontDoorConfig, FrontDoorError, Node, write_bundle};
use astra_local::pki::{self, Pki};
use common::bundle::SecureConnectBundle;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{AlertDescription, ClientConfig, DigitallySignedStruct, SignatureScheme};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use uuid::Uuid;

/// A refusal must reach the client well within this (drivers time out after 5 s).
const FAST: Duration = Duration::from_secs(2);
/// Bounds every client operation in these tests, so a hang fails as a timeout instead of blocking.
const BOUND: Duration = Duration::from_secs(8);

// ---------------------------------------------------------------------------------------------
// Scaffolding: one PKI per test process, two stand-in nodes, a running front door, TLS clients.
// ---------------------------------------------------------------------------------------------

/// The stack's certificates, made once for the whole test binary (RSA key generation is the slow part).
fn stack_pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        // `Pki` keeps everything in memory, so the directory may go once it is loaded.
        let dir = tempfile::tempdir().expect("a temporary directory");
        Pki::ensure(&dir.path().join("certs")).expect("the stack's certificates")
    })
}

/// A stand-in for a Cassandra node: answers every read with `<name>:<bytes read>`.
async fn echo_node(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind an echo node");
    let addr = listener.local_addr().expect("the echo node's address");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n @ 1..) = stream.read(&mut buf).await {
                    let mut reply = format!("{name}:").into_bytes();
                    reply.extend_from_slice(&buf[..n]);
                    if stream.write_all(&reply).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

struct Stack {
    cql: SocketAddr,
    metadata: SocketAddr,
    node_a: Uuid,
    node_b: Uuid,
}

/// A front door on free ports in front of two echo nodes; node A is the default.
async fn start_stack() -> Stack {
    let (node_a, node_b) = (Uuid::new_v4(), Uuid::new_v4());
    let mut config = FrontDoorConfig::new(vec![
        Node {
            host_id: node_a,
            address: echo_node("node-a").await,
        },
        Node {
            host_id: node_b,
            address: echo_node("node-b").await,
        },
    ]);
    config.cql_listen = "127.0.0.1:0".parse().expect("an address");
    config.metadata_listen = "127.0.0.1:0".parse().expect("an address");
    let door = FrontDoor::bind(config, stack_pki())
        .await
        .expect("the front door binds");
    let stack = Stack {
        cql: door.cql_addr(),
        metadata: door.metadata_addr(),
        node_a,
        node_b,
    };
    tokio::spawn(door.run());
    stack
}

/// Which client certificate a test client presents.
#[derive(Clone, Copy)]
enum Identity {
    /// The stack's client certificate, as in a bundle.
    Stack,
    /// None at all.
    Missing,
    /// One from another CA (with the same names as the stack's).
    Foreign,
}

/// A client configured like the drivers: it trusts only the bundle CA and checks the server
/// certificate against the bundle host (`localhost`), whatever SNI it sends (a host id is no name in
/// the certificate). `tls12_only` stands in for the C++ driver, which caps TLS at 1.2.
fn client_config(identity: Identity, tls12_only: bool) -> Arc<ClientConfig> {
    let pki = stack_pki();
    let provider = pki::crypto_provider();
    let roots = Arc::new(pki.root_store().expect("the stack's root store"));
    let webpki = WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
        .build()
        .expect("a verifier");
    let builder = ClientConfig::builder_with_provider(provider);
    let builder = if tls12_only {
        builder.with_protocol_versions(&[&rustls::version::TLS12])
    } else {
        builder.with_safe_default_protocol_versions()
    }
    .expect("protocol versions")
    .dangerous()
    .with_custom_certificate_verifier(Arc::new(BundleHostVerifier(webpki)));
    let config = match identity {
        Identity::Stack => builder.with_client_auth_cert(
            vec![CertificateDer::from_pem_str(pki.client_cert_pem())],
            PrivateKeyDer::from_pem_str(pki.client_key_pem()),
        ),
        Identity::Missing => Ok(builder.with_no_client_auth()),
        Identity::Foreign => {
            let (cert, key) = foreign_client_identity();
            builder.with_client_auth_cert(vec![cert], key)
        }
    };
    Arc::new(config.expect("a client configuration"))
}

/// Verifies the chain to the bundle CA and the name `localhost`, ignoring the name the client asked for.
#[derive(Debug)]
struct BundleHostVerifier(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for BundleHostVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.0
            .verify_server_cert(end_entity, intermediates, &dns("localhost"), ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Parses PEM in tests, where the stack wrote the text a moment ago.
trait FromPemStr: Sized {
    fn from_pem_str(pem: &str) -> Self;
}

impl FromPemStr for CertificateDer<'static> {
    fn from_pem_str(pem: &str) -> Self {
        rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).expect("a PEM certificate")
    }
}

impl FromPemStr for PrivateKeyDer<'static> {
    fn from_pem_str(pem: &str) -> Self {
        rustls::pki_types::pem::PemObject::from_pem_slice(pem.as_bytes()).expect("a PEM key")
    }
}

/// A client certificate and key from a CA the stack has never seen, named exactly like the stack's.
fn foreign_client_identity() -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
    let mut ca_params = CertificateParams::default();
    ca_params.distinguished_name.push(DnType::CommonName, "astra-local CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().expect("a foreign CA key");
    let ca = CertifiedIssuer::self_signed(ca_params, ca_key).expect("a foreign CA");
    let mut params = CertificateParams::default();
    params.distinguished_name.push(DnType::CommonName, "astra-local client");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let key = KeyPair::generate().expect("a foreign client key");
    let cert = params.signed_by(&key, &ca).expect("a foreign client certificate");
    (cert.der().clone(), PrivateKeyDer::Pkcs8(key.serialize_der().into()))
}

async fn connect(
    addr: SocketAddr,
    name: ServerName<'static>,
    config: Arc<ClientConfig>,
) -> io::Result<TlsStream<TcpStream>> {
    let tcp = TcpStream::connect(addr).await?;
    TlsConnector::from(config).connect(name, tcp).await
}

/// Connects, sends `message` and returns the first answer.
async fn exchange(
    addr: SocketAddr,
    name: ServerName<'static>,
    config: Arc<ClientConfig>,
    message: &str,
) -> io::Result<String> {
    let mut tls = connect(addr, name, config).await?;
    tls.write_all(message.as_bytes()).await?;
    let mut buf = vec![0u8; 1024];
    let n = tls.read(&mut buf).await?;
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "closed without an answer"));
    }
    Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// Sends one HTTP request and reads the answer to the end (the server closes after answering).
async fn http(
    addr: SocketAddr,
    name: ServerName<'static>,
    config: Arc<ClientConfig>,
    target: &str,
) -> io::Result<String> {
    let mut tls = connect(addr, name, config).await?;
    let request = format!("GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await?;
    let mut answer = Vec::new();
    tls.read_to_end(&mut answer).await?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// Runs `f` within [`BOUND`] and reports how long it took; a hang becomes a `TimedOut` error.
async fn timed<T>(f: impl Future<Output = io::Result<T>>) -> (io::Result<T>, Duration) {
    let started = Instant::now();
    let result = match tokio::time::timeout(BOUND, f).await {
        Ok(result) => result,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "no answer within the test bound",
        )),
    };
    (result, started.elapsed())
}

/// The TLS alert a client received, if that is what the error is.
fn alert(error: &io::Error) -> Option<AlertDescription> {
    match error.get_ref()?.downcast_ref::<rustls::Error>()? {
        rustls::Error::AlertReceived(alert) => Some(*alert),
        _ => None,
    }
}

fn dns(name: &str) -> ServerName<'static> {
    ServerName::try_from(name.to_owned()).expect("a valid DNS name")
}

fn ip_127() -> ServerName<'static> {
    ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())
}

/// Asserts that a refused client learnt why from an alert, fast.
fn assert_refused_with_alert<T: std::fmt::Debug>(
    what: &str,
    (result, took): (io::Result<T>, Duration),
    expected: &[AlertDescription],
) {
    let error = result.expect_err(what);
    let received = alert(&error);
    eprintln!("{what}: refused in {took:?} with {error} (alert {received:?})");
    assert!(took < FAST, "{what}: took {took:?}");
    assert!(
        received.is_some_and(|a| expected.contains(&a)),
        "{what}: expected one of the alerts {expected:?}, got {error:?}"
    );
}

/// What a client with a foreign certificate may be told. The foreign CA carries the stack CA's name,
/// so the server finds the stack's CA as the issuer, and the signature check fails: rustls reports a
/// bad signature as `decrypt_error`. A foreign CA with another name would get `unknown_ca`.
const FOREIGN_CERT_ALERTS: &[AlertDescription] = &[
    AlertDescription::DecryptError,
    AlertDescription::UnknownCA,
    AlertDescription::BadCertificate,
];

// ---------------------------------------------------------------------------------------------
// Metadata service
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn metadata_via_common_fetch_has_astras_shape() {
    let stack = start_stack().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("scb.zip");
    write_bundle(
        &path,
        stack_pki(),
        "localhost",
        stack.metadata.port(),
        stack.cql.port(),
        "default_keyspace",
        "datacenter1",
    )
    .expect("the bundle is written");
    let bundle = SecureConnectBundle::open(&path).expect("the bundle opens");

    let started = Instant::now();
    let metadata = common::metadata::fetch(&bundle, Duration::from_secs(5))
        .await
        .expect("metadata");
    eprintln!("metadata fetched in {:?}", started.elapsed());

    assert_eq!(metadata.version, Some(1));
    assert_eq!(metadata.region.as_deref(), Some("datacenter1"));
    let contact = &metadata.contact_info;
    assert_eq!(contact.kind.as_deref(), Some("sni_proxy"));
    assert_eq!(contact.local_dc, "datacenter1");
    assert_eq!(
        contact.contact_points,
        vec![stack.node_a.to_string(), stack.node_b.to_string()]
    );
    assert_eq!(contact.sni_proxy_address, format!("localhost:{}", stack.cql.port()));
}

#[tokio::test]
async fn metadata_answers_json_with_any_query_string_and_closes() {
    let stack = start_stack().await;
    let (answer, _) = timed(http(
        stack.metadata,
        dns("localhost"),
        client_config(Identity::Stack, false),
        "/metadata?version=1",
    ))
    .await;
    let answer = answer.expect("an answer");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains("\r\nContent-Type: application/json\r\n"), "{head}");
    assert!(head.contains("\r\nConnection: close"), "{head}");
    let json: serde_json::Value = serde_json::from_str(body).expect("a JSON body");
    assert_eq!(json["contact_info"]["contact_points"][1], stack.node_b.to_string());
}

#[tokio::test]
async fn metadata_other_paths_are_404() {
    let stack = start_stack().await;
    let (answer, _) = timed(http(
        stack.metadata,
        dns("localhost"),
        client_config(Identity::Stack, false),
        "/other",
    ))
    .await;
    let answer = answer.expect("an answer");
    assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"), "{answer}");
}

#[tokio::test]
async fn metadata_without_client_certificate_fails_fast() {
    let stack = start_stack().await;
    let config = client_config(Identity::Missing, false);
    let outcome = timed(http(stack.metadata, dns("localhost"), config, "/metadata")).await;
    assert_refused_with_alert(
        "metadata without a client certificate",
        outcome,
        &[AlertDescription::CertificateRequired],
    );
}

#[tokio::test]
async fn metadata_with_foreign_client_certificate_fails_fast() {
    let stack = start_stack().await;
    let config = client_config(Identity::Foreign, false);
    let outcome = timed(http(stack.metadata, dns("localhost"), config, "/metadata")).await;
    assert_refused_with_alert(
        "metadata with a foreign client certificate",
        outcome,
        FOREIGN_CERT_ALERTS,
    );
}

// ---------------------------------------------------------------------------------------------
// SNI proxy: routing
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn sni_host_id_routes_to_that_node() {
    let stack = start_stack().await;
    let config = client_config(Identity::Stack, false);
    let to_b = exchange(stack.cql, dns(&stack.node_b.to_string()), config.clone(), "hello").await;
    assert_eq!(to_b.expect("node B answers"), "node-b:hello");
    let to_a = exchange(stack.cql, dns(&stack.node_a.to_string()), config, "hello").await;
    assert_eq!(to_a.expect("node A answers"), "node-a:hello");
}

#[tokio::test]
async fn sni_host_id_in_capitals_routes_to_that_node() {
    let stack = start_stack().await;
    let name = dns(&stack.node_b.to_string().to_uppercase());
    let answer = exchange(stack.cql, name, client_config(Identity::Stack, false), "hi").await;
    assert_eq!(answer.expect("node B answers"), "node-b:hi");
}

#[tokio::test]
async fn no_sni_routes_to_the_default_node() {
    // rustls sends no SNI for an IP address, just as `scylla` connects to the proxy.
    let stack = start_stack().await;
    let answer = exchange(stack.cql, ip_127(), client_config(Identity::Stack, false), "hello").await;
    assert_eq!(answer.expect("the default node answers"), "node-a:hello");
}

#[tokio::test]
async fn bundle_host_sni_routes_to_the_default_node() {
    let stack = start_stack().await;
    let answer = exchange(
        stack.cql,
        dns("localhost"),
        client_config(Identity::Stack, false),
        "hello",
    )
    .await;
    assert_eq!(answer.expect("the default node answers"), "node-a:hello");
}

#[tokio::test]
async fn sni_proxy_works_over_tls_1_2() {
    // The C++ driver caps TLS at 1.2.
    let stack = start_stack().await;
    let answer = exchange(
        stack.cql,
        dns(&stack.node_b.to_string()),
        client_config(Identity::Stack, true),
        "v12",
    )
    .await;
    assert_eq!(answer.expect("node B answers"), "node-b:v12");
}

// ---------------------------------------------------------------------------------------------
// SNI proxy: refusals
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn unknown_sni_is_refused_with_unrecognized_name() {
    let stack = start_stack().await;
    for name in [Uuid::new_v4().to_string(), "other.example".to_owned()] {
        let outcome = timed(connect(stack.cql, dns(&name), client_config(Identity::Stack, false))).await;
        assert_refused_with_alert(
            &format!("unknown SNI {name}"),
            outcome,
            &[AlertDescription::UnrecognisedName],
        );
    }
}

#[tokio::test]
async fn cql_without_client_certificate_is_refused_fast() {
    let stack = start_stack().await;
    let node = dns(&stack.node_a.to_string());
    // TLS 1.3: the client's handshake completes; the alert arrives on its first read.
    let outcome = timed(exchange(
        stack.cql,
        node.clone(),
        client_config(Identity::Missing, false),
        "hello",
    ))
    .await;
    assert_refused_with_alert(
        "CQL without a client certificate (TLS 1.3)",
        outcome,
        &[AlertDescription::CertificateRequired],
    );
    // TLS 1.2: the handshake itself fails.
    let outcome = timed(connect(stack.cql, node, client_config(Identity::Missing, true))).await;
    assert_refused_with_alert(
        "CQL without a client certificate (TLS 1.2)",
        outcome,
        &[
            AlertDescription::CertificateRequired,
            AlertDescription::HandshakeFailure,
        ],
    );
}

#[tokio::test]
async fn cql_with_foreign_client_certificate_is_refused_fast() {
    let stack = start_stack().await;
    let node = dns(&stack.node_a.to_string());
    let expected = FOREIGN_CERT_ALERTS;
    let outcome = timed(exchange(
        stack.cql,
        node.clone(),
        client_config(Identity::Foreign, false),
        "hello",
    ))
    .await;
    assert_refused_with_alert("CQL with a foreign client certificate (TLS 1.3)", outcome, expected);
    let outcome = timed(connect(stack.cql, node, client_config(Identity::Foreign, true))).await;
    assert_refused_with_alert("CQL with a foreign client certificate (TLS 1.2)", outcome, expected);
}

#[tokio::test]
async fn plain_cql_on_the_proxy_port_is_refused_fast() {
    // A driver that forgot TLS sends a CQL frame; it must not hang.
    let stack = start_stack().await;
    let (result, took) = timed(async {
        let mut tcp = TcpStream::connect(stack.cql).await?;
        tcp.write_all(&[0x04, 0, 0, 1, 0x05, 0, 0, 0, 0]).await?;
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await?;
        Ok(answer)
    })
    .await;
    let answer = result.expect("the proxy answers and closes");
    eprintln!("plain CQL: closed in {took:?} after {answer:02x?}");
    assert!(took < FAST, "took {took:?}");
    assert_eq!(answer.first(), Some(&0x15), "a TLS alert record");
}

// ---------------------------------------------------------------------------------------------
// Certificates and bundle
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn server_certificate_verifies_for_localhost_and_127_0_0_1() {
    let stack = start_stack().await;
    // The plain WebPKI check of the name asked for, as `Pki::client_config` builds it.
    let config = Arc::new(stack_pki().client_config().expect("the stack's client configuration"));
    for name in [dns("localhost"), ip_127()] {
        let answer = http(stack.metadata, name.clone(), config.clone(), "/metadata").await;
        assert!(answer.expect("an answer").starts_with("HTTP/1.1 200"), "{name:?}");
    }
    let error = connect(stack.metadata, dns("frontdoor.invalid"), config)
        .await
        .expect_err("a name not in the SAN");
    let inner = error.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
    assert!(
        matches!(inner, Some(rustls::Error::InvalidCertificate(reason)) if format!("{reason:?}").contains("NotValidForName")),
        "{error:?}"
    );
}

#[test]
fn bundle_round_trips_through_common() {
    let pki = stack_pki();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("bundles").join("scb.zip");
    write_bundle(&path, pki, "localhost", 29080, 29042, "default_keyspace", "datacenter1").expect("written");
    // Written again over the first: the rename replaces it.
    write_bundle(&path, pki, "localhost", 29080, 29042, "default_keyspace", "datacenter1").expect("rewritten");

    let bundle = SecureConnectBundle::open(&path).expect("the bundle opens");
    assert_eq!(bundle.config.host, "localhost");
    assert_eq!(bundle.config.port, 29080);
    assert_eq!(bundle.config.keyspace.as_deref(), Some("default_keyspace"));
    assert_eq!(bundle.config.local_dc.as_deref(), Some("datacenter1"));
    assert_eq!(bundle.ca_pem(), pki.ca_cert_pem().as_bytes());
    assert!(String::from_utf8_lossy(&bundle.identity_pem()).contains("-----BEGIN PRIVATE KEY-----"));

    let mut zip = zip::ZipArchive::new(std::fs::File::open(&path).expect("open")).expect("a zip");
    let config: serde_json::Value =
        serde_json::from_reader(zip.by_name("config.json").expect("config.json")).expect("JSON");
    assert_eq!(config["cql_port"], 29042);
    assert_eq!(config["caCertLocation"], "./ca.crt");
    assert_eq!(config["certLocation"], "./cert");
    assert_eq!(config["keyLocation"], "./key");

    assert_eq!(mode(&path), 0o600);
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().expect("a parent"))
        .expect("list")
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary files left: {leftovers:?}");
}

#[test]
fn pki_is_made_once_then_reused_with_private_keys() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let certs = dir.path().join("certs");
    let started = Instant::now();
    let first = Pki::ensure(&certs).expect("made");
    eprintln!("PKI made in {:?}", started.elapsed());
    let started = Instant::now();
    let second = Pki::ensure(&certs).expect("loaded");
    eprintln!("PKI loaded in {:?}", started.elapsed());
    assert_eq!(first.ca_cert_pem(), second.ca_cert_pem());
    assert_eq!(first.client_key_pem(), second.client_key_pem());

    for key in [
        second.server_key_path(),
        second.client_key_path(),
        certs.join(pki::CA_KEY_FILE),
    ] {
        assert_eq!(mode(&key), 0o600, "{}", key.display());
        let pem = std::fs::read_to_string(&key).expect("a key file");
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----"),
            "PKCS#8 for Pulsar: {}",
            key.display()
        );
    }
    assert_eq!(mode(&certs) & 0o077, 0, "the directory is private");

    // A missing file means nothing can be trusted to match: everything is made again.
    std::fs::remove_file(second.server_key_path()).expect("remove");
    let third = Pki::ensure(&certs).expect("made again");
    assert_ne!(third.ca_cert_pem(), first.ca_cert_pem());
}

#[test]
fn pki_with_mismatched_files_is_refused_with_advice() {
    let one = tempfile::tempdir().expect("a temporary directory");
    let two = tempfile::tempdir().expect("a temporary directory");
    Pki::ensure(one.path()).expect("made");
    Pki::ensure(two.path()).expect("made");
    // A server certificate from another CA.
    std::fs::copy(
        two.path().join(pki::SERVER_CERT_FILE),
        one.path().join(pki::SERVER_CERT_FILE),
    )
    .expect("copy");
    let error = Pki::ensure(one.path()).expect_err("mismatched files");
    let message = error.to_string();
    assert!(
        message.contains("Delete") && message.contains(&one.path().display().to_string()),
        "{message}"
    );
}

#[tokio::test]
async fn a_busy_port_is_named_in_the_error() {
    let busy = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = busy.local_addr().expect("address").port();
    let mut config = FrontDoorConfig::new(vec![Node {
        host_id: Uuid::new_v4(),
        address: "127.0.0.1:9042".parse().expect("an address"),
    }]);
    config.cql_listen = busy.local_addr().expect("address");
    config.metadata_listen = "127.0.0.1:0".parse().expect("an address");
    let Err(error) = FrontDoor::bind(config, stack_pki()).await else {
        panic!("bound a busy port")
    };
    assert!(matches!(error, FrontDoorError::Bind { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("port {port}")) && message.contains("CQL SNI proxy"),
        "{message}"
    );
}

// ---------------------------------------------------------------------------------------------
// An independent client: Python's urllib, as the DataStax Python driver fetches metadata.
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn metadata_answers_python_urllib() {
    let Ok(python) = which_python() else {
        eprintln!("python3 not found; skipping the urllib check");
        return;
    };
    let stack = start_stack().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pki = stack_pki();
    for (name, pem) in [
        ("ca.crt", pki.ca_cert_pem()),
        ("cert", pki.client_cert_pem()),
        ("key", pki.client_key_pem()),
    ] {
        std::fs::write(dir.path().join(name), pem).expect("write a PEM file");
    }
    // The driver's way: a context trusting the bundle CA, with the bundle's certificate, no hostname check.
    let script = format!(
        "import json, ssl, urllib.request\n\
         ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n\
         ctx.load_verify_locations('{dir}/ca.crt')\n\
         ctx.load_cert_chain('{dir}/cert', '{dir}/key')\n\
         body = urllib.request.urlopen('https://localhost:{port}/metadata', context=ctx, timeout=5).read()\n\
         print(json.loads(body)['contact_info']['sni_proxy_address'])\n",
        dir = dir.path().display(),
        port = stack.metadata.port(),
    );
    let started = Instant::now();
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .output()
        .await
        .expect("run python3");
    eprintln!("urllib: {:?} in {:?}", output.status, started.elapsed());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        format!("localhost:{}", stack.cql.port())
    );
}

#[tokio::test]
async fn sni_proxy_answers_python_ssl_and_refusals_reach_it_as_alerts() {
    let Ok(python) = which_python() else {
        eprintln!("python3 not found; skipping the Python ssl check");
        return;
    };
    let stack = start_stack().await;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let pki = stack_pki();
    for (name, pem) in [
        ("ca.crt", pki.ca_cert_pem()),
        ("cert", pki.client_cert_pem()),
        ("key", pki.client_key_pem()),
    ] {
        std::fs::write(dir.path().join(name), pem).expect("write a PEM file");
    }
    // As the Python driver connects: chain checked, no hostname check, the host id as SNI.
    let script = format!(
        "import socket, ssl, time\n\
         def attempt(label, with_cert, sni):\n\
         \x20   ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)\n\
         \x20   ctx.check_hostname = False\n\
         \x20   ctx.load_verify_locations('{dir}/ca.crt')\n\
         \x20   if with_cert:\n\
         \x20       ctx.load_cert_chain('{dir}/cert', '{dir}/key')\n\
         \x20   started = time.monotonic()\n\
         \x20   try:\n\
         \x20       with ctx.wrap_socket(socket.create_connection(('127.0.0.1', {port}), timeout=5), server_hostname=sni) as s:\n\
         \x20           s.sendall(b'hello')\n\
         \x20           outcome = s.recv(100).decode()\n\
         \x20   except Exception as e:\n\
         \x20       outcome = f'{{type(e).__name__}}: {{e}}'\n\
         \x20   print(f'{{label}}|{{time.monotonic() - started:.3f}}|{{outcome}}')\n\
         attempt('routed', True, '{node_b}')\n\
         attempt('no-cert', False, '{node_b}')\n\
         attempt('unknown-sni', True, 'other.example')\n",
        dir = dir.path().display(),
        port = stack.cql.port(),
        node_b = stack.node_b,
    );
    let output = tokio::process::Command::new(python)
        .arg("-c")
        .arg(script)
        .output()
        .await
        .expect("run python3");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<(&str, f64, &str)> = stdout
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, '|');
            Some((parts.next()?, parts.next()?.parse().ok()?, parts.next()?))
        })
        .collect();
    eprintln!("Python ssl: {lines:?}");
    let outcome = |label: &str| lines.iter().find(|l| l.0 == label).map(|l| (l.1, l.2)).expect(label);
    assert_eq!(outcome("routed").1, "node-b:hello");
    let (took, error) = outcome("no-cert");
    assert!(
        took < FAST.as_secs_f64() && error.contains("CERTIFICATE_REQUIRED"),
        "{error} after {took} s"
    );
    let (took, error) = outcome("unknown-sni");
    assert!(
        took < FAST.as_secs_f64() && error.contains("UNRECOGNIZED_NAME"),
        "{error} after {took} s"
    );
}

fn which_python() -> Result<String, ()> {
    let found = std::process::Command::new("python3")
        .arg("-c")
        .arg("import ssl")
        .output();
    match found {
        Ok(output) if output.status.success() => Ok("python3".into()),
        _ => Err(()),
    }
}

fn mode(path: &std::path::Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

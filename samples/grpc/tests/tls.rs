//! The `https://` path (how Astra serves gRPC: TLS on 443, HTTP/2 chosen through ALPN), tried
//! locally: a TLS proxy with a certificate from a test CA forwards to the gateway's plaintext
//! gRPC port, and the sample trusts the test CA through `SSL_CERT_FILE` (read by the native root
//! store, as on any Linux machine). Run with `scripts/test`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};

const NEEDS_STACK: &str = "needs the local stack: run scripts/test";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: {NEEDS_STACK}"))
}

/// What the proxy saw of each TLS client: the server name it asked for and the protocol agreed.
type Handshakes = Arc<Mutex<Vec<(Option<String>, Option<Vec<u8>>)>>>;

struct TlsProxy {
    port: u16,
    ca_pem: String,
    handshakes: Handshakes,
}

/// Serves TLS for `localhost` (offering only HTTP/2) and forwards every connection to `target`.
async fn start_tls_proxy(target: String) -> TlsProxy {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();

    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Handshakes::default();
    let seen = handshakes.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (acceptor, target, seen) = (acceptor.clone(), target.clone(), seen.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(client).await else {
                    return;
                };
                let (_, session) = tls.get_ref();
                let handshake = (
                    session.server_name().map(str::to_owned),
                    session.alpn_protocol().map(<[u8]>::to_vec),
                );
                seen.lock().unwrap().push(handshake);
                let Ok(mut upstream) = TcpStream::connect(&target).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    TlsProxy {
        port,
        ca_pem: ca.pem(),
        handshakes,
    }
}

/// Runs the sample (off the async runtime, which keeps serving the proxy) with exactly `vars`.
async fn run_sample(vars: Vec<(&'static str, String)>) -> Output {
    tokio::task::spawn_blocking(move || {
        let dir = tempfile::tempdir().unwrap();
        Command::new(env!("CARGO_BIN_EXE_sample-grpc"))
            .env_clear()
            .envs(vars)
            .current_dir(dir.path())
            .output()
            .unwrap()
    })
    .await
    .unwrap()
}

fn gateway_host_port() -> String {
    let endpoint = env("STARGATE_GRPC_ENDPOINT");
    endpoint.trim_start_matches("http://").trim_end_matches('/').to_owned()
}

fn vars_for(proxy: &TlsProxy, ca_file: Option<&Path>) -> Vec<(&'static str, String)> {
    let mut vars = vec![
        ("STARGATE_GRPC_ENDPOINT", format!("https://localhost:{}", proxy.port)),
        ("ASTRA_DB_APPLICATION_TOKEN", env("ASTRA_DB_APPLICATION_TOKEN")),
        ("ASTRA_DB_KEYSPACE", env("ASTRA_DB_KEYSPACE")),
    ];
    if let Some(file) = ca_file {
        vars.push(("SSL_CERT_FILE", file.display().to_string()));
    }
    vars
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local stack: run scripts/test"]
async fn tour_over_tls_with_alpn_h2_and_sni() {
    let proxy = start_tls_proxy(gateway_host_port()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &proxy.ca_pem).unwrap();

    let output = run_sample(vars_for(&proxy, Some(&ca_file))).await;
    let (stdout, stderr) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_eq!(output.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains(&format!(
        "Opened an HTTP/2 connection to https://localhost:{} (TLS).",
        proxy.port
    )));
    assert!(stdout.contains("Read 10 tasks in 3 pages."), "{stdout}");
    assert!(stdout.contains("Dropped the table"), "{stdout}");

    let handshakes = proxy.handshakes.lock().unwrap().clone();
    assert!(!handshakes.is_empty());
    for (server_name, alpn) in handshakes {
        assert_eq!(
            server_name.as_deref(),
            Some("localhost"),
            "SNI names the endpoint's host"
        );
        assert_eq!(alpn.as_deref(), Some(&b"h2"[..]), "HTTP/2 agreed through ALPN");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the local stack: run scripts/test"]
async fn untrusted_certificate_is_refused() {
    let proxy = start_tls_proxy(gateway_host_port()).await;
    // No SSL_CERT_FILE: the test CA is in no root store.
    let output = run_sample(vars_for(&proxy, None)).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert!(errors[0].contains("cannot connect to https://localhost:"), "{stderr}");
    assert!(errors[0].contains("UnknownIssuer"), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).is_empty(), "nothing ran");
}

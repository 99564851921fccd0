//! sample-cql: connect to Astra DB over CQL with the secure connect bundle and an application
//! token, using the `scylla` driver; then create a table, write rows with a prepared statement,
//! read them back page by page, update one with a lightweight transaction, and delete them.
//!
//! ```text
//! cargo run -p sample-cql                  # the whole tour
//! cargo run -p sample-cql -- --connect-only  # connect, print the cluster name, exit
//! ```
//!
//! Astra: `ASTRA_DB_SECURE_BUNDLE_PATH`, `ASTRA_DB_APPLICATION_TOKEN` (or `ASTRA_DB_CLIENT_ID` +
//! `ASTRA_DB_CLIENT_SECRET`), `ASTRA_DB_KEYSPACE`. Self-hosted Cassandra (no bundle):
//! `CASSANDRA_CONTACT_POINT`, `CASSANDRA_USERNAME`, `CASSANDRA_PASSWORD`, `ASTRA_DB_KEYSPACE`.
//! Settings come from the environment or `.env`. Walkthrough: samples/cql/README.md.

use std::net::SocketAddr;
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use common::bundle::SecureConnectBundle;
use common::{Token, metadata, settings};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;
use scylla::errors::TranslationError;
use scylla::policies::address_translator::{AddressTranslator, UntranslatedPeer};
use scylla::response::PagingState;
use scylla::statement::Statement;
use scylla::value::CqlValue;
use uuid::Uuid;

/// Every step of connecting (metadata service, TLS, login) must finish within this time.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// The table this sample writes to; each run uses its own partition (`run_id`).
const TABLE: &str = "sample_cql_tasks";

#[derive(Parser)]
#[command(about = "Connect to Astra DB (or Cassandra) over CQL with the scylla driver and run the CQL tour.")]
struct Args {
    /// Connect, print the release version and cluster name, and exit: the quickest connectivity check.
    #[arg(long)]
    connect_only: bool,
    /// How many rows to write and read back.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(i32).range(1..=1000))]
    rows: i32,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "sample_cql=info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // One TLS stack for the whole program: rustls with the aws-lc-rs crypto provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: what failed, then why ("a: b: c").
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    settings::load_dotenv()?;
    let started = Instant::now();

    // 1. Connect: through the bundle to Astra, or straight to a self-hosted node.
    let session = match settings::optional_file(settings::ASTRA_DB_SECURE_BUNDLE_PATH)? {
        Some(bundle_path) => {
            let bundle = SecureConnectBundle::open(&bundle_path)?;
            let (username, password) = astra_credentials()?;
            connect_with_bundle(&bundle, &username, &password).await?
        }
        None => connect_self_hosted().await?,
    };

    // 2. The same query as the Python tutorial: who are we talking to?
    print_cluster_info(&session).await?;
    if args.connect_only {
        println!("Connected in {:.2} s.", started.elapsed().as_secs_f64());
        return Ok(());
    }

    // 3. Data: a table in the keyspace (Astra creates keyspaces only from its UI or DevOps API).
    let keyspace = keyspace()?;
    create_table(&session, &keyspace).await?;
    let run_id = Uuid::new_v4();
    insert_rows(&session, &keyspace, run_id, args.rows).await?;
    read_rows_page_by_page(&session, &keyspace, run_id).await?;
    complete_task_once(&session, &keyspace, run_id).await?;
    delete_rows(&session, &keyspace, run_id).await?;

    println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Astra logs in with the literal user name `token` and the application token as password.
/// Older token pairs log in with the client id and secret instead.
fn astra_credentials() -> anyhow::Result<(String, Token)> {
    if let Some(token) = settings::optional_token(settings::ASTRA_DB_APPLICATION_TOKEN)? {
        return Ok(("token".to_owned(), token));
    }
    match settings::optional(settings::ASTRA_DB_CLIENT_ID)? {
        Some(client_id) => Ok((client_id, settings::token(settings::ASTRA_DB_CLIENT_SECRET)?)),
        None => Err(settings::SettingError::Missing(settings::ASTRA_DB_APPLICATION_TOKEN).into()),
    }
}

/// Connects the way Astra requires: ask the bundle's metadata service where the CQL proxy is,
/// then open TLS connections to that proxy, presenting the bundle's client certificate.
async fn connect_with_bundle(
    bundle: &SecureConnectBundle,
    username: &str,
    password: &Token,
) -> anyhow::Result<Session> {
    let meta = metadata::fetch(bundle, CONNECT_TIMEOUT).await?;
    let proxy = resolve(&meta.contact_info.sni_proxy_address).await?;
    println!(
        "Secure connect bundle: proxy {} ({}), data center {}, {} node(s).",
        meta.contact_info.sni_proxy_address,
        proxy,
        meta.contact_info.local_dc,
        meta.contact_info.contact_points.len()
    );

    let tls = tls_config(bundle)?;
    let builder = SessionBuilder::new()
        .known_node_addr(proxy)
        // Nodes announce private addresses; every connection must go through the proxy instead.
        .address_translator(Arc::new(ThroughProxy(proxy)))
        .tls_context(Some(Arc::new(tls)))
        .user(username, password.expose())
        .prefer_datacenter(meta.contact_info.local_dc.clone())
        .connection_timeout(Duration::from_secs(5));
    let session = tokio::time::timeout(CONNECT_TIMEOUT, builder.build())
        .await
        .map_err(|_| anyhow::anyhow!("no answer from the CQL proxy at {proxy} within {CONNECT_TIMEOUT:?}"))?
        .map_err(|e| explain_connect_error(&e.to_string(), &proxy.to_string()))?;
    Ok(session)
}

/// Connects to a self-hosted Cassandra node with a user name and password.
async fn connect_self_hosted() -> anyhow::Result<Session> {
    let Some(contact_point) = settings::optional(settings::CASSANDRA_CONTACT_POINT)? else {
        bail!(
            "no database configured: set ASTRA_DB_SECURE_BUNDLE_PATH (Astra: download the bundle from the \
             database's Connect page) or CASSANDRA_CONTACT_POINT (self-hosted Cassandra)"
        );
    };
    let username = settings::required(settings::CASSANDRA_USERNAME)?;
    let password = settings::token(settings::CASSANDRA_PASSWORD)?;
    let builder = SessionBuilder::new()
        .known_node(&contact_point)
        .user(username, password.expose())
        .connection_timeout(Duration::from_secs(5));
    let session = tokio::time::timeout(CONNECT_TIMEOUT, builder.build())
        .await
        .map_err(|_| anyhow::anyhow!("no answer from Cassandra at {contact_point} within {CONNECT_TIMEOUT:?}"))?
        .map_err(|e| explain_connect_error(&e.to_string(), &contact_point))?;
    println!("Connected to Cassandra at {contact_point}.");
    Ok(session)
}

/// TLS for Astra's proxy: trust only the bundle's CA, and prove who we are with its certificate.
fn tls_config(bundle: &SecureConnectBundle) -> anyhow::Result<rustls::ClientConfig> {
    let mut roots = RootCertStore::empty();
    for ca in bundle.ca_certs().map_err(anyhow::Error::msg)? {
        roots
            .add(ca)
            .context("the bundle's ca.crt is not a usable CA certificate")?;
    }
    let verifier = BundleHostVerifier {
        inner: WebPkiServerVerifier::builder(Arc::new(roots)).build()?,
        host: ServerName::try_from(bundle.config.host.clone()).context("the bundle's host is not a valid name")?,
    };
    let key = bundle.client_key().map_err(anyhow::Error::msg)?;
    let chain = bundle.client_cert_chain().map_err(anyhow::Error::msg)?;
    let config = rustls::ClientConfig::builder()
        .dangerous() // only to plug in the verifier below, which does verify
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(chain, key)
        .context("the bundle's cert and key do not belong together")?;
    Ok(config)
}

/// Verifies the proxy's certificate fully: the chain must lead to the bundle's CA, the
/// certificate must be valid now, and it must be issued for the bundle's host name (as the
/// official drivers check it). The one thing changed from rustls's default check is *which*
/// name: the scylla driver asks for the node's IP address, which Astra's certificate does not
/// carry, so the verifier checks the bundle's host name instead. Nothing is ever skipped.
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

/// Sends every node's connections to the proxy. The driver learns nodes' own (private)
/// addresses from `system.peers`; they cannot be reached from outside Astra.
struct ThroughProxy(SocketAddr);

#[async_trait::async_trait]
impl AddressTranslator for ThroughProxy {
    async fn translate_address(&self, _peer: &UntranslatedPeer) -> Result<SocketAddr, TranslationError> {
        Ok(self.0)
    }
}

async fn resolve(host_port: &str) -> anyhow::Result<SocketAddr> {
    let mut addrs = tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host(host_port))
        .await
        .with_context(|| format!("looking up {host_port} took too long"))?
        .with_context(|| format!("cannot resolve the CQL proxy address {host_port}"))?;
    addrs
        .next()
        .with_context(|| format!("{host_port} resolves to no address"))
}

/// Turns the driver's connection errors into one line that says what to fix.
fn explain_connect_error(error: &str, target: &str) -> anyhow::Error {
    let hint = if error.contains("Authentication")
        || error.contains("Bad credentials")
        || error.contains("Provided username")
    {
        "authentication failed: the token (or client id/secret, or password) is wrong, expired or revoked; \
         create a new token in the Astra Portal (Settings → Tokens)"
    } else if error.contains("UnknownIssuer") || error.contains("BadSignature") {
        "the server's certificate is not signed by the bundle's CA: the bundle belongs to another database \
         or is outdated; download it again from the database's Connect page"
    } else if error.contains("NotValidForName") {
        "the server's certificate is not issued for the bundle's host: download the bundle again"
    } else if error.contains("CertificateRequired") || error.contains("BadCertificate") || error.contains("UnknownCA") {
        "the server rejected the bundle's client certificate: download the bundle again from the database's \
         Connect page"
    } else if error.contains("Connection refused") {
        "nothing is listening there: check that the database is active (or the local stack is up)"
    } else {
        "could not open a CQL session"
    };
    anyhow::anyhow!("{hint} ({target}: {error})")
}

/// Prints the release version and cluster name, as the Python tutorial does.
async fn print_cluster_info(session: &Session) -> anyhow::Result<()> {
    let rows = session
        .query_unpaged("SELECT release_version, cluster_name FROM system.local", &[])
        .await?
        .into_rows_result()?;
    let (release_version, cluster_name) = rows.first_row::<(String, String)>()?;
    println!("Connected to cluster {cluster_name:?}, Cassandra {release_version}.");
    Ok(())
}

fn keyspace() -> anyhow::Result<String> {
    let keyspace = settings::required(settings::ASTRA_DB_KEYSPACE)?;
    // The name goes into CQL text (it cannot be a bound value), so accept only a plain identifier.
    let valid = keyspace.len() <= 48 && keyspace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(settings::SettingError::Malformed {
            var: settings::ASTRA_DB_KEYSPACE,
            reason: "a keyspace name has only letters, digits and underscores (at most 48)".into(),
        }
        .into());
    }
    Ok(keyspace)
}

/// Creates the table if it does not exist yet. Each run writes its own partition (`run_id`), so
/// runs can share the table, even at the same time.
async fn create_table(session: &Session, keyspace: &str) -> anyhow::Result<()> {
    let cql = format!(
        "CREATE TABLE IF NOT EXISTS {keyspace}.{TABLE} (
            run_id uuid, seq int, title text, done boolean,
            PRIMARY KEY (run_id, seq))"
    );
    session
        .query_unpaged(cql, &[])
        .await
        .with_context(|| format!("cannot create table {keyspace}.{TABLE}"))?;
    println!("Table {keyspace}.{TABLE} is ready.");
    Ok(())
}

/// Inserts rows with a prepared statement: parsed once by the server, then only values travel.
async fn insert_rows(session: &Session, keyspace: &str, run_id: Uuid, count: i32) -> anyhow::Result<()> {
    let insert = session
        .prepare(format!(
            "INSERT INTO {keyspace}.{TABLE} (run_id, seq, title, done) VALUES (?, ?, ?, ?)"
        ))
        .await?;
    for seq in 1..=count {
        session
            .execute_unpaged(&insert, (run_id, seq, format!("task #{seq}"), false))
            .await?;
    }
    println!("Inserted {count} rows (run {run_id}).");
    Ok(())
}

/// Reads the rows back a few at a time. The paging state returned with each page is an opaque
/// bookmark: pass it back to get the next page (a web API can hand it to its client).
async fn read_rows_page_by_page(session: &Session, keyspace: &str, run_id: Uuid) -> anyhow::Result<()> {
    let mut select = Statement::new(format!(
        "SELECT seq, title, done FROM {keyspace}.{TABLE} WHERE run_id = ?"
    ));
    select.set_page_size(4);
    let select = session.prepare(select).await?;

    let mut paging_state = PagingState::start();
    let mut total = 0;
    for page in 1.. {
        let (result, next) = session.execute_single_page(&select, (run_id,), paging_state).await?;
        let rows = result.into_rows_result()?;
        let mut seqs = Vec::new();
        for row in rows.rows::<(i32, String, bool)>()? {
            let (seq, _title, _done) = row?;
            seqs.push(seq);
        }
        total += seqs.len();
        println!("  page {page}: rows {seqs:?}");
        match next.into_paging_control_flow() {
            ControlFlow::Break(()) => break,
            ControlFlow::Continue(state) => paging_state = state,
        }
    }
    println!("Read {total} rows back.");
    Ok(())
}

/// A lightweight transaction (`IF …`) applies only if the condition holds when it runs, which
/// makes "complete this task once" safe even with concurrent writers. The server answers with
/// an `[applied]` column.
async fn complete_task_once(session: &Session, keyspace: &str, run_id: Uuid) -> anyhow::Result<()> {
    let complete = session
        .prepare(format!(
            "UPDATE {keyspace}.{TABLE} SET done = true WHERE run_id = ? AND seq = ? IF done = false"
        ))
        .await?;
    for attempt in ["first", "second"] {
        let rows = session
            .execute_unpaged(&complete, (run_id, 1))
            .await?
            .into_rows_result()?;
        let row = rows.first_row::<scylla::value::Row>()?;
        let applied = matches!(row.columns.first(), Some(Some(CqlValue::Boolean(true))));
        println!("Complete task #1 ({attempt} try, IF done = false): applied = {applied}.");
    }
    Ok(())
}

/// Deletes this run's rows (the whole partition) and checks that none is left.
async fn delete_rows(session: &Session, keyspace: &str, run_id: Uuid) -> anyhow::Result<()> {
    session
        .query_unpaged(format!("DELETE FROM {keyspace}.{TABLE} WHERE run_id = ?"), (run_id,))
        .await?;
    let rows = session
        .query_unpaged(
            format!("SELECT COUNT(*) FROM {keyspace}.{TABLE} WHERE run_id = ?"),
            (run_id,),
        )
        .await?
        .into_rows_result()?;
    let (left,) = rows.first_row::<(i64,)>()?;
    println!("Deleted the run's rows ({left} left).");
    Ok(())
}

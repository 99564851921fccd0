//! The stack's certificates: one CA, a server certificate and a client certificate.
//!
//! Astra's CQL and metadata endpoints speak mutual TLS. The client trusts only the CA in its secure
//! connect bundle, and the server accepts only clients that present the bundle's certificate, which
//! that same CA signed. The local stack does the same with certificates it makes on first use and
//! keeps as PEM files in one directory (the CLI uses `.astra-local/certs/`). Later runs load them
//! again, so bundles written earlier keep working across restarts.
//!
//! | file | what |
//! |---|---|
//! | `ca.crt`, `ca.key` | the CA (`CA:TRUE`, critical; key usage `keyCertSign`, `cRLSign`) |
//! | `server.crt`, `server.key` | the front door's and Pulsar's certificate: EKU `serverAuth`, SANs `DNS:localhost`, `IP:127.0.0.1` |
//! | `client.crt`, `client.key` | the bundle's client certificate: EKU `clientAuth`, CN `astra-local client` |
//!
//! The SANs cover every name clients check: the Python driver checks only the chain, `scylla` with
//! rustls checks the proxy's IP (or `localhost` with a custom verifier), and Pulsar clients check the
//! service URL's host.
//!
//! Keys are RSA-2048, written as PKCS#8 PEM (`BEGIN PRIVATE KEY`) with mode 0600. RSA rather than
//! ECDSA because Pulsar's broker reads `tlsKeyFilePath` with Java's `KeyFactory`, and several Pulsar
//! releases try only the RSA key factory there; RSA PKCS#8 is what the verified Pulsar TLS recipe used.
//! Every client we target (rustls, OpenSSL, Java) accepts RSA.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tracing::{info, warn};

/// File names inside the certificate directory.
pub const CA_CERT_FILE: &str = "ca.crt";
pub const CA_KEY_FILE: &str = "ca.key";
pub const SERVER_CERT_FILE: &str = "server.crt";
pub const SERVER_KEY_FILE: &str = "server.key";
pub const CLIENT_CERT_FILE: &str = "client.crt";
pub const CLIENT_KEY_FILE: &str = "client.key";

const ALL_FILES: [&str; 6] = [
    CA_CERT_FILE,
    CA_KEY_FILE,
    SERVER_CERT_FILE,
    SERVER_KEY_FILE,
    CLIENT_CERT_FILE,
    CLIENT_KEY_FILE,
];

/// The names the server certificate is issued for. Clients reach the front door and Pulsar as
/// `localhost` or `127.0.0.1`.
pub const SERVER_NAMES: [&str; 2] = ["localhost", "127.0.0.1"];

const CA_COMMON_NAME: &str = "astra-local CA";
const SERVER_COMMON_NAME: &str = "localhost";
const CLIENT_COMMON_NAME: &str = "astra-local client";

/// How long new certificates stay valid. A day of slack at the start absorbs clock differences.
const VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);
const BACKDATE: Duration = Duration::from_secs(24 * 60 * 60);

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot {action} {path}: {source}. Check that the directory is writable, or delete it to start over.")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot generate the {what}: {source}")]
    Generate { what: &'static str, source: rcgen::Error },
    #[error(
        "{path} is not a valid PEM {kind}: {reason}. Delete {dir} to make new certificates, then write new bundles."
    )]
    BadPem {
        path: PathBuf,
        dir: PathBuf,
        kind: &'static str,
        reason: String,
    },
    #[error(
        "the certificates in {dir} cannot be used: {reason}. Delete {dir} to make new ones, then write new bundles."
    )]
    Unusable { dir: PathBuf, reason: String },
}

/// The stack's CA, server and client certificates, loaded from (and kept in) one directory.
pub struct Pki {
    dir: PathBuf,
    ca_cert_pem: String,
    server_cert_pem: String,
    server_key_pem: String,
    client_cert_pem: String,
    client_key_pem: String,
    ca_cert: CertificateDer<'static>,
    server_cert: CertificateDer<'static>,
    server_key: PrivateKeyDer<'static>,
    client_cert: CertificateDer<'static>,
    client_key: PrivateKeyDer<'static>,
}

impl fmt::Debug for Pki {
    // Only the directory: the struct holds private keys.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki").field("dir", &self.dir).finish_non_exhaustive()
    }
}

/// The crypto provider for every TLS configuration built here: aws-lc-rs, the workspace's only one.
pub fn crypto_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

impl Pki {
    /// Loads the certificates in `dir`, or makes all of them if any file is missing.
    ///
    /// Making them takes well under a second; loading checks that they still fit together (keys
    /// match, chains verify, not expired), so a broken directory fails here and not at the first
    /// client.
    pub fn ensure(dir: &Path) -> Result<Self, PkiError> {
        let missing: Vec<&str> = ALL_FILES
            .iter()
            .copied()
            .filter(|name| !dir.join(name).is_file())
            .collect();
        if missing.len() == ALL_FILES.len() {
            info!(dir = %dir.display(), "making the stack's CA, server and client certificates");
            generate(dir)?;
        } else if !missing.is_empty() {
            warn!(dir = %dir.display(), missing = ?missing, "certificate files missing; making all certificates again (write new bundles)");
            generate(dir)?;
        }
        Self::load(dir)
    }

    /// Loads the certificates in `dir` and checks them; never writes anything.
    pub fn load(dir: &Path) -> Result<Self, PkiError> {
        let read = |name: &str| -> Result<String, PkiError> {
            let path = dir.join(name);
            std::fs::read_to_string(&path).map_err(|source| PkiError::Io {
                action: "read",
                path,
                source,
            })
        };
        let bad_pem = |name: &str, kind: &'static str, reason: String| PkiError::BadPem {
            path: dir.join(name),
            dir: dir.to_path_buf(),
            kind,
            reason,
        };
        let ca_cert_pem = read(CA_CERT_FILE)?;
        let ca_key_pem = read(CA_KEY_FILE)?;
        let server_cert_pem = read(SERVER_CERT_FILE)?;
        let server_key_pem = read(SERVER_KEY_FILE)?;
        let client_cert_pem = read(CLIENT_CERT_FILE)?;
        let client_key_pem = read(CLIENT_KEY_FILE)?;

        let ca_cert = first_cert(&ca_cert_pem).map_err(|r| bad_pem(CA_CERT_FILE, "certificate", r))?;
        // The CA key is not needed to serve, but a directory with a broken one cannot make more certificates.
        private_key(&ca_key_pem).map_err(|r| bad_pem(CA_KEY_FILE, "PKCS#8 private key", r))?;
        let server_cert = first_cert(&server_cert_pem).map_err(|r| bad_pem(SERVER_CERT_FILE, "certificate", r))?;
        let server_key = private_key(&server_key_pem).map_err(|r| bad_pem(SERVER_KEY_FILE, "PKCS#8 private key", r))?;
        let client_cert = first_cert(&client_cert_pem).map_err(|r| bad_pem(CLIENT_CERT_FILE, "certificate", r))?;
        let client_key = private_key(&client_key_pem).map_err(|r| bad_pem(CLIENT_KEY_FILE, "PKCS#8 private key", r))?;

        let pki = Self {
            dir: dir.to_path_buf(),
            ca_cert_pem,
            server_cert_pem,
            server_key_pem,
            client_cert_pem,
            client_key_pem,
            ca_cert,
            server_cert,
            server_key,
            client_cert,
            client_key,
        };
        pki.check()?;
        Ok(pki)
    }

    /// Fails if the files do not fit together the way clients and the front door need.
    fn check(&self) -> Result<(), PkiError> {
        // Both builders refuse a key that does not belong to its certificate.
        self.server_config()?;
        self.client_config()?;
        let provider = crypto_provider();
        let roots = Arc::new(self.root_store()?);
        let now = UnixTime::now();
        let server_verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots.clone(), provider.clone())
                .build()
                .map_err(|e| self.unusable(format!("cannot build a verifier: {e}")))?;
        for name in SERVER_NAMES {
            let server_name =
                ServerName::try_from(name).map_err(|e| self.unusable(format!("bad server name {name}: {e}")))?;
            server_verifier
                .verify_server_cert(&self.server_cert, &[], &server_name, &[], now)
                .map_err(|e| {
                    self.unusable(format!(
                        "{SERVER_CERT_FILE} does not verify for {name} against {CA_CERT_FILE}: {e}"
                    ))
                })?;
        }
        let client_verifier = WebPkiClientVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| self.unusable(format!("cannot build a verifier: {e}")))?;
        client_verifier
            .verify_client_cert(&self.client_cert, &[], now)
            .map_err(|e| {
                self.unusable(format!(
                    "{CLIENT_CERT_FILE} does not verify against {CA_CERT_FILE}: {e}"
                ))
            })?;
        Ok(())
    }

    fn unusable(&self, reason: String) -> PkiError {
        PkiError::Unusable {
            dir: self.dir.clone(),
            reason,
        }
    }

    /// The directory the files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `ca.crt` as PEM: what a bundle's `ca.crt` and Pulsar's trust settings hold.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert_pem
    }

    /// `server.crt` as PEM.
    pub fn server_cert_pem(&self) -> &str {
        &self.server_cert_pem
    }

    /// `server.key` as PKCS#8 PEM. A secret: do not log it.
    pub fn server_key_pem(&self) -> &str {
        &self.server_key_pem
    }

    /// `client.crt` as PEM: a bundle's `cert`.
    pub fn client_cert_pem(&self) -> &str {
        &self.client_cert_pem
    }

    /// `client.key` as PKCS#8 PEM: a bundle's `key`. A secret: do not log it.
    pub fn client_key_pem(&self) -> &str {
        &self.client_key_pem
    }

    /// Path of `ca.crt` (Pulsar: `brokerClientTrustCertsFilePath`, `tlsTrustCertsFilePath`).
    pub fn ca_cert_path(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }

    /// Path of `server.crt` (Pulsar: `tlsCertificateFilePath`).
    pub fn server_cert_path(&self) -> PathBuf {
        self.dir.join(SERVER_CERT_FILE)
    }

    /// Path of `server.key`, PKCS#8 (Pulsar: `tlsKeyFilePath`).
    pub fn server_key_path(&self) -> PathBuf {
        self.dir.join(SERVER_KEY_FILE)
    }

    /// Path of `client.crt`.
    pub fn client_cert_path(&self) -> PathBuf {
        self.dir.join(CLIENT_CERT_FILE)
    }

    /// Path of `client.key`.
    pub fn client_key_path(&self) -> PathBuf {
        self.dir.join(CLIENT_KEY_FILE)
    }

    /// The CA certificate, DER.
    pub fn ca_cert_der(&self) -> &CertificateDer<'static> {
        &self.ca_cert
    }

    /// A root store holding only the stack's CA.
    pub fn root_store(&self) -> Result<RootCertStore, PkiError> {
        let mut roots = RootCertStore::empty();
        roots
            .add(self.ca_cert.clone())
            .map_err(|e| self.unusable(format!("{CA_CERT_FILE} is not a usable trust anchor: {e}")))?;
        Ok(roots)
    }

    /// A server configuration that presents `server.crt` and, like Astra, refuses any client that
    /// does not present a certificate signed by the stack's CA. TLS 1.2 and 1.3.
    pub fn server_config(&self) -> Result<Arc<ServerConfig>, PkiError> {
        let provider = crypto_provider();
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(self.root_store()?), provider.clone())
            .build()
            .map_err(|e| self.unusable(format!("cannot build the client certificate verifier: {e}")))?;
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| self.unusable(e.to_string()))?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![self.server_cert.clone()], self.server_key.clone_key())
            .map_err(|e| self.unusable(format!("{SERVER_KEY_FILE} does not fit {SERVER_CERT_FILE}: {e}")))?;
        Ok(Arc::new(config))
    }

    /// A client configuration that trusts only the stack's CA and presents `client.crt`: what a
    /// bundle gives a client. Used by tests and health checks.
    pub fn client_config(&self) -> Result<ClientConfig, PkiError> {
        ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| self.unusable(e.to_string()))?
            .with_root_certificates(self.root_store()?)
            .with_client_auth_cert(vec![self.client_cert.clone()], self.client_key.clone_key())
            .map_err(|e| self.unusable(format!("{CLIENT_KEY_FILE} does not fit {CLIENT_CERT_FILE}: {e}")))
    }
}

fn first_cert(pem: &str) -> Result<CertificateDer<'static>, String> {
    match CertificateDer::pem_slice_iter(pem.as_bytes()).next() {
        Some(Ok(cert)) => Ok(cert),
        Some(Err(e)) => Err(e.to_string()),
        None => Err("no certificate found".into()),
    }
}

fn private_key(pem: &str) -> Result<PrivateKeyDer<'static>, String> {
    match PrivateKeyDer::from_pem_slice(pem.as_bytes()).map_err(|e| e.to_string())? {
        // Pulsar reads only PKCS#8, so the stack never writes (or accepts) another form.
        key @ PrivateKeyDer::Pkcs8(_) => Ok(key),
        _ => Err("not PKCS#8 (expected `BEGIN PRIVATE KEY`)".into()),
    }
}

/// Makes a new CA, server and client certificate and writes all six files into `dir`.
fn generate(dir: &Path) -> Result<(), PkiError> {
    let new_key = |what: &'static str| {
        KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(|source| PkiError::Generate { what, source })
    };
    let failed = |what: &'static str| move |source| PkiError::Generate { what, source };

    let mut ca_params = base_params(CA_COMMON_NAME, Vec::new()).map_err(failed("CA certificate"))?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca = CertifiedIssuer::self_signed(ca_params, new_key("CA key")?).map_err(failed("CA certificate"))?;

    let server_names = SERVER_NAMES.iter().map(|name| (*name).to_owned()).collect();
    let mut server_params = base_params(SERVER_COMMON_NAME, server_names).map_err(failed("server certificate"))?;
    as_leaf(&mut server_params);
    server_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_key = new_key("server key")?;
    let server_cert = server_params
        .signed_by(&server_key, &ca)
        .map_err(failed("server certificate"))?;

    let mut client_params = base_params(CLIENT_COMMON_NAME, Vec::new()).map_err(failed("client certificate"))?;
    as_leaf(&mut client_params);
    client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_key = new_key("client key")?;
    let client_cert = client_params
        .signed_by(&client_key, &ca)
        .map_err(failed("client certificate"))?;

    create_private_dir(dir)?;
    // Keys first and the CA certificate last: a crash part-way leaves a file missing, and the next
    // `ensure` then makes everything again.
    write_file(&dir.join(CA_KEY_FILE), ca.key().serialize_pem().as_bytes(), 0o600)?;
    write_file(&dir.join(SERVER_KEY_FILE), server_key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&dir.join(CLIENT_KEY_FILE), client_key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&dir.join(SERVER_CERT_FILE), server_cert.pem().as_bytes(), 0o644)?;
    write_file(&dir.join(CLIENT_CERT_FILE), client_cert.pem().as_bytes(), 0o644)?;
    write_file(&dir.join(CA_CERT_FILE), ca.pem().as_bytes(), 0o644)?;
    Ok(())
}

/// Parameters every certificate here starts from: a common name, the given SANs, and a validity of
/// ten years from yesterday.
fn base_params(common_name: &str, subject_alt_names: Vec<String>) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(subject_alt_names)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let now = rcgen::date_time_ymd(1970, 1, 1) + since_epoch;
    params.not_before = now - BACKDATE;
    params.not_after = now + VALIDITY;
    Ok(params)
}

/// What server and client certificates share: not a CA, signature and key-transport usage, and an
/// authority key identifier so Java and OpenSSL find the issuer quickly.
fn as_leaf(params: &mut CertificateParams) {
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    params.use_authority_key_identifier_extension = true;
}

fn create_private_dir(dir: &Path) -> Result<(), PkiError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| PkiError::Io {
        action: "create the directory",
        path: dir.to_path_buf(),
        source,
    })
}

/// Writes `contents` to `path` through a temporary file and a rename, so readers never see half a
/// file, with `mode` set from the start (a key is never readable by others, not even briefly).
pub(crate) fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), PkiError> {
    write_atomically(path, contents, mode).map_err(|(action, source)| PkiError::Io {
        action,
        path: path.into(),
        source,
    })
}

/// The same, with a plain `io::Error` and the step that failed, for other modules' error types.
pub(crate) fn write_atomically(path: &Path, contents: &[u8], mode: u32) -> Result<(), (&'static str, std::io::Error)> {
    let file_name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
        #[cfg(not(unix))]
        let _ = mode;
        let mut file = options.open(&tmp).map_err(|e| ("create", e))?;
        file.write_all(contents).map_err(|e| ("write", e))?;
        file.sync_all().map_err(|e| ("write", e))?;
        std::fs::rename(&tmp, path).map_err(|e| ("replace", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

//! The secure connect bundle: the zip Astra gives you per database (and per region).
//!
//! It holds `config.json` (the metadata service's host and port), `ca.crt` (the CA that signed
//! Astra's server certificates) and `cert`/`key` (this database's client certificate: Astra
//! accepts only TLS connections that present it). The zip is read in memory and never extracted,
//! so the private key does not land on disk a second time.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

/// A secure connect bundle, opened and checked.
pub struct SecureConnectBundle {
    pub config: BundleConfig,
    ca_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
}

/// The keys of `config.json` that clients use.
#[derive(Debug, Clone, Deserialize)]
pub struct BundleConfig {
    /// Host of the metadata service; also the name the server certificates are issued for.
    pub host: String,
    /// Port of the metadata service (29080 on Astra).
    pub port: u16,
    #[serde(default)]
    pub keyspace: Option<String>,
    #[serde(default, rename = "localDC")]
    pub local_dc: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("cannot read the secure connect bundle {path}: {source}. Check ASTRA_DB_SECURE_BUNDLE_PATH.")]
    Read { path: PathBuf, source: std::io::Error },
    #[error(
        "{path} is not a zip file ({reason}). Download the secure connect bundle again from the database's Connect page."
    )]
    NotZip { path: PathBuf, reason: String },
    #[error(
        "the secure connect bundle {path} has no `{member}` member. Download it again from the database's Connect page."
    )]
    MissingMember { path: PathBuf, member: &'static str },
    #[error("`config.json` in {path} is not valid: {reason}. Download the bundle again.")]
    BadConfig { path: PathBuf, reason: String },
    #[error("`{member}` in {path} is not a valid PEM {kind}: {reason}. Download the bundle again.")]
    BadPem {
        path: PathBuf,
        member: &'static str,
        kind: &'static str,
        reason: String,
    },
}

impl SecureConnectBundle {
    /// Opens the bundle at `path` and checks every member clients need.
    pub fn open(path: &Path) -> Result<Self, BundleError> {
        let bytes = std::fs::read(path).map_err(|source| BundleError::Read {
            path: path.into(),
            source,
        })?;
        Self::from_bytes(path, bytes)
    }

    /// Reads a bundle from memory; `path` is only used in error messages.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self, BundleError> {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| BundleError::NotZip {
            path: path.into(),
            reason: e.to_string(),
        })?;
        let mut member = |name: &'static str| -> Result<Vec<u8>, BundleError> {
            let mut file = zip.by_name(name).map_err(|_| BundleError::MissingMember {
                path: path.into(),
                member: name,
            })?;
            let mut out = Vec::new();
            file.read_to_end(&mut out).map_err(|e| BundleError::NotZip {
                path: path.into(),
                reason: e.to_string(),
            })?;
            Ok(out)
        };
        let config_json = member("config.json")?;
        let ca_pem = member("ca.crt")?;
        let cert_pem = member("cert")?;
        let key_pem = member("key")?;
        let config: BundleConfig = serde_json::from_slice(&config_json).map_err(|e| BundleError::BadConfig {
            path: path.into(),
            reason: e.to_string(),
        })?;
        let bundle = Self {
            config,
            ca_pem,
            cert_pem,
            key_pem,
        };
        // Parse everything now, so a broken bundle fails here with the member's name.
        bundle
            .ca_certs()
            .map_err(|reason| bad_pem(path, "ca.crt", "certificate", reason))?;
        bundle
            .client_cert_chain()
            .map_err(|reason| bad_pem(path, "cert", "certificate", reason))?;
        bundle
            .client_key()
            .map_err(|reason| bad_pem(path, "key", "private key", reason))?;
        Ok(bundle)
    }

    /// The CA certificates that server certificates must chain to.
    pub fn ca_certs(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        certs(&self.ca_pem)
    }

    /// This database's client certificate chain.
    pub fn client_cert_chain(&self) -> Result<Vec<CertificateDer<'static>>, String> {
        certs(&self.cert_pem)
    }

    /// The private key of the client certificate.
    pub fn client_key(&self) -> Result<PrivateKeyDer<'static>, String> {
        PrivateKeyDer::from_pem_slice(&self.key_pem).map_err(|e| e.to_string())
    }

    /// `ca.crt` as PEM text.
    pub fn ca_pem(&self) -> &[u8] {
        &self.ca_pem
    }

    /// `cert` followed by `key`, as PEM text (the form HTTP clients take for an identity).
    pub fn identity_pem(&self) -> Vec<u8> {
        let mut pem = self.cert_pem.clone();
        if !pem.ends_with(b"\n") {
            pem.push(b'\n');
        }
        pem.extend_from_slice(&self.key_pem);
        pem
    }
}

fn certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate found".into());
    }
    Ok(certs)
}

fn bad_pem(path: &Path, member: &'static str, kind: &'static str, reason: String) -> BundleError {
    BundleError::BadPem {
        path: path.into(),
        member,
        kind,
        reason,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;

    use super::*;

    /// Writes a bundle zip with the given members; `None` leaves a member out.
    pub(crate) fn zip_with(members: &[(&str, Option<&[u8]>)]) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        for (name, body) in members {
            if let Some(body) = body {
                zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
                zip.write_all(body).unwrap();
            }
        }
        zip.finish().unwrap();
        out.into_inner()
    }

    pub(crate) struct TestPki {
        pub ca_pem: String,
        pub cert_pem: String,
        pub key_pem: String,
    }

    pub(crate) fn test_pki() -> TestPki {
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let client_key = rcgen::KeyPair::generate().unwrap();
        let client = rcgen::CertificateParams::new(vec!["client".to_owned()])
            .unwrap()
            .signed_by(&client_key, &issuer)
            .unwrap();
        TestPki {
            ca_pem: ca.pem(),
            cert_pem: client.pem(),
            key_pem: client_key.serialize_pem(),
        }
    }

    const CONFIG: &[u8] = br#"{"host":"localhost","port":29080,"keyspace":"default_keyspace","localDC":"datacenter1"}"#;

    fn open(bytes: Vec<u8>) -> Result<SecureConnectBundle, BundleError> {
        SecureConnectBundle::from_bytes(Path::new("scb.zip"), bytes)
    }

    #[test]
    fn good_bundle_opens() {
        let pki = test_pki();
        let zip = zip_with(&[
            ("config.json", Some(CONFIG)),
            ("ca.crt", Some(pki.ca_pem.as_bytes())),
            ("cert", Some(pki.cert_pem.as_bytes())),
            ("key", Some(pki.key_pem.as_bytes())),
        ]);
        let bundle = open(zip).unwrap();
        assert_eq!(bundle.config.host, "localhost");
        assert_eq!(bundle.config.port, 29080);
        assert_eq!(bundle.config.local_dc.as_deref(), Some("datacenter1"));
        assert_eq!(bundle.client_cert_chain().unwrap().len(), 1);
        assert!(
            String::from_utf8(bundle.identity_pem())
                .unwrap()
                .contains("PRIVATE KEY")
        );
    }

    #[test]
    fn each_missing_member_is_named() {
        let pki = test_pki();
        for missing in ["config.json", "ca.crt", "cert", "key"] {
            let members: Vec<(&str, Option<&[u8]>)> = [
                ("config.json", CONFIG),
                ("ca.crt", pki.ca_pem.as_bytes()),
                ("cert", pki.cert_pem.as_bytes()),
                ("key", pki.key_pem.as_bytes()),
            ]
            .into_iter()
            .map(|(name, body)| (name, (name != missing).then_some(body)))
            .collect();
            let msg = open(zip_with(&members)).err().unwrap().to_string();
            assert!(msg.contains(&format!("no `{missing}` member")), "{msg}");
        }
    }

    #[test]
    fn not_a_zip_is_reported() {
        let msg = open(b"this is not a zip".to_vec()).err().unwrap().to_string();
        assert!(msg.contains("scb.zip is not a zip file"), "{msg}");
    }

    #[test]
    fn missing_file_is_reported() {
        let msg = SecureConnectBundle::open(Path::new("/nonexistent/scb.zip"))
            .err()
            .unwrap()
            .to_string();
        assert!(
            msg.contains("/nonexistent/scb.zip") && msg.contains("ASTRA_DB_SECURE_BUNDLE_PATH"),
            "{msg}"
        );
    }

    #[test]
    fn bad_pem_and_bad_config_name_the_member() {
        let pki = test_pki();
        let zip = zip_with(&[
            ("config.json", Some(CONFIG)),
            ("ca.crt", Some(pki.ca_pem.as_bytes())),
            ("cert", Some(b"garbage")),
            ("key", Some(pki.key_pem.as_bytes())),
        ]);
        let msg = open(zip).err().unwrap().to_string();
        assert!(msg.contains("`cert`") && msg.contains("certificate"), "{msg}");
        let zip = zip_with(&[
            ("config.json", Some(CONFIG)),
            ("ca.crt", Some(pki.ca_pem.as_bytes())),
            ("cert", Some(pki.cert_pem.as_bytes())),
            ("key", Some(pki.cert_pem.as_bytes())),
        ]);
        let msg = open(zip).err().unwrap().to_string();
        assert!(msg.contains("`key`") && msg.contains("private key"), "{msg}");
        let zip = zip_with(&[
            ("config.json", Some(br#"{"port":29080}"#)),
            ("ca.crt", Some(pki.ca_pem.as_bytes())),
            ("cert", Some(pki.cert_pem.as_bytes())),
            ("key", Some(pki.key_pem.as_bytes())),
        ]);
        let msg = open(zip).err().unwrap().to_string();
        assert!(msg.contains("`config.json`") && msg.contains("host"), "{msg}");
    }
}

//! Apache Pulsar 4.0 standalone, from the binary distribution on Maven Central, shaped like an
//! Astra Streaming tenant: JWT (HS256) authentication and authorization, TLS on 6651 and 8443
//! with the stack's own CA, a tenant `astra-local` with a namespace `default` where the `client`
//! role may produce and consume.
//!
//! The distribution stays untouched in the cache; this stack's configuration, data and logs live
//! under `.astra-local/pulsar`. Tokens are made here (the JWTs Pulsar's `tokens create` makes:
//! HS256, claim `sub` only, no expiry) instead of with the slow JVM command line.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::error::{Error, Result, chain};
use crate::processes::{self, Component, Launch, Started, Tarball};
use crate::progress::{Progress, Step};
use crate::state::{Paths, Ports, create_dir, write_file};

pub const VERSION: &str = "4.0.8";
const DISTRIBUTION_URL: &str = "https://repo.maven.apache.org/maven2/org/apache/pulsar/pulsar-server-distribution/4.0.8/pulsar-server-distribution-4.0.8-bin.tar.gz";
const DISTRIBUTION_DIR: &str = "apache-pulsar-4.0.8";

/// The tenant and namespace the samples use (Astra Streaming names tenants per organization).
pub const TENANT: &str = "astra-local";
pub const NAMESPACE: &str = "default";
/// The topic the samples use, in [`TENANT`]/[`NAMESPACE`].
pub const TOPIC: &str = "astra-rust-samples";
/// The role with every right (Pulsar's `superUserRoles`), and the role samples use.
pub const ADMIN_ROLE: &str = "admin";
pub const CLIENT_ROLE: &str = "client";
/// Pulsar's own name for the single cluster of a standalone broker.
const CLUSTER: &str = "standalone";

/// How long `up` waits for the admin API after starting the JVM.
const START_TIMEOUT: Duration = Duration::from_secs(150);

/// The unpacked distribution in the cache, downloaded on first use.
pub async fn fetch(cache: &Path, progress: &Progress) -> Result<PathBuf> {
    let what = format!("Pulsar {VERSION}");
    let tarball = Tarball {
        url: DISTRIBUTION_URL,
        top_dir: DISTRIBUTION_DIR,
        what: &what,
    };
    processes::unpacked(cache, &tarball, progress, Component::Pulsar.name()).await
}

fn dir(paths: &Paths) -> PathBuf {
    Component::Pulsar.dir(paths)
}
fn secret_key_file(paths: &Paths) -> PathBuf {
    dir(paths).join("keys").join("secret.key")
}
fn admin_token_file(paths: &Paths) -> PathBuf {
    dir(paths).join("keys").join("admin.token")
}

/// The HS256 signing key (32 random bytes, raw, as `pulsar tokens create-secret-key` writes it),
/// generated at the first call and kept in `.astra-local/pulsar/keys/secret.key` (0600).
pub fn secret_key(paths: &Paths) -> Result<Vec<u8>> {
    let file = secret_key_file(paths);
    match std::fs::read(&file) {
        Ok(key) if key.len() >= 32 => return Ok(key),
        Ok(_) => {
            return Err(Error::Pulsar(format!(
                "{} is shorter than 32 bytes: delete {}",
                file.display(),
                paths.root.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("read", &file)(e)),
    }
    let key: [u8; 32] = rand::random();
    write_file(&file, &key, true)?;
    Ok(key.to_vec())
}

/// The secret key of an existing stack, without creating one.
pub fn existing_secret_key(paths: &Paths) -> Result<Option<Vec<u8>>> {
    match std::fs::read(secret_key_file(paths)) {
        Ok(key) => Ok(Some(key)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", secret_key_file(paths))(e)),
    }
}

/// A Pulsar token for `role`: an HS256 JWT whose only claim is `sub`, which is what the broker's
/// `AuthenticationProviderToken` reads as the role. Without `exp` it never expires.
pub fn token(secret: &[u8], role: &str) -> Result<String> {
    #[derive(serde::Serialize)]
    struct Claims<'a> {
        sub: &'a str,
    }
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.typ = None; // Pulsar's own tokens carry only `alg`.
    let key =
        jsonwebtoken::EncodingKey::from_secret(secret).map_err(|e| Error::Pulsar(format!("bad signing key: {e}")))?;
    jsonwebtoken::encode(&header, &Claims { sub: role }, &key)
        .map_err(|e| Error::Pulsar(format!("cannot sign a token: {e}")))
}

/// The share of the disk in use (the whole filesystem against its size, not only Pulsar's data)
/// at which the bookie turns its ledgers read-only: from then on every new topic, subscription and
/// produce fails with "Not enough non-faulty bookies available". Pulsar's standalone.conf value
/// (BookKeeper's own default, 0.95, is for a disk of its own).
pub const DISK_FULL: f64 = 0.99;
/// Above this share `up` and `status` warn.
pub const DISK_WARN: f64 = 0.97;

/// Space on the filesystem holding a folder, counted as BookKeeper counts it (space usable by
/// this user against the filesystem's size).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Disk {
    pub available: u64,
    pub total: u64,
}

impl Disk {
    /// The filesystem of `dir`, or of its nearest existing parent; `None` if it cannot be read.
    pub fn of(dir: &Path) -> Option<Disk> {
        let existing = dir.ancestors().find(|d| d.exists())?;
        let stats = nix::sys::statvfs::statvfs(existing).ok()?;
        let block = stats.fragment_size() as u64;
        let total = stats.blocks() as u64 * block;
        (total > 0).then(|| Disk {
            available: stats.blocks_available() as u64 * block,
            total,
        })
    }

    pub fn used(&self) -> f64 {
        1.0 - self.available as f64 / self.total as f64
    }

    /// `status`'s line: how full the disk is and where Pulsar stops.
    pub fn summary(&self) -> String {
        format!(
            "{:.1}% used, {} free (Pulsar's storage turns read-only at {:.0}%)",
            self.used() * 100.0,
            size_text(self.available),
            DISK_FULL * 100.0
        )
    }

    /// One line for `up` and `status` when the disk is nearly or too full for Pulsar, else `None`.
    pub fn warning(&self) -> Option<String> {
        let used = self.used();
        let state = format!(
            "the disk is {:.1}% full ({} free)",
            used * 100.0,
            size_text(self.available)
        );
        let limit = DISK_FULL * 100.0;
        if used >= DISK_FULL {
            Some(format!(
                "{state}: Pulsar's storage (BookKeeper) refuses every message above {limit:.0}%, \
                 so producing fails with \"Not enough non-faulty bookies available\"; free some space"
            ))
        } else if used >= DISK_WARN {
            Some(format!(
                "{state}: at {limit:.0}% Pulsar's storage (BookKeeper) turns read-only and refuses every message"
            ))
        } else {
            None
        }
    }
}

fn size_text(bytes: u64) -> String {
    if bytes >= 1_000_000_000 {
        format!("{:.1} GB", bytes as f64 / 1e9)
    } else {
        crate::progress::megabytes(bytes)
    }
}

/// The `standalone.conf` keys this stack sets (variant "A" of the TLS recipe: TLS ports added,
/// plaintext ports kept for local debugging, the broker's own client on plaintext).
fn config_keys(paths: &Paths, ports: &Ports, certs: &Path) -> Vec<(&'static str, String)> {
    let keys = dir(paths).join("keys");
    vec![
        ("brokerServicePort", ports.pulsar.to_string()),
        ("webServicePort", ports.pulsar_http.to_string()),
        // Absent from 4.0.8's standalone.conf (only in broker.conf): appended.
        ("brokerServicePortTls", ports.pulsar_tls.to_string()),
        ("webServicePortTls", ports.pulsar_https.to_string()),
        ("advertisedAddress", "127.0.0.1".into()),
        // Write each acknowledgement to the subscription's cursor at once. standalone.conf writes
        // at most one per 10 s (0.1/s), so after a killed broker every message acknowledged in the
        // last seconds was delivered again (issue #14; local/tests/faults.rs). 0 turns the limit off.
        ("managedLedgerDefaultMarkDeleteRateLimit", "0".into()),
        // The embedded bookie reads standalone.conf too. 4.0.8's file sets this already; set here
        // so that `up`'s and `status`'s disk warnings stay true to it (see DISK_FULL).
        ("diskUsageThreshold", DISK_FULL.to_string()),
        ("tlsCertificateFilePath", certs.join("server.crt").display().to_string()),
        // Pulsar wants the key in PKCS#8.
        ("tlsKeyFilePath", certs.join("server.key").display().to_string()),
        ("tlsTrustCertsFilePath", certs.join("ca.crt").display().to_string()),
        ("brokerClientTlsEnabled", "false".into()),
        ("authenticationEnabled", "true".into()),
        (
            "authenticationProviders",
            "org.apache.pulsar.broker.authentication.AuthenticationProviderToken".into(),
        ),
        ("authorizationEnabled", "true".into()),
        ("superUserRoles", ADMIN_ROLE.into()),
        (
            "brokerClientAuthenticationPlugin",
            "org.apache.pulsar.client.impl.auth.AuthenticationToken".into(),
        ),
        (
            "brokerClientAuthenticationParameters",
            format!("file://{}", keys.join("admin.token").display()),
        ),
        (
            "tokenSecretKey",
            format!("file://{}", keys.join("secret.key").display()),
        ),
    ]
}

/// `original` with each key set: an existing `key=` line is replaced, a missing key appended.
/// The distribution's file has no final newline, so one is added before appending.
pub fn set_keys(original: &str, keys: &[(&str, String)]) -> String {
    let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
    for (key, value) in keys {
        let prefix = format!("{key}=");
        let line = format!("{key}={value}");
        match lines.iter_mut().find(|l| l.starts_with(&prefix)) {
            Some(existing) => *existing = line,
            None => lines.push(line),
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    text
}

/// Writes this stack's `standalone.conf` (from the distribution's, regenerated at every start)
/// and the admin token file the broker's internal client reads, and returns how to start it.
pub fn prepare(paths: &Paths, ports: &Ports, distribution: &Path, java: &Path, certs: &Path) -> Result<Launch> {
    let secret = secret_key(paths)?;
    write_file(&admin_token_file(paths), token(&secret, ADMIN_ROLE)?.as_bytes(), true)?;
    let original_path = distribution.join("conf/standalone.conf");
    let original = std::fs::read_to_string(&original_path).map_err(Error::io("read", &original_path))?;
    let conf = dir(paths).join("conf").join("standalone.conf");
    write_file(
        &conf,
        set_keys(&original, &config_keys(paths, ports, certs)).as_bytes(),
        false,
    )?;
    let data = dir(paths).join("data");
    let logs = dir(paths).join("logs");
    create_dir(&data)?;
    create_dir(&logs)?;

    let java_home =
        processes::java_home(java).ok_or_else(|| Error::Java(format!("no JDK folder around {}", java.display())))?;
    let env = vec![
        ("JAVA_HOME".into(), java_home.display().to_string()),
        ("PULSAR_STANDALONE_CONF".into(), conf.display().to_string()),
        ("PULSAR_LOG_DIR".into(), logs.display().to_string()),
        // The defaults (2 GB heap, 4 GB direct memory, ZGC with pre-touch) make the broker take
        // ~1.8 GB resident; G1 with a small initial heap keeps it near 0.5 GB.
        (
            "PULSAR_MEM".into(),
            "-Xms256m -Xmx1g -XX:MaxDirectMemorySize=512m".into(),
        ),
        ("PULSAR_GC".into(), "-XX:+UseG1GC".into()),
    ];
    let path = |p: PathBuf| p.display().to_string();
    // `bin/pulsar` changes into the distribution folder before starting java, and standalone's
    // data folders default to paths relative to it: give absolute ones under the state folder.
    let args = vec![
        "standalone".into(),
        "--no-functions-worker".into(),
        "--no-stream-storage".into(),
        "--metadata-dir".into(),
        path(data.join("metadata")),
        "--bookkeeper-dir".into(),
        path(data.join("bookkeeper")),
        "--zookeeper-dir".into(),
        path(data.join("zookeeper")),
    ];
    Ok(Launch {
        component: Component::Pulsar,
        program: distribution.join("bin/pulsar"),
        args,
        env,
        cwd: dir(paths),
    })
}

/// An HTTPS client for the admin API that trusts the stack's CA.
pub fn admin_client(ca_pem: &[u8]) -> Result<reqwest::Client> {
    let ca = reqwest::Certificate::from_pem(ca_pem)
        .map_err(|e| Error::Pulsar(format!("bad CA certificate: {}", chain(&e))))?;
    reqwest::Client::builder()
        .tls_certs_only([ca])
        .connect_timeout(Duration::from_secs(3))
        .timeout(Duration::from_secs(15))
        .build()
        .map_err(|e| Error::Pulsar(format!("cannot build the admin HTTP client: {}", chain(&e))))
}

/// Waits until the HTTPS admin API answers the super-user token and the standalone broker has
/// registered its cluster, then creates the tenant, namespace and permissions (idempotent).
/// `started` is the process this `up` launched (its early exit ends the wait), `None` when the
/// broker was already running.
pub async fn ready(paths: &Paths, ports: &Ports, mut started: Option<&mut Started>, step: &Step) -> Result<()> {
    let secret = secret_key(paths)?;
    let admin = token(&secret, ADMIN_ROLE)?;
    let ca_path = paths.certs_dir().join("ca.crt");
    let ca = std::fs::read(&ca_path).map_err(Error::io("read", &ca_path))?;
    let client = admin_client(&ca)?;
    let base = format!("https://localhost:{}/admin/v2", ports.pulsar_https);
    step.set_message(format!("waiting for the admin API at {base}"));
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(reason) = started.as_mut().and_then(|s| s.exited()) {
            return Err(fail(started.as_deref(), reason));
        }
        // The web service answers a few seconds before standalone has created its cluster, and
        // a tenant cannot be created before that ("412 Clusters do not exist").
        let last = match client.get(format!("{base}/clusters")).bearer_auth(&admin).send().await {
            Ok(response) if response.status() == StatusCode::OK => {
                let clusters: Vec<String> = response.json().await.unwrap_or_default();
                if clusters.iter().any(|c| c == CLUSTER) {
                    break;
                }
                step.set_message("waiting for the broker to register its cluster");
                format!("clusters {clusters:?}")
            }
            Ok(response) if response.status() == StatusCode::UNAUTHORIZED => {
                return Err(Error::Pulsar(format!(
                    "the broker rejects the admin token (401): {} no longer matches the broker's tokenSecretKey",
                    secret_key_file(paths).display()
                )));
            }
            Ok(response) => format!("HTTP {}", response.status()),
            Err(e) => chain(&e),
        };
        if Instant::now() > deadline {
            let reason = format!(
                "the admin API {base} was not ready after {} s (last: {last})",
                START_TIMEOUT.as_secs()
            );
            return Err(fail(started.as_deref(), reason));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    step.set_message(format!("creating tenant {TENANT} and namespace {TENANT}/{NAMESPACE}"));
    set_up_tenant(&client, &base, &admin).await
}

fn fail(started: Option<&Started>, reason: String) -> Error {
    match started {
        Some(started) => started.failed(reason),
        None => Error::Pulsar(reason),
    }
}

/// Tenant, namespace and the client role's rights, over the admin REST API (409 = exists).
/// The client role administers its tenant, as an Astra Streaming tenant's token does (it can
/// list namespaces, create and delete topics); it is not a super-user (no other tenants).
async fn set_up_tenant(client: &reqwest::Client, base: &str, admin: &str) -> Result<()> {
    let tenant = serde_json::json!({ "allowedClusters": [CLUSTER], "adminRoles": [CLIENT_ROLE] });
    let calls = [
        (
            reqwest::Method::PUT,
            format!("{base}/tenants/{TENANT}"),
            Some(tenant.clone()),
        ),
        // A tenant made by an older stack gets the admin role too (POST updates a tenant).
        (reqwest::Method::POST, format!("{base}/tenants/{TENANT}"), Some(tenant)),
        (
            reqwest::Method::PUT,
            format!("{base}/namespaces/{TENANT}/{NAMESPACE}"),
            None,
        ),
        (
            reqwest::Method::POST,
            format!("{base}/namespaces/{TENANT}/{NAMESPACE}/permissions/{CLIENT_ROLE}"),
            Some(serde_json::json!(["produce", "consume"])),
        ),
    ];
    for (method, url, body) in calls {
        let mut request = client.request(method.clone(), &url).bearer_auth(admin);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| Error::Pulsar(format!("{method} {url}: {}", chain(&e))))?;
        let status = response.status();
        if !(status.is_success() || status == StatusCode::CONFLICT) {
            let text = response.text().await.unwrap_or_default();
            return Err(Error::Pulsar(format!("{method} {url}: HTTP {status}: {}", text.trim())));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_keys_replaces_and_appends_after_a_missing_final_newline() {
        let original = "# comment\nwebServicePort=8080\nbrokerServicePort=6650\nlastKey=x";
        let text = set_keys(
            original,
            &[("webServicePort", "8085".into()), ("webServicePortTls", "8443".into())],
        );
        assert_eq!(
            text,
            "# comment\nwebServicePort=8085\nbrokerServicePort=6650\nlastKey=x\nwebServicePortTls=8443\n"
        );
    }

    #[test]
    fn the_admin_port_is_never_8080() {
        let paths = Paths::new(Path::new("/tmp/s"));
        let keys = config_keys(&paths, &Ports::default(), Path::new("/tmp/s/certs"));
        let get = |k: &str| keys.iter().find(|(key, _)| *key == k).map(|(_, v)| v.clone());
        assert_eq!(get("webServicePort").as_deref(), Some("8085"));
        assert_eq!(get("webServicePortTls").as_deref(), Some("8443"));
        assert_eq!(get("brokerServicePortTls").as_deref(), Some("6651"));
        assert_eq!(
            get("tokenSecretKey").as_deref(),
            Some("file:///tmp/s/pulsar/keys/secret.key")
        );
    }

    #[test]
    fn the_bookie_refuses_writes_only_on_a_nearly_full_disk() {
        let paths = Paths::new(Path::new("/tmp/s"));
        let keys = config_keys(&paths, &Ports::default(), Path::new("/tmp/s/certs"));
        let get = |k: &str| keys.iter().find(|(key, _)| *key == k).map(|(_, v)| v.clone());
        assert_eq!(get("diskUsageThreshold").as_deref(), Some("0.99"));

        let gb = 1_000_000_000;
        let disk = |free: u64| Disk {
            available: free * gb,
            total: 250 * gb,
        };
        // 12 GB free of 250 GB: BookKeeper's own default (95%) would refuse it; Pulsar's does not.
        assert_eq!(disk(12).warning(), None);
        let warned = disk(5).warning().expect("98% full warns");
        assert!(warned.contains("98.0% full (5.0 GB free)"), "{warned}");
        assert!(warned.contains("turns read-only"), "{warned}");
        let full = disk(2).warning().expect("99.2% full warns");
        assert!(full.contains("99.2% full"), "{full}");
        assert!(full.contains("Not enough non-faulty bookies available"), "{full}");
        assert!(full.contains("free some space"), "{full}");
        let nearly = Disk {
            available: 900_000_000,
            total: 100 * gb,
        };
        assert!(nearly.warning().expect("warns").contains("(900.0 MB free)"));
        assert_eq!(
            disk(80).summary(),
            "68.0% used, 80.0 GB free (Pulsar's storage turns read-only at 99%)"
        );
    }

    #[test]
    fn the_disk_of_a_folder_not_made_yet_is_its_parents() {
        let dir = tempfile::tempdir().expect("temp dir");
        let disk = Disk::of(&dir.path().join("not/made/yet")).expect("readable");
        assert!(disk.total > 0 && disk.available <= disk.total, "{disk:?}");
        assert_eq!(Disk::of(dir.path()).map(|d| d.total), Some(disk.total));
    }

    #[test]
    fn tokens_are_hs256_jwts_with_only_sub() {
        let secret = [7u8; 32];
        let jwt = token(&secret, "client").expect("token");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(
            &jwt,
            &jsonwebtoken::DecodingKey::from_secret(&secret).expect("key"),
            &validation,
        )
        .expect("valid");
        assert_eq!(data.claims, serde_json::json!({ "sub": "client" }));
        assert_eq!(data.header.typ, None);
        // Deterministic: the same key and role always give the same token.
        assert_eq!(token(&secret, "client").expect("token"), jwt);
    }
}

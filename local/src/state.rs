//! Where the stack keeps its state, and the small JSON files in it.
//!
//! Everything per checkout lives under one folder (`.astra-local/` at the top of the checkout,
//! ignored by git): data, logs, configuration, certificates, PID files and generated secrets.
//! Downloads live in a per-user cache instead (see [`cache_dir`]) so clones and CI runs share them.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The name of the state folder at the top of a checkout.
pub const STATE_DIR_NAME: &str = ".astra-local";

/// The state folder: `$ASTRA_LOCAL_DIR` when set (the wrapper script sets it), else
/// `.astra-local` at the top of the git checkout around the working directory, else in it.
pub fn default_state_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("ASTRA_LOCAL_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let top = std::process::Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
        .filter(|p| p.is_dir());
    top.unwrap_or(cwd).join(STATE_DIR_NAME)
}

/// The download cache: `$XDG_CACHE_HOME/astra-local`, else `~/.cache/astra-local`.
pub fn cache_dir() -> PathBuf {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    base.join("astra-local")
}

/// Paths inside the state folder. Always absolute, so they can be handed to servers.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
}

impl Paths {
    /// `dir` made absolute (it need not exist yet).
    pub fn new(dir: &Path) -> Self {
        let root = if dir.is_absolute() {
            dir.to_path_buf()
        } else {
            std::env::current_dir().unwrap_or_default().join(dir)
        };
        Self { root }
    }

    pub fn component_dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }
    /// `stack.json`: the ports of this stack.
    pub fn settings_file(&self) -> PathBuf {
        self.root.join("stack.json")
    }
    /// `secrets.json` (mode 0600): generated passwords and tokens.
    pub fn secrets_file(&self) -> PathBuf {
        self.root.join("secrets.json")
    }
    /// `serve.json`: what `astra-local serve` runs, written by `up`.
    pub fn serve_config_file(&self) -> PathBuf {
        self.root.join("serve.json")
    }
    /// The stack's CA, server and client certificates (see `pki`).
    pub fn certs_dir(&self) -> PathBuf {
        self.root.join("certs")
    }
    /// The secure connect bundle for the front door.
    pub fn bundle_file(&self) -> PathBuf {
        self.root.join("secure-connect-astra-local.zip")
    }
}

/// Ports of the stack, all on 127.0.0.1 (Pulsar binds every interface, as its recipe does).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Ports {
    pub cql: u16,
    pub cassandra_storage: u16,
    pub front_door_cql: u16,
    pub front_door_metadata: u16,
    pub pulsar: u16,
    pub pulsar_tls: u16,
    pub pulsar_http: u16,
    pub pulsar_https: u16,
    /// The DevOps API contract server (Prism).
    pub devops: u16,
}

impl Default for Ports {
    fn default() -> Self {
        Self {
            cql: 9042,
            cassandra_storage: 7000,
            front_door_cql: 29042,
            front_door_metadata: 29080,
            pulsar: 6650,
            pulsar_tls: 6651,
            pulsar_http: 8085,
            pulsar_https: 8443,
            devops: crate::devops::DEFAULT_PORT,
        }
    }
}

/// What `stack.json` holds: the settings chosen at `up`, read by every other command.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub ports: Ports,
}

impl Settings {
    pub fn load(paths: &Paths) -> Result<Option<Self>> {
        read_json(&paths.settings_file())
    }
    pub fn save(&self, paths: &Paths) -> Result<()> {
        write_json(&paths.settings_file(), self, false)
    }
}

/// The generated secrets of a stack. Written (mode 0600) before any is applied, so that a start
/// interrupted half-way can be resumed with the same values.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secrets {
    /// Password of Cassandra's `cassandra` superuser (replaces the default `cassandra`).
    pub cassandra_password: String,
    /// The Astra-style application token, also the password of the CQL role `token`.
    pub application_token: String,
    /// Client id (a CQL role name) and client secret (its password): Astra's older credentials.
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

const LETTERS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const LOWER_HEX: &[u8] = b"0123456789abcdef";
/// Astra's client secrets mix letters, digits and `,.-_`; all are safe unquoted in `.env` files.
const SECRET_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789,.-_";

/// Letters, digits, `-` and `_`: safe unquoted in a shell, a URL and a CQL string literal.
const PASSWORD_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

fn random_string(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

impl Secrets {
    /// Fresh secrets in Astra's shapes.
    pub fn generate() -> Self {
        Self {
            cassandra_password: random_string(PASSWORD_CHARS, 32),
            application_token: application_token(),
            client_id: random_string(LETTERS, 24),
            client_secret: random_string(SECRET_CHARS, 100),
        }
    }

    pub fn load(paths: &Paths) -> Result<Option<Self>> {
        read_json(&paths.secrets_file())
    }

    /// The stack's secrets, generated and saved (0600) at the first call.
    pub fn load_or_create(paths: &Paths) -> Result<Self> {
        if let Some(secrets) = Self::load(paths)? {
            return Ok(secrets);
        }
        let secrets = Self::generate();
        write_json(&paths.secrets_file(), &secrets, true)?;
        Ok(secrets)
    }
}

/// An application token shaped like Astra's: `AstraCS:` + 24 letters + `:` + 64 lowercase hex.
pub fn application_token() -> String {
    format!(
        "AstraCS:{}:{}",
        random_string(LETTERS, 24),
        random_string(LOWER_HEX, 64)
    )
}

/// `path` parsed as JSON, or `None` when the file does not exist.
pub fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<Option<T>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", path)(e)),
    }
}

/// Writes `value` as pretty JSON, atomically (a temporary file renamed over `path`).
pub fn write_json<T: Serialize>(path: &Path, value: &T, secret: bool) -> Result<()> {
    let mut text = serde_json::to_vec_pretty(value).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    text.push(b'\n');
    write_file(path, &text, secret)
}

/// Writes `bytes` to `path` atomically; `secret` files get mode 0600 from the start.
pub fn write_file(path: &Path, bytes: &[u8], secret: bool) -> Result<()> {
    if let Some(parent) = path.parent() {
        create_dir(parent)?;
    }
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    if secret {
        options.mode(0o600);
    }
    let mut file = options.open(&tmp).map_err(Error::io("create", &tmp))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(Error::io("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(Error::io("rename into place", path))
}

pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(Error::io("create directory", dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_token_has_astras_shape() {
        let token = application_token();
        let parts: Vec<&str> = token.split(':').collect();
        assert_eq!(parts.len(), 3, "{token}");
        assert_eq!(parts[0], "AstraCS");
        assert_eq!(parts[1].len(), 24);
        assert!(parts[1].chars().all(|c| c.is_ascii_alphabetic()));
        assert_eq!(parts[2].len(), 64);
        assert!(parts[2].chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
    }

    #[test]
    fn generated_secrets_are_safe_unquoted_and_never_debug_printed() {
        let secrets = Secrets::generate();
        assert_eq!(secrets.client_id.len(), 24);
        assert_eq!(secrets.client_secret.len(), 100);
        for value in [
            &secrets.cassandra_password,
            &secrets.client_secret,
            &secrets.application_token,
        ] {
            assert!(
                value.chars().all(|c| c.is_ascii_alphanumeric() || ",.-_:".contains(c)),
                "{value}"
            );
        }
        let shown = format!("{secrets:?}");
        assert!(!shown.contains(&secrets.client_secret) && !shown.contains(&secrets.application_token));
    }

    #[test]
    fn secrets_file_is_private_and_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = Paths::new(dir.path());
        let first = Secrets::load_or_create(&paths).expect("create");
        let second = Secrets::load_or_create(&paths).expect("load");
        assert_eq!(first, second);
        let mode = std::fs::metadata(paths.secrets_file()).expect("stat").permissions();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777, 0o600);
    }
}

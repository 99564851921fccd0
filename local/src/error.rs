//! The one error type of the stack's own machinery (state, downloads, processes, bootstrap).
//! Every message names what to fix: the file, port, component or command.

use std::path::PathBuf;

/// Results of the stack's machinery.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} is not valid JSON ({source}): fix or delete it", path.display())]
    Json {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },

    #[error("the local stack in {} was never set up: run `scripts/astra-local up` first", dir.display())]
    NotSetUp { dir: PathBuf },

    #[error(
        "port {port} ({purpose}) is already in use by {holder}: stop it, or choose another port (see `astra-local up --help`)"
    )]
    PortBusy {
        port: u16,
        purpose: &'static str,
        holder: String,
    },

    #[error("{0}")]
    Java(String),

    #[error("Maven could not fetch {what} (log: {}):\n{tail}", log.display())]
    Maven { what: String, log: PathBuf, tail: String },

    #[error("download of {url} failed: {reason}")]
    Download { url: String, reason: String },

    #[error("{component} failed to start: {reason}\n--- last lines of {} ---\n{tail}", log.display())]
    StartFailed {
        component: &'static str,
        reason: String,
        log: PathBuf,
        tail: String,
    },

    #[error("cannot start {component}: {reason}")]
    Spawn { component: &'static str, reason: String },

    #[error("{component} did not stop: {reason}")]
    Stop { component: &'static str, reason: String },

    #[error("Cassandra: {0}")]
    Cql(String),

    #[error("Pulsar: {0}")]
    Pulsar(String),

    #[error("front door: {0}")]
    FrontDoor(String),

    #[error("{0}")]
    Config(String),
}

impl Error {
    /// An I/O error on `path`; `action` reads as "cannot <action> <path>".
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { action, path, source }
    }
}

/// An error and its causes on one line ("a: b: c").
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

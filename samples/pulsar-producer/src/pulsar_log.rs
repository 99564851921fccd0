//! The `pulsar` crate tells *why* a connection failed only in its log. What `build()` returns is
//! the same for a wrong token, a certificate from an unknown CA and a certificate for another host
//! name: "fatal error when connecting to the Pulsar server". The cause is one `log` record, e.g.
//! `connection error, not retryable: [PulsarError(Some(AuthenticationError), …)]`.
//!
//! So this sample installs a small `log` logger of its own that
//! - keeps the last warning or error of the crate's connection module, for [`last_connection_error`];
//! - passes the crate's records on to `tracing` (target `pulsar`), where `RUST_LOG=pulsar=debug`
//!   shows them. Never TRACE: at that level the crate prints the CONNECT frame, token included.
//!
//! Copy this file if you use the `pulsar` crate in your own program.

use std::sync::Mutex;

use tracing::level_filters::LevelFilter;

/// The crate's module that logs the cause of a failed connection.
const CONNECTION_TARGET: &str = "pulsar::connection";

struct PulsarLog {
    last_connection_error: Mutex<Option<String>>,
}

static LOGGER: PulsarLog = PulsarLog {
    last_connection_error: Mutex::new(None),
};

/// Installs the logger. Call it after the `tracing` subscriber is set, so that the level passed
/// on follows `RUST_LOG`; warnings and errors are always seen (they carry the causes).
pub fn install() {
    if log::set_logger(&LOGGER).is_err() {
        tracing::warn!("another `log` logger is installed: connection errors will be less specific");
        return;
    }
    let shown = LevelFilter::current();
    let max = if shown >= LevelFilter::DEBUG {
        log::LevelFilter::Debug
    } else if shown >= LevelFilter::INFO {
        log::LevelFilter::Info
    } else {
        log::LevelFilter::Warn
    };
    log::set_max_level(max);
}

/// Forgets the cause of an earlier failure (call it before connecting).
pub fn clear() {
    *lock() = None;
}

/// The last warning or error the crate logged about a connection, if any.
pub fn last_connection_error() -> Option<String> {
    lock().clone()
}

fn lock() -> std::sync::MutexGuard<'static, Option<String>> {
    // A panic elsewhere while holding the lock leaves a usable value behind.
    LOGGER
        .last_connection_error
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl log::Log for PulsarLog {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.target().starts_with("pulsar") && metadata.level() <= log::Level::Debug
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let text = record.args().to_string();
        if record.target() == CONNECTION_TARGET && record.level() <= log::Level::Warn {
            *lock() = Some(text.clone());
        }
        let module = record.target();
        match record.level() {
            log::Level::Error => tracing::error!(target: "pulsar", module, "{text}"),
            log::Level::Warn => tracing::warn!(target: "pulsar", module, "{text}"),
            log::Level::Info => tracing::info!(target: "pulsar", module, "{text}"),
            log::Level::Debug => tracing::debug!(target: "pulsar", module, "{text}"),
            log::Level::Trace => {}
        }
    }

    fn flush(&self) {}
}

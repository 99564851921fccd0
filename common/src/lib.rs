//! What every astra-rust-samples program shares, and nothing more.
//!
//! - [`settings`]: read one variable from the environment or `.env`, with errors that say what the
//!   variable is for and where to get it.
//! - [`Token`]: a secret that never prints itself.
//! - [`bundle`]: the secure connect bundle, opened in memory.
//! - [`metadata`]: the bundle's metadata service (where the CQL proxy is).
//! - [`endpoints`]: Astra URLs from a database id and region, or explicit self-hosted URLs.
//! - [`http`]: one HTTP client for every REST-style sample, with timeouts and bounded retries.

pub mod bundle;
pub mod endpoints;
pub mod http;
pub mod metadata;
pub mod settings;
mod token;

pub use settings::{SettingError, Var};
pub use token::Token;

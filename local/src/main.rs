//! `astra-local`: a local Astra-compatible stack (see local/README.md).
//!
//! Module map (one module per component, named for it):
//! - `processes`: fetching, configuring, starting and stopping the JVMs (Cassandra, Pulsar).
//! - `cassandra`: the one place that owns the driver session and CQL (bootstrap: roles, keyspace).
//! - `pulsar`: Pulsar's JWT secret and tokens, TLS config keys, tenant/namespace set-up.
//! - `pki`: the stack's CA, server and client certificates.
//! - `front_door`: Astra's secure-connect front door (SNI proxy, metadata service, bundle).

fn main() {}

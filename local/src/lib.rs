//! The `astra-local` library: the pieces of the local stack that the CLI (`main.rs`) drives and the
//! integration tests exercise directly.

pub mod cassandra;
pub mod devops;
pub mod error;
pub mod front_door;
pub mod gateway;
pub mod pki;
pub mod ports;
pub mod processes;
pub mod progress;
pub mod pulsar;
pub mod serve;
pub mod stack;
pub mod state;

//! The `astra-local` library: the pieces of the local stack that the CLI (`main.rs`) drives and the
//! integration tests exercise directly.

pub mod front_door;
pub mod gateway;
pub mod pki;

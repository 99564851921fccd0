//! `astra-local serve`: the stack's in-process servers (the secure-connect front door now; the
//! Stargate-compatible gateway and the DevOps contract server join later). `up` starts it
//! detached and writes what it serves into `serve.json`; it runs until SIGTERM or Ctrl-C.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result, chain};
use crate::front_door::{FrontDoor, FrontDoorConfig, Node};
use crate::pki::Pki;
use crate::state::{Paths, read_json, write_json};

/// `serve.json`, written by `up`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServeConfig {
    /// The `astra-local` binary that serves (path and modification time): a rebuilt binary is a
    /// changed configuration, so `up` restarts `serve` with the new code.
    #[serde(default)]
    pub binary: String,
    /// The folder of the stack's CA, server and client certificates.
    pub certs_dir: PathBuf,
    pub front_door: FrontDoorSettings,
}

/// The front door's part of `serve.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FrontDoorSettings {
    /// The SNI proxy's port (Astra: 29042) and the metadata service's (Astra: 29080), on 127.0.0.1.
    pub cql_port: u16,
    pub metadata_port: u16,
    /// The host of the bundle and of `sni_proxy_address`.
    pub proxy_host: String,
    /// The Cassandra nodes behind the proxy; the first is the default (for clients without SNI).
    pub nodes: Vec<NodeSettings>,
    /// The nodes' data center (`datacenter1` for a single node with SimpleSnitch).
    pub local_dc: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSettings {
    /// The node's `host_id` from `system.local`: the SNI drivers send for it.
    pub host_id: uuid::Uuid,
    /// The node's plain native CQL address.
    pub address: SocketAddr,
}

impl ServeConfig {
    pub fn load(paths: &Paths) -> Result<Option<Self>> {
        read_json(&paths.serve_config_file())
    }

    /// Writes `serve.json`; returns true when its content changed.
    pub fn save(&self, paths: &Paths) -> Result<bool> {
        let changed = Self::load(paths).ok().flatten().as_ref() != Some(self);
        if changed {
            write_json(&paths.serve_config_file(), self, false)?;
        }
        Ok(changed)
    }

    fn front_door_config(&self) -> FrontDoorConfig {
        let nodes = self
            .front_door
            .nodes
            .iter()
            .map(|n| Node {
                host_id: n.host_id,
                address: n.address,
            })
            .collect();
        let mut config = FrontDoorConfig::new(nodes);
        config.cql_listen = SocketAddr::from((Ipv4Addr::LOCALHOST, self.front_door.cql_port));
        config.metadata_listen = SocketAddr::from((Ipv4Addr::LOCALHOST, self.front_door.metadata_port));
        config.proxy_host = self.front_door.proxy_host.clone();
        config.local_dc = self.front_door.local_dc.clone();
        // The metadata's region is the DC name locally (cql-proxy drops peers of another region).
        config.region = self.front_door.local_dc.clone();
        config
    }
}

/// The path and modification time of `exe`, as recorded in [`ServeConfig::binary`].
pub fn binary_identity(exe: &Path) -> String {
    let modified = std::fs::metadata(exe)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis());
    format!("{} (modified {modified})", exe.display())
}

/// Runs every server of `serve.json` until SIGTERM or SIGINT.
pub async fn run(paths: &Paths) -> Result<()> {
    let config = ServeConfig::load(paths)?.ok_or_else(|| Error::NotSetUp {
        dir: paths.root.clone(),
    })?;
    let pki = Pki::load(&config.certs_dir).map_err(|e| Error::FrontDoor(chain(&e)))?;
    let front_door = FrontDoor::bind(config.front_door_config(), &pki)
        .await
        .map_err(|e| Error::FrontDoor(chain(&e)))?;
    tracing::info!(cql = %front_door.cql_addr(), metadata = %front_door.metadata_addr(), "front door ready");

    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| Error::Config(format!("cannot watch for SIGTERM: {e}")))?;
    tokio::select! {
        () = front_door.run() => {}
        _ = terminate.recv() => tracing::info!("SIGTERM: stopping"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT: stopping"),
    }
    Ok(())
}

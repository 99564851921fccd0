//! The metadata service named by a secure connect bundle.
//!
//! Astra drivers start here: an HTTPS `GET /metadata` to the bundle's `host:port`, trusting only
//! the bundle's CA and presenting the bundle's client certificate. The answer says where the CQL
//! proxy is (`sni_proxy_address`) and which nodes are behind it (`contact_points`, the nodes'
//! host ids, which drivers send as the TLS server name so the proxy can route to that node).

use std::time::Duration;

use serde::Deserialize;

use crate::bundle::SecureConnectBundle;

#[derive(Debug, Clone, Deserialize)]
pub struct Metadata {
    #[serde(default)]
    pub version: Option<u32>,
    #[serde(default)]
    pub region: Option<String>,
    pub contact_info: ContactInfo,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ContactInfo {
    /// Always `sni_proxy` on Astra.
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// The data center to prefer for requests.
    pub local_dc: String,
    /// The host ids of the nodes behind the proxy.
    pub contact_points: Vec<String>,
    /// `host:port` of the SNI proxy that every CQL connection goes to.
    pub sni_proxy_address: String,
}

#[derive(Debug, thiserror::Error)]
pub enum MetadataError {
    #[error("the bundle's certificates cannot be used for HTTPS: {0}. Download the bundle again.")]
    Tls(String),
    #[error(
        "cannot reach the metadata service at {url}: {reason}. Check your network, or that the database is active and the bundle belongs to it."
    )]
    Unreachable { url: String, reason: String },
    #[error(
        "the metadata service at {url} answered HTTP {status}. The bundle may belong to another (or a terminated) database."
    )]
    Status { url: String, status: u16 },
    #[error("the metadata service at {url} sent an answer that is not metadata: {reason}")]
    Malformed { url: String, reason: String },
}

/// Asks the bundle's metadata service where to connect. Bounded by `timeout`.
pub async fn fetch(bundle: &SecureConnectBundle, timeout: Duration) -> Result<Metadata, MetadataError> {
    let url = format!("https://{}:{}/metadata", bundle.config.host, bundle.config.port);
    let ca = reqwest::Certificate::from_pem(bundle.ca_pem()).map_err(|e| MetadataError::Tls(e.to_string()))?;
    let identity =
        reqwest::Identity::from_pem(&bundle.identity_pem()).map_err(|e| MetadataError::Tls(e.to_string()))?;
    // Trust only the bundle's CA (not the system's roots) and prove who we are with its certificate.
    let client = reqwest::Client::builder()
        .tls_certs_only([ca])
        .identity(identity)
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| MetadataError::Tls(e.to_string()))?;
    let response = client.get(&url).send().await.map_err(|e| MetadataError::Unreachable {
        url: url.clone(),
        reason: crate::http::error_chain(&e),
    })?;
    let status = response.status();
    if !status.is_success() {
        return Err(MetadataError::Status {
            url,
            status: status.as_u16(),
        });
    }
    let body = response.bytes().await.map_err(|e| MetadataError::Unreachable {
        url: url.clone(),
        reason: crate::http::error_chain(&e),
    })?;
    parse(&body).map_err(|reason| MetadataError::Malformed { url, reason })
}

fn parse(body: &[u8]) -> Result<Metadata, String> {
    let metadata: Metadata = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if !metadata.contact_info.sni_proxy_address.contains(':') {
        return Err("sni_proxy_address has no port".into());
    }
    Ok(metadata)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_astra_shaped_metadata() {
        let body = br#"{"version":1,"region":"us-east1","contact_info":{"type":"sni_proxy","local_dc":"us-east1",
            "contact_points":["2d414e60-4e33-4154-b38d-701d2d2f86ae"],"sni_proxy_address":"abc-us-east1.db.astra.datastax.com:29042"}}"#;
        let m = parse(body).unwrap();
        assert_eq!(m.contact_info.local_dc, "us-east1");
        assert_eq!(m.contact_info.contact_points.len(), 1);
        assert!(m.contact_info.sni_proxy_address.ends_with(":29042"));
    }

    #[test]
    fn rejects_a_proxy_address_without_port() {
        let body = br#"{"contact_info":{"local_dc":"dc1","contact_points":[],"sni_proxy_address":"localhost"}}"#;
        assert!(parse(body).unwrap_err().contains("no port"));
    }
}

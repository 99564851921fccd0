//! sample-devops-streaming: Astra Streaming through the DevOps API v2: the cloud providers and
//! regions where tenants can live, and the tenants of your organization. Only with `--apply` it
//! also creates a tenant and deletes it again.
//!
//! ```text
//! cargo run -p sample-devops-streaming                                   # providers, regions, tenants
//! cargo run -p sample-devops-streaming -- --apply --email you@example.com
//! cargo run -p sample-devops-streaming -- --apply --email you@example.com --cloud-provider aws --region useast2
//! ```
//!
//! `ASTRA_DB_APPLICATION_TOKEN`: an organization token whose role may manage Astra Streaming
//! (Organization Administrator does). `ASTRA_DEVOPS_URL`: unset for Astra;
//! `scripts/astra-local env` gives the local contract server's. Settings come from the
//! environment or `.env`. Walkthrough: samples/devops-streaming/README.md.

use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use clap::Parser;
use common::http::{self, HttpError};
use common::{Token, endpoints, settings};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::Deserialize;

/// The permission the streaming endpoints need, as Astra's role editor names it.
const STREAMING_PERMISSION: &str = "Manage Streaming";

#[derive(Parser)]
#[command(
    about = "List Astra Streaming providers, regions and tenants with the DevOps API; with --apply, create and delete a tenant."
)]
struct Args {
    /// Also create a tenant and delete it again.
    #[arg(long)]
    apply: bool,
    /// With --apply: the new tenant's name (lowercase letters, digits and dashes, starting with a
    /// letter; unique across all of Astra Streaming) [default: rust-sample-<random>].
    #[arg(long, value_parser = tenant_name)]
    tenant: Option<String>,
    /// With --apply: the cloud provider, in lowercase.
    #[arg(long, default_value = "gcp", value_parser = ["aws", "gcp", "azure"])]
    cloud_provider: String,
    /// With --apply: the streaming region, written without dashes (useast1, not us-east1).
    #[arg(long, default_value = "useast1")]
    region: String,
    /// With --apply: the e-mail address Astra associates with the tenant (required with --apply).
    #[arg(long)]
    email: Option<String>,
    /// Seconds to wait for any one answer of the API.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=300))]
    timeout: u64,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // `common=warn` shows the HTTP client's "retrying" lines.
                .unwrap_or_else(|_| "sample_devops_streaming=info,common=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // One TLS stack for the whole program: rustls with the aws-lc-rs crypto provider.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let args = Args::parse();
    match run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line: what failed, then why ("a: b: c").
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    settings::load_dotenv()?;
    let started = Instant::now();
    if args.apply && args.email.is_none() {
        bail!("--apply needs --email: Astra associates the new tenant with that address");
    }
    let api = DevOps {
        client: http::client("sample-devops-streaming")?,
        base: endpoints::devops_url()?,
        token: settings::token(settings::ASTRA_DB_APPLICATION_TOKEN)?,
        timeout: Duration::from_secs(args.timeout),
    };
    println!("DevOps API: {}", api.base);

    // 1. Where tenants can be created.
    list_providers_and_regions(&api).await?;
    // 2. The tenants of the organization.
    list_tenants(&api).await?;

    let Some(email) = args.email.as_deref().filter(|_| args.apply) else {
        println!("Read-only run: nothing was changed (--apply --email <address> creates a tenant and deletes it).");
        println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
        return Ok(());
    };

    // 3. The organization id goes into the create request.
    let org_id = current_organization(&api).await?;
    // 4. A new tenant, then 5. deleted again.
    let name = args.tenant.clone().unwrap_or_else(random_tenant_name);
    let cluster = create_tenant(&api, &args, &name, email, &org_id).await?;
    delete_tenant(&api, &name, &cluster).await?;
    println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The steps

/// Prints each cloud provider with its streaming regions. Streaming region names have no dashes
/// (`useast1`), unlike the database regions of the same clouds (`us-east1`).
async fn list_providers_and_regions(api: &DevOps) -> anyhow::Result<()> {
    let call = Call {
        what: "list the streaming providers",
        subject: None,
    };
    let providers: std::collections::BTreeMap<String, Vec<String>> =
        api.get_json(&call, api.url(&["v2", "streaming", "providers"])?).await?;
    println!("Streaming regions by provider:");
    for (provider, regions) in &providers {
        println!("  {provider:<6} {}", regions.join(", "));
    }
    Ok(())
}

/// Prints the tenants with where they run and the URLs clients connect to. Each tenant's
/// answer also carries a Pulsar token: it is not read here, so it cannot be printed.
async fn list_tenants(api: &DevOps) -> anyhow::Result<()> {
    let call = Call {
        what: "list the tenants",
        subject: None,
    };
    let tenants: Vec<Tenant> = api.get_json(&call, api.url(&["v2", "streaming", "tenants"])?).await?;
    println!("{} tenant(s):", tenants.len());
    for tenant in &tenants {
        println!(
            "  {:<24} {} {} on {} ({}, plan {})",
            tenant.tenant_name,
            tenant.cloud_provider.as_deref().unwrap_or("-"),
            tenant.cloud_region.as_deref().unwrap_or("-"),
            tenant.cluster_name.as_deref().unwrap_or("-"),
            tenant.status.as_deref().unwrap_or("-"),
            tenant.plan.as_deref().unwrap_or("-"),
        );
        if let (Some(broker), Some(web)) = (&tenant.broker_service_url, &tenant.web_service_url) {
            println!("  {:<24} broker {broker}, admin {web}", "");
        }
    }
    Ok(())
}

/// The id of the token's organization.
async fn current_organization(api: &DevOps) -> anyhow::Result<String> {
    let call = Call {
        what: "read the current organization",
        subject: None,
    };
    let org: Organization = api.get_json(&call, api.url(&["v2", "currentOrg"])?).await?;
    println!("Organization: {}", org.id);
    Ok(org.id)
}

/// Creates a tenant, with its `default` namespace and a Pulsar token. Returns the cluster it
/// landed on, which deleting it needs.
async fn create_tenant(api: &DevOps, args: &Args, name: &str, email: &str, org_id: &str) -> anyhow::Result<String> {
    let call = Call {
        what: "create a tenant",
        subject: None,
    };
    let body = serde_json::json!({
        "tenantName": name,
        "cloudProvider": args.cloud_provider,
        "cloudRegion": args.region,
        "userEmail": email,
        "orgID": org_id,
        // The organization's name field takes its id, as Astra's own tools send it.
        "orgName": org_id,
    });
    let request = api
        .request(Method::POST, api.url(&["v2", "streaming", "tenants"])?)
        .json(&body);
    let response = match api.try_send_once(request).await {
        Ok(response) => response,
        Err(e) if e.status() == Some(StatusCode::CONFLICT) => {
            return Err(explain(e, &call).context(format!(
                "tenant names are unique across Astra Streaming: {name} is taken, choose another with --tenant"
            )));
        }
        Err(e) if args.region.contains('-') && e.status().is_some_and(|s| s.is_client_error()) => {
            return Err(explain(e, &call).context(format!(
                "streaming regions have no dashes: try --region {}",
                args.region.replace('-', "")
            )));
        }
        Err(e) => return Err(explain(e, &call)),
    };
    let tenant: Tenant = response.json().await.context("cannot read the new tenant")?;
    let cluster = tenant
        .cluster_name
        .context("the API created the tenant but did not say on which cluster")?;
    println!(
        "Created tenant {name} on cluster {cluster} (namespace {}).",
        tenant.namespace.as_deref().unwrap_or("default")
    );
    if let Some(broker) = &tenant.broker_service_url {
        println!(
            "  broker {broker}, admin {}",
            tenant.web_service_url.as_deref().unwrap_or("-")
        );
    }
    println!("  (the answer also holds the tenant's Pulsar token: not printed)");
    Ok(cluster)
}

/// Deletes the tenant from its cluster. The API answers 202: deletion goes on in the background.
async fn delete_tenant(api: &DevOps, name: &str, cluster: &str) -> anyhow::Result<()> {
    let call = Call {
        what: "delete the tenant",
        subject: Some(format!("tenant {name} on cluster {cluster}")),
    };
    let url = api.url(&["v2", "streaming", "tenants", name, "clusters", cluster])?;
    // DELETE is idempotent: common's client may retry it on 429/5xx.
    http::send_checked(api.request(Method::DELETE, url))
        .await
        .map_err(|e| explain(e, &call))?;
    println!("Deleting tenant {name}.");
    Ok(())
}

/// `rust-sample-` and 8 hex digits: tenant names are unique across all of Astra Streaming.
fn random_tenant_name() -> String {
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!(
        "rust-sample-{:08x}",
        (nanos ^ u128::from(std::process::id())) & 0xffff_ffff
    )
}

/// Lowercase letters, digits and dashes, starting with a letter.
fn tenant_name(name: &str) -> Result<String, String> {
    let ok = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(name.to_owned())
    } else {
        Err("lowercase letters, digits and dashes, starting with a letter".into())
    }
}

// ---------------------------------------------------------------------------------------------
// The API's JSON (only the fields this sample reads; the rest, such as `pulsarToken`, is ignored)

#[derive(Debug, Deserialize)]
struct Organization {
    id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Tenant {
    tenant_name: String,
    cluster_name: Option<String>,
    cloud_provider: Option<String>,
    cloud_region: Option<String>,
    plan: Option<String>,
    status: Option<String>,
    namespace: Option<String>,
    broker_service_url: Option<String>,
    web_service_url: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Talking to the DevOps API

/// The API's base URL and the token, with the rules every call follows: bearer token, a
/// timeout per answer, retries for reads only.
struct DevOps {
    client: reqwest::Client,
    base: Url,
    token: Token,
    timeout: Duration,
}

/// What a call does, for error messages, and the thing it names (named on 404).
struct Call {
    what: &'static str,
    subject: Option<String>,
}

impl DevOps {
    /// `base` + the path segments, each percent-encoded: a name cannot change the path.
    fn url(&self, segments: &[&str]) -> anyhow::Result<Url> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| anyhow::anyhow!("ASTRA_DEVOPS_URL cannot have a path appended: {}", self.base))?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        self.client
            .request(method, url)
            .bearer_auth(self.token.expose())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(self.timeout)
    }

    /// A GET, retried on 429 and 502–504 (reads are safe to repeat), parsed as JSON.
    async fn get_json<T: for<'de> Deserialize<'de>>(&self, call: &Call, url: Url) -> anyhow::Result<T> {
        let response = http::send_checked(self.request(Method::GET, url))
            .await
            .map_err(|e| explain(e, call))?;
        response
            .json()
            .await
            .with_context(|| format!("cannot {}: the answer is not the expected JSON", call.what))
    }

    /// A POST: sent once, never retried (a retried create could create twice).
    async fn try_send_once(&self, request: RequestBuilder) -> Result<reqwest::Response, HttpError> {
        http::check(http::send_once(request).await?).await
    }
}

/// The HTTP error, plus what this sample knows: the permission the calls need (403) and the
/// tenant it named (404).
fn explain(error: HttpError, call: &Call) -> anyhow::Error {
    let known = match (error.status(), &call.subject) {
        (Some(StatusCode::FORBIDDEN), _) => {
            format!(
                " (to {} the token's role needs the {STREAMING_PERMISSION:?} permission)",
                call.what
            )
        }
        (Some(StatusCode::NOT_FOUND), Some(subject)) => format!(" (there is no {subject} in this organization)"),
        _ => String::new(),
    };
    anyhow::anyhow!("cannot {}: {error}{known}", call.what)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn tenant_names_follow_the_rule() {
        assert!(tenant_name("rust-sample-1").is_ok());
        assert!(tenant_name("1abc").is_err());
        assert!(tenant_name("Upper").is_err());
        assert!(tenant_name("under_score").is_err());
        let generated = random_tenant_name();
        assert!(tenant_name(&generated).is_ok(), "{generated}");
        assert_eq!(generated.len(), "rust-sample-".len() + 8);
    }

    #[test]
    fn the_pulsar_token_is_never_read() {
        let body = r#"{"tenantName":"t","pulsarToken":"eyJsecret","clusterName":"c"}"#;
        let tenant: Tenant = serde_json::from_str(body).unwrap();
        assert!(!format!("{tenant:?}").contains("eyJsecret"));
    }
}

//! sample-pulsar-admin: administer an Astra Streaming tenant through the Pulsar admin REST API v2
//! with `reqwest` and the tenant's token: list the tenant's namespaces and a namespace's topics,
//! create a partitioned topic, read its stats (rates, subscriptions, backlog), and delete it.
//!
//! ```text
//! cargo run -p sample-pulsar-admin                     # the whole tour, 2 partitions
//! cargo run -p sample-pulsar-admin -- --partitions 4
//! cargo run -p sample-pulsar-admin -- --keep           # leave the topic in place
//! ```
//!
//! Variables: `ASTRA_STREAMING_WEB_URL` (https://…), `ASTRA_STREAMING_TOKEN`,
//! `ASTRA_STREAMING_TENANT`, `ASTRA_STREAMING_NAMESPACE`, and for the local stack only
//! `ASTRA_STREAMING_CA_PATH`. Settings come from the environment or `.env`.
//! Walkthrough: samples/pulsar-admin/README.md.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use common::http::{self, HttpError};
use common::{Token, settings};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The subscription the tour creates on its topic, so that the stats have one to show.
const SUBSCRIPTION: &str = "sample-pulsar-admin";
/// How many topic names are printed (the rest are counted).
const SHOWN_TOPICS: usize = 10;

#[derive(Parser)]
#[command(
    about = "Tour the Pulsar admin REST API of an Astra Streaming tenant: namespaces, topics, a partitioned topic and its stats."
)]
struct Args {
    /// How many partitions the tour's topic gets.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=32))]
    partitions: u32,
    /// Keep the topic at the end instead of deleting it (to look at it in the Astra Portal).
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "sample_pulsar_admin=info".into()),
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
    let admin = Admin::from_env()?;
    println!(
        "Web service: {} (tenant {}, namespace {}).",
        admin.web_url, admin.tenant, admin.namespace
    );

    // 1–2. Look around: the tenant's namespaces, the namespace's topics.
    list_namespaces(&admin).await?;
    list_topics(&admin).await?;

    // 3. A new partitioned topic, with a name of its own so that runs never collide.
    let topic = format!(
        "sample-pulsar-admin-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    create_partitioned_topic(&admin, &topic, args.partitions).await?;

    // 4–5. Give it a subscription and read its stats; then 6. delete it, whatever happened.
    let outcome = async {
        create_subscription(&admin, &topic).await?;
        print_stats(&admin, &topic).await
    }
    .await;
    if args.keep {
        outcome?;
        println!("Kept {} (--keep).", admin.full_name(&topic));
    } else {
        let deleted = delete_topic(&admin, &topic).await;
        outcome?;
        deleted?;
    }

    println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// The admin API of one tenant and namespace: a base URL, a token, and one HTTP client.
struct Admin {
    http: reqwest::Client,
    /// The web service URL, without a trailing slash.
    web_url: String,
    token: Token,
    tenant: String,
    namespace: String,
}

impl Admin {
    fn from_env() -> anyhow::Result<Self> {
        let var = settings::ASTRA_STREAMING_WEB_URL;
        let url = settings::url(var, &["https", "http"])?;
        let host = url.host_str().unwrap_or_default();
        if url.scheme() == "http" && !is_loopback(host) {
            // The token is a bearer token: whoever reads it off the wire can use it.
            bail!(
                "{} is a plain http:// URL to {host}: the token would cross the network unencrypted, where anyone \
                 on the path can read and reuse it. Use the https:// web service URL from the tenant's Connect tab; \
                 http:// is accepted only to this machine (localhost, 127.0.0.1, ::1).",
                var.name
            );
        }
        let web_url = url.as_str().trim_end_matches('/').to_owned();
        let token = settings::token(settings::ASTRA_STREAMING_TOKEN)?;
        let tenant = name(settings::ASTRA_STREAMING_TENANT)?;
        let namespace = name(settings::ASTRA_STREAMING_NAMESPACE)?;

        // Astra's certificates chain to public roots; the local stack's to its own CA.
        let http = match settings::optional_file(settings::ASTRA_STREAMING_CA_PATH)? {
            Some(path) => {
                let pem = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
                http::client_with_ca("sample-pulsar-admin", &pem)
                    .with_context(|| format!("ASTRA_STREAMING_CA_PATH ({})", path.display()))?
            }
            None => http::client("sample-pulsar-admin")?,
        };
        Ok(Self {
            http,
            web_url,
            token,
            tenant,
            namespace,
        })
    }

    /// A request to `/admin/v2/{path}` with the token. Pulsar takes it as a bearer token, the
    /// same JWT the broker accepts from clients.
    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http
            .request(method, format!("{}/admin/v2/{path}", self.web_url))
            .bearer_auth(self.token.expose())
    }

    /// `persistent/{tenant}/{namespace}`: where the namespace's persistent topics live.
    fn topics_path(&self) -> String {
        format!("persistent/{}/{}", self.tenant, self.namespace)
    }

    fn full_name(&self, topic: &str) -> String {
        format!("persistent://{}/{}/{topic}", self.tenant, self.namespace)
    }

    /// GET `path` and parse the JSON answer; `what` says what failed in the error.
    async fn get_json<T: DeserializeOwned>(&self, path: &str, what: &str) -> anyhow::Result<T> {
        let response = http::send_checked(self.request(Method::GET, path))
            .await
            .map_err(|e| explain(e, what))?;
        response
            .json()
            .await
            .with_context(|| format!("cannot {what}: the answer is not the expected JSON"))
    }
}

fn name(var: settings::Var) -> anyhow::Result<String> {
    let value = settings::required(var)?;
    if !value.chars().all(|c| c.is_ascii_alphanumeric() || "-_.=:".contains(c)) {
        let reason = "a Pulsar name has only letters, digits and - _ . = :".into();
        return Err(settings::SettingError::Malformed { var, reason }.into());
    }
    Ok(value)
}

fn is_loopback(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost") || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// Says what a failed call means. Pulsar answers 401 both to a token it does not accept and to a
/// role that may not do this (then with a JSON `reason` such as "Unauthorized to
/// validateTenantOperation…"); it answers 403 to some of the latter too.
fn explain(error: HttpError, what: &str) -> anyhow::Error {
    if let HttpError::Unreachable { url, reason } = &error
        && let Some(hint) = tls_hint(reason)
    {
        return anyhow::anyhow!("cannot {what}: {hint} ({url}: {reason})");
    }
    let HttpError::Status {
        method,
        url,
        status,
        message,
        ..
    } = &error
    else {
        return anyhow::Error::new(error).context(format!("cannot {what}"));
    };
    let forbidden = *status == StatusCode::FORBIDDEN
        || message.contains("Unauthorized to")
        || message.to_lowercase().contains("not authorized");
    if forbidden {
        return anyhow::anyhow!(
            "cannot {what}: the token is valid, but its role is not allowed to do this ({method} {url}: HTTP \
             {status}: {message}). On Astra use a token of this tenant (Astra Portal → Streaming → tenant → \
             Settings), which administers the tenant; on a self-managed Pulsar make the role an admin of the tenant"
        );
    }
    if *status == StatusCode::UNAUTHORIZED {
        return anyhow::anyhow!(
            "cannot {what}: authentication failed: the web service rejected ASTRA_STREAMING_TOKEN (wrong, expired, \
             or from another tenant or cluster). Create a token on the tenant's Settings tab in the Astra Portal, or \
             run `scripts/astra-local env` for the local stack ({method} {url}: HTTP {status})"
        );
    }
    anyhow::Error::new(error).context(format!("cannot {what}"))
}

/// What to do about a TLS failure, from rustls's reason.
fn tls_hint(reason: &str) -> Option<&'static str> {
    if reason.contains("UnknownIssuer") || reason.contains("BadSignature") {
        Some(
            "the web service's TLS certificate is not signed by a CA this program trusts: Astra's chain to public \
             roots (leave ASTRA_STREAMING_CA_PATH empty); for the local stack set ASTRA_STREAMING_CA_PATH to its CA \
             (`scripts/astra-local env`)",
        )
    } else if reason.contains("NotValidForName") || reason.contains("not valid for name") {
        Some(
            "the web service's TLS certificate is not issued for the host in ASTRA_STREAMING_WEB_URL: copy the URL \
             exactly from the tenant's Connect tab (local stack: localhost or 127.0.0.1)",
        )
    } else {
        None
    }
}

/// `GET /admin/v2/namespaces/{tenant}`: the tenant's namespaces, as `tenant/namespace`.
async fn list_namespaces(admin: &Admin) -> anyhow::Result<()> {
    let what = format!("list the namespaces of tenant {}", admin.tenant);
    let namespaces: Vec<String> = admin.get_json(&format!("namespaces/{}", admin.tenant), &what).await?;
    println!(
        "Namespaces of tenant {} ({}): {}",
        admin.tenant,
        namespaces.len(),
        namespaces.join(", ")
    );
    Ok(())
}

/// `GET /admin/v2/persistent/{tenant}/{namespace}` lists every topic, each partition of a
/// partitioned topic as its own topic (`…-partition-0`); `…/partitioned` lists the partitioned
/// topics themselves.
async fn list_topics(admin: &Admin) -> anyhow::Result<()> {
    let what = format!("list the topics of {}/{}", admin.tenant, admin.namespace);
    let all: Vec<String> = admin.get_json(&admin.topics_path(), &what).await?;
    let partitioned: Vec<String> = admin
        .get_json(&format!("{}/partitioned", admin.topics_path()), &what)
        .await?;
    let mut topics: Vec<String> = all.into_iter().filter(|t| !t.contains("-partition-")).collect();
    topics.extend(partitioned.iter().map(|t| format!("{t} (partitioned)")));
    topics.sort();
    topics.dedup();
    println!(
        "Topics in {}/{} ({}, {} partitioned):",
        admin.tenant,
        admin.namespace,
        topics.len(),
        partitioned.len()
    );
    for topic in topics.iter().take(SHOWN_TOPICS) {
        println!("  {topic}");
    }
    if topics.len() > SHOWN_TOPICS {
        println!("  … and {} more", topics.len() - SHOWN_TOPICS);
    }
    Ok(())
}

/// The answer of `GET …/{topic}/partitions`.
#[derive(Deserialize)]
struct PartitionsMetadata {
    partitions: u32,
}

/// `PUT …/{topic}/partitions` with the partition count as the JSON body creates a partitioned
/// topic: one logical topic spread over `partitions` topics, each served by one broker. Then a
/// second request checks what the broker recorded.
async fn create_partitioned_topic(admin: &Admin, topic: &str, partitions: u32) -> anyhow::Result<()> {
    let what = format!("create topic {}", admin.full_name(topic));
    let path = format!("{}/{topic}/partitions", admin.topics_path());
    http::send_checked(admin.request(Method::PUT, &path).json(&partitions))
        .await
        .map_err(|e| explain(e, &what))?;
    let metadata: PartitionsMetadata = admin
        .get_json(&path, &format!("read back {}", admin.full_name(topic)))
        .await?;
    println!(
        "Created partitioned topic {} with {partitions} partitions (the broker reports {}).",
        admin.full_name(topic),
        metadata.partitions
    );
    if metadata.partitions != partitions {
        bail!(
            "the broker reports {} partitions for the new topic, not {partitions}",
            metadata.partitions
        );
    }
    Ok(())
}

/// `PUT …/{topic}/subscription/{name}` creates a subscription without a consumer: from now on,
/// the topic keeps every message until this subscription acknowledges it.
async fn create_subscription(admin: &Admin, topic: &str) -> anyhow::Result<()> {
    let what = format!("create subscription {SUBSCRIPTION:?} on {}", admin.full_name(topic));
    let path = format!("{}/{topic}/subscription/{SUBSCRIPTION}", admin.topics_path());
    http::send_checked(admin.request(Method::PUT, &path))
        .await
        .map_err(|e| explain(e, &what))?;
    println!("Created subscription {SUBSCRIPTION:?} on it.");
    Ok(())
}

/// The parts of Pulsar's `TopicStats` this sample prints. Absent fields read as zero.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct TopicStats {
    msg_rate_in: f64,
    msg_rate_out: f64,
    msg_throughput_in: f64,
    msg_throughput_out: f64,
    storage_size: u64,
    backlog_size: u64,
    publishers: Vec<serde_json::Value>,
    subscriptions: BTreeMap<String, SubscriptionStats>,
    /// Only in partitioned stats with `perPartition=true`: each partition's own stats.
    partitions: BTreeMap<String, TopicStats>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct SubscriptionStats {
    msg_backlog: u64,
    msg_rate_out: f64,
    unacked_messages: u64,
    #[serde(rename = "type")]
    kind: Option<String>,
    consumers: Vec<serde_json::Value>,
}

/// `GET …/{topic}/partitioned-stats` adds up the partitions' stats (`perPartition=true` also
/// lists them one by one). Rates are per second, averaged over the broker's last stats period
/// (one minute by default); backlog is what a subscription has not acknowledged yet.
async fn print_stats(admin: &Admin, topic: &str) -> anyhow::Result<()> {
    let what = format!("read the stats of {}", admin.full_name(topic));
    let path = format!("{}/{topic}/partitioned-stats?perPartition=true", admin.topics_path());
    let stats: TopicStats = admin.get_json(&path, &what).await?;
    println!("Stats of {}:", admin.full_name(topic));
    println!(
        "  rates: in {:.1} msg/s ({:.0} B/s), out {:.1} msg/s ({:.0} B/s); {} producer(s); storage {} B, backlog {} B",
        stats.msg_rate_in,
        stats.msg_throughput_in,
        stats.msg_rate_out,
        stats.msg_throughput_out,
        stats.publishers.len(),
        stats.storage_size,
        stats.backlog_size,
    );
    for (name, sub) in &stats.subscriptions {
        println!(
            "  subscription {name:?} ({}): backlog {} message(s), {} unacknowledged, {} consumer(s), out {:.1} msg/s",
            // The type is the one its consumers asked for; without a consumer yet, Pulsar says "None".
            match sub.kind.as_deref() {
                None | Some("None") => "no type until a consumer attaches",
                Some(kind) => kind,
            },
            sub.msg_backlog,
            sub.unacked_messages,
            sub.consumers.len(),
            sub.msg_rate_out
        );
    }
    for (partition, part) in &stats.partitions {
        let backlog: u64 = part.subscriptions.values().map(|s| s.msg_backlog).sum();
        println!(
            "  partition {partition}: in {:.1} msg/s, backlog {backlog} message(s)",
            part.msg_rate_in
        );
    }
    Ok(())
}

/// `DELETE …/{topic}/partitions` deletes the topic with all its partitions and subscriptions.
/// It fails (412) while producers or consumers are attached, unless `force=true` is added. Then
/// a second request checks that the topic is gone.
async fn delete_topic(admin: &Admin, topic: &str) -> anyhow::Result<()> {
    let full_name = admin.full_name(topic);
    let path = format!("{}/{topic}/partitions", admin.topics_path());
    http::send_checked(admin.request(Method::DELETE, &path))
        .await
        .map_err(|e| explain(e, &format!("delete topic {full_name}")))?;

    let what = format!("check that {full_name} is gone");
    let partitioned: Vec<String> = admin
        .get_json(&format!("{}/partitioned", admin.topics_path()), &what)
        .await?;
    if partitioned.contains(&full_name) {
        bail!("{full_name} is still listed after its deletion");
    }
    println!("Deleted {full_name}; it is no longer listed.");
    Ok(())
}

//! sample-devops-db: manage Astra databases with the DevOps API v2. It lists the databases of
//! your organization with their status and shows one; only with `--apply` (on Astra a database
//! costs money) it also creates a database, waits until it is ACTIVE, adds a keyspace, gets the
//! secure connect bundle's download URL, and terminates the database again.
//!
//! ```text
//! cargo run -p sample-devops-db                            # list, and show the first database
//! cargo run -p sample-devops-db -- --database-id <uuid>    # list, and show that database
//! cargo run -p sample-devops-db -- --apply                 # also create … terminate (costs money on Astra)
//! ```
//!
//! `ASTRA_DB_APPLICATION_TOKEN`: an organization token whose role has `org-db-view` (and, for
//! `--apply`, `org-db-create`, `db-keyspace-create`, `db-cql`, `org-db-terminate`).
//! `ASTRA_DEVOPS_URL`: unset for Astra (https://api.astra.datastax.com); `scripts/astra-local env`
//! gives the local contract server's. Settings come from the environment or `.env`.
//! Walkthrough: samples/devops-db/README.md.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use common::http::{self, HttpError};
use common::{Token, endpoints, settings};
use reqwest::{Method, RequestBuilder, StatusCode, Url};
use serde::Deserialize;

/// The most pages `list_databases` reads (100 databases each at most): a bound, not a limit
/// anyone should meet.
const MAX_PAGES: usize = 50;
/// How often adding a keyspace is tried while the database answers "not in a valid state" (409).
const KEYSPACE_ATTEMPTS: u32 = 3;
/// States a database never leaves for ACTIVE: waiting for ACTIVE stops there.
const DEAD_END_STATES: [&str; 3] = ["ERROR", "TERMINATING", "TERMINATED"];

#[derive(Parser)]
#[command(
    about = "List and inspect Astra databases with the DevOps API; with --apply, create, poll, extend and terminate one."
)]
struct Args {
    /// Also create a database, wait until it is ACTIVE, add a keyspace, get its bundle URL and
    /// terminate it. On Astra this creates a real database, which costs money.
    #[arg(long)]
    apply: bool,
    /// The database to show [default: the first one listed].
    #[arg(long, value_name = "UUID")]
    database_id: Option<String>,
    /// With --apply: the new database's name.
    #[arg(long, default_value = "sample_devops_db", value_parser = database_name)]
    name: String,
    /// With --apply: where to create it.
    #[arg(long, default_value = "GCP", value_parser = ["AWS", "GCP", "AZURE"])]
    cloud_provider: String,
    /// With --apply: the cloud region, as the provider spells it (GCP us-east1, AWS us-east-1).
    #[arg(long, default_value = "us-east1")]
    region: String,
    /// With --apply: the keyspace to add once the database is ACTIVE.
    #[arg(long, default_value = "sample_ks", value_parser = keyspace_name)]
    keyspace: String,
    /// Databases per page when listing (the API allows 1 to 100).
    #[arg(long, default_value_t = 25, value_parser = clap::value_parser!(u32).range(1..=100))]
    page_size: u32,
    /// Seconds between two status checks while waiting for ACTIVE.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    poll_interval: u64,
    /// Seconds to wait for ACTIVE before giving up (creation takes minutes on Astra).
    #[arg(long, default_value_t = 1800, value_parser = clap::value_parser!(u64).range(1..=7200))]
    wait_timeout: u64,
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
                .unwrap_or_else(|_| "sample_devops_db=info,common=warn".into()),
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
    let api = DevOps {
        client: http::client("sample-devops-db")?,
        base: endpoints::devops_url()?,
        token: settings::token(settings::ASTRA_DB_APPLICATION_TOKEN)?,
        timeout: Duration::from_secs(args.timeout),
    };
    println!("DevOps API: {}", api.base);

    // 1. Every database of the organization, page by page.
    let databases = list_databases(&api, args.page_size).await?;

    // 2. One database in detail.
    match args
        .database_id
        .as_deref()
        .or(databases.first().map(|db| db.id.as_str()))
    {
        Some(id) => show_database(&api, id).await?,
        None => println!("No database to show."),
    }

    if !args.apply {
        println!(
            "Read-only run: nothing was changed (--apply creates and terminates a database; it costs money on Astra)."
        );
        println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
        return Ok(());
    }

    // 3. From here on, things are created: the database is terminated again whatever happens.
    let id = create_database(&api, &args).await?;
    let poll = Poll {
        interval: Duration::from_secs(args.poll_interval),
        timeout: Duration::from_secs(args.wait_timeout),
    };
    let tour = use_new_database(&api, &id, &args.keyspace, &poll).await;
    let terminated = terminate_database(&api, &id).await;
    match (tour, terminated) {
        (Ok(()), Ok(())) => {}
        (Ok(()), Err(e)) => {
            return Err(e.context(format!(
                "database {id} may still exist: terminate it in the Astra Portal"
            )));
        }
        (Err(e), Ok(())) => return Err(e),
        (Err(e), Err(t)) => {
            return Err(e.context(format!(
                "and terminating database {id} failed too ({t:#}): terminate it in the Astra Portal"
            )));
        }
    }
    println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Steps 4 to 6 on the new database: wait for ACTIVE, add a keyspace, get the bundle URL.
async fn use_new_database(api: &DevOps, id: &str, keyspace: &str, poll: &Poll) -> anyhow::Result<()> {
    wait_until_active(api, id, poll).await?;
    add_keyspace(api, id, keyspace, poll).await?;
    // Adding a keyspace takes the database through MAINTENANCE and back.
    wait_until_active(api, id, poll).await?;
    secure_bundle_url(api, id).await
}

// ---------------------------------------------------------------------------------------------
// The steps

/// Lists every database, following the pages: ask for `limit` databases, then for the ones
/// after the last id seen (`starting_after`), until a page comes back short.
async fn list_databases(api: &DevOps, page_size: u32) -> anyhow::Result<Vec<Database>> {
    let call = Call {
        what: "list databases",
        permission: "org-db-view",
        subject: None,
    };
    let mut databases: Vec<Database> = Vec::new();
    let mut pages = 0;
    loop {
        let mut url = api.url(&["v2", "databases"])?;
        url.query_pairs_mut()
            .append_pair("include", "nonterminated")
            .append_pair("limit", &page_size.to_string());
        if let Some(last) = databases.last() {
            url.query_pairs_mut().append_pair("starting_after", &last.id);
        }
        let page: Vec<Database> = api.get_json(&call, url).await?;
        pages += 1;
        let full_page = page.len() >= page_size as usize;
        databases.extend(page);
        if !full_page {
            break;
        }
        if pages == MAX_PAGES {
            println!("(stopped after {MAX_PAGES} pages)");
            break;
        }
    }
    println!(
        "{} database(s) ({pages} page(s) of at most {page_size}):",
        databases.len()
    );
    for db in &databases {
        println!(
            "  {}  {:<24} {:<12} {} {}",
            db.id,
            db.info.name.as_deref().unwrap_or("-"),
            db.status,
            db.info.cloud_provider.as_deref().unwrap_or("-"),
            db.info.region.as_deref().unwrap_or("-"),
        );
    }
    Ok(databases)
}

/// Shows one database: where it runs, its keyspaces, what can be done to it now, and the URL
/// its HTTP APIs hang off.
async fn show_database(api: &DevOps, id: &str) -> anyhow::Result<()> {
    let db = get_database(api, id).await?;
    let info = &db.info;
    println!("Database {} ({}):", db.id, info.name.as_deref().unwrap_or("unnamed"));
    println!("  status:       {}", db.status);
    println!(
        "  where:        {} {} ({}, {} capacity unit(s))",
        info.cloud_provider.as_deref().unwrap_or("-"),
        info.region.as_deref().unwrap_or("-"),
        info.tier.as_deref().unwrap_or("-"),
        info.capacity_units.unwrap_or(0)
    );
    let mut keyspaces: Vec<&str> = info.keyspace.iter().map(String::as_str).collect();
    keyspaces.extend(info.additional_keyspaces.iter().map(String::as_str));
    println!("  keyspaces:    {}", keyspaces.join(", "));
    println!("  actions now:  {}", db.available_actions.join(", "));
    if let Some(url) = &db.data_endpoint_url {
        println!("  REST API:     {url}");
    }
    if let Some(message) = &db.message {
        println!("  message:      {message}");
    }
    Ok(())
}

/// Starts creating a serverless database. The API answers 201 at once, with the new id in the
/// `Location` header; the database itself takes minutes to become ACTIVE.
async fn create_database(api: &DevOps, args: &Args) -> anyhow::Result<String> {
    let call = Call {
        what: "create a database",
        permission: "org-db-create",
        subject: None,
    };
    let body = serde_json::json!({
        "name": args.name,
        "keyspace": args.keyspace,
        "cloudProvider": args.cloud_provider,
        "region": args.region,
        "tier": "serverless",
        "capacityUnits": 1,
    });
    let url = api.url(&["v2", "databases"])?;
    let response = api.send_once(&call, api.request(Method::POST, url).json(&body)).await?;
    // Astra sends the bare id; accept a URL ending in the id too.
    let location = response
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|value| value.to_str().ok())
        .context("the API created the database but sent no Location header with its id")?;
    let id = location
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(location)
        .to_owned();
    println!(
        "Creating database {} ({} {}, serverless): id {id}.",
        args.name, args.cloud_provider, args.region
    );
    Ok(id)
}

/// How long to wait for a status, and how often to look.
struct Poll {
    interval: Duration,
    timeout: Duration,
}

/// Polls the database's status until it is ACTIVE, printing each status seen. Gives up after
/// `poll.timeout`, or at once in a state that never leads to ACTIVE.
async fn wait_until_active(api: &DevOps, id: &str, poll: &Poll) -> anyhow::Result<()> {
    let started = Instant::now();
    // The deadline bounds the loop; the count bounds it too, should the clock misbehave.
    let max_polls = poll.timeout.as_secs() / poll.interval.as_secs().max(1) + 2;
    for _ in 0..max_polls {
        let db = get_database(api, id).await?;
        let waited = started.elapsed().as_secs();
        println!("  {waited:>4} s  {}", db.status);
        if db.status == "ACTIVE" {
            println!("Database {id} is ACTIVE.");
            return Ok(());
        }
        if DEAD_END_STATES.contains(&db.status.as_str()) {
            let why = db.message.map(|m| format!(": {m}")).unwrap_or_default();
            bail!("database {id} is {} and will not become ACTIVE{why}", db.status);
        }
        if started.elapsed() + poll.interval > poll.timeout {
            break;
        }
        tokio::time::sleep(poll.interval).await;
    }
    bail!(
        "database {id} is still not ACTIVE after {} s (--wait-timeout); creation can take several minutes on Astra",
        started.elapsed().as_secs()
    )
}

/// Adds a keyspace. On Astra this is the only way to create one: CQL `CREATE KEYSPACE` is
/// refused. Right after a database turns ACTIVE the API may still answer 409 ("not in a valid
/// state"); nothing was done then, so the call is tried again, a few times.
async fn add_keyspace(api: &DevOps, id: &str, keyspace: &str, poll: &Poll) -> anyhow::Result<()> {
    let call = Call {
        what: "add a keyspace",
        permission: "db-keyspace-create",
        subject: Some(format!("database {id}")),
    };
    let url = api.url(&["v2", "databases", id, "keyspaces", keyspace])?;
    for attempt in 1..=KEYSPACE_ATTEMPTS {
        match api.try_send_once(api.request(Method::POST, url.clone())).await {
            Ok(_) => {
                println!("Keyspace {keyspace} added.");
                return Ok(());
            }
            Err(e) if attempt < KEYSPACE_ATTEMPTS && e.status() == Some(StatusCode::CONFLICT) => {
                println!(
                    "  the database cannot take a keyspace yet (409): trying again in {} s",
                    poll.interval.as_secs()
                );
                tokio::time::sleep(poll.interval).await;
            }
            Err(e) => return Err(explain(e, &call)),
        }
    }
    bail!("keyspace {keyspace} could not be added after {KEYSPACE_ATTEMPTS} attempts")
}

/// Asks for the secure connect bundle's download URL. It is signed and expires after about five
/// minutes, so fetch it right before downloading; the signature is not printed.
async fn secure_bundle_url(api: &DevOps, id: &str) -> anyhow::Result<()> {
    let call = Call {
        what: "get the secure bundle URL",
        permission: "db-cql",
        subject: Some(format!("database {id}")),
    };
    let url = api.url(&["v2", "databases", id, "secureBundleURL"])?;
    let response = api.send_once(&call, api.request(Method::POST, url)).await?;
    // One object normally; an array (one per datacenter) when asked with `?all=true`.
    let bundles: OneOrMany<CredsUrl> = response
        .json()
        .await
        .context("the secure bundle answer is not the expected JSON")?;
    let bundle = match bundles {
        OneOrMany::One(bundle) => bundle,
        OneOrMany::Many(list) => list.into_iter().next().context("the API returned no bundle URL")?,
    };
    let mut shown = Url::parse(&bundle.download_url).context("the bundle URL is not a URL")?;
    let signed = shown.query().is_some();
    shown.set_query(None);
    let note = if signed {
        "?… (signed, valid for about 5 minutes)"
    } else {
        " (valid for about 5 minutes)"
    };
    println!("Secure connect bundle: {shown}{note}");
    Ok(())
}

/// Terminates the database. This cannot be undone; the database goes TERMINATING, then
/// TERMINATED, and no longer appears in the default listing.
async fn terminate_database(api: &DevOps, id: &str) -> anyhow::Result<()> {
    let call = Call {
        what: "terminate the database",
        permission: "org-db-terminate",
        subject: Some(format!("database {id}")),
    };
    let url = api.url(&["v2", "databases", id, "terminate"])?;
    api.send_once(&call, api.request(Method::POST, url)).await?;
    println!("Database {id} is being terminated.");
    Ok(())
}

async fn get_database(api: &DevOps, id: &str) -> anyhow::Result<Database> {
    let call = Call {
        what: "read the database",
        permission: "org-db-view",
        subject: Some(format!("database {id}")),
    };
    api.get_json(&call, api.url(&["v2", "databases", id])?).await
}

// ---------------------------------------------------------------------------------------------
// The API's JSON (only the fields this sample reads; the rest is ignored)

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Database {
    id: String,
    /// An open set (ACTIVE, PENDING, HIBERNATED, …): kept as text so a new state is no error.
    status: String,
    #[serde(default)]
    info: DatabaseInfo,
    #[serde(default)]
    available_actions: Vec<String>,
    data_endpoint_url: Option<String>,
    message: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DatabaseInfo {
    name: Option<String>,
    keyspace: Option<String>,
    #[serde(default)]
    additional_keyspaces: Vec<String>,
    cloud_provider: Option<String>,
    region: Option<String>,
    tier: Option<String>,
    capacity_units: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CredsUrl {
    #[serde(rename = "downloadURL")]
    download_url: String,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
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

/// What a call does, for error messages: the permission it needs (named on 403) and the thing
/// it names (named on 404).
struct Call {
    what: &'static str,
    permission: &'static str,
    subject: Option<String>,
}

impl DevOps {
    /// `base` + the path segments, each percent-encoded: an id cannot change the path.
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

    /// A call that changes something: sent once, never retried (a retried create could
    /// create twice). A 429 or 5xx is reported, and the user decides.
    async fn send_once(&self, call: &Call, request: RequestBuilder) -> anyhow::Result<reqwest::Response> {
        self.try_send_once(request).await.map_err(|e| explain(e, call))
    }

    async fn try_send_once(&self, request: RequestBuilder) -> Result<reqwest::Response, HttpError> {
        http::check(http::send_once(request).await?).await
    }
}

/// The HTTP error, plus what this sample knows: the permission the call needs (403) and the id
/// it named (404).
fn explain(error: HttpError, call: &Call) -> anyhow::Error {
    let known = match (error.status(), &call.subject) {
        (Some(StatusCode::FORBIDDEN), _) => format!(
            " (to {} the token's role needs the {} permission)",
            call.what, call.permission
        ),
        (Some(StatusCode::NOT_FOUND), Some(subject)) => format!(" (there is no {subject} in this organization)"),
        _ => String::new(),
    };
    anyhow::anyhow!("cannot {}: {error}{known}", call.what)
}

/// Astra's database name rule: 1 to 50 characters, letters, digits and `&+-_()<>.,@`, starting
/// and ending with a letter or digit. Checked before anything is created.
fn database_name(name: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || "&+-_()<>.,@".contains(c);
    let ends_ok =
        name.starts_with(|c: char| c.is_ascii_alphanumeric()) && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if name.len() <= 50 && ends_ok && name.chars().all(allowed) {
        Ok(name.to_owned())
    } else {
        Err("1 to 50 letters, digits and &+-_()<>.,@, starting and ending with a letter or digit".into())
    }
}

/// Astra's keyspace name rule: 2 to 48 letters, digits and underscores, starting and ending with
/// a letter or digit, and not `dse` or `system`.
fn keyspace_name(name: &str) -> Result<String, String> {
    let ends_ok =
        name.starts_with(|c: char| c.is_ascii_alphanumeric()) && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let chars_ok = name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if (2..=48).contains(&name.len()) && ends_ok && chars_ok && name != "dse" && name != "system" {
        Ok(name.to_owned())
    } else {
        Err(
            "2 to 48 letters, digits and underscores, starting and ending with a letter or digit (not dse or system)"
                .into(),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    #[test]
    fn names_follow_astras_rules() {
        assert!(database_name("sample_devops_db").is_ok());
        assert!(database_name("a").is_ok());
        assert!(database_name("-leading").is_err());
        assert!(database_name(&"x".repeat(51)).is_err());
        assert!(keyspace_name("sample_ks").is_ok());
        assert!(keyspace_name("k").is_err());
        assert!(keyspace_name("trailing_").is_err());
        assert!(keyspace_name("has-dash").is_err());
        assert!(keyspace_name("system").is_err());
    }

    #[test]
    fn bundle_answer_is_one_object_or_an_array() {
        let one: OneOrMany<CredsUrl> = serde_json::from_str(r#"{"downloadURL":"https://x/a.zip"}"#).unwrap();
        assert!(matches!(one, OneOrMany::One(_)));
        let many: OneOrMany<CredsUrl> = serde_json::from_str(r#"[{"downloadURL":"https://x/a.zip"}]"#).unwrap();
        assert!(matches!(many, OneOrMany::Many(v) if v.len() == 1));
    }

    #[test]
    fn ids_cannot_change_the_path() {
        let api = DevOps {
            client: reqwest::Client::new(),
            base: Url::parse("http://127.0.0.1:4010/").unwrap(),
            token: Token::new("AstraCS:x:y"),
            timeout: Duration::from_secs(1),
        };
        let url = api.url(&["v2", "databases", "../x?y"]).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:4010/v2/databases/..%2Fx%3Fy");
        let url = api.url(&["v2", "databases", "..", "terminate"]).unwrap();
        assert!(url.path().starts_with("/v2/databases/"), "{url}");
    }
}

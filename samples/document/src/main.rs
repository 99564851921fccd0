//! sample-document: Stargate's Document API v2 with `reqwest`. Creates a collection (if missing)
//! in the namespace `ASTRA_DB_KEYSPACE`, writes a document with an id of our choosing and more with
//! ids the API generates, reads one, searches with a `where` filter, pages through results with
//! `page-size`/`page-state`, patches a sub-document by its path, and deletes the documents.
//! Documents are typed Rust structs, (de)serialised with serde.
//!
//! ```text
//! cargo run -p sample-document                     # the whole tour
//! cargo run -p sample-document -- --documents 9    # more documents, more pages
//! cargo run -p sample-document -- --keep           # leave this run's documents, to look at them
//! ```
//!
//! The Document API is deprecated on Astra (September 2024, end of life from the end of 2025); it
//! is still Stargate's API. New Astra projects should use the Data API (its collections are the
//! successor of these) or CQL.
//!
//! Astra: `ASTRA_DB_ID`, `ASTRA_DB_REGION`, `ASTRA_DB_APPLICATION_TOKEN`, `ASTRA_DB_KEYSPACE`.
//! Self-hosted Stargate: `STARGATE_DOCS_URL` (Stargate v2: http://localhost:8180) or
//! `STARGATE_REST_URL` (Stargate v1 and the local stack serve both APIs on 8082),
//! `ASTRA_DB_KEYSPACE`, and a token in `ASTRA_DB_APPLICATION_TOKEN`, or `STARGATE_USERNAME` +
//! `STARGATE_PASSWORD` to get one from `STARGATE_AUTH_URL` (e.g. http://localhost:8081). Settings
//! come from the environment or `.env`. Walkthrough: samples/document/README.md.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, bail};
use clap::Parser;
use common::http::{self, HttpError};
use common::settings::{self, Var};
use common::{Token, endpoints};
use reqwest::{Method, RequestBuilder, Response, StatusCode, Url};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The collection this sample writes to. Runs share it: each run's documents carry its run id,
/// so runs can go on at the same time, and each deletes its own documents at the end.
const COLLECTION: &str = "sample_document_tasks";
/// Documents per page when paging through search results (the API allows 1 to 20).
const PAGE_SIZE: usize = 2;
/// A bound on the paging loop (13 pages are enough for the largest `--documents`).
const MAX_PAGES: usize = 100;
/// Stargate reads the token from this header on every `/v2` call.
const TOKEN_HEADER: &str = "X-Cassandra-Token";

/// Self-hosted Stargate v2 runs the Document API as a service of its own, on another port than
/// the REST API; on Astra (and in Stargate v1) both share one base URL.
const STARGATE_DOCS_URL: Var = Var {
    name: "STARGATE_DOCS_URL",
    what: "the base URL of Stargate's Document API when it differs from STARGATE_REST_URL (Stargate v2: http://localhost:8180)",
    how: "Leave it unset on Astra (ASTRA_DB_ID and ASTRA_DB_REGION give the URL) and when STARGATE_REST_URL serves both APIs.",
};

#[derive(Parser)]
#[command(
    about = "Create a collection, then write, read, search, page through, patch and delete documents with Stargate's Document API v2."
)]
struct Args {
    /// How many documents to write (one with a chosen id, the others with generated ids).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(3..=25))]
    documents: u32,
    /// Leave this run's documents in the collection (they are deleted by default).
    #[arg(long)]
    keep: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // `common=warn` shows the HTTP client's "retrying" lines.
                .unwrap_or_else(|_| "sample_document=info,common=warn".into()),
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

    // 1. Where the API is, and a token for it.
    let base = match settings::optional_url(STARGATE_DOCS_URL, &["http", "https"])? {
        Some(url) => url,
        None => endpoints::rest_url()?,
    };
    let namespace = namespace()?;
    let client = http::client("sample-document")?;
    let token = get_token(&client).await?;
    println!(
        "Document API at {}, namespace {namespace}.",
        base.as_str().trim_end_matches('/')
    );
    let api = DocsApi {
        client,
        base,
        token,
        namespace,
    };

    // 2. The collection (shared by every run).
    create_collection_if_missing(&api).await?;

    // 3. This run's documents: written, read, searched, patched; deleted afterwards even if a
    //    step fails. `run` tells them from other runs' documents in the collection.
    let run = Uuid::new_v4().to_string();
    let mut ids = Vec::new();
    let tour = tour(&api, &run, args.documents, &mut ids).await;
    if args.keep {
        tour?;
        println!(
            "Kept the run's {} documents: run = {run} in {}.{COLLECTION}.",
            ids.len(),
            api.namespace
        );
    } else {
        let cleanup = delete_documents(&api, &run, &ids).await;
        if let (Err(_), Err(cleanup_error)) = (&tour, &cleanup) {
            tracing::warn!("could not delete the run's documents either: {cleanup_error:#}");
        }
        tour.and(cleanup)?;
    }
    println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Everything done to the documents of one run, in order. `ids` collects the ids written.
async fn tour(api: &DocsApi, run: &str, count: u32, ids: &mut Vec<String>) -> anyhow::Result<()> {
    write_documents(api, run, count, ids).await?;
    let chosen_id = ids.first().cloned().context("no document was written")?;
    read_document(api, &chosen_id).await?;
    search_documents(api, run, count - 1).await?;
    page_through_documents(api, run, ids.len()).await?;
    patch_sub_document(api, &chosen_id).await
}

// ---------------------------------------------------------------------------------------------
// What travels: typed documents, requests and responses

/// A document. The API stores any JSON object; this program writes and reads this shape.
/// (All numbers are stored as doubles: whole numbers up to 2^53 come back exactly.)
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Task {
    run: String,
    title: String,
    priority: u32,
    done: bool,
    assignee: Person,
    tags: Vec<String>,
}

/// A sub-document: `assignee` in a [`Task`], addressed on its own by the path `…/{id}/assignee`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Person {
    name: String,
    team: String,
}

/// A PATCH body: the keys it has replace the same keys at the path; other keys stay.
#[derive(Debug, Serialize)]
struct TeamChange<'a> {
    team: &'a str,
}

/// The answer of a write: the id of the document written (chosen or generated).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Written {
    document_id: String,
}

/// The answer of a read of a document (or of a path in it).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Document<T> {
    document_id: String,
    data: T,
}

/// The answer of a search: documents keyed by their id (an object, not an array), and a paging
/// state when there may be more.
#[derive(Debug, Deserialize)]
struct Found<T> {
    #[serde(rename = "pageState")]
    page_state: Option<String>,
    data: BTreeMap<String, T>,
}

/// The answer of the collection list.
#[derive(Debug, Deserialize)]
struct Collections {
    data: Vec<Collection>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Collection {
    name: String,
}

/// The body of `POST /v1/auth`.
#[derive(Serialize)]
struct Credentials<'a> {
    username: &'a str,
    password: &'a str,
}

/// The answer of `POST /v1/auth`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthToken {
    auth_token: String,
}

/// A `where` filter: field path → {operator: value}. All conditions must hold.
#[derive(Serialize)]
struct OfRun<'a> {
    run: Eq<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<Gte<u32>>,
}

#[derive(Serialize)]
struct Eq<T> {
    #[serde(rename = "$eq")]
    eq: T,
}

#[derive(Serialize)]
struct Gte<T> {
    #[serde(rename = "$gte")]
    gte: T,
}

// ---------------------------------------------------------------------------------------------
// The API

/// The Document API's base URL with a client, a token and the namespace: every call sends the
/// token in `X-Cassandra-Token`, and is bounded by the client's timeouts (5 s to connect, 30 s in
/// all).
struct DocsApi {
    client: reqwest::Client,
    base: Url,
    token: Token,
    namespace: String,
}

impl DocsApi {
    /// A request to `path` under the collection (`""` for the collection itself).
    fn collection(&self, method: Method, path: &str) -> RequestBuilder {
        let mut url = format!("/v2/namespaces/{}/collections/{COLLECTION}", self.namespace);
        if !path.is_empty() {
            url.push('/');
            url.push_str(path);
        }
        self.request(method, &url)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let url = endpoints::join(&self.base, path);
        tracing::debug!(%method, %url, "request");
        self.client
            .request(method, url)
            .header(TOKEN_HEADER, self.token.expose())
    }

    /// Sends a call and reads its JSON answer, turning a non-2xx status into an error that
    /// carries the status and the API's own `description`.
    async fn json<T: DeserializeOwned>(&self, request: RequestBuilder) -> anyhow::Result<T> {
        read_json(http::send_checked(request).await?).await
    }

    /// Sends a call whose answer body does not matter (204).
    async fn call(&self, request: RequestBuilder) -> Result<StatusCode, HttpError> {
        Ok(http::send_checked(request).await?.status())
    }
}

async fn read_json<T: DeserializeOwned>(response: Response) -> anyhow::Result<T> {
    let url = response.url().path().to_owned();
    let body = response
        .bytes()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    serde_json::from_slice(&body).with_context(|| format!("unexpected answer from {url}"))
}

fn namespace() -> anyhow::Result<String> {
    let namespace = settings::required(settings::ASTRA_DB_KEYSPACE)?;
    // The name goes into URL paths, and the API accepts only word characters there.
    let valid = namespace.len() <= 48 && namespace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(settings::SettingError::Malformed {
            var: settings::ASTRA_DB_KEYSPACE,
            reason: "a keyspace name has only letters, digits and underscores (at most 48)".into(),
        }
        .into());
    }
    Ok(namespace)
}

/// "task #1, task #2": the titles of some documents, in title order.
fn titles<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> String {
    let mut titles: Vec<&str> = tasks.into_iter().map(|t| t.title.as_str()).collect();
    titles.sort_by_key(|t| (t.len(), *t));
    titles.join(", ")
}

// ---------------------------------------------------------------------------------------------
// The steps

/// An Astra application token is sent as it is. Self-hosted Stargate users usually have a user
/// name and password instead: the auth API turns them into a token (valid 30 minutes since its
/// last use).
async fn get_token(client: &reqwest::Client) -> anyhow::Result<Token> {
    if let Some(token) = settings::optional_token(settings::ASTRA_DB_APPLICATION_TOKEN)? {
        println!("Token: {token} from ASTRA_DB_APPLICATION_TOKEN.");
        return Ok(token);
    }
    let Some(username) = settings::optional(settings::STARGATE_USERNAME)? else {
        bail!(
            "ASTRA_DB_APPLICATION_TOKEN is not set, nor STARGATE_USERNAME and STARGATE_PASSWORD: set the token \
             (Astra Portal → Settings → Tokens → Generate token, or `scripts/astra-local env` for the local stack), \
             or a Stargate user name and password to get one from the auth API"
        );
    };
    let password = settings::token(settings::STARGATE_PASSWORD)?;
    let url = endpoints::join(&endpoints::auth_url()?, "/v1/auth");
    let body = Credentials {
        username: &username,
        password: password.expose(),
    };
    // Sent once: each call creates a token.
    let response = http::send_once(client.post(url.clone()).json(&body)).await?;
    if response.status() == StatusCode::UNAUTHORIZED {
        let text = response.text().await.unwrap_or_default();
        let description = http::api_message(&text).unwrap_or_default();
        bail!(
            "the auth API at {url} refused STARGATE_USERNAME and STARGATE_PASSWORD (HTTP 401: {description}): \
             check them, they are a role of the Cassandra cluster behind Stargate"
        );
    }
    let answer: AuthToken = read_json(http::check(response).await?).await?;
    let token = Token::new(answer.auth_token);
    println!("Token: got one from {url} for {username}.");
    Ok(token)
}

/// Looks for the collection among the namespace's, and creates it when it is missing. Another
/// run may create it at the same moment: the API then answers 409, which is fine.
async fn create_collection_if_missing(api: &DocsApi) -> anyhow::Result<()> {
    let namespace = &api.namespace;
    let list_path = format!("/v2/namespaces/{namespace}/collections");
    let collections: Collections = api.json(api.request(Method::GET, &list_path)).await.map_err(|e| {
        // Stargate answers 404 "Unknown namespace …" for a namespace that does not exist.
        let not_found = e.downcast_ref::<HttpError>().and_then(HttpError::status) == Some(StatusCode::NOT_FOUND);
        let hint = if not_found {
            " (is ASTRA_DB_KEYSPACE right?)"
        } else {
            ""
        };
        e.context(format!("cannot list the collections of namespace {namespace}{hint}"))
    })?;
    if collections.data.iter().any(|c| c.name == COLLECTION) {
        println!(
            "Collection {namespace}.{COLLECTION} exists (one of {} in the namespace).",
            collections.data.len()
        );
        return Ok(());
    }
    let request = api.request(Method::POST, &list_path).json(&Collection {
        name: COLLECTION.to_owned(),
    });
    let response = http::send(request).await?;
    if response.status() == StatusCode::CONFLICT {
        println!("Collection {namespace}.{COLLECTION} exists (another run created it just now).");
        return Ok(());
    }
    http::check(response)
        .await
        .with_context(|| format!("cannot create collection {namespace}.{COLLECTION}"))?;
    println!("Collection {namespace}.{COLLECTION} created.");
    Ok(())
}

/// The run's document number `n`.
fn task(run: &str, n: u32) -> Task {
    Task {
        run: run.to_owned(),
        title: format!("task #{n}"),
        priority: n,
        done: false,
        assignee: Person {
            name: "Ada".into(),
            team: "storage".into(),
        },
        tags: vec![
            "sample".into(),
            if n.is_multiple_of(2) {
                "even".into()
            } else {
                "odd".into()
            },
        ],
    }
}

/// Writes the first document with `PUT` to an id of our choosing (create or replace), the
/// others with `POST` to the collection, which answers with the id it generated. Each id is
/// pushed to `ids` as soon as it exists, so that the clean-up finds it even if a later write fails.
async fn write_documents(api: &DocsApi, run: &str, count: u32, ids: &mut Vec<String>) -> anyhow::Result<()> {
    let chosen_id = format!("first-task-{run}");
    let request = api.collection(Method::PUT, &chosen_id).json(&task(run, 1));
    let written: Written = api
        .json(request)
        .await
        .context("cannot write the document with a chosen id")?;
    ids.push(written.document_id);
    println!("PUT document {chosen_id} (an id we chose).");

    for n in 2..=count {
        // POST is sent once: a blind retry would write a second document.
        let response = http::send_once(api.collection(Method::POST, "").json(&task(run, n))).await?;
        let written: Written = read_json(http::check(response).await?)
            .await
            .context("cannot write a document")?;
        ids.push(written.document_id);
    }
    println!(
        "POSTed {} documents; the API chose their ids: {}.",
        count - 1,
        ids[1..].join(", ")
    );
    Ok(())
}

/// Reads a whole document by id. (`raw=true` would return the document alone, without the
/// `documentId`/`data` wrapper.)
async fn read_document(api: &DocsApi, id: &str) -> anyhow::Result<()> {
    let document: Document<Task> = api
        .json(api.collection(Method::GET, id))
        .await
        .with_context(|| format!("cannot read document {id}"))?;
    let task = &document.data;
    println!(
        "Read {}: {:?}, priority {}, assignee {} ({}), tags {:?}.",
        document.document_id, task.title, task.priority, task.assignee.name, task.assignee.team, task.tags
    );
    Ok(())
}

/// Searches the collection with `where`: a JSON object of conditions on field paths (`a.b.c`).
/// The answer's `data` is an object keyed by document id.
async fn search_documents(api: &DocsApi, run: &str, min_priority: u32) -> anyhow::Result<()> {
    let filter = OfRun {
        run: Eq { eq: run },
        priority: Some(Gte { gte: min_priority }),
    };
    let request = api
        .collection(Method::GET, "")
        .query(&[("where", serde_json::to_string(&filter)?), ("page-size", "20".into())]);
    let found: Found<Task> = api.json(request).await.context("cannot search the collection")?;
    println!(
        "Search priority >= {min_priority}: {} documents: {}.",
        found.data.len(),
        titles(found.data.values())
    );
    Ok(())
}

/// Reads the run's documents a page at a time. A page that may not be the last carries a
/// `pageState`: an opaque bookmark to send back as `page-state` for the next page (URL-encoded,
/// which reqwest's `query` does). Without `page-size` a search returns 3 documents, at most 20.
async fn page_through_documents(api: &DocsApi, run: &str, expected: usize) -> anyhow::Result<()> {
    let filter = serde_json::to_string(&OfRun {
        run: Eq { eq: run },
        priority: None,
    })?;
    let mut page_state: Option<String> = None;
    let mut seen = std::collections::BTreeSet::new();
    for page in 1..=MAX_PAGES {
        let mut request = api.collection(Method::GET, "").query(&[("where", &filter)]);
        request = request.query(&[("page-size", PAGE_SIZE)]);
        if let Some(state) = &page_state {
            request = request.query(&[("page-state", state)]);
        }
        let found: Found<Task> = api
            .json(request)
            .await
            .with_context(|| format!("cannot read page {page}"))?;
        println!("  page {page}: {}", titles(found.data.values()));
        seen.extend(found.data.into_keys());
        page_state = found.page_state;
        if page_state.is_none() {
            println!("Read {} documents in {page} pages of at most {PAGE_SIZE}.", seen.len());
            if seen.len() != expected {
                bail!(
                    "paging found {} documents of this run, {expected} were written",
                    seen.len()
                );
            }
            return Ok(());
        }
    }
    bail!("still more pages after {MAX_PAGES}: the run has more documents than it wrote")
}

/// Changes one field of a sub-document: `PATCH …/{id}/assignee` with `{"team": …}` replaces
/// `assignee.team` and keeps `assignee.name` (a PATCH replaces the keys it names, at its path).
async fn patch_sub_document(api: &DocsApi, id: &str) -> anyhow::Result<()> {
    let path = format!("{id}/assignee");
    let request = api
        .collection(Method::PATCH, &path)
        .json(&TeamChange { team: "search" });
    api.call(request)
        .await
        .with_context(|| format!("cannot patch {path}"))?;
    let assignee: Document<Person> = api
        .json(api.collection(Method::GET, &path))
        .await
        .with_context(|| format!("cannot read {path}"))?;
    println!(
        "PATCH {id}/assignee {{\"team\": \"search\"}}: assignee is now {} ({}).",
        assignee.data.name, assignee.data.team
    );
    Ok(())
}

/// Deletes the run's documents one by one (`204`, even for a document that does not exist),
/// shows that a deleted document reads as `404`, and searches for what is left of the run.
async fn delete_documents(api: &DocsApi, run: &str, ids: &[String]) -> anyhow::Result<()> {
    for id in ids {
        api.call(api.collection(Method::DELETE, id))
            .await
            .with_context(|| format!("cannot delete document {id}"))?;
    }
    if let Some(id) = ids.first() {
        let response = http::send(api.collection(Method::GET, id)).await?;
        println!(
            "Deleted {} documents; reading {id} now answers {}.",
            ids.len(),
            response.status()
        );
    }
    let filter = serde_json::to_string(&OfRun {
        run: Eq { eq: run },
        priority: None,
    })?;
    let request = api
        .collection(Method::GET, "")
        .query(&[("where", filter), ("page-size", "20".into())]);
    let found: Found<Task> = api
        .json(request)
        .await
        .context("cannot search for the run's documents")?;
    println!("Deleted the run's documents ({} left).", found.data.len());
    Ok(())
}

//! sample-data-api: Astra's Data API with `reqwest` and `serde`. Creates a vector collection,
//! inserts one document and then many, finds them with filters (`$eq`, `$gt`, `$in`, `$exists`,
//! `$and`/`$or`), a projection, a sort and page by page (`nextPageState`), updates them (`$set`,
//! `$inc`, `$push`, upsert), counts them, ranks them by vector similarity, deletes some, and drops
//! the collection.
//!
//! ```text
//! cargo run -p sample-data-api                          # the whole tour, in a new collection
//! cargo run -p sample-data-api -- --keep                # leave the collection, to look at it
//! cargo run -p sample-data-api -- --collection NAME     # work in an existing collection
//! ```
//!
//! The Data API is how Astra DB serves documents over HTTP today: JSON commands POSTed to
//! `{endpoint}/api/json/v1/{keyspace}[/{collection}]`, a token in the `Token` header. It replaces
//! Stargate's REST, Document and GraphQL APIs on Astra.
//!
//! Astra: `ASTRA_DB_API_ENDPOINT` (or `ASTRA_DB_ID` + `ASTRA_DB_REGION`), `ASTRA_DB_APPLICATION_TOKEN`,
//! and `ASTRA_DB_KEYSPACE` (default `default_keyspace`). The local stack: `eval "$(scripts/astra-local env)"`.
//! Settings come from the environment or `.env`. Walkthrough: samples/data-api/README.md.

use std::fmt;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow, bail};
use clap::Parser;
use common::http::{self, HttpError};
use common::{Token, endpoints, settings};
use reqwest::{StatusCode, Url};
use serde::de::{DeserializeOwned, IgnoredAny};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// Each book carries a vector of this many numbers; the collection is created for that size.
const DIMENSION: usize = 5;
/// How many books the tour adds: one with `insertOne`, the others with one `insertMany`. More than
/// a page, so that paging shows.
const BOOKS: usize = 60;
/// A bound on the paging loop (the Data API returns 20 or 50 documents a page, by release).
const MAX_PAGES: usize = 50;
/// A bound on repeated `deleteMany` calls (each deletes at most 20 documents).
const MAX_DELETE_ROUNDS: usize = 100;
/// The Data API reads the token from this header.
const TOKEN_HEADER: &str = "Token";

#[derive(Parser)]
#[command(
    about = "Create a vector collection, then insert, find, page through, update, count, rank by similarity and delete documents with Astra's Data API."
)]
struct Args {
    /// Leave the collection and its documents in place (it is dropped by default).
    #[arg(long)]
    keep: bool,
    /// Work in this existing collection instead of creating one, e.g. one an earlier `--keep` run
    /// left (it needs vectors of 5 dimensions). The tour adds, changes and deletes documents in
    /// it; the collection itself is not dropped.
    #[arg(long, value_name = "NAME", value_parser = collection_name)]
    collection: Option<String>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                // `common=warn` shows the HTTP client's "retrying" lines.
                .unwrap_or_else(|_| "sample_data_api=info,common=warn".into()),
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
    let token = settings::token(settings::ASTRA_DB_APPLICATION_TOKEN)?;
    println!("Token: {token} from ASTRA_DB_APPLICATION_TOKEN.");
    let keyspace = keyspace()?;
    let endpoint = endpoints::data_api_endpoint()?;
    let base = endpoints::join(&endpoint, &format!("/api/json/v1/{keyspace}"));
    println!("Data API at {base}.");
    let api = DataApi {
        client: http::client("sample-data-api")?,
        base,
        token,
    };

    // 2. The collection: a new one for this run (so that runs never meet), or the one named.
    let (collection, created) = match args.collection {
        Some(name) => {
            println!("Using the existing collection {name}.");
            (name, false)
        }
        None => {
            let name = format!("sample_data_api_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            create_collection(&api, &name).await?;
            (name, true)
        }
    };

    // 3. The tour; then the clean-up, which runs even when a step failed.
    let mut added = Vec::new();
    let tour = tour(&api, &collection, &mut added).await;
    if args.keep {
        tour?;
        println!("Kept the collection {collection}: run again with --collection {collection} to use it.");
    } else {
        let cleanup = if created {
            drop_collection(&api, &collection).await
        } else {
            delete_added_books(&api, &collection, &added).await
        };
        if let (Err(_), Err(cleanup_error)) = (&tour, &cleanup) {
            tracing::warn!("the clean-up failed too: {cleanup_error:#}");
        }
        tour.and(cleanup)?;
    }
    println!("Done in {:.2} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// Everything done to the documents, in order. `added` collects the `_id` of every document this
/// run adds, for the clean-up of an existing collection.
async fn tour(api: &DataApi, collection: &str, added: &mut Vec<String>) -> anyhow::Result<()> {
    let books = library();
    let first_id = insert_one_book(api, collection, &books[0]).await?;
    added.push(first_id.clone());
    insert_many_books(api, collection, &books[1..], added).await?;
    find_one_book(api, collection, &first_id).await?;
    find_with_filters(api, collection).await?;
    find_with_projection_and_sort(api, collection).await?;
    page_through_books(api, collection).await?;
    update_books(api, collection, added).await?;
    count_books(api, collection).await?;
    find_similar_books(api, collection).await?;
    delete_books(api, collection).await
}

// ---------------------------------------------------------------------------------------------
// What travels: typed documents and answers

/// One document of the collection. The Data API stores any JSON object; a struct says what this
/// program writes and expects back. `_id` is the document's key; `$vector` its embedding.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Book {
    /// Left out, the API makes one up (a UUID string by default) and returns it.
    #[serde(rename = "_id", default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    title: String,
    author: String,
    genre: String,
    year: i32,
    copies: i32,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    award: Option<String>,
    /// Not returned by reads unless a projection asks for it.
    #[serde(rename = "$vector", default, skip_serializing_if = "Option::is_none")]
    vector: Option<Vec<f32>>,
}

/// What a projection of `title` and `year` returns (`_id` comes unless excluded).
#[derive(Debug, Deserialize)]
struct TitleAndYear {
    #[serde(rename = "_id")]
    id: String,
    title: String,
    year: i32,
}

/// What a vector search with `includeSimilarity` returns: the projected fields and a score.
#[derive(Debug, Deserialize)]
struct SimilarBook {
    #[serde(rename = "_id")]
    id: String,
    title: String,
    genre: String,
    #[serde(rename = "$similarity")]
    similarity: f64,
}

/// Every answer is one JSON object with some of `status` (what a write did), `data` (documents
/// read) and `errors`. An answer can carry `status` and `errors` at once: `insertMany` reports the
/// documents it inserted and the ones it could not.
#[derive(Debug, Deserialize)]
struct Answer<Status, Data> {
    status: Option<Status>,
    data: Option<Data>,
    #[serde(default)]
    errors: Vec<ApiError>,
}

impl<Status, Data> Answer<Status, Data> {
    fn status(self) -> anyhow::Result<Status> {
        self.status.context("the answer has no `status`")
    }

    fn data(self) -> anyhow::Result<Data> {
        self.data.context("the answer has no `data`")
    }
}

/// One entry of `errors`: a code for programs, a message for people, and for document errors
/// the `_id`s concerned.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ApiError {
    #[serde(default)]
    error_code: Option<String>,
    #[serde(default)]
    message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Messages span several lines ("what happened", "what to do"): one line here.
        let message = self.message.split_whitespace().collect::<Vec<_>>().join(" ");
        match &self.error_code {
            Some(code) => write!(f, "{code}: {message}"),
            None => f.write_str(&message),
        }
    }
}

/// `errors` as one line.
fn describe_errors(errors: &[ApiError]) -> String {
    errors.iter().map(ApiError::to_string).collect::<Vec<_>>().join("; ")
}

/// `status` of `createCollection` and `deleteCollection`.
#[derive(Debug, Deserialize)]
struct Acknowledged {
    ok: i32,
}

/// `status` of `insertOne` and `insertMany`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Inserted {
    #[serde(default)]
    inserted_ids: Vec<String>,
}

/// `data` of `findOne`: the document, or `null` when none matches.
#[derive(Debug, Deserialize)]
struct OneDocument<T> {
    document: Option<T>,
}

/// `data` of `find`: one page of documents, and a bookmark for the next page when there is one.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Documents<T> {
    documents: Vec<T>,
    next_page_state: Option<String>,
}

/// `status` of `updateOne`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Updated {
    matched_count: u64,
    modified_count: u64,
    upserted_id: Option<String>,
}

/// `status` of `countDocuments`; `moreData` says the count stopped at the API's limit (1000).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Count {
    count: u64,
    #[serde(default)]
    more_data: bool,
}

/// `status` of `deleteMany`; `moreData` says more documents match than one call deletes.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Deleted {
    deleted_count: i64,
    #[serde(default)]
    more_data: bool,
}

// ---------------------------------------------------------------------------------------------
// The API

/// The keyspace's URL, one `reqwest` client and the token. Every command is a `POST` of one JSON
/// object, `{"<command>": {…}}`, to the keyspace (collection commands such as `createCollection`)
/// or to one of its collections (document commands).
struct DataApi {
    client: reqwest::Client,
    base: Url,
    token: Token,
}

impl DataApi {
    /// Sends a command and returns its answer; `errors` in the answer become the error.
    async fn command<S, D>(&self, collection: Option<&str>, command: Value) -> anyhow::Result<Answer<S, D>>
    where
        S: DeserializeOwned,
        D: DeserializeOwned,
    {
        let name = command_name(&command);
        let answer: Answer<S, D> = self.send(collection, command).await?;
        if !answer.errors.is_empty() {
            bail!("{name} failed: {}", describe_errors(&answer.errors));
        }
        Ok(answer)
    }

    /// Sends a command and returns its answer, `errors` included (for commands that can partly
    /// succeed). A 2xx answer is read as it is: the Data API reports most failures with 200 and
    /// `errors`. Other statuses (401 for a token, 404 for a wrong URL, 5xx) become the error.
    async fn send<S, D>(&self, collection: Option<&str>, command: Value) -> anyhow::Result<Answer<S, D>>
    where
        S: DeserializeOwned,
        D: DeserializeOwned,
    {
        let name = command_name(&command);
        let url = match collection {
            Some(collection) => endpoints::join(&self.base, collection),
            None => self.base.clone(),
        };
        tracing::debug!(%url, %command, "command");
        let request = self
            .client
            .post(url.clone())
            .header(TOKEN_HEADER, self.token.expose())
            .json(&command);
        // A 429 is retried (bounded); a POST is never repeated after a 5xx, since it may have
        // been carried out.
        let response = http::send(request).await?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| anyhow!("reading the answer to {name} from {url}: {}", http::error_chain(&e)))?;
        if !status.is_success() {
            return Err(http_failure(name, &url, status, &body));
        }
        serde_json::from_slice(&body).with_context(|| format!("unexpected answer to {name} from {url}"))
    }
}

/// The first key of `{"<command>": {…}}`, for messages.
fn command_name(command: &Value) -> String {
    command
        .as_object()
        .and_then(|o| o.keys().next())
        .cloned()
        .unwrap_or_else(|| "the command".to_owned())
}

/// A non-2xx answer as one line: the status, the API's `errors` (or the body's own message), and
/// what to do about it.
fn http_failure(name: String, url: &Url, status: StatusCode, body: &[u8]) -> anyhow::Error {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<ApiError>,
    }
    let text = String::from_utf8_lossy(body);
    let message = match serde_json::from_slice::<Errors>(body) {
        Ok(parsed) if !parsed.errors.is_empty() => describe_errors(&parsed.errors),
        _ => http::api_message(&text).unwrap_or_else(|| status.canonical_reason().unwrap_or("no details").to_owned()),
    };
    let hint = match status.as_u16() {
        401 => {
            ". The token is missing, wrong or expired: set ASTRA_DB_APPLICATION_TOKEN to an application token \
             (Astra Portal → Settings → Tokens → Generate token), or run `scripts/astra-local env` for the local stack"
        }
        403 => ". The token is valid but its role may not do this: use a token with a role that allows it",
        404 => ". Check ASTRA_DB_API_ENDPOINT (the database's API endpoint, without a path) and ASTRA_DB_KEYSPACE",
        429 => ". The API is rate limiting requests: wait and run again",
        500..=599 => ". The server failed: try again later",
        _ => "",
    };
    anyhow::Error::from(HttpError::Status {
        method: reqwest::Method::POST,
        url: url.to_string(),
        status,
        message: format!("{name}: {}", message.trim_end().trim_end_matches('.')),
        hint,
    })
}

fn keyspace() -> anyhow::Result<String> {
    let keyspace = settings::optional(settings::ASTRA_DB_KEYSPACE)?.unwrap_or_else(|| "default_keyspace".to_owned());
    // The name goes into the URL's path: accept only what the Data API accepts.
    let valid = keyspace.len() <= 48
        && keyspace.starts_with(|c: char| c.is_ascii_alphanumeric())
        && keyspace.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(settings::SettingError::Malformed {
            var: settings::ASTRA_DB_KEYSPACE,
            reason: "a keyspace name has only letters, digits and underscores (at most 48)".into(),
        }
        .into());
    }
    Ok(keyspace)
}

/// `--collection`: a name the Data API accepts (letters, digits, underscores; at most 48).
fn collection_name(name: &str) -> Result<String, String> {
    let valid = (1..=48).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(name.to_owned())
    } else {
        Err("a collection name has only letters, digits and underscores (at most 48)".to_owned())
    }
}

// ---------------------------------------------------------------------------------------------
// The data

/// Five genres, each with a direction in the 5-dimensional vector space. Real applications get
/// vectors from an embedding model; these stand in for one, so that books of a genre are close.
const GENRES: [(&str, &str, &str); 5] = [
    ("fantasy", "Dragon Road", "Ada Merrow"),
    ("science fiction", "Star Harbor", "Jun Okafor"),
    ("mystery", "Quiet Street", "Lena Brandt"),
    ("history", "Old Empires", "Samir Haddad"),
    ("poetry", "Small Hours", "Ines Calvo"),
];

/// Books 1 to 60: genres in turn, one a year from 1961, every sixth with an award. Book 1 has no
/// `_id` (the API assigns one); the others are `book-02` to `book-60`.
fn library() -> Vec<Book> {
    (1..=BOOKS)
        .map(|n| {
            let genre = (n - 1) % GENRES.len();
            let (name, series, author) = GENRES[genre];
            // The genre's axis, tilted a little towards the next genre the later the book.
            let mut vector = vec![0.0_f32; DIMENSION];
            vector[genre] = 1.0;
            vector[(genre + 1) % DIMENSION] = 0.05 * ((n / GENRES.len()) as f32);
            Book {
                id: (n > 1).then(|| format!("book-{n:02}")),
                title: format!("{series} {n}"),
                author: author.to_owned(),
                genre: name.to_owned(),
                year: 1960 + n as i32,
                copies: (n % 4) as i32 + 1,
                tags: vec![if n % 2 == 0 { "paperback" } else { "hardcover" }.to_owned()],
                award: (n % 6 == 0).then(|| "Golden Quill".to_owned()),
                vector: Some(vector),
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// The steps

/// Creates a collection whose documents may carry a `$vector` of [`DIMENSION`] numbers, compared
/// by cosine similarity. Sent to the keyspace's URL. Creating a collection that exists with the
/// same options succeeds and changes nothing.
async fn create_collection(api: &DataApi, name: &str) -> anyhow::Result<()> {
    let command = json!({
        "createCollection": {
            "name": name,
            "options": { "vector": { "dimension": DIMENSION, "metric": "cosine" } }
        }
    });
    let answer: Answer<Acknowledged, IgnoredAny> = api.command(None, command).await.map_err(|error| {
        // The Data API answers an unknown keyspace with HTTP 200 and this code: say which setting to check.
        let hint = if format!("{error:#}").contains("KEYSPACE_DOES_NOT_EXIST") {
            " (is ASTRA_DB_KEYSPACE right?)"
        } else {
            ""
        };
        error.context(format!("cannot create the collection {name}{hint}"))
    })?;
    let ok = answer.status()?.ok;
    println!("Created collection {name} (ok: {ok}): vectors of {DIMENSION} numbers, cosine similarity.");
    Ok(())
}

/// Inserts one document. It has no `_id`, so the API assigns one and returns it.
async fn insert_one_book(api: &DataApi, collection: &str, book: &Book) -> anyhow::Result<String> {
    let answer: Answer<Inserted, IgnoredAny> = api
        .command(Some(collection), json!({ "insertOne": { "document": book } }))
        .await
        .with_context(|| format!("cannot insert a book into {collection}"))?;
    let id = answer
        .status()?
        .inserted_ids
        .into_iter()
        .next()
        .context("insertOne returned no _id")?;
    println!("insertOne: {:?}, the API gave it _id {id}.", book.title);
    Ok(id)
}

/// Inserts many documents with one command (at most 100 on Astra). With `"ordered": false` (the
/// default) the API inserts what it can and answers both `insertedIds` and an `errors` entry per
/// document it could not insert (a duplicate `_id`, a vector of the wrong size…).
async fn insert_many_books(
    api: &DataApi,
    collection: &str,
    books: &[Book],
    added: &mut Vec<String>,
) -> anyhow::Result<()> {
    let command = json!({ "insertMany": { "documents": books, "options": { "ordered": false } } });
    let answer: Answer<Inserted, IgnoredAny> = api
        .send(Some(collection), command)
        .await
        .with_context(|| format!("cannot insert books into {collection}"))?;
    let inserted = answer.status.map(|s| s.inserted_ids).unwrap_or_default();
    added.extend(inserted.iter().cloned());
    if !answer.errors.is_empty() {
        let missing: Vec<&str> = books
            .iter()
            .filter_map(|b| b.id.as_deref())
            .filter(|id| !inserted.iter().any(|i| i == id))
            .collect();
        bail!(
            "insertMany inserted {} of {} books; not inserted: {}: {}",
            inserted.len(),
            books.len(),
            abbreviate(&missing, 5),
            describe_errors(&answer.errors[..answer.errors.len().min(2)]),
        );
    }
    println!("insertMany: inserted {} of {} books.", inserted.len(), books.len());
    Ok(())
}

/// "a, b, c and 4 more".
fn abbreviate(items: &[&str], shown: usize) -> String {
    let mut text = items[..items.len().min(shown)].join(", ");
    if items.len() > shown {
        text.push_str(&format!(" and {} more", items.len() - shown));
    }
    text
}

/// Reads one document by its `_id`. `document` is `null` when nothing matches.
async fn find_one_book(api: &DataApi, collection: &str, id: &str) -> anyhow::Result<()> {
    let answer: Answer<IgnoredAny, OneDocument<Book>> = api
        .command(Some(collection), json!({ "findOne": { "filter": { "_id": id } } }))
        .await
        .context("cannot find the first book")?;
    let book = answer
        .data()?
        .document
        .with_context(|| format!("no document has _id {id}"))?;
    println!(
        "findOne by _id: {:?} by {}, {} ({}), {} copies, tags {:?}, $vector returned: {}.",
        book.title,
        book.author,
        book.genre,
        book.year,
        book.copies,
        book.tags,
        book.vector.is_some()
    );
    Ok(())
}

/// Finds documents with filters: a field equal to a value, the comparison and membership
/// operators, a field's presence, and conditions combined with `$and`/`$or`. Every field of a
/// collection's documents is indexed, so any field can be filtered on.
async fn find_with_filters(api: &DataApi, collection: &str) -> anyhow::Result<()> {
    let filters = [
        json!({ "genre": "mystery" }),
        json!({ "year": { "$gt": 2010 } }),
        json!({ "genre": { "$in": ["poetry", "history"] } }),
        json!({ "award": { "$exists": true } }),
        json!({ "$and": [
            { "year": { "$gt": 2000 } },
            { "$or": [{ "genre": "poetry" }, { "award": { "$exists": true } }] }
        ] }),
    ];
    for filter in filters {
        let shown = filter.to_string();
        let answer: Answer<IgnoredAny, Documents<Book>> = api
            .command(Some(collection), json!({ "find": { "filter": filter } }))
            .await
            .with_context(|| format!("cannot find books matching {shown}"))?;
        let page = answer.data()?;
        // `find` answers one page: when more documents match, `nextPageState` is set (paging
        // through them is the step after next).
        let more = if page.next_page_state.is_some() {
            " on the first page (more follow)"
        } else {
            ""
        };
        let mut ids: Vec<String> = page.documents.into_iter().filter_map(|b| b.id).collect();
        // Documents come in storage order, not insertion order: sorted here for reading.
        ids.sort();
        let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
        println!("find {shown}: {} books{more}: {}.", ids.len(), abbreviate(&ids, 5));
    }
    Ok(())
}

/// A projection picks the fields returned (`_id` comes unless `"_id": 0`); a sort orders the
/// matches (here newest first), and `limit` keeps the first few.
async fn find_with_projection_and_sort(api: &DataApi, collection: &str) -> anyhow::Result<()> {
    let command = json!({
        "find": {
            "filter": { "genre": "science fiction" },
            "projection": { "title": 1, "year": 1 },
            "sort": { "year": -1 },
            "options": { "limit": 3 }
        }
    });
    let answer: Answer<IgnoredAny, Documents<TitleAndYear>> = api
        .command(Some(collection), command)
        .await
        .context("cannot find books with a projection and a sort")?;
    let found: Vec<String> = answer
        .data()?
        .documents
        .iter()
        .map(|b| format!("{} {:?} ({})", b.id, b.title, b.year))
        .collect();
    println!(
        "find science fiction, title and year only, newest first, limit 3: {}.",
        found.join(", ")
    );
    Ok(())
}

/// Reads every document a page at a time. A page holds at most 20 documents (50 since Data API
/// 1.0.47); when more may match, the answer's `nextPageState` is a bookmark to send back as the
/// `pageState` option. A full page can be the last one: the next page is then empty.
async fn page_through_books(api: &DataApi, collection: &str) -> anyhow::Result<()> {
    let mut page_state: Option<String> = None;
    let mut total = 0;
    for page in 1..=MAX_PAGES {
        let options = match &page_state {
            Some(state) => json!({ "pageState": state }),
            None => json!({}),
        };
        let command = json!({ "find": { "filter": {}, "projection": { "_id": 1 }, "options": options } });
        let answer: Answer<IgnoredAny, Documents<IgnoredAny>> = api
            .command(Some(collection), command)
            .await
            .with_context(|| format!("cannot read page {page}"))?;
        let documents = answer.data()?;
        total += documents.documents.len();
        println!("  page {page}: {} books", documents.documents.len());
        page_state = documents.next_page_state;
        if page_state.is_none() {
            println!("Read {total} books in {page} pages.");
            return Ok(());
        }
    }
    bail!("still more pages after {MAX_PAGES}: the collection has more documents than this run expects")
}

/// Changes one document with update operators (`$set` a field, `$inc` a number, `$push` onto an
/// array), then upserts one: with `"upsert": true` a filter that matches nothing creates the
/// document, with the filter's `_id`.
async fn update_books(api: &DataApi, collection: &str, added: &mut Vec<String>) -> anyhow::Result<()> {
    let command = json!({
        "updateOne": {
            "filter": { "_id": "book-02" },
            "update": {
                "$set": { "award": "Silver Comet" },
                "$inc": { "copies": 2 },
                "$push": { "tags": "signed" }
            }
        }
    });
    let answer: Answer<Updated, IgnoredAny> = api
        .command(Some(collection), command)
        .await
        .context("cannot update book-02")?;
    let updated = answer.status()?;
    let answer: Answer<IgnoredAny, OneDocument<Book>> = api
        .command(
            Some(collection),
            json!({ "findOne": { "filter": { "_id": "book-02" } } }),
        )
        .await
        .context("cannot read book-02 back")?;
    let book = answer.data()?.document.context("book-02 is gone")?;
    println!(
        "updateOne book-02 ($set, $inc, $push): matched {}, modified {}; now award {:?}, {} copies, tags {:?}.",
        updated.matched_count,
        updated.modified_count,
        book.award.unwrap_or_default(),
        book.copies,
        book.tags
    );

    let command = json!({
        "updateOne": {
            "filter": { "_id": "book-61" },
            "update": {
                "$set": { "title": "Dragon Road 61", "author": "Ada Merrow", "genre": "fantasy", "year": 2021 },
                "$inc": { "copies": 1 }
            },
            "options": { "upsert": true }
        }
    });
    let answer: Answer<Updated, IgnoredAny> = api
        .command(Some(collection), command)
        .await
        .context("cannot upsert book-61")?;
    let upserted = answer.status()?;
    if let Some(id) = &upserted.upserted_id {
        added.push(id.clone());
    }
    println!(
        "updateOne book-61 with upsert: matched {}, upserted _id {}.",
        upserted.matched_count,
        upserted.upserted_id.as_deref().unwrap_or("(none: it existed)")
    );
    Ok(())
}

/// Counts the documents that match a filter. The count is exact up to 1000; past that the
/// answer says `moreData` (use `estimatedDocumentCount` for large collections).
async fn count_books(api: &DataApi, collection: &str) -> anyhow::Result<()> {
    let mut counts = Vec::new();
    for filter in [json!({}), json!({ "genre": "poetry" })] {
        let shown = filter.to_string();
        let answer: Answer<Count, IgnoredAny> = api
            .command(Some(collection), json!({ "countDocuments": { "filter": filter } }))
            .await
            .with_context(|| format!("cannot count books matching {shown}"))?;
        let count = answer.status()?;
        let more = if count.more_data { " or more" } else { "" };
        counts.push(format!("{shown}: {}{more}", count.count));
    }
    println!("countDocuments {}.", counts.join(", "));
    Ok(())
}

/// A vector search: `sort` by `$vector` returns the documents closest to the query vector,
/// nearest first, and `includeSimilarity` adds each one's score (1 is the same direction).
async fn find_similar_books(api: &DataApi, collection: &str) -> anyhow::Result<()> {
    // The direction of "science fiction" in this sample's vector space.
    let query = [0.0, 1.0, 0.0, 0.0, 0.0];
    let command = json!({
        "find": {
            "sort": { "$vector": query },
            "projection": { "title": 1, "genre": 1 },
            "options": { "limit": 3, "includeSimilarity": true }
        }
    });
    let answer: Answer<IgnoredAny, Documents<SimilarBook>> = api
        .command(Some(collection), command)
        .await
        .context("cannot run the vector search")?;
    println!("find sorted by $vector {query:?}, limit 3:");
    for book in answer.data()?.documents {
        println!("  {:.4} {} {:?} ({})", book.similarity, book.id, book.title, book.genre);
    }
    Ok(())
}

/// Deletes every document that matches a filter. One call deletes at most 20 and says `moreData`
/// when more match: call again until it does not.
async fn delete_books(api: &DataApi, collection: &str) -> anyhow::Result<()> {
    let filter = json!({ "genre": { "$in": ["poetry", "history"] } });
    let (deleted, calls) = delete_many(api, collection, &filter).await?;
    let answer: Answer<Count, IgnoredAny> = api
        .command(Some(collection), json!({ "countDocuments": { "filter": {} } }))
        .await
        .context("cannot count the books left")?;
    println!(
        "deleteMany {filter}: deleted {deleted} in {calls} calls; countDocuments now {}.",
        answer.status()?.count
    );
    Ok(())
}

/// `deleteMany` until no more documents match: how many it deleted, in how many calls.
async fn delete_many(api: &DataApi, collection: &str, filter: &Value) -> anyhow::Result<(i64, usize)> {
    let mut total = 0;
    for call in 1..=MAX_DELETE_ROUNDS {
        let answer: Answer<Deleted, IgnoredAny> = api
            .command(Some(collection), json!({ "deleteMany": { "filter": filter } }))
            .await
            .with_context(|| format!("cannot delete books matching {filter}"))?;
        let deleted = answer.status()?;
        total += deleted.deleted_count;
        if !deleted.more_data {
            return Ok((total, call));
        }
    }
    bail!("documents matching {filter} still left after {MAX_DELETE_ROUNDS} deleteMany calls")
}

/// Drops the collection and its documents (sent to the keyspace's URL).
async fn drop_collection(api: &DataApi, name: &str) -> anyhow::Result<()> {
    let answer: Answer<Acknowledged, IgnoredAny> = api
        .command(None, json!({ "deleteCollection": { "name": name } }))
        .await
        .with_context(|| format!("cannot drop the collection {name}"))?;
    println!("deleteCollection {name}: ok {}.", answer.status()?.ok);
    Ok(())
}

/// In a collection this run did not create: deletes the documents it added, by `_id`.
async fn delete_added_books(api: &DataApi, collection: &str, added: &[String]) -> anyhow::Result<()> {
    if added.is_empty() {
        println!("Added no documents to {collection}: nothing to delete.");
        return Ok(());
    }
    let (deleted, _) = delete_many(api, collection, &json!({ "_id": { "$in": added } })).await?;
    println!("Deleted the {deleted} documents this run added to {collection}.");
    Ok(())
}

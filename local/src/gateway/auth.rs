//! Stargate's Auth API (reference §1) and the token check every other API runs.
//!
//! `POST /v1/auth` checks the credentials by logging in to Cassandra with them, then stores a
//! random UUID token in `data_endpoint_auth.token` with a TTL of 30 minutes, as Stargate's
//! table-based auth service does; validating a token rewrites its row (a sliding window). The
//! stack's Astra-style application token (`AstraCS:…`, the password of the CQL role `token`) is
//! accepted directly too, as Astra does: it is checked by a login as `token`. Valid tokens are
//! cached for 60 seconds (Stargate's validation cache), so nothing lives only in memory: a
//! restarted gateway still accepts every token Cassandra still holds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use scylla::value::{CqlValue, MaybeUnset};
use serde_json::{Value, json};
use tokio::sync::Mutex;

use super::cql::{Cql, CqlError, Login, Options};

/// The header (HTTP) and metadata key (gRPC) that carries the token.
pub const TOKEN_HEADER: &str = "x-cassandra-token";
/// The CQL role whose password is the stack's application token.
pub const APPLICATION_TOKEN_ROLE: &str = "token";
/// Stargate's validation cache: a token checked once is trusted this long.
const VALIDATION_CACHE: Duration = Duration::from_secs(60);
/// At most this many tokens are cached; the cache starts afresh when full.
const CACHE_LIMIT: usize = 10_000;

/// The keyspace and table of issued tokens (Stargate's own names; `token` is a reserved word).
pub const TOKEN_KEYSPACE: &str = "data_endpoint_auth";
pub const TOKEN_TABLE: &str = "data_endpoint_auth.\"token\"";

/// CQL that creates the token table when it is missing.
pub fn token_schema() -> [String; 2] {
    [
        format!(
            "CREATE KEYSPACE IF NOT EXISTS {TOKEN_KEYSPACE} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': 1}}"
        ),
        format!(
            "CREATE TABLE IF NOT EXISTS {TOKEN_TABLE} (auth_token uuid PRIMARY KEY, username text, created_timestamp int)"
        ),
    ]
}

/// Why a request's token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenError {
    Missing,
    Invalid,
    /// Cassandra could not be asked.
    Unavailable(String),
}

/// Issues and validates tokens.
pub struct Tokens {
    cql: Arc<Cql>,
    ttl: Duration,
    accept_application_tokens: bool,
    cache: Mutex<HashMap<String, Instant>>,
}

impl Tokens {
    pub fn new(cql: Arc<Cql>, ttl: Duration, accept_application_tokens: bool) -> Self {
        Self {
            cql,
            ttl,
            accept_application_tokens,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    fn ttl_seconds(&self) -> i32 {
        i32::try_from(self.ttl.as_secs()).unwrap_or(i32::MAX)
    }

    /// Stores a new token for `username` and returns it.
    pub async fn issue(&self, username: &str) -> Result<uuid::Uuid, CqlError> {
        let token = uuid::Uuid::new_v4();
        self.store(token, username).await?;
        Ok(token)
    }

    async fn store(&self, token: uuid::Uuid, username: &str) -> Result<(), CqlError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let cql = format!(
            "INSERT INTO {TOKEN_TABLE} (auth_token, username, created_timestamp) VALUES (?, ?, ?) USING TTL {}",
            self.ttl_seconds()
        );
        let values = vec![
            MaybeUnset::Set(Some(CqlValue::Uuid(token))),
            MaybeUnset::Set(Some(CqlValue::Text(username.to_string()))),
            MaybeUnset::Set(Some(CqlValue::Int(i32::try_from(now).unwrap_or(i32::MAX)))),
        ];
        self.cql.run(&cql, values, &Options::default()).await?;
        Ok(())
    }

    /// Checks a request's token (the header value, if any).
    pub async fn validate(&self, token: Option<&str>) -> Result<(), TokenError> {
        let token = token
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::Missing)?;
        if let Some(valid_until) = self.cache.lock().await.get(token)
            && *valid_until > Instant::now()
        {
            return Ok(());
        }
        let accepted = if let Ok(id) = uuid::Uuid::parse_str(token) {
            self.validate_issued(id).await?
        } else if self.accept_application_tokens && token.starts_with("AstraCS:") {
            self.cql
                .check_login(APPLICATION_TOKEN_ROLE, token)
                .await
                .map_err(|e| TokenError::Unavailable(e.message))?
                == Login::Accepted
        } else {
            false
        };
        if !accepted {
            return Err(TokenError::Invalid);
        }
        let mut cache = self.cache.lock().await;
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(token.to_string(), Instant::now() + VALIDATION_CACHE);
        Ok(())
    }

    /// Looks the token up and, when found, renews its TTL (Stargate's sliding window).
    async fn validate_issued(&self, token: uuid::Uuid) -> Result<bool, TokenError> {
        let cql = format!("SELECT username FROM {TOKEN_TABLE} WHERE auth_token = ?");
        let outcome = self
            .cql
            .run(
                &cql,
                vec![MaybeUnset::Set(Some(CqlValue::Uuid(token)))],
                &Options::default(),
            )
            .await
            .map_err(|e| TokenError::Unavailable(e.message))?;
        let username = outcome
            .page
            .and_then(|p| p.rows.into_iter().next())
            .and_then(|row| row.into_iter().next().flatten())
            .and_then(|v| v.into_string());
        let Some(username) = username else { return Ok(false) };
        self.store(token, &username)
            .await
            .map_err(|e| TokenError::Unavailable(e.message))?;
        Ok(true)
    }
}

/// An error of the Auth API: `{"description": "…"}` (its error class serialises no other key).
#[derive(Debug)]
pub struct AuthApiError {
    status: StatusCode,
    description: String,
}

impl AuthApiError {
    fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
        }
    }
}

impl IntoResponse for AuthApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(json!({ "description": self.description }))).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store, max-age=0"));
        response
    }
}

/// What the Auth API's handlers need.
#[derive(Clone)]
pub struct AuthState {
    pub cql: Arc<Cql>,
    pub tokens: Arc<Tokens>,
}

/// The Auth API's routes, at `prefix` (`` for Stargate's own port, `/api/rest` on Astra's layout).
pub fn router(state: AuthState, prefix: &str) -> Router {
    Router::new()
        .route(&format!("{prefix}/v1/auth"), post(create_token))
        .route(&format!("{prefix}/v1/auth/token/generate"), post(generate_token))
        .route(&format!("{prefix}/v1/admin/auth/usernametoken"), post(username_token))
        .with_state(state)
}

/// The two credential fields of a request body, by their names in this endpoint.
fn credentials(body: &Bytes, user_key: &str, secret_key: &str) -> Result<(String, String), AuthApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(AuthApiError::new(
            StatusCode::BAD_REQUEST,
            "Must provide a body to the request",
        ));
    }
    let value: Value = serde_json::from_slice(body).map_err(|_| malformed_json())?;
    if value.is_null() {
        return Err(AuthApiError::new(
            StatusCode::BAD_REQUEST,
            "Must provide a body to the request",
        ));
    }
    let field = |key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    let user = field(user_key)
        .ok_or_else(|| AuthApiError::new(StatusCode::BAD_REQUEST, format!("Must provide {user_key} in request")))?;
    let secret = field(secret_key)
        .ok_or_else(|| AuthApiError::new(StatusCode::BAD_REQUEST, format!("Must provide {secret_key} in request")))?;
    Ok((user, secret))
}

/// Dropwizard's own answer to a body that is not JSON (the Auth API runs on Dropwizard).
fn malformed_json() -> AuthApiError {
    AuthApiError::new(StatusCode::BAD_REQUEST, "Unable to process JSON")
}

async fn login_and_issue(state: &AuthState, user: &str, secret: &str, user_key: &str, secret_key: &str) -> Response {
    match state.cql.check_login(user, secret).await {
        Ok(Login::Accepted) => {}
        Ok(Login::Rejected) => {
            return AuthApiError::new(
                StatusCode::UNAUTHORIZED,
                format!("Failed to create token: Provided {user_key} {user} and/or {secret_key} are incorrect"),
            )
            .into_response();
        }
        Err(error) => {
            return AuthApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("Failed to create token: {error}"),
            )
            .into_response();
        }
    }
    match state.tokens.issue(user).await {
        Ok(token) => {
            let ttl = state.tokens.ttl().as_secs();
            let max_age = if ttl <= 100 { ttl.saturating_sub(1) } else { ttl - 10 };
            let mut response = (
                StatusCode::CREATED,
                axum::Json(json!({ "authToken": token.to_string() })),
            )
                .into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("max-age={max_age}, s-maxage={max_age}")) {
                response.headers_mut().insert(header::CACHE_CONTROL, value);
            }
            response
        }
        Err(error) => AuthApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Failed to create token: {error}"),
        )
        .into_response(),
    }
}

/// `POST /v1/auth` `{"username","password"}` → 201 `{"authToken"}`.
async fn create_token(State(state): State<AuthState>, body: Bytes) -> Response {
    match credentials(&body, "username", "password") {
        Ok((user, password)) => login_and_issue(&state, &user, &password, "username", "password").await,
        Err(error) => error.into_response(),
    }
}

/// `POST /v1/auth/token/generate` `{"key","secret"}`: the same, with Astra-style names.
async fn generate_token(State(state): State<AuthState>, body: Bytes) -> Response {
    match credentials(&body, "key", "secret") {
        Ok((key, secret)) => login_and_issue(&state, &key, &secret, "key", "secret").await,
        Err(error) => error.into_response(),
    }
}

/// `POST /v1/admin/auth/usernametoken`: off, as in Stargate's default configuration.
async fn username_token() -> AuthApiError {
    AuthApiError::new(
        StatusCode::BAD_REQUEST,
        "Generating a token for a username is not allowed",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_name_the_missing_field() {
        let missing = |body: &str| {
            credentials(&Bytes::from(body.to_string()), "username", "password")
                .err()
                .map(|e| e.description)
        };
        assert_eq!(missing(""), Some("Must provide a body to the request".into()));
        assert_eq!(missing("null"), Some("Must provide a body to the request".into()));
        assert_eq!(
            missing(r#"{"password":"p"}"#),
            Some("Must provide username in request".into())
        );
        assert_eq!(
            missing(r#"{"username":"u","password":""}"#),
            Some("Must provide password in request".into())
        );
        assert_eq!(missing("{not json"), Some("Unable to process JSON".into()));
        assert_eq!(missing(r#"{"username":"u","password":"p","extra":1}"#), None);
    }

    #[test]
    fn token_table_is_stargates() {
        let [keyspace, table] = token_schema();
        assert!(keyspace.starts_with("CREATE KEYSPACE IF NOT EXISTS data_endpoint_auth"));
        assert!(table.contains("auth_token uuid PRIMARY KEY, username text, created_timestamp int"));
    }
}

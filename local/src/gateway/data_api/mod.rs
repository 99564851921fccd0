//! The Data API (Astra's JSON API for documents): one JSON command per `POST`, at
//! `/v1/{keyspace}[/{collection}]` (the self-hosted Data API's path, its port 8181) and at
//! Astra's `/api/json/v1/{keyspace}[/{collection}]`, with the `Token` header.
//!
//! A request body is `{"<command>": {…}}`; the answer is `{"status": {…}, "data": {…},
//! "errors": [{…}]}` with the keys that apply, HTTP 200 even for a failed command; 401 for a
//! missing or bad token. Keyspace commands ([`commands::keyspace_command`]) manage collections;
//! document commands ([`commands::collection_command`]) read and write documents, which live in
//! Cassandra ([`storage`]); [`filter`], [`sort`], [`projection`] and [`update`] are the clauses.

pub mod commands;
pub mod errors;
pub mod filter;
pub mod json;
pub mod projection;
pub mod sort;
pub mod storage;
pub mod update;

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use self::errors::{Code, DataApiError};
use super::Shared;
use super::auth::TokenError;

/// The self-hosted Data API's port.
pub const DEFAULT_PORT: u16 = 8181;

/// The header that carries the token (the Data API also reads Stargate's `X-Cassandra-Token`).
pub const TOKEN_HEADER: &str = "Token";
const DEPRECATED_TOKEN_HEADER: &str = "X-Cassandra-Token";

/// The Data API's routes, at both prefixes.
pub fn router(shared: Arc<Shared>) -> Router {
    let mut router = Router::new();
    for prefix in ["", "/api/json"] {
        router = router
            .route(&format!("{prefix}/v1/{{keyspace}}"), post(keyspace_request))
            .route(
                &format!("{prefix}/v1/{{keyspace}}/{{collection}}"),
                post(collection_request),
            );
    }
    router
        .route("/stargate/health", get(|| async { "UP" }))
        .with_state(shared)
}

/// A command's answer: the body and the HTTP status (200 unless authentication or the server failed).
pub struct Answer {
    pub status: StatusCode,
    pub body: Value,
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            self.body.to_string(),
        )
            .into_response()
    }
}

impl From<DataApiError> for Answer {
    fn from(error: DataApiError) -> Self {
        Answer {
            status: error.status,
            body: json!({ "errors": [error.to_json()] }),
        }
    }
}

async fn check_token(shared: &Shared, headers: &HeaderMap) -> Result<(), Answer> {
    let token = headers
        .get(TOKEN_HEADER)
        .or_else(|| headers.get(DEPRECATED_TOKEN_HEADER))
        .and_then(|v| v.to_str().ok());
    match shared.tokens.validate(token).await {
        Ok(()) => Ok(()),
        Err(TokenError::Missing) => Err(Answer {
            status: StatusCode::UNAUTHORIZED,
            body: json!({"errors": [{
                "message": format!("Role unauthorized for operation: Missing token, expecting one in the {TOKEN_HEADER} header."),
            }]}),
        }),
        Err(TokenError::Invalid) => Err(DataApiError::plain(Code::UnauthenticatedRequest)
            .status(StatusCode::UNAUTHORIZED)
            .into()),
        Err(TokenError::Unavailable(reason)) => Err(DataApiError::database(reason).into()),
    }
}

/// The command's name and body, from `{"<name>": {…}}`.
fn parse_command(body: &Bytes) -> Result<(String, Value), DataApiError> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| DataApiError::new(Code::InvalidRequestNotJson, e.to_string()))?;
    match value {
        Value::Object(map) if map.len() == 1 => {
            let (name, command) = map.into_iter().next().expect("one entry");
            match command {
                Value::Object(_) => Ok((name, command)),
                Value::Null => Ok((name, json!({}))),
                other => Err(DataApiError::new(
                    Code::InvalidRequestStructureMismatch,
                    format!("the body of command '{name}' must be an object, not {other}"),
                )),
            }
        }
        _ => Err(DataApiError::new(
            Code::InvalidRequestStructureMismatch,
            "the request body must be an object with exactly one command, e.g. {\"find\": {}}",
        )),
    }
}

async fn keyspace_request(
    State(shared): State<Arc<Shared>>,
    Path(keyspace): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    if let Err(answer) = check_token(&shared, &headers).await {
        return answer;
    }
    match parse_command(&body) {
        Ok((name, command)) => commands::keyspace_command(&shared.cql, &keyspace, &name, &command).await,
        Err(error) => error.into(),
    }
}

async fn collection_request(
    State(shared): State<Arc<Shared>>,
    Path((keyspace, collection)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    if let Err(answer) = check_token(&shared, &headers).await {
        return answer;
    }
    match parse_command(&body) {
        Ok((name, command)) => commands::collection_command(&shared.cql, &keyspace, &collection, &name, &command).await,
        Err(error) => error.into(),
    }
}

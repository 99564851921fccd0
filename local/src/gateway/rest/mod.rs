//! Stargate's REST API v2 (reference §2), on port 8082 at `/v2/...` and under Astra's prefix
//! `/api/rest/v2/...`; the same port also answers Astra's legacy auth path `/api/rest/v1/auth`.
//!
//! [`schema`] has the schema endpoints (`/v2/schemas/keyspaces/...`), [`rows`] the row endpoints
//! (`/v2/keyspaces/{ks}/{table}...`). Errors render as Stargate's `ApiError`
//! (`{"description","code","grpcStatus","internalTxId"}`, nulls included), see [`ApiError`].

pub mod rows;
pub mod schema;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use serde_json::{Map, Value};
use tonic::Code;

use super::Shared;
use super::auth::{self, TOKEN_HEADER, TokenError};
use super::cql::CqlError;

/// Astra's prefix in front of the REST and Document APIs (`https://{db}-{region}.apps.astra.datastax.com/api/rest`).
pub const ASTRA_PREFIX: &str = "/api/rest";

/// The REST port's routes: REST API v2 at both prefixes, Astra's `/api/rest/v1/auth`, and health.
pub fn router(shared: Arc<Shared>) -> Router {
    let v2 = v2_routes()
        .route_layer(middleware::from_fn_with_state(shared.clone(), require_token))
        .with_state(shared.clone());
    let auth_state = auth::AuthState {
        cql: shared.cql.clone(),
        tokens: shared.tokens.clone(),
    };
    Router::new()
        .merge(v2.clone())
        .nest(ASTRA_PREFIX, v2)
        .merge(auth::router(auth_state, ASTRA_PREFIX))
        .route("/health", get(|| async { "UP" }))
        .route(
            "/stargate/health",
            get(|| async { axum::Json(serde_json::json!({"status": "UP"})) }),
        )
}

/// The `/v2` routes that need a token: REST API v2, plus the Document API's `/v2/namespaces/...`
/// and `/v2/schemas/namespaces/...` (module `documents`), which Stargate serves on this port too.
fn v2_routes() -> Router<Arc<Shared>> {
    const KS: &str = "/v2/schemas/keyspaces/{keyspace}";
    const TABLE: &str = "/v2/schemas/keyspaces/{keyspace}/tables/{table}";
    Router::new()
        .route(
            "/v2/schemas/keyspaces",
            get(schema::list_keyspaces).post(schema::create_keyspace),
        )
        .route(KS, get(schema::get_keyspace).delete(schema::delete_keyspace))
        .route(
            &format!("{KS}/tables"),
            get(schema::list_tables).post(schema::create_table),
        )
        .route(
            TABLE,
            get(schema::get_table)
                .put(schema::update_table)
                .delete(schema::delete_table),
        )
        .route(
            &format!("{TABLE}/columns"),
            get(schema::list_columns).post(schema::add_column),
        )
        .route(
            &format!("{TABLE}/columns/{{column}}"),
            get(schema::get_column)
                .put(schema::rename_column)
                .delete(schema::drop_column),
        )
        .route(
            &format!("{TABLE}/indexes"),
            get(schema::list_indexes).post(schema::create_index),
        )
        .route(&format!("{TABLE}/indexes/{{index}}"), delete(schema::drop_index))
        .route(
            &format!("{KS}/types"),
            get(schema::list_types)
                .post(schema::create_type)
                .put(schema::update_type),
        )
        .route(
            &format!("{KS}/types/{{udt}}"),
            get(schema::get_type).delete(schema::delete_type),
        )
        .route("/v2/keyspaces/{keyspace}/{table}", get(rows::search).post(rows::add))
        .route("/v2/keyspaces/{keyspace}/{table}/rows", get(rows::all))
        .route(
            "/v2/keyspaces/{keyspace}/{table}/{*key}",
            get(rows::by_key)
                .put(rows::update)
                .patch(rows::update)
                .delete(rows::remove),
        )
        .route("/v2/cql", post(rows::cql))
        .merge(super::documents::routes())
}

/// Every `/v2` path needs `X-Cassandra-Token`; Stargate's HTTP services check that it is present,
/// and the coordinator that it is valid.
async fn require_token(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let token = request.headers().get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
    match shared.tokens.validate(token).await {
        Ok(()) => next.run(request).await,
        Err(TokenError::Missing) => ApiError::missing_token().into_response(),
        Err(TokenError::Invalid) => ApiError::from_grpc(Code::Unauthenticated, "Invalid token").into_response(),
        Err(TokenError::Unavailable(reason)) => ApiError::from_grpc(Code::Unavailable, &reason).into_response(),
    }
}

/// Stargate's `ApiError`: all four keys, in this order, nulls included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub description: String,
    pub grpc_status: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, description: impl Into<String>) -> Self {
        Self {
            status,
            description: description.into(),
            grpc_status: None,
        }
    }
    pub fn bad_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, description)
    }
    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, description)
    }
    /// 401 for a request without the token header.
    pub fn missing_token() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "Role unauthorized for operation: Missing token, expecting one in the X-Cassandra-Token header.",
        )
    }
    /// A failure reported by the coordinator's gRPC bridge, rendered by Stargate's mapper:
    /// `<prefix> (Status.Code.<CODE>-><http>): <CODE>: <description>`.
    pub fn from_grpc(code: Code, description: &str) -> Self {
        let (status, prefix) = http_for_grpc(code);
        let name = grpc_code_name(code);
        Self {
            status,
            description: format!(
                "{prefix} (Status.Code.{name}->{}): {name}: {description}",
                status.as_u16()
            ),
            grpc_status: Some(name),
        }
    }
}

impl From<CqlError> for ApiError {
    fn from(error: CqlError) -> Self {
        Self::from_grpc(error.code, &error.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = Map::new();
        body.insert("description".into(), Value::String(self.description));
        body.insert("code".into(), Value::from(self.status.as_u16()));
        body.insert(
            "grpcStatus".into(),
            self.grpc_status.map_or(Value::Null, |s| Value::String(s.into())),
        );
        body.insert("internalTxId".into(), Value::Null);
        (self.status, axum::Json(Value::Object(body))).into_response()
    }
}

/// Stargate's table of gRPC codes to HTTP statuses and description prefixes.
pub fn http_for_grpc(code: Code) -> (StatusCode, &'static str) {
    match code {
        Code::AlreadyExists => (StatusCode::CONFLICT, "Resource already exists"),
        Code::FailedPrecondition => (
            StatusCode::BAD_REQUEST,
            "Invalid state or argument(s) for gRPC operation",
        ),
        Code::InvalidArgument => (StatusCode::BAD_REQUEST, "Invalid argument for gRPC operation"),
        Code::NotFound => (StatusCode::NOT_FOUND, "Unknown gRPC operation"),
        Code::PermissionDenied => (StatusCode::UNAUTHORIZED, "Unauthorized gRPC operation"),
        Code::Unauthenticated => (StatusCode::UNAUTHORIZED, "Unauthenticated gRPC operation"),
        Code::Unavailable => (StatusCode::BAD_GATEWAY, "gRPC service unavailable"),
        Code::Unimplemented => (StatusCode::NOT_IMPLEMENTED, "Unimplemented gRPC operation"),
        Code::DeadlineExceeded => (StatusCode::GATEWAY_TIMEOUT, "gRPC service timeout"),
        _ => (StatusCode::INTERNAL_SERVER_ERROR, "Unhandled gRPC failure"),
    }
}

/// The `Status.Code` name Java prints.
pub fn grpc_code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Query parameters (`+` is a space, as axios and browsers send it).
pub type Params = HashMap<String, String>;

/// `raw=true` (Java's `Boolean.parseBoolean`: only `true`, any case).
pub fn flag(params: &Params, name: &str) -> bool {
    params.get(name).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// An optional boolean parameter (`compactMapData`).
pub fn optional_flag(params: &Params, name: &str) -> Option<bool> {
    params.get(name).map(|v| v.eq_ignore_ascii_case("true"))
}

/// `{"data": payload}`, or the bare payload with `raw=true`.
pub fn wrap(payload: Value, raw: bool) -> Value {
    if raw {
        payload
    } else {
        let mut body = Map::new();
        body.insert("data".into(), payload);
        Value::Object(body)
    }
}

/// JAX-RS answers a query parameter it cannot convert (e.g. `page-size=abc`) with a plain 404.
pub fn unconvertible_parameter() -> ApiError {
    ApiError::not_found("HTTP 404 Not Found")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_failures_render_with_stargates_prefix_and_code() {
        let error = ApiError::from_grpc(
            Code::InvalidArgument,
            "line 1:0 no viable alternative at input 'SELsECT'",
        );
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert_eq!(
            error.description,
            "Invalid argument for gRPC operation (Status.Code.INVALID_ARGUMENT->400): INVALID_ARGUMENT: line 1:0 no viable alternative at input 'SELsECT'"
        );
        assert_eq!(error.grpc_status, Some("INVALID_ARGUMENT"));
        let bad_token = ApiError::from_grpc(Code::Unauthenticated, "Invalid token");
        assert_eq!(bad_token.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            bad_token.description,
            "Unauthenticated gRPC operation (Status.Code.UNAUTHENTICATED->401): UNAUTHENTICATED: Invalid token"
        );
        assert_eq!(
            ApiError::from_grpc(Code::AlreadyExists, "x").status,
            StatusCode::CONFLICT
        );
        assert_eq!(
            ApiError::from_grpc(Code::Aborted, "x").status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn routes_build_without_conflicts_at_both_prefixes() {
        let v2 = v2_routes();
        let _: Router<Arc<Shared>> = Router::new().merge(v2.clone()).nest(ASTRA_PREFIX, v2);
    }

    #[tokio::test]
    async fn api_error_body_has_all_four_keys_in_order() {
        let response = ApiError::bad_request("Keyspace 'x' not found").into_response();
        let body = axum::body::to_bytes(response.into_body(), 4096).await.expect("body");
        assert_eq!(
            std::str::from_utf8(&body).expect("utf-8"),
            r#"{"description":"Keyspace 'x' not found","code":400,"grpcStatus":null,"internalTxId":null}"#
        );
    }
}

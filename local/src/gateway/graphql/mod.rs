//! Stargate's GraphQL API (reference §4), on port 8080: `/graphql-schema` (CQL-first DDL, module
//! [`ddl`]), `/graphql/{keyspace}` (CQL-first DML generated from the keyspace's tables, module
//! [`cql_first`], or the keyspace's deployed GraphQL-first schema, module [`schema_first`]) and
//! `/graphql-admin` (deploying GraphQL-first schemas). Astra serves the same under `/api/…`.
//!
//! The schemas are `async-graphql` dynamic schemas; every resolver turns its field into CQL and
//! runs it on the real node through [`super::cql`]. This module owns the HTTP side: the request
//! forms Stargate accepts (JSON or `application/graphql` POST, GET with `?query=`, and on
//! `/graphql-admin` the multipart upload of `deploySchemaFile`, module [`multipart`]), the token
//! check, Stargate's error shapes, and the `@atomic` / `@async` operation directives.

pub mod admin;
pub mod cql_first;
pub mod ddl;
pub mod multipart;
pub mod schema_first;
pub mod types;

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::dynamic::{FieldValue, ResolverContext, Schema};
use async_graphql::parser::types::{DocumentOperations, OperationDefinition, OperationType};
use async_graphql::{Pos, Positioned, ServerError, Value};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Map, json};
use tonic::Code;

use super::Shared;
use super::auth::{TOKEN_HEADER, TokenError};
use super::cql::CqlError;
use super::rest::{ApiError, grpc_code_name};

/// Astra's prefix in front of the GraphQL endpoints (`https://{db}-{region}.apps.astra.datastax.com/api/graphql/{ks}`).
pub const ASTRA_PREFIX: &str = "/api";

/// What every GraphQL handler shares: the gateway, the DDL and admin schemas, and the generated
/// schemas per keyspace.
pub struct GraphqlState {
    pub shared: Arc<Shared>,
    ddl: Schema,
    admin: Schema,
    pub(crate) keyspaces: cql_first::SchemaCache,
}

/// The port's routes, at Stargate's paths and under Astra's `/api` prefix.
pub fn router(shared: Arc<Shared>) -> Result<Router, String> {
    let state = Arc::new(GraphqlState {
        ddl: ddl::schema(shared.clone()).map_err(|e| format!("the /graphql-schema schema: {e}"))?,
        admin: admin::schema(shared.clone()).map_err(|e| format!("the /graphql-admin schema: {e}"))?,
        keyspaces: cql_first::SchemaCache::default(),
        shared,
    });
    let routes = Router::new()
        .route("/graphql-schema", get(ddl_endpoint).post(ddl_endpoint))
        .route("/graphql-admin", get(admin_endpoint).post(admin_endpoint))
        .route("/graphql-files/cql_directives.graphql", get(directives_file))
        .route("/graphql-files/keyspace/{file}", get(schema_file))
        .route(
            "/graphql",
            get(default_keyspace_endpoint).post(default_keyspace_endpoint),
        )
        .route("/graphql/{keyspace}", get(dml_endpoint).post(dml_endpoint))
        .with_state(state);
    Ok(Router::new()
        .merge(routes.clone())
        .nest(ASTRA_PREFIX, routes)
        .route("/health", get(|| async { "UP" }))
        .route(
            "/stargate/health",
            get(|| async { axum::Json(json!({"status": "UP"})) }),
        ))
}

/// What a resolver knows about its request.
#[derive(Clone, Default)]
pub struct RequestData {
    /// The token was refused (the DDL and admin schemas report it from each field, as Stargate's
    /// fetchers do).
    pub token_error: Option<String>,
    /// How mutations run: directly, collected into one batch (`@atomic`), or without waiting (`@async`).
    pub mutations: cql_first::MutationMode,
    /// Errors of nullable fields, which resolve to null (see [`caught`]).
    pub errors: FieldErrors,
}

/// The errors of fields that resolved to null instead of failing their parent.
#[derive(Clone, Default)]
pub struct FieldErrors(Arc<std::sync::Mutex<Vec<ServerError>>>);

impl FieldErrors {
    fn is_empty(&self) -> bool {
        self.0.lock().is_ok_and(|e| e.is_empty())
    }

    fn take(&self) -> Vec<ServerError> {
        self.0.lock().map(|mut e| std::mem::take(&mut *e)).unwrap_or_default()
    }
}

/// A nullable field's failure as graphql-java reports it: the field is `null` and an error
/// with its path and location is added, while its siblings still resolve. (A dynamic
/// `async-graphql` schema would fail the whole selection instead.)
pub fn caught<'a>(
    ctx: &ResolverContext<'_>,
    result: async_graphql::Result<Option<FieldValue<'a>>>,
) -> async_graphql::Result<Option<FieldValue<'a>>> {
    match (result, ctx.data::<RequestData>()) {
        (Err(error), Ok(data)) => {
            let error = ctx.ctx.set_error_path(error.into_server_error(ctx.ctx.item.pos));
            if let Ok(mut errors) = data.errors.0.lock() {
                errors.push(error);
            }
            Ok(None)
        }
        (result, _) => result,
    }
}

/// A request-level failure in Stargate's GraphQL shape: `{"errors":[{"message":…}]}`.
fn request_error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"errors": [{"message": message}]}))).into_response()
}

/// The message Stargate's fetchers fail with: `Exception while fetching data (/<field>) : <cause>`.
pub fn fetch_error(field: &str, cause: &str) -> async_graphql::Error {
    async_graphql::Error::new(format!("Exception while fetching data (/{field}) : {cause}"))
}

/// A failed statement as Stargate's bridge reports it: `<CODE>: <message>`.
pub fn cql_cause(error: &CqlError) -> String {
    format!("{}: {}", grpc_code_name(error.code), error.message)
}

/// A GraphQL request as Stargate reads it from the URL and the body.
fn read_request(
    method: &Method,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
    body: &Bytes,
) -> Result<async_graphql::Request, Box<Response>> {
    let missing = || {
        Box::new(request_error(
            StatusCode::BAD_REQUEST,
            "You must provide a GraphQL query, either as a query parameter or in the request body",
        ))
    };
    let variables = |text: Option<&String>| -> Result<async_graphql::Variables, Box<Response>> {
        match text.filter(|t| !t.trim().is_empty()) {
            None => Ok(async_graphql::Variables::default()),
            Some(text) => serde_json::from_str::<serde_json::Value>(text)
                .map(async_graphql::Variables::from_json)
                .map_err(|_| Box::new(request_error(StatusCode::BAD_REQUEST, "Could not parse variables"))),
        }
    };
    let url_query = params.get("query").filter(|q| !q.trim().is_empty());
    let mut request = if *method == Method::GET || body.is_empty() {
        let query = url_query.ok_or_else(missing)?;
        async_graphql::Request::new(query.clone()).variables(variables(params.get("variables"))?)
    } else {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_ascii_lowercase();
        let from_body = if content_type.starts_with("application/graphql") {
            async_graphql::Request::new(String::from_utf8_lossy(body).into_owned())
        } else {
            serde_json::from_slice::<async_graphql::Request>(body).map_err(|e| {
                Box::new(request_error(
                    StatusCode::BAD_REQUEST,
                    &format!("Could not parse the request body: {e}"),
                ))
            })?
        };
        if url_query.is_some() && !from_body.query.trim().is_empty() {
            return Err(Box::new(request_error(
                StatusCode::BAD_REQUEST,
                "You can't provide a GraphQL query both as a query parameter and in the request body",
            )));
        }
        match url_query {
            Some(query) => async_graphql::Request::new(query.clone())
                .variables(variables(params.get("variables"))?)
                .operation_name(params.get("operationName").cloned().unwrap_or_default()),
            None if from_body.query.trim().is_empty() => return Err(missing()),
            None => from_body,
        }
    };
    if request.operation_name.as_deref() == Some("") {
        request.operation_name = None;
    }
    if request.operation_name.is_none()
        && let Some(name) = params.get("operationName").filter(|n| !n.is_empty())
    {
        request.operation_name = Some(name.clone());
    }
    Ok(request)
}

/// The request's token, checked.
async fn check_token(shared: &Shared, headers: &HeaderMap) -> Result<(), TokenError> {
    let token = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
    shared.tokens.validate(token).await
}

/// The ApiError Stargate's HTTP layer answers a refused token with.
fn token_response(error: TokenError) -> Response {
    match error {
        TokenError::Missing => ApiError::missing_token().into_response(),
        TokenError::Invalid => ApiError::from_grpc(Code::Unauthenticated, "Invalid token").into_response(),
        TokenError::Unavailable(reason) => ApiError::from_grpc(Code::Unavailable, &reason).into_response(),
    }
}

/// The operation a request runs (by `operationName`, or the only one).
fn selected_operation<'a>(
    operations: &'a DocumentOperations,
    name: Option<&str>,
) -> Option<&'a Positioned<OperationDefinition>> {
    match (operations, name) {
        (DocumentOperations::Single(op), _) => Some(op),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => ops.values().next(),
        _ => None,
    }
}

/// Byte offset of a parser position (1-based line and character column) in `source`.
fn offset_of(source: &str, pos: Pos) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..pos.line {
        line_start += source[line_start..].find('\n')? + 1;
    }
    source[line_start..]
        .char_indices()
        .nth(pos.column.checked_sub(1)?)
        .map(|(i, _)| line_start + i)
}

/// Operation directives Stargate declares for its generated DML schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OperationDirectives {
    pub atomic: bool,
    pub is_async: bool,
    /// Top-level selections of the mutation.
    pub selections: usize,
}

/// Reads `@atomic` and `@async` from a mutation and removes them from the query text (the
/// dynamic schema cannot declare directives, so the query would not validate with them); the
/// parser says where they are.
fn take_operation_directives(request: &mut async_graphql::Request) -> OperationDirectives {
    let Ok(document) = async_graphql::parser::parse_query(&request.query) else {
        return OperationDirectives::default();
    };
    let Some(operation) = selected_operation(&document.operations, request.operation_name.as_deref()) else {
        return OperationDirectives::default();
    };
    if operation.node.ty != OperationType::Mutation {
        return OperationDirectives::default();
    }
    let mut found = OperationDirectives {
        selections: operation.node.selection_set.node.items.len(),
        ..OperationDirectives::default()
    };
    let mut cuts = Vec::new();
    for directive in &operation.node.directives {
        let name = directive.node.name.node.as_str();
        if (name == "atomic" || name == "async") && directive.node.arguments.is_empty() {
            if name == "atomic" {
                found.atomic = true;
            } else {
                found.is_async = true;
            }
            if let (Some(start), Some(name_start)) = (
                offset_of(&request.query, directive.pos),
                offset_of(&request.query, directive.node.name.pos),
            ) {
                cuts.push((start, name_start + name.len()));
            }
        }
    }
    cuts.sort_unstable();
    for (start, end) in cuts.into_iter().rev() {
        request.query.replace_range(start..end, "");
    }
    found
}

/// graphql-java's wording for the one validation error clients meet most: a field that is not
/// in the schema (a table that does not exist, a misspelt column).
fn java_validation_message(message: &str) -> Option<String> {
    let rest = message.strip_prefix("Unknown field \"")?;
    let (field, rest) = rest.split_once('"')?;
    let rest = rest.strip_prefix(" on type \"")?;
    let (type_name, _) = rest.split_once('"')?;
    Some(format!(
        "Validation error of type FieldUndefined: Field '{field}' in type '{type_name}' is undefined @ '{field}'"
    ))
}

/// A response in graphql-java's JSON: `data` only when execution started, each error with a
/// `classification`.
fn render(mut response: async_graphql::Response, caught: &FieldErrors) -> Response {
    let mut errors = caught.take();
    errors.append(&mut response.errors);
    response.errors = errors;
    let mut body = Map::new();
    let executed = !matches!(response.data, Value::Null) || response.errors.iter().any(|e| !e.path.is_empty());
    let errors: Vec<serde_json::Value> = response
        .errors
        .into_iter()
        .map(|error| error_json(error, executed))
        .collect();
    if !errors.is_empty() {
        body.insert("errors".into(), serde_json::Value::Array(errors));
    }
    if executed || body.is_empty() {
        body.insert(
            "data".into(),
            response.data.into_json().unwrap_or(serde_json::Value::Null),
        );
    }
    (StatusCode::OK, axum::Json(serde_json::Value::Object(body))).into_response()
}

fn error_json(error: ServerError, executed: bool) -> serde_json::Value {
    let classification = if !error.path.is_empty() || executed {
        "DataFetchingException"
    } else {
        "ValidationError"
    };
    let message = if classification == "ValidationError" {
        java_validation_message(&error.message).unwrap_or(error.message)
    } else {
        error.message
    };
    let mut object = Map::new();
    object.insert("message".into(), json!(message));
    if !error.locations.is_empty() {
        object.insert(
            "locations".into(),
            serde_json::Value::Array(
                error
                    .locations
                    .iter()
                    .map(|p| json!({"line": p.line, "column": p.column}))
                    .collect(),
            ),
        );
    }
    if !error.path.is_empty() {
        object.insert("path".into(), serde_json::to_value(&error.path).unwrap_or_default());
    }
    let mut extensions = match error.extensions.as_ref().map(serde_json::to_value) {
        Some(Ok(serde_json::Value::Object(map))) => map,
        _ => Map::new(),
    };
    extensions.insert("classification".into(), json!(classification));
    object.insert("extensions".into(), serde_json::Value::Object(extensions));
    serde_json::Value::Object(object)
}

/// graphql-java's answer to a query it cannot parse (HTTP 200).
fn syntax_error(error: &async_graphql::parser::Error) -> Response {
    let locations: Vec<serde_json::Value> = error
        .positions()
        .map(|p| json!({"line": p.line, "column": p.column}))
        .collect();
    let mut object = Map::new();
    object.insert("message".into(), json!(format!("Invalid Syntax : {error}")));
    if !locations.is_empty() {
        object.insert("locations".into(), serde_json::Value::Array(locations));
    }
    object.insert("extensions".into(), json!({"classification": "InvalidSyntax"}));
    (
        StatusCode::OK,
        axum::Json(json!({"errors": [serde_json::Value::Object(object)]})),
    )
        .into_response()
}

/// Parses (for Stargate's syntax error) and runs a request against `schema`.
async fn execute(schema: &Schema, mut request: async_graphql::Request, data: RequestData) -> Response {
    if let Err(error) = async_graphql::parser::parse_query(&request.query) {
        return syntax_error(&error);
    }
    let errors = data.errors.clone();
    request = request.data(data);
    render(schema.execute(request).await, &errors)
}

type Params = Query<HashMap<String, String>>;

async fn ddl_endpoint(
    State(state): State<Arc<GraphqlState>>,
    method: Method,
    headers: HeaderMap,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let schema = state.ddl.clone();
    serve_fixed(&state, schema, method, headers, params, body).await
}

async fn admin_endpoint(
    State(state): State<Arc<GraphqlState>>,
    method: Method,
    headers: HeaderMap,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let schema = state.admin.clone();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    if method == Method::POST && multipart::is_multipart(&content_type) {
        return match multipart::read(&content_type, body).await {
            Ok(request) => run_fixed(&state, schema, &headers, request).await,
            Err(response) => *response,
        };
    }
    serve_fixed(&state, schema, method, headers, params, body).await
}

/// `/graphql-schema` and `/graphql-admin`: a refused token fails each field, as Stargate's
/// fetchers do; a missing one is refused by the HTTP layer.
async fn serve_fixed(
    state: &GraphqlState,
    schema: Schema,
    method: Method,
    headers: HeaderMap,
    params: HashMap<String, String>,
    body: Bytes,
) -> Response {
    match read_request(&method, &headers, &params, &body) {
        Ok(request) => run_fixed(state, schema, &headers, request).await,
        Err(response) => *response,
    }
}

async fn run_fixed(
    state: &GraphqlState,
    schema: Schema,
    headers: &HeaderMap,
    request: async_graphql::Request,
) -> Response {
    let token_error = match check_token(&state.shared, headers).await {
        Ok(()) => None,
        Err(TokenError::Invalid) => Some("UNAUTHENTICATED: Invalid token".to_string()),
        Err(other) => return token_response(other),
    };
    let data = RequestData {
        token_error,
        ..RequestData::default()
    };
    execute(&schema, request, data).await
}

/// `GET /graphql-files/cql_directives.graphql`: the directives of GraphQL-first schemas (open).
async fn directives_file() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/plain;charset=UTF-8"),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"cql_directives.graphql\"",
            ),
        ],
        admin::CQL_DIRECTIVES,
    )
        .into_response()
}

/// `GET /graphql-files/keyspace/{keyspace}.graphql[?version=]`: a deployed schema's SDL.
async fn schema_file(
    State(state): State<Arc<GraphqlState>>,
    Path(file): Path<String>,
    headers: HeaderMap,
    Query(params): Params,
) -> Response {
    if let Err(error) = check_token(&state.shared, &headers).await {
        return token_response(error);
    }
    let Some(keyspace) = file.strip_suffix(".graphql").filter(|k| valid_keyspace_name(k)) else {
        return ApiError::new(StatusCode::BAD_REQUEST, "Malformed keyspace name").into_response();
    };
    let version = match params.get("version").map(|v| uuid::Uuid::parse_str(v)) {
        None => None,
        Some(Ok(v)) => Some(v),
        Some(Err(_)) => return ApiError::new(StatusCode::BAD_REQUEST, "Malformed version").into_response(),
    };
    match admin::versions(&state.shared.cql, keyspace, version).await {
        Ok(found) => match found.into_iter().next() {
            Some(source) => (
                [
                    (header::CONTENT_TYPE, "text/plain;charset=UTF-8".to_string()),
                    (
                        header::CONTENT_DISPOSITION,
                        format!("inline; filename=\"{keyspace}-{}.graphql\"", source.version),
                    ),
                ],
                source.contents,
            )
                .into_response(),
            None => ApiError::new(
                StatusCode::NOT_FOUND,
                format!(
                    "The schema for keyspace {keyspace} and version {} does not exist.",
                    params.get("version").map_or("null", String::as_str)
                ),
            )
            .into_response(),
        },
        Err(error) => ApiError::from_grpc(error.code, &error.message).into_response(),
    }
}

/// True for a keyspace name Stargate accepts in the path (`\w+`).
fn valid_keyspace_name(name: &str) -> bool {
    !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_')
}

async fn dml_endpoint(
    State(state): State<Arc<GraphqlState>>,
    Path(keyspace): Path<String>,
    method: Method,
    headers: HeaderMap,
    Query(params): Params,
    body: Bytes,
) -> Response {
    serve_keyspace(state, keyspace, method, headers, params, body).await
}

async fn serve_keyspace(
    state: Arc<GraphqlState>,
    keyspace: String,
    method: Method,
    headers: HeaderMap,
    params: HashMap<String, String>,
    body: Bytes,
) -> Response {
    if let Err(error) = check_token(&state.shared, &headers).await {
        return token_response(error);
    }
    if !valid_keyspace_name(&keyspace) {
        return request_error(StatusCode::BAD_REQUEST, "Invalid keyspace name");
    }
    let mut request = match read_request(&method, &headers, &params, &body) {
        Ok(request) => request,
        Err(response) => return *response,
    };
    let (schema, schema_first) = match cql_first::keyspace_schema(&state, &keyspace).await {
        Ok(Some(found)) => found,
        Ok(None) => return request_error(StatusCode::NOT_FOUND, &format!("Unknown keyspace '{keyspace}'")),
        Err(error) => {
            tracing::warn!(%keyspace, error = %error.message, "cannot build the keyspace's GraphQL schema");
            return request_error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
        }
    };
    if let Err(error) = async_graphql::parser::parse_query(&request.query) {
        return syntax_error(&error);
    }
    let directives = take_operation_directives(&mut request);
    if directives.atomic && directives.selections > 1 {
        return if schema_first {
            schema_first::execute_atomic(&state.shared, &schema, request).await
        } else {
            cql_first::execute_atomic(&state, &schema, request).await
        };
    }
    let data = RequestData {
        token_error: None,
        mutations: if directives.is_async {
            cql_first::MutationMode::Async
        } else {
            cql_first::MutationMode::Direct
        },
        errors: FieldErrors::default(),
    };
    let errors = data.errors.clone();
    render(schema.execute(request.data(data)).await, &errors)
}

/// `/graphql` without a keyspace: the oldest non-system keyspace, as Stargate picks it.
async fn default_keyspace_endpoint(
    State(state): State<Arc<GraphqlState>>,
    method: Method,
    headers: HeaderMap,
    Query(params): Params,
    body: Bytes,
) -> Response {
    if let Err(error) = check_token(&state.shared, &headers).await {
        return token_response(error);
    }
    match cql_first::default_keyspace(&state.shared.cql).await {
        Some(keyspace) => serve_keyspace(state, keyspace, method, headers, params, body).await,
        None => request_error(StatusCode::NOT_FOUND, "No default keyspace defined"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_directives_are_read_and_removed() {
        let mut request = async_graphql::Request::new(
            "mutation m @atomic {\n  a: insertx(value: {id: 1}) { applied }\n  b: insertx(value: {id: 2}) { applied } }",
        );
        let found = take_operation_directives(&mut request);
        assert!(found.atomic && !found.is_async);
        assert_eq!(found.selections, 2);
        assert_eq!(
            request.query,
            "mutation m  {\n  a: insertx(value: {id: 1}) { applied }\n  b: insertx(value: {id: 2}) { applied } }"
        );
        let mut query = async_graphql::Request::new("{ a @include(if: true) }");
        assert_eq!(take_operation_directives(&mut query), OperationDirectives::default());
        assert_eq!(query.query, "{ a @include(if: true) }");
    }

    #[test]
    fn unknown_fields_read_as_graphql_java_says_them() {
        assert_eq!(
            java_validation_message("Unknown field \"zzz\" on type \"Query\". Did you mean \"a\"?").as_deref(),
            Some("Validation error of type FieldUndefined: Field 'zzz' in type 'Query' is undefined @ 'zzz'")
        );
    }

    #[test]
    fn parser_positions_become_byte_offsets() {
        let source = "ab\ncdé f";
        assert_eq!(offset_of(source, Pos { line: 2, column: 5 }), Some(8));
        assert_eq!(offset_of(source, Pos { line: 1, column: 1 }), Some(0));
    }
}

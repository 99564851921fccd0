//! `multipart/form-data` requests to `/graphql-admin`, for `deploySchemaFile` (reference §4.1):
//! the GraphQL multipart request spec as Stargate's `GraphqlResourceBase.postMultipartJson` reads
//! it: an `operations` part (the JSON request), an optional `map` part naming, for each file part,
//! the one variable it fills (`{"part": ["variables.x"]}`), and the file parts. Stargate's
//! request-level errors are kept word for word.

use std::collections::HashMap;

use async_graphql::UploadValue;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;

use super::request_error;

/// Whether a `Content-Type` is a multipart form.
pub fn is_multipart(content_type: &str) -> bool {
    content_type.to_ascii_lowercase().starts_with("multipart/form-data")
}

struct Part {
    file_name: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

/// The GraphQL request a multipart body carries, with each mapped file bound to its variable.
pub async fn read(content_type: &str, body: Bytes) -> Result<async_graphql::Request, Box<Response>> {
    let bad = |message: &str| Box::new(request_error(StatusCode::BAD_REQUEST, message));
    let boundary =
        multer::parse_boundary(content_type).map_err(|e| bad(&format!("Could not read the multipart request: {e}")))?;
    let stream = futures::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut parts: HashMap<String, Part> = HashMap::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return Err(bad(&format!("Could not read the multipart request: {e}"))),
        };
        let Some(name) = field.name().map(str::to_owned) else {
            continue;
        };
        let file_name = field.file_name().map(str::to_owned);
        let content_type = field.content_type().map(ToString::to_string);
        let data = field
            .bytes()
            .await
            .map_err(|e| bad(&format!("Could not read the multipart request: {e}")))?;
        parts.insert(
            name,
            Part {
                file_name,
                content_type,
                data,
            },
        );
    }

    // Jersey binds `operations` as JSON only when the part says it is JSON.
    let operations = parts
        .get("operations")
        .filter(|part| {
            part.content_type
                .as_deref()
                .is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"))
        })
        .ok_or_else(|| {
            bad("Could not find GraphQL operations object. Make sure your multipart request includes an 'operations' part with MIME type application/json")
        })?;
    let mut request: async_graphql::Request =
        serde_json::from_slice(&operations.data).map_err(|e| bad(&format!("Could not parse the request body: {e}")))?;
    if request.query.trim().is_empty() {
        return Err(bad(
            "You must provide a GraphQL query, either as a query parameter or in the request body",
        ));
    }
    if request.operation_name.as_deref() == Some("") {
        request.operation_name = None;
    }

    let Some(map) = parts.get("map") else {
        return Ok(request);
    };
    if request.variables.is_empty() {
        return Err(bad("Found a 'map' part but the GraphQL query has no variables"));
    }
    let files: HashMap<String, Option<Vec<String>>> =
        serde_json::from_slice(&map.data).map_err(|e| bad(&format!("Could not parse map part: {e}")))?;
    for (part_name, paths) in files {
        let Some(part) = parts.get(&part_name) else {
            return Err(bad(&format!(
                "The 'map' part references '{part_name}', but found no part with that name"
            )));
        };
        let path = match paths.as_deref() {
            Some([path]) => path,
            other => {
                return Err(bad(&format!(
                    "This implementation only allows file parts to reference exactly one variable (offending part: '{part_name}' with {} variables)",
                    other.map_or(0, <[String]>::len)
                )));
            }
        };
        let simple = path
            .strip_prefix("variables.")
            .is_some_and(|name| !name.is_empty() && !name.contains('.'));
        if !simple {
            return Err(bad(&format!(
                "This implementation only allows simple variable references like 'variables.x' (offending reference: '{path}')"
            )));
        }
        request.set_upload(
            path,
            UploadValue {
                filename: part.file_name.clone().unwrap_or_else(|| part_name.clone()),
                content_type: part.content_type.clone(),
                content: part.data.clone(),
            },
        );
    }
    Ok(request)
}

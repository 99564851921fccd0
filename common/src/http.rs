//! One HTTP client for every REST-style sample: timeouts on every request, a user agent that
//! names the sample, bounded retries on 429/502/503/504 that honour `Retry-After` ([`send`]), or
//! none at all ([`send_once`]), and API errors turned into one line with the status and the
//! API's own message.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, Response, StatusCode};

/// How many times a request is retried after a 429 (or a 502/503/504 for idempotent methods).
pub const MAX_RETRIES: u32 = 3;
/// The longest `Retry-After` we wait for; a longer one is reported instead.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(20);

/// A client with a 5 s connect timeout and a 30 s request timeout.
pub fn client(sample: &str) -> Result<reqwest::Client, HttpError> {
    builder(sample).build().map_err(|e| HttpError::Setup(error_chain(&e)))
}

/// Like [`client`], also trusting the CA certificates in `ca_pem` (for a server whose certificate
/// comes from a private CA, as the local stack's does). Public roots stay trusted.
pub fn client_with_ca(sample: &str, ca_pem: &[u8]) -> Result<reqwest::Client, HttpError> {
    let certs = reqwest::Certificate::from_pem_bundle(ca_pem)
        .map_err(|e| HttpError::Setup(format!("bad CA file: {}", error_chain(&e))))?;
    builder(sample)
        .tls_certs_merge(certs)
        .build()
        .map_err(|e| HttpError::Setup(error_chain(&e)))
}

fn builder(sample: &str) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(format!("astra-rust-samples/{sample} ({})", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
}

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    #[error("cannot reach {url}: {reason}. Check the URL and that the server is running.")]
    Unreachable { url: String, reason: String },
    #[error("{url} did not answer in time ({reason}). Check the URL, your network, and the server's health.")]
    Timeout { url: String, reason: String },
    #[error("{method} {url} failed with HTTP {status}: {message}{hint}")]
    Status {
        method: Method,
        url: String,
        status: StatusCode,
        message: String,
        hint: &'static str,
    },
}

impl HttpError {
    /// The HTTP status, when the server answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Sends `request`, retrying 429s (and 502/503/504 for GET, HEAD, PUT, DELETE) up to
/// [`MAX_RETRIES`] times. Returns the response whatever its status; see [`check`].
pub async fn send(request: RequestBuilder) -> Result<Response, HttpError> {
    let mut attempt = 0;
    loop {
        // A request whose body cannot be cloned (a stream) is sent once.
        let retry_copy = request_clone(&request, attempt);
        let current = match retry_copy {
            Some(copy) => copy,
            None => return send_once(request).await,
        };
        let response = send_once(current).await?;
        let Some(delay) = retry_delay(&response, attempt) else {
            return Ok(response);
        };
        tracing::warn!(status = %response.status(), url = %response.url(), ?delay, "retrying");
        tokio::time::sleep(delay).await;
        attempt += 1;
    }
}

/// Sends `request` (with retries) and turns a non-2xx status into [`HttpError::Status`].
pub async fn send_checked(request: RequestBuilder) -> Result<Response, HttpError> {
    check(send(request).await?).await
}

fn request_clone(request: &RequestBuilder, attempt: u32) -> Option<RequestBuilder> {
    if attempt >= MAX_RETRIES {
        None
    } else {
        request.try_clone()
    }
}

/// Sends `request` exactly once, whatever the answer: for a call that must not be repeated
/// blindly, such as a POST that creates something (a create retried after a 503 may create it
/// twice). A 429 or 5xx is returned as it is; pass the response to [`check`] as usual.
pub async fn send_once(request: RequestBuilder) -> Result<Response, HttpError> {
    let (client, built) = request.build_split();
    let built = built.map_err(|e| HttpError::Setup(error_chain(&e)))?;
    let url = redact(built.url());
    let method = built.method().clone();
    let mut response = client.execute(built).await.map_err(|e| {
        let reason = error_chain(&e);
        if e.is_timeout() {
            HttpError::Timeout { url, reason }
        } else {
            HttpError::Unreachable { url, reason }
        }
    })?;
    response.extensions_mut().insert(method);
    Ok(response)
}

/// How long to wait before retrying `response`, or `None` to return it as it is.
fn retry_delay(response: &Response, attempt: u32) -> Option<Duration> {
    if attempt >= MAX_RETRIES {
        return None;
    }
    let status = response.status();
    let idempotent = matches!(
        *response_method(response),
        Method::GET | Method::HEAD | Method::PUT | Method::DELETE
    );
    let retryable = status == StatusCode::TOO_MANY_REQUESTS || (idempotent && matches!(status.as_u16(), 502..=504));
    if !retryable {
        return None;
    }
    match retry_after(response) {
        Some(wait) if wait > MAX_RETRY_AFTER => None,
        Some(wait) => Some(wait),
        None => Some(backoff(attempt)),
    }
}

// reqwest does not keep the method on the response; the retry loop tags it through an extension.
fn response_method(response: &Response) -> &Method {
    response.extensions().get::<Method>().unwrap_or(&Method::POST)
}

/// `Retry-After` in seconds (the form APIs use for rate limits).
fn retry_after(response: &Response) -> Option<Duration> {
    let value = response.headers().get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// 0.5 s, 1 s, 2 s… with up to 25 % jitter, so that many clients do not retry in step.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(500) * 2u32.pow(attempt);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    base + base.mul_f64(f64::from(nanos % 250) / 1000.0)
}

/// Returns `response` if its status is 2xx, else an error with the API's own message.
pub async fn check(response: Response) -> Result<Response, HttpError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let method = response_method(&response).clone();
    let url = redact(response.url());
    let retry_after = retry_after(&response);
    let body = response.text().await.unwrap_or_default();
    let mut message =
        api_message(&body).unwrap_or_else(|| status.canonical_reason().unwrap_or("no details").to_owned());
    if let (StatusCode::TOO_MANY_REQUESTS, Some(wait)) = (status, retry_after) {
        message.push_str(&format!(" (the server asks to retry after {} s)", wait.as_secs()));
    }
    let message = message.trim_end().trim_end_matches('.').to_owned();
    Err(HttpError::Status {
        method,
        url,
        status,
        message,
        hint: hint(status),
    })
}

fn hint(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => {
            ". The token is missing, wrong or expired: create a new one (Astra Portal → Settings → Tokens), or run `scripts/astra-local env` for the local stack."
        }
        403 => {
            ". The token is valid but lacks the permission for this request: use a token with a role that allows it."
        }
        404 => ". Check the name or id in the URL.",
        429 => ". The API is rate limiting requests: wait and run again.",
        500..=599 => ". The server failed: try again later.",
        _ => "",
    }
}

/// The human part of an API error body. Stargate says `description`, Pulsar `reason`, the DevOps
/// and GraphQL APIs an `errors` array, others `message`.
pub fn api_message(body: &str) -> Option<String> {
    let json: serde_json::Value = match serde_json::from_str(body) {
        Ok(json) => json,
        Err(_) => {
            let text = body.trim();
            return (!text.is_empty() && !text.starts_with('<')).then(|| text.chars().take(300).collect());
        }
    };
    let field = |v: &serde_json::Value| {
        ["description", "message", "reason", "detail", "title"]
            .iter()
            .find_map(|k| v.get(*k).and_then(|m| m.as_str()).map(str::to_owned))
    };
    if let Some(errors) = json.get("errors").and_then(|e| e.as_array()) {
        let messages: Vec<String> = errors.iter().filter_map(field).collect();
        if !messages.is_empty() {
            return Some(messages.join("; "));
        }
    }
    field(&json)
}

/// A URL without its query string, for messages: queries can carry signed or private values.
fn redact(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}

/// An error and its causes on one line ("a: b: c"), for messages.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_messages_are_found_in_each_error_shape() {
        assert_eq!(
            api_message(r#"{"description":"Table not found","code":400}"#).as_deref(),
            Some("Table not found")
        );
        assert_eq!(
            api_message(r#"{"reason":"Topic already exists"}"#).as_deref(),
            Some("Topic already exists")
        );
        assert_eq!(
            api_message(r#"{"errors":[{"description":"bad id","ID":2},{"message":"second"}]}"#).as_deref(),
            Some("bad id; second")
        );
        assert_eq!(api_message("plain text").as_deref(), Some("plain text"));
        assert_eq!(api_message("<html>Jetty</html>"), None);
    }

    #[tokio::test]
    async fn send_once_never_retries_while_send_retries_idempotent_calls() {
        use wiremock::matchers::method;
        use wiremock::{Mock, MockServer, ResponseTemplate};

        let server = MockServer::start().await;
        let unavailable = ResponseTemplate::new(503).insert_header("Retry-After", "0");
        Mock::given(method("POST"))
            .respond_with(unavailable.clone())
            .expect(1)
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .respond_with(unavailable)
            .expect(1 + u64::from(MAX_RETRIES))
            .mount(&server)
            .await;
        let client = client("test").expect("client");

        let post = send_once(client.post(server.uri())).await.expect("an answer");
        assert_eq!(post.status(), StatusCode::SERVICE_UNAVAILABLE);
        let error = check(post).await.expect_err("503 is an error");
        assert!(error.to_string().starts_with("POST "), "{error}");
        let get = send(client.get(server.uri())).await.expect("an answer");
        assert_eq!(get.status(), StatusCode::SERVICE_UNAVAILABLE);
        server.verify().await;
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(0) >= Duration::from_millis(500) && backoff(0) < Duration::from_millis(650));
        assert!(backoff(2) >= Duration::from_secs(2) && backoff(2) < Duration::from_millis(2600));
    }
}

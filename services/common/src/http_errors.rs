//! The API's error shape as a safety net: any error answer that is not already JSON becomes
//! `{"error": {"code", "message"}}`.
//!
//! Handlers answer their own errors; what reaches this middleware unconverted are axum's own
//! rejections that no handler saw (a path segment that is not valid UTF-8, a method a route does
//! not take in a service without its own fallback, a panic caught by an outer layer). Clients
//! then parse one shape for every failure.

use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use whistle_schemas::api::ErrorBody;

/// Longest original error text carried over into the message.
const MAX_MESSAGE_CHARS: usize = 200;
/// Larger bodies are not read: an error text is short, and the status says enough.
const MAX_READ_BYTES: usize = 4096;

/// The stable code for an error status that no handler named.
pub fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "malformed_request",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
        StatusCode::URI_TOO_LONG => "uri_too_long",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "unprocessable",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// The API's error answer.
pub fn error_response(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    (status, Json(ErrorBody::new(code, message))).into_response()
}

/// A fallback for unknown paths (`Router::fallback`). A router merged with others needs its own:
/// the default fallback of a merged router does not pass through `json_errors`.
pub async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/json"))
}

/// Middleware (`axum::middleware::from_fn(json_errors)`).
pub async fn json_errors(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_READ_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let message = if status.is_server_error() || text.is_empty() {
        // A server error's text may carry internals; the status reason is enough.
        status.canonical_reason().unwrap_or("error").to_lowercase()
    } else if text.chars().count() > MAX_MESSAGE_CHARS {
        text.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + "…"
    } else {
        text
    };
    let mut out = error_response(status, code_for(status), message);
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(value) = parts.headers.get(&name) {
            out.headers_mut().insert(name, value.clone());
        }
    }
    out.headers_mut().entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    out.extensions_mut().extend(parts.extensions);
    out
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::extract::Path;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    fn app() -> Router {
        Router::new()
            .route("/items/{id}", get(|Path(id): Path<String>| async move { id }))
            .route("/json", get(|| async { error_response(StatusCode::CONFLICT, "invalid_transition", "no") }))
            .route("/boom", get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "secret internals") }))
            .layer(axum::middleware::from_fn(json_errors))
    }

    async fn call(method: &str, uri: &str) -> (StatusCode, Option<String>, ErrorBody) {
        let req = Request::builder().method(method).uri(uri).body(Body::empty()).expect("request");
        let resp = app().oneshot(req).await.expect("infallible");
        let status = resp.status();
        let allow = resp.headers().get(header::ALLOW).map(|v| v.to_str().unwrap_or("").to_owned());
        let body = axum::body::to_bytes(resp.into_body(), 10_000).await.expect("body");
        (status, allow, serde_json::from_slice(&body).expect("the API's error shape"))
    }

    #[tokio::test]
    async fn axum_rejections_and_default_answers_become_the_error_shape() {
        let (status, _, body) = call("GET", "/items/%FF").await;
        assert_eq!((status, body.error.code.as_str()), (StatusCode::BAD_REQUEST, "malformed_request"));
        assert!(!body.error.message.is_empty());
        let (status, allow, body) = call("POST", "/items/1").await;
        assert_eq!((status, body.error.code.as_str()), (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"));
        assert!(allow.is_some_and(|a| a.contains("GET")), "Allow survives");
        let (status, _, body) = call("GET", "/nowhere").await;
        assert_eq!((status, body.error.code.as_str()), (StatusCode::NOT_FOUND, "not_found"));
    }

    #[tokio::test]
    async fn json_errors_pass_through_and_server_errors_hide_their_text() {
        let (status, _, body) = call("GET", "/json").await;
        assert_eq!((status, body.error.code.as_str()), (StatusCode::CONFLICT, "invalid_transition"));
        let (status, _, body) = call("GET", "/boom").await;
        assert_eq!((status, body.error.code.as_str()), (StatusCode::INTERNAL_SERVER_ERROR, "internal"));
        assert!(!body.error.message.contains("secret"), "{}", body.error.message);
    }
}

//! The HTTP layers every Whistle API shares, in one place: a request id on every request and
//! answer, a caught panic answered in the error shape (never a dropped connection), a request
//! timeout, and the JSON error shape for whatever a handler did not answer itself.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, StatusCode};
use axum::response::Response;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;

use crate::http_errors::{error_response, json_errors};

/// The header that carries the request id (set when the client sent none, echoed on the answer).
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps an API router in the shared layers (outermost first): request id, panic catcher,
/// JSON errors, timeout.
pub fn api_layers(router: Router, timeout: Duration) -> Router {
    router
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, timeout))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}

/// A handler panicked: an operator must look (ERROR); the client gets the error shape.
fn panicked(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("a panic without a message");
    tracing::error!(panic = what, "request handler panicked");
    error_response(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; it has been logged")
}

/// A closed set of method labels for request metrics: any other method is `other`, so arbitrary
/// methods cannot create metric series.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::extract::Request;
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::*;

    async fn boom() -> &'static str {
        panic!("boom")
    }

    async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(60)).await;
        "late"
    }

    fn app() -> Router {
        let router =
            Router::new().route("/ok", get(|| async { "ok" })).route("/panic", get(boom)).route("/slow", get(slow));
        api_layers(router, Duration::from_millis(50))
    }

    async fn call(uri: &str, id: Option<&str>) -> Response {
        let mut req = Request::builder().uri(uri);
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        app().oneshot(req.body(Body::empty()).expect("request")).await.expect("infallible")
    }

    async fn code(resp: Response) -> String {
        let body = axum::body::to_bytes(resp.into_body(), 10_000).await.expect("body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("the error shape");
        v["error"]["code"].as_str().expect("code").to_owned()
    }

    #[tokio::test]
    async fn every_answer_carries_a_request_id_and_keeps_the_clients() {
        let resp = call("/ok", None).await;
        assert!(resp.headers().get("x-request-id").is_some_and(|v| v.len() >= 32), "a fresh id");
        let resp = call("/ok", Some("abc-123")).await;
        assert_eq!(resp.headers()["x-request-id"], "abc-123");
    }

    #[tokio::test]
    async fn a_panic_is_a_500_in_the_error_shape_and_a_slow_request_a_408() {
        let resp = call("/panic", Some("p-1")).await;
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(resp.headers()["x-request-id"], "p-1");
        assert_eq!(code(resp).await, "internal");
        let resp = call("/slow", None).await;
        assert_eq!(resp.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(code(resp).await, "timeout");
    }

    #[test]
    fn method_labels_are_a_closed_set() {
        let odd = axum::http::Method::from_bytes(b"BREW").expect("method");
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&axum::http::Method::POST), "POST");
    }
}

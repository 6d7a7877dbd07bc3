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

/// Request counts and latencies, labelled by route template (never the raw path), method (a
/// closed set) and status. Registered in the service's registry, so each service's prefix names
/// them (`whistle_intake_http_requests_total`, `whistle_registry_…`, `whistle_sla_…`).
#[derive(Clone)]
pub struct RequestMetrics {
    pub requests: prometheus::IntCounterVec,
    pub duration: prometheus::HistogramVec,
}

impl RequestMetrics {
    pub fn register(registry: &prometheus::Registry) -> anyhow::Result<RequestMetrics> {
        let requests = prometheus::IntCounterVec::new(
            prometheus::Opts::new("http_requests_total", "HTTP requests by route template, method and status"),
            &["route", "method", "status"],
        )?;
        let duration = prometheus::HistogramVec::new(
            prometheus::HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by route template")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0]),
            &["route"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(duration.clone()))?;
        Ok(RequestMetrics { requests, duration })
    }

    /// Records one answer.
    pub fn observe(&self, route: &str, method: &axum::http::Method, status: StatusCode, took: Duration) {
        self.duration.with_label_values(&[route]).observe(took.as_secs_f64());
        self.requests.with_label_values(&[route, method_label(method), status.as_str()]).inc();
    }

    /// The route template of a request (`unmatched` for paths no route took).
    pub fn route(req: &axum::extract::Request) -> String {
        req.extensions()
            .get::<axum::extract::MatchedPath>()
            .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned())
    }
}

/// Middleware (`from_fn_with_state(metrics, track)`): every answer counted, `429`s included.
pub async fn track(
    axum::extract::State(metrics): axum::extract::State<RequestMetrics>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = RequestMetrics::route(&req);
    let method = req.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(req).await;
    metrics.observe(&route, &method, response.status(), started.elapsed());
    response
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

    #[tokio::test]
    async fn request_metrics_use_route_templates_and_a_closed_set_of_methods() {
        let registry = prometheus::Registry::new();
        let metrics = RequestMetrics::register(&registry).expect("registered");
        let app = Router::new()
            .route("/items/{id}", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn_with_state(metrics.clone(), track));
        for (method, uri) in [("GET", "/items/1"), ("GET", "/items/2"), ("BREW", "/items/3"), ("PURGE", "/nowhere")] {
            let req = Request::builder().method(method).uri(uri).body(Body::empty()).expect("request");
            app.clone().oneshot(req).await.expect("infallible");
        }
        let labels: Vec<Vec<String>> = registry
            .gather()
            .iter()
            .filter(|f| f.name() == "http_requests_total")
            .flat_map(|f| f.get_metric().iter().map(|m| m.get_label().iter().map(|l| l.value().to_owned()).collect()))
            .collect();
        // Two ids are one series; odd methods are `other`; an unknown path is `unmatched`.
        assert!(labels.contains(&vec!["GET".to_owned(), "/items/{id}".to_owned(), "200".to_owned()]), "{labels:?}");
        assert!(labels.iter().all(|l| ["GET", "other"].contains(&l[0].as_str())), "{labels:?}");
        assert!(labels.iter().all(|l| l[1] == "/items/{id}" || l[1] == "unmatched"), "{labels:?}");
        assert!(labels.len() <= 3, "{labels:?}");
    }

    #[test]
    fn method_labels_are_a_closed_set() {
        let odd = axum::http::Method::from_bytes(b"BREW").expect("method");
        assert_eq!(method_label(&odd), "other");
        assert_eq!(method_label(&axum::http::Method::POST), "POST");
    }
}

/// A bound on the requests an API handles at once. Past it a request is answered at once with
/// `503 overloaded` and `Retry-After: 1`, before anything of it is read or recorded, instead of
/// waiting in a queue that grows with the overload: memory stays bounded and the requests taken
/// keep their latency. Health, readiness and metrics are not behind it (they are merged outside).
#[derive(Clone, Debug)]
pub struct InFlightLimit {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
    max: usize,
}

impl InFlightLimit {
    pub fn new(max: usize) -> Self {
        let max = max.max(1);
        InFlightLimit { permits: std::sync::Arc::new(tokio::sync::Semaphore::new(max)), max }
    }

    /// Requests being handled now.
    pub fn in_flight(&self) -> usize {
        self.max - self.permits.available_permits()
    }

    /// Wraps `router`'s routes in the bound (`axum::middleware::from_fn_with_state`).
    pub fn layer(self, router: Router) -> Router {
        router.layer(axum::middleware::from_fn_with_state(self, shed_load))
    }
}

async fn shed_load(
    axum::extract::State(limit): axum::extract::State<InFlightLimit>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let Ok(permit) = limit.permits.clone().try_acquire_owned() else {
        tracing::debug!(max = limit.max, path = %req.uri().path(), "request shed: too many in flight");
        let mut response = error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "overloaded",
            format!(
                "this service is handling {} requests at once, its limit; nothing of this request was read or \
                 recorded: retry in a second",
                limit.max
            ),
        );
        response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        return response;
    };
    let response = next.run(req).await;
    drop(permit);
    response
}

#[cfg(test)]
mod in_flight_tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use axum::routing::get;
    use tower::ServiceExt as _;

    use super::InFlightLimit;

    #[tokio::test]
    async fn past_the_bound_a_request_is_answered_503_overloaded_at_once_and_the_others_finish() {
        // The handler waits until the gate opens.
        let (gate, wait) = tokio::sync::watch::channel(false);
        let limit = InFlightLimit::new(2);
        let app = limit.clone().layer(axum::Router::new().route(
            "/slow",
            get(move || {
                let mut wait = wait.clone();
                async move {
                    let _ = wait.wait_for(|open| *open).await;
                    "done"
                }
            }),
        ));
        let call = |app: axum::Router| async move {
            app.oneshot(Request::get("/slow").body(Body::empty()).unwrap()).await.unwrap()
        };
        let first = tokio::spawn(call(app.clone()));
        let second = tokio::spawn(call(app.clone()));
        while limit.in_flight() < 2 {
            tokio::task::yield_now().await;
        }
        let shed = tokio::time::timeout(std::time::Duration::from_secs(5), call(app.clone()))
            .await
            .expect("past the bound the answer comes at once, not after the requests in flight");
        assert_eq!(shed.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(shed.headers()["retry-after"], "1");
        let body = axum::body::to_bytes(shed.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "overloaded", "{body}");

        gate.send_replace(true);
        assert_eq!(first.await.unwrap().status(), StatusCode::OK);
        assert_eq!(second.await.unwrap().status(), StatusCode::OK);
        assert_eq!(limit.in_flight(), 0, "the permits come back");
        // With room again, a request is taken.
        assert_eq!(call(app.clone()).await.status(), StatusCode::OK);
    }
}

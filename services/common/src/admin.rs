//! Health, readiness and metrics endpoints, merged into every service's router.
//!
//! `/healthz` answers 200 while the process runs; `/readyz` asks the service's dependencies
//! (Kafka, Redis) and answers 503 with the failing ones named; `/metrics` is Prometheus text.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use prometheus::{Encoder, Registry, TextEncoder};

/// A named readiness check.
pub type Check = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = bool> + Send>> + Send + Sync>;

#[derive(Clone)]
struct AdminState {
    registry: Registry,
    checks: Arc<Vec<(&'static str, Check)>>,
}

/// Routes for `/healthz`, `/readyz` and `/metrics`.
pub fn routes<S>(registry: Registry, checks: Vec<(&'static str, Check)>) -> Router<S> {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(AdminState { registry, checks: Arc::new(checks) })
}

async fn readyz(State(state): State<AdminState>) -> Response {
    let mut failing = Vec::new();
    for (name, check) in state.checks.iter() {
        if !check().await {
            failing.push(*name);
        }
    }
    if failing.is_empty() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {}", failing.join(", "))).into_response()
    }
}

async fn metrics(State(state): State<AdminState>) -> Response {
    let encoder = TextEncoder::new();
    let mut buf = Vec::new();
    match encoder.encode(&state.registry.gather(), &mut buf) {
        Ok(()) => ([(header::CONTENT_TYPE, encoder.format_type().to_owned())], buf).into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, format!("encoding metrics: {err}")).into_response(),
    }
}

/// How long a readiness probe waits for Kafka.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Ready while the broker answers a metadata request from this consumer.
pub fn consumer_check<C: rdkafka::consumer::ConsumerContext + 'static>(
    consumer: Arc<rdkafka::consumer::StreamConsumer<C>>,
) -> Check {
    Arc::new(move || Box::pin(crate::kafka::broker_reachable(consumer.clone(), PROBE_TIMEOUT)))
}

/// Ready while the broker answers a metadata request from this producer.
pub fn producer_check(producer: rdkafka::producer::FutureProducer) -> Check {
    Arc::new(move || Box::pin(crate::kafka::producer_reachable(producer.clone(), PROBE_TIMEOUT)))
}

/// Ready while Redis answers `PING`.
pub fn redis_check(conn: crate::redis_conn::Redis) -> Check {
    Arc::new(move || {
        let mut conn = conn.clone();
        Box::pin(async move { redis::cmd("PING").query_async::<String>(&mut conn).await.is_ok() })
    })
}

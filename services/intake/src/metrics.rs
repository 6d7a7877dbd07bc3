//! Intake's Prometheus metrics and the middleware that records every request.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

use crate::error::ApiError;

#[derive(Clone)]
pub struct Metrics {
    pub registry: Registry,
    pub http: whistle_common::http::RequestMetrics,
    pub whistles_raised: IntCounter,
    pub actions: IntCounterVec,
    pub kafka_produce_failures: IntCounter,
    pub logins: IntCounter,
    pub logins_refused: IntCounter,
    /// Attachments stored, by content type (four values).
    pub attachments: IntCounterVec,
    /// Bytes of metadata stripped from uploads before they were stored.
    pub attachment_bytes_stripped: IntCounter,
    /// Raises answered with likely duplicates.
    pub raises_with_duplicates: IntCounter,
    /// Duplicate lookups that failed (the raise was accepted without `possible_duplicates`).
    pub duplicate_lookup_failures: IntCounter,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Metrics> {
        let registry = Registry::new_custom(Some("whistle_intake".into()), None)?;
        let http = whistle_common::http::RequestMetrics::register(&registry)?;
        let whistles_raised = IntCounter::new("whistles_raised_total", "Whistles accepted (Kafka acknowledged)")?;
        let actions = IntCounterVec::new(Opts::new("actions_total", "Department actions accepted"), &["action"])?;
        let kafka_produce_failures =
            IntCounter::new("kafka_produce_failures_total", "Produce calls Kafka did not acknowledge")?;
        let logins = IntCounter::new("logins_total", "Successful logins (refused ones count in http_requests_total)")?;
        registry.register(Box::new(logins.clone()))?;
        let logins_refused =
            IntCounter::new("logins_refused_total", "Logins refused: wrong credentials, too many attempts, busy")?;
        registry.register(Box::new(logins_refused.clone()))?;
        registry.register(Box::new(whistles_raised.clone()))?;
        registry.register(Box::new(actions.clone()))?;
        registry.register(Box::new(kafka_produce_failures.clone()))?;
        let attachments = IntCounterVec::new(
            Opts::new("attachments_stored_total", "Evidence attachments stored, by content type"),
            &["content_type"],
        )?;
        registry.register(Box::new(attachments.clone()))?;
        let attachment_bytes_stripped = IntCounter::new(
            "attachment_stripped_bytes_total",
            "Bytes of metadata (EXIF, XMP, text, trailers) taken out of uploads before they were stored",
        )?;
        registry.register(Box::new(attachment_bytes_stripped.clone()))?;
        let raises_with_duplicates = IntCounter::new(
            "raises_with_duplicates_total",
            "Raises answered with possible_duplicates (open whistles of the item nearby)",
        )?;
        registry.register(Box::new(raises_with_duplicates.clone()))?;
        let duplicate_lookup_failures = IntCounter::new(
            "duplicate_lookup_failures_total",
            "Duplicate lookups or place records that failed; the raise was accepted all the same",
        )?;
        registry.register(Box::new(duplicate_lookup_failures.clone()))?;
        Ok(Metrics {
            raises_with_duplicates,
            duplicate_lookup_failures,
            registry,
            http,
            whistles_raised,
            actions,
            kafka_produce_failures,
            logins,
            logins_refused,
            attachments,
            attachment_bytes_stripped,
        })
    }
}

/// Records request metrics and logs failed requests, in one place.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let route = whistle_common::http::RequestMetrics::route(&req);
    let method = req.method().clone();
    let started = Instant::now();
    let response = next.run(req).await;
    let status = response.status();
    metrics.http.observe(&route, &method, status, started.elapsed());
    if let Some(err) = response.extensions().get::<Arc<ApiError>>() {
        if status.is_server_error() {
            tracing::error!(%method, route, status = status.as_u16(), error = %format_args!("{err:#}"), "request failed");
        } else {
            tracing::debug!(%method, route, status = status.as_u16(), error = %err, "request refused");
        }
    }
    response
}

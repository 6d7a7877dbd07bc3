//! The webhook worker: leases due deliveries, POSTs each to its receiver (bounded concurrency,
//! a per-attempt timeout, the address rule of [`target`](super::target)), and records every
//! attempt. A non-2xx answer or an error is retried with the notifier's backoff (capped
//! exponential, upper half random) until `webhooks.max_attempts` attempts or
//! `webhooks.max_age_seconds`, then the delivery is dead; a subscription failing for
//! `webhooks.pause_after_seconds` is paused. Several instances share the work through leases.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use super::store::{AfterFailure, AttemptRecord, LeasedDelivery};
use super::{ATTEMPT_HEADER, CONTENT_TYPE, DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, WEBHOOK_HEADER};
use crate::leases::{self, Leasing};
use crate::metrics::Metrics;
use crate::sender::backoff;
use crate::settings::WebhookSettings;
use crate::store::NotifyStore;

/// How often finished deliveries beyond `webhooks.kept_deliveries` are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// The longest error text kept for an attempt.
const MAX_ERROR_CHARS: usize = 500;

/// An error with its causes (`reqwest`'s own message says little: "error sending request").
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text.chars().take(MAX_ERROR_CHARS).collect()
}

#[derive(Clone)]
pub struct Worker {
    pub store: NotifyStore,
    pub client: reqwest::Client,
    pub metrics: Metrics,
    pub settings: WebhookSettings,
    pub wake: Arc<Notify>,
}

impl Worker {
    /// Runs until cancelled ([`leases::run`]), pruning finished deliveries every minute.
    pub async fn run(self, token: CancellationToken) -> anyhow::Result<()> {
        let timing = leases::Timing {
            poll: Duration::from_millis(self.settings.poll_ms),
            lease: Duration::from_secs(self.settings.lease_seconds),
            concurrency: self.settings.concurrency,
            housekeeping: Some(PRUNE_EVERY),
        };
        leases::run(&self, timing, &self.wake, &token).await;
        Ok(())
    }

    /// One POST; answers the receiver's status, or why there was none.
    async fn post(&self, d: &LeasedDelivery, attempt: i32) -> Result<u16, (Option<u16>, String)> {
        let url = url::Url::parse(&d.url).map_err(|e| (None, format!("the stored URL no longer parses: {e}")))?;
        if !self.settings.allow_private_targets {
            super::target::check_literal(&url).map_err(|m| (None, m))?;
        }
        let response = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .header(SIGNATURE_HEADER, super::signature(&d.secret, d.body.as_bytes()))
            .header(DELIVERY_HEADER, &d.id)
            .header(EVENT_HEADER, &d.event_type)
            .header(WEBHOOK_HEADER, d.webhook.to_string())
            .header(ATTEMPT_HEADER, attempt.to_string())
            .body(d.body.clone())
            .send()
            .await
            .map_err(|e| (None, error_chain(&e)))?;
        let status = response.status();
        if status.is_success() {
            Ok(status.as_u16())
        } else {
            Err((Some(status.as_u16()), format!("the receiver answered {status}")))
        }
    }

    async fn deliver(&self, d: LeasedDelivery) {
        let attempt = d.attempts + 1;
        let started = Instant::now();
        let outcome = self.post(&d, attempt).await;
        let duration = started.elapsed();
        self.metrics.webhook_latency.observe(duration.as_secs_f64());
        let recorded = match outcome {
            Ok(status) => {
                self.metrics.webhook_deliveries.with_label_values(&["delivered"]).inc();
                tracing::info!(
                    webhook = %d.webhook, delivery = %d.id, whistle = %d.whistle, event = %d.event_type, attempt, status,
                    "webhook delivered"
                );
                let record = AttemptRecord { attempt, status: Some(status), error: None, duration };
                self.store.webhook_delivered(&d, &record).await.map(|()| None)
            }
            Err((status, error)) => {
                self.metrics.webhook_deliveries.with_label_values(&["failed"]).inc();
                let delay = backoff(
                    attempt as u32,
                    Duration::from_millis(self.settings.backoff_base_ms),
                    Duration::from_secs(self.settings.backoff_cap_seconds),
                    rand::random::<f64>(),
                );
                let deadline = d.created_at + chrono::Duration::seconds(self.settings.max_age_seconds as i64);
                let retry = (attempt < self.settings.max_attempts as i32
                    && chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX)
                        < deadline)
                    .then_some(delay);
                let record = AttemptRecord { attempt, status, error: Some(error.clone()), duration };
                let pause_after = Duration::from_secs(self.settings.pause_after_seconds);
                self.store
                    .webhook_failed(&d, &record, retry, pause_after)
                    .await
                    .map(|after| Some((after, error, retry)))
            }
        };
        match recorded {
            Ok(None) => {}
            Ok(Some((after, error, retry))) => {
                let (webhook, delivery, whistle) = (&d.webhook, &d.id, &d.whistle);
                match after {
                    AfterFailure::Retry => tracing::warn!(
                        %webhook, %delivery, %whistle, attempt, retry_in_ms = retry.map_or(0, |r| r.as_millis() as u64),
                        %error, "webhook delivery failed; will retry"
                    ),
                    AfterFailure::Dead => {
                        self.metrics.webhook_deliveries.with_label_values(&["dead"]).inc();
                        tracing::error!(%webhook, %delivery, %whistle, attempt, %error, "webhook delivery given up");
                    }
                    AfterFailure::Paused => {
                        self.metrics.webhook_deliveries.with_label_values(&["dead"]).inc();
                        self.metrics.webhooks_paused.inc();
                        tracing::error!(
                            %webhook, %delivery, attempt, %error,
                            "webhook paused: its deliveries have failed for too long; resume it once the receiver works"
                        );
                    }
                }
            }
            Err(err) => {
                // The lease runs out and the delivery is attempted again (at least once).
                tracing::warn!(delivery = %d.id, error = %format_args!("{err:#}"), "could not record a webhook attempt");
            }
        }
    }
}

impl Leasing for Worker {
    type Item = LeasedDelivery;
    const WHAT: &'static str = "webhook deliveries";

    async fn lease(&self, lease: Duration) -> anyhow::Result<Vec<LeasedDelivery>> {
        self.store.lease_webhook_deliveries(i64::from(self.settings.batch), lease).await
    }

    async fn next_due(&self) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
        self.store.next_webhook_due().await
    }

    async fn attempt(&self, d: LeasedDelivery) {
        self.deliver(d).await;
    }

    async fn housekeeping(&self) {
        match self.store.prune_webhook_deliveries(self.settings.kept_deliveries).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(pruned = n, "pruned old webhook deliveries"),
            Err(err) => tracing::warn!(error = %format_args!("{err:#}"), "could not prune webhook deliveries"),
        }
    }
}

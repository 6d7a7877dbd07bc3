//! The sender: leases due deliveries from the store, sends each on its channel, records the
//! outcome. A failure is retried with capped exponential backoff and jitter until
//! `delivery.max_attempts`, then the delivery is dead (the dead-letter list). Several senders
//! (instances) share the work through the leases.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::channels::Channels;
use crate::leases::{self, Leasing};
use crate::metrics::Metrics;
use crate::settings::DeliverySettings;
use crate::store::{Leased, NotifyStore};

/// How long to wait before attempt `attempt + 1` after `attempt` failures (1-based): the
/// capped exponential `base · 2^(attempt-1)`, of which the upper half is random (`jitter` in
/// `[0, 1)`), so failing deliveries of one outage do not all come back at once.
pub fn backoff(attempt: u32, base: Duration, cap: Duration, jitter: f64) -> Duration {
    let exp = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20)).min(cap);
    let half = exp / 2;
    half + half.mul_f64(jitter.clamp(0.0, 1.0))
}

#[derive(Clone)]
pub struct Sender {
    pub store: NotifyStore,
    pub channels: Channels,
    pub metrics: Metrics,
    pub settings: DeliverySettings,
    pub wake: Arc<Notify>,
}

impl Sender {
    /// Runs until cancelled ([`leases::run`]).
    pub async fn run(self, token: CancellationToken) -> anyhow::Result<()> {
        let timing = leases::Timing {
            poll: Duration::from_millis(self.settings.poll_ms),
            lease: Duration::from_secs(self.settings.lease_seconds),
            concurrency: self.settings.concurrency,
            housekeeping: None,
        };
        leases::run(&self, timing, &self.wake, &token).await;
        Ok(())
    }
}

impl Leasing for Sender {
    type Item = Leased;
    const WHAT: &'static str = "deliveries";

    async fn lease(&self, lease: Duration) -> anyhow::Result<Vec<Leased>> {
        self.store.lease_due(self.settings.batch as i64, lease).await
    }

    async fn next_due(&self) -> anyhow::Result<Option<chrono::DateTime<chrono::Utc>>> {
        self.store.next_due().await
    }

    async fn attempt(&self, d: Leased) {
        let channel = Metrics::channel(&d.channel);
        let started = Instant::now();
        let outcome = self.channels.send(&d).await;
        self.metrics.latency.with_label_values(&[channel]).observe(started.elapsed().as_secs_f64());
        let recorded = match outcome {
            Ok(()) => {
                self.metrics.sent.with_label_values(&[channel]).inc();
                tracing::info!(whistle = %d.whistle, kind = %d.kind, channel, delivery = %d.id, "notification sent");
                self.store.mark_sent(&d.id).await
            }
            Err(err) => {
                self.metrics.failed.with_label_values(&[channel]).inc();
                let attempts = d.attempts as u32 + 1;
                let retry = (err.retryable && attempts < self.settings.max_attempts).then(|| {
                    backoff(
                        attempts,
                        Duration::from_millis(self.settings.backoff_base_ms),
                        Duration::from_secs(self.settings.backoff_cap_seconds),
                        rand::random::<f64>(),
                    )
                });
                match retry {
                    Some(delay) => tracing::warn!(
                        whistle = %d.whistle, channel, delivery = %d.id, attempts, retry_in_ms = delay.as_millis() as u64,
                        error = %err, "notification failed; will retry"
                    ),
                    None => {
                        self.metrics.dead.with_label_values(&[channel]).inc();
                        tracing::error!(
                            whistle = %d.whistle, channel, delivery = %d.id, attempts, error = %err,
                            "notification given up: it is on the dead-letter list"
                        );
                    }
                }
                self.store.mark_failed(&d.id, &err.message, retry).await
            }
        };
        if let Err(err) = recorded {
            // The lease runs out and the delivery is attempted again: a sent one may go twice.
            tracing::warn!(delivery = %d.id, error = %format_args!("{err:#}"), "could not record a delivery's outcome");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_with_the_upper_half_random() {
        let (base, cap) = (Duration::from_millis(500), Duration::from_secs(60));
        assert_eq!(backoff(1, base, cap, 0.0), Duration::from_millis(250));
        assert_eq!(backoff(1, base, cap, 1.0), Duration::from_millis(500));
        assert_eq!(backoff(2, base, cap, 0.0), Duration::from_millis(500));
        assert_eq!(backoff(3, base, cap, 0.5), Duration::from_millis(1500));
        assert_eq!(backoff(30, base, cap, 1.0), cap);
        assert_eq!(backoff(30, base, cap, 0.0), cap / 2);
        let spread: std::collections::BTreeSet<_> =
            [0.1, 0.4, 0.9].into_iter().map(|j| backoff(4, base, cap, j)).collect();
        assert_eq!(spread.len(), 3, "jitter spreads retries");
    }
}

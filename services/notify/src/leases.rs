//! The loop both delivery kinds run (notifications on their channels, webhooks to their
//! receivers): lease what is due, attempt it with bounded concurrency, and otherwise sleep until
//! the next due time, a wake-up from the consumer, or the poll interval (another instance may
//! have planned something). Several instances share the work through the leases.

use std::future::Future;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// One kind of leased work.
pub trait Leasing: Sync {
    type Item: Send;
    /// What is leased, for logs ("deliveries", "webhook deliveries").
    const WHAT: &'static str;
    /// Leases up to a batch of due items for `lease`.
    fn lease(&self, lease: Duration) -> impl Future<Output = anyhow::Result<Vec<Self::Item>>> + Send;
    /// When the next item falls due, if any is planned.
    fn next_due(&self) -> impl Future<Output = anyhow::Result<Option<DateTime<Utc>>>> + Send;
    /// One attempt; it records its own outcome.
    fn attempt(&self, item: Self::Item) -> impl Future<Output = ()> + Send;
    /// Periodic upkeep (e.g. pruning finished items), every [`Timing::housekeeping`].
    fn housekeeping(&self) -> impl Future<Output = ()> + Send {
        async {}
    }
}

/// How the loop paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub poll: Duration,
    pub lease: Duration,
    pub concurrency: usize,
    /// How often [`Leasing::housekeeping`] runs; `None`: never.
    pub housekeeping: Option<Duration>,
}

/// Runs until cancelled. Attempts in flight finish even at shutdown (each is bounded by its
/// channel's timeout, shorter than the lease); one cut short is attempted again after its lease.
pub async fn run<L: Leasing>(work: &L, timing: Timing, wake: &Notify, token: &CancellationToken) {
    let poll = timing.poll.max(Duration::from_millis(10));
    let lease = timing.lease.max(Duration::from_secs(1));
    let mut kept_at = Instant::now();
    loop {
        if token.is_cancelled() {
            return;
        }
        if let Some(every) = timing.housekeeping
            && kept_at.elapsed() >= every
        {
            kept_at = Instant::now();
            work.housekeeping().await;
        }
        let batch = match work.lease(lease).await {
            Ok(batch) => batch,
            Err(err) => {
                tracing::warn!(error = %format_args!("{err:#}"), "could not lease {}; retrying", L::WHAT);
                tokio::select! {
                    () = token.cancelled() => return,
                    () = tokio::time::sleep(poll) => continue,
                }
            }
        };
        if batch.is_empty() {
            let wait = match work.next_due().await {
                Ok(Some(at)) => (at - Utc::now()).to_std().unwrap_or_default().min(poll),
                _ => poll,
            };
            tokio::select! {
                () = token.cancelled() => return,
                () = wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
            continue;
        }
        futures::stream::iter(batch).for_each_concurrent(timing.concurrency.max(1), |item| work.attempt(item)).await;
    }
}

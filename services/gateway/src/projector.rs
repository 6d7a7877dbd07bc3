//! Case events from Kafka into Redis.

use std::sync::Arc;

use chrono::Utc;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::{Message, OwnedMessage};
use tokio_util::sync::CancellationToken;
use whistle_casestore::{CaseStore, Projected, StoreError};
use whistle_common::kafka::{self, DeadLetters, GaveUp};
use whistle_schemas::events::{Decoded, decode};

use crate::metrics::Metrics;

/// Events being projected at once (across different whistles).
const PROJECTOR_IN_FLIGHT: usize = 64;

#[derive(Clone)]
pub struct Projector {
    pub store: CaseStore,
    pub dead_letters: DeadLetters,
    pub metrics: Metrics,
}

impl Projector {
    /// Runs until `token` is cancelled. Events of one whistle apply in their partition order;
    /// different whistles concurrently.
    pub async fn run(self, consumer: Arc<StreamConsumer>, token: CancellationToken) -> anyhow::Result<()> {
        let handler_token = token.clone();
        let redis = Some(self.store.connection());
        kafka::consume_in_order(consumer, token, PROJECTOR_IN_FLIGHT, redis, move |msg| {
            let projector = self.clone();
            let token = handler_token.clone();
            async move { projector.handle(msg, &token).await }
        })
        .await
    }

    async fn handle(&self, msg: OwnedMessage, token: &CancellationToken) -> anyhow::Result<()> {
        let event = match decode(msg.payload().unwrap_or_default()) {
            Ok(Decoded::Event(event)) => event,
            Ok(Decoded::UnknownType(kind)) => {
                tracing::debug!(kind, "unknown event type passed over");
                return Ok(());
            }
            Err(err) => {
                let reason = err.to_string();
                kafka::retry_until_cancelled("dead-lettering", token, || self.dead_letters.send(&msg, &reason)).await?;
                self.metrics.dead_letters.inc();
                return Ok(());
            }
        };
        let projected = kafka::retry_while_retryable("projecting into Redis", token, StoreError::retryable, || {
            self.store.project(&event)
        })
        .await;
        let outcome = match projected {
            Ok(outcome) => outcome,
            // A stored case that does not decode will not decode on a retry either: the event
            // goes to the dead-letter topic with the reason, and the partition moves on.
            Err(GaveUp::Permanent(err)) => {
                let reason = err.to_string();
                tracing::error!(whistle = %event.subject, event_id = %event.id, reason = %reason, "event dead-lettered: its case cannot be read");
                kafka::retry_until_cancelled("dead-lettering", token, || self.dead_letters.send(&msg, &reason)).await?;
                self.metrics.dead_letters.inc();
                return Ok(());
            }
            Err(GaveUp::Cancelled(err)) => {
                return Err(anyhow::Error::new(err).context("projecting: gave up at shutdown"));
            }
        };
        match outcome {
            Projected::Applied(view) => {
                self.metrics.projected.with_label_values(&[event.type_name()]).inc();
                let lag = (Utc::now() - event.time).num_microseconds().unwrap_or(0).max(0) as f64 / 1e6;
                self.metrics.projection_lag.observe(lag);
                tracing::debug!(whistle = %event.subject, kind = event.type_name(), status = %view.status, "projected");
            }
            Projected::Duplicate => self.metrics.duplicates.inc(),
            // The case refuses it (two conflicting actions accepted at once, a timer that lost to
            // the completion): not applied, kept with the reason on the dead-letter topic.
            Projected::Refused(refusal) => {
                self.metrics.refused.inc();
                let reason = format!("the case refuses {}: {refusal}", event.type_name());
                tracing::warn!(whistle = %event.subject, event_id = %event.id, reason = %reason, "event does not fit its case; not applied");
                kafka::retry_until_cancelled("dead-lettering", token, || self.dead_letters.send(&msg, &reason)).await?;
                self.metrics.dead_letters.inc();
            }
        }
        Ok(())
    }
}

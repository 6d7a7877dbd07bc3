//! The consumer group `ledger` on the case topic: the events fetched while the last batch was
//! written are applied to their cases in PostgreSQL in one transaction (`consume_batches`,
//! [`LedgerStore::apply_batch`]), the offsets stored only after the commit. A case's events
//! apply in topic order.

use std::sync::Arc;

use rdkafka::consumer::StreamConsumer;
use rdkafka::message::{Message as _, OwnedMessage};
use tokio_util::sync::CancellationToken;
use whistle_common::kafka::{self, DeadLetters};
use whistle_schemas::events::{CaseEvent, Decoded, decode};

use crate::metrics::Metrics;
use crate::store::{Applied, LedgerStore};

#[derive(Clone)]
pub struct Projector {
    pub store: LedgerStore,
    pub consumer: Arc<StreamConsumer>,
    pub dead_letters: DeadLetters,
    pub metrics: Metrics,
    pub token: CancellationToken,
    pub max_batch: usize,
}

impl Projector {
    pub async fn consume(self) -> anyhow::Result<()> {
        let (consumer, token, max) = (self.consumer.clone(), self.token.clone(), self.max_batch);
        kafka::consume_batches(consumer, token, max, |batch| self.handle(batch)).await
    }

    async fn handle(&self, batch: Vec<OwnedMessage>) -> anyhow::Result<()> {
        let mut events: Vec<CaseEvent> = Vec::with_capacity(batch.len());
        for msg in &batch {
            match decode(msg.payload().unwrap_or_default()) {
                Ok(Decoded::Event(event)) => events.push(*event),
                Ok(Decoded::UnknownType(kind)) => {
                    tracing::debug!(kind, "event type unknown to this build; skipped");
                }
                Err(err) => {
                    self.metrics.events.with_label_values(&["undecodable"]).inc();
                    let reason = err.to_string();
                    kafka::retry_until_cancelled("dead-lettering", &self.token, || {
                        self.dead_letters.send(msg, &reason)
                    })
                    .await?;
                }
            }
        }
        let refs: Vec<&CaseEvent> = events.iter().collect();
        let applied =
            kafka::retry_until_cancelled("writing cases to the ledger", &self.token, || self.store.apply_batch(&refs))
                .await?;
        self.metrics.batch.observe(events.len() as f64);
        for (applied, event) in applied.iter().zip(&events) {
            record(&self.metrics, applied, event);
        }
        Ok(())
    }
}

pub(crate) fn record(metrics: &Metrics, applied: &Applied, event: &whistle_schemas::events::CaseEvent) {
    let outcome = match applied {
        Applied::Written => "written",
        Applied::Duplicate => "duplicate",
        Applied::Refused(refusal) => {
            tracing::warn!(whistle = %event.subject, event = %event.id, kind = event.type_name(), code = refusal.code(), "event refused by the case rules; not in the ledger");
            "refused"
        }
    };
    metrics.events.with_label_values(&[outcome]).inc();
}

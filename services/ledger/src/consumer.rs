//! The consumer group `ledger` on the case topic: each event applied to its case in PostgreSQL
//! (one transaction), the offset stored only after the commit (`consume_in_order`). A case's
//! events apply in order, different cases concurrently.

use std::sync::Arc;

use rdkafka::consumer::StreamConsumer;
use rdkafka::message::{Message as _, OwnedMessage};
use tokio_util::sync::CancellationToken;
use whistle_common::kafka::{self, DeadLetters};
use whistle_schemas::events::{Decoded, decode};

use crate::metrics::Metrics;
use crate::store::{Applied, LedgerStore};

#[derive(Clone)]
pub struct Projector {
    pub store: LedgerStore,
    pub consumer: Arc<StreamConsumer>,
    pub dead_letters: DeadLetters,
    pub metrics: Metrics,
    pub token: CancellationToken,
    pub max_in_flight: usize,
}

impl Projector {
    pub async fn consume(self) -> anyhow::Result<()> {
        let (consumer, token, max) = (self.consumer.clone(), self.token.clone(), self.max_in_flight);
        kafka::consume_in_order(consumer, token, max, None, move |msg| {
            let projector = self.clone();
            async move { projector.handle(msg).await }
        })
        .await
    }

    async fn handle(&self, msg: OwnedMessage) -> anyhow::Result<()> {
        let event = match decode(msg.payload().unwrap_or_default()) {
            Ok(Decoded::Event(event)) => event,
            Ok(Decoded::UnknownType(kind)) => {
                tracing::debug!(kind, "event type unknown to this build; skipped");
                return Ok(());
            }
            Err(err) => {
                self.metrics.events.with_label_values(&["undecodable"]).inc();
                let reason = err.to_string();
                kafka::retry_until_cancelled("dead-lettering", &self.token, || self.dead_letters.send(&msg, &reason))
                    .await?;
                return Ok(());
            }
        };
        let applied =
            kafka::retry_until_cancelled("writing a case to the ledger", &self.token, || self.store.apply(&event))
                .await?;
        record(&self.metrics, &applied, &event);
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

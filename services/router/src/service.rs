//! The consume → decide → produce loop.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::Utc;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::{Message, OwnedMessage};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::util::Timeout;
use tokio_util::sync::CancellationToken;
use whistle_common::kafka::{self, DELIVERY_TIMEOUT, DeadLetters};
use whistle_registry::LiveRegistry;
use whistle_schemas::events::{CaseEventBody, Decoded, decode};

use crate::decide::{Outcome, decide, reroute};
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct Router {
    /// The local copy of the registry, kept current from the registry topic.
    pub registry: LiveRegistry,
    pub producer: FutureProducer,
    pub cases_topic: Arc<str>,
    pub dead_letters: DeadLetters,
    pub metrics: Metrics,
}

impl Router {
    /// Runs until `token` is cancelled.
    pub async fn run(
        self,
        consumer: Arc<StreamConsumer>,
        token: CancellationToken,
        max_in_flight: usize,
    ) -> anyhow::Result<()> {
        let handler_token = token.clone();
        kafka::consume_in_order(consumer, token, max_in_flight, move |msg| {
            let router = self.clone();
            let token = handler_token.clone();
            async move { router.handle(msg, &token).await }
        })
        .await
    }

    async fn handle(&self, msg: OwnedMessage, token: &CancellationToken) -> anyhow::Result<()> {
        let payload = msg.payload().unwrap_or_default();
        let event = match decode(payload) {
            Ok(Decoded::Event(event)) => event,
            Ok(Decoded::UnknownType(kind)) => {
                tracing::debug!(kind, "unknown event type passed over");
                self.metrics.skipped.inc();
                return Ok(());
            }
            Err(err) => {
                let reason = err.to_string();
                kafka::retry_until_cancelled("dead-lettering", token, || self.dead_letters.send(&msg, &reason)).await?;
                self.metrics.dead_letters.inc();
                return Ok(());
            }
        };
        let registry = self.registry.current();
        let (outcome, output) = match &event.body {
            CaseEventBody::Raised(raised) => decide(&registry, &event, raised, Utc::now()),
            CaseEventBody::Rejected(rejected) => match reroute(&registry, &event, rejected, Utc::now()) {
                Some(output) => (Outcome::Rerouted, output),
                None => {
                    self.metrics.skipped.inc();
                    return Ok(());
                }
            },
            _ => {
                self.metrics.skipped.inc();
                return Ok(());
            }
        };
        let payload = serde_json::to_vec(&output).context("encoding routed event")?;
        let key = output.subject.to_string();
        kafka::retry_until_cancelled("publishing routed event", token, || async {
            let record = FutureRecord::to(&self.cases_topic).key(&key).payload(&payload);
            self.producer
                .send(record, Timeout::After(DELIVERY_TIMEOUT))
                .await
                .map(|_| ())
                .map_err(|(err, _)| anyhow::anyhow!("Kafka did not acknowledge: {err}"))
        })
        .await?;
        self.metrics.routed.with_label_values(&[outcome.label()]).inc();
        tracing::info!(whistle = %event.subject, outcome = outcome.label(), output = output.type_name(), "whistle routed");
        Ok(())
    }
}

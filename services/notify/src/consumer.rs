//! The Kafka consumer (group `whistle-notify`): each case event is planned into deliveries,
//! which are recorded in PostgreSQL (by delivery id, so a replay records nothing twice) before
//! the event's offset is stored. Sending is the [`sender`](crate::sender)'s job.

use std::collections::HashMap;
use std::sync::Arc;

use rdkafka::Message;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::OwnedMessage;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use whistle_case::{Effect, effect};
use whistle_common::kafka::{self, DeadLetters};
use whistle_schemas::events::{CaseEvent, Decoded, decode};

use crate::metrics::Metrics;
use crate::plan::{self, Context};
use crate::roster::{Roster, Unit};
use crate::store::NotifyStore;

/// Case events being planned at once (across different cases).
const IN_FLIGHT: usize = 32;

#[derive(Clone)]
pub struct Consumer {
    pub store: NotifyStore,
    pub consumer: Arc<StreamConsumer>,
    pub dead_letters: DeadLetters,
    pub metrics: Metrics,
    pub console_url: Arc<str>,
    pub sms: bool,
    pub wake: Arc<Notify>,
    pub token: CancellationToken,
}

impl Consumer {
    pub async fn run(self) -> anyhow::Result<()> {
        let (consumer, token) = (self.consumer.clone(), self.token.clone());
        kafka::consume_in_order(consumer, token, IN_FLIGHT, None, move |msg| {
            let this = self.clone();
            async move { this.handle(msg).await }
        })
        .await
    }

    async fn handle(&self, msg: OwnedMessage) -> anyhow::Result<()> {
        let event = match decode(msg.payload().unwrap_or_default()) {
            Ok(Decoded::Event(event)) => event,
            Ok(Decoded::UnknownType(_)) => return Ok(()),
            Err(err) => {
                let reason = err.to_string();
                kafka::retry_until_cancelled("dead-lettering", &self.token, || self.dead_letters.send(&msg, &reason))
                    .await?;
                return Ok(());
            }
        };
        kafka::retry_until_cancelled("planning a case event's notifications", &self.token, || self.apply(&event)).await
    }

    async fn apply(&self, event: &CaseEvent) -> anyhow::Result<()> {
        let town = match effect(&event.body) {
            Effect::Raised(r) => {
                self.store.record_town(event.subject, &r.town).await?;
                return Ok(());
            }
            Effect::Rejected(_) => self.store.town_of(event.subject).await?,
            _ => None,
        };
        let units = plan::units(event, town.as_deref());
        if units.is_empty() {
            return Ok(());
        }
        let mut rosters = HashMap::new();
        for wire in self.store.rosters_of(&units).await? {
            let Some(unit) = wire.unit.clone() else { continue };
            match Roster::parse(&unit, &wire) {
                Ok(roster) => {
                    rosters.insert(unit, roster);
                }
                Err(err) => tracing::error!(%unit, error = %err, "a stored roster no longer parses"),
            }
        }
        let lookup = |u: &Unit| rosters.get(u.as_str()).cloned();
        let cx = Context { roster: &lookup, town: town.as_deref(), console_url: &self.console_url, sms: self.sms };
        let deliveries = plan::plan(event, &cx);
        let new = self.store.insert(&deliveries).await?;
        for d in &deliveries {
            self.metrics.planned.with_label_values(&[d.kind.as_str()]).inc();
            if let Some(reason) = &d.unaddressed {
                self.metrics.dead.with_label_values(&["none"]).inc();
                tracing::error!(whistle = %event.subject, unit = %d.unit, kind = d.kind.as_str(), reason, "nobody to notify");
            }
        }
        if new > 0 {
            self.wake.notify_one();
        }
        Ok(())
    }
}

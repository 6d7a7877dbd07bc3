//! The Kafka consumer (group `whistle-notify`): each case event is planned into deliveries,
//! which are recorded in PostgreSQL (by delivery id, so a replay records nothing twice) before
//! the event's offset is stored; so is one webhook delivery per subscription that hears the
//! event. Sending is the [`sender`](crate::sender)'s and the
//! [webhook worker](crate::webhooks::worker)'s job.

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
use crate::webhooks::{self, store::NewDelivery};

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
    /// Wakes the webhook worker.
    pub webhook_wake: Arc<Notify>,
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
        let payload = msg.payload().unwrap_or_default();
        kafka::retry_until_cancelled("recording a case event's webhook deliveries", &self.token, || {
            self.webhooks(&event, payload)
        })
        .await?;
        kafka::retry_until_cancelled("planning a case event's notifications", &self.token, || self.apply(&event)).await
    }

    /// Records a delivery of `payload` (the event as it is on the topic) for every active
    /// subscription to its type in its case's district, or in every district.
    async fn webhooks(&self, event: &CaseEvent, payload: &[u8]) -> anyhow::Result<()> {
        let district = match effect(&event.body) {
            Effect::Raised(r) => {
                self.store.record_district(event.subject, &r.district).await?;
                Some(r.district.clone())
            }
            Effect::Registered(r) => {
                self.store.record_district(event.subject, &r.district).await?;
                Some(r.district.clone())
            }
            _ => None,
        };
        let kind = event.type_name();
        if !self.store.anyone_hears(kind).await? {
            return Ok(());
        }
        let district = match district {
            Some(d) => Some(d),
            None => self.store.district_of(event.subject).await?,
        };
        let subscribers = self.store.subscribers(kind, district.as_deref()).await?;
        if subscribers.is_empty() {
            return Ok(());
        }
        // A decoded event is JSON, so UTF-8.
        let body = String::from_utf8_lossy(payload).into_owned();
        let deliveries: Vec<NewDelivery> = subscribers
            .into_iter()
            .map(|webhook| NewDelivery {
                id: webhooks::delivery_id(event.id, webhook),
                webhook,
                event_id: event.id,
                event_type: kind.to_owned(),
                whistle: event.subject,
                body: body.clone(),
            })
            .collect();
        let new = self.store.insert_webhook_deliveries(&deliveries).await?;
        self.metrics.webhook_planned.inc_by(new);
        if new > 0 {
            self.webhook_wake.notify_one();
        }
        Ok(())
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

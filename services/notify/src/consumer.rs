//! The Kafka consumer (group `whistle-notify`): the case events fetched while the last batch was
//! handled are planned into deliveries, which are recorded in PostgreSQL (by delivery id, so a
//! replay records nothing twice) before the batch's offsets are stored; so is one webhook
//! delivery per subscription that hears an event. A batch costs a few statements, not a few per
//! event: the new cases' districts and towns in one transaction, the heard event types once, the
//! rosters of every unit the batch notifies once, and its deliveries in one transaction.
//! Sending is the [`sender`](crate::sender)'s and the [webhook worker](crate::webhooks::worker)'s
//! job.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rdkafka::Message;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::OwnedMessage;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use whistle_case::{Effect, effect};
use whistle_common::kafka::{self, DeadLetters};
use whistle_schemas::events::{CaseEvent, Decoded, decode};

use crate::metrics::Metrics;
use crate::plan::{self, Context};
use crate::roster::{Roster, Unit};
use crate::store::NotifyStore;
use crate::webhooks::{self, store::NewDelivery};

/// Case events planned at most in one batch.
const MAX_BATCH: usize = 512;

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

/// An event of a batch, with its payload as it is on the topic (the webhook body).
struct Received<'a> {
    event: CaseEvent,
    payload: &'a [u8],
}

impl Consumer {
    pub async fn run(self) -> anyhow::Result<()> {
        let (consumer, token) = (self.consumer.clone(), self.token.clone());
        kafka::consume_batches(consumer, token, MAX_BATCH, |batch| self.handle(batch)).await
    }

    async fn handle(&self, batch: Vec<OwnedMessage>) -> anyhow::Result<()> {
        let mut events = Vec::with_capacity(batch.len());
        for msg in &batch {
            let payload = msg.payload().unwrap_or_default();
            match decode(payload) {
                Ok(Decoded::Event(event)) => events.push(Received { event: *event, payload }),
                Ok(Decoded::UnknownType(_)) => {}
                Err(err) => {
                    let reason = err.to_string();
                    kafka::retry_until_cancelled("dead-lettering", &self.token, || {
                        self.dead_letters.send(msg, &reason)
                    })
                    .await?;
                }
            }
        }
        // Where new cases are, first: a later event of the same batch looks them up.
        let origins: Vec<(Uuid, String, Option<String>)> = events
            .iter()
            .filter_map(|r| match effect(&r.event.body) {
                Effect::Raised(raised) => Some((r.event.subject, raised.district.clone(), Some(raised.town.clone()))),
                Effect::Registered(registered) => Some((r.event.subject, registered.district.clone(), None)),
                _ => None,
            })
            .collect();
        kafka::retry_until_cancelled("recording new cases' districts and towns", &self.token, || {
            self.store.record_origins(&origins)
        })
        .await?;
        kafka::retry_until_cancelled("recording case events' webhook deliveries", &self.token, || {
            self.webhooks(&events)
        })
        .await?;
        kafka::retry_until_cancelled("planning case events' notifications", &self.token, || self.apply(&events)).await
    }

    /// Records a delivery of each event's payload for every active subscription to its type in
    /// its case's district, or in every district.
    async fn webhooks(&self, events: &[Received<'_>]) -> anyhow::Result<()> {
        let heard = self.store.heard_types().await?;
        if heard.is_empty() {
            return Ok(());
        }
        for Received { event, payload } in events {
            let kind = event.type_name();
            if !heard.contains(kind) {
                continue;
            }
            let district = match effect(&event.body) {
                Effect::Raised(r) => Some(r.district.clone()),
                Effect::Registered(r) => Some(r.district.clone()),
                _ => self.store.district_of(event.subject).await?,
            };
            let subscribers = self.store.subscribers(kind, district.as_deref()).await?;
            if subscribers.is_empty() {
                continue;
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
        }
        Ok(())
    }

    /// Plans the batch's notifications with the rosters of every unit it notifies, read once,
    /// and records them in one transaction.
    async fn apply(&self, events: &[Received<'_>]) -> anyhow::Result<()> {
        let mut planned: Vec<(&CaseEvent, Option<String>)> = Vec::new();
        let mut units: BTreeSet<String> = BTreeSet::new();
        for Received { event, .. } in events {
            let town = match effect(&event.body) {
                // A raise notifies nobody: its town was recorded with the batch's origins.
                Effect::Raised(_) => continue,
                Effect::Rejected(_) => self.store.town_of(event.subject).await?,
                _ => None,
            };
            let wanted = plan::units(event, town.as_deref());
            if wanted.is_empty() {
                continue;
            }
            units.extend(wanted);
            planned.push((event, town));
        }
        if planned.is_empty() {
            return Ok(());
        }
        let units: Vec<String> = units.into_iter().collect();
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
        let mut deliveries = Vec::new();
        for (event, town) in &planned {
            let cx = Context { roster: &lookup, town: town.as_deref(), console_url: &self.console_url, sms: self.sms };
            deliveries.extend(plan::plan(event, &cx));
        }
        let new = self.store.insert(&deliveries).await?;
        for d in &deliveries {
            self.metrics.planned.with_label_values(&[d.kind.as_str()]).inc();
            if let Some(reason) = &d.unaddressed {
                self.metrics.dead.with_label_values(&["none"]).inc();
                tracing::error!(whistle = %d.whistle, unit = %d.unit, kind = d.kind.as_str(), reason, "nobody to notify");
            }
        }
        if new > 0 {
            self.wake.notify_one();
        }
        Ok(())
    }
}

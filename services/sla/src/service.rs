//! The SLA service's two loops: case events in (arm, move, cancel timers), timers out.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Utc};
use rdkafka::Message;
use rdkafka::consumer::{Consumer, StreamConsumer};
use rdkafka::message::OwnedMessage;
use rdkafka::producer::FutureProducer;
use rdkafka::util::Timeout;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use whistle_case::{Effect, SlaSignal, effect};
use whistle_common::kafka::{self, DELIVERY_TIMEOUT, DeadLetters};
use whistle_registry::{ItemCode, LiveRegistry};
use whistle_schemas::events::{
    Actor, ActorKind, CaseEvent, CaseEventBody, Confirmed, Decoded, Escalated, SlaScheduled, SlaStage, decode,
};

use crate::case::{CaseSla, Timer, TimerKind};
use crate::metrics::Metrics;
use crate::policy::Policies;
use crate::store::SlaStore;
use crate::timers::{Alarm, TimerBackend};

pub const SOURCE: &str = "/whistle/sla";

/// Event types that never change SLA state, passed over by their
/// [`whistle_common::kafka::TYPE_HEADER`] without being decoded or loading the case from Redis: a
/// raise (the clocks start at the dispatch) and this service's own schedules read back.
/// [`Sla::apply`] does nothing for either (`CaseSla::apply` changes nothing, so nothing is
/// saved); a record without the header is decoded and applied as before.
pub const IGNORES: &[&str] = &["whistle.raised", "sla.scheduled"];

/// Case events being applied at once (across different cases).
const CONSUME_IN_FLIGHT: usize = 64;

/// Due timers read per partition per round trip.
const FIRE_BATCH: isize = 256;

#[derive(Clone)]
pub struct Sla {
    pub store: SlaStore,
    pub policies: Arc<Policies>,
    /// The live registry (it follows `whistle.registry.v1`): an item's category decides its policy.
    pub registry: LiveRegistry,
    pub producer: FutureProducer,
    pub consumer: Arc<StreamConsumer>,
    pub cases_topic: Arc<str>,
    pub dead_letters: DeadLetters,
    pub metrics: Metrics,
    pub alarm: Arc<Alarm>,
    pub token: CancellationToken,
}

impl Sla {
    /// Consumes case events until cancelled. A case's events apply in order; different cases
    /// concurrently.
    pub async fn consume(self) -> anyhow::Result<()> {
        let (consumer, token) = (self.consumer.clone(), self.token.clone());
        let redis = Some(self.store.connection());
        kafka::consume_in_order(consumer, token, CONSUME_IN_FLIGHT, redis, move |msg| {
            let sla = self.clone();
            async move { sla.handle(msg).await }
        })
        .await
    }

    async fn handle(&self, msg: OwnedMessage) -> anyhow::Result<()> {
        if kafka::record_type(&msg).is_some_and(|kind| IGNORES.contains(&kind)) {
            return Ok(());
        }
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
        kafka::retry_until_cancelled("applying a case event to SLA state", &self.token, || {
            self.apply(&event, msg.partition())
        })
        .await
    }

    async fn apply(&self, event: &CaseEvent, partition: i32) -> anyhow::Result<()> {
        let id = event.subject;
        let registry = self.registry.current();
        let case = match (effect(&event.body), self.store.load(id).await?) {
            (Effect::Routed(d), None) => {
                let category =
                    ItemCode::parse(&d.item).ok().and_then(|c| registry.item(&c)).map(|i| i.category.as_str());
                let policy = self.policies.for_dispatch(&d.item, category, &d.district, event.time);
                let case = CaseSla::dispatched(event, partition, &d.department.code, &d.district, &d.item, policy);
                self.publish_schedule(&case, event.id).await?;
                self.save(&case).await?;
                tracing::info!(whistle = %id, policy = %case.policy, department = %case.department, "SLA clocks started");
                return Ok(());
            }
            // A town's own case: the statutory time limit to decide runs from its registration.
            (Effect::Registered(r), None) => {
                let body = r.department.as_ref().map_or(r.town.as_str(), |d| d.code.as_str());
                let case = CaseSla::registered(event, partition, body, &r.district, &r.item);
                self.publish_schedule(&case, event.id).await?;
                self.save(&case).await?;
                tracing::info!(case = %id, town = %r.town, "statutory time limit started");
                return Ok(());
            }
            // A transfer (or a returned case re-routed to triage) hands the case to a new owner:
            // the clocks restart from the transfer with the new owner's full budget, as for a
            // fresh dispatch, and the old owner's clocks stop. (Timers already fired for a stage
            // are remembered per case and do not fire again for the new owner.)
            (Effect::Transferred(t), Some(old)) => {
                let category =
                    ItemCode::parse(&old.item).ok().and_then(|c| registry.item(&c)).map(|i| i.category.as_str());
                let policy = self.policies.for_dispatch(&old.item, category, &old.district, event.time);
                let case = CaseSla::dispatched(event, partition, &t.to.code, &old.district, &old.item, policy);
                self.publish_schedule(&case, event.id).await?;
                self.save(&case).await?;
                tracing::info!(whistle = %id, department = %case.department, "SLA clocks restarted after a transfer");
                return Ok(());
            }
            // The town reopened a resolved whistle: its department gets a new round of clocks with
            // the full budget, whose timers are new (the first round's stay fired).
            (Effect::Reopened(r), old) => {
                let category =
                    ItemCode::parse(&r.item).ok().and_then(|c| registry.item(&c)).map(|i| i.category.as_str());
                let policy = self.policies.for_dispatch(&r.item, category, &r.district, event.time);
                let mut case = CaseSla::dispatched(event, partition, &r.department.code, &r.district, &r.item, policy);
                case.round = old.map_or(1, |o| o.round + 1);
                self.publish_schedule(&case, event.id).await?;
                self.save(&case).await?;
                tracing::info!(whistle = %id, department = %case.department, round = case.round, "SLA clocks restarted after a reopening");
                return Ok(());
            }
            (Effect::Sla(signal @ (SlaSignal::Warning(s) | SlaSignal::Breached(s))), _) => {
                // Our own timer events, read back: a timer fired before a crash stays fired.
                let kind = if matches!(signal, SlaSignal::Warning(_)) { "warning" } else { "breach" };
                let Some(case) = self.store.load(id).await? else { return Ok(()) };
                let key = format!("{}{}.{kind}", case.timer_prefix(), s.stage.as_str());
                self.store.mark_fired(id, &key, case.partition).await?;
                case
            }
            (Effect::Sla(SlaSignal::Escalated(e)), case) => {
                if let Some(case) = case {
                    self.store
                        .mark_fired(
                            id,
                            &format!("{}{}.escalate.{}", case.timer_prefix(), e.stage.as_str(), e.level),
                            case.partition,
                        )
                        .await?;
                }
                return Ok(());
            }
            // Every other event of a case whose clocks run goes to its clocks (`CaseSla::apply`
            // matches every effect); a case this service never saw dispatched has no clocks.
            (_, Some(case)) => case,
            (_, None) => return Ok(()),
        };
        let mut case = case;
        let calendar = self.policies.calendar(&case.district);
        let change = case.apply(event, calendar);
        if change == Default::default() {
            // Nothing moved, unless a breach was recorded; save to keep `breached` (idempotent).
            if matches!(effect(&event.body), Effect::Sla(SlaSignal::Breached(_))) {
                self.save(&case).await?;
            }
            return Ok(());
        }
        for done in &change.completed {
            self.metrics.time_to[done.stage as usize]
                .with_label_values(&[&case.district, &case.department])
                .observe(done.seconds);
        }
        if change.rescheduled && !change.closed {
            self.publish_schedule(&case, event.id).await?;
        }
        self.save(&case).await?;
        Ok(())
    }

    async fn save(&self, case: &CaseSla) -> anyhow::Result<()> {
        let policy = self.policies.by_name(&case.policy);
        let fired = self.store.fired(case.whistle).await?;
        let timers = case.timers(policy, self.policies.calendar(&case.district), &fired);
        self.store.save(case, &case.all_keys(policy), &timers).await?;
        if let Some(first) = timers.iter().map(|t| t.due).min() {
            self.alarm.armed(first);
        }
        Ok(())
    }

    async fn publish_schedule(&self, case: &CaseSla, cause: Uuid) -> anyhow::Result<()> {
        let deadlines = case.deadlines(self.policies.calendar(&case.district));
        let body = CaseEventBody::SlaScheduled(SlaScheduled { deadlines, policy: case.policy.clone() });
        let event = CaseEvent::new(Uuid::new_v5(&cause, b"sla.scheduled"), SOURCE, case.whistle, Utc::now(), body);
        self.publish(&event).await
    }

    async fn publish(&self, event: &CaseEvent) -> anyhow::Result<()> {
        let payload = serde_json::to_vec(event).context("encoding SLA event")?;
        let key = event.subject.to_string();
        let record = kafka::case_record(&self.cases_topic, &key, &payload, event.type_name());
        self.producer
            .send(record, Timeout::After(DELIVERY_TIMEOUT))
            .await
            .map_err(|(err, _)| anyhow::anyhow!("publishing {}: {err}", event.type_name()))?;
        Ok(())
    }

    /// Partitions of the case topic this instance owns right now.
    fn partitions(&self) -> Vec<i32> {
        match self.consumer.assignment() {
            Ok(list) => list.elements_for_topic(&self.cases_topic).iter().map(|e| e.partition()).collect(),
            Err(_) => Vec::new(),
        }
    }

    async fn fire(&self, case: &CaseSla, timer: &Timer, partition: i32, now: DateTime<Utc>) -> anyhow::Result<()> {
        let (department, district) = (case.department.clone(), case.district.clone());
        let body = match &timer.kind {
            TimerKind::Warning => CaseEventBody::SlaWarning(SlaStage {
                stage: timer.stage,
                deadline: timer.deadline,
                department,
                district,
            }),
            TimerKind::Breach => CaseEventBody::SlaBreached(SlaStage {
                stage: timer.stage,
                deadline: timer.deadline,
                department,
                district,
            }),
            TimerKind::Escalate { level, to } => CaseEventBody::Escalated(Escalated {
                stage: timer.stage,
                level: *level,
                to: to.clone(),
                department,
                district,
            }),
            TimerKind::DeemedConfirmed => CaseEventBody::Confirmed(Confirmed {
                actor: Actor::new(ActorKind::System, "sla"),
                rating: 0,
                comment: None,
                deemed: true,
            }),
        };
        // The id depends only on the case and the timer: a timer fired twice (a crash between
        // publishing and recording) is one event to every consumer.
        let event = CaseEvent::new(Uuid::new_v5(&case.whistle, timer.key.as_bytes()), SOURCE, case.whistle, now, body);
        self.publish(&event).await?;
        // Count it here: reading our own event back may record the key first, so whether this
        // call "added" it says nothing about who fired it.
        self.store.mark_fired(case.whistle, &timer.key, partition).await?;
        let stage = timer.stage.as_str();
        match &timer.kind {
            TimerKind::Warning => self.metrics.warnings.with_label_values(&[stage]).inc(),
            TimerKind::Breach => self.metrics.breaches.with_label_values(&[stage, &case.district]).inc(),
            TimerKind::Escalate { level, .. } => {
                self.metrics.escalations.with_label_values(&[&level.to_string(), &case.district]).inc()
            }
            TimerKind::DeemedConfirmed => {}
        }
        let late = (now - timer.due).num_milliseconds().max(0) as f64 / 1000.0;
        self.metrics.lateness.observe(late);
        tracing::info!(whistle = %case.whistle, timer = %timer.key, late_seconds = late, "SLA timer fired");
        Ok(())
    }
}

impl Sla {
    /// Fires the due timers of one case, in order.
    async fn fire_case(
        &self,
        partition: i32,
        id: Uuid,
        keys: Vec<String>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<usize> {
        let Some(case) = self.store.load(id).await? else {
            for key in &keys {
                self.store.disarm(partition, id, key).await?;
            }
            return Ok(0);
        };
        let policy = self.policies.by_name(&case.policy);
        let done: BTreeSet<String> = self.store.fired(id).await?;
        let timers = case.timers(policy, self.policies.calendar(&case.district), &done);
        let mut fired = 0;
        let mut resync = false;
        for key in &keys {
            match timers.iter().find(|t| &t.key == key) {
                Some(timer) if timer.due <= now => {
                    self.fire(&case, timer, partition, now).await?;
                    fired += 1;
                }
                // Moved (a pause) or no longer applies (done, fired, another round's): drop it and
                // re-arm from the case.
                _ => {
                    self.store.disarm(partition, id, key).await?;
                    resync = true;
                }
            }
        }
        if resync {
            let done: BTreeSet<String> = self.store.fired(id).await?;
            let timers = case.timers(policy, self.policies.calendar(&case.district), &done);
            self.store.save(&case, &case.all_keys(policy), &timers).await?;
        }
        Ok(fired)
    }
}

/// Cases whose timers fire at once; each case's own timers fire in order.
const FIRE_CONCURRENCY: usize = 32;

impl TimerBackend for Sla {
    async fn fire_due(&self, now: DateTime<Utc>) -> anyhow::Result<usize> {
        use futures::StreamExt as _;
        let mut fired = 0;
        for partition in self.partitions() {
            loop {
                let due = self.store.due(partition, now, FIRE_BATCH).await?;
                let mut by_case: Vec<(Uuid, Vec<String>)> = Vec::new();
                for (id, key) in &due {
                    match by_case.iter_mut().find(|(c, _)| c == id) {
                        Some((_, keys)) => keys.push(key.clone()),
                        None => by_case.push((*id, vec![key.clone()])),
                    }
                }
                let results: Vec<anyhow::Result<usize>> = futures::stream::iter(by_case)
                    .map(|(id, keys)| self.fire_case(partition, id, keys, now))
                    .buffer_unordered(FIRE_CONCURRENCY)
                    .collect()
                    .await;
                for r in results {
                    fired += r?;
                }
                if due.len() < FIRE_BATCH as usize {
                    break;
                }
            }
        }
        Ok(fired)
    }

    async fn next_due(&self) -> anyhow::Result<Option<DateTime<Utc>>> {
        let mut next: Option<DateTime<Utc>> = None;
        let mut armed = 0;
        for partition in self.partitions() {
            armed += self.store.armed(partition).await?;
            if let Some(due) = self.store.next_due(partition).await? {
                next = Some(next.map_or(due, |n| n.min(due)));
            }
        }
        self.metrics.armed_timers.set(armed as i64);
        Ok(next)
    }
}

//! Outcome figures from the event log — what the seed reports (procedures, handling time,
//! repeated inspections), computed the same way before and after a change so a city can measure
//! itself.
//!
//! Definitions, fixed here so two periods are comparable:
//! - *procedures per case*: procedural steps per raised whistle — every event except the raise
//!   itself, fence warnings, SLA events and pauses (dispatch, acknowledge, arrive, inspect,
//!   penalty, resolve, reject);
//! - *handling time*: from `whistle.raised` to `whistle.resolved` or `whistle.rejected`, over
//!   closed cases;
//! - *repeated inspections*: inspections of a subject that anyone already inspected within the
//!   window before it (the same window as the inspection fence).
//!
//! [`read_log`] reads a case topic from its beginning to its current end.

use std::collections::{HashMap, HashSet};
use std::time::Duration as StdDuration;

use anyhow::Context as _;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use whistle_case::{Effect, Enforcement, effect};
use whistle_schemas::events::{CaseEvent, Decoded, FenceSeverity, decode};

/// The figures for one set of cases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Whistles raised.
    pub cases: usize,
    /// Of those, resolved or rejected.
    pub closed: usize,
    pub procedures_per_case: f64,
    pub inspections: usize,
    pub penalties: usize,
    pub repeated_inspections: usize,
    /// `repeated_inspections / inspections` (0 when there were none).
    pub repeated_inspection_rate: f64,
    pub handling_mean_seconds: Option<f64>,
    pub handling_median_seconds: Option<f64>,
    pub handling_p90_seconds: Option<f64>,
    /// Fence warnings by how they were met.
    pub fences_warned: usize,
    pub fences_blocked: usize,
    pub fences_overridden: usize,
}

/// Computes the figures over the cases raised in `[from, to)` (all when `None`). Events may come
/// in any order and more than once (at-least-once delivery): they are deduplicated by id and
/// ordered by time.
pub fn compute<'a>(
    events: impl IntoIterator<Item = &'a CaseEvent>,
    repeat_window: Duration,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Figures {
    let mut seen = HashSet::new();
    let mut events: Vec<&CaseEvent> = events.into_iter().filter(|e| seen.insert(e.id)).collect();
    events.sort_by_key(|e| (e.time, e.id));

    let in_period = |t: DateTime<Utc>| from.is_none_or(|f| t >= f) && to.is_none_or(|u| t < u);
    let raised: HashMap<Uuid, DateTime<Utc>> = events
        .iter()
        .filter_map(|e| {
            matches!(effect(&e.body), Effect::Raised(_) | Effect::Registered(_)).then_some((e.subject, e.time))
        })
        .filter(|(_, t)| in_period(*t))
        .collect();

    let mut f = Figures { cases: raised.len(), ..Figures::default() };
    let mut procedures = 0usize;
    let mut handling: Vec<f64> = Vec::new();
    let mut closed: HashSet<Uuid> = HashSet::new();
    // Every inspection (of any case, so earlier periods count as history), by subject.
    let mut inspected_at: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
    for e in &events {
        let effect = effect(&e.body);
        if let Effect::Enforcement(Enforcement::Inspected(i)) = effect {
            let earlier = inspected_at.entry(i.subject.id.as_str()).or_default();
            let repeated = earlier.iter().any(|t| e.time - *t <= repeat_window);
            earlier.push(e.time);
            if raised.contains_key(&e.subject) {
                f.inspections += 1;
                f.repeated_inspections += usize::from(repeated);
            }
        }
        let Some(raised_at) = raised.get(&e.subject) else { continue };
        match effect {
            Effect::Enforcement(Enforcement::Fenced(fence)) => match fence.severity {
                FenceSeverity::Warning => f.fences_warned += 1,
                FenceSeverity::Blocked => f.fences_blocked += 1,
                FenceSeverity::Overridden => f.fences_overridden += 1,
            },
            // The raise itself, SLA bookkeeping, pauses and plain timeline steps are not procedures.
            Effect::Raised(_)
            | Effect::Registered(_)
            | Effect::Confirmed(_)
            | Effect::Sla(_)
            | Effect::Paused(_)
            | Effect::Resumed
            | Effect::Step => {}
            Effect::Enforcement(Enforcement::Penalised(_)) => {
                procedures += 1;
                f.penalties += 1;
            }
            Effect::Enforcement(Enforcement::Decided(d)) => {
                procedures += 1;
                f.penalties += usize::from(matches!(
                    d.outcome,
                    whistle_schemas::events::DecisionOutcome::Fine | whistle_schemas::events::DecisionOutcome::Warning
                ));
            }
            Effect::Resolved(_) | Effect::Rejected(_) => {
                procedures += 1;
                if closed.insert(e.subject) {
                    handling.push((e.time - *raised_at).num_milliseconds() as f64 / 1000.0);
                }
            }
            Effect::Routed(_)
            | Effect::Reopened(_)
            | Effect::Transferred(_)
            | Effect::Progressed(_)
            | Effect::Enforcement(Enforcement::Inspected(_)) => {
                procedures += 1;
            }
        }
    }
    f.closed = closed.len();
    f.procedures_per_case = procedures as f64 / f.cases.max(1) as f64;
    f.repeated_inspection_rate = f.repeated_inspections as f64 / f.inspections.max(1) as f64;
    handling.sort_by(f64::total_cmp);
    if !handling.is_empty() {
        f.handling_mean_seconds = Some(handling.iter().sum::<f64>() / handling.len() as f64);
        f.handling_median_seconds = Some(quantile(&handling, 0.5));
        f.handling_p90_seconds = Some(quantile(&handling, 0.9));
    }
    f
}

/// Nearest-rank quantile of sorted, non-empty values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// The relative change from `before` to `after` in percent (−40.0 means 40 % fewer).
pub fn change_percent(before: f64, after: f64) -> Option<f64> {
    (before != 0.0).then(|| (after - before) / before * 100.0)
}

/// Reads every case event on `topic` from the beginning up to the end as of the call. Payloads
/// that are not case events, or of types this build does not know, are skipped (and counted).
/// Blocking: call from a blocking thread.
pub fn read_log(
    kafka: &whistle_common::settings::KafkaSettings,
    topic: &str,
    timeout: StdDuration,
) -> anyhow::Result<(Vec<CaseEvent>, usize)> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::{Message, Offset, TopicPartitionList};

    let consumer: BaseConsumer = whistle_common::kafka::client_config(kafka)
        .set("group.id", format!("whistle-figures-{}", Uuid::new_v4()))
        .set("enable.auto.commit", "false")
        .set("enable.partition.eof", "false")
        // The router writes in transactions: never count an aborted dispatch.
        .set("isolation.level", "read_committed")
        .create()
        .context("creating the Kafka consumer")?;
    let metadata = consumer.fetch_metadata(Some(topic), timeout).context("fetching topic metadata")?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .find(|t| t.name() == topic)
        .map(|t| t.partitions().iter().map(|p| p.id()).collect())
        .unwrap_or_default();
    anyhow::ensure!(!partitions.is_empty(), "topic {topic} has no partitions (does it exist?)");

    let mut assignment = TopicPartitionList::new();
    let mut ends: HashMap<i32, i64> = HashMap::new();
    for p in &partitions {
        let (low, high) = consumer.fetch_watermarks(topic, *p, timeout).context("fetching watermarks")?;
        if high > low {
            ends.insert(*p, high);
            assignment.add_partition_offset(topic, *p, Offset::Beginning).context("assigning")?;
        }
    }
    let mut events = Vec::new();
    let mut skipped = 0usize;
    if ends.is_empty() {
        return Ok((events, skipped));
    }
    consumer.assign(&assignment).context("assigning partitions")?;
    let deadline = std::time::Instant::now() + timeout * 10;
    while !ends.is_empty() {
        anyhow::ensure!(std::time::Instant::now() < deadline, "timed out reading {topic}");
        let Some(msg) = consumer.poll(StdDuration::from_millis(200)) else { continue };
        let msg = msg.context("reading the topic")?;
        match msg.payload().map(decode) {
            Some(Ok(Decoded::Event(event))) => events.push(*event),
            _ => skipped += 1,
        }
        if ends.get(&msg.partition()).is_some_and(|end| msg.offset() + 1 >= *end) {
            ends.remove(&msg.partition());
        }
    }
    Ok((events, skipped))
}

#[cfg(test)]
mod tests {
    use super::*;
    use whistle_schemas::Location;
    use whistle_schemas::events::*;

    struct Log {
        events: Vec<CaseEvent>,
        n: u128,
    }

    fn t(minutes: i64) -> DateTime<Utc> {
        "2026-03-01T08:00:00Z".parse::<DateTime<Utc>>().expect("time") + Duration::minutes(minutes)
    }

    fn dept() -> Actor {
        Actor::new(ActorKind::Department, "500103-EE")
    }

    impl Log {
        fn push(&mut self, case: u128, minute: i64, body: CaseEventBody) -> &CaseEvent {
            self.n += 1;
            self.events.push(CaseEvent::new(Uuid::from_u128(self.n), "/t", Uuid::from_u128(case), t(minute), body));
            self.events.last().expect("just pushed")
        }

        fn raise(&mut self, case: u128, minute: i64) {
            self.push(
                case,
                minute,
                CaseEventBody::Raised(Raised {
                    town: "500103001".into(),
                    district: "500103".into(),
                    item: "CQ-ENV-001".into(),
                    description: "x".into(),
                    location: Location { lat: 0.0, lon: 0.0, address: "x".into() },
                    photos: vec![],
                    raised_by: Actor::new(ActorKind::Town, "500103001"),
                    support: false,
                    assist: Vec::new(),
                }),
            );
        }

        fn inspect(&mut self, case: u128, minute: i64, subject: &str) {
            let subject = EnforcementSubject { id: subject.into(), credit_code: None, address: None };
            self.push(
                case,
                minute,
                CaseEventBody::Inspected(Inspected {
                    actor: dept(),
                    subject,
                    persuaded: false,
                    recheck: false,
                    note: None,
                }),
            );
        }

        fn step(&mut self, case: u128, minute: i64) {
            self.push(case, minute, CaseEventBody::Acknowledged(Acted { actor: dept() }));
        }

        fn resolve(&mut self, case: u128, minute: i64) {
            self.push(case, minute, CaseEventBody::Resolved(Resolved { actor: dept(), note: None }));
        }
    }

    fn log() -> Log {
        let mut log = Log { events: Vec::new(), n: 0 };
        // Case 1: raise, ack, inspect A, resolve after 60 min.
        log.raise(1, 0);
        log.step(1, 5);
        log.inspect(1, 10, "addr:a");
        log.resolve(1, 60);
        // Case 2: raise, ack, inspect A again 20 min later (repeat), resolve after 120 min.
        log.raise(2, 30);
        log.step(2, 35);
        log.inspect(2, 30 + 20, "addr:a");
        log.resolve(2, 150);
        // Case 3: raised, still open.
        log.raise(3, 40);
        log
    }

    #[test]
    fn procedures_handling_time_and_repeated_inspections_come_from_the_events() {
        let log = log();
        let f = compute(&log.events, Duration::days(30), None, None);
        assert_eq!((f.cases, f.closed), (3, 2));
        assert!((f.procedures_per_case - 6.0 / 3.0).abs() < 1e-9, "{f:?}");
        assert_eq!((f.inspections, f.repeated_inspections), (2, 1));
        assert!((f.repeated_inspection_rate - 0.5).abs() < 1e-9);
        assert_eq!(f.handling_mean_seconds, Some(90.0 * 60.0));
        assert_eq!(f.handling_median_seconds, Some(60.0 * 60.0));
        assert_eq!(f.handling_p90_seconds, Some(120.0 * 60.0));
    }

    #[test]
    fn replayed_and_out_of_order_events_count_once() {
        let log = log();
        let mut doubled: Vec<CaseEvent> = log.events.iter().rev().cloned().collect();
        doubled.extend(log.events.iter().cloned());
        assert_eq!(
            compute(&doubled, Duration::days(30), None, None),
            compute(&log.events, Duration::days(30), None, None)
        );
    }

    #[test]
    fn a_period_counts_its_own_cases_but_sees_earlier_inspections_as_history() {
        let log = log();
        let after = compute(&log.events, Duration::days(30), Some(t(20)), None);
        assert_eq!(after.cases, 2, "cases 2 and 3 were raised after minute 20");
        assert_eq!((after.inspections, after.repeated_inspections), (1, 1), "case 1's inspection is history");
        let narrow = compute(&log.events, Duration::minutes(10), None, None);
        assert_eq!(narrow.repeated_inspections, 0, "20 minutes apart is outside a 10-minute window");
    }

    #[test]
    fn change_is_relative_to_before() {
        assert_eq!(change_percent(10.0, 6.0), Some(-40.0));
        assert_eq!(change_percent(0.0, 6.0), None);
    }
}

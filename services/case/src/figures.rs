//! Outcome figures from the event log — what the seed reports (procedures, handling time,
//! repeated inspections), computed the same way before and after a change so a city can measure
//! itself.
//!
//! Definitions, fixed here so two periods (or two models, `loadtest figures`) are comparable:
//! - *procedures*: the legal steps and hand-offs of a case ([`procedure`]): hand-offs (dispatch,
//!   transfer, reopen) and steps (inspection or re-check, persuade, investigate, notify, decide —
//!   a department's `whistle.penalised` or a town's `case.decided` —, serve). Not the raise or
//!   registration, acknowledge/arrive, resolve/close, SLA bookkeeping, pauses, fence warnings,
//!   comments, confirmations or reviews;
//! - *handling time*: from `whistle.raised` or `case.registered` to the `whistle.resolved` or
//!   `case.closed` that stands (a reopened whistle counts to its last resolution), over closed
//!   cases; rejected cases are counted apart and have no handling time;
//! - *inspections*: a department's `whistle.inspected` that is not a re-check, and a town's
//!   `case.investigated` (an inspection of its case's party, whose subject is in
//!   `case.registered`). Inspections of one subject on one case by that case's departments (its
//!   owner and assisting departments of a joint case) within [`JOINT_VISIT`] of each other are one
//!   joint inspection;
//! - *repeated inspections*: inspections of a subject that any body (department or town) already
//!   inspected within `repeat_window` before it (the same window as the inspection fence);
//!   re-checks (复查) are never repeats and never make a later inspection one;
//! - *complaints*: reopens by the raising town; *confirmations*: the towns' ratings (1–5);
//! - *merged*: whistles merged into another as duplicates (`whistle.merged`). A problem counts
//!   once: a merged whistle is not among the *cases* (nor closed, rejected or handling time); the
//!   surviving case stands for it. Procedures taken on it before the merge still count (the work
//!   was done).
//!
//! [`compute`] takes a log in any order, with repeats; [`Tally`] folds events that come in time
//! order one at a time, for a caller that streams them (the ledger's `GET /api/v1/figures` reads
//! them from PostgreSQL), so its memory grows with the cases and inspections, not with the
//! events. Both give the same figures (a test holds them to it). The Kafka reader of a case
//! topic is `whistle_assist::figures::read_log`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;
use whistle_schemas::api::OutcomeFigures;
use whistle_schemas::events::{CaseEvent, CaseEventBody, DecisionOutcome, FenceSeverity};

use crate::{Effect, effect};

/// Inspections of one subject on one case by its departments this close together are one joint
/// inspection.
pub const JOINT_VISIT: Duration = Duration::hours(1);

/// The figures for one set of cases.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    /// Cases begun: whistles raised and town cases registered, less those merged into another.
    pub cases: usize,
    /// Whistles begun and merged into another as duplicates (not in `cases`).
    pub merged: usize,
    /// Of those, resolved or closed (and not reopened since).
    pub closed: usize,
    /// Of those, rejected (returned, or refused by the router) and not re-routed.
    pub rejected: usize,
    /// Legal steps and hand-offs, in all.
    pub procedures: usize,
    pub procedures_per_case: f64,
    /// Of the procedures, hand-offs: dispatch, transfer, reopen.
    pub handoffs: usize,
    pub inspections: usize,
    /// Re-checks of an earlier order (not inspections, not repeats).
    pub rechecks: usize,
    pub penalties: usize,
    pub repeated_inspections: usize,
    /// `repeated_inspections / inspections` (0 when there were none).
    pub repeated_inspection_rate: f64,
    pub handling_mean_seconds: Option<f64>,
    pub handling_median_seconds: Option<f64>,
    pub handling_p90_seconds: Option<f64>,
    /// Reopens by the raising town (complaints about the result).
    pub reopens: usize,
    /// Confirmations by the raising town, and their mean rating.
    pub confirmations: usize,
    pub rating_mean: Option<f64>,
    /// Fence warnings by how they were met.
    pub fences_warned: usize,
    pub fences_blocked: usize,
    pub fences_overridden: usize,
}

/// What an event is to the figures' count of procedures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Procedure {
    /// The case moves to another body: dispatch, transfer, reopen.
    HandOff,
    /// A legal step: inspect (or re-check), persuade, investigate, notify, decide, serve.
    Step,
    /// Not a procedure: the raise or registration, acknowledge/arrive, resolve/close/reject, SLA
    /// bookkeeping, pauses, fence warnings, comments, confirmations, reviews.
    None,
}

/// Whether `body` is a procedure (exhaustive: a new event type does not compile until it is
/// placed here).
pub fn procedure(body: &CaseEventBody) -> Procedure {
    match body {
        CaseEventBody::Dispatched(_) | CaseEventBody::Transferred(_) | CaseEventBody::Reopened(_) => Procedure::HandOff,
        CaseEventBody::Inspected(_)
        | CaseEventBody::Penalised(_)
        | CaseEventBody::Persuaded(_)
        | CaseEventBody::Investigated(_)
        | CaseEventBody::Notified(_)
        | CaseEventBody::Decided(_)
        | CaseEventBody::Served(_) => Procedure::Step,
        CaseEventBody::Raised(_)
        | CaseEventBody::Registered(_)
        | CaseEventBody::Acknowledged(_)
        | CaseEventBody::Arrived(_)
        | CaseEventBody::Resolved(_)
        | CaseEventBody::Closed(_)
        | CaseEventBody::Rejected(_)
        | CaseEventBody::Paused(_)
        | CaseEventBody::Resumed(_)
        | CaseEventBody::SlaScheduled(_)
        | CaseEventBody::SlaWarning(_)
        | CaseEventBody::SlaBreached(_)
        | CaseEventBody::Escalated(_)
        | CaseEventBody::Fenced(_)
        | CaseEventBody::Confirmed(_)
        | CaseEventBody::Commented(_)
        | CaseEventBody::Reviewed(_)
        | CaseEventBody::Merged(_)
        | CaseEventBody::Absorbed(_) => Procedure::None,
    }
}

/// The figures as the API answers them (`GET /api/v1/figures`). Destructured, so a new field
/// does not compile until it is on the wire too.
impl From<&Figures> for OutcomeFigures {
    fn from(f: &Figures) -> OutcomeFigures {
        let Figures {
            cases,
            merged,
            closed,
            rejected,
            procedures,
            procedures_per_case,
            handoffs,
            inspections,
            rechecks,
            penalties,
            repeated_inspections,
            repeated_inspection_rate,
            handling_mean_seconds,
            handling_median_seconds,
            handling_p90_seconds,
            reopens,
            confirmations,
            rating_mean,
            fences_warned,
            fences_blocked,
            fences_overridden,
        } = *f;
        let n = |v: usize| v as u64;
        OutcomeFigures {
            cases: n(cases),
            merged: n(merged),
            closed: n(closed),
            rejected: n(rejected),
            procedures: n(procedures),
            procedures_per_case,
            handoffs: n(handoffs),
            inspections: n(inspections),
            rechecks: n(rechecks),
            penalties: n(penalties),
            repeated_inspections: n(repeated_inspections),
            repeated_inspection_rate,
            handling_mean_seconds,
            handling_median_seconds,
            handling_p90_seconds,
            reopens: n(reopens),
            confirmations: n(confirmations),
            rating_mean,
            fences_warned: n(fences_warned),
            fences_blocked: n(fences_blocked),
            fences_overridden: n(fences_overridden),
        }
    }
}

/// One inspection as the repeat count sees it.
struct Visit {
    case: Uuid,
    body: String,
    at: DateTime<Utc>,
}

/// Computes the figures over the cases begun in `[from, to)` (all when `None`). Events may come
/// in any order and more than once (at-least-once delivery): they are deduplicated by id and
/// ordered by time. Inspections of cases begun earlier count as history for the repeat count.
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
    let begun: HashMap<Uuid, DateTime<Utc>> = events
        .iter()
        .filter_map(|e| {
            matches!(effect(&e.body), Effect::Raised(_) | Effect::Registered(_)).then_some((e.subject, e.time))
        })
        .filter(|(_, t)| in_period(*t))
        .collect();
    let mut tally = Tally::new(repeat_window, begun);
    for e in events {
        tally.add(e);
    }
    tally.finish()
}

/// An event pushed to a [`Tally`] out of (time, id) order, or twice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("event {id} at {time} is not after the previous one (events must come in (time, id) order, each once)")]
pub struct OutOfOrder {
    pub id: Uuid,
    pub time: DateTime<Utc>,
}

/// The figures, one event at a time: what [`compute`] does after it has sorted and deduplicated
/// its log. For callers that read events in (time, id) order from a store that already holds
/// each once; the state is per case and per inspection, never per event.
pub struct Tally {
    repeat_window: Duration,
    /// The cases counted, and when each began.
    begun: HashMap<Uuid, DateTime<Utc>>,
    /// A town case's party, and each case's departments (owner and assisting), as they were.
    party: HashMap<Uuid, String>,
    departments: HashMap<Uuid, HashSet<String>>,
    f: Figures,
    ended: HashMap<Uuid, (DateTime<Utc>, bool)>,
    /// Counted cases merged into another: taken out of `cases` at the end.
    merged: HashSet<Uuid>,
    ratings: u64,
    rated: u64,
    /// Every inspection (of any case, so earlier periods count as history), by subject.
    visits: HashMap<String, Vec<Visit>>,
    last: Option<(DateTime<Utc>, Uuid)>,
}

impl Tally {
    /// A tally of the cases in `begun` (each case's id and the time of its `whistle.raised` or
    /// `case.registered`); the events of other cases pushed to it are history for the repeat
    /// count only.
    pub fn new(repeat_window: Duration, begun: HashMap<Uuid, DateTime<Utc>>) -> Tally {
        Tally {
            repeat_window,
            f: Figures { cases: begun.len(), ..Figures::default() },
            begun,
            party: HashMap::new(),
            departments: HashMap::new(),
            ended: HashMap::new(),
            merged: HashSet::new(),
            ratings: 0,
            rated: 0,
            visits: HashMap::new(),
            last: None,
        }
    }

    /// Counts the next event; it must come after the previous one in (time, id) order.
    pub fn push(&mut self, e: &CaseEvent) -> Result<(), OutOfOrder> {
        if self.last.is_some_and(|last| (e.time, e.id) <= last) {
            return Err(OutOfOrder { id: e.id, time: e.time });
        }
        self.add(e);
        Ok(())
    }

    fn add(&mut self, e: &CaseEvent) {
        self.last = Some((e.time, e.id));
        let f = &mut self.f;
        let counted = self.begun.contains_key(&e.subject);
        // Who inspected what, when.
        let inspection = match &e.body {
            CaseEventBody::Registered(r) => {
                self.party.insert(e.subject, r.subject.id.clone());
                None
            }
            CaseEventBody::Dispatched(d) => {
                let mut set: HashSet<String> = d.assisting.iter().map(|a| a.code.clone()).collect();
                set.insert(d.department.code.clone());
                self.departments.insert(e.subject, set);
                None
            }
            CaseEventBody::Transferred(t) => {
                self.departments.entry(e.subject).or_default().insert(t.to.code.clone());
                None
            }
            CaseEventBody::Inspected(i) if i.recheck => {
                f.rechecks += usize::from(counted);
                None
            }
            CaseEventBody::Inspected(i) => Some((i.subject.id.clone(), i.actor.code.clone())),
            CaseEventBody::Investigated(i) => self.party.get(&e.subject).map(|p| (p.clone(), i.actor.code.clone())),
            _ => None,
        };
        if let Some((subject, body)) = inspection {
            let earlier = self.visits.entry(subject).or_default();
            let case_bodies = self.departments.get(&e.subject);
            // Another of the case's departments was just there, and this one was not yet.
            let same_visit = |v: &Visit| v.case == e.subject && e.time - v.at <= JOINT_VISIT;
            let joint = earlier.iter().any(|v| {
                same_visit(v) && v.body != body && case_bodies.is_some_and(|d| d.contains(&v.body) && d.contains(&body))
            }) && !earlier.iter().any(|v| same_visit(v) && v.body == body);
            if !joint {
                let repeated = earlier.iter().any(|v| e.time - v.at <= self.repeat_window);
                if counted {
                    f.inspections += 1;
                    f.repeated_inspections += usize::from(repeated);
                }
            }
            earlier.push(Visit { case: e.subject, body, at: e.time });
        }
        if !counted {
            return;
        }
        match procedure(&e.body) {
            Procedure::HandOff => {
                f.procedures += 1;
                f.handoffs += 1;
            }
            Procedure::Step => f.procedures += 1,
            Procedure::None => {}
        }
        match &e.body {
            CaseEventBody::Penalised(_) => f.penalties += 1,
            CaseEventBody::Decided(d) => {
                f.penalties += usize::from(matches!(d.outcome, DecisionOutcome::Fine | DecisionOutcome::Warning))
            }
            CaseEventBody::Fenced(fence) => match fence.severity {
                FenceSeverity::Warning => f.fences_warned += 1,
                FenceSeverity::Blocked => f.fences_blocked += 1,
                FenceSeverity::Overridden => f.fences_overridden += 1,
            },
            CaseEventBody::Resolved(_) | CaseEventBody::Closed(_) => {
                self.ended.insert(e.subject, (e.time, true));
            }
            CaseEventBody::Rejected(_) => {
                self.ended.insert(e.subject, (e.time, false));
            }
            // A duplicate: the surviving case counts for both.
            CaseEventBody::Merged(_) => {
                self.ended.remove(&e.subject);
                self.merged.insert(e.subject);
            }
            // Re-routed after a return, or reopened: open again.
            CaseEventBody::Transferred(_) => {
                self.ended.remove(&e.subject);
            }
            CaseEventBody::Reopened(_) => {
                self.ended.remove(&e.subject);
                f.reopens += 1;
            }
            CaseEventBody::Confirmed(c) => {
                f.confirmations += 1;
                // A confirmation deemed after 3 working days carries no rating.
                if !c.deemed {
                    self.rated += 1;
                    self.ratings += u64::from(c.rating);
                }
            }
            _ => {}
        }
    }

    /// The figures of the events pushed.
    pub fn finish(self) -> Figures {
        let mut f = self.f;
        f.merged = self.merged.len();
        f.cases = f.cases.saturating_sub(f.merged);
        let mut handling: Vec<f64> = Vec::new();
        for (case, (at, done)) in self.ended.iter().filter(|(c, _)| !self.merged.contains(*c)) {
            if *done {
                handling.push((*at - self.begun[case]).num_milliseconds() as f64 / 1000.0);
            } else {
                f.rejected += 1;
            }
        }
        f.closed = handling.len();
        f.procedures_per_case = f.procedures as f64 / f.cases.max(1) as f64;
        f.repeated_inspection_rate = f.repeated_inspections as f64 / f.inspections.max(1) as f64;
        f.rating_mean = (self.rated > 0).then(|| self.ratings as f64 / self.rated as f64);
        handling.sort_by(f64::total_cmp);
        if !handling.is_empty() {
            f.handling_mean_seconds = Some(handling.iter().sum::<f64>() / handling.len() as f64);
            f.handling_median_seconds = Some(quantile(&handling, 0.5));
            f.handling_p90_seconds = Some(quantile(&handling, 0.9));
        }
        f
    }
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
                    attachments: vec![],
                    raised_by: Actor::new(ActorKind::Town, "500103001"),
                    support: false,
                    assist: Vec::new(),
                    hotline: None,
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

    fn dept_ref(code: &str) -> DepartmentRef {
        DepartmentRef { code: code.into(), names: whistle_schemas::Names { zh: code.into(), en: code.into() } }
    }

    fn subject(id: &str) -> EnforcementSubject {
        EnforcementSubject { id: id.into(), credit_code: None, address: None }
    }

    impl Log {
        fn dispatch(&mut self, case: u128, minute: i64, to: &str, assisting: &[&str]) {
            self.push(
                case,
                minute,
                CaseEventBody::Dispatched(Dispatched {
                    department: dept_ref(to),
                    district: "500103".into(),
                    item: "CQ-ENV-001".into(),
                    authority: Some(Authority::Department),
                    triage: false,
                    basis: "x".into(),
                    registry_version: None,
                    assisting: assisting.iter().map(|a| dept_ref(a)).collect(),
                }),
            );
        }

        fn inspect_by(&mut self, case: u128, minute: i64, by: &str, id: &str, recheck: bool) {
            self.push(
                case,
                minute,
                CaseEventBody::Inspected(Inspected {
                    actor: Actor::new(ActorKind::Department, by),
                    subject: subject(id),
                    persuaded: false,
                    recheck,
                    note: None,
                }),
            );
        }

        fn penalise(&mut self, case: u128, minute: i64, by: &str, id: &str) {
            self.push(
                case,
                minute,
                CaseEventBody::Penalised(Penalised {
                    actor: Actor::new(ActorKind::Department, by),
                    subject: subject(id),
                    item: "CQ-ENV-001".into(),
                    amount_yuan: 1000,
                    tier: "first_offence".into(),
                    range_min_yuan: 500,
                    range_max_yuan: 2000,
                    override_reason: None,
                }),
            );
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
        assert_eq!((f.cases, f.closed, f.rejected), (3, 2, 0));
        // Two inspections; acknowledge and resolve are not procedures.
        assert_eq!((f.procedures, f.handoffs), (2, 0), "{f:?}");
        assert!((f.procedures_per_case - 2.0 / 3.0).abs() < 1e-9, "{f:?}");
        assert_eq!((f.inspections, f.repeated_inspections), (2, 1));
        assert!((f.repeated_inspection_rate - 0.5).abs() < 1e-9);
        assert_eq!(f.handling_mean_seconds, Some(90.0 * 60.0));
        assert_eq!(f.handling_median_seconds, Some(60.0 * 60.0));
        assert_eq!(f.handling_p90_seconds, Some(120.0 * 60.0));
    }

    /// A joint whistle reopened and re-checked, then a town case on the same party, then a
    /// whistle the router refused; the figures worked out by hand in the comments.
    #[test]
    fn town_cases_joint_inspections_rechecks_reopens_and_ratings() {
        let mut log = Log { events: Vec::new(), n: 0 };
        let town = || Actor::new(ActorKind::Town, "500103001");
        // Case 10: dispatched to A with B assisting (hand-off 1), A and B inspect X together (one
        // joint inspection), each decides its penalty (2), resolved at 60, reopened (hand-off 2),
        // A re-checks (a procedure, not an inspection), resolved again at 130, rated 4.
        log.raise(10, 0);
        log.dispatch(10, 1, "500103-A", &["500103-B"]);
        log.step(10, 2);
        log.inspect_by(10, 10, "500103-A", "ucc:X", false);
        log.inspect_by(10, 20, "500103-B", "ucc:X", false);
        log.penalise(10, 30, "500103-A", "ucc:X");
        log.penalise(10, 31, "500103-B", "ucc:X");
        log.resolve(10, 60);
        log.push(
            10,
            100,
            CaseEventBody::Reopened(Reopened {
                actor: town(),
                reason: "still there".into(),
                department: dept_ref("500103-A"),
                district: "500103".into(),
                item: "CQ-ENV-001".into(),
            }),
        );
        log.inspect_by(10, 120, "500103-A", "ucc:X", true);
        log.resolve(10, 130);
        log.push(
            10,
            140,
            CaseEventBody::Confirmed(Confirmed { actor: town(), rating: 4, comment: None, deemed: false }),
        );
        log.push(10, 141, CaseEventBody::Commented(Commented { actor: town(), text: "thanks".into() }));
        // Case 11: the town's own case on X: persuade, investigate (an inspection of X, a repeat
        // of case 10's), notify, decide (a fine), serve = 5 procedures; closed after 100 min.
        log.push(
            11,
            200,
            CaseEventBody::Registered(Registered {
                town: "500103001".into(),
                district: "500103".into(),
                item: "CQ-TOWN-001".into(),
                description: "x".into(),
                location: Location { lat: 0.0, lon: 0.0, address: "x".into() },
                party: CaseParty {
                    kind: whistle_schemas::registry::SubjectKind::Unit,
                    name: "X".into(),
                    credit_code: None,
                },
                subject: subject("ucc:X"),
                attachments: Vec::new(),
                registered_by: town(),
                from_whistle: None,
                department: None,
            }),
        );
        log.push(
            11,
            201,
            CaseEventBody::Persuaded(Persuaded { actor: town(), outcome: PersuasionOutcome::Refused, note: None }),
        );
        log.push(
            11,
            210,
            CaseEventBody::Investigated(Investigated {
                actor: town(),
                officers: vec!["a".into(), "b".into()],
                evidence: "x".into(),
                attachments: vec![],
            }),
        );
        log.push(11, 220, CaseEventBody::Notified(Notified { actor: town(), intended: "fine".into() }));
        log.push(
            11,
            230,
            CaseEventBody::Decided(Decided {
                actor: town(),
                outcome: DecisionOutcome::Fine,
                fine_yuan: Some(800),
                statutory: None,
                benchmark: None,
                override_reason: None,
            }),
        );
        log.push(11, 240, CaseEventBody::Served(Acted { actor: town() }));
        log.push(11, 300, CaseEventBody::Closed(Resolved { actor: town(), note: None }));
        // Case 12: refused by the router: rejected, no procedure, no handling time.
        log.raise(12, 400);
        log.push(
            12,
            401,
            CaseEventBody::Rejected(Rejected {
                actor: Actor::new(ActorKind::System, "router"),
                reason: "x".into(),
                code: Some("town_holds_item".into()),
            }),
        );

        let f = compute(&log.events, Duration::days(30), None, None);
        assert_eq!((f.cases, f.closed, f.rejected), (3, 2, 1), "{f:?}");
        assert_eq!((f.procedures, f.handoffs), (7 + 5, 2), "{f:?}");
        assert!((f.procedures_per_case - 4.0).abs() < 1e-9, "{f:?}");
        assert_eq!((f.inspections, f.repeated_inspections, f.rechecks), (2, 1, 1), "{f:?}");
        assert_eq!(f.penalties, 3, "{f:?}");
        assert_eq!((f.reopens, f.confirmations, f.rating_mean), (1, 1, Some(4.0)), "{f:?}");
        // Case 10 counts to its last resolution (130 min), case 11 took 100 min.
        assert_eq!(f.handling_mean_seconds, Some(115.0 * 60.0));
        assert_eq!(f.handling_median_seconds, Some(100.0 * 60.0));
        assert_eq!(f.handling_p90_seconds, Some(130.0 * 60.0));
    }

    #[test]
    fn separate_inspections_by_two_departments_are_repeats_a_joint_one_is_not() {
        // Case 20: A owns it, then hands it to B, which inspects X two days later: a repeat.
        let mut log = Log { events: Vec::new(), n: 0 };
        log.raise(20, 0);
        log.dispatch(20, 1, "500103-A", &[]);
        log.inspect_by(20, 10, "500103-A", "ucc:X", false);
        log.push(
            20,
            11,
            CaseEventBody::Transferred(Transferred {
                actor: Actor::new(ActorKind::Department, "500103-A"),
                to: dept_ref("500103-B"),
                reason: "the rest is B's".into(),
                triage: false,
            }),
        );
        log.inspect_by(20, 2 * 24 * 60, "500103-B", "ucc:X", false);
        let f = compute(&log.events, Duration::days(30), None, None);
        assert_eq!((f.inspections, f.repeated_inspections, f.handoffs), (2, 1, 2), "{f:?}");
        // The same two inspections 10 minutes apart on a joint case are one inspection.
        let mut joint = Log { events: Vec::new(), n: 0 };
        joint.raise(21, 0);
        joint.dispatch(21, 1, "500103-A", &["500103-B"]);
        joint.inspect_by(21, 10, "500103-A", "ucc:X", false);
        joint.inspect_by(21, 20, "500103-B", "ucc:X", false);
        let f = compute(&joint.events, Duration::days(30), None, None);
        assert_eq!((f.inspections, f.repeated_inspections), (1, 0), "{f:?}");
        // One department inspecting twice is never "joint".
        joint.inspect_by(21, 30, "500103-A", "ucc:X", false);
        let f = compute(&joint.events, Duration::days(30), None, None);
        assert_eq!((f.inspections, f.repeated_inspections), (2, 1), "{f:?}");
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
    fn a_tally_fed_in_time_order_gives_what_compute_gives_and_refuses_disorder() {
        let log = log();
        let mut sorted: Vec<&CaseEvent> = log.events.iter().collect();
        sorted.sort_by_key(|e| (e.time, e.id));
        // Cases raised from minute 20: 2 and 3; case 1's inspection is history.
        let begun: HashMap<Uuid, DateTime<Utc>> = sorted
            .iter()
            .filter(|e| matches!(e.body, CaseEventBody::Raised(_)) && e.time >= t(20))
            .map(|e| (e.subject, e.time))
            .collect();
        let mut tally = Tally::new(Duration::days(30), begun);
        for e in &sorted {
            tally.push(e).expect("in order");
        }
        assert_eq!(tally.finish(), compute(&log.events, Duration::days(30), Some(t(20)), None));
        let mut tally = Tally::new(Duration::days(30), HashMap::new());
        tally.push(sorted[1]).expect("the first");
        assert_eq!(tally.push(sorted[0]), Err(OutOfOrder { id: sorted[0].id, time: sorted[0].time }));
        assert!(tally.push(sorted[1]).is_err(), "the same event twice");
    }

    #[test]
    fn the_wire_figures_carry_every_field() {
        let f = compute(&log().events, Duration::days(30), None, None);
        let wire = OutcomeFigures::from(&f);
        assert_eq!((wire.cases, wire.closed, wire.inspections, wire.repeated_inspections), (3, 2, 2, 1));
        assert_eq!(wire.handling_median_seconds, f.handling_median_seconds);
        assert_eq!(wire.repeated_inspection_rate, f.repeated_inspection_rate);
    }

    /// Two towns report one spill; the department merges the second into the first and resolves
    /// the first: one case, one closed, one merged.
    #[test]
    fn a_merged_duplicate_counts_the_problem_once() {
        let mut log = Log { events: Vec::new(), n: 0 };
        log.raise(1, 0);
        log.raise(2, 5);
        log.push(
            2,
            10,
            CaseEventBody::Merged(Merged { actor: dept(), into: Uuid::from_u128(1), into_town: "500103001".into() }),
        );
        log.push(
            1,
            10,
            CaseEventBody::Absorbed(Absorbed { actor: dept(), merged: Uuid::from_u128(2), town: "500103002".into() }),
        );
        log.step(1, 20);
        log.resolve(1, 60);
        let f = compute(&log.events, Duration::days(30), None, None);
        assert_eq!((f.cases, f.merged, f.closed, f.rejected), (1, 1, 1, 0), "{f:?}");
        assert_eq!(f.handling_mean_seconds, Some(3600.0));
        assert_eq!(OutcomeFigures::from(&f).merged, 1);
    }

    #[test]
    fn change_is_relative_to_before() {
        assert_eq!(change_percent(10.0, 6.0), Some(-40.0));
        assert_eq!(change_percent(0.0, 6.0), None);
    }
}

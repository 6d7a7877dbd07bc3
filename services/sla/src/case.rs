//! One case's SLA state and the timers it implies. Pure: no I/O, no reading of the clock.
//!
//! Each stage (acknowledge, arrive, resolve) has a budget on a clock. Time counts from the
//! dispatch; a pause stops every running stage (time used so far is kept), a resume restarts
//! them. A stage has three kinds of timer: the warning (at `warn_ratio` of the budget), the
//! breach (the deadline), and one per escalation step after the breach. Each timer has a stable
//! key (`acknowledge.breach`, `acknowledge.escalate.2`…) and fires at most once per case.

use std::collections::{BTreeSet, VecDeque};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use whistle_case::{Effect, SlaSignal, effect};
use whistle_schemas::events::{CaseEvent, Deadlines, SlaStageKind};

use crate::calendar::{Calendar, Clock, ClockKind};
use crate::policy::Policy;

/// The key of the deemed-confirmation timer of a resolved whistle.
pub const DEEMED_KEY: &str = "confirm.deemed";

/// The policy name a town case's statutory clock is recorded under.
pub const STATUTORY_POLICY: &str = "statutory";

/// Recently applied event ids kept per case, so a replay after a crash is recognised.
const REMEMBERED_EVENTS: usize = 64;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageState {
    pub kind: SlaStageKind,
    pub budget_seconds: i64,
    pub clock: ClockKind,
    /// Counted time used before the current run (i.e. before the last pause).
    pub consumed_seconds: i64,
    /// When the current run started; `None` while paused or once done.
    pub running_since: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseSla {
    pub whistle: Uuid,
    pub district: String,
    pub department: String,
    pub item: String,
    pub policy: String,
    pub dispatched_at: DateTime<Utc>,
    pub stages: Vec<StageState>,
    pub paused: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub resolved: bool,
    pub breached: BTreeSet<SlaStageKind>,
    /// The Kafka partition whose timer set holds this case's timers: the partition of its
    /// dispatch, kept even if the topic is repartitioned later.
    #[serde(default)]
    pub partition: i32,
    /// How often the town reopened the whistle: each reopening is a new round of clocks, whose
    /// timers (and their event ids) are its own.
    #[serde(default)]
    pub round: u32,
    /// The town confirmed the resolved whistle (or it was deemed confirmed).
    #[serde(default)]
    pub confirmed: bool,
    applied: VecDeque<Uuid>,
}

/// Working days after a resolution without an answer from the town before the whistle counts as
/// confirmed.
pub const DEEMED_CONFIRMED_AFTER_WORKING_DAYS: u32 = 3;

/// What a timer does when it fires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerKind {
    Warning,
    Breach,
    Escalate {
        level: u32,
        to: String,
    },
    /// A resolved whistle the town has not answered counts as confirmed.
    DeemedConfirmed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    pub key: String,
    pub stage: SlaStageKind,
    pub due: DateTime<Utc>,
    /// The stage's deadline, reported in the event.
    pub deadline: DateTime<Utc>,
    pub kind: TimerKind,
}

/// A stage completed: how long it took, for the metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Completed {
    pub stage: SlaStageKind,
    pub seconds: f64,
}

/// What applying an event did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Change {
    /// The deadlines moved: publish `sla.scheduled` and re-arm the timers.
    pub rescheduled: bool,
    pub completed: Vec<Completed>,
    /// The case is closed: drop its timers.
    pub closed: bool,
}

impl CaseSla {
    /// A case's clocks start at its dispatch.
    pub fn dispatched(
        event: &CaseEvent,
        partition: i32,
        department: &str,
        district: &str,
        item: &str,
        policy: &Policy,
    ) -> CaseSla {
        let stages = SlaStageKind::WHISTLE
            .iter()
            .map(|&kind| {
                let budget = policy.budget(kind);
                StageState {
                    kind,
                    budget_seconds: budget.duration.num_seconds(),
                    clock: budget.clock,
                    consumed_seconds: 0,
                    running_since: Some(event.time),
                    done_at: None,
                }
            })
            .collect();
        CaseSla {
            whistle: event.subject,
            district: district.to_owned(),
            department: department.to_owned(),
            item: item.to_owned(),
            policy: policy.name.clone(),
            dispatched_at: event.time,
            stages,
            paused: false,
            closed_at: None,
            resolved: false,
            breached: BTreeSet::new(),
            partition,
            round: 0,
            confirmed: false,
            applied: VecDeque::from([event.id]),
        }
    }

    /// An enforcement case's one clock: the statutory time limit to decide, from its
    /// registration, on the wall clock (calendar days). `body` answers for it: the town, or the
    /// department for a department's own case.
    pub fn registered(event: &CaseEvent, partition: i32, body: &str, district: &str, item: &str) -> CaseSla {
        let budget = Duration::days(whistle_case::procedure::DECIDE_WITHIN_DAYS);
        CaseSla {
            whistle: event.subject,
            district: district.to_owned(),
            department: body.to_owned(),
            item: item.to_owned(),
            policy: STATUTORY_POLICY.to_owned(),
            dispatched_at: event.time,
            stages: vec![StageState {
                kind: SlaStageKind::Decide,
                budget_seconds: budget.num_seconds(),
                clock: ClockKind::Wall,
                consumed_seconds: 0,
                running_since: Some(event.time),
                done_at: None,
            }],
            paused: false,
            closed_at: None,
            resolved: false,
            breached: BTreeSet::new(),
            partition,
            round: 0,
            confirmed: false,
            applied: VecDeque::from([event.id]),
        }
    }

    pub fn is_open(&self) -> bool {
        self.closed_at.is_none()
    }

    fn stage_mut(&mut self, kind: SlaStageKind) -> Option<&mut StageState> {
        self.stages.iter_mut().find(|s| s.kind == kind)
    }

    /// The case's clock for `kind`, if it has one (a whistle has no `decide`, a town case only it).
    pub fn stage(&self, kind: SlaStageKind) -> Option<&StageState> {
        self.stages.iter().find(|s| s.kind == kind)
    }

    /// Applies a later event of the case. Idempotent on the event id.
    pub fn apply(&mut self, event: &CaseEvent, calendar: &Calendar) -> Change {
        if self.applied.contains(&event.id) {
            return Change::default();
        }
        self.applied.push_back(event.id);
        while self.applied.len() > REMEMBERED_EVENTS {
            self.applied.pop_front();
        }
        let at = event.time;
        let mut change = Change::default();
        // A resolved whistle stays until the town answers: a confirmation drops its last timer.
        if let Effect::Confirmed(_) = effect(&event.body) {
            if !self.confirmed {
                self.confirmed = true;
                change.rescheduled = true;
            }
            return change;
        }
        if !self.is_open() {
            return change;
        }
        match effect(&event.body) {
            Effect::Progressed(stages) => self.complete(stages, at, calendar, &mut change),
            Effect::Enforcement(whistle_case::Enforcement::Decided(_)) => {
                self.complete(&[SlaStageKind::Decide], at, calendar, &mut change);
            }
            Effect::Resolved(_) => {
                self.complete(&SlaStageKind::ALL, at, calendar, &mut change);
                self.resolved = true;
                self.close(at, &mut change);
            }
            // A duplicate merged into another case: its clocks stop; the survivor's run on.
            Effect::Rejected(_) | Effect::Merged(_) => self.close(at, &mut change),
            Effect::Paused(_) if !self.paused => {
                for stage in self.stages.iter_mut().filter(|s| s.done_at.is_none()) {
                    if let Some(since) = stage.running_since.take() {
                        let clock = Clock { kind: stage.clock, calendar };
                        stage.consumed_seconds += clock.between(since, at).num_seconds();
                    }
                }
                self.paused = true;
                change.rescheduled = true;
            }
            Effect::Resumed if self.paused => {
                for stage in self.stages.iter_mut().filter(|s| s.done_at.is_none()) {
                    stage.running_since = Some(at);
                }
                self.paused = false;
                change.rescheduled = true;
            }
            Effect::Sla(SlaSignal::Breached(b)) => {
                self.breached.insert(b.stage);
            }
            // A pause of a paused case, a resume of a running one; and what does not move the
            // clocks of this owner (a transfer starts a new clock set in the service).
            Effect::Paused(_)
            | Effect::Resumed
            | Effect::Raised(_)
            | Effect::Registered(_)
            | Effect::Reopened(_)
            | Effect::Confirmed(_)
            | Effect::Routed(_)
            | Effect::Transferred(_)
            | Effect::Sla(SlaSignal::Scheduled(_) | SlaSignal::Warning(_) | SlaSignal::Escalated(_))
            | Effect::Enforcement(_)
            | Effect::Absorbed(_)
            | Effect::Step => {}
        }
        change
    }

    fn complete(&mut self, kinds: &[SlaStageKind], at: DateTime<Utc>, calendar: &Calendar, change: &mut Change) {
        let dispatched_at = self.dispatched_at;
        for &kind in kinds {
            let Some(stage) = self.stage_mut(kind) else { continue };
            if stage.done_at.is_some() {
                continue;
            }
            if let Some(since) = stage.running_since.take() {
                stage.consumed_seconds += Clock { kind: stage.clock, calendar }.between(since, at).num_seconds();
            }
            stage.done_at = Some(at);
            change.completed.push(Completed {
                stage: kind,
                seconds: (at - dispatched_at).num_milliseconds().max(0) as f64 / 1000.0,
            });
            change.rescheduled = true;
        }
    }

    fn close(&mut self, at: DateTime<Utc>, change: &mut Change) {
        for stage in &mut self.stages {
            stage.running_since = None;
        }
        self.closed_at = Some(at);
        change.closed = true;
        change.rescheduled = true;
    }

    /// When a running stage's budget runs out (`None` when done or paused).
    pub fn deadline(&self, kind: SlaStageKind, calendar: &Calendar) -> Option<DateTime<Utc>> {
        let s = self.stage(kind)?;
        let since = s.running_since?;
        let left = Duration::seconds(s.budget_seconds - s.consumed_seconds);
        Some(Clock { kind: s.clock, calendar }.add(since, left))
    }

    pub fn deadlines(&self, calendar: &Calendar) -> Deadlines {
        Deadlines {
            acknowledge: self.deadline(SlaStageKind::Acknowledge, calendar),
            arrive: self.deadline(SlaStageKind::Arrive, calendar),
            resolve: self.deadline(SlaStageKind::Resolve, calendar),
            decide: self.deadline(SlaStageKind::Decide, calendar),
            paused: self.paused && self.is_open(),
        }
    }

    /// What the keys of this round's timers start with: nothing for the first round (the keys
    /// of earlier versions), `reopen<n>.` after the n-th reopening.
    pub fn timer_prefix(&self) -> String {
        if self.round == 0 { String::new() } else { format!("reopen{}.", self.round) }
    }

    /// Every timer still to fire, soonest first. `fired` holds the keys already fired.
    pub fn timers(&self, policy: &Policy, calendar: &Calendar, fired: &BTreeSet<String>) -> Vec<Timer> {
        let mut timers = Vec::new();
        if !self.is_open() {
            // A resolved whistle the town does not answer counts as confirmed after 3 working days.
            if let Some(at) =
                self.closed_at.filter(|_| self.resolved && !self.confirmed && self.policy != STATUTORY_POLICY)
            {
                let key = self.timer_prefix() + DEEMED_KEY;
                if !fired.contains(&key) {
                    let due = calendar.add_working_days(at, DEEMED_CONFIRMED_AFTER_WORKING_DAYS);
                    let stage = SlaStageKind::Resolve;
                    timers.push(Timer { key, stage, due, deadline: due, kind: TimerKind::DeemedConfirmed });
                }
            }
            return timers;
        }
        if self.paused {
            return timers;
        }
        for s in self.stages.iter().filter(|s| s.done_at.is_none()) {
            let (Some(since), Some(deadline)) = (s.running_since, self.deadline(s.kind, calendar)) else { continue };
            let clock = Clock { kind: s.clock, calendar };
            let warn_after = if s.kind == SlaStageKind::Decide {
                // The statutory limit warns a fixed time before it, as the supervision queue does.
                s.budget_seconds
                    - Duration::days(whistle_case::procedure::NEAR_LIMIT_DAYS).num_seconds()
                    - s.consumed_seconds
            } else {
                (s.budget_seconds as f64 * policy.warn_ratio).round() as i64 - s.consumed_seconds
            };
            let stage = self.timer_prefix() + s.kind.as_str();
            let mut push = |key: String, due, kind| {
                if !fired.contains(&key) {
                    timers.push(Timer { key, stage: s.kind, due, deadline, kind });
                }
            };
            if warn_after > 0 {
                push(format!("{stage}.warning"), clock.add(since, Duration::seconds(warn_after)), TimerKind::Warning);
            }
            push(format!("{stage}.breach"), deadline, TimerKind::Breach);
            // A town case past its limit goes to the supervisors' queue, not up a department's chain.
            let chain = if s.kind == SlaStageKind::Decide { &[][..] } else { &policy.escalation[..] };
            for (i, step) in chain.iter().enumerate() {
                let level = i as u32 + 1;
                push(
                    format!("{stage}.escalate.{level}"),
                    deadline + step.after,
                    TimerKind::Escalate { level, to: step.to.clone() },
                );
            }
        }
        timers.sort_by(|a, b| a.due.cmp(&b.due).then_with(|| a.key.cmp(&b.key)));
        timers
    }

    /// Every key a timer of this case's round could have, for removing stale entries.
    pub fn all_keys(&self, policy: &Policy) -> Vec<String> {
        let prefix = self.timer_prefix();
        let mut keys = vec![prefix.clone() + DEEMED_KEY];
        for stage in SlaStageKind::ALL {
            let stage = prefix.clone() + stage.as_str();
            keys.push(format!("{stage}.warning"));
            keys.push(format!("{stage}.breach"));
            for level in 1..=policy.escalation.len() {
                keys.push(format!("{stage}.escalate.{level}"));
            }
        }
        keys
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::calendar::tests::chongqing;
    use crate::policy::Policies;
    use whistle_schemas::Names;
    use whistle_schemas::events::CaseEventBody;
    use whistle_schemas::events::{Acted, Actor, ActorKind, Authority, DepartmentRef, Dispatched, Paused};

    pub(crate) fn policies() -> Policies {
        let json = r#"{"default_calendar":"cq","calendars":{"cq":{"utc_offset":"+08:00","weekdays":["mon","tue","wed","thu","fri"],"hours":[["09:00","12:00"],["13:30","17:30"]]}},
          "policies":[{"name":"default","warn_ratio":0.8,
            "acknowledge":{"seconds":600,"clock":"wall"},"arrive":{"seconds":1800,"clock":"wall"},"resolve":{"seconds":75600,"clock":"business"},
            "escalation":[{"to":"duty_officer","after_seconds":0},{"to":"department_head","after_seconds":900},{"to":"command_centre","after_seconds":1800}]}]}"#;
        Policies::from_json(json.as_bytes()).expect("valid")
    }

    pub(crate) fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid time").with_timezone(&Utc)
    }

    pub(crate) fn event(n: u128, at: &str, body: CaseEventBody) -> CaseEvent {
        CaseEvent::new(Uuid::from_u128(n), "/test", Uuid::from_u128(99), t(at), body)
    }

    pub(crate) fn dispatched_at(at: &str) -> (CaseEvent, CaseSla) {
        let e = event(
            1,
            at,
            CaseEventBody::Dispatched(Dispatched {
                department: DepartmentRef { code: "500103-EE".into(), names: Names { zh: "x".into(), en: "x".into() } },
                district: "500103".into(),
                item: "CQ-ENV-001".into(),
                authority: Some(Authority::Recovered),
                triage: false,
                basis: "x".into(),
                registry_version: None,
                assisting: vec![],
            }),
        );
        let p = policies();
        let case = CaseSla::dispatched(&e, 0, "500103-EE", "500103", "CQ-ENV-001", p.by_name("default"));
        (e, case)
    }

    fn shipped() -> Policies {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/sla.json");
        Policies::load(&path).expect("the shipped policy loads")
    }

    #[test]
    fn a_whistle_at_23_00_on_a_business_hours_item_starts_its_clock_at_the_next_working_morning() {
        let p = shipped();
        // Tuesday 2026-11-24, 23:00 in Chongqing; an environment item (business hours).
        let (e, _) = dispatched_at("2026-11-24T23:00:00+08:00");
        let policy = p.for_dispatch("CQ-ENV-001", Some("environment"), "500103", e.time);
        let case = CaseSla::dispatched(&e, 0, "500103-EE", "500103", "CQ-ENV-001", policy);
        let calendar = p.calendar("500103");
        let ack = policy.budget(SlaStageKind::Acknowledge).duration;
        assert_eq!(case.deadline(SlaStageKind::Acknowledge, calendar), Some(t("2026-11-25T09:00:00+08:00") + ack));
        // The same at 23:00 before a holiday: the clock waits for the first working morning after it.
        let (e, _) = dispatched_at("2026-09-30T23:00:00+08:00");
        let case = CaseSla::dispatched(&e, 0, "500103-EE", "500103", "CQ-ENV-001", policy);
        assert_eq!(case.deadline(SlaStageKind::Acknowledge, calendar), Some(t("2026-10-08T09:00:00+08:00") + ack));
        // A fire item at 23:00 counts at once, on the night-time acknowledgement.
        let (e, _) = dispatched_at("2026-11-24T23:00:00+08:00");
        let fire = p.for_dispatch("CQ-FIRE-001", Some("fire_safety"), "500103", e.time);
        let case = CaseSla::dispatched(&e, 0, "500103-FR", "500103", "CQ-FIRE-001", fire);
        let night_ack = fire.budget(SlaStageKind::Acknowledge).duration;
        assert_eq!(case.deadline(SlaStageKind::Acknowledge, calendar), Some(e.time + night_ack));
        assert!(night_ack < chrono::Duration::hours(1));
    }

    fn actor() -> Actor {
        Actor::new(ActorKind::Department, "500103-EE")
    }

    #[test]
    fn a_dispatched_case_arms_warning_breach_and_escalations_in_order() {
        // Thursday 10:00 local.
        let (_, case) = dispatched_at("2026-11-26T10:00:00+08:00");
        let p = policies();
        let timers = case.timers(p.by_name("default"), &chongqing(), &BTreeSet::new());
        let ack: Vec<(&str, DateTime<Utc>)> =
            timers.iter().filter(|t| t.stage == SlaStageKind::Acknowledge).map(|t| (t.key.as_str(), t.due)).collect();
        assert_eq!(
            ack,
            [
                ("acknowledge.warning", t("2026-11-26T10:08:00+08:00")),
                ("acknowledge.breach", t("2026-11-26T10:10:00+08:00")),
                ("acknowledge.escalate.1", t("2026-11-26T10:10:00+08:00")),
                ("acknowledge.escalate.2", t("2026-11-26T10:25:00+08:00")),
                ("acknowledge.escalate.3", t("2026-11-26T10:40:00+08:00")),
            ]
        );
        // Resolve: 21 working hours from Thursday 10:00.
        let resolve = case.deadline(SlaStageKind::Resolve, &chongqing()).expect("running");
        assert_eq!(resolve, t("2026-12-01T10:00:00+08:00"), "Thu 6 h + Fri 7 h + Mon 7 h + Tue 1 h");
    }

    #[test]
    fn acknowledging_cancels_that_stage_and_records_how_long_it_took() {
        let (_, mut case) = dispatched_at("2026-11-26T10:00:00+08:00");
        let change = case.apply(
            &event(2, "2026-11-26T10:04:00+08:00", CaseEventBody::Acknowledged(Acted { actor: actor() })),
            &chongqing(),
        );
        assert!(change.rescheduled);
        assert_eq!(change.completed, vec![Completed { stage: SlaStageKind::Acknowledge, seconds: 240.0 }]);
        let p = policies();
        let timers = case.timers(p.by_name("default"), &chongqing(), &BTreeSet::new());
        assert!(timers.iter().all(|t| t.stage != SlaStageKind::Acknowledge));
        assert!(case.deadlines(&chongqing()).acknowledge.is_none());
    }

    #[test]
    fn paused_time_does_not_count() {
        let (_, mut case) = dispatched_at("2026-11-26T10:00:00+08:00");
        let cal = chongqing();
        case.apply(
            &event(
                2,
                "2026-11-26T10:05:00+08:00",
                CaseEventBody::Paused(Paused { actor: actor(), reason: "owner away".into() }),
            ),
            &cal,
        );
        let p = policies();
        assert!(case.timers(p.by_name("default"), &cal, &BTreeSet::new()).is_empty(), "no timers while paused");
        assert!(case.deadlines(&cal).paused);
        case.apply(&event(3, "2026-11-26T11:00:00+08:00", CaseEventBody::Resumed(Acted { actor: actor() })), &cal);
        // 5 minutes used before the pause; 5 left from 11:00.
        assert_eq!(case.deadline(SlaStageKind::Acknowledge, &cal), Some(t("2026-11-26T11:05:00+08:00")));
        // The warning (at 8 minutes) is 3 minutes after the resume.
        let timers = case.timers(p.by_name("default"), &cal, &BTreeSet::new());
        assert_eq!(timers[0].key, "acknowledge.warning");
        assert_eq!(timers[0].due, t("2026-11-26T11:03:00+08:00"));
    }

    #[test]
    fn a_replayed_event_changes_nothing_and_fired_timers_stay_fired() {
        let (_, mut case) = dispatched_at("2026-11-26T10:00:00+08:00");
        let cal = chongqing();
        let pause =
            event(2, "2026-11-26T10:05:00+08:00", CaseEventBody::Paused(Paused { actor: actor(), reason: "x".into() }));
        case.apply(&pause, &cal);
        let once = case.clone();
        assert_eq!(case.apply(&pause, &cal), Change::default());
        assert_eq!(case, once);
        let (_, fresh) = dispatched_at("2026-11-26T10:00:00+08:00");
        let p = policies();
        let fired: BTreeSet<String> = ["acknowledge.warning".to_owned()].into();
        assert!(fresh.timers(p.by_name("default"), &cal, &fired).iter().all(|t| t.key != "acknowledge.warning"));
    }

    #[test]
    fn resolving_closes_every_clock() {
        let (_, mut case) = dispatched_at("2026-11-26T10:00:00+08:00");
        let cal = chongqing();
        let change = case.apply(
            &event(
                2,
                "2026-11-26T10:20:00+08:00",
                CaseEventBody::Resolved(whistle_schemas::events::Resolved { actor: actor(), note: None }),
            ),
            &cal,
        );
        assert!(change.closed);
        assert_eq!(change.completed.len(), 3);
        let p = policies();
        // What is left is the town's answer: 3 working days (Thursday 10:20 → Tuesday 10:20).
        let timers = case.timers(p.by_name("default"), &cal, &BTreeSet::new());
        let left: Vec<(&str, DateTime<Utc>)> = timers.iter().map(|t| (t.key.as_str(), t.due)).collect();
        assert_eq!(left, [(DEEMED_KEY, t("2026-12-01T10:20:00+08:00"))]);
        let confirmed = whistle_schemas::events::Confirmed { actor: actor(), rating: 5, comment: None, deemed: false };
        let change = case.apply(&event(3, "2026-11-27T09:00:00+08:00", CaseEventBody::Confirmed(confirmed)), &cal);
        assert!(change.rescheduled);
        assert!(case.timers(p.by_name("default"), &cal, &BTreeSet::new()).is_empty(), "answered");
    }

    #[test]
    fn a_town_case_has_one_clock_the_statutory_limit_which_warns_15_days_before_and_stops_at_the_decision() {
        use whistle_schemas::events::{Decided, DecisionOutcome};
        let cal = chongqing();
        let p = policies();
        let registered = event(1, "2026-01-01T09:00:00+08:00", CaseEventBody::Served(Acted { actor: actor() }));
        let mut case = CaseSla::registered(&registered, 0, "500103001", "500103", "CQ-FIRE-002");
        let timers = case.timers(p.by_name(STATUTORY_POLICY), &cal, &BTreeSet::new());
        let keys: Vec<(&str, DateTime<Utc>)> = timers.iter().map(|t| (t.key.as_str(), t.due)).collect();
        assert_eq!(
            keys,
            [("decide.warning", t("2026-03-17T09:00:00+08:00")), ("decide.breach", t("2026-04-01T09:00:00+08:00"))],
            "90 calendar days, warned 15 days before, no department escalation"
        );
        assert_eq!(case.deadlines(&cal).decide, Some(t("2026-04-01T09:00:00+08:00")));
        assert_eq!(case.deadlines(&cal).acknowledge, None, "a town case has no whistle clocks");
        let decided = Decided {
            actor: actor(),
            outcome: DecisionOutcome::Warning,
            fine_yuan: None,
            statutory: None,
            benchmark: None,
            override_reason: None,
        };
        let change = case.apply(&event(2, "2026-02-01T09:00:00+08:00", CaseEventBody::Decided(decided)), &cal);
        assert_eq!(change.completed.iter().map(|c| c.stage).collect::<Vec<_>>(), [SlaStageKind::Decide]);
        assert!(case.timers(p.by_name(STATUTORY_POLICY), &cal, &BTreeSet::new()).is_empty());
    }
}

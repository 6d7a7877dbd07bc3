//! The whistle state machine.
//!
//! ```text
//! raised ──dispatch──▶ dispatched ──acknowledge──▶ acknowledged ──arrive──▶ on_site
//!   │                      │                           │   │                   │
//!   └─reject (system)─┐    └─reject──┐        reject──┘   └──resolve──┐      resolve
//!                     ▼              ▼                                 ▼       ▼
//!                  rejected       rejected                          resolved ◀─┘
//! ```
//! `resolved` and `rejected` are terminal, with one exception: a case a department *returned*
//! (`whistle.rejected` by a department other than the command centre) is re-routed by the router
//! with `whistle.transferred` and is `dispatched` again. A department may also transfer a case it
//! owns (dispatched, acknowledged or on site) to another; ownership moves and it is `dispatched`.

use whistle_schemas::Status;
use whistle_schemas::api::{TimelineEntry, WhistleView};
use whistle_schemas::events::{
    Actor, ActorKind, CaseEvent, CaseEventBody, Deadlines, Escalated, SlaStage, SlaStageKind,
};

use crate::channel::Channel;

/// A department action requested through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Acknowledge,
    Arrive,
    Resolve,
    Reject,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot {action} a whistle that is {status}")]
pub struct TransitionError {
    pub action: &'static str,
    pub status: Status,
}

impl Transition {
    pub fn name(self) -> &'static str {
        match self {
            Transition::Acknowledge => "acknowledge",
            Transition::Arrive => "arrive at",
            Transition::Resolve => "resolve",
            Transition::Reject => "reject",
        }
    }

    /// The status this action leads to from `from`, or why it is not allowed.
    pub fn target(self, from: Status) -> Result<Status, TransitionError> {
        use Status::*;
        let to = match (self, from) {
            (Transition::Acknowledge, Dispatched) => Acknowledged,
            (Transition::Arrive, Acknowledged) => OnSite,
            (Transition::Resolve, Acknowledged | OnSite) => Resolved,
            (Transition::Reject, Dispatched | Acknowledged) => Rejected,
            _ => return Err(TransitionError { action: self.name(), status: from }),
        };
        Ok(to)
    }
}

/// What applying an event to a case produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The case changed; the event goes to these channels (open or closed there after it).
    Changed { view: Box<WhistleView>, channels: Vec<(Channel, bool)> },
    /// The event is already on the timeline: a replay after a crash, ignore it.
    Duplicate,
    /// The event does not fit the case (wrong order, unknown whistle); it is not applied.
    Refused(String),
}

/// Whether a department may record inspections and penalties on a case in `status`.
pub fn enforcing(status: Status) -> bool {
    matches!(status, Status::Acknowledged | Status::OnSite)
}

/// Applies `event` to the current view of its case (`None` when the case is not known yet).
pub fn apply(current: Option<&WhistleView>, event: &CaseEvent) -> Applied {
    if let Some(view) = current
        && view.timeline.iter().any(|t| t.event_id == event.id)
    {
        return Applied::Duplicate;
    }
    let mut view = match (current, &event.body) {
        (None, CaseEventBody::Raised(r)) => WhistleView {
            id: event.subject,
            status: Status::Raised,
            town: r.town.clone(),
            district: r.district.clone(),
            item: r.item.clone(),
            description: r.description.clone(),
            location: r.location.clone(),
            photos: r.photos.clone(),
            department: None,
            assisting: Vec::new(),
            raised_at: event.time,
            updated_at: event.time,
            deadlines: None,
            overdue: Vec::new(),
            paused: false,
            timeline: Vec::new(),
        },
        (None, _) => return Applied::Refused(format!("{} for a whistle that was never raised", event.type_name())),
        (Some(_), CaseEventBody::Raised(_)) => {
            return Applied::Refused("whistle.raised for a whistle that exists".into());
        }
        (Some(view), _) => view.clone(),
    };

    let from = view.status;
    let mut previous_department = None;
    let (to, actor, detail) = match &event.body {
        CaseEventBody::Raised(r) => (Status::Raised, Some(r.raised_by.clone()), None),
        CaseEventBody::Dispatched(d) if from == Status::Raised => {
            view.department = Some(d.department.clone());
            view.assisting = d.assisting.clone();
            (Status::Dispatched, Some(Actor::new(ActorKind::System, "router")), Some(d.basis.clone()))
        }
        CaseEventBody::Acknowledged(a) => match Transition::Acknowledge.target(from) {
            Ok(to) => (to, Some(a.actor.clone()), None),
            Err(e) => return Applied::Refused(e.to_string()),
        },
        CaseEventBody::Arrived(a) => match Transition::Arrive.target(from) {
            Ok(to) => (to, Some(a.actor.clone()), None),
            Err(e) => return Applied::Refused(e.to_string()),
        },
        CaseEventBody::Resolved(r) => match Transition::Resolve.target(from) {
            Ok(to) => (to, Some(r.actor.clone()), r.note.clone()),
            Err(e) => return Applied::Refused(e.to_string()),
        },
        // The router rejects a raised whistle it must not dispatch (the town holds the item).
        CaseEventBody::Rejected(r) if from == Status::Raised => {
            (Status::Rejected, Some(r.actor.clone()), Some(r.reason.clone()))
        }
        CaseEventBody::Rejected(r) => match Transition::Reject.target(from) {
            Ok(to) => (to, Some(r.actor.clone()), Some(r.reason.clone())),
            Err(e) => return Applied::Refused(e.to_string()),
        },
        CaseEventBody::Dispatched(_) => return Applied::Refused(format!("cannot dispatch a whistle that is {from}")),
        CaseEventBody::Transferred(t) if can_transfer(&view) || was_returned(&view, &t.actor) => {
            let from_code = view.department.as_ref().map_or_else(|| "nobody".to_owned(), |d| d.code.clone());
            previous_department = view.department.replace(t.to.clone());
            view.overdue.clear();
            view.deadlines = None;
            view.paused = false;
            let detail =
                format!("{from_code} → {}{}: {}", t.to.code, if t.triage { " (triage)" } else { "" }, t.reason);
            (Status::Dispatched, Some(t.actor.clone()), Some(detail))
        }
        CaseEventBody::Transferred(_) => {
            return Applied::Refused(format!("cannot transfer a whistle that is {from}"));
        }
        CaseEventBody::Paused(p) if can_pause(&view) => {
            view.paused = true;
            (from, Some(p.actor.clone()), Some(p.reason.clone()))
        }
        CaseEventBody::Paused(_) => return Applied::Refused(format!("cannot pause a whistle that is {from}")),
        CaseEventBody::Resumed(a) if view.paused && !from.is_terminal() => {
            view.paused = false;
            (from, Some(a.actor.clone()), None)
        }
        CaseEventBody::Resumed(_) => return Applied::Refused("cannot resume a whistle that is not paused".into()),
        _ if from.is_terminal() => {
            return Applied::Refused(format!("{} for a whistle that is {from}", event.type_name()));
        }
        // A timer that fired as the stage was completed: the completion wins.
        CaseEventBody::SlaWarning(SlaStage { stage, .. })
        | CaseEventBody::SlaBreached(SlaStage { stage, .. })
        | CaseEventBody::Escalated(Escalated { stage, .. })
            if stage_done(from, *stage) =>
        {
            return Applied::Refused(format!(
                "{} for the {} stage of a whistle that is {from}",
                event.type_name(),
                stage.as_str()
            ));
        }
        CaseEventBody::SlaScheduled(s) => {
            view.deadlines = Some(s.deadlines.clone());
            (from, Some(sla_actor()), Some(describe_deadlines(&s.deadlines)))
        }
        CaseEventBody::SlaWarning(w) => {
            (from, Some(sla_actor()), Some(format!("{} due {}", w.stage.as_str(), w.deadline.to_rfc3339())))
        }
        CaseEventBody::SlaBreached(b) => {
            if !view.overdue.contains(&b.stage) {
                view.overdue.push(b.stage);
            }
            (from, Some(sla_actor()), Some(format!("{} was due {}", b.stage.as_str(), b.deadline.to_rfc3339())))
        }
        CaseEventBody::Escalated(e) => (
            from,
            Some(sla_actor()),
            Some(format!("{} overdue: escalated to {} (level {})", e.stage.as_str(), e.to, e.level)),
        ),
        // Enforcement steps and fence warnings go on the timeline without moving the status.
        CaseEventBody::Inspected(_) | CaseEventBody::Penalised(_) if !enforcing(from) => {
            return Applied::Refused(format!("cannot record {} on a whistle that is {from}", event.type_name()));
        }
        CaseEventBody::Inspected(i) => (from, Some(i.actor.clone()), Some(format!("inspected {}", i.subject.id))),
        CaseEventBody::Penalised(p) => {
            (from, Some(p.actor.clone()), Some(format!("{} yuan, tier {}, {}", p.amount_yuan, p.tier, p.subject.id)))
        }
        CaseEventBody::Fenced(f) => (from, Some(f.actor.clone()), Some(format!("[{}] {}", f.rule, f.message))),
    };

    let was_overdue = !view.overdue.is_empty();
    // A stage done is no longer overdue; a closed case is overdue for nothing.
    match to {
        Status::Acknowledged => view.overdue.retain(|s| *s != SlaStageKind::Acknowledge),
        Status::OnSite => view.overdue.retain(|s| *s != SlaStageKind::Arrive),
        Status::Resolved | Status::Rejected => {
            view.overdue.clear();
            view.deadlines = None;
            view.paused = false;
        }
        _ => {}
    }
    view.status = to;
    view.updated_at = view.updated_at.max(event.time);
    view.timeline.push(TimelineEntry {
        event_id: event.id,
        kind: event.type_name().to_owned(),
        status: to,
        time: event.time,
        actor,
        detail,
    });
    let open = !to.is_terminal();
    let mut channels = vec![(Channel::Town(view.town.clone()), open)];
    if let Some(dept) = &view.department {
        channels.push((Channel::Department(dept.code.clone()), open));
    }
    // A joint case is on every assisting department's board too, until the lead closes it.
    for dept in view.assisting.iter().filter(|a| view.department.as_ref().is_none_or(|d| d.code != a.code)) {
        channels.push((Channel::Department(dept.code.clone()), open));
    }
    // The old owner's board sees the case leave.
    if let Some(prev) = previous_department.filter(|p| view.department.as_ref().is_none_or(|d| d.code != p.code)) {
        channels.push((Channel::Department(prev.code), false));
    }
    // Managers watch what is overdue: a case enters their channels on its first breach and
    // leaves when nothing is overdue any more.
    let overdue = open && !view.overdue.is_empty();
    if overdue || was_overdue {
        channels.push((Channel::Manager(view.district.clone()), overdue));
        channels.push((Channel::Manager("city".to_owned()), overdue));
    }
    Applied::Changed { view: Box::new(view), channels }
}

/// Whether a status means the stage's work is done.
fn stage_done(status: Status, stage: SlaStageKind) -> bool {
    match stage {
        SlaStageKind::Acknowledge => matches!(status, Status::Acknowledged | Status::OnSite),
        SlaStageKind::Arrive => status == Status::OnSite,
        SlaStageKind::Resolve => false,
    }
}

/// A department may hand over a case it owns and has not closed.
pub fn can_transfer(view: &WhistleView) -> bool {
    view.department.is_some() && matches!(view.status, Status::Dispatched | Status::Acknowledged | Status::OnSite)
}

/// A case a department returned (rejected) may be re-routed by the router, once: a return by the
/// command centre itself is final.
fn was_returned(view: &WhistleView, by: &Actor) -> bool {
    let Some(last) = view.timeline.last() else { return false };
    view.status == Status::Rejected
        && by.kind == ActorKind::System
        && last.kind == "whistle.rejected"
        && last.actor.as_ref().is_some_and(|a| a.kind == ActorKind::Department && !a.code.ends_with("-CC"))
}

/// Pausing needs a department that owns the clock, an open case, and no pause already.
pub fn can_pause(view: &WhistleView) -> bool {
    view.department.is_some() && !view.status.is_terminal() && !view.paused
}

fn sla_actor() -> Actor {
    Actor::new(ActorKind::System, "sla")
}

fn describe_deadlines(d: &Deadlines) -> String {
    if d.paused {
        return "clocks paused".into();
    }
    let parts: Vec<String> = [("acknowledge", d.acknowledge), ("arrive", d.arrive), ("resolve", d.resolve)]
        .into_iter()
        .filter_map(|(k, t)| t.map(|t| format!("{k} by {}", t.to_rfc3339())))
        .collect();
    if parts.is_empty() { "no open deadlines".into() } else { parts.join(", ") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;
    use whistle_schemas::events::*;
    use whistle_schemas::{Location, Names};

    fn event(n: u128, body: CaseEventBody) -> CaseEvent {
        CaseEvent::new(
            Uuid::from_u128(n),
            "/test",
            Uuid::from_u128(7),
            Utc.timestamp_opt(1_700_000_000 + n as i64, 0).unwrap(),
            body,
        )
    }

    fn dept() -> Actor {
        Actor::new(ActorKind::Department, "500103-EE")
    }

    fn raised() -> CaseEvent {
        event(
            1,
            CaseEventBody::Raised(Raised {
                town: "500103001".into(),
                district: "500103".into(),
                item: "CQ-ENV-001".into(),
                description: "drums leaking".into(),
                location: Location { lat: 29.56, lon: 106.57, address: "x".into() },
                photos: vec![],
                raised_by: Actor::new(ActorKind::Town, "500103001"),
                support: false,
                assist: vec![],
            }),
        )
    }

    fn dispatched() -> CaseEvent {
        event(
            2,
            CaseEventBody::Dispatched(Dispatched {
                department: DepartmentRef {
                    code: "500103-EE".into(),
                    names: Names { zh: "生态环境局".into(), en: "EE".into() },
                },
                district: "500103".into(),
                item: "CQ-ENV-001".into(),
                authority: Some(Authority::Recovered),
                triage: false,
                basis: "recovered".into(),
                registry_version: None,
                assisting: vec![],
            }),
        )
    }

    fn changed(applied: Applied) -> (WhistleView, Vec<(Channel, bool)>) {
        match applied {
            Applied::Changed { view, channels } => (*view, channels),
            other => panic!("expected a change, got {other:?}"),
        }
    }

    #[test]
    fn a_whistle_walks_from_raised_to_resolved_with_a_full_timeline() {
        let (v, ch) = changed(apply(None, &raised()));
        assert_eq!(v.status, Status::Raised);
        assert_eq!(ch, vec![(Channel::Town("500103001".into()), true)]);
        let (v, ch) = changed(apply(Some(&v), &dispatched()));
        assert_eq!(v.status, Status::Dispatched);
        assert_eq!(ch.len(), 2, "town and department both see the dispatch");
        let (v, _) = changed(apply(Some(&v), &event(3, CaseEventBody::Acknowledged(Acted { actor: dept() }))));
        let (v, _) = changed(apply(Some(&v), &event(4, CaseEventBody::Arrived(Acted { actor: dept() }))));
        assert_eq!(v.status, Status::OnSite);
        let (v, ch) =
            changed(apply(Some(&v), &event(5, CaseEventBody::Resolved(Resolved { actor: dept(), note: None }))));
        assert_eq!(v.status, Status::Resolved);
        assert!(ch.iter().all(|(_, open)| !open), "a resolved case leaves every open set");
        let kinds: Vec<&str> = v.timeline.iter().map(|t| t.kind.as_str()).collect();
        assert_eq!(
            kinds,
            ["whistle.raised", "whistle.dispatched", "whistle.acknowledged", "whistle.arrived", "whistle.resolved"]
        );
    }

    #[test]
    fn a_replayed_event_is_a_duplicate_not_a_second_step() {
        let (v, _) = changed(apply(None, &raised()));
        let (v, _) = changed(apply(Some(&v), &dispatched()));
        assert_eq!(apply(Some(&v), &dispatched()), Applied::Duplicate);
        assert_eq!(apply(Some(&v), &raised()), Applied::Duplicate);
    }

    #[test]
    fn out_of_order_actions_are_refused() {
        let (v, _) = changed(apply(None, &raised()));
        assert!(matches!(
            apply(Some(&v), &event(3, CaseEventBody::Acknowledged(Acted { actor: dept() }))),
            Applied::Refused(_)
        ));
        assert!(matches!(apply(None, &dispatched()), Applied::Refused(_)));
        let (v, _) = changed(apply(Some(&v), &dispatched()));
        assert!(matches!(
            apply(Some(&v), &event(9, CaseEventBody::Resolved(Resolved { actor: dept(), note: None }))),
            Applied::Refused(_)
        ));
    }

    fn breached(n: u128, stage: SlaStageKind) -> CaseEvent {
        event(
            n,
            CaseEventBody::SlaBreached(SlaStage {
                stage,
                deadline: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
                department: "500103-EE".into(),
                district: "500103".into(),
            }),
        )
    }

    #[test]
    fn a_breach_makes_the_case_overdue_for_managers_until_the_stage_is_done() {
        let (v, _) = changed(apply(None, &raised()));
        let (v, ch) = changed(apply(Some(&v), &dispatched()));
        assert!(ch.iter().all(|(c, _)| !matches!(c, Channel::Manager(_))), "managers see only what is overdue");
        let (v, ch) = changed(apply(Some(&v), &breached(3, SlaStageKind::Acknowledge)));
        assert_eq!(v.overdue, vec![SlaStageKind::Acknowledge]);
        assert_eq!(v.status, Status::Dispatched, "an SLA event does not change the status");
        assert!(ch.contains(&(Channel::Manager("500103".into()), true)));
        assert!(ch.contains(&(Channel::Manager("city".into()), true)));
        let (v, ch) = changed(apply(Some(&v), &event(4, CaseEventBody::Acknowledged(Acted { actor: dept() }))));
        assert!(v.overdue.is_empty());
        assert!(ch.contains(&(Channel::Manager("city".into()), false)), "it leaves the managers' open set");
        assert!(
            matches!(apply(Some(&v), &breached(5, SlaStageKind::Acknowledge)), Applied::Refused(_)),
            "a late timer loses to the acknowledgement"
        );
    }

    #[test]
    fn pause_and_resume_are_recorded_without_changing_status() {
        let (v, _) = changed(apply(None, &raised()));
        assert!(
            matches!(
                apply(Some(&v), &event(3, CaseEventBody::Paused(Paused { actor: dept(), reason: "x".into() }))),
                Applied::Refused(_)
            ),
            "nothing to pause before dispatch"
        );
        let (v, _) = changed(apply(Some(&v), &dispatched()));
        let (v, _) = changed(apply(
            Some(&v),
            &event(3, CaseEventBody::Paused(Paused { actor: dept(), reason: "owner away".into() })),
        ));
        assert!(v.paused);
        assert_eq!(v.status, Status::Dispatched);
        assert!(matches!(
            apply(Some(&v), &event(4, CaseEventBody::Paused(Paused { actor: dept(), reason: "again".into() }))),
            Applied::Refused(_)
        ));
        let (v, _) = changed(apply(Some(&v), &event(5, CaseEventBody::Resumed(Acted { actor: dept() }))));
        assert!(!v.paused);
        assert_eq!(v.timeline.last().map(|t| t.kind.as_str()), Some("whistle.resumed"));
    }

    fn transferred(n: u128, actor: Actor, to: &str, triage: bool) -> CaseEvent {
        event(
            n,
            CaseEventBody::Transferred(Transferred {
                actor,
                to: DepartmentRef { code: to.into(), names: Names { zh: to.into(), en: to.into() } },
                reason: "not ours".into(),
                triage,
            }),
        )
    }

    fn router() -> Actor {
        Actor::new(ActorKind::System, "router")
    }

    #[test]
    fn a_transfer_moves_ownership_and_the_case_leaves_the_old_board() {
        let (v, _) = changed(apply(None, &raised()));
        let (v, _) = changed(apply(Some(&v), &dispatched()));
        let (v, _) = changed(apply(Some(&v), &event(3, CaseEventBody::Acknowledged(Acted { actor: dept() }))));
        let (v, ch) = changed(apply(Some(&v), &transferred(4, dept(), "500103-UM", false)));
        assert_eq!(v.status, Status::Dispatched, "the new owner must acknowledge");
        assert_eq!(v.department.as_ref().map(|d| d.code.as_str()), Some("500103-UM"));
        assert!(ch.contains(&(Channel::Department("500103-UM".into()), true)));
        assert!(ch.contains(&(Channel::Department("500103-EE".into()), false)), "it leaves the old board");
        assert!(
            v.timeline.last().and_then(|t| t.detail.as_deref()).is_some_and(|d| d.contains("500103-EE → 500103-UM"))
        );
    }

    #[test]
    fn a_returned_case_is_rerouted_once_and_other_closed_cases_stay_closed() {
        let (v, _) = changed(apply(None, &raised()));
        let (v, _) = changed(apply(Some(&v), &dispatched()));
        let reject = |n, code: &str| {
            event(
                n,
                CaseEventBody::Rejected(Rejected {
                    actor: Actor::new(ActorKind::Department, code),
                    reason: "not ours".into(),
                    code: None,
                }),
            )
        };
        let (v, _) = changed(apply(Some(&v), &reject(3, "500103-EE")));
        assert_eq!(v.status, Status::Rejected);
        assert!(matches!(apply(Some(&v), &transferred(4, dept(), "500103-UM", false)), Applied::Refused(_)));
        let (v, ch) = changed(apply(Some(&v), &transferred(5, router(), "500103-CC", true)));
        assert_eq!(v.status, Status::Dispatched);
        assert!(ch.contains(&(Channel::Department("500103-CC".into()), true)));
        let (v, _) = changed(apply(Some(&v), &reject(6, "500103-CC")));
        assert!(
            matches!(apply(Some(&v), &transferred(7, router(), "500103-CC", true)), Applied::Refused(_)),
            "the command centre's return is final"
        );
    }

    #[test]
    fn a_joint_case_is_on_every_assisting_board_until_the_lead_resolves() {
        let (v, _) = changed(apply(None, &raised()));
        let mut joint = dispatched();
        if let CaseEventBody::Dispatched(d) = &mut joint.body {
            d.assisting =
                vec![DepartmentRef { code: "500103-PS".into(), names: Names { zh: "公安".into(), en: "PS".into() } }];
        }
        let (v, ch) = changed(apply(Some(&v), &joint));
        assert!(ch.contains(&(Channel::Department("500103-PS".into()), true)));
        let (v, _) = changed(apply(Some(&v), &event(3, CaseEventBody::Acknowledged(Acted { actor: dept() }))));
        let (_, ch) =
            changed(apply(Some(&v), &event(4, CaseEventBody::Resolved(Resolved { actor: dept(), note: None }))));
        assert!(ch.contains(&(Channel::Department("500103-PS".into()), false)));
    }

    #[test]
    fn enforcement_steps_and_fence_warnings_join_the_timeline_without_changing_status() {
        let (v, _) = changed(apply(None, &raised()));
        let subject = EnforcementSubject { id: "addr:x".into(), credit_code: None, address: Some("x".into()) };
        let inspected =
            event(3, CaseEventBody::Inspected(Inspected { actor: dept(), subject, persuaded: false, note: None }));
        assert!(matches!(apply(Some(&v), &inspected), Applied::Refused(_)), "not before the department acknowledged");
        let (v, _) = changed(apply(Some(&v), &dispatched()));
        let (v, _) = changed(apply(Some(&v), &event(4, CaseEventBody::Acknowledged(Acted { actor: dept() }))));
        let (v, ch) = changed(apply(Some(&v), &inspected));
        assert_eq!(v.status, Status::Acknowledged);
        assert_eq!(ch.len(), 2, "town and department boards see it");
        let fenced = event(
            5,
            CaseEventBody::Fenced(Fenced {
                rule: "repeated_inspection".into(),
                severity: FenceSeverity::Warning,
                message: "suggest a joint inspection".into(),
                action: "inspect".into(),
                actor: dept(),
                flagged: false,
                subject: Some("addr:x".into()),
                override_reason: None,
            }),
        );
        let (v, _) = changed(apply(Some(&v), &fenced));
        assert_eq!(v.status, Status::Acknowledged);
        let last = v.timeline.last().expect("an entry");
        assert_eq!((last.kind.as_str(), last.status), ("whistle.fenced", Status::Acknowledged));
        assert_eq!(last.detail.as_deref(), Some("[repeated_inspection] suggest a joint inspection"));
        assert_eq!(apply(Some(&v), &fenced), Applied::Duplicate);
    }

    #[test]
    fn transitions_follow_the_status_model() {
        use Status::*;
        assert_eq!(Transition::Acknowledge.target(Dispatched), Ok(Acknowledged));
        assert!(Transition::Acknowledge.target(Acknowledged).is_err());
        assert_eq!(Transition::Resolve.target(OnSite), Ok(Resolved));
        assert_eq!(Transition::Reject.target(Dispatched), Ok(Rejected));
        assert!(Transition::Reject.target(Resolved).is_err());
        assert!(Transition::Arrive.target(Dispatched).is_err());
        let err = Transition::Resolve.target(Raised).expect_err("not yet");
        assert_eq!(err.to_string(), "cannot resolve a whistle that is raised");
    }
}

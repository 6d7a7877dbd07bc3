//! What projecting one event does to the read side: the case after it (the rules are
//! `whistle-case`'s [`evolve`]), and which channels see it, open or closed there.

use whistle_case::{Case, Refusal, evolve, is_duplicate};
use whistle_schemas::events::CaseEvent;

use crate::channel::Channel;

pub use whistle_case::{can_pause, can_transfer, enforcing};

/// What applying an event to a case produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// The case changed; the event goes to these channels (open or closed there after it).
    Changed { case: Box<Case>, channels: Vec<(Channel, bool)> },
    /// The event is already on the timeline: a replay after a crash, ignore it.
    Duplicate,
    /// The event does not fit the case (wrong order, unknown whistle); it is not applied.
    Refused(Refusal),
}

/// Applies `event` to the current state of its case (`None` when the case is not known yet).
pub fn apply(current: Option<&Case>, event: &CaseEvent) -> Applied {
    if is_duplicate(current, event) {
        return Applied::Duplicate;
    }
    match evolve(current.cloned(), event) {
        Ok(case) => {
            let channels = channels(current, &case);
            Applied::Changed { case: Box::new(case), channels }
        }
        Err(refusal) => Applied::Refused(refusal),
    }
}

/// The channels that see a change from `before` to `after`, and whether the case is open there.
fn channels(before: Option<&Case>, after: &Case) -> Vec<(Channel, bool)> {
    let open = !after.status.is_terminal();
    let mut channels = vec![(Channel::Town(after.town.clone()), open)];
    // The towns of whistles merged into this case follow it on their own channels.
    for town in after.merged.iter().map(|m| &m.town).filter(|t| **t != after.town) {
        if !channels.iter().any(|(c, _)| matches!(c, Channel::Town(t) if t == town)) {
            channels.push((Channel::Town(town.clone()), open));
        }
    }
    if let Some(dept) = &after.department {
        channels.push((Channel::Department(dept.code.clone()), open));
    }
    // A joint case is on every assisting department's board too, until the lead closes it.
    for dept in after.assisting.iter().filter(|a| after.department.as_ref().is_none_or(|d| d.code != a.code)) {
        channels.push((Channel::Department(dept.code.clone()), open));
    }
    // The old owner's board sees the case leave.
    if let Some(prev) = before.and_then(|b| b.department.as_ref())
        && after.department.as_ref().is_none_or(|d| d.code != prev.code)
    {
        channels.push((Channel::Department(prev.code.clone()), false));
    }
    // Supervisors watch what awaits a review, and town cases until they are decided.
    let supervised = |c: &Case| {
        !c.review.is_empty()
            || (c.kind == whistle_schemas::api::CaseKind::Enforcement
                && !c.status.is_terminal()
                && c.procedure.as_ref().is_some_and(|p| p.decision.is_none()))
    };
    let watched = supervised(after);
    if watched || before.is_some_and(supervised) {
        channels.push((Channel::Supervision(after.district.clone()), watched));
        channels.push((Channel::Supervision("city".to_owned()), watched));
    }
    // Managers watch what is overdue: a case enters their channels on its first breach and
    // leaves when nothing is overdue any more.
    let was_overdue = before.is_some_and(|b| !b.overdue.is_empty());
    let overdue = open && !after.overdue.is_empty();
    if overdue || was_overdue {
        channels.push((Channel::Manager(after.district.clone()), overdue));
        channels.push((Channel::Manager("city".to_owned()), overdue));
    }
    channels
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;
    use whistle_schemas::events::*;
    use whistle_schemas::{Location, Names, Status};

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
                attachments: vec![],
                raised_by: Actor::new(ActorKind::Town, "500103001"),
                support: false,
                assist: vec![],
                hotline: None,
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

    fn changed(applied: Applied) -> (Case, Vec<(Channel, bool)>) {
        match applied {
            Applied::Changed { case, channels } => (*case, channels),
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
        let inspected = event(
            3,
            CaseEventBody::Inspected(Inspected {
                actor: dept(),
                subject,
                persuaded: false,
                recheck: false,
                note: None,
            }),
        );
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
}

//! Case + event → case.

use whistle_schemas::Status;
use whistle_schemas::api::{TimelineEntry, WhistleView};
use whistle_schemas::events::{
    Actor, ActorKind, CaseEvent, CaseEventBody, Deadlines, Escalated, Raised, SlaStage, SlaStageKind,
};

use crate::{Case, Refusal};

/// Whether the event is already on the case's timeline: a replay after a crash, to be ignored.
pub fn is_duplicate(case: Option<&Case>, event: &CaseEvent) -> bool {
    case.is_some_and(|c| c.has_event(event.id))
}

/// Whether a department may record inspections and penalties on a case in `status`.
pub fn enforcing(status: Status) -> bool {
    matches!(status, Status::Acknowledged | Status::OnSite)
}

/// A department may hand over a case it owns and has not closed.
pub fn can_transfer(case: &Case) -> bool {
    case.department.is_some() && matches!(case.status, Status::Dispatched | Status::Acknowledged | Status::OnSite)
}

/// Pausing needs a department that owns the clock, an open case, and no pause already.
pub fn can_pause(case: &Case) -> bool {
    case.department.is_some() && !case.status.is_terminal() && !case.paused
}

/// The case after `event` (`case` is `None` before the raise), or why the event does not fit.
/// Check [`is_duplicate`] first: a replayed event is not a second step.
pub fn evolve(case: Option<Case>, event: &CaseEvent) -> Result<Case, Refusal> {
    let mut case = match (case, &event.body) {
        (None, CaseEventBody::Raised(r)) => raised(event, r),
        (None, _) => return Err(Refusal::NeverRaised { event: event.type_name() }),
        (Some(_), CaseEventBody::Raised(_)) => return Err(Refusal::AlreadyRaised),
        (Some(case), _) => case,
    };
    let from = case.status;
    let refuse = |action: &'static str| Refusal::InvalidTransition { action, status: from };
    let (to, actor, detail) = match &event.body {
        CaseEventBody::Raised(r) => (Status::Raised, r.raised_by.clone(), None),
        CaseEventBody::Dispatched(d) => {
            if from != Status::Raised {
                return Err(refuse("dispatch"));
            }
            case.0.department = Some(d.department.clone());
            case.0.assisting = d.assisting.clone();
            (Status::Dispatched, Actor::new(ActorKind::System, "router"), Some(d.basis.clone()))
        }
        CaseEventBody::Acknowledged(a) => match from {
            Status::Dispatched => (Status::Acknowledged, a.actor.clone(), None),
            _ => return Err(refuse("acknowledge")),
        },
        CaseEventBody::Arrived(a) => match from {
            Status::Acknowledged => (Status::OnSite, a.actor.clone(), None),
            _ => return Err(refuse("arrive at")),
        },
        CaseEventBody::Resolved(r) => match from {
            Status::Acknowledged | Status::OnSite => (Status::Resolved, r.actor.clone(), r.note.clone()),
            _ => return Err(refuse("resolve")),
        },
        // The router rejects a raised whistle it must not dispatch (the town holds the item);
        // a department returns one it was given.
        CaseEventBody::Rejected(r) => match from {
            Status::Raised | Status::Dispatched | Status::Acknowledged => {
                (Status::Rejected, r.actor.clone(), Some(r.reason.clone()))
            }
            _ => return Err(refuse("reject")),
        },
        CaseEventBody::Transferred(t) => {
            if !(can_transfer(&case) || was_returned(&case, &t.actor)) {
                return Err(refuse("transfer"));
            }
            let from_code = case.department.as_ref().map_or_else(|| "nobody".to_owned(), |d| d.code.clone());
            case.0.department = Some(t.to.clone());
            case.0.overdue.clear();
            case.0.deadlines = None;
            case.0.paused = false;
            let detail =
                format!("{from_code} → {}{}: {}", t.to.code, if t.triage { " (triage)" } else { "" }, t.reason);
            (Status::Dispatched, t.actor.clone(), Some(detail))
        }
        CaseEventBody::Paused(p) => {
            if !can_pause(&case) {
                return Err(Refusal::CannotPause { status: from, paused: case.paused });
            }
            case.0.paused = true;
            (from, p.actor.clone(), Some(p.reason.clone()))
        }
        CaseEventBody::Resumed(a) => {
            if !case.paused || from.is_terminal() {
                return Err(Refusal::NotPaused);
            }
            case.0.paused = false;
            (from, a.actor.clone(), None)
        }
        CaseEventBody::SlaScheduled(s) => {
            open(&case, event)?;
            case.0.deadlines = Some(s.deadlines.clone());
            (from, sla_actor(), Some(describe_deadlines(&s.deadlines)))
        }
        CaseEventBody::SlaWarning(w) => {
            stage_open(&case, event, w)?;
            (from, sla_actor(), Some(format!("{} due {}", w.stage.as_str(), w.deadline.to_rfc3339())))
        }
        CaseEventBody::SlaBreached(b) => {
            stage_open(&case, event, b)?;
            if !case.overdue.contains(&b.stage) {
                case.0.overdue.push(b.stage);
            }
            (from, sla_actor(), Some(format!("{} was due {}", b.stage.as_str(), b.deadline.to_rfc3339())))
        }
        CaseEventBody::Escalated(e) => {
            let Escalated { stage, .. } = e;
            open(&case, event)?;
            if stage_done(from, *stage) {
                return Err(Refusal::StageDone { event: event.type_name(), stage: *stage, status: from });
            }
            (from, sla_actor(), Some(format!("{} overdue: escalated to {} (level {})", stage.as_str(), e.to, e.level)))
        }
        // Enforcement steps and fence warnings go on the timeline without moving the status.
        CaseEventBody::Inspected(i) => {
            enforceable(&case, event)?;
            (from, i.actor.clone(), Some(format!("inspected {}", i.subject.id)))
        }
        CaseEventBody::Penalised(p) => {
            enforceable(&case, event)?;
            (from, p.actor.clone(), Some(format!("{} yuan, tier {}, {}", p.amount_yuan, p.tier, p.subject.id)))
        }
        CaseEventBody::Fenced(f) => {
            open(&case, event)?;
            (from, f.actor.clone(), Some(format!("[{}] {}", f.rule, f.message)))
        }
    };

    // A stage done is no longer overdue; a closed case is overdue for nothing.
    match to {
        Status::Acknowledged => case.0.overdue.retain(|s| *s != SlaStageKind::Acknowledge),
        Status::OnSite => case.0.overdue.retain(|s| *s != SlaStageKind::Arrive),
        Status::Resolved | Status::Rejected => {
            case.0.overdue.clear();
            case.0.deadlines = None;
            case.0.paused = false;
        }
        Status::Raised | Status::Dispatched => {}
    }
    case.0.status = to;
    case.0.updated_at = case.updated_at.max(event.time);
    case.0.timeline.push(TimelineEntry {
        event_id: event.id,
        kind: event.type_name().to_owned(),
        status: to,
        time: event.time,
        actor: Some(actor),
        detail,
    });
    Ok(case)
}

fn raised(event: &CaseEvent, r: &Raised) -> Case {
    Case(WhistleView {
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
    })
}

/// SLA events and fence warnings only on an open case.
fn open(case: &Case, event: &CaseEvent) -> Result<(), Refusal> {
    if case.status.is_terminal() {
        return Err(Refusal::Closed { event: event.type_name(), status: case.status });
    }
    Ok(())
}

/// A timer that fired as its stage was completed: the completion wins.
fn stage_open(case: &Case, event: &CaseEvent, s: &SlaStage) -> Result<(), Refusal> {
    open(case, event)?;
    if stage_done(case.status, s.stage) {
        return Err(Refusal::StageDone { event: event.type_name(), stage: s.stage, status: case.status });
    }
    Ok(())
}

fn enforceable(case: &Case, event: &CaseEvent) -> Result<(), Refusal> {
    open(case, event)?;
    if !enforcing(case.status) {
        return Err(Refusal::NotEnforcing { event: event.type_name(), status: case.status });
    }
    Ok(())
}

/// Whether a status means the stage's work is done.
fn stage_done(status: Status, stage: SlaStageKind) -> bool {
    match stage {
        SlaStageKind::Acknowledge => matches!(status, Status::Acknowledged | Status::OnSite),
        SlaStageKind::Arrive => status == Status::OnSite,
        SlaStageKind::Resolve => false,
    }
}

/// A case a department returned (rejected) may be re-routed by the router, once: a return by the
/// command centre itself is final.
fn was_returned(case: &Case, by: &Actor) -> bool {
    let Some(last) = case.timeline.last() else { return false };
    case.status == Status::Rejected
        && by.kind == ActorKind::System
        && last.kind == "whistle.rejected"
        && last.actor.as_ref().is_some_and(|a| a.kind == ActorKind::Department && !a.code.ends_with("-CC"))
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

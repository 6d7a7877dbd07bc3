//! Case + event → case.

use whistle_schemas::Status;
use whistle_schemas::api::{
    CaseKind, Confirmation, MergedCase, Procedure, ProcedureDecision, TimelineEntry, WhistleView,
};
use whistle_schemas::events::{
    Actor, ActorKind, CaseEvent, CaseEventBody, Deadlines, DecisionOutcome, Escalated, FenceSeverity,
    PersuasionOutcome, Raised, Registered, SlaStage, SlaStageKind,
};

use crate::procedure::{self, MIN_OFFICERS, step_allowed};
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

/// Pausing needs a whistle with a department that owns the clock, an open case, and no pause
/// already. An enforcement case's clock is the statutory time limit: it never pauses.
pub fn can_pause(case: &Case) -> bool {
    case.kind == CaseKind::Whistle && case.department.is_some() && !case.status.is_terminal() && !case.paused
}

/// Whether a whistle may be merged into another, or take one in: an open whistle (its town's
/// raise, not a town's own enforcement case), not merged itself.
pub fn can_merge(case: &Case) -> bool {
    case.kind == CaseKind::Whistle
        && matches!(case.status, Status::Raised | Status::Dispatched | Status::Acknowledged | Status::OnSite)
}

/// The case after `event` (`case` is `None` before the raise), or why the event does not fit.
/// Check [`is_duplicate`] first: a replayed event is not a second step.
pub fn evolve(case: Option<Case>, event: &CaseEvent) -> Result<Case, Refusal> {
    let mut case = match (case, &event.body) {
        (None, CaseEventBody::Raised(r)) => raised(event, r),
        (None, CaseEventBody::Registered(r)) => registered(event, r),
        (None, _) => return Err(Refusal::NeverRaised { event: event.type_name() }),
        (Some(_), CaseEventBody::Raised(_) | CaseEventBody::Registered(_)) => return Err(Refusal::AlreadyRaised),
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
            if p.override_reason.is_some() {
                case.0.review.push(event.id);
            }
            (from, p.actor.clone(), Some(format!("{} yuan, tier {}, {}", p.amount_yuan, p.tier, p.subject.id)))
        }
        CaseEventBody::Fenced(f) => {
            open(&case, event)?;
            // A warning passed over (an override) goes to the supervisors.
            if f.flagged || f.severity == FenceSeverity::Overridden {
                case.0.review.push(event.id);
            }
            (from, f.actor.clone(), Some(format!("[{}] {}", f.rule, f.message)))
        }
        CaseEventBody::Registered(r) => (Status::Registered, r.registered_by.clone(), None),
        CaseEventBody::Persuaded(p) => {
            let procedure = step(&mut case, "persuade", None)?;
            procedure.persuasion = Some(p.outcome);
            let detail = match p.outcome {
                PersuasionOutcome::Complied => "complied",
                PersuasionOutcome::Refused => "refused",
            };
            let detail = match &p.note {
                Some(note) => format!("{detail}: {note}"),
                None => detail.to_owned(),
            };
            (Status::Persuaded, p.actor.clone(), Some(detail))
        }
        CaseEventBody::Investigated(i) => {
            let procedure = step(&mut case, "investigate", None)?;
            let mut officers = i.officers.clone();
            officers.sort();
            officers.dedup();
            if officers.len() < MIN_OFFICERS {
                return Err(Refusal::TwoOfficersRequired(officers.len()));
            }
            procedure.officers = officers;
            // The evidence's attachments join the case's (the registration's first).
            for id in &i.attachments {
                if !case.0.attachments.contains(id) {
                    case.0.attachments.push(id.clone());
                }
            }
            (Status::Investigated, i.actor.clone(), Some(format!("officers {}", i.officers.join(", "))))
        }
        CaseEventBody::Notified(n) => {
            step(&mut case, "notify", None)?;
            (Status::Notified, n.actor.clone(), Some(n.intended.clone()))
        }
        CaseEventBody::Decided(d) => {
            let procedure = step(&mut case, "decide", Some(d.outcome))?;
            let within = procedure::lawful(d)?;
            if procedure.officers.len() < MIN_OFFICERS {
                return Err(Refusal::TwoOfficersRequired(procedure.officers.len()));
            }
            procedure.decision = Some(ProcedureDecision {
                outcome: d.outcome,
                fine_yuan: d.fine_yuan,
                statutory: d.statutory,
                benchmark: d.benchmark.clone(),
                overridden: !within,
            });
            procedure.decided_at = Some(event.time);
            if !within {
                case.0.review.push(event.id);
            }
            let mut detail = match (d.outcome, d.fine_yuan) {
                (DecisionOutcome::Fine, Some(y)) => format!("fine {y} yuan"),
                (outcome, _) => outcome.as_str().to_owned(),
            };
            if let Some(b) = &d.benchmark {
                detail.push_str(&format!(", tier {}", b.tier));
            }
            if let Some(reason) = d.override_reason.as_ref().filter(|_| !within) {
                detail.push_str(&format!(", overridden: {reason}"));
            }
            (Status::Decided, d.actor.clone(), Some(detail))
        }
        CaseEventBody::Served(a) => {
            step(&mut case, "serve", None)?;
            (Status::Served, a.actor.clone(), None)
        }
        CaseEventBody::Closed(c) => {
            step(&mut case, "close", None)?;
            (Status::Closed, c.actor.clone(), c.note.clone())
        }
        CaseEventBody::Confirmed(c) => {
            resolved_whistle(&case, "confirm")?;
            if case.confirmation.is_some() {
                return Err(refuse("confirm"));
            }
            let by = if c.deemed { "deemed" } else { "town" };
            case.0.confirmation =
                Some(Confirmation { rating: c.rating, comment: c.comment.clone(), at: event.time, by: by.into() });
            let detail = match (&c.comment, c.deemed) {
                (_, true) => "deemed confirmed: no answer within 3 working days".to_owned(),
                (Some(comment), false) => format!("{}/5: {comment}", c.rating),
                (None, false) => format!("{}/5", c.rating),
            };
            (from, c.actor.clone(), Some(detail))
        }
        CaseEventBody::Reopened(r) => {
            resolved_whistle(&case, "reopen")?;
            if case.confirmation.is_some() {
                return Err(Refusal::InvalidTransition { action: "reopen a confirmed", status: from });
            }
            case.0.department = Some(r.department.clone());
            case.0.reopens += 1;
            (Status::Dispatched, r.actor.clone(), Some(r.reason.clone()))
        }
        CaseEventBody::Commented(c) => (from, c.actor.clone(), Some(c.text.clone())),
        CaseEventBody::Merged(m) => {
            if !can_merge(&case) {
                return Err(refuse("merge"));
            }
            if m.into == case.id {
                return Err(Refusal::CannotMergeInto { id: m.into, why: "it is this whistle".into() });
            }
            case.0.merged_into = Some(MergedCase { id: m.into, town: m.into_town.clone() });
            (Status::Merged, m.actor.clone(), Some(format!("duplicate of {}", m.into)))
        }
        CaseEventBody::Absorbed(a) => {
            if !can_merge(&case) {
                return Err(Refusal::CannotMergeInto { id: case.id, why: format!("it is {from}") });
            }
            if a.merged == case.id || case.merged.iter().any(|m| m.id == a.merged) {
                return Err(Refusal::CannotMergeInto {
                    id: case.id,
                    why: format!("{} is merged into it already", a.merged),
                });
            }
            case.0.merged.push(MergedCase { id: a.merged, town: a.town.clone() });
            (from, a.actor.clone(), Some(format!("{} (town {}) merged into this case", a.merged, a.town)))
        }
        CaseEventBody::Reviewed(r) => {
            let Some(at) = case.review.iter().position(|s| *s == r.step) else {
                return Err(Refusal::NothingToReview(r.step));
            };
            case.0.review.remove(at);
            let verdict = match r.verdict {
                whistle_schemas::events::Verdict::Upheld => "upheld",
                whistle_schemas::events::Verdict::Corrected => "corrected",
            };
            let detail = match &r.note {
                Some(note) => format!("{verdict}: {note}"),
                None => verdict.to_owned(),
            };
            (from, r.actor.clone(), Some(detail))
        }
    };

    // A stage done is no longer overdue; a closed case is overdue for nothing.
    match to {
        Status::Acknowledged => case.0.overdue.retain(|s| *s != SlaStageKind::Acknowledge),
        Status::OnSite => case.0.overdue.retain(|s| *s != SlaStageKind::Arrive),
        Status::Resolved | Status::Rejected | Status::Merged | Status::Closed => {
            case.0.overdue.clear();
            case.0.deadlines = None;
            case.0.paused = false;
        }
        // A reopened whistle starts its clocks afresh.
        Status::Dispatched if from == Status::Resolved => {
            case.0.overdue.clear();
            case.0.deadlines = None;
        }
        Status::Raised
        | Status::Dispatched
        | Status::Registered
        | Status::Persuaded
        | Status::Investigated
        | Status::Notified
        | Status::Decided
        | Status::Served => {}
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

/// A procedure step on `case`: it must be an enforcement case, in a status the step may come
/// from. Gives the procedure to record the step in.
fn step<'a>(
    case: &'a mut Case,
    action: &'static str,
    outcome: Option<DecisionOutcome>,
) -> Result<&'a mut Procedure, Refusal> {
    let complied = case.procedure.as_ref().and_then(|p| p.persuasion) == Some(PersuasionOutcome::Complied);
    if case.kind != CaseKind::Enforcement {
        return Err(Refusal::NotEnforcementCase { action });
    }
    step_allowed(action, case.status, complied, outcome)?;
    case.0.procedure.as_mut().ok_or(Refusal::NotEnforcementCase { action })
}

/// Confirm and reopen: a whistle its department resolved.
fn resolved_whistle(case: &Case, action: &'static str) -> Result<(), Refusal> {
    if case.kind != CaseKind::Whistle {
        return Err(Refusal::NotWhistle { action });
    }
    if case.status != Status::Resolved {
        return Err(Refusal::InvalidTransition { action, status: case.status });
    }
    Ok(())
}

fn registered(event: &CaseEvent, r: &Registered) -> Case {
    Case(WhistleView {
        id: event.subject,
        status: Status::Registered,
        town: r.town.clone(),
        district: r.district.clone(),
        item: r.item.clone(),
        description: r.description.clone(),
        location: r.location.clone(),
        photos: Vec::new(),
        attachments: r.attachments.clone(),
        department: r.department.clone(),
        assisting: Vec::new(),
        raised_at: event.time,
        updated_at: event.time,
        deadlines: None,
        overdue: Vec::new(),
        paused: false,
        timeline: Vec::new(),
        kind: CaseKind::Enforcement,
        procedure: Some(Procedure {
            party: r.party.clone(),
            subject: r.subject.clone(),
            registered_at: event.time,
            decide_by: procedure::decide_by(event.time),
            persuasion: None,
            officers: Vec::new(),
            decision: None,
            decided_at: None,
            attachments: r.attachments.clone(),
            from_whistle: r.from_whistle,
        }),
        confirmation: None,
        reopens: 0,
        review: Vec::new(),
        merged_into: None,
        merged: Vec::new(),
        hotline: None,
    })
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
        attachments: r.attachments.clone(),
        department: None,
        assisting: Vec::new(),
        raised_at: event.time,
        updated_at: event.time,
        deadlines: None,
        overdue: Vec::new(),
        paused: false,
        timeline: Vec::new(),
        kind: CaseKind::Whistle,
        procedure: None,
        confirmation: None,
        reopens: 0,
        review: Vec::new(),
        merged_into: None,
        merged: Vec::new(),
        hotline: r.hotline.clone(),
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
        SlaStageKind::Decide => matches!(status, Status::Decided | Status::Served | Status::Closed),
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
    let parts: Vec<String> =
        [("acknowledge", d.acknowledge), ("arrive", d.arrive), ("resolve", d.resolve), ("decide", d.decide)]
            .into_iter()
            .filter_map(|(k, t)| t.map(|t| format!("{k} by {}", t.to_rfc3339())))
            .collect();
    if parts.is_empty() { "no open deadlines".into() } else { parts.join(", ") }
}

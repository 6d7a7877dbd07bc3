//! Command → events.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use whistle_schemas::events::CaseEvent;

use crate::limits::Limits;
use crate::{Case, Command, Refusal, evolve};

/// What a decision needs besides the case and the command.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The id of the event the command becomes (derived from an idempotency key, or fresh).
    pub event_id: Uuid,
    /// The case's id (the whistle id).
    pub subject: Uuid,
    pub now: DateTime<Utc>,
    /// The deciding service, e.g. `/whistle/intake`.
    pub source: &'static str,
    pub limits: Limits,
}

/// The events that `command` on `case` (`None`: not raised yet) produces, or why it is refused.
/// Accepted events always evolve the case they were decided on (a property test holds it to
/// that); the limits of [`crate::limits`] apply here, to commands, and not to the log.
pub fn decide(case: Option<&Case>, command: Command, ctx: &Ctx) -> Result<Vec<CaseEvent>, Refusal> {
    if let Some(case) = case {
        limit(case, &command, &ctx.limits)?;
        if let Command::Transfer(t) = &command
            && case.department.as_ref().is_some_and(|d| d.code == t.to.code)
        {
            return Err(Refusal::SameDepartment(t.to.code.clone()));
        }
        if let Command::Merge(m) = &command
            && m.into == case.id
        {
            return Err(Refusal::CannotMergeInto { id: m.into, why: "it is this whistle".into() });
        }
    }
    let event = CaseEvent::new(ctx.event_id, ctx.source, ctx.subject, ctx.now, command.into_body());
    // The event must fit: the same rules the projection applies, in one place.
    evolve(case.cloned(), &event)?;
    Ok(vec![event])
}

fn limit(case: &Case, command: &Command, limits: &Limits) -> Result<(), Refusal> {
    let (what, limit, used) = match command {
        Command::Inspect(_) | Command::Penalise(_) | Command::Fence(_) => (
            "inspections, penalties and fence warnings",
            limits.enforcement_records,
            case.count("whistle.inspected") + case.count("whistle.penalised") + case.count("whistle.fenced"),
        ),
        Command::Pause(_) => ("pauses", limits.pauses, case.count("whistle.paused")),
        Command::Comment(_) => ("comments", limits.comments, case.count("case.commented")),
        Command::Reopen(_) => ("reopenings", limits.reopens, case.count("whistle.reopened")),
        Command::Review(_) => ("reviews", limits.reviews, case.count("case.reviewed")),
        Command::Absorb(_) => ("merged whistles", limits.merged, case.merged.len()),
        Command::Transfer(t) if t.actor.kind != whistle_schemas::events::ActorKind::System => {
            ("transfers", limits.transfers, case.count("whistle.transferred"))
        }
        // Status changes happen at most a few times each; the system's own commands (routing,
        // SLA) are bounded by the status model and the policy, and are never refused for a limit.
        Command::Raise(_)
        | Command::Dispatch(_)
        | Command::Acknowledge { .. }
        | Command::Arrive { .. }
        | Command::Resolve { .. }
        | Command::Reject { .. }
        | Command::Transfer(_)
        | Command::Resume { .. }
        | Command::ScheduleSla(_)
        | Command::WarnSla(_)
        | Command::BreachSla(_)
        | Command::Escalate(_)
        // The procedure's steps each happen once (the status model orders them).
        | Command::Register(_)
        | Command::Persuade(_)
        | Command::Investigate(_)
        | Command::Notify(_)
        | Command::Decide(_)
        | Command::Serve { .. }
        | Command::Close { .. }
        | Command::Confirm(_)
        // A whistle is merged once (it is terminal after).
        | Command::Merge(_) => return Ok(()),
    };
    if used >= limit { Err(Refusal::LimitReached { what, limit }) } else { Ok(()) }
}

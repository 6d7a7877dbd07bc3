//! What someone (or a service) asks of a case.

use whistle_schemas::events::{
    Absorbed, Acted, Actor, CaseEventBody, Commented, Confirmed, Decided, Dispatched, Escalated, Fenced, Inspected,
    Investigated, Merged, Notified, Paused, Penalised, Persuaded, Raised, Registered, Rejected, Reopened, Resolved,
    Reviewed, SlaScheduled, SlaStage, Transferred,
};

/// A request to change a case. Each becomes the event of the same name when [`crate::decide`]
/// accepts it.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A town raises a whistle (the case does not exist yet).
    Raise(Raised),
    /// The router found the responsible department.
    Dispatch(Dispatched),
    Acknowledge {
        actor: Actor,
    },
    Arrive {
        actor: Actor,
    },
    Resolve {
        actor: Actor,
        note: Option<String>,
    },
    /// A department returns the case, or the router refuses a raise (with a `code`).
    Reject {
        actor: Actor,
        reason: String,
        code: Option<String>,
    },
    Transfer(Transferred),
    Pause(Paused),
    Resume {
        actor: Actor,
    },
    ScheduleSla(SlaScheduled),
    WarnSla(SlaStage),
    BreachSla(SlaStage),
    Escalate(Escalated),
    Inspect(Inspected),
    Penalise(Penalised),
    /// An electronic fence's warning, recorded on the case.
    Fence(Fenced),
    /// A town registers its own enforcement case (the case does not exist yet).
    Register(Registered),
    Persuade(Persuaded),
    Investigate(Investigated),
    Notify(Notified),
    /// The decision; [`crate::decide`] checks it against its statutory range and benchmark.
    Decide(Decided),
    Serve {
        actor: Actor,
    },
    Close {
        actor: Actor,
        note: Option<String>,
    },
    Confirm(Confirmed),
    Reopen(Reopened),
    Comment(Commented),
    Review(Reviewed),
    /// A department or the command centre merges this whistle into another (a duplicate).
    Merge(Merged),
    /// The surviving case of a merge records the merged whistle.
    Absorb(Absorbed),
}

impl Command {
    /// The event this command becomes.
    pub(crate) fn into_body(self) -> CaseEventBody {
        match self {
            Command::Raise(r) => CaseEventBody::Raised(r),
            Command::Dispatch(d) => CaseEventBody::Dispatched(d),
            Command::Acknowledge { actor } => CaseEventBody::Acknowledged(Acted { actor }),
            Command::Arrive { actor } => CaseEventBody::Arrived(Acted { actor }),
            Command::Resolve { actor, note } => CaseEventBody::Resolved(Resolved { actor, note }),
            Command::Reject { actor, reason, code } => CaseEventBody::Rejected(Rejected { actor, reason, code }),
            Command::Transfer(t) => CaseEventBody::Transferred(t),
            Command::Pause(p) => CaseEventBody::Paused(p),
            Command::Resume { actor } => CaseEventBody::Resumed(Acted { actor }),
            Command::ScheduleSla(s) => CaseEventBody::SlaScheduled(s),
            Command::WarnSla(s) => CaseEventBody::SlaWarning(s),
            Command::BreachSla(s) => CaseEventBody::SlaBreached(s),
            Command::Escalate(e) => CaseEventBody::Escalated(e),
            Command::Inspect(i) => CaseEventBody::Inspected(i),
            Command::Penalise(p) => CaseEventBody::Penalised(p),
            Command::Fence(f) => CaseEventBody::Fenced(f),
            Command::Register(r) => CaseEventBody::Registered(r),
            Command::Persuade(p) => CaseEventBody::Persuaded(p),
            Command::Investigate(i) => CaseEventBody::Investigated(i),
            Command::Notify(n) => CaseEventBody::Notified(n),
            Command::Decide(d) => CaseEventBody::Decided(d),
            Command::Serve { actor } => CaseEventBody::Served(Acted { actor }),
            Command::Close { actor, note } => CaseEventBody::Closed(Resolved { actor, note }),
            Command::Confirm(c) => CaseEventBody::Confirmed(c),
            Command::Reopen(r) => CaseEventBody::Reopened(r),
            Command::Comment(c) => CaseEventBody::Commented(c),
            Command::Review(r) => CaseEventBody::Reviewed(r),
            Command::Merge(m) => CaseEventBody::Merged(m),
            Command::Absorb(a) => CaseEventBody::Absorbed(a),
        }
    }
}

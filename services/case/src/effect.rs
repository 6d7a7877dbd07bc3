//! What an event means for the services that follow cases without keeping the whole case: the
//! SLA clocks, the outcome figures, the router. Each event type maps to one [`Effect`] here, so
//! those services match on this closed set instead of on event types: a new event that only adds
//! a timeline step (a note, a hand-over record) is a line in [`effect`], and no consumer changes;
//! one that means something new to them is a new variant, and the compiler shows each consumer
//! that must decide what it means.

use whistle_schemas::events::{
    Absorbed, CaseEventBody, Confirmed, Decided, Dispatched, Escalated, Fenced, Inspected, Merged, Paused, Penalised,
    Raised, Registered, Rejected, Reopened, Resolved, SlaScheduled, SlaStage, SlaStageKind, Transferred,
};

/// The meaning of one event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Effect<'a> {
    /// A case begins.
    Raised(&'a Raised),
    /// A town's own enforcement case begins (no department, no routing).
    Registered(&'a Registered),
    /// The raising town reopened a resolved whistle: back to its department, clocks afresh.
    Reopened(&'a Reopened),
    /// A resolved whistle was confirmed (by its town, or deemed so by the SLA service).
    Confirmed(&'a Confirmed),
    /// The router found its department.
    Routed(&'a Dispatched),
    /// A new owner, whose clocks start afresh.
    Transferred(&'a Transferred),
    /// The owner did work that completes these SLA stages.
    Progressed(&'static [SlaStageKind]),
    /// Closed, done (a whistle resolved, an enforcement case closed).
    Resolved(&'a Resolved),
    /// Closed, returned (or refused by the router).
    Rejected(&'a Rejected),
    /// Closed as a duplicate of another case, which carries on: its clocks stop, it counts once.
    Merged(&'a Merged),
    /// The surviving case took in a duplicate (and its town): no clock changes.
    Absorbed(&'a Absorbed),
    Paused(&'a Paused),
    Resumed,
    /// The SLA service's own signals.
    Sla(SlaSignal<'a>),
    /// Enforcement records on the case; none changes its status.
    Enforcement(Enforcement<'a>),
    /// A timeline step only (a note, a step of the procedure, a confirmation, a review): nothing to
    /// the clocks or the routing.
    Step,
}

/// An SLA event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SlaSignal<'a> {
    Scheduled(&'a SlaScheduled),
    Warning(&'a SlaStage),
    Breached(&'a SlaStage),
    Escalated(&'a Escalated),
}

/// An enforcement record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Enforcement<'a> {
    Inspected(&'a Inspected),
    Penalised(&'a Penalised),
    Fenced(&'a Fenced),
    /// The decision of an enforcement case.
    Decided(&'a Decided),
}

const ACKNOWLEDGED: &[SlaStageKind] = &[SlaStageKind::Acknowledge];
const ARRIVED: &[SlaStageKind] = &[SlaStageKind::Acknowledge, SlaStageKind::Arrive];

/// What `body` means.
pub fn effect(body: &CaseEventBody) -> Effect<'_> {
    match body {
        CaseEventBody::Raised(r) => Effect::Raised(r),
        CaseEventBody::Dispatched(d) => Effect::Routed(d),
        CaseEventBody::Acknowledged(_) => Effect::Progressed(ACKNOWLEDGED),
        CaseEventBody::Arrived(_) => Effect::Progressed(ARRIVED),
        CaseEventBody::Resolved(r) => Effect::Resolved(r),
        CaseEventBody::Rejected(r) => Effect::Rejected(r),
        CaseEventBody::Paused(p) => Effect::Paused(p),
        CaseEventBody::Resumed(_) => Effect::Resumed,
        CaseEventBody::Transferred(t) => Effect::Transferred(t),
        CaseEventBody::SlaScheduled(s) => Effect::Sla(SlaSignal::Scheduled(s)),
        CaseEventBody::SlaWarning(s) => Effect::Sla(SlaSignal::Warning(s)),
        CaseEventBody::SlaBreached(s) => Effect::Sla(SlaSignal::Breached(s)),
        CaseEventBody::Escalated(e) => Effect::Sla(SlaSignal::Escalated(e)),
        CaseEventBody::Inspected(i) => Effect::Enforcement(Enforcement::Inspected(i)),
        CaseEventBody::Penalised(p) => Effect::Enforcement(Enforcement::Penalised(p)),
        CaseEventBody::Fenced(f) => Effect::Enforcement(Enforcement::Fenced(f)),
        CaseEventBody::Registered(r) => Effect::Registered(r),
        CaseEventBody::Decided(d) => Effect::Enforcement(Enforcement::Decided(d)),
        CaseEventBody::Closed(c) => Effect::Resolved(c),
        CaseEventBody::Reopened(r) => Effect::Reopened(r),
        CaseEventBody::Confirmed(c) => Effect::Confirmed(c),
        CaseEventBody::Merged(m) => Effect::Merged(m),
        CaseEventBody::Absorbed(a) => Effect::Absorbed(a),
        CaseEventBody::Persuaded(_)
        | CaseEventBody::Investigated(_)
        | CaseEventBody::Notified(_)
        | CaseEventBody::Served(_)
        | CaseEventBody::Commented(_)
        | CaseEventBody::Reviewed(_) => Effect::Step,
    }
}

//! Why a command or an event does not fit a case.

use whistle_schemas::Status;
use whistle_schemas::events::SlaStageKind;

/// A command the case refuses, or an event the projection does not apply. Nothing changes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("{event} for a whistle that was never raised")]
    NeverRaised { event: &'static str },
    #[error("whistle.raised for a whistle that exists")]
    AlreadyRaised,
    #[error("cannot {action} a whistle that is {status}")]
    InvalidTransition { action: &'static str, status: Status },
    #[error("cannot pause a whistle that is {status}{}", if *.paused { " and paused" } else { "" })]
    CannotPause { status: Status, paused: bool },
    #[error("cannot resume a whistle that is not paused")]
    NotPaused,
    #[error("{event} for a whistle that is {status}")]
    Closed { event: &'static str, status: Status },
    #[error("{event} for the {} stage of a whistle that is {status}", .stage.as_str())]
    StageDone { event: &'static str, stage: SlaStageKind, status: Status },
    #[error("cannot record {event} on a whistle that is {status}")]
    NotEnforcing { event: &'static str, status: Status },
    #[error("the whistle has no department yet")]
    NoDepartment,
    #[error("the whistle is already with {0}")]
    SameDepartment(String),
    /// A case holds at most so many of these (see [`crate::limits`]).
    #[error(
        "this case already holds {limit} {what}, the most one case may hold; open a new case or ask the command centre"
    )]
    LimitReached { what: &'static str, limit: usize },
    /// A step of the penalty procedure out of its order.
    #[error("cannot {action} a case that is {status}: {why}")]
    OutOfOrder { action: &'static str, status: Status, why: &'static str },
    /// The procedure is a town enforcement case's (and not recorded on whistles yet).
    #[error("{action} is a step of a town's enforcement case; this is a whistle")]
    NotEnforcementCase { action: &'static str },
    /// Confirm, reopen: only for whistles.
    #[error("{action} is for whistles; this is an enforcement case")]
    NotWhistle { action: &'static str },
    /// A decision the law does not allow (never overridable).
    #[error("{0}")]
    OutsideStatutoryRange(String),
    /// A decision outside the benchmark tier, but inside the law: give `override_reason`.
    #[error("{0}")]
    OverrideReasonRequired(String),
    /// A decision without an investigation by two certified officers.
    #[error("a decision needs an investigation by at least two certified officers; this case has {0}")]
    TwoOfficersRequired(usize),
    /// A merge into a case that cannot take it (not a whistle, closed, merged itself).
    #[error("cannot merge into whistle {id}: {why}")]
    CannotMergeInto { id: uuid::Uuid, why: String },
    /// A review of something that is not awaiting one.
    #[error("step {0} of this case is not awaiting a review")]
    NothingToReview(uuid::Uuid),
}

impl Refusal {
    /// Whether the refusal is about the request's content (`422`) rather than the case's state
    /// (`409`).
    pub fn unprocessable(&self) -> bool {
        matches!(
            self,
            Refusal::OutsideStatutoryRange(_)
                | Refusal::OverrideReasonRequired(_)
                | Refusal::TwoOfficersRequired(_)
                | Refusal::NothingToReview(_)
        )
    }

    /// The API's error code for it (`409`).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::LimitReached { .. } => "case_limit_reached",
            Refusal::OutsideStatutoryRange(_) => "outside_statutory_range",
            Refusal::OverrideReasonRequired(_) => "override_reason_required",
            Refusal::TwoOfficersRequired(_) => "two_officers_required",
            Refusal::NothingToReview(_) => "nothing_to_review",
            Refusal::CannotMergeInto { .. } => "invalid_transition",
            Refusal::OutOfOrder { .. } | Refusal::NotEnforcementCase { .. } | Refusal::NotWhistle { .. } => {
                "invalid_transition"
            }
            Refusal::NeverRaised { .. }
            | Refusal::AlreadyRaised
            | Refusal::InvalidTransition { .. }
            | Refusal::CannotPause { .. }
            | Refusal::NotPaused
            | Refusal::Closed { .. }
            | Refusal::StageDone { .. }
            | Refusal::NotEnforcing { .. }
            | Refusal::NoDepartment
            | Refusal::SameDepartment(_) => "invalid_transition",
        }
    }
}

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
}

impl Refusal {
    /// The API's error code for it (`409`).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::LimitReached { .. } => "case_limit_reached",
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

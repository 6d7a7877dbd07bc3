//! From a raised whistle to the event the router publishes. Pure: no I/O.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use whistle_registry::{ItemCode, Registry, Route, RouteError, TownCode, route};
use whistle_schemas::events::{
    Actor, ActorKind, CaseEvent, CaseEventBody, DepartmentRef, Dispatched, Raised, Rejected,
};

pub const SOURCE: &str = "/whistle/router";

/// How a whistle was routed, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Department,
    Triage,
    TownHolds,
    Unroutable,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Department => "department",
            Outcome::Triage => "triage",
            Outcome::TownHolds => "town_holds",
            Outcome::Unroutable => "unroutable",
        }
    }
}

/// The event to publish for `raised` (whose envelope is `event`), decided at `now`.
pub fn decide(registry: &Registry, event: &CaseEvent, raised: &Raised, now: DateTime<Utc>) -> (Outcome, CaseEvent) {
    let whistle = event.subject;
    let reject = |kind: &str, reason: String, code: &str| {
        CaseEvent::new(
            derived_id(event.id, "whistle.rejected"),
            SOURCE,
            whistle,
            now,
            CaseEventBody::Rejected(Rejected {
                actor: Actor { kind: ActorKind::System, code: "router".into() },
                reason: format!("{kind}: {reason}"),
                code: Some(code.to_owned()),
            }),
        )
    };
    let codes = TownCode::parse(&raised.town).and_then(|t| ItemCode::parse(&raised.item).map(|i| (t, i)));
    let (town, item) = match codes {
        Ok(codes) => codes,
        Err(err) => return (Outcome::Unroutable, reject("unroutable", err.to_string(), "unknown_reference")),
    };
    // The law in force when the town whistled decides, not the law when the router caught up.
    let decision = match route(registry, &town, &item, event.time) {
        Ok(decision) => decision,
        Err(err @ (RouteError::UnknownTown(_) | RouteError::UnknownItem(_) | RouteError::NoCommandCentre(_))) => {
            return (Outcome::Unroutable, reject("unroutable", err.to_string(), "unknown_reference"));
        }
    };
    let dispatched = |department: &whistle_registry::Department, authority, triage, basis| {
        let body = Dispatched {
            department: DepartmentRef { code: department.code.to_string(), names: department.names.clone() },
            district: raised.district.clone(),
            item: raised.item.clone(),
            authority,
            triage,
            basis,
        };
        CaseEvent::new(
            derived_id(event.id, "whistle.dispatched"),
            SOURCE,
            whistle,
            now,
            CaseEventBody::Dispatched(body),
        )
    };
    match decision {
        Route::Department { department, authority, since } => {
            let basis = format!(
                "{item} is held by {} under {} authority since {}",
                department.code,
                authority.as_str(),
                since.to_rfc3339()
            );
            (Outcome::Department, dispatched(department, Some(authority), false, basis))
        }
        Route::Triage { department, reason } => {
            (Outcome::Triage, dispatched(department, None, true, format!("triage: {reason}")))
        }
        Route::Town { authority, since } => (
            Outcome::TownHolds,
            reject(
                "town holds item",
                format!(
                    "town {town} holds {item} itself under {} authority since {}; handle it directly",
                    authority.as_str(),
                    since.to_rfc3339()
                ),
                "town_holds_item",
            ),
        ),
    }
}

/// A stable id for the event derived from `input`, so a replay derives the same one.
pub fn derived_id(input: Uuid, kind: &str) -> Uuid {
    Uuid::new_v5(&input, kind.as_bytes())
}

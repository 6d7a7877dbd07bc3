//! From a raised whistle to the event the router publishes. Pure: no I/O.

use chrono::{DateTime, Utc};
use uuid::Uuid;
use whistle_registry::file::COMMAND_CENTRE;
use whistle_registry::{
    DepartmentCode, DistrictCode, ItemCode, Registry, Route, RouteError, TownCode, route, supporting_department,
};
use whistle_schemas::events::{
    Actor, ActorKind, CaseEvent, CaseEventBody, DepartmentRef, Dispatched, Raised, Rejected, Transferred,
};

pub const SOURCE: &str = "/whistle/router";

/// How a whistle was routed, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Department,
    Triage,
    TownHolds,
    Unroutable,
    /// A department returned the case; it went to the command centre's triage.
    Rerouted,
    /// The town holds the item and asked for support: a supporting department got it.
    Support,
}

impl Outcome {
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Department => "department",
            Outcome::Triage => "triage",
            Outcome::TownHolds => "town_holds",
            Outcome::Unroutable => "unroutable",
            Outcome::Rerouted => "rerouted",
            Outcome::Support => "support",
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
                actor: Actor::new(ActorKind::System, "router"),
                reason: format!("{kind}: {reason}"),
                code: Some(code.to_owned()),
            }),
        )
    };
    // A whistle the district's command centre raised for a citizen (Open311, a 12345 hotline
    // order): where no town is
    // known (the district has no town centres), it triages the case itself.
    let by_command_centre = raised_by_command_centre(raised);
    if by_command_centre && raised.town.is_empty() {
        let centre = DistrictCode::parse(&raised.district)
            .ok()
            .and_then(|d| registry.department(&DepartmentCode::new(&d, COMMAND_CENTRE)));
        let Some(centre) = centre else {
            return (Outcome::Unroutable, reject("unroutable", "no command centre".into(), "unknown_reference"));
        };
        let body = Dispatched {
            assisting: Vec::new(),
            department: DepartmentRef { code: centre.code.to_string(), names: centre.names.clone() },
            district: raised.district.clone(),
            item: raised.item.clone(),
            authority: None,
            triage: true,
            basis: format!(
                "triage: reported through {} at ({:.5}, {:.5}); no town is known for that place",
                channel(raised),
                raised.location.lat,
                raised.location.lon
            ),
            registry_version: ItemCode::parse(&raised.item).ok().and_then(|i| registry.item(&i)).map(|i| i.version),
        };
        let event = CaseEvent::new(
            derived_id(event.id, "whistle.dispatched"),
            SOURCE,
            whistle,
            now,
            CaseEventBody::Dispatched(body),
        );
        return (Outcome::Triage, event);
    }
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
    // The district or functional zone whose departments answer the town.
    let body = registry.town(&town).map_or_else(|| town.district(), |t| t.body().clone());
    // A joint case: the district's departments of the requested types, other than the lead.
    let assisting = |lead: &whistle_registry::Department| -> Vec<DepartmentRef> {
        raised
            .assist
            .iter()
            .filter_map(|t| registry.department(&DepartmentCode::new(&body, t)))
            .filter(|d| d.code != lead.code && d.department_type != COMMAND_CENTRE)
            .map(|d| DepartmentRef { code: d.code.to_string(), names: d.names.clone() })
            .collect()
    };
    let dispatched = |department: &whistle_registry::Department, authority, triage, basis| {
        let body = Dispatched {
            assisting: assisting(department),
            department: DepartmentRef { code: department.code.to_string(), names: department.names.clone() },
            district: raised.district.clone(),
            item: raised.item.clone(),
            authority,
            triage,
            basis,
            registry_version: registry.item(&item).map(|i| i.version),
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
                "{item} is held by {} under {} authority since {} (registry version {})",
                department.code,
                authority.as_str(),
                since.to_rfc3339(),
                registry.item(&item).map_or(0, |i| i.version)
            );
            (Outcome::Department, dispatched(department, Some(authority), false, basis))
        }
        Route::Triage { department, reason } => {
            (Outcome::Triage, dispatched(department, None, true, format!("triage: {reason}")))
        }
        Route::Town { authority, since } if raised.support => {
            match supporting_department(registry, &item, &town, event.time) {
                Some(department) => {
                    let basis = format!(
                        "town {town} holds {item} under {} authority since {} and asked for support: {} supports (registry version {})",
                        authority.as_str(),
                        since.to_rfc3339(),
                        department.code,
                        registry.item(&item).map_or(0, |i| i.version)
                    );
                    (Outcome::Support, dispatched(department, Some(authority), false, basis))
                }
                None => match registry.department(&DepartmentCode::new(&body, COMMAND_CENTRE)) {
                    Some(centre) => {
                        let basis =
                            format!("triage: town {town} asked for support on {item}; no supporting department");
                        (Outcome::Triage, dispatched(centre, Some(authority), true, basis))
                    }
                    None => {
                        (Outcome::Unroutable, reject("unroutable", "no command centre".into(), "unknown_reference"))
                    }
                },
            }
        }
        // A citizen's report of something the town handles itself: the command centre hands it
        // to the town (the town does not whistle to itself).
        Route::Town { authority, since: _ } if by_command_centre => {
            match registry.department(&DepartmentCode::new(&body, COMMAND_CENTRE)) {
                Some(centre) => {
                    let basis = format!(
                        "triage: reported through {}; town {town} holds {item} itself under {} authority",
                        channel(raised),
                        authority.as_str()
                    );
                    (Outcome::Triage, dispatched(centre, Some(authority), true, basis))
                }
                None => (Outcome::Unroutable, reject("unroutable", "no command centre".into(), "unknown_reference")),
            }
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

/// How a command centre's whistle reached it: a 12345 hotline order, or an Open311 client.
fn channel(raised: &Raised) -> String {
    match &raised.hotline {
        Some(order) => format!("12345 hotline order {}", order.order_no),
        None => "Open311".to_owned(),
    }
}

/// Whether a district command centre raised the whistle (on a citizen's behalf: Open311, the
/// 12345 hotline).
fn raised_by_command_centre(raised: &Raised) -> bool {
    raised.raised_by.kind == ActorKind::Department
        && raised.raised_by.code.strip_suffix(COMMAND_CENTRE).is_some_and(|rest| rest.ends_with('-'))
}

/// The re-routing of a case a department returned (`rejected`): the registry's holder has just
/// said no, so sending it there again would loop; the district command centre triages it. A
/// return by the command centre itself is final (`None`), as is anything not from a department.
pub fn reroute(registry: &Registry, event: &CaseEvent, rejected: &Rejected, now: DateTime<Utc>) -> Option<CaseEvent> {
    if rejected.actor.kind != ActorKind::Department {
        return None;
    }
    let by = DepartmentCode::parse(&rejected.actor.code).ok()?;
    if by.department_type() == COMMAND_CENTRE {
        return None;
    }
    let centre = registry.department(&DepartmentCode::new(&by.district(), COMMAND_CENTRE))?;
    let body = Transferred {
        actor: Actor::new(ActorKind::System, "router"),
        to: DepartmentRef { code: centre.code.to_string(), names: centre.names.clone() },
        reason: format!("returned by {by}: {}; re-routed to the command centre for triage", rejected.reason),
        triage: true,
    };
    Some(CaseEvent::new(
        derived_id(event.id, "whistle.transferred"),
        SOURCE,
        event.subject,
        now,
        CaseEventBody::Transferred(body),
    ))
}

/// A stable id for the event derived from `input`, so a replay derives the same one.
pub fn derived_id(input: Uuid, kind: &str) -> Uuid {
    Uuid::new_v5(&input, kind.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use whistle_schemas::Location;

    fn registry() -> Registry {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/registry.json");
        Registry::load(&path).expect("sample registry loads")
    }

    fn raised(town: &str, item: &str) -> (CaseEvent, Raised) {
        let raised = Raised {
            town: town.into(),
            district: town.get(..6).unwrap_or_default().into(),
            item: item.into(),
            description: "x".into(),
            location: Location { lat: 29.5, lon: 106.5, address: "x".into() },
            photos: vec![],
            attachments: vec![],
            raised_by: Actor::new(ActorKind::Town, town),
            support: false,
            assist: vec![],
            hotline: None,
        };
        let time = "2026-06-01T00:00:00Z".parse().expect("valid time");
        (
            CaseEvent::new(
                Uuid::from_u128(1),
                "/test",
                Uuid::from_u128(2),
                time,
                CaseEventBody::Raised(raised.clone()),
            ),
            raised,
        )
    }

    #[test]
    fn whistle_for_recovered_item_routes_to_district_department() {
        let (event, r) = raised("500103001", "CQ-ENV-001");
        let (outcome, out) = decide(&registry(), &event, &r, Utc::now());
        assert_eq!(outcome, Outcome::Department);
        match out.body {
            CaseEventBody::Dispatched(d) => {
                assert_eq!(d.department.code, "500103-EE");
                assert!(!d.triage);
            }
            other => panic!("expected a dispatch, got {other:?}"),
        }
        assert_eq!(out.subject, event.subject, "the output belongs to the same whistle");
    }

    /// An Open311 report: raised by the district's command centre on a citizen's behalf.
    fn reported(town: &str, district: &str, item: &str) -> (CaseEvent, Raised) {
        let (event, mut r) = raised(town, item);
        r.district = district.into();
        r.raised_by = Actor::person(ActorKind::Department, format!("{district}-CC"), "open311:demo", "open311");
        let mut event = event;
        event.body = CaseEventBody::Raised(r.clone());
        (event, r)
    }

    fn dispatched_to(out: CaseEvent) -> (String, bool) {
        match out.body {
            CaseEventBody::Dispatched(d) => (d.department.code, d.triage),
            other => panic!("expected a dispatch, got {other:?}"),
        }
    }

    #[test]
    fn a_citizens_report_routes_like_a_towns_whistle() {
        let (event, r) = reported("500103001", "500103", "CQ-ENV-001");
        let (outcome, out) = decide(&registry(), &event, &r, Utc::now());
        assert_eq!(outcome, Outcome::Department);
        assert_eq!(dispatched_to(out), ("500103-EE".into(), false));
    }

    #[test]
    fn a_citizens_report_without_a_town_or_of_a_town_held_item_goes_to_the_command_centre() {
        let (event, r) = reported("", "500101", "CQ-ENV-001");
        let (outcome, out) = decide(&registry(), &event, &r, Utc::now());
        assert_eq!(outcome, Outcome::Triage);
        assert_eq!(dispatched_to(out), ("500101-CC".into(), true));
        // CQ-FIRE-001 is the towns' own: a town's whistle is refused, a citizen's report triaged.
        let (event, r) = reported("500103001", "500103", "CQ-FIRE-001");
        let (outcome, out) = decide(&registry(), &event, &r, Utc::now());
        assert_eq!(outcome, Outcome::Triage);
        assert_eq!(dispatched_to(out), ("500103-CC".into(), true));
        let (event, r) = raised("500103001", "CQ-FIRE-001");
        assert_eq!(decide(&registry(), &event, &r, Utc::now()).0, Outcome::TownHolds);
        // A town's whistle without a town is still unroutable.
        let (event, r) = raised("", "CQ-ENV-001");
        assert_eq!(decide(&registry(), &event, &r, Utc::now()).0, Outcome::Unroutable);
    }

    #[test]
    fn a_case_a_department_returns_goes_to_the_command_centre_and_a_return_by_it_is_final() {
        let (event, _) = raised("500103001", "CQ-ENV-001");
        let rejected = |code: &str| Rejected {
            actor: Actor::new(ActorKind::Department, code),
            reason: "不属于本部门职责".into(),
            code: None,
        };
        let out = reroute(&registry(), &event, &rejected("500103-EE"), Utc::now()).expect("re-routed");
        match out.body {
            CaseEventBody::Transferred(t) => {
                assert_eq!(t.to.code, "500103-CC");
                assert!(t.triage && t.reason.contains("不属于本部门职责"), "{t:?}");
            }
            other => panic!("expected a transfer, got {other:?}"),
        }
        assert!(reroute(&registry(), &event, &rejected("500103-CC"), Utc::now()).is_none());
    }

    #[test]
    fn replaying_the_same_raised_event_derives_the_same_output_id() {
        let (event, r) = raised("500103001", "CQ-ENV-001");
        let (_, a) = decide(&registry(), &event, &r, Utc::now());
        let (_, b) = decide(&registry(), &event, &r, Utc::now());
        assert_eq!(a.id, b.id);
    }

    #[test]
    fn an_item_the_town_holds_is_rejected_with_a_reason_code() {
        let (event, r) = raised("500103001", "CQ-FIRE-001");
        let (outcome, out) = decide(&registry(), &event, &r, Utc::now());
        assert_eq!(outcome, Outcome::TownHolds);
        assert!(matches!(out.body, CaseEventBody::Rejected(ref rej) if rej.code.as_deref() == Some("town_holds_item")));
    }

    #[test]
    fn an_unknown_item_is_rejected_visibly_not_dropped() {
        let (event, r) = raised("500103001", "CQ-GONE-001");
        let (outcome, out) = decide(&registry(), &event, &r, Utc::now());
        assert_eq!(outcome, Outcome::Unroutable);
        assert!(
            matches!(out.body, CaseEventBody::Rejected(ref rej) if rej.code.as_deref() == Some("unknown_reference"))
        );
    }
}

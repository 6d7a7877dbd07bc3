//! Delegation, recovery and other holder changes: pure functions from the registry and a request
//! to the item's next version.
//!
//! A change never rewrites history. It takes effect at `effective_from`, which may not be in the
//! past: the holder in force then (if open-ended, or ending later) is closed at that instant and
//! the new holder starts there. Anything already scheduled after `effective_from` in the same
//! scope is an overlap the caller must resolve first, so nothing is silently dropped.

use chrono::{DateTime, Utc};
use whistle_schemas::events::Authority;
use whistle_schemas::registry::{AuditEntry, ChangeAction, HolderChangeRequest};

use crate::codes::{DepartmentCode, DistrictCode, ItemCode, TownCode};
use crate::file::COMMAND_CENTRE;
use crate::model::{Assignment, Holder, Item, Registry, Scope};

/// Why a change was refused. Each names the field (or the interval) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeError {
    #[error("unknown item {0}")]
    UnknownItem(String),
    #[error("{field}: {message}")]
    InvalidField { field: &'static str, message: String },
    #[error(
        "effective range overlaps: {scope} already has a holder from {existing_from} (effective_from must be after every scheduled change)"
    )]
    Overlap { scope: String, existing_from: DateTime<Utc> },
}

impl ChangeError {
    fn field(field: &'static str, message: impl Into<String>) -> ChangeError {
        ChangeError::InvalidField { field, message: message.into() }
    }
}

/// Maximum length of a change's reason and actor.
const MAX_TEXT: usize = 500;

/// The item as it would be after `action` described by `req`, decided at `now`; the registry is
/// not touched.
///
/// With `towns`, the change is made for each named town of `district` alone (a town's own
/// assignment, which wins over its district's): a delegation of an optional item to a list of
/// towns, or a recovery from one town.
pub fn propose(
    registry: &Registry,
    code: &str,
    action: ChangeAction,
    req: &HolderChangeRequest,
    now: DateTime<Utc>,
) -> Result<Item, ChangeError> {
    let item_code = ItemCode::parse(code).map_err(|e| ChangeError::UnknownItem(e.to_string()))?;
    let item = registry.item(&item_code).ok_or_else(|| ChangeError::UnknownItem(item_code.to_string()))?;
    let district = if req.district == "*" {
        None
    } else {
        let d = DistrictCode::parse(&req.district).map_err(|e| ChangeError::field("district", e.to_string()))?;
        if registry.district(&d).is_none() {
            return Err(ChangeError::field("district", format!("unknown district {d}")));
        }
        Some(d)
    };
    let scopes = scopes(registry, district.as_ref(), &req.towns)?;
    let reason = text("reason", &req.reason)?;
    let actor = text("actor", &req.actor)?;
    if req.effective_from < now {
        return Err(ChangeError::field(
            "effective_from",
            format!("{} is in the past; history is never rewritten", req.effective_from.to_rfc3339()),
        ));
    }
    let department = |required: bool| -> Result<Option<String>, ChangeError> {
        match (&req.department_type, required) {
            (None, true) => Err(ChangeError::field("department_type", "is required")),
            (None, false) => Ok(None),
            (Some(t), _) => {
                if registry.department_type_names(t).is_none() || t == COMMAND_CENTRE {
                    return Err(ChangeError::field("department_type", format!("unknown department type {t:.40}")));
                }
                // A district-scoped recovery must name a department that exists in that district.
                if let Some(d) = &district {
                    let code = DepartmentCode::new(d, t);
                    if registry.department(&code).is_none() {
                        return Err(ChangeError::field("department_type", format!("no department {code} in {d}")));
                    }
                }
                Ok(Some(t.clone()))
            }
        }
    };
    let (holder, authority) = match action {
        ChangeAction::Delegate => {
            if req.department_type.is_some() {
                return Err(ChangeError::field("department_type", "a delegation hands the item to the towns"));
            }
            let authority = req.authority.unwrap_or(Authority::Delegated);
            if !matches!(authority, Authority::Delegated | Authority::Empowered) {
                return Err(ChangeError::field("authority", "a delegation is `delegated` or `empowered`"));
            }
            (Holder::Towns, authority)
        }
        ChangeAction::Recover => {
            let t = department(true)?.expect("required");
            let authority = req.authority.unwrap_or(Authority::Recovered);
            if !matches!(authority, Authority::Recovered | Authority::Department) {
                return Err(ChangeError::field("authority", "a recovery is `recovered` or `department`"));
            }
            (Holder::DepartmentType(t), authority)
        }
        ChangeAction::ChangeHolder => {
            let authority = req.authority.ok_or_else(|| ChangeError::field("authority", "is required"))?;
            let holder = match department(false)? {
                Some(t) => Holder::DepartmentType(t),
                None => Holder::Towns,
            };
            if authority.is_towns() != matches!(holder, Holder::Towns) {
                return Err(ChangeError::field(
                    "authority",
                    format!(
                        "`{}` does not go with this holder: towns hold statutory, empowered and delegated items, departments department-held and recovered ones",
                        authority.as_str()
                    ),
                ));
            }
            (holder, authority)
        }
        ChangeAction::Import => return Err(ChangeError::field("action", "imports go through the CSV endpoint")),
    };
    for scope in &scopes {
        let Scope::Town { town: code, .. } = scope else { continue };
        let Some(town) = registry.town(code) else { continue };
        if matches!(holder, Holder::Towns) && !item.reaches(town.kind) {
            return Err(ChangeError::field(
                "towns",
                format!("{code} is a {}; {} is handed only to: {}", town.kind.as_str(), item.code, kinds(item)),
            ));
        }
    }
    // A recovery takes an item back from the towns: they must hold it there until then, so the
    // history shows what they held.
    if authority == Authority::Recovered {
        for scope in &scopes {
            let held = match scope {
                Scope::CityWide => registry.default_holder_at(&item.code, req.effective_from),
                Scope::District(d) => registry.holder_at(&item.code, d, req.effective_from),
                Scope::Town { town, .. } => {
                    registry.town(town).and_then(|t| registry.holder_for_town(&item.code, t, req.effective_from))
                }
            };
            if !held.is_some_and(|a| a.holder == Holder::Towns) {
                return Err(ChangeError::field(
                    "authority",
                    format!(
                        "the towns do not hold {} in {scope} then: nothing to recover (a department-held item is `department`)",
                        item.code
                    ),
                ));
            }
        }
    }

    let from = req.effective_from;
    let mut next = item.clone();
    for scope in &scopes {
        if let Some(a) = next.assignments.iter().find(|a| &a.scope == scope && a.from >= from) {
            return Err(ChangeError::Overlap { scope: scope.to_string(), existing_from: a.from });
        }
    }
    for scope in &scopes {
        for a in next.assignments.iter_mut().filter(|a| &a.scope == scope) {
            if a.to.is_none_or(|to| to > from) {
                // Only the future part of the interval changes: `from` is not in the past.
                a.to = Some(from);
            }
        }
        next.assignments.push(Assignment {
            scope: scope.clone(),
            holder: holder.clone(),
            authority,
            from,
            to: None,
            note: reason.clone(),
        });
    }
    next.version = item.version + 1;
    next.audit.push(AuditEntry {
        version: next.version,
        recorded_at: now,
        actor,
        action,
        district: district.as_ref().map_or_else(|| "*".to_owned(), ToString::to_string),
        towns: scopes
            .iter()
            .filter_map(|s| match s {
                Scope::Town { town, .. } => Some(town.to_string()),
                _ => None,
            })
            .collect(),
        effective_from: from,
        reason,
    });
    Ok(next)
}

/// The most towns one change may name (a district has at most a few dozen).
const MAX_TOWNS: usize = 200;

/// The scopes a change applies to: the district (or city), or each named town of the district.
fn scopes(registry: &Registry, district: Option<&DistrictCode>, towns: &[String]) -> Result<Vec<Scope>, ChangeError> {
    if towns.is_empty() {
        return Ok(vec![district.map_or(Scope::CityWide, |d| Scope::District(d.clone()))]);
    }
    let Some(district) = district else {
        return Err(ChangeError::field("towns", "a change for named towns names their district, not *"));
    };
    if towns.len() > MAX_TOWNS {
        return Err(ChangeError::field("towns", format!("at most {MAX_TOWNS} towns per change")));
    }
    let mut scopes = Vec::with_capacity(towns.len());
    for t in towns {
        let code = TownCode::parse(t).map_err(|e| ChangeError::field("towns", e.to_string()))?;
        let town = registry.town(&code).ok_or_else(|| ChangeError::field("towns", format!("unknown town {code}")))?;
        if town.body() != district {
            return Err(ChangeError::field(
                "towns",
                format!("{code} is answered for by {}, not {district}", town.body()),
            ));
        }
        let scope = Scope::Town { body: district.clone(), town: code.clone() };
        if scopes.contains(&scope) {
            return Err(ChangeError::field("towns", format!("{code} is named twice")));
        }
        scopes.push(scope);
    }
    Ok(scopes)
}

fn kinds(item: &Item) -> String {
    item.town_kinds.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
}

/// A reason or actor name: trimmed, non-empty, bounded, no control characters.
pub(crate) fn text(field: &'static str, value: &str) -> Result<String, ChangeError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ChangeError::field(field, "must not be empty"));
    }
    if value.chars().count() > MAX_TEXT
        || value.chars().any(|c| c.is_control() || whistle_common::text::is_deceptive(c))
    {
        return Err(ChangeError::field(
            field,
            format!("must be at most {MAX_TEXT} characters, no control characters or invisible direction marks"),
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::routing::{Route, route};

    fn registry() -> Registry {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/registry.json");
        Registry::load(&path).expect("sample registry loads")
    }

    fn request(district: &str, from: DateTime<Utc>, department_type: Option<&str>) -> HolderChangeRequest {
        HolderChangeRequest {
            district: district.into(),
            towns: vec![],
            effective_from: from,
            reason: "专项整治".into(),
            actor: "test".into(),
            department_type: department_type.map(Into::into),
            authority: None,
        }
    }

    #[test]
    fn a_future_recovery_keeps_the_past_and_routes_to_the_department_from_its_date() {
        let r = registry();
        let now = Utc::now();
        let at = now + Duration::hours(1);
        let item = propose(&r, "CQ-FIRE-001", ChangeAction::Recover, &request("500103", at, Some("FR")), now)
            .expect("valid recovery");
        assert_eq!(item.version, 1);
        assert_eq!(item.audit.len(), 1);
        let before = r.item(&item.code).expect("exists").assignments.clone();
        assert_eq!(item.assignments[..before.len()].len(), before.len(), "older versions are kept");
        let next = r.with_item(item);
        let town = TownCode::parse("500103001").expect("valid");
        let code = ItemCode::parse("CQ-FIRE-001").expect("valid");
        assert!(matches!(route(&next, &town, &code, now).expect("routes"), Route::Town { .. }));
        let after = route(&next, &town, &code, at).expect("routes");
        assert!(matches!(after, Route::Department { department, .. } if department.code.as_str() == "500103-FR"));
    }

    #[test]
    fn bad_changes_name_the_field() {
        let r = registry();
        let now = Utc::now();
        let soon = now + Duration::hours(1);
        let field = |res: Result<Item, ChangeError>| match res {
            Err(ChangeError::InvalidField { field, .. }) => field,
            other => panic!("expected a field error, got {other:?}"),
        };
        let past = request("500103", now - Duration::hours(1), Some("EE"));
        assert_eq!(field(propose(&r, "CQ-FIRE-001", ChangeAction::Recover, &past, now)), "effective_from");
        let no_dept = request("500103", soon, Some("XX"));
        assert_eq!(field(propose(&r, "CQ-FIRE-001", ChangeAction::Recover, &no_dept, now)), "department_type");
        let missing = request("500103", soon, None);
        assert_eq!(field(propose(&r, "CQ-FIRE-001", ChangeAction::Recover, &missing, now)), "department_type");
        let district = request("509999", soon, Some("EE"));
        assert_eq!(field(propose(&r, "CQ-FIRE-001", ChangeAction::Recover, &district, now)), "district");
        assert!(matches!(
            propose(&r, "CQ-NOPE-001", ChangeAction::Recover, &request("*", soon, Some("EE")), now),
            Err(ChangeError::UnknownItem(_))
        ));
    }

    #[test]
    fn an_optional_item_is_delegated_to_a_list_of_towns_and_the_rest_of_the_district_keeps_the_department() {
        let r = registry();
        let now = Utc::now();
        let at = now + Duration::hours(1);
        let (a, b, c) = (
            TownCode::parse("500103001").expect("valid"),
            TownCode::parse("500103002").expect("valid"),
            TownCode::parse("500103003").expect("valid"),
        );
        // CQ-CITY-015 (digging up city roads) is held by the urban management bureau now.
        let code = ItemCode::parse("CQ-CITY-015").expect("valid");
        let before = route(&r, &a, &code, at).expect("routes");
        assert!(matches!(before, Route::Department { .. }), "{before:?}");
        let mut req = request("500103", at, None);
        req.towns = vec![a.to_string(), b.to_string()];
        req.authority = Some(Authority::Empowered);
        let item = propose(&r, code.as_str(), ChangeAction::Delegate, &req, now).expect("valid delegation");
        assert_eq!(item.audit[0].towns, vec![a.to_string(), b.to_string()]);
        let next = r.with_item(item);
        assert!(matches!(
            route(&next, &a, &code, at).expect("routes"),
            Route::Town { authority: Authority::Empowered, .. }
        ));
        assert!(matches!(route(&next, &b, &code, at).expect("routes"), Route::Town { .. }));
        assert!(
            matches!(route(&next, &c, &code, at).expect("routes"), Route::Department { .. }),
            "the others keep the department"
        );

        // Recovery from one of them.
        let later = at + Duration::hours(1);
        let mut back = request("500103", later, Some("UM"));
        back.towns = vec![b.to_string()];
        let item = propose(&next, code.as_str(), ChangeAction::Recover, &back, now).expect("valid recovery");
        let after = next.with_item(item);
        assert!(matches!(route(&after, &a, &code, later).expect("routes"), Route::Town { .. }));
        assert!(matches!(
            route(&after, &b, &code, later).expect("routes"),
            Route::Department { authority: Authority::Recovered, .. }
        ));
        let history = after.item(&code).expect("exists").to_definition().holders;
        assert!(
            history.iter().any(|h| h.town.as_deref() == Some(b.as_str()) && h.authority == Authority::Empowered),
            "the town's holding stays in the history"
        );
    }

    #[test]
    fn a_change_for_named_towns_checks_them() {
        let r = registry();
        let now = Utc::now();
        let soon = now + Duration::hours(1);
        let field = |res: Result<Item, ChangeError>| match res {
            Err(ChangeError::InvalidField { field, message }) => (field, message),
            other => panic!("expected a field error, got {other:?}"),
        };
        let mut other_district = request("500103", soon, None);
        other_district.towns = vec!["500104001".into()];
        assert_eq!(field(propose(&r, "CQ-CITY-015", ChangeAction::Delegate, &other_district, now)).0, "towns");
        let mut city = request("*", soon, None);
        city.towns = vec!["500103001".into()];
        assert_eq!(field(propose(&r, "CQ-CITY-015", ChangeAction::Delegate, &city, now)).0, "towns");
        // Straw burning is not handed to a downtown subdistrict.
        let mut subdistrict = request("500103", soon, None);
        subdistrict.towns = vec!["500103001".into()];
        assert_eq!(field(propose(&r, "CQ-ENV-003", ChangeAction::Delegate, &subdistrict, now)).0, "towns");
        // Nothing to recover where the towns never held it.
        let nothing = request("500103", soon, Some("EE"));
        let (f, m) = field(propose(&r, "CQ-ENV-007", ChangeAction::Recover, &nothing, now));
        assert_eq!(f, "authority", "{m}");
    }

    #[test]
    fn a_change_before_an_already_scheduled_one_is_an_overlap() {
        let r = registry();
        let now = Utc::now();
        let later = propose(
            &r,
            "CQ-FIRE-001",
            ChangeAction::Recover,
            &request("500103", now + Duration::days(10), Some("FR")),
            now,
        )
        .expect("valid");
        let r = r.with_item(later);
        let earlier = request("500103", now + Duration::days(5), None);
        assert!(matches!(
            propose(&r, "CQ-FIRE-001", ChangeAction::Delegate, &earlier, now),
            Err(ChangeError::Overlap { .. })
        ));
    }
}

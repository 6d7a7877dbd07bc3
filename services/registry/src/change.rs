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

use crate::codes::{DepartmentCode, DistrictCode, ItemCode};
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
pub fn propose(
    registry: &Registry,
    code: &str,
    action: ChangeAction,
    req: &HolderChangeRequest,
    now: DateTime<Utc>,
) -> Result<Item, ChangeError> {
    let item_code = ItemCode::parse(code).map_err(|e| ChangeError::UnknownItem(e.to_string()))?;
    let item = registry.item(&item_code).ok_or_else(|| ChangeError::UnknownItem(item_code.to_string()))?;
    let scope = if req.district == "*" {
        Scope::CityWide
    } else {
        let d = DistrictCode::parse(&req.district).map_err(|e| ChangeError::field("district", e.to_string()))?;
        if registry.district(&d).is_none() {
            return Err(ChangeError::field("district", format!("unknown district {d}")));
        }
        Scope::District(d)
    };
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
                if let Scope::District(d) = &scope {
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
            if !matches!(authority, Authority::Recovered | Authority::Statutory) {
                return Err(ChangeError::field("authority", "a recovery is `recovered` or `statutory`"));
            }
            (Holder::DepartmentType(t), authority)
        }
        ChangeAction::ChangeHolder => {
            let authority = req.authority.ok_or_else(|| ChangeError::field("authority", "is required"))?;
            let holder = match department(false)? {
                Some(t) => Holder::DepartmentType(t),
                None => Holder::Towns,
            };
            (holder, authority)
        }
        ChangeAction::Import => return Err(ChangeError::field("action", "imports go through the CSV endpoint")),
    };

    let from = req.effective_from;
    let mut next = item.clone();
    for a in next.assignments.iter().filter(|a| a.scope == scope) {
        if a.from >= from {
            return Err(ChangeError::Overlap { scope: scope.to_string(), existing_from: a.from });
        }
    }
    for a in next.assignments.iter_mut().filter(|a| a.scope == scope) {
        if a.to.is_none_or(|to| to > from) {
            // Only the future part of the interval changes: `from` is not in the past.
            a.to = Some(from);
        }
    }
    next.assignments.push(Assignment { scope: scope.clone(), holder, authority, from, to: None, note: reason.clone() });
    next.version = item.version + 1;
    next.audit.push(AuditEntry {
        version: next.version,
        recorded_at: now,
        actor,
        action,
        district: scope.to_string(),
        effective_from: from,
        reason,
    });
    Ok(next)
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
    use crate::codes::TownCode;
    use crate::routing::{Route, route};

    fn registry() -> Registry {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/registry.json");
        Registry::load(&path).expect("sample registry loads")
    }

    fn request(district: &str, from: DateTime<Utc>, department_type: Option<&str>) -> HolderChangeRequest {
        HolderChangeRequest {
            district: district.into(),
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

//! Roles checked against the live registry: which demo usernames name real places, and the
//! role and scope an administrator gives an account of the account store.
//!
//! Demo accounts: `town-<town code>`, `dept-<department code>` (`dept-<district>-CC` is the
//! district's command centre), `manager` (the city), `manager-<district code>`, and `admin`.

use std::sync::Arc;

use whistle_auth::Role;
use whistle_auth::accounts::DemoResolver;
use whistle_registry::file::COMMAND_CENTRE;
use whistle_registry::{DepartmentCode, DistrictCode, LiveRegistry, TownCode};
use whistle_schemas::accounts::AccountScope;

use crate::error::ApiError;

/// The role `scope` names, with its codes checked against the registry: a town, department or
/// district that exists, and no field the role does not take.
pub fn role_of(registry: &LiveRegistry, scope: &AccountScope) -> Result<Role, ApiError> {
    let registry = registry.current();
    let invalid = |field: &'static str, message: &str| ApiError::InvalidField { field, message: message.to_owned() };
    let none = |field: &'static str, value: &Option<String>| match value {
        Some(_) => Err(invalid(field, &format!("is not part of the {} role's scope", scope.role))),
        None => Ok(()),
    };
    let district = |value: &str| -> Result<DistrictCode, ApiError> {
        let code = DistrictCode::parse(value).map_err(|e| invalid("district", &e.to_string()))?;
        registry.district(&code).ok_or_else(|| invalid("district", &format!("no district {code} in the registry")))?;
        Ok(code)
    };
    match scope.role.as_str() {
        "town" => {
            none("department", &scope.department)?;
            none("district", &scope.district)?;
            let value = scope.town.as_deref().ok_or_else(|| invalid("town", "a town account needs its town"))?;
            let code = TownCode::parse(value).map_err(|e| invalid("town", &e.to_string()))?;
            let town =
                registry.town(&code).ok_or_else(|| invalid("town", &format!("no town {code} in the registry")))?;
            Ok(Role::Town { town: code.to_string(), district: town.body().to_string() })
        }
        "department" => {
            none("town", &scope.town)?;
            none("district", &scope.district)?;
            let value = scope
                .department
                .as_deref()
                .ok_or_else(|| invalid("department", "a department account needs its department"))?;
            let code = DepartmentCode::parse(value).map_err(|e| invalid("department", &e.to_string()))?;
            registry
                .department(&code)
                .ok_or_else(|| invalid("department", &format!("no department {code} in the registry")))?;
            if code.department_type() == COMMAND_CENTRE {
                return Err(invalid("department", "a command centre's account has the role command_centre"));
            }
            Ok(Role::Department { department: code.to_string(), district: code.district().to_string() })
        }
        "command_centre" => {
            none("town", &scope.town)?;
            none("department", &scope.department)?;
            let value = scope
                .district
                .as_deref()
                .ok_or_else(|| invalid("district", "a command centre account needs its district"))?;
            Ok(Role::CommandCentre { district: district(value)?.to_string() })
        }
        "manager" => {
            none("town", &scope.town)?;
            none("department", &scope.department)?;
            let district = scope.district.as_deref().map(district).transpose()?;
            Ok(Role::Manager { district: district.map(|d| d.to_string()) })
        }
        "supervisor" => {
            none("town", &scope.town)?;
            none("department", &scope.department)?;
            let district = scope.district.as_deref().map(district).transpose()?;
            Ok(Role::Supervisor { district: district.map(|d| d.to_string()) })
        }
        "admin" => {
            none("town", &scope.town)?;
            none("department", &scope.department)?;
            none("district", &scope.district)?;
            Ok(Role::Admin)
        }
        _ => Err(invalid("role", "must be town, department, command_centre, manager, supervisor or admin")),
    }
}

pub fn demo_resolver(registry: LiveRegistry) -> DemoResolver {
    Arc::new(move |username: &str| resolve(&registry, username))
}

fn resolve(registry: &LiveRegistry, username: &str) -> Option<Role> {
    match username {
        "admin" => return Some(Role::Admin),
        "manager" => return Some(Role::Manager { district: None }),
        "supervisor" => return Some(Role::Supervisor { district: None }),
        _ => {}
    }
    let registry = registry.current();
    if let Some(code) = username.strip_prefix("town-") {
        let code = TownCode::parse(code).ok()?;
        let town = registry.town(&code)?;
        return Some(Role::Town { town: code.to_string(), district: town.body().to_string() });
    }
    if let Some(code) = username.strip_prefix("dept-") {
        let code = DepartmentCode::parse(code).ok()?;
        registry.department(&code)?;
        let district = code.district().to_string();
        return Some(if code.department_type() == COMMAND_CENTRE {
            Role::CommandCentre { district }
        } else {
            Role::Department { department: code.to_string(), district }
        });
    }
    if let Some(code) = username.strip_prefix("manager-") {
        let code = DistrictCode::parse(code).ok()?;
        registry.district(&code)?;
        return Some(Role::Manager { district: Some(code.to_string()) });
    }
    if let Some(code) = username.strip_prefix("supervisor-") {
        let code = DistrictCode::parse(code).ok()?;
        registry.district(&code)?;
        return Some(Role::Supervisor { district: Some(code.to_string()) });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registry() -> LiveRegistry {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/data/registry.json");
        LiveRegistry::new(whistle_registry::Registry::load(std::path::Path::new(path)).expect("sample registry"))
    }

    #[test]
    fn demo_names_resolve_only_for_places_the_registry_has() {
        let r = registry();
        assert_eq!(resolve(&r, "admin"), Some(Role::Admin));
        assert_eq!(resolve(&r, "manager"), Some(Role::Manager { district: None }));
        assert_eq!(resolve(&r, "manager-500103"), Some(Role::Manager { district: Some("500103".into()) }));
        assert_eq!(
            resolve(&r, "town-500103001"),
            Some(Role::Town { town: "500103001".into(), district: "500103".into() })
        );
        assert_eq!(
            resolve(&r, "dept-500103-UM"),
            Some(Role::Department { department: "500103-UM".into(), district: "500103".into() })
        );
        assert_eq!(resolve(&r, "dept-500103-CC"), Some(Role::CommandCentre { district: "500103".into() }));
        for unknown in ["town-999999001", "dept-500103-ZZ", "manager-999999", "root", "town-", "dept-x"] {
            assert_eq!(resolve(&r, unknown), None, "{unknown}");
        }
    }

    fn scope(role: &str, town: Option<&str>, department: Option<&str>, district: Option<&str>) -> AccountScope {
        AccountScope {
            role: role.into(),
            town: town.map(Into::into),
            department: department.map(Into::into),
            district: district.map(Into::into),
        }
    }

    #[test]
    fn an_administered_role_names_places_the_registry_has_and_nothing_more() {
        let r = registry();
        assert_eq!(
            role_of(&r, &scope("town", Some("500103001"), None, None)).expect("town"),
            Role::Town { town: "500103001".into(), district: "500103".into() }
        );
        assert_eq!(
            role_of(&r, &scope("department", None, Some("500103-EE"), None)).expect("department"),
            Role::Department { department: "500103-EE".into(), district: "500103".into() }
        );
        assert_eq!(
            role_of(&r, &scope("command_centre", None, None, Some("500103"))).expect("cc"),
            Role::CommandCentre { district: "500103".into() }
        );
        assert_eq!(role_of(&r, &scope("manager", None, None, None)).expect("city"), Role::Manager { district: None });
        assert_eq!(role_of(&r, &scope("admin", None, None, None)).expect("admin"), Role::Admin);
        for (bad, field) in [
            (scope("town", Some("999999001"), None, None), "town"),
            (scope("town", None, None, None), "town"),
            (scope("town", Some("500103001"), None, Some("500103")), "district"),
            (scope("department", None, Some("500103-CC"), None), "department"),
            (scope("department", None, Some("500103-ZZ"), None), "department"),
            (scope("command_centre", None, None, None), "district"),
            (scope("manager", None, None, Some("999999")), "district"),
            (scope("admin", Some("500103001"), None, None), "town"),
            (scope("root", None, None, None), "role"),
        ] {
            match role_of(&r, &bad) {
                Err(ApiError::InvalidField { field: f, .. }) => assert_eq!(f, field, "{bad:?}"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
    }
}

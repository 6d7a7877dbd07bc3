//! Which demo usernames name real places, by the live registry.
//!
//! Demo accounts: `town-<town code>`, `dept-<department code>` (`dept-<district>-CC` is the
//! district's command centre), `manager` (the city), `manager-<district code>`, and `admin`.

use std::sync::Arc;

use whistle_auth::Role;
use whistle_auth::accounts::DemoResolver;
use whistle_registry::file::COMMAND_CENTRE;
use whistle_registry::{DepartmentCode, DistrictCode, LiveRegistry, TownCode};

pub fn demo_resolver(registry: LiveRegistry) -> DemoResolver {
    Arc::new(move |username: &str| resolve(&registry, username))
}

fn resolve(registry: &LiveRegistry, username: &str) -> Option<Role> {
    match username {
        "admin" => return Some(Role::Admin),
        "manager" => return Some(Role::Manager { district: None }),
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
}

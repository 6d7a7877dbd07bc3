//! The routing decision for a whistle: which district department must respond.
//!
//! A pure function of the registry, the town, the item and the whistle's time, so the router, the
//! route-preview endpoint and the tests all agree by construction.

use chrono::{DateTime, Utc};
use whistle_schemas::events::Authority;

use crate::codes::{DepartmentCode, ItemCode, TownCode};
use crate::file::COMMAND_CENTRE;
use crate::model::{Department, Holder, Registry};

#[derive(Debug, Clone, PartialEq)]
pub enum Route<'r> {
    /// A district department holds the item: dispatch to it.
    Department { department: &'r Department, authority: Authority, since: DateTime<Utc> },
    /// The town's own team holds the item: it acts itself, no whistle.
    Town { authority: Authority, since: DateTime<Utc> },
    /// Nobody holds the item in this district at this time: the command centre triages it.
    Triage { department: &'r Department, reason: String },
}

/// The department type each category's items belong to when no department ever held an item in
/// its history (an illustrative mapping of Chongqing's generic district departments).
const CATEGORY_DEPARTMENTS: &[(&str, &str)] = &[
    ("fire_safety", "FR"),
    ("city_appearance", "UM"),
    ("market", "MS"),
    ("environment", "EE"),
    ("agriculture_fishery", "AR"),
    ("construction", "HC"),
    ("natural_resources", "PN"),
    ("transport", "TR"),
    ("water", "WR"),
    ("culture_tourism", "CT"),
    ("safety_production", "EM"),
    ("health", "HE"),
    ("public_order", "PS"),
];

/// The department that supports a town on an item the town holds, when the town asks: the
/// department that last held the item in the district (or city-wide) before `at`, else the
/// department of the item's category; `None` when neither exists (the caller triages).
pub fn supporting_department<'r>(
    registry: &'r Registry,
    item: &ItemCode,
    district: &crate::codes::DistrictCode,
    at: DateTime<Utc>,
) -> Option<&'r Department> {
    let entry = registry.item(item)?;
    let mut held: Vec<_> = entry
        .assignments
        .iter()
        .filter(|a| a.from <= at)
        .filter(|a| match &a.scope {
            crate::model::Scope::CityWide => true,
            crate::model::Scope::District(d) => d == district,
        })
        .filter_map(|a| match &a.holder {
            Holder::DepartmentType(t) => Some((a.from, t.as_str())),
            Holder::Towns => None,
        })
        .collect();
    held.sort();
    let kind = held
        .last()
        .map(|(_, t)| *t)
        .or_else(|| CATEGORY_DEPARTMENTS.iter().find(|(c, _)| *c == entry.category).map(|(_, t)| *t))?;
    registry.department(&DepartmentCode::new(district, kind))
}

/// Why no route could be computed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    #[error("unknown town {0}")]
    UnknownTown(TownCode),
    #[error("unknown item {0}")]
    UnknownItem(ItemCode),
    #[error("district of town {0} has no command centre")]
    NoCommandCentre(TownCode),
}

/// Decides where a whistle for `item` raised by `town` at `at` goes.
pub fn route<'r>(
    registry: &'r Registry,
    town: &TownCode,
    item: &ItemCode,
    at: DateTime<Utc>,
) -> Result<Route<'r>, RouteError> {
    let town_entry = registry.town(town).ok_or_else(|| RouteError::UnknownTown(town.clone()))?;
    if registry.item(item).is_none() {
        return Err(RouteError::UnknownItem(item.clone()));
    }
    let district = &town_entry.district;
    let triage = |reason: String| {
        registry
            .department(&DepartmentCode::new(district, COMMAND_CENTRE))
            .map(|department| Route::Triage { department, reason })
            .ok_or_else(|| RouteError::NoCommandCentre(town.clone()))
    };
    match registry.holder_at(item, district, at) {
        None => triage(format!("no holder of {item} in {district} at {at}")),
        Some(a) => match &a.holder {
            Holder::Towns => Ok(Route::Town { authority: a.authority, since: a.from }),
            Holder::DepartmentType(kind) => match registry.department(&DepartmentCode::new(district, kind)) {
                Some(department) => Ok(Route::Department { department, authority: a.authority, since: a.from }),
                None => triage(format!("district {district} has no {kind} department")),
            },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "source_note": "test",
      "department_types": [
        {"code": "EE", "names": {"zh": "生态环境局", "en": "Ecology and Environment Bureau"}},
        {"code": "UM", "names": {"zh": "城市管理局", "en": "Urban Management Bureau"}}
      ],
      "districts": [
        {"code": "500103", "names": {"zh": "渝中区", "en": "Yuzhong District"}, "kind": "district", "illustrative": false},
        {"code": "500106", "names": {"zh": "沙坪坝区", "en": "Shapingba District"}, "kind": "district", "illustrative": false}
      ],
      "towns": [
        {"code": "500103001", "district": "500103", "names": {"zh": "解放碑街道", "en": "Jiefangbei"}, "kind": "subdistrict", "illustrative": false},
        {"code": "500106001", "district": "500106", "names": {"zh": "甲街道", "en": "A"}, "kind": "subdistrict", "illustrative": true}
      ],
      "items": [
        {"code": "CQ-ENV-001", "names": {"zh": "危险废物处置", "en": "Hazardous waste disposal"},
         "category": "environment", "legal_basis": "x", "illustrative": false,
         "holders": [{"district": "*", "holder": {"kind": "department", "department_type": "EE"},
                      "authority": "recovered", "effective_from": "2024-01-01T00:00:00+08:00", "effective_to": null}]},
        {"code": "CQ-CITY-001", "names": {"zh": "占道经营", "en": "Vendors occupying roads"},
         "category": "city_appearance", "legal_basis": "x", "illustrative": false,
         "holders": [
           {"district": "*", "holder": {"kind": "towns"}, "authority": "empowered",
            "effective_from": "2024-01-01T00:00:00+08:00", "effective_to": null},
           {"district": "500106", "holder": {"kind": "department", "department_type": "UM"}, "authority": "recovered",
            "effective_from": "2025-07-01T00:00:00+08:00", "effective_to": null}]},
        {"code": "CQ-NEW-001", "names": {"zh": "新事项", "en": "New item"},
         "category": "x", "legal_basis": "x", "illustrative": true,
         "holders": [{"district": "*", "holder": {"kind": "towns"}, "authority": "delegated",
                      "effective_from": "2027-01-01T00:00:00+08:00", "effective_to": null}]}
      ]
    }"#;

    fn registry() -> Registry {
        Registry::from_json(SAMPLE.as_bytes()).expect("sample registry is valid")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid time").with_timezone(&Utc)
    }

    fn code<T>(parse: fn(&str) -> Result<T, crate::codes::CodeError>, s: &str) -> T {
        parse(s).expect("valid code")
    }

    #[test]
    fn recovered_item_routes_to_the_district_department() {
        let r = registry();
        let route = route(
            &r,
            &code(TownCode::parse, "500103001"),
            &code(ItemCode::parse, "CQ-ENV-001"),
            at("2026-01-01T00:00:00Z"),
        )
        .expect("routes");
        match route {
            Route::Department { department, authority, .. } => {
                assert_eq!(department.code.as_str(), "500103-EE");
                assert_eq!(department.names.zh, "渝中区生态环境局");
                assert_eq!(authority, Authority::Recovered);
            }
            other => panic!("expected a department, got {other:?}"),
        }
    }

    #[test]
    fn empowered_item_is_held_by_the_town() {
        let r = registry();
        let route = route(
            &r,
            &code(TownCode::parse, "500103001"),
            &code(ItemCode::parse, "CQ-CITY-001"),
            at("2026-01-01T00:00:00Z"),
        )
        .expect("routes");
        assert!(matches!(route, Route::Town { authority: Authority::Empowered, .. }), "{route:?}");
    }

    #[test]
    fn a_district_recovery_overrides_the_city_default_from_its_effective_date() {
        let r = registry();
        let town = code(TownCode::parse, "500106001");
        let item = code(ItemCode::parse, "CQ-CITY-001");
        let before = route(&r, &town, &item, at("2025-06-30T15:59:59Z")).expect("routes");
        assert!(matches!(before, Route::Town { .. }), "{before:?}");
        // 2025-07-01T00:00:00+08:00 is 2025-06-30T16:00:00Z.
        let after = route(&r, &town, &item, at("2025-06-30T16:00:00Z")).expect("routes");
        assert!(matches!(after, Route::Department { department, .. } if department.code.as_str() == "500106-UM"));
    }

    #[test]
    fn an_item_not_yet_in_force_goes_to_the_command_centre_for_triage() {
        let r = registry();
        let town = code(TownCode::parse, "500103001");
        let item = code(ItemCode::parse, "CQ-NEW-001");
        let now = route(&r, &town, &item, at("2026-06-01T00:00:00Z")).expect("routes");
        assert!(matches!(now, Route::Triage { department, .. } if department.code.as_str() == "500103-CC"));
        let later = route(&r, &town, &item, at("2027-01-02T00:00:00Z")).expect("routes");
        assert!(matches!(later, Route::Town { authority: Authority::Delegated, .. }));
    }

    #[test]
    fn a_supporting_department_is_the_last_holder_or_the_category_department() {
        let r = registry();
        let d = code(crate::codes::DistrictCode::parse, "500106");
        let item = code(ItemCode::parse, "CQ-CITY-001");
        let before = supporting_department(&r, &item, &d, at("2025-01-01T00:00:00Z")).expect("a department");
        assert_eq!(before.code.as_str(), "500106-UM", "no department held it yet: by category");
        let env = supporting_department(&r, &code(ItemCode::parse, "CQ-ENV-001"), &d, at("2026-01-01T00:00:00Z"));
        assert_eq!(env.map(|d| d.code.as_str()), Some("500106-EE"));
    }

    #[test]
    fn unknown_town_and_item_are_errors() {
        let r = registry();
        let t = at("2026-01-01T00:00:00Z");
        assert_eq!(
            route(&r, &code(TownCode::parse, "500103999"), &code(ItemCode::parse, "CQ-ENV-001"), t),
            Err(RouteError::UnknownTown(code(TownCode::parse, "500103999")))
        );
        assert!(matches!(
            route(&r, &code(TownCode::parse, "500103001"), &code(ItemCode::parse, "CQ-NOPE-001"), t),
            Err(RouteError::UnknownItem(_))
        ));
    }

    #[test]
    fn overlapping_holder_intervals_are_refused() {
        let bad = SAMPLE.replace("\"effective_to\": null}]},\n        {\"code\": \"CQ-CITY-001\"", "\"effective_to\": null},{\"district\": \"*\", \"holder\": {\"kind\": \"towns\"}, \"authority\": \"empowered\", \"effective_from\": \"2025-01-01T00:00:00+08:00\", \"effective_to\": null}]},\n        {\"code\": \"CQ-CITY-001\"");
        assert_ne!(bad, SAMPLE, "the test edit applied");
        let err = Registry::from_json(bad.as_bytes()).expect_err("overlap is refused");
        assert!(err.to_string().contains("CQ-ENV-001"), "{err}");
    }

    #[test]
    fn shipped_sample_registry_is_valid() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/registry.json");
        let r = Registry::load(&path).expect("deploy/data/registry.json loads");
        assert_eq!(r.districts().count(), 38, "all of Chongqing's district-level divisions");
        assert_eq!(r.towns().count(), 1031, "the reform's 1,031 towns and subdistricts");
        for d in r.districts() {
            let n = r.departments().filter(|x| x.district == d.code).count();
            assert!((20..=30).contains(&n), "{} has {n} departments", d.code);
        }
        let now = Utc::now();
        let count =
            |auth| r.items().filter(|i| r.default_holder_at(&i.code, now).map(|a| a.authority) == Some(auth)).count();
        assert!(count(Authority::Empowered) >= 107, "empowered items");
        assert!(count(Authority::Recovered) >= 70, "recovered items");
        assert!(count(Authority::Statutory) >= 20, "statutory items");
        assert!(r.departments().all(|d| r.district(&d.district).is_some()));
    }
}

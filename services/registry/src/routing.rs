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
/// department that last held the item for the town (its own, its district's or city-wide) before
/// `at`, else the item's competent department, else the department of the item's category;
/// `None` when none exists in the town's district or zone (the caller triages).
pub fn supporting_department<'r>(
    registry: &'r Registry,
    item: &ItemCode,
    town: &TownCode,
    at: DateTime<Utc>,
) -> Option<&'r Department> {
    let entry = registry.item(item)?;
    let town = registry.town(town)?;
    let mut held: Vec<_> = entry
        .assignments
        .iter()
        .filter(|a| a.from <= at && a.scope.covers(town))
        .filter_map(|a| match &a.holder {
            Holder::DepartmentType(t) => Some((a.from, t.as_str())),
            Holder::Towns => None,
        })
        .collect();
    held.sort();
    let kind = held
        .last()
        .map(|(_, t)| *t)
        .or(entry.department_type.as_deref())
        .or_else(|| CATEGORY_DEPARTMENTS.iter().find(|(c, _)| *c == entry.category).map(|(_, t)| *t))?;
    registry.department(&DepartmentCode::new(town.body(), kind))
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
///
/// The holder is the town's own assignment, else its district's (or functional zone's), else the
/// city-wide one. A towns-held item that does not reach this town's kind (e.g. burning straw in
/// the fields, for a downtown subdistrict) goes to the item's competent department. Departments
/// are those of the district or zone that answers for the town.
pub fn route<'r>(
    registry: &'r Registry,
    town: &TownCode,
    item: &ItemCode,
    at: DateTime<Utc>,
) -> Result<Route<'r>, RouteError> {
    let town_entry = registry.town(town).ok_or_else(|| RouteError::UnknownTown(town.clone()))?;
    let item_entry = registry.item(item).ok_or_else(|| RouteError::UnknownItem(item.clone()))?;
    let body = town_entry.body();
    let triage = |reason: String| {
        registry
            .department(&DepartmentCode::new(body, COMMAND_CENTRE))
            .map(|department| Route::Triage { department, reason })
            .ok_or_else(|| RouteError::NoCommandCentre(town.clone()))
    };
    let to_department = |kind: &str, authority: Authority, since: DateTime<Utc>| match registry
        .department(&DepartmentCode::new(body, kind))
    {
        Some(department) => Ok(Route::Department { department, authority, since }),
        None => triage(format!("{body} has no {kind} department")),
    };
    match registry.holder_for_town(item, town_entry, at) {
        None => triage(format!("no holder of {item} in {body} at {at}")),
        Some(a) => match &a.holder {
            Holder::Towns if item_entry.reaches(town_entry.kind) => {
                Ok(Route::Town { authority: a.authority, since: a.from })
            }
            Holder::Towns => match item_entry.department_type.as_deref() {
                Some(kind) => to_department(kind, Authority::Department, a.from),
                None => {
                    triage(format!("{item} is not handed to a {} and names no department", town_entry.kind.as_str()))
                }
            },
            Holder::DepartmentType(kind) => to_department(kind, a.authority, a.from),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Scope;
    use whistle_schemas::registry::TownKind;

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
        let d = code(TownCode::parse, "500106001");
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

    fn shipped() -> Registry {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/registry.json");
        Registry::load(&path).expect("deploy/data/registry.json loads")
    }

    #[test]
    fn shipped_sample_registry_is_valid() {
        let r = shipped();
        let (zones, districts): (Vec<_>, Vec<_>) = r.districts().partition(|d| d.is_functional_zone());
        assert_eq!(districts.len(), 38, "all of Chongqing's district-level divisions");
        assert_eq!(zones.len(), 3, "两江新区, 西部科学城重庆高新区, 万盛经开区");
        assert_eq!(r.towns().count(), 1031, "the reform's 1,031 towns and subdistricts");
        for d in r.districts() {
            let n = r.departments_of(&d.code).count();
            assert!((20..=30).contains(&n), "{} has {n} departments", d.code);
            assert!(
                r.department(&DepartmentCode::new(&d.code, COMMAND_CENTRE)).is_some(),
                "{} has a command centre",
                d.code
            );
        }
        let now = Utc::now();
        let count =
            |auth| r.items().filter(|i| r.default_holder_at(&i.code, now).map(|a| a.authority) == Some(auth)).count();
        for auth in [
            Authority::Empowered,
            Authority::Recovered,
            Authority::Department,
            Authority::Delegated,
            Authority::Statutory,
        ] {
            assert!(count(auth) >= 2, "{} items: {}", auth.as_str(), count(auth));
        }
        assert!(r.departments().all(|d| r.district(&d.district).is_some()));
    }

    #[test]
    fn the_shipped_registry_is_exactly_what_the_generator_makes() {
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/data/gen_registry.py");
        match std::process::Command::new("python3").arg(&script).arg("--check").output() {
            Ok(out) => assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr)),
            Err(e) => eprintln!("python3 not available ({e}); generator check skipped"),
        }
    }

    #[test]
    fn shipped_towns_follow_the_gb_t_2260_numbering_and_realistic_counts() {
        let r = shipped();
        let count = |d: &str| r.towns().filter(|t| t.district.as_str() == d).count();
        assert_eq!(count("500103"), 11, "渝中区 has 11 subdistricts");
        assert!((50..=54).contains(&count("500101")), "万州区 has about 52: {}", count("500101"));
        assert!(r.towns().filter(|t| t.district.as_str() == "500103").all(|t| t.kind == TownKind::Subdistrict));
        for t in r.towns() {
            assert_eq!(TownKind::of_code(t.code.as_str()), Some(t.kind), "{}", t.code);
        }
        let kinds: std::collections::BTreeSet<_> = r.towns().map(|t| t.kind).collect();
        assert_eq!(kinds.len(), 3, "街道, 镇 and 乡 all occur");
    }

    #[test]
    fn no_two_shipped_items_share_a_name_and_each_cites_its_law() {
        let r = shipped();
        let mut names = std::collections::BTreeMap::new();
        for i in r.items() {
            if let Some(other) = names.insert(i.names.zh.clone(), i.code.clone()) {
                panic!("{other} and {} are both named {}", i.code, i.names.zh);
            }
            assert!(
                i.legal_basis.contains('《') && i.legal_basis.contains('第'),
                "{}: law and article: {}",
                i.code,
                i.legal_basis
            );
            assert!(!i.subject_kinds.is_empty(), "{}: subject kinds", i.code);
            assert!(i.department_type.is_some(), "{}: competent department", i.code);
        }
    }

    #[test]
    fn a_file_with_two_items_of_one_name_is_refused() {
        let bad = SAMPLE.replace("\"新事项\"", "\"占道经营\"");
        assert_ne!(bad, SAMPLE, "the test edit applied");
        let err = Registry::from_json(bad.as_bytes()).expect_err("duplicate names are refused");
        assert!(err.to_string().contains("same name"), "{err}");
    }

    #[test]
    fn specialist_items_are_held_by_departments_and_recovered_ones_show_the_towns_before() {
        let r = shipped();
        let now = Utc::now();
        for name in ["医疗废物", "特种设备", "诊所"] {
            let items: Vec<_> = r.items().filter(|i| i.names.zh.contains(name)).collect();
            assert!(!items.is_empty(), "an item about {name}");
            for i in items {
                let a = r.default_holder_at(&i.code, now).expect("held");
                assert!(matches!(a.holder, Holder::DepartmentType(_)), "{} is held by a department", i.code);
            }
        }
        for i in r.items() {
            for a in i.assignments.iter().filter(|a| a.authority == Authority::Recovered) {
                let before = i.assignments.iter().any(|b| {
                    b.holder == Holder::Towns && b.from < a.from && (b.scope == a.scope || b.scope == Scope::CityWide)
                });
                assert!(before, "{} was recovered from towns that held it", i.code);
            }
        }
    }

    #[test]
    fn a_town_of_a_functional_zone_routes_to_the_zones_departments() {
        let r = shipped();
        let now = Utc::now();
        for name in ["鱼嘴镇", "寸滩街道"] {
            let town = r.towns().find(|t| t.names.zh == name).expect("the town exists");
            assert_eq!(town.district.as_str(), "500105", "{name} is in 江北区");
            let zone = r.district(town.body()).expect("its zone");
            assert_eq!(zone.names.zh, "两江新区");
            match route(&r, &town.code, &code(ItemCode::parse, "CQ-ENV-001"), now).expect("routes") {
                Route::Department { department, .. } => {
                    assert_eq!(department.district, zone.code, "{name}: {}", department.code);
                    assert_eq!(department.names.zh, "两江新区生态环境局");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
        let jiangbei = r.towns().find(|t| t.names.zh == "观音桥街道").expect("exists");
        let dept = route(&r, &jiangbei.code, &code(ItemCode::parse, "CQ-ENV-001"), now).expect("routes");
        assert!(matches!(dept, Route::Department { department, .. } if department.code.as_str() == "500105-EE"));
    }

    #[test]
    fn a_rural_item_is_the_towns_in_a_town_and_the_departments_in_a_subdistrict() {
        let r = shipped();
        let now = Utc::now();
        let straw = code(ItemCode::parse, "CQ-ENV-003");
        let downtown = route(&r, &code(TownCode::parse, "500103001"), &straw, now).expect("routes");
        assert!(
            matches!(downtown, Route::Department { department, authority: Authority::Department, .. } if department.code.as_str() == "500103-EE"),
            "解放碑街道 does not burn straw in fields: {downtown:?}"
        );
        let rural = r.towns().find(|t| t.kind == TownKind::Town && t.managed_by.is_none()).expect("a town");
        assert!(matches!(route(&r, &rural.code, &straw, now).expect("routes"), Route::Town { .. }));
    }

    #[test]
    fn two_towns_of_one_district_hold_different_optional_items() {
        let r = shipped();
        let now = Utc::now();
        let optional: Vec<_> =
            r.items().filter(|i| i.assignments.iter().any(|a| matches!(a.scope, Scope::Town { .. }))).collect();
        assert!(optional.len() >= 2, "optional items taken up by some towns");
        let item = optional[0];
        let Scope::Town { town, .. } =
            &item.assignments.iter().find(|a| matches!(a.scope, Scope::Town { .. })).expect("one").scope
        else {
            unreachable!()
        };
        let holder = r.town(town).expect("exists");
        let other = r
            .towns_of(holder.body())
            .find(|t| {
                t.code != holder.code
                    && !item.assignments.iter().any(|a| a.scope.covers(t) && matches!(a.scope, Scope::Town { .. }))
            })
            .expect("a town of the district that did not take it up");
        assert!(
            matches!(route(&r, &holder.code, &item.code, now).expect("routes"), Route::Town { .. }),
            "{town} took up {}",
            item.code
        );
        assert!(
            matches!(route(&r, &other.code, &item.code, now).expect("routes"), Route::Department { .. }),
            "{} did not take up {}",
            other.code,
            item.code
        );
    }

    #[test]
    fn department_names_follow_chongqing_usage() {
        let r = shipped();
        let name = |c: &str| r.department(&DepartmentCode::parse(c).expect("valid")).map(|d| d.names.zh.clone());
        assert_eq!(name("500103-PS").as_deref(), Some("重庆市公安局渝中区分局"));
        assert_eq!(name("500229-PS").as_deref(), Some("城口县公安局"));
        assert_eq!(name("500103-FR").as_deref(), Some("重庆市渝中区消防救援支队"));
        assert_eq!(name("500103-CE").as_deref(), Some("渝中区综合行政执法支队"));
        assert_eq!(name("500103-CC").as_deref(), Some("渝中区城市运行和治理中心"));
        assert_eq!(name("500103-EE").as_deref(), Some("渝中区生态环境局"));
        for t in ["FR", "TB"] {
            let d = r.department(&DepartmentCode::parse(&format!("500103-{t}")).expect("valid")).expect("exists");
            assert!(d.vertical.is_some(), "{t} is vertically managed");
        }
    }
}

//! The registry's data file (`deploy/data/registry.json`) and its validation.
//!
//! The file is checked whole before anything is served: a registry with a dangling reference or
//! overlapping holder intervals is refused with a message naming the offending entry.

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use chrono::{DateTime, FixedOffset, Utc};
use serde::Deserialize;
use whistle_schemas::Names;
use whistle_schemas::events::Authority;
use whistle_schemas::registry::{self, AuditEntry, HolderSpec, HolderVersion, ItemDefinition, SubjectKind, TownKind};

use crate::codes::{CodeError, DepartmentCode, DistrictCode, ItemCode, TownCode};
use crate::model::{Assignment, Department, District, FUNCTIONAL_ZONE, Holder, Item, Registry, Scope, Town};

/// Department type every district has implicitly: the command centre that triages whistles no
/// department holds.
pub const COMMAND_CENTRE: &str = "CC";

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read registry file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("registry file is not valid: {0}")]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Code(#[from] CodeError),
    #[error("registry is inconsistent: {0}")]
    Invalid(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryFile {
    pub source_note: String,
    pub department_types: Vec<DepartmentTypeEntry>,
    pub districts: Vec<DistrictEntry>,
    pub towns: Vec<TownEntry>,
    pub items: Vec<ItemEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentTypeEntry {
    pub code: String,
    pub names: Names,
    /// How a district's department of this type is named, `{district}` standing for the
    /// district's name (e.g. `重庆市公安局{district}分局`); default: the district's name, then the
    /// type's.
    #[serde(default)]
    pub name_pattern: Option<Names>,
    /// The pattern for a county's department of this type, where it differs (a county's police
    /// is its own 县公安局, a district's a 分局 of the municipal bureau).
    #[serde(default)]
    pub county_name_pattern: Option<Names>,
    /// The city-level body that manages departments of this type vertically, if any.
    #[serde(default)]
    pub vertical: Option<Names>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictEntry {
    pub code: String,
    pub names: Names,
    /// `district`, `county` or `functional_zone`.
    pub kind: String,
    pub illustrative: bool,
    /// The department types this body has (the command centre always); default: every type.
    #[serde(default)]
    pub department_types: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TownEntry {
    pub code: String,
    pub district: String,
    pub names: Names,
    pub kind: String,
    pub illustrative: bool,
    /// The functional zone that runs enforcement for the town, if any.
    #[serde(default)]
    pub managed_by: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemEntry {
    pub code: String,
    pub names: Names,
    pub category: String,
    pub legal_basis: String,
    pub illustrative: bool,
    #[serde(default)]
    pub keywords: Keywords,
    #[serde(default)]
    pub subject_kinds: Vec<SubjectKind>,
    #[serde(default)]
    pub persuade_first: bool,
    #[serde(default)]
    pub department_type: Option<String>,
    #[serde(default)]
    pub town_kinds: Vec<TownKind>,
    #[serde(default)]
    pub statutory: Option<registry::Statutory>,
    pub holders: Vec<HolderEntry>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Keywords {
    #[serde(default)]
    pub zh: Vec<String>,
    #[serde(default)]
    pub en: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HolderEntry {
    /// A district code, or `*` for the city-wide default.
    pub district: String,
    /// A town of `district`, for one town's own assignment.
    #[serde(default)]
    pub town: Option<String>,
    pub holder: HolderKindEntry,
    pub authority: Authority,
    pub effective_from: DateTime<FixedOffset>,
    pub effective_to: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum HolderKindEntry {
    Towns,
    Department { department_type: String },
}

impl Registry {
    /// Loads and validates a registry file.
    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let bytes =
            std::fs::read(path).map_err(|source| RegistryError::Io { path: path.display().to_string(), source })?;
        Registry::from_json(&bytes)
    }

    pub fn from_json(bytes: &[u8]) -> Result<Registry, RegistryError> {
        let file: RegistryFile = serde_json::from_slice(bytes)?;
        Registry::from_file(file)
    }

    pub fn from_file(file: RegistryFile) -> Result<Registry, RegistryError> {
        let invalid = |msg: String| RegistryError::Invalid(msg);

        let mut department_types = BTreeMap::new();
        let mut patterns = BTreeMap::new();
        for t in file.department_types {
            if department_types.insert(t.code.clone(), t.names.clone()).is_some() {
                return Err(invalid(format!("department type {} is listed twice", t.code)));
            }
            patterns.insert(t.code, (t.names, t.name_pattern, t.county_name_pattern, t.vertical));
        }
        if !department_types.contains_key(COMMAND_CENTRE) {
            let names = Names {
                zh: "城市运行和治理中心".to_owned(),
                en: "City Operation and Governance Centre".to_owned(),
            };
            department_types.insert(COMMAND_CENTRE.to_owned(), names.clone());
            patterns.insert(COMMAND_CENTRE.to_owned(), (names, None, None, None));
        }

        let mut districts = BTreeMap::new();
        let mut departments = BTreeMap::new();
        for d in file.districts {
            let code = DistrictCode::parse(&d.code)?;
            if !matches!(d.kind.as_str(), "district" | "county" | FUNCTIONAL_ZONE) {
                return Err(invalid(format!(
                    "district {code}: kind {:?} is not district, county or {FUNCTIONAL_ZONE}",
                    d.kind
                )));
            }
            let types: Vec<&String> = match &d.department_types {
                None => department_types.keys().collect(),
                Some(list) => {
                    for t in list {
                        if !department_types.contains_key(t) {
                            return Err(invalid(format!("district {code} names unknown department type {t}")));
                        }
                    }
                    department_types.keys().filter(|t| *t == COMMAND_CENTRE || list.contains(t)).collect()
                }
            };
            for type_code in types {
                let (type_names, pattern, county_pattern, vertical) = &patterns[type_code];
                let dept_code = DepartmentCode::parse(&format!("{code}-{type_code}"))?;
                let pattern =
                    if d.kind == "county" { county_pattern.as_ref().or(pattern.as_ref()) } else { pattern.as_ref() };
                let names = match pattern {
                    Some(p) => Names {
                        zh: p.zh.replace("{district}", &d.names.zh),
                        en: p.en.replace("{district}", &d.names.en),
                    },
                    None => Names {
                        zh: format!("{}{}", d.names.zh, type_names.zh),
                        en: format!("{} {}", d.names.en, type_names.en),
                    },
                };
                departments.insert(
                    dept_code.clone(),
                    Department {
                        code: dept_code,
                        district: code.clone(),
                        department_type: type_code.clone(),
                        names,
                        vertical: vertical.clone(),
                    },
                );
            }
            let district = District { code: code.clone(), names: d.names, kind: d.kind, illustrative: d.illustrative };
            if districts.insert(code.clone(), district).is_some() {
                return Err(invalid(format!("district {code} is listed twice")));
            }
        }

        let mut towns = BTreeMap::new();
        let mut town_names = HashSet::new();
        for t in file.towns {
            let code = TownCode::parse(&t.code)?;
            let district = DistrictCode::parse(&t.district)?;
            if code.district() != district {
                return Err(invalid(format!("town {code} does not start with its district's code {district}")));
            }
            match districts.get(&district) {
                None => return Err(invalid(format!("town {code} names unknown district {district}"))),
                Some(d) if d.is_functional_zone() => {
                    return Err(invalid(format!(
                        "town {code}: {district} is a functional zone; a town belongs to its administrative district and names the zone in managed_by"
                    )));
                }
                Some(_) => {}
            }
            let kind = TownKind::parse(&t.kind).ok_or_else(|| {
                invalid(format!("town {code}: kind {:?} is not subdistrict, town or township", t.kind))
            })?;
            if TownKind::of_code(code.as_str()) != Some(kind) {
                return Err(invalid(format!(
                    "town {code} is a {}, but its code says otherwise (0xx 街道, 1xx 镇, 2xx 乡)",
                    kind.as_str()
                )));
            }
            let managed_by = match t.managed_by.as_deref() {
                None => None,
                Some(z) => {
                    let zone = DistrictCode::parse(z)?;
                    if !districts.get(&zone).is_some_and(District::is_functional_zone) {
                        return Err(invalid(format!("town {code}: managed_by {zone} is not a functional zone")));
                    }
                    Some(zone)
                }
            };
            if !town_names.insert((district.clone(), t.names.zh.clone())) {
                return Err(invalid(format!("town {code}: {district} already has a town named {}", t.names.zh)));
            }
            let town =
                Town { code: code.clone(), district, managed_by, names: t.names, kind, illustrative: t.illustrative };
            if towns.insert(code.clone(), town).is_some() {
                return Err(invalid(format!("town {code} is listed twice")));
            }
        }

        let refs = Refs { districts: &districts, towns: &towns, department_types: &department_types };
        let mut items = BTreeMap::new();
        let mut names: BTreeMap<String, ItemCode> = BTreeMap::new();
        for i in file.items {
            let item = build_item(i.into_definition(), 0, Vec::new(), &refs)?;
            let code = item.code.clone();
            if let Some(other) = names.insert(item.names.zh.clone(), code.clone()) {
                return Err(invalid(format!("items {other} and {code} have the same name {}", item.names.zh)));
            }
            if items.insert(code.clone(), item).is_some() {
                return Err(invalid(format!("item {code} is listed twice")));
            }
        }

        Ok(Registry::new(file.source_note, department_types, districts, departments, towns, items))
    }
}

impl ItemEntry {
    /// The file's shape of an item, as the wire's.
    fn into_definition(self) -> ItemDefinition {
        ItemDefinition {
            code: self.code,
            names: self.names,
            category: self.category,
            legal_basis: self.legal_basis,
            illustrative: self.illustrative,
            keywords: registry::Keywords { zh: self.keywords.zh, en: self.keywords.en },
            subject_kinds: self.subject_kinds,
            persuade_first: self.persuade_first,
            department_type: self.department_type,
            town_kinds: self.town_kinds,
            statutory: self.statutory,
            holders: self
                .holders
                .into_iter()
                .map(|h| HolderVersion {
                    district: h.district,
                    town: h.town,
                    holder: match h.holder {
                        HolderKindEntry::Towns => HolderSpec::Towns,
                        HolderKindEntry::Department { department_type } => HolderSpec::Department { department_type },
                    },
                    authority: h.authority,
                    effective_from: h.effective_from.with_timezone(&Utc),
                    effective_to: h.effective_to.map(|t| t.with_timezone(&Utc)),
                    reason: h.note,
                })
                .collect(),
        }
    }
}

/// What an item definition may refer to.
pub(crate) struct Refs<'a> {
    pub districts: &'a BTreeMap<DistrictCode, District>,
    pub towns: &'a BTreeMap<TownCode, Town>,
    pub department_types: &'a BTreeMap<String, Names>,
}

/// Validates an item definition against the districts, towns and department types and builds it.
pub(crate) fn build_item(
    def: ItemDefinition,
    version: u64,
    audit: Vec<AuditEntry>,
    refs: &Refs<'_>,
) -> Result<Item, RegistryError> {
    let invalid = |msg: String| RegistryError::Invalid(msg);
    let code = ItemCode::parse(&def.code)?;
    for (field, value) in [("names.zh", &def.names.zh), ("names.en", &def.names.en), ("category", &def.category)] {
        if value.trim().is_empty() {
            return Err(invalid(format!("item {code}: {field} must not be empty")));
        }
    }
    if let Some(t) = &def.department_type
        && (!refs.department_types.contains_key(t) || t == COMMAND_CENTRE)
    {
        return Err(invalid(format!("item {code} names unknown department type {t}")));
    }
    let mut assignments = Vec::with_capacity(def.holders.len());
    for h in def.holders {
        let scope = if h.district == "*" {
            if h.town.is_some() {
                return Err(invalid(format!("item {code}: a town's own assignment names its district, not *")));
            }
            Scope::CityWide
        } else {
            let d = DistrictCode::parse(&h.district)?;
            if !refs.districts.contains_key(&d) {
                return Err(invalid(format!("item {code} names unknown district {d}")));
            }
            match h.town.as_deref() {
                None => Scope::District(d),
                Some(t) => {
                    let town = TownCode::parse(t)?;
                    match refs.towns.get(&town) {
                        None => return Err(invalid(format!("item {code} names unknown town {town}"))),
                        Some(entry) if entry.body() != &d => {
                            return Err(invalid(format!(
                                "item {code}: town {town} is answered for by {}, not {d}",
                                entry.body()
                            )));
                        }
                        Some(_) => Scope::Town { body: d, town },
                    }
                }
            }
        };
        let holder = match h.holder {
            HolderSpec::Towns => Holder::Towns,
            HolderSpec::Department { department_type } => {
                if !refs.department_types.contains_key(&department_type) {
                    return Err(invalid(format!("item {code} names unknown department type {department_type}")));
                }
                Holder::DepartmentType(department_type)
            }
        };
        if h.authority.is_towns() != matches!(holder, Holder::Towns) {
            return Err(invalid(format!(
                "item {code}: authority {} does not go with a {} holder (towns hold statutory, empowered and delegated items; departments department-held and recovered ones)",
                h.authority.as_str(),
                if matches!(holder, Holder::Towns) { "towns" } else { "department" },
            )));
        }
        let (from, to) = (h.effective_from, h.effective_to);
        if to.is_some_and(|to| to <= from) {
            return Err(invalid(format!("item {code}: a holder interval ends before it starts")));
        }
        assignments.push(Assignment { scope, holder, authority: h.authority, from, to, note: h.reason });
    }
    check_no_overlap(&code, &assignments)?;
    let mut subject_kinds = def.subject_kinds;
    subject_kinds.sort();
    subject_kinds.dedup();
    let mut town_kinds = def.town_kinds;
    town_kinds.sort();
    town_kinds.dedup();
    Ok(Item {
        code,
        names: def.names,
        category: def.category,
        legal_basis: def.legal_basis,
        illustrative: def.illustrative,
        keywords_zh: def.keywords.zh,
        keywords_en: def.keywords.en,
        subject_kinds,
        persuade_first: def.persuade_first,
        department_type: def.department_type,
        town_kinds,
        statutory: def.statutory,
        assignments,
        version,
        audit,
    })
}

/// Two assignments of one item in one scope may not be in force at the same instant.
fn check_no_overlap(code: &ItemCode, assignments: &[Assignment]) -> Result<(), RegistryError> {
    let scopes: HashSet<&Scope> = assignments.iter().map(|a| &a.scope).collect();
    for scope in scopes {
        let mut spans: Vec<&Assignment> = assignments.iter().filter(|a| &a.scope == scope).collect();
        spans.sort_by_key(|a| a.from);
        for pair in spans.windows(2) {
            let open_ended = pair[0].to.is_none_or(|to| to > pair[1].from);
            if open_ended {
                return Err(RegistryError::Invalid(format!(
                    "item {code}: holder intervals overlap in {scope} from {}",
                    pair[1].from
                )));
            }
        }
    }
    Ok(())
}

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
use whistle_schemas::registry::{self, AuditEntry, HolderSpec, HolderVersion, ItemDefinition};

use crate::codes::{CodeError, DepartmentCode, DistrictCode, ItemCode, TownCode};
use crate::model::{Assignment, Department, District, Holder, Item, Registry, Scope, Town};

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
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictEntry {
    pub code: String,
    pub names: Names,
    pub kind: String,
    pub illustrative: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TownEntry {
    pub code: String,
    pub district: String,
    pub names: Names,
    pub kind: String,
    pub illustrative: bool,
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
        for t in file.department_types {
            if department_types.insert(t.code.clone(), t.names).is_some() {
                return Err(invalid(format!("department type {} is listed twice", t.code)));
            }
        }
        department_types.entry(COMMAND_CENTRE.to_owned()).or_insert_with(|| Names {
            zh: "综合行政执法指挥中心".to_owned(),
            en: "Comprehensive Enforcement Command Centre".to_owned(),
        });

        let mut districts = BTreeMap::new();
        let mut departments = BTreeMap::new();
        for d in file.districts {
            let code = DistrictCode::parse(&d.code)?;
            for (type_code, type_names) in &department_types {
                let dept_code = DepartmentCode::parse(&format!("{code}-{type_code}"))?;
                let names = Names {
                    zh: format!("{}{}", d.names.zh, type_names.zh),
                    en: format!("{} {}", d.names.en, type_names.en),
                };
                departments.insert(
                    dept_code.clone(),
                    Department { code: dept_code, district: code.clone(), department_type: type_code.clone(), names },
                );
            }
            let district = District { code: code.clone(), names: d.names, kind: d.kind, illustrative: d.illustrative };
            if districts.insert(code.clone(), district).is_some() {
                return Err(invalid(format!("district {code} is listed twice")));
            }
        }

        let mut towns = BTreeMap::new();
        for t in file.towns {
            let code = TownCode::parse(&t.code)?;
            let district = DistrictCode::parse(&t.district)?;
            if code.district() != district {
                return Err(invalid(format!("town {code} does not start with its district's code {district}")));
            }
            if !districts.contains_key(&district) {
                return Err(invalid(format!("town {code} names unknown district {district}")));
            }
            let town =
                Town { code: code.clone(), district, names: t.names, kind: t.kind, illustrative: t.illustrative };
            if towns.insert(code.clone(), town).is_some() {
                return Err(invalid(format!("town {code} is listed twice")));
            }
        }

        let mut items = BTreeMap::new();
        for i in file.items {
            let item = build_item(i.into_definition(), 0, Vec::new(), &districts, &department_types)?;
            let code = item.code.clone();
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
            holders: self
                .holders
                .into_iter()
                .map(|h| HolderVersion {
                    district: h.district,
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

/// Validates an item definition against the districts and department types and builds it.
pub(crate) fn build_item(
    def: ItemDefinition,
    version: u64,
    audit: Vec<AuditEntry>,
    districts: &BTreeMap<DistrictCode, District>,
    department_types: &BTreeMap<String, Names>,
) -> Result<Item, RegistryError> {
    let invalid = |msg: String| RegistryError::Invalid(msg);
    let code = ItemCode::parse(&def.code)?;
    for (field, value) in [("names.zh", &def.names.zh), ("names.en", &def.names.en), ("category", &def.category)] {
        if value.trim().is_empty() {
            return Err(invalid(format!("item {code}: {field} must not be empty")));
        }
    }
    let mut assignments = Vec::with_capacity(def.holders.len());
    for h in def.holders {
        let scope = if h.district == "*" {
            Scope::CityWide
        } else {
            let d = DistrictCode::parse(&h.district)?;
            if !districts.contains_key(&d) {
                return Err(invalid(format!("item {code} names unknown district {d}")));
            }
            Scope::District(d)
        };
        let holder = match h.holder {
            HolderSpec::Towns => Holder::Towns,
            HolderSpec::Department { department_type } => {
                if !department_types.contains_key(&department_type) {
                    return Err(invalid(format!("item {code} names unknown department type {department_type}")));
                }
                Holder::DepartmentType(department_type)
            }
        };
        let (from, to) = (h.effective_from, h.effective_to);
        if to.is_some_and(|to| to <= from) {
            return Err(invalid(format!("item {code}: a holder interval ends before it starts")));
        }
        assignments.push(Assignment { scope, holder, authority: h.authority, from, to, note: h.reason });
    }
    check_no_overlap(&code, &assignments)?;
    Ok(Item {
        code,
        names: def.names,
        category: def.category,
        legal_basis: def.legal_basis,
        illustrative: def.illustrative,
        keywords_zh: def.keywords.zh,
        keywords_en: def.keywords.en,
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

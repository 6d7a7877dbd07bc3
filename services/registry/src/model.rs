//! The loaded registry and its look-ups.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use whistle_schemas::Names;
use whistle_schemas::events::Authority;
use whistle_schemas::registry::{
    AuditEntry, HolderSpec, HolderVersion, ItemDefinition, ItemRecord, Keywords, SubjectKind, TownKind,
};

use crate::codes::{DepartmentCode, DistrictCode, ItemCode, TownCode};
use crate::file::{Refs, RegistryError, build_item};

/// The `kind` of a district entry that is a functional zone rather than an administrative
/// district: it runs enforcement for the towns it manages, with its own departments.
pub const FUNCTIONAL_ZONE: &str = "functional_zone";

/// A district-level body whose departments respond to whistles: one of the 38 administrative
/// districts and counties, or a functional zone (两江新区, 西部科学城重庆高新区, 万盛经开区).
#[derive(Debug, Clone)]
pub struct District {
    pub code: DistrictCode,
    pub names: Names,
    /// `district`, `county` or [`FUNCTIONAL_ZONE`].
    pub kind: String,
    pub illustrative: bool,
}

impl District {
    pub fn is_functional_zone(&self) -> bool {
        self.kind == FUNCTIONAL_ZONE
    }
}

#[derive(Debug, Clone)]
pub struct Town {
    pub code: TownCode,
    /// The administrative district (the code's first six digits).
    pub district: DistrictCode,
    /// The functional zone that runs enforcement for the town, if any.
    pub managed_by: Option<DistrictCode>,
    pub names: Names,
    pub kind: TownKind,
    pub illustrative: bool,
}

impl Town {
    /// The district or zone whose departments and command centre answer this town's whistles,
    /// and whose assignments apply to it.
    pub fn body(&self) -> &DistrictCode {
        self.managed_by.as_ref().unwrap_or(&self.district)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Department {
    pub code: DepartmentCode,
    /// The district or functional zone the department belongs to.
    pub district: DistrictCode,
    pub department_type: String,
    pub names: Names,
    /// The city-level body that manages it vertically (fire and rescue, tobacco), if any.
    pub vertical: Option<Names>,
}

#[derive(Debug, Clone)]
pub struct Item {
    pub code: ItemCode,
    pub names: Names,
    pub category: String,
    pub legal_basis: String,
    pub illustrative: bool,
    pub keywords_zh: Vec<String>,
    pub keywords_en: Vec<String>,
    pub subject_kinds: Vec<SubjectKind>,
    pub persuade_first: bool,
    /// The competent department type: it answers where the towns do not hold the item.
    pub department_type: Option<String>,
    /// The kinds of town a towns-held assignment reaches; empty = all.
    pub town_kinds: Vec<TownKind>,
    /// The statutory penalty per kind of subject, for items that carry one.
    pub statutory: Option<whistle_schemas::registry::Statutory>,
    /// Every holder assignment ever made, in file order; never rewritten.
    pub assignments: Vec<Assignment>,
    /// The item's record version: 0 as shipped, bumped by every change.
    pub version: u64,
    /// Every change made through the registry service, oldest first.
    pub audit: Vec<AuditEntry>,
}

impl Item {
    /// Whether a towns-held assignment of this item reaches a town of `kind`.
    pub fn reaches(&self, kind: TownKind) -> bool {
        self.town_kinds.is_empty() || self.town_kinds.contains(&kind)
    }

    /// The item in its wire shape, with its whole history.
    pub fn to_definition(&self) -> ItemDefinition {
        ItemDefinition {
            code: self.code.to_string(),
            names: self.names.clone(),
            category: self.category.clone(),
            legal_basis: self.legal_basis.clone(),
            illustrative: self.illustrative,
            keywords: Keywords { zh: self.keywords_zh.clone(), en: self.keywords_en.clone() },
            subject_kinds: self.subject_kinds.clone(),
            persuade_first: self.persuade_first,
            department_type: self.department_type.clone(),
            town_kinds: self.town_kinds.clone(),
            statutory: self.statutory.clone(),
            holders: self.assignments.iter().map(Assignment::to_version).collect(),
        }
    }

    /// The record published on the registry topic.
    pub fn to_record(&self) -> ItemRecord {
        ItemRecord { version: self.version, item: self.to_definition(), audit: self.audit.clone() }
    }
}

/// Where an assignment applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// The city-wide default.
    CityWide,
    /// One district or functional zone; overrides the city-wide default while in force.
    District(DistrictCode),
    /// One town (of the district or zone `body`); overrides both while in force.
    Town { body: DistrictCode, town: TownCode },
}

impl Scope {
    /// The district or zone of a district or town scope.
    pub fn body(&self) -> Option<&DistrictCode> {
        match self {
            Scope::CityWide => None,
            Scope::District(d) | Scope::Town { body: d, .. } => Some(d),
        }
    }

    /// Whether an assignment in this scope can reach `town`.
    pub fn covers(&self, town: &Town) -> bool {
        match self {
            Scope::CityWide => true,
            Scope::District(d) => d == town.body(),
            Scope::Town { town: t, .. } => t == &town.code,
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::CityWide => f.write_str("*"),
            Scope::District(d) => write!(f, "{d}"),
            Scope::Town { town, .. } => write!(f, "{town}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// The district's towns and subdistricts.
    Towns,
    /// The district department of this type.
    DepartmentType(String),
}

/// One holder of one item in one scope over a half-open interval `[from, to)`.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub scope: Scope,
    pub holder: Holder,
    pub authority: Authority,
    pub from: DateTime<Utc>,
    pub to: Option<DateTime<Utc>>,
    pub note: String,
}

impl Assignment {
    pub fn to_version(&self) -> HolderVersion {
        let (district, town) = match &self.scope {
            Scope::CityWide => ("*".to_owned(), None),
            Scope::District(d) => (d.to_string(), None),
            Scope::Town { body, town } => (body.to_string(), Some(town.to_string())),
        };
        HolderVersion {
            district,
            town,
            holder: match &self.holder {
                Holder::Towns => HolderSpec::Towns,
                Holder::DepartmentType(t) => HolderSpec::Department { department_type: t.clone() },
            },
            authority: self.authority,
            effective_from: self.from,
            effective_to: self.to,
            reason: self.note.clone(),
        }
    }

    pub fn in_force_at(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && self.to.is_none_or(|to| at < to)
    }
}

/// The whole registry, immutable once loaded; share it behind an `Arc`.
#[derive(Debug, Clone)]
pub struct Registry {
    source_note: String,
    department_types: BTreeMap<String, Names>,
    districts: BTreeMap<DistrictCode, District>,
    departments: BTreeMap<DepartmentCode, Department>,
    towns: BTreeMap<TownCode, Town>,
    items: BTreeMap<ItemCode, Item>,
}

impl Registry {
    pub(crate) fn new(
        source_note: String,
        department_types: BTreeMap<String, Names>,
        districts: BTreeMap<DistrictCode, District>,
        departments: BTreeMap<DepartmentCode, Department>,
        towns: BTreeMap<TownCode, Town>,
        items: BTreeMap<ItemCode, Item>,
    ) -> Self {
        Registry { source_note, department_types, districts, departments, towns, items }
    }

    pub fn source_note(&self) -> &str {
        &self.source_note
    }

    pub fn town(&self, code: &TownCode) -> Option<&Town> {
        self.towns.get(code)
    }

    pub fn towns(&self) -> impl Iterator<Item = &Town> {
        self.towns.values()
    }

    pub fn district(&self, code: &DistrictCode) -> Option<&District> {
        self.districts.get(code)
    }

    pub fn districts(&self) -> impl Iterator<Item = &District> {
        self.districts.values()
    }

    pub fn department(&self, code: &DepartmentCode) -> Option<&Department> {
        self.departments.get(code)
    }

    pub fn departments(&self) -> impl Iterator<Item = &Department> {
        self.departments.values()
    }

    pub fn department_type_names(&self, code: &str) -> Option<&Names> {
        self.department_types.get(code)
    }

    pub fn item(&self, code: &ItemCode) -> Option<&Item> {
        self.items.get(code)
    }

    pub fn items(&self) -> impl Iterator<Item = &Item> {
        self.items.values()
    }

    /// Who holds `item` for `town` at `at`: the town's own assignment in force wins over its
    /// district's (or zone's), which wins over the city-wide one; `None` when none is in force.
    /// The holder may be the towns while the item does not reach this town's kind: see
    /// [`Item::reaches`] and [`crate::routing::route`].
    pub fn holder_for_town(&self, item: &ItemCode, town: &Town, at: DateTime<Utc>) -> Option<&Assignment> {
        let item = self.items.get(item)?;
        let own = Scope::Town { body: town.body().clone(), town: town.code.clone() };
        let in_force = |scope: &Scope| item.assignments.iter().find(|a| &a.scope == scope && a.in_force_at(at));
        in_force(&own)
            .or_else(|| in_force(&Scope::District(town.body().clone())))
            .or_else(|| in_force(&Scope::CityWide))
    }

    /// Who holds `item` in `district` at `at`: the district's own assignment in force wins over
    /// the city-wide one; `None` when neither is in force (or the item is unknown). Towns' own
    /// assignments are not considered: see [`Registry::holder_for_town`].
    pub fn holder_at(&self, item: &ItemCode, district: &DistrictCode, at: DateTime<Utc>) -> Option<&Assignment> {
        let item = self.items.get(item)?;
        let local = Scope::District(district.clone());
        let in_force = |scope: &Scope| item.assignments.iter().find(|a| &a.scope == scope && a.in_force_at(at));
        in_force(&local).or_else(|| in_force(&Scope::CityWide))
    }

    /// The registry with `record` in place of its item, if the record is newer than what this
    /// registry holds; `Ok(None)` when it is not (a replay or an older copy).
    pub fn with_record(&self, record: ItemRecord) -> Result<Option<Registry>, RegistryError> {
        let code = ItemCode::parse(&record.item.code)?;
        if self.items.get(&code).is_some_and(|i| i.version >= record.version) {
            return Ok(None);
        }
        let item = build_item(record.item, record.version, record.audit, &self.refs())?;
        let mut next = self.clone();
        next.items.insert(code, item);
        Ok(Some(next))
    }

    /// Validates an item definition against this registry's districts and department types.
    pub fn build(&self, def: ItemDefinition, version: u64, audit: Vec<AuditEntry>) -> Result<Item, RegistryError> {
        build_item(def, version, audit, &self.refs())
    }

    fn refs(&self) -> Refs<'_> {
        Refs { districts: &self.districts, towns: &self.towns, department_types: &self.department_types }
    }

    /// The towns a district or zone answers for (its own, less those a zone manages; or a
    /// zone's).
    pub fn towns_of<'a>(&'a self, body: &'a DistrictCode) -> impl Iterator<Item = &'a Town> + 'a {
        self.towns.values().filter(move |t| t.body() == body)
    }

    /// The registry with `item` in place (validated by the caller, e.g. [`crate::change`]).
    pub fn with_item(&self, item: Item) -> Registry {
        let mut next = self.clone();
        next.items.insert(item.code.clone(), item);
        next
    }

    /// The departments of one district, command centre included.
    pub fn departments_of<'a>(&'a self, district: &'a DistrictCode) -> impl Iterator<Item = &'a Department> + 'a {
        self.departments.values().filter(move |d| &d.district == district)
    }

    pub fn department_types(&self) -> impl Iterator<Item = (&String, &Names)> {
        self.department_types.iter()
    }

    /// The city-wide default holder of `item` at `at`.
    pub fn default_holder_at(&self, item: &ItemCode, at: DateTime<Utc>) -> Option<&Assignment> {
        let item = self.items.get(item)?;
        item.assignments.iter().find(|a| a.scope == Scope::CityWide && a.in_force_at(at))
    }
}

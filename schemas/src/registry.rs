//! The registry's wire types: the records on the compacted registry topic
//! (`whistle.registry.v1`, key = item code) and the bodies of `/api/v1/registry/...` and
//! `/api/v1/districts`.
//!
//! A record carries an item's *whole* history and audit trail, so compaction (which keeps only
//! the newest record per key) never loses a version: a change appends, it never rewrites.

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Names;
use crate::api::HolderView;
use crate::events::{Authority, DepartmentRef};

/// The value of one message on the registry topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemRecord {
    /// Bumped by every change of the item; consumers keep the highest they have seen. The shipped
    /// data file is version 0.
    pub version: u64,
    pub item: ItemDefinition,
    /// Every change ever made to the item, oldest first.
    #[serde(default)]
    pub audit: Vec<AuditEntry>,
}

/// An enforcement item with its full holder history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemDefinition {
    pub code: String,
    pub names: Names,
    pub category: String,
    /// The law and article that make the conduct an offence and name who punishes it.
    pub legal_basis: String,
    pub illustrative: bool,
    #[serde(default)]
    pub keywords: Keywords,
    /// Who can commit the offence: individuals, units (companies and other organisations), or both.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_kinds: Vec<SubjectKind>,
    /// Persuade first (劝导在先): the enforcer must try persuasion before a penalty.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub persuade_first: bool,
    /// The competent department type (主管部门): it handles the item wherever the towns do not
    /// hold it, e.g. in a town whose kind the item is not handed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_type: Option<String>,
    /// The kinds of town a towns-held assignment applies to; empty = every kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub town_kinds: Vec<TownKind>,
    /// What the law allows as a penalty for the item, per kind of subject (法定处罚幅度); absent
    /// for an item that carries no administrative penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statutory: Option<Statutory>,
    pub holders: Vec<HolderVersion>,
}

/// The penalties the law allows for an item, per kind of subject. A kind that is absent cannot
/// commit the offence (or the law names no penalty for it).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Statutory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub individual: Option<StatutoryRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<StatutoryRange>,
    /// The ranges are not the cited article's text: the article names no amount, the amount
    /// depends on a value (货值, 违法所得, 工程造价, an area), or we could not check it. The `note`
    /// says which.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub illustrative: bool,
    /// Where the ranges come from: the article's words as we read them, or why they are
    /// illustrative.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Statutory {
    /// The range for `kind`, if the law provides one.
    pub fn for_kind(&self, kind: SubjectKind) -> Option<&StatutoryRange> {
        match kind {
            SubjectKind::Individual => self.individual.as_ref(),
            SubjectKind::Unit => self.unit.as_ref(),
        }
    }
}

/// One kind of subject's statutory penalty: whether a warning is a lawful penalty, and the fine
/// range in whole yuan (`min_yuan` 0: no floor). A fine outside it is unlawful whatever the
/// benchmark says (`422 outside_statutory_range`, never overridable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StatutoryRange {
    #[serde(default)]
    pub warning: bool,
    #[serde(default)]
    pub min_yuan: u64,
    pub max_yuan: u64,
}

impl StatutoryRange {
    /// Whether a fine of `yuan` (more than 0) is inside the law.
    pub fn allows_fine(&self, yuan: u64) -> bool {
        yuan > 0 && (self.min_yuan..=self.max_yuan).contains(&yuan)
    }
}

/// Who an offence can be committed by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    /// A natural person (公民).
    Individual,
    /// A legal person or other organisation (法人或者其他组织).
    Unit,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Individual => "individual",
            SubjectKind::Unit => "unit",
        }
    }
}

/// The kind of a township-level division, from the last three digits of its code
/// (GB/T 2260 district code + 3 digits: `0xx` 街道, `1xx` 镇, `2xx` 乡).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TownKind {
    /// 街道: an urban subdistrict.
    Subdistrict,
    /// 镇: a town.
    Town,
    /// 乡 (民族乡 included): a rural township.
    Township,
}

impl TownKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TownKind::Subdistrict => "subdistrict",
            TownKind::Town => "town",
            TownKind::Township => "township",
        }
    }

    pub fn parse(s: &str) -> Option<TownKind> {
        match s {
            "subdistrict" => Some(TownKind::Subdistrict),
            "town" => Some(TownKind::Town),
            "township" => Some(TownKind::Township),
            _ => None,
        }
    }

    /// The kind a 9-digit town code says (`0xx` 街道, `1xx` 镇, `2xx`-`3xx` 乡).
    pub fn of_code(code: &str) -> Option<TownKind> {
        match code.as_bytes().get(6)? {
            b'0' => Some(TownKind::Subdistrict),
            b'1' => Some(TownKind::Town),
            b'2' | b'3' => Some(TownKind::Township),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Keywords {
    #[serde(default)]
    pub zh: Vec<String>,
    #[serde(default)]
    pub en: Vec<String>,
}

/// One holder of an item in one district (or `*`, city-wide) over `[effective_from, effective_to)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HolderVersion {
    /// A district (or functional zone) code, or `*` for the city-wide default.
    pub district: String,
    /// Set when the assignment is one town's own (a town's optional item, or a recovery from one
    /// town): the town's code; `district` is then the town's managing district or zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    pub holder: HolderSpec,
    pub authority: Authority,
    pub effective_from: DateTime<Utc>,
    /// Exclusive; `null` while open-ended.
    pub effective_to: Option<DateTime<Utc>>,
    pub reason: String,
}

/// Who holds an item, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "snake_case")]
pub enum HolderSpec {
    /// The district's towns and subdistricts.
    Towns,
    /// The district department of this type.
    Department { department_type: String },
}

/// One change in an item's audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditEntry {
    /// The item version this change produced.
    pub version: u64,
    /// When the change was recorded (not when it takes effect).
    pub recorded_at: DateTime<Utc>,
    /// The account that asked for it.
    pub actor: String,
    pub action: ChangeAction,
    /// The district (or `*`) the change applies to; `*` for an import.
    pub district: String,
    /// The towns the change applies to, when it was made for named towns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub towns: Vec<String>,
    pub effective_from: DateTime<Utc>,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChangeAction {
    /// The item was handed to the towns (`delegated` or `empowered`).
    Delegate,
    /// The item was taken back by a district department.
    Recover,
    /// Any other change of holder or authority.
    ChangeHolder,
    /// The item came in through a CSV import.
    Import,
}

/// `POST /api/v1/registry/items/{code}/delegate` · `/recover` · `/holder`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HolderChangeRequest {
    /// A district (or functional zone) code, or `*` for the city-wide default.
    pub district: String,
    /// Named towns of `district`: the change applies to each of them alone (delegate an optional
    /// item to a list of towns, recover an item from one town). Empty: the whole district.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub towns: Vec<String>,
    /// RFC 3339; must not be in the past (history is never rewritten).
    pub effective_from: DateTime<Utc>,
    pub reason: String,
    /// Optional and overwritten: the audit trail records the logged-in account that asked.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub actor: String,
    /// Required by `recover` and, for a department holder, by `holder`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department_type: Option<String>,
    /// `delegate`: `delegated` (default), `empowered` or `statutory`; `recover`: `recovered`
    /// (default) or `department`; `holder`: required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authority: Option<Authority>,
}

/// `GET /api/v1/registry/items/{code}`: an item, its holder now and its whole history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ItemDetail {
    pub code: String,
    pub names: Names,
    pub category: String,
    pub legal_basis: String,
    pub illustrative: bool,
    pub subject_kinds: Vec<SubjectKind>,
    pub persuade_first: bool,
    /// The competent department type, where the item names one.
    pub department_type: Option<String>,
    /// The kinds of town a towns-held assignment applies to; empty = every kind.
    pub town_kinds: Vec<TownKind>,
    /// The statutory penalty per kind of subject (see [`Statutory`]); null for an item without
    /// a penalty.
    #[serde(default)]
    pub statutory: Option<Statutory>,
    /// The city-wide default authority now (null when nobody holds it city-wide now).
    pub authority: Option<Authority>,
    pub holder: Option<HolderView>,
    pub version: u64,
    pub history: Vec<HolderVersion>,
    pub audit: Vec<AuditEntry>,
}

/// `GET /api/v1/districts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DistrictList {
    pub districts: Vec<DistrictView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DistrictView {
    pub code: String,
    pub names: Names,
    /// `district`, `county`, or `functional_zone` (a zone that runs enforcement for the towns it
    /// manages, with its own departments and command centre; its code is synthetic).
    pub kind: String,
    pub illustrative: bool,
    /// The towns whose whistles this district (or zone) answers.
    pub towns: u32,
    pub departments: Vec<DepartmentView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DepartmentView {
    #[serde(flatten)]
    pub department: DepartmentRef,
    pub department_type: String,
    /// True for the command centre that triages whistles nobody holds.
    pub command_centre: bool,
    /// The city-level body that manages the department vertically (e.g. 重庆市消防救援总队), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vertical: Option<Names>,
}

/// `POST /api/v1/registry/import` answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ImportReport {
    pub rows: u32,
    pub items: u32,
    /// Items whose content changed and got a new version.
    pub changed: Vec<String>,
}

/// `POST /api/v1/registry/whatif`: what a proposed change would do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WhatIfRequest {
    pub item: String,
    /// `delegate`, `recover` or `change_holder`.
    pub action: ChangeAction,
    pub change: HolderChangeRequest,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WhatIfReport {
    pub item: String,
    pub district: String,
    pub effective_from: DateTime<Utc>,
    /// Open whistles that would go somewhere else once the change is in force.
    pub open_total: u32,
    pub open_affected: Vec<WhatIfCase>,
    /// Whistles raised in the 30 days before now, routed as if the change had been in force.
    pub last_month_total: u32,
    pub last_month_affected: u32,
    /// `last_month_affected / last_month_total`, 0 when there were none.
    pub last_month_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct WhatIfCase {
    pub id: String,
    pub town: String,
    pub item: String,
    /// Where it goes under the registry now, e.g. `department:500103-EE`, `town`, `triage:500103-CC`.
    pub now: String,
    pub proposed: String,
}

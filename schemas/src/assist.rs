//! Bodies of the assist API (`/api/v1/assist/...` and the enforcement actions
//! `/api/v1/whistles/{id}/inspect|penalty`): item suggestion, discretion benchmarks, fences.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Names;
use crate::registry::{StatutoryRange, SubjectKind};

/// `GET /api/v1/assist/suggest?text=TEXT[&limit=N]`: the likeliest items, best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct SuggestResponse {
    pub suggestions: Vec<ItemSuggestion>,
}

/// One suggested enforcement item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct ItemSuggestion {
    pub item: String,
    /// BM25 score; comparable within one answer only.
    pub score: f64,
    pub names: Names,
    /// The description's terms that matched the item, strongest first: the reason.
    pub matched: Vec<String>,
}

/// The subject of an inspection or penalty as the officer enters it: an enterprise's unified
/// social credit code, or an address (either, or both; the code wins).
///
/// Its kind decides which statutory range and benchmark tier apply: `kind` when given, else a
/// unit when a credit code is given, else the item's only kind when the law punishes one kind
/// only, else an individual.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectInput {
    #[serde(default)]
    pub credit_code: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    /// `individual` (公民, including a sole trader with a credit code) or `unit` (法人或者其他组织).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SubjectKind>,
}

/// `POST /api/v1/whistles/{id}/inspect`: the responding department inspected a subject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InspectRequest {
    pub subject: SubjectInput,
    /// The officers persuaded and educated the subject during this inspection.
    #[serde(default)]
    pub persuaded: bool,
    #[serde(default)]
    pub note: Option<String>,
    /// A re-check (复查) of whether an earlier order to correct was followed: not a new
    /// inspection, so it never trips the repeated-inspection fences.
    #[serde(default)]
    pub recheck: bool,
}

/// `POST /api/v1/whistles/{id}/penalty`: an administrative penalty for the case's item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PenaltyRequest {
    pub subject: SubjectInput,
    /// The item penalised; default: the whistle's. An assisting department of a joint case names
    /// its own. The penalising department must hold it for the case's town at this moment
    /// (`422 not_item_holder` otherwise, never overridable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item: Option<String>,
    /// The fine in whole yuan; 0 for a warning or no penalty.
    pub amount_yuan: u64,
    #[serde(default)]
    pub corrected_in_time: bool,
    #[serde(default)]
    pub serious_consequences: bool,
    /// Persuasion and education were done (and documented) before this penalty.
    #[serde(default)]
    pub persuasion_recorded: bool,
    /// Why the officer proceeds past a fence; required when one trips, and flagged for managers.
    #[serde(default)]
    pub override_reason: Option<String>,
}

/// `POST /api/v1/assist/benchmark`: which discretion tier applies to these facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkRequest {
    pub item: String,
    /// When given, the subject's penalty history decides whether this is a repeat offence, and
    /// its kind which tier applies (see [`SubjectInput`]).
    #[serde(default)]
    pub subject: Option<SubjectInput>,
    /// The kind of subject when no `subject` is given; default: the item's only kind, else
    /// `individual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<SubjectKind>,
    #[serde(default)]
    pub corrected_in_time: bool,
    #[serde(default)]
    pub serious_consequences: bool,
}

/// The discretion tier that applies to the subject's kind, what it allows, and what the law allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct BenchmarkView {
    pub item: String,
    /// The kind of subject the tier and ranges are for.
    pub kind: SubjectKind,
    pub tier: String,
    pub label: Names,
    /// `no_penalty`, `warning` (a warning alone, amount 0, or a fine in the range), `fine` or
    /// `fine_and_suspend`.
    pub action: String,
    /// The tier's fine range for `kind`.
    pub fine_min_yuan: u64,
    pub fine_max_yuan: u64,
    /// What the law allows `kind` (the registry item's `statutory`): a fine outside it is
    /// unlawful whatever the tier says.
    pub statutory: StatutoryRange,
    /// The statutory range is not the article's own words (see the registry item's
    /// `statutory.note`).
    pub statutory_illustrative: bool,
    pub repeat_within_months: u32,
    /// Penalties for this item against this subject within the repeat window.
    pub prior_offences: u32,
    /// Persuasion must come before a penalty for this item.
    pub persuade_first: bool,
}

/// A fence warning as shown to the officer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct FenceWarning {
    pub rule: String,
    pub severity: crate::events::FenceSeverity,
    pub message: String,
}

/// `202 Accepted` answer to an inspection or penalty: Kafka has it; the warnings that tripped are
/// also on the case timeline as `whistle.fenced` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct EnforcementAccepted {
    pub id: uuid::Uuid,
    pub event_id: uuid::Uuid,
    pub status: crate::Status,
    pub warnings: Vec<FenceWarning>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<BenchmarkView>,
}

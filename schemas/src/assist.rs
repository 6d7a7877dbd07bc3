//! Bodies of the assist API (`/api/v1/assist/...` and the enforcement actions
//! `/api/v1/whistles/{id}/inspect|penalty`): item suggestion, discretion benchmarks, fences.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::Names;

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

//! Assisted enforcement: item suggestion.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use whistle_assist::QueryError;
use whistle_assist::index::MAX_LIMIT;
use whistle_schemas::assist::{ItemSuggestion, SuggestResponse};

use super::AppState;
use crate::error::ApiError;
use crate::extract::ApiJson;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuggestQuery {
    text: Option<String>,
    limit: Option<usize>,
}

/// `GET /api/v1/assist/suggest?text=TEXT[&limit=N]`
pub async fn suggest(
    State(state): State<AppState>,
    q: Result<Query<SuggestQuery>, QueryRejection>,
) -> Result<Json<SuggestResponse>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::MalformedBody(format!("bad query string: {}", e.body_text())))?;
    answer(&state, q)
}

/// `POST /api/v1/assist/suggest` with `{"text": ..., "limit": N}`: the same, for text pasted from
/// notes that would not fit in a URL.
pub async fn suggest_body(
    State(state): State<AppState>,
    ApiJson(q): ApiJson<SuggestQuery>,
) -> Result<Json<SuggestResponse>, ApiError> {
    answer(&state, q)
}

fn answer(state: &AppState, q: SuggestQuery) -> Result<Json<SuggestResponse>, ApiError> {
    let text = q.text.unwrap_or_default();
    let text = whistle_assist::validate_query(&text).map_err(|e| ApiError::InvalidField {
        field: "text",
        message: match e {
            QueryError::Empty => "describe the problem in a few words (Chinese or English)".to_owned(),
            other => other.to_string(),
        },
    })?;
    let limit = match q.limit {
        None => 5,
        Some(n @ 1..=MAX_LIMIT) => n,
        Some(_) => {
            return Err(ApiError::InvalidField { field: "limit", message: format!("must be 1 to {MAX_LIMIT}") });
        }
    };
    // Microseconds of CPU on a small index: no need to leave the async worker.
    let suggestions = state
        .assist
        .index
        .suggest(text, limit)
        .into_iter()
        .map(|s| ItemSuggestion { item: s.item.to_string(), score: s.score, names: s.names, matched: s.matched })
        .collect();
    Ok(Json(SuggestResponse { suggestions }))
}

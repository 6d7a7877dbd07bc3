//! `GET /api/v1/sla/summary[?district=CODE][&window_hours=N]`.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use serde::Deserialize;
use whistle_auth::Principal;
use whistle_schemas::api::ErrorBody;

use crate::policy::Policies;
use crate::store::SlaStore;
use crate::summary::summarize;

/// Longest window a summary may cover.
pub const MAX_WINDOW_HOURS: i64 = 24 * 90;

#[derive(Clone)]
pub struct HttpState {
    pub store: SlaStore,
    pub policies: Arc<Policies>,
    pub registry: whistle_registry::LiveRegistry,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SummaryQuery {
    district: Option<String>,
    window_hours: Option<i64>,
}

fn error(status: StatusCode, code: &str, message: String) -> Response {
    (status, Json(ErrorBody::new(code, message))).into_response()
}

/// Managers see their scope (the city, or one district); a command centre sees its district.
pub async fn summary(
    State(state): State<HttpState>,
    principal: Principal,
    q: Result<Query<SummaryQuery>, QueryRejection>,
) -> Response {
    let q = match q {
        Ok(Query(q)) => q,
        Err(e) => return error(StatusCode::BAD_REQUEST, "malformed_query", e.body_text()),
    };
    let hours = q.window_hours.unwrap_or(24 * 7);
    if !(1..=MAX_WINDOW_HOURS).contains(&hours) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_field",
            format!("window_hours must be between 1 and {MAX_WINDOW_HOURS}"),
        );
    }
    if let Some(d) = &q.district
        && (d.len() != 6 || !d.bytes().all(|b| b.is_ascii_digit()))
    {
        return error(StatusCode::BAD_REQUEST, "invalid_field", "district must be a 6-digit code".into());
    }
    if let Some(d) = &q.district
        && whistle_registry::DistrictCode::parse(d).ok().is_none_or(|c| state.registry.current().district(&c).is_none())
    {
        return error(StatusCode::NOT_FOUND, "not_found", format!("unknown district {d}"));
    }
    let district = match principal.sla_scope(q.district.as_deref()) {
        Ok(district) => district,
        Err(why) => return whistle_auth::AuthError::forbidden(format!("{why}; you are {principal}")).into_response(),
    };
    let now = Utc::now();
    let from = now - Duration::hours(hours);
    match state.store.cases_between(from, now).await {
        Ok(cases) => {
            let registry = state.registry.current();
            let names = |code: &str| {
                let code = whistle_registry::DepartmentCode::parse(code).ok()?;
                registry.department(&code).map(|d| d.names.clone())
            };
            Json(summarize(&cases, &state.policies, names, district, from, now)).into_response()
        }
        Err(err) => {
            tracing::error!(error = %format_args!("{err:#}"), "summary failed");
            error(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "SLA state is unavailable; retry shortly".into())
        }
    }
}

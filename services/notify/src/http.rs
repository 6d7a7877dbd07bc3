//! The notifier's API, for administrators and (for their district) command centres:
//!
//! - `GET /api/v1/rosters[?district=D]`, `GET|PUT /api/v1/rosters/{unit}`: the duty rosters;
//! - `GET /api/v1/rosters/{unit}/on-duty[?at=RFC3339]`: who each escalation target reaches;
//! - `GET /api/v1/notify/dead-letters[?district=D&limit=N]`: the notifications given up on;
//! - `/api/v1/webhooks...`: outbound webhooks ([`crate::webhooks::http`]).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use whistle_auth::{AuthError, Principal, Role};
use whistle_schemas::api::ErrorBody;
use whistle_schemas::notify as wire;

use crate::roster::{Roster, Unit, person_view};
use crate::store::NotifyStore;

/// Dead letters answered at most by one call.
pub const MAX_DEAD_LETTERS: i64 = 500;

#[derive(Clone)]
pub struct HttpState {
    pub store: NotifyStore,
    pub webhooks: crate::settings::WebhookSettings,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    MalformedQuery(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    /// A webhook receiver on an address the deployment does not reach.
    #[error("{0}")]
    TargetNotAllowed(String),
    #[error("{0}")]
    LimitReached(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::Auth(err) => return err.clone().into_response(),
            ApiError::Malformed(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
            ApiError::MalformedQuery(_) => (StatusCode::BAD_REQUEST, "malformed_query"),
            ApiError::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_field"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::TargetNotAllowed(_) => (StatusCode::BAD_REQUEST, "target_not_allowed"),
            ApiError::LimitReached(_) => (StatusCode::CONFLICT, "webhook_limit_reached"),
            ApiError::Unexpected(err) => {
                tracing::warn!(error = %format_args!("{err:#}"), "notifier store unavailable");
                let body = ErrorBody::new("unavailable", "the notifier's database did not answer; retry shortly");
                return (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "2")], Json(body)).into_response();
            }
        };
        (status, Json(ErrorBody::new(code, self.to_string()))).into_response()
    }
}

/// The district whose rosters `principal` administers: `None` for an administrator (all of
/// them); a command centre its own; nobody else any.
pub(crate) fn scope(principal: &Principal) -> Result<Option<&str>, ApiError> {
    match &principal.role {
        Role::Admin => Ok(None),
        Role::CommandCentre { district } => Ok(Some(district)),
        Role::Town { .. } | Role::Department { .. } | Role::Manager { .. } | Role::Supervisor { .. } => {
            Err(AuthError::forbidden(
                "rosters, notifications and webhooks are administered by an administrator or the district's command centre",
            )
            .into())
        }
    }
}

fn unit_in_scope(principal: &Principal, unit: &str) -> Result<Unit, ApiError> {
    let district = scope(principal)?;
    let unit = Unit::parse(unit).map_err(|e| ApiError::Invalid(e.to_string()))?;
    match district {
        Some(d) if d != unit.district() => Err(AuthError::forbidden(format!("{unit} is outside district {d}")).into()),
        _ => Ok(unit),
    }
}

/// A district filter asked for by `principal`: a command centre's own, whatever it asks.
pub(crate) fn district_filter<'a>(
    principal: &'a Principal,
    asked: Option<&'a str>,
) -> Result<Option<&'a str>, ApiError> {
    match (scope(principal)?, asked) {
        (Some(own), Some(asked)) if own != asked => {
            Err(AuthError::forbidden(format!("district {asked} is not this command centre's")).into())
        }
        (Some(own), _) => Ok(Some(own)),
        (None, asked) => Ok(asked),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictQuery {
    district: Option<String>,
    limit: Option<i64>,
}

pub async fn list_rosters(
    State(state): State<HttpState>,
    principal: Principal,
    q: Result<Query<DistrictQuery>, QueryRejection>,
) -> Result<Json<wire::RosterList>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::MalformedQuery(e.body_text()))?;
    let district = district_filter(&principal, q.district.as_deref())?;
    Ok(Json(wire::RosterList { rosters: state.store.rosters(district).await? }))
}

pub async fn get_roster(
    State(state): State<HttpState>,
    principal: Principal,
    Path(unit): Path<String>,
) -> Result<Json<wire::Roster>, ApiError> {
    let unit = unit_in_scope(&principal, &unit)?;
    match state.store.roster(unit.as_str()).await? {
        Some(r) => Ok(Json(r)),
        None => Err(ApiError::NotFound(format!("{unit} has no roster"))),
    }
}

/// Replaces the whole roster after checking every time, day and reference.
pub async fn put_roster(
    State(state): State<HttpState>,
    principal: Principal,
    Path(unit): Path<String>,
    body: Result<Json<wire::Roster>, JsonRejection>,
) -> Result<Json<wire::Roster>, ApiError> {
    let unit = unit_in_scope(&principal, &unit)?;
    let Json(body) = body.map_err(|e| ApiError::Malformed(e.body_text()))?;
    Roster::parse(unit.as_str(), &body).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let stored = state.store.put_roster(&unit, &body, &principal.user).await?;
    tracing::info!(%unit, by = %principal.user, people = body.people.len(), "roster replaced");
    Ok(Json(stored))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AtQuery {
    at: Option<DateTime<Utc>>,
}

pub async fn on_duty(
    State(state): State<HttpState>,
    principal: Principal,
    Path(unit): Path<String>,
    q: Result<Query<AtQuery>, QueryRejection>,
) -> Result<Json<wire::OnDuty>, ApiError> {
    let unit = unit_in_scope(&principal, &unit)?;
    let Query(q) = q.map_err(|e| ApiError::MalformedQuery(e.body_text()))?;
    let at = q.at.unwrap_or_else(Utc::now);
    let Some(stored) = state.store.roster(unit.as_str()).await? else {
        return Err(ApiError::NotFound(format!("{unit} has no roster")));
    };
    let roster = Roster::parse(unit.as_str(), &stored).map_err(|e| ApiError::Invalid(e.to_string()))?;
    let roles: BTreeMap<_, _> =
        roster.roles.iter().map(|(k, &i)| (k.clone(), person_view(&roster.people[i]))).collect();
    Ok(Json(wire::OnDuty { unit: unit.to_string(), at, duty_officer: roster.on_duty(at).map(person_view), roles }))
}

pub async fn dead_letters(
    State(state): State<HttpState>,
    principal: Principal,
    q: Result<Query<DistrictQuery>, QueryRejection>,
) -> Result<Json<wire::NotificationList>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::MalformedQuery(e.body_text()))?;
    let district = district_filter(&principal, q.district.as_deref())?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_DEAD_LETTERS).contains(&limit) {
        return Err(ApiError::Invalid(format!("limit: 1 to {MAX_DEAD_LETTERS}")));
    }
    Ok(Json(wire::NotificationList { notifications: state.store.dead_letters(district, limit).await? }))
}

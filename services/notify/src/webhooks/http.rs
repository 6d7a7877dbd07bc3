//! `/api/v1/webhooks...`: administrators for any scope (a district, or every district), a
//! district's command centre for its own district only; everyone else `403`.
//!
//! - `POST /api/v1/webhooks` `{"url", "events", "district"?}` → `201 {"id", "secret", "webhook"}`;
//! - `GET /api/v1/webhooks[?district=D]`, `GET|DELETE /api/v1/webhooks/{id}`;
//! - `POST /api/v1/webhooks/{id}/resume`: a paused subscription hears events again;
//! - `GET /api/v1/webhooks/{id}/deliveries[?limit=N]`: deliveries with their attempts.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use uuid::Uuid;
use whistle_auth::{AuthError, Principal};
use whistle_schemas::notify as wire;

use super::store::CreateOutcome;
use super::{District, Subscription, SubscriptionError, new_secret, target};
use crate::http::{ApiError, HttpState, district_filter, scope};

/// Deliveries answered at most by one call.
pub const MAX_LISTED_DELIVERIES: i64 = 500;

impl From<SubscriptionError> for ApiError {
    fn from(err: SubscriptionError) -> ApiError {
        match err {
            SubscriptionError::Invalid { .. } => ApiError::Invalid(err.to_string()),
            SubscriptionError::NotAllowed(_) => ApiError::TargetNotAllowed(err.to_string()),
        }
    }
}

/// The subscription `id` if `principal` administers it: `404` when there is none, `403` when
/// it is another district's (or every district's, for a command centre).
async fn in_scope(state: &HttpState, principal: &Principal, id: &str) -> Result<(Uuid, wire::Webhook), ApiError> {
    let own = scope(principal)?;
    let not_found = || ApiError::NotFound(format!("no webhook {id}"));
    let uuid = Uuid::parse_str(id).map_err(|_| not_found())?;
    let webhook = state.store.webhook(uuid).await?.ok_or_else(not_found)?;
    match (own, webhook.district.as_deref()) {
        (None, _) => Ok((uuid, webhook)),
        (Some(own), Some(d)) if d == own => Ok((uuid, webhook)),
        (Some(own), _) => {
            Err(AuthError::forbidden(format!("webhook {id} is not district {own}'s to administer")).into())
        }
    }
}

pub async fn create(
    State(state): State<HttpState>,
    principal: Principal,
    body: Result<Json<wire::WebhookRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<wire::WebhookCreated>), ApiError> {
    let own = scope(&principal)?;
    let Json(body) = body.map_err(|e| ApiError::Malformed(e.body_text()))?;
    let mut sub = Subscription::parse(&body)?;
    if let Some(own) = own {
        match &sub.district {
            Some(d) if d.as_str() != own => {
                return Err(AuthError::forbidden(format!(
                    "a command centre subscribes to its own district's cases ({own}), not {}'s",
                    d.as_str()
                ))
                .into());
            }
            Some(_) => {}
            None => sub.district = Some(District::parse(own)?),
        }
    }
    target::check_target(&sub.url, state.webhooks.allow_private_targets).await?;
    let secret = new_secret();
    let cap = state.webhooks.max_per_scope;
    match state.store.create_webhook(&sub, &secret, &principal.user, cap).await? {
        CreateOutcome::Created(webhook) => {
            tracing::info!(
                webhook = %webhook.id, by = %principal.user, district = webhook.district.as_deref().unwrap_or("*"),
                events = webhook.events.len(), "webhook subscribed"
            );
            Ok((StatusCode::CREATED, Json(wire::WebhookCreated { id: webhook.id.clone(), secret, webhook })))
        }
        CreateOutcome::LimitReached => {
            let scope =
                sub.district.as_ref().map_or("every district".to_owned(), |d| format!("district {}", d.as_str()));
            Err(ApiError::LimitReached(format!(
                "{scope} already has {cap} webhooks (webhooks.max_per_scope): delete one first"
            )))
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    district: Option<String>,
}

pub async fn list(
    State(state): State<HttpState>,
    principal: Principal,
    q: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<wire::WebhookList>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::MalformedQuery(e.body_text()))?;
    let district = district_filter(&principal, q.district.as_deref())?;
    if let Some(d) = district {
        District::parse(d)?;
    }
    Ok(Json(wire::WebhookList { webhooks: state.store.webhooks(district).await? }))
}

pub async fn get(
    State(state): State<HttpState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<wire::Webhook>, ApiError> {
    Ok(Json(in_scope(&state, &principal, &id).await?.1))
}

pub async fn delete(
    State(state): State<HttpState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (uuid, _) = in_scope(&state, &principal, &id).await?;
    if !state.store.delete_webhook(uuid).await? {
        return Err(ApiError::NotFound(format!("no webhook {id}")));
    }
    tracing::info!(webhook = %uuid, by = %principal.user, "webhook deleted");
    Ok(StatusCode::NO_CONTENT)
}

pub async fn resume(
    State(state): State<HttpState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Json<wire::Webhook>, ApiError> {
    let (uuid, before) = in_scope(&state, &principal, &id).await?;
    let webhook =
        state.store.resume_webhook(uuid).await?.ok_or_else(|| ApiError::NotFound(format!("no webhook {id}")))?;
    if before.state != "active" {
        tracing::info!(webhook = %uuid, by = %principal.user, "webhook resumed");
    }
    Ok(Json(webhook))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveriesQuery {
    limit: Option<i64>,
}

pub async fn deliveries(
    State(state): State<HttpState>,
    principal: Principal,
    Path(id): Path<String>,
    q: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Json<wire::WebhookDeliveryList>, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::MalformedQuery(e.body_text()))?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LISTED_DELIVERIES).contains(&limit) {
        return Err(ApiError::Invalid(format!("limit: 1 to {MAX_LISTED_DELIVERIES}")));
    }
    let (uuid, _) = in_scope(&state, &principal, &id).await?;
    Ok(Json(wire::WebhookDeliveryList { deliveries: state.store.webhook_deliveries(uuid, limit).await? }))
}

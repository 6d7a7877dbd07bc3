//! The registry's HTTP API: read endpoints, admin changes, CSV, what-if.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chrono::Utc;
use rdkafka::producer::FutureProducer;
use serde::Deserialize;
use tokio::sync::Mutex;
use whistle_auth::{Principal, Verifier, require_auth};
use whistle_schemas::api::ItemList;
use whistle_schemas::registry::{
    ChangeAction, DistrictList, HolderChangeRequest, ImportReport, ItemDetail, WhatIfReport, WhatIfRequest,
};

use super::error::ApiError;
use super::{views, whatif};
use crate::change::propose;
use crate::codes::{DistrictCode, ItemCode};
use crate::live::{LiveRegistry, publish};

#[derive(Clone)]
pub struct AppState {
    pub live: LiveRegistry,
    pub producer: FutureProducer,
    pub registry_topic: Arc<str>,
    /// The case store, for the what-if's indexes.
    pub cases: whistle_casestore::CaseStore,
    /// Changes are decided on the current version and published one at a time, so two
    /// concurrent changes of one item cannot both claim the same next version.
    pub writer: Arc<Mutex<()>>,
    /// Changes published, by action (delegate, recover, change_holder, import).
    pub changes: prometheus::IntCounterVec,
    /// Verifies tokens: signature, expiry and the denylist of revoked ones.
    pub verifier: Arc<Verifier>,
}

/// Every route needs a token; reads are open to every role, changes to registry administrators.
pub fn router(
    state: AppState,
    max_import_bytes: usize,
    rate_limit: whistle_common::ratelimit::RateLimitLayer,
    timeout: std::time::Duration,
) -> Router {
    let verifier = state.verifier.clone();
    let api = Router::new()
        .route("/api/v1/registry/items", get(items))
        .route("/api/v1/registry/items/{code}", get(item))
        .route("/api/v1/registry/items/{code}/delegate", post(delegate).layer(axum::middleware::from_fn(admins_only)))
        .route("/api/v1/registry/items/{code}/recover", post(recover).layer(axum::middleware::from_fn(admins_only)))
        .route(
            "/api/v1/registry/items/{code}/holder",
            post(change_holder).layer(axum::middleware::from_fn(admins_only)),
        )
        .route("/api/v1/registry/export", get(export))
        // The body limit inside, the administrator check outside: nobody else's body is read.
        .route(
            "/api/v1/registry/import",
            post(import).layer(DefaultBodyLimit::max(max_import_bytes)).layer(axum::middleware::from_fn(admins_only)),
        )
        .route("/api/v1/registry/whatif", post(what_if))
        .route("/api/v1/districts", get(districts))
        .route_layer(axum::middleware::from_fn_with_state(verifier, require_auth))
        .fallback(whistle_common::http_errors::not_found)
        .layer(DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
        .layer(rate_limit);
    whistle_common::http::api_layers(api, timeout)
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| ApiError::MalformedQuery(format!("bad query string: {}", e.body_text())))
}

fn json<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(t)| t).map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::MalformedBody(e.body_text())
        }
    })
}

/// serde's messages can quote the input; keep them short.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistrictQuery {
    district: Option<String>,
    /// RFC 3339: "who holds each item in this district at this time"; defaults to now.
    at: Option<String>,
}

/// `GET /api/v1/registry/items[?district=CODE][&at=RFC3339]`: the same shape intake serves.
async fn items(
    State(state): State<AppState>,
    q: Result<Query<DistrictQuery>, QueryRejection>,
) -> Result<Json<ItemList>, ApiError> {
    let q = query(q)?;
    let registry = state.live.current();
    let district = match q.district.as_deref() {
        None | Some("*") => None,
        Some(d) => {
            let code = DistrictCode::parse(d)
                .map_err(|e| ApiError::InvalidField { field: "district", message: e.to_string() })?;
            registry.district(&code).ok_or_else(|| ApiError::NotFound(format!("unknown district {code}")))?;
            Some(code)
        }
    };
    let at = match q.at.as_deref() {
        None => Utc::now(),
        Some(s) => chrono::DateTime::parse_from_rfc3339(s)
            .map_err(|e| ApiError::InvalidField { field: "at", message: format!("not an RFC 3339 time: {e}") })?
            .with_timezone(&Utc),
    };
    let items = registry.items().map(|i| views::item_view(&registry, i, district.as_ref(), at)).collect();
    Ok(Json(ItemList { district: district.map_or_else(|| "*".to_owned(), |d| d.to_string()), at, items }))
}

/// `GET /api/v1/registry/items/{code}`: the item with its whole history and audit trail.
async fn item(State(state): State<AppState>, Path(code): Path<String>) -> Result<Json<ItemDetail>, ApiError> {
    let registry = state.live.current();
    let item = ItemCode::parse(&code)
        .ok()
        .and_then(|c| registry.item(&c))
        .ok_or_else(|| ApiError::NotFound(format!("unknown item {code:.40}")))?;
    Ok(Json(views::item_detail(&registry, item, Utc::now())))
}

async fn districts(State(state): State<AppState>) -> Json<DistrictList> {
    Json(views::district_list(&state.live.current()))
}

async fn delegate(
    state: State<AppState>,
    principal: Principal,
    code: Path<String>,
    body: Result<Json<HolderChangeRequest>, JsonRejection>,
) -> Result<Json<ItemDetail>, ApiError> {
    change(state, principal, code, ChangeAction::Delegate, body).await
}

async fn recover(
    state: State<AppState>,
    principal: Principal,
    code: Path<String>,
    body: Result<Json<HolderChangeRequest>, JsonRejection>,
) -> Result<Json<ItemDetail>, ApiError> {
    change(state, principal, code, ChangeAction::Recover, body).await
}

async fn change_holder(
    state: State<AppState>,
    principal: Principal,
    code: Path<String>,
    body: Result<Json<HolderChangeRequest>, JsonRejection>,
) -> Result<Json<ItemDetail>, ApiError> {
    change(state, principal, code, ChangeAction::ChangeHolder, body).await
}

/// Decide on the current version, publish (Kafka acknowledges), then apply locally: a change is
/// either on the topic, and so reaches every copy, or it did not happen.
/// Only registry administrators change the registry.
/// Refuses a change from anyone but a registry administrator before the handler runs, so the
/// body (up to 8 MiB for an import) is never read for them. Sits inside `require_auth`.
async fn admins_only(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    match request.extensions().get::<Principal>().map(require_admin) {
        Some(Ok(())) => next.run(request).await,
        Some(Err(err)) => err.into_response(),
        // Behind `require_auth` a principal is always there; without one, fail closed.
        None => {
            ApiError::from(whistle_auth::AuthError::forbidden("no account on the request".to_owned())).into_response()
        }
    }
}

fn require_admin(principal: &Principal) -> Result<(), ApiError> {
    if principal.is_admin() {
        Ok(())
    } else {
        Err(whistle_auth::AuthError::forbidden(format!(
            "changing the registry is for administrators; you are {principal}"
        ))
        .into())
    }
}

async fn change(
    State(state): State<AppState>,
    principal: Principal,
    Path(code): Path<String>,
    action: ChangeAction,
    body: Result<Json<HolderChangeRequest>, JsonRejection>,
) -> Result<Json<ItemDetail>, ApiError> {
    require_admin(&principal)?;
    let mut req = json(body)?;
    req.actor = principal.user.clone();
    let _writer = state.writer.lock().await;
    let now = Utc::now();
    let item = propose(&state.live.current(), &code, action, &req, now)?;
    publish(&state.producer, &state.registry_topic, &item).await.map_err(|e| {
        tracing::warn!(error = %format_args!("{e:#}"), "registry change not published");
        ApiError::Unavailable("Kafka did not take the change; nothing was changed, retry".into())
    })?;
    tracing::info!(item = %item.code, version = item.version, action = ?action, district = %req.district, effective_from = %req.effective_from, "registry change published");
    state.changes.with_label_values(&[action_label(action)]).inc();
    state.live.put(item.clone());
    let registry = state.live.current();
    Ok(Json(views::item_detail(&registry, &item, now)))
}

fn action_label(action: ChangeAction) -> &'static str {
    match action {
        ChangeAction::Delegate => "delegate",
        ChangeAction::Recover => "recover",
        ChangeAction::ChangeHolder => "change_holder",
        ChangeAction::Import => "import",
    }
}

/// `GET /api/v1/registry/export`: the catalogue as CSV.
async fn export(State(state): State<AppState>) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"registry.csv\""),
        ],
        crate::csv::export(&state.live.current()),
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// Accepted for older clients and ignored: the audit records the logged-in account.
    #[serde(default)]
    #[allow(dead_code)]
    actor: Option<String>,
}

/// `POST /api/v1/registry/import` with a CSV body: all rows or none.
async fn import(
    State(state): State<AppState>,
    principal: Principal,
    q: Result<Query<ImportQuery>, QueryRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ImportReport>, ApiError> {
    require_admin(&principal)?;
    let _ = query(q)?;
    let body = body.map_err(|e| {
        if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::TooLarge
        } else {
            ApiError::MalformedBody(e.body_text())
        }
    })?;
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::MalformedBody(format!("the CSV is not UTF-8 (byte {})", e.valid_up_to())))?;
    let _writer = state.writer.lock().await;
    let import = crate::csv::import(&state.live.current(), text, &principal.user, Utc::now()).map_err(ApiError::Csv)?;
    // All of it is valid; publish each changed item. A failure midway leaves the published items
    // applied everywhere and the rest untouched, and a retry of the same file converges.
    for item in &import.changed {
        publish(&state.producer, &state.registry_topic, item).await.map_err(|e| {
            tracing::warn!(error = %format_args!("{e:#}"), "registry import not fully published");
            ApiError::Unavailable("Kafka did not take the import; retry the same file".into())
        })?;
    }
    state.changes.with_label_values(&["import"]).inc_by(import.changed.len() as u64);
    let changed = import.changed.iter().map(|i| i.code.to_string()).collect();
    for item in import.changed {
        state.live.put(item);
    }
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    Ok(Json(ImportReport { rows: count(import.rows), items: count(import.items), changed }))
}

/// `POST /api/v1/registry/whatif`: what a proposed change would re-route; nothing is changed.
async fn what_if(
    State(state): State<AppState>,
    principal: Principal,
    body: Result<Json<WhatIfRequest>, JsonRejection>,
) -> Result<Json<WhatIfReport>, ApiError> {
    require_admin(&principal)?;
    let mut req = json(body)?;
    req.change.actor = principal.user.clone();
    let now = Utc::now();
    let current = state.live.current();
    let proposed = current.with_item(propose(&current, &req.item, req.action, &req.change, now)?);
    let inputs = state.cases.what_if_inputs(&req.item, whatif::window_start(now)).await.map_err(|e| {
        tracing::warn!(error = %e, "case views unavailable");
        ApiError::Unavailable("case views are unavailable; retry shortly".into())
    })?;
    Ok(Json(whatif::compare(
        &current,
        &proposed,
        &req.item,
        &req.change.district,
        &inputs,
        req.change.effective_from,
        now,
    )))
}

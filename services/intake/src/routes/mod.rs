//! The API's routes and shared state.

mod accounts;
mod assist;
mod attachments;
mod auth;
pub mod behalf;
mod cases;
pub mod hotline;
mod oidc;
pub mod open311;
mod registry;
mod whistles;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use whistle_auth::{Directory, TokenKeys, Verifier, require_auth};
use whistle_common::ratelimit::RateLimitLayer;
use whistle_registry::LiveRegistry;

use crate::error::ApiError;
use crate::metrics::Metrics;
use crate::ports::{Cases, EventLog};

pub use attachments::{Evidence, MULTIPART_OVERHEAD};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// The local copy of the registry, kept current from the registry topic.
    pub registry: LiveRegistry,
    /// Item suggestion index, benchmarks and fence rules, built once at start-up.
    pub assist: Arc<whistle_assist::Assist>,
    /// Subjects' inspection and penalty history (Redis), for fences and repeat offences.
    pub history: whistle_assist::history::SubjectHistory,
    /// The case topic (Kafka in the service, [`crate::memory::MemoryLog`] in handler tests).
    pub log: Arc<dyn EventLog>,
    /// The case store (Redis in the service, [`crate::memory::MemoryCases`] in handler tests).
    pub store: Arc<dyn Cases>,
    pub metrics: Metrics,
    /// Signs tokens at login.
    pub keys: Arc<TokenKeys>,
    /// Verifies tokens (signature, expiry, the denylist) and revokes them.
    pub verifier: Arc<Verifier>,
    /// Who can log in.
    pub directory: Directory,
    /// The account store, when `database.url` is set.
    pub accounts: Option<whistle_accounts::AccountStore>,
    /// The evidence attachment store, when `attachments.store` (and `database.url`) is set.
    pub evidence: Option<Evidence>,
    /// Whether a client's address comes from `X-Forwarded-For` (`rate_limit.trust_forwarded_for`).
    pub trust_forwarded_for: bool,
    /// Open311 clients' API keys (`open311.keys_file`, and the demo key on a demo stack).
    pub open311: Arc<open311::Open311Keys>,
    /// The duplicate finder's radius and window.
    pub duplicates: Arc<crate::settings::DuplicateSettings>,
    /// Single sign-on, when `auth.oidc.issuer` is set.
    pub oidc: Option<Arc<crate::oidc::Oidc>>,
}

/// The API router (without the admin routes).
///
/// Layers, innermost first: the body limit, the rate limit (it must sit inside anything that
/// identifies the caller, so its key closure can charge the user rather than the address), the
/// JSON error safety net, the bound on requests in flight (`503 overloaded`), and the metrics,
/// which count every answer including `429`s and `503`s.
pub fn router(
    state: AppState,
    max_body_bytes: usize,
    rate_limit: RateLimitLayer,
    timeout: std::time::Duration,
    in_flight: whistle_common::http::InFlightLimit,
) -> Router {
    let metrics = state.metrics.clone();
    let verifier = state.verifier.clone();
    // An upload's own limit: its kind's (checked as it streams in) bounds it first; this bounds
    // the whole multipart body.
    let upload_limit = state.evidence.as_ref().map_or(max_body_bytes, |e| {
        usize::try_from(e.max_image_bytes.max(e.max_video_bytes))
            .unwrap_or(usize::MAX)
            .saturating_add(MULTIPART_OVERHEAD)
    });
    let api = Router::new()
        .route("/api/v1/auth/me", get(auth::me))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/auth/password", post(auth::change_password))
        .route("/api/v1/accounts", get(accounts::list).post(accounts::create))
        .route("/api/v1/accounts/audit", get(accounts::audit))
        .route("/api/v1/accounts/{username}/disable", post(accounts::disable))
        .route("/api/v1/accounts/{username}/enable", post(accounts::enable))
        .route("/api/v1/accounts/{username}/password", post(accounts::reset_password))
        .route("/api/v1/accounts/{username}/role", post(accounts::assign_role))
        .route("/api/v1/towns", get(registry::towns))
        .route("/api/v1/route", get(registry::route))
        .route("/api/v1/assist/suggest", get(assist::suggest).post(assist::suggest_body))
        .route("/api/v1/assist/benchmark", post(assist::benchmark))
        .route("/api/v1/whistles", post(whistles::raise))
        .route("/api/v1/hotline/orders", post(hotline::import).layer(DefaultBodyLimit::max(hotline::MAX_BODY_BYTES)))
        .route("/api/v1/whistles/duplicates", get(whistles::duplicates))
        .route("/api/v1/whistles/{id}", get(whistles::get))
        .route("/api/v1/whistles/{id}/merge", post(whistles::merge))
        .route("/api/v1/whistles/{id}/acknowledge", post(whistles::acknowledge))
        .route("/api/v1/whistles/{id}/arrive", post(whistles::arrive))
        .route("/api/v1/whistles/{id}/resolve", post(whistles::resolve))
        .route("/api/v1/whistles/{id}/reject", post(whistles::reject))
        .route("/api/v1/whistles/{id}/transfer", post(whistles::transfer))
        .route("/api/v1/whistles/{id}/pause", post(whistles::pause))
        .route("/api/v1/whistles/{id}/resume", post(whistles::resume))
        .route("/api/v1/whistles/{id}/inspect", post(assist::inspect))
        .route("/api/v1/whistles/{id}/penalty", post(assist::penalty))
        .route("/api/v1/whistles/{id}/confirm", post(cases::confirm))
        .route("/api/v1/whistles/{id}/reopen", post(cases::reopen))
        .route("/api/v1/whistles/{id}/comments", post(cases::comment))
        .route("/api/v1/cases", post(cases::open))
        .route("/api/v1/cases/{id}", get(cases::get))
        .route("/api/v1/cases/{id}/persuade", post(cases::persuade))
        .route("/api/v1/cases/{id}/investigate", post(cases::investigate))
        .route("/api/v1/cases/{id}/notify", post(cases::notify))
        .route("/api/v1/cases/{id}/decide", post(cases::decide_case))
        .route("/api/v1/cases/{id}/serve", post(cases::serve))
        .route("/api/v1/cases/{id}/close", post(cases::close))
        .route("/api/v1/cases/{id}/comments", post(cases::comment))
        .route("/api/v1/attachments", post(attachments::upload).layer(DefaultBodyLimit::max(upload_limit)))
        .route("/api/v1/attachments/{id}", get(attachments::download))
        .route("/api/v1/supervision/queue", get(cases::queue))
        .route("/api/v1/supervision/{item_id}/review", post(cases::review))
        // Every route above needs a valid token; login (by password or single sign-on) is the
        // way in.
        .route_layer(axum::middleware::from_fn_with_state(verifier, require_auth))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/config", get(oidc::config))
        .route("/api/v1/auth/oidc/login", get(oidc::login))
        .route("/api/v1/auth/oidc/callback", get(oidc::callback))
        .route("/api/v1/openapi.json", get(openapi))
        // Open311 GeoReport v2: public reads, `api_key` for posting (docs/open311.md).
        .route("/open311/v2/services.json", get(open311::services))
        .route("/open311/v2/services.xml", get(open311::services))
        .route("/open311/v2/services/{file}", get(open311::service_definition))
        .route("/open311/v2/requests.json", get(open311::list_requests).post(open311::create_request))
        .route("/open311/v2/requests.xml", get(open311::list_requests).post(open311::create_request))
        .route("/open311/v2/requests/{file}", get(open311::get_request))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
        .layer(rate_limit);
    // The in-flight bound sits outside everything but the metrics: a shed request costs no
    // token check and no body read, and is still counted (status 503).
    in_flight
        .layer(whistle_common::http::api_layers(api, timeout))
        .layer(axum::middleware::from_fn_with_state(metrics, crate::metrics::track))
}

/// `GET /api/v1/openapi.json`: the HTTP contract (no token needed), made once from the types.
async fn openapi() -> axum::response::Response {
    static DOCUMENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let text = DOCUMENT.get_or_init(|| whistle_schemas::openapi::document().to_string());
    ([(axum::http::header::CONTENT_TYPE, "application/json")], text.clone()).into_response()
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".into())
}

async fn method_not_allowed() -> Response {
    let body = whistle_schemas::api::ErrorBody::new("method_not_allowed", "this endpoint does not take that method");
    (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response()
}

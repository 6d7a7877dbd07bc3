//! `POST /api/v1/auth/login` and `GET /api/v1/auth/me`.

use axum::Json;
use axum::extract::State;
use whistle_auth::{LoginError, Principal, Role};
use whistle_schemas::api::{AccountView, LoginRequest, LoginResponse};

use super::AppState;
use crate::error::ApiError;
use crate::extract::ApiJson;

/// Checks the password and answers a signed token.
pub async fn login(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let principal = state.directory.login(&req.username, &req.password).await.map_err(|e| {
        // The name as typed, bounded: it may be garbage, and is never a password.
        let user: String = req.username.chars().take(64).collect();
        tracing::warn!(user = ?user, reason = %e, "login refused");
        state.metrics.logins_refused.inc();
        match e {
            LoginError::InvalidCredentials => ApiError::InvalidCredentials,
            LoginError::TooManyAttempts(wait) => ApiError::TooManyAttempts(wait),
            LoginError::Busy => ApiError::Unavailable("too many logins at once; retry shortly".into()),
        }
    })?;
    let (token, expires_at) = state.keys.issue(&principal);
    state.metrics.logins.inc();
    tracing::info!(user = %principal.user, role = principal.role.name(), "logged in");
    Ok(Json(LoginResponse { token, token_type: "Bearer".into(), expires_at, account: account_view(&principal) }))
}

/// Who the token belongs to.
pub async fn me(principal: Principal) -> Json<AccountView> {
    Json(account_view(&principal))
}

pub fn account_view(p: &Principal) -> AccountView {
    let town = match &p.role {
        Role::Town { town, .. } => Some(town.clone()),
        _ => None,
    };
    AccountView {
        user: p.user.clone(),
        role: p.role.name().to_owned(),
        town,
        department: p.acting_department(),
        district: p.district().map(str::to_owned),
    }
}

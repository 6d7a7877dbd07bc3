//! `POST /api/v1/auth/login`, `GET /api/v1/auth/me`, `POST /api/v1/auth/logout` and
//! `POST /api/v1/auth/password` (the logged-in account changes its own password).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use whistle_auth::token::Verified;
use whistle_auth::{LoginError, Principal, Role};
use whistle_schemas::accounts::ChangePasswordRequest;
use whistle_schemas::api::{AccountView, LoginRequest, LoginResponse};

use super::AppState;
use super::accounts::{revoke_all, store_of, unavailable};
use crate::error::ApiError;
use crate::extract::{ApiJson, ClientAddress};

/// A refused login as the API answers it.
pub(super) fn login_error(e: LoginError) -> ApiError {
    match e {
        LoginError::InvalidCredentials => ApiError::InvalidCredentials,
        LoginError::Disabled => ApiError::AccountDisabled,
        LoginError::TooManyAttempts(wait) => ApiError::TooManyAttempts(wait),
        LoginError::AddressBusy => ApiError::TooManyAttempts(std::time::Duration::from_secs(1)),
        LoginError::Busy => ApiError::Unavailable("too many logins at once; retry shortly".into()),
        LoginError::Unavailable => ApiError::Unavailable("the account store is unavailable; retry shortly".into()),
    }
}

/// Checks the password and answers a signed token.
pub async fn login(
    State(state): State<AppState>,
    ClientAddress(client): ClientAddress,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let principal = state.directory.login(&req.username, &req.password, &client).await.map_err(|e| {
        // The name as typed, bounded: it may be garbage, and is never a password.
        let user: String = req.username.chars().take(64).collect();
        tracing::warn!(user = ?user, %client, method = "password", reason = %e, "login refused");
        state.metrics.logins_refused.inc();
        login_error(e)
    })?;
    state.metrics.logins.inc();
    tracing::info!(user = %principal.user, role = principal.role.name(), method = "password", "logged in");
    Ok(Json(issue(&state, &principal).await?))
}

/// A token for `principal` (a password login's or a single sign-on's), issued after any revocation of the account's tokens still in
/// force: right after a change (disabled and enabled again, a new password) the login waits out
/// the rest of [`super::accounts::REVOKE_MARGIN`] instead of answering a token born revoked.
pub(super) async fn issue(state: &AppState, principal: &Principal) -> Result<LoginResponse, ApiError> {
    let until = state.verifier.revocations.revoked_until(&principal.user).await.map_err(|e| unavailable(e.into()))?;
    if let Some(until) = until {
        let wait = (until - chrono::Utc::now()).to_std().unwrap_or_default();
        if !wait.is_zero() {
            let wait = wait.min(super::accounts::REVOKE_MARGIN.to_std().unwrap_or_default());
            tokio::time::sleep(wait + std::time::Duration::from_millis(2)).await;
        }
    }
    let (token, expires_at) = state.keys.issue(principal);
    Ok(LoginResponse { token, token_type: "Bearer".into(), expires_at, account: account_view(principal) })
}

/// Who the token belongs to.
pub async fn me(principal: Principal) -> Json<AccountView> {
    Json(account_view(&principal))
}

/// Revokes the token the request carries (until it would have expired): `204`.
pub async fn logout(State(state): State<AppState>, verified: Verified) -> Result<StatusCode, ApiError> {
    state.verifier.revocations.revoke(&verified).await.map_err(|e| unavailable(e.into()))?;
    tracing::info!(user = %verified.principal.user, "logged out");
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in account sets a new password, giving its current one. Every token of the
/// account, this one too, is revoked; the answer carries a fresh token, as a login's does.
pub async fn change_password(
    State(state): State<AppState>,
    principal: Principal,
    ClientAddress(client): ClientAddress,
    ApiJson(req): ApiJson<ChangePasswordRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let store = store_of(&state)?;
    if state.directory.in_file(&principal.user) {
        return Err(ApiError::AccountReadOnly(
            "this account comes from the accounts file; its password is changed there".into(),
        ));
    }
    let Some(account) = store.find(&principal.user).await.map_err(unavailable)? else {
        return Err(ApiError::AccountReadOnly(
            "a demo account's password is the deployment's demo password; it cannot be changed here".into(),
        ));
    };
    super::accounts::check_new_password(&req.new_password, &principal.user, "new_password")?;
    // The current password is checked as a login would check it, throttled the same way.
    match state.directory.login(&principal.user, &req.old_password, &client).await {
        Ok(_) => {}
        Err(LoginError::InvalidCredentials) => return Err(ApiError::WrongPassword),
        Err(e) => return Err(login_error(e)),
    }
    let hash = state.directory.hash(&req.new_password).await.map_err(ApiError::Unexpected)?;
    match store.change_own_password(&principal, &account.password_hash, &hash).await {
        Ok(_) => {}
        Err(whistle_accounts::StoreError::Changed) => {
            return Err(ApiError::Conflict("the account changed meanwhile; log in again and retry".into()));
        }
        Err(e) => return Err(super::accounts::store_error(e)),
    }
    revoke_all(&state, &principal.user).await?;
    tracing::info!(user = %principal.user, "password changed; the account's earlier tokens are revoked");
    Ok(Json(issue(&state, &principal).await?))
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

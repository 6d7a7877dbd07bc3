//! Account administration (admin only): `GET|POST /api/v1/accounts`,
//! `POST /api/v1/accounts/{username}/{disable|enable|password|role}` and
//! `GET /api/v1/accounts/audit`. Every change is audited by the store; disabling an account,
//! resetting its password or changing its role revokes every token it holds.
//!
//! Authorization comes first: the [`Admin`] extractor refuses anyone else before a body is read.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use whistle_accounts::{Account, AccountStore, StoreError, Username};
use whistle_auth::{Principal, Role};
use whistle_schemas::accounts::{
    AccountAudit, AccountAuditEntry, AccountList, AccountRecord, AccountScope, CreateAccountRequest,
    ResetPasswordRequest,
};

use super::AppState;
use super::registry::query;
use crate::error::ApiError;
use crate::extract::ApiJson;

/// Shortest password an account may be given.
pub const MIN_PASSWORD_CHARS: usize = 10;

/// How far past "now" a revocation reaches: a login of the account whose password check was
/// under way while it changed (it read the account before the change) issues its token within
/// this, and that token is revoked too.
pub const REVOKE_MARGIN: chrono::Duration = chrono::Duration::seconds(1);

/// The caller, known to be an administrator.
pub struct Admin(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let principal = Principal::from_request_parts(parts, state).await?;
        if !principal.is_admin() {
            return Err(ApiError::forbidden("account administration is for administrators"));
        }
        Ok(Admin(principal))
    }
}

pub(super) fn store_of(state: &AppState) -> Result<&AccountStore, ApiError> {
    state.accounts.as_ref().ok_or_else(|| {
        ApiError::Unavailable(
            "no account store is configured (database.url); accounts come from the accounts file".into(),
        )
    })
}

pub(super) fn unavailable(err: anyhow::Error) -> ApiError {
    tracing::warn!(error = %format_args!("{err:#}"), "account store or token denylist unavailable");
    ApiError::Unavailable("the account store is unavailable; nothing was changed, retry shortly".into())
}

pub(super) fn store_error(err: StoreError) -> ApiError {
    match err {
        StoreError::NotFound => ApiError::NotFound("no such account in the account store".into()),
        StoreError::Exists => ApiError::AccountExists("an account with this name exists".into()),
        StoreError::Changed => ApiError::Conflict("the account changed meanwhile; retry".into()),
        StoreError::Unexpected(e) => unavailable(e),
    }
}

/// Revokes every token of `user` issued up to [`REVOKE_MARGIN`] from now; answers that instant.
pub(super) async fn revoke_all(state: &AppState, user: &str) -> Result<DateTime<Utc>, ApiError> {
    let until = Utc::now() + REVOKE_MARGIN;
    state.verifier.revocations.revoke_all(user, until).await.map_err(|e| {
        tracing::error!(%user, error = %e, "account changed but its tokens could not be revoked");
        ApiError::Unavailable(
            "the change is recorded, but the account's tokens could not be revoked; repeat the request".into(),
        )
    })?;
    Ok(until)
}

/// A new password: long enough, bounded, not the account's name.
pub(super) fn check_new_password(password: &str, username: &str, field: &'static str) -> Result<(), ApiError> {
    let chars = password.chars().count();
    if !(MIN_PASSWORD_CHARS..=whistle_auth::accounts::MAX_CREDENTIAL_CHARS).contains(&chars) {
        return Err(ApiError::InvalidField {
            field,
            message: format!(
                "must be {MIN_PASSWORD_CHARS} to {} characters",
                whistle_auth::accounts::MAX_CREDENTIAL_CHARS
            ),
        });
    }
    if password.eq_ignore_ascii_case(username) {
        return Err(ApiError::InvalidField { field, message: "must not be the account's name".into() });
    }
    if password.chars().any(char::is_control) {
        return Err(ApiError::InvalidField { field, message: "must not contain control characters".into() });
    }
    Ok(())
}

fn record(a: &Account) -> AccountRecord {
    let (town, department, district) = match &a.role {
        Role::Town { town, district } => (Some(town.clone()), None, Some(district.clone())),
        Role::Department { department, district } => (None, Some(department.clone()), Some(district.clone())),
        Role::CommandCentre { district } => (None, None, Some(district.clone())),
        Role::Manager { district } | Role::Supervisor { district } => (None, None, district.clone()),
        Role::Admin => (None, None, None),
    };
    AccountRecord {
        username: a.username.clone(),
        role: a.role.name().to_owned(),
        town,
        department,
        district,
        enabled: a.enabled,
        created_at: a.created_at,
        updated_at: a.updated_at,
        password_changed_at: a.password_changed_at,
    }
}

fn username(name: &str) -> Result<Username, ApiError> {
    Username::parse(name).map_err(|e| ApiError::InvalidField { field: "username", message: e.to_string() })
}

/// `GET /api/v1/accounts`
pub async fn list(State(state): State<AppState>, Admin(_): Admin) -> Result<Json<AccountList>, ApiError> {
    let accounts = store_of(&state)?.list().await.map_err(unavailable)?;
    Ok(Json(AccountList { accounts: accounts.iter().map(record).collect() }))
}

/// `POST /api/v1/accounts`: `201` with the new account.
pub async fn create(
    State(state): State<AppState>,
    Admin(admin): Admin,
    ApiJson(req): ApiJson<CreateAccountRequest>,
) -> Result<(StatusCode, Json<AccountRecord>), ApiError> {
    let store = store_of(&state)?;
    let name = username(&req.username)?;
    let scope = AccountScope { role: req.role, town: req.town, department: req.department, district: req.district };
    let role = crate::accounts::role_of(&state.registry, &scope)?;
    check_new_password(&req.password, name.as_str(), "password")?;
    if state.directory.in_file(name.as_str()) {
        return Err(ApiError::AccountExists("the accounts file has an account with this name".into()));
    }
    let hash = state.directory.hash(&req.password).await.map_err(ApiError::Unexpected)?;
    let account = store.create(&admin, &name, &hash, &role).await.map_err(store_error)?;
    tracing::info!(admin = %admin.user, user = %name, role = role.name(), "account created");
    Ok((StatusCode::CREATED, Json(record(&account))))
}

/// `POST /api/v1/accounts/{username}/disable`: the account cannot log in, and its tokens are
/// revoked. Repeating it revokes again (so a revocation that failed can be retried).
pub async fn disable(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(name): Path<String>,
) -> Result<Json<AccountRecord>, ApiError> {
    let store = store_of(&state)?;
    if name == admin.user {
        return Err(ApiError::OwnAccount("you cannot disable your own account".into()));
    }
    let account = store.set_enabled(&admin, &name, false).await.map_err(store_error)?;
    revoke_all(&state, &name).await?;
    tracing::info!(admin = %admin.user, user = %name, "account disabled; its tokens are revoked");
    Ok(Json(record(&account)))
}

/// `POST /api/v1/accounts/{username}/enable`
pub async fn enable(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(name): Path<String>,
) -> Result<Json<AccountRecord>, ApiError> {
    let account = store_of(&state)?.set_enabled(&admin, &name, true).await.map_err(store_error)?;
    tracing::info!(admin = %admin.user, user = %name, "account enabled");
    Ok(Json(record(&account)))
}

/// `POST /api/v1/accounts/{username}/password`: a new password set by an administrator; the
/// account's tokens are revoked.
pub async fn reset_password(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(name): Path<String>,
    ApiJson(req): ApiJson<ResetPasswordRequest>,
) -> Result<Json<AccountRecord>, ApiError> {
    let store = store_of(&state)?;
    check_new_password(&req.password, &name, "password")?;
    // Not hashed for a name the store does not have.
    if store.find(&name).await.map_err(unavailable)?.is_none() {
        return Err(store_error(StoreError::NotFound));
    }
    let hash = state.directory.hash(&req.password).await.map_err(ApiError::Unexpected)?;
    let account = store.reset_password(&admin, &name, &hash).await.map_err(store_error)?;
    revoke_all(&state, &name).await?;
    tracing::info!(admin = %admin.user, user = %name, "password reset; the account's tokens are revoked");
    Ok(Json(record(&account)))
}

/// `POST /api/v1/accounts/{username}/role`: another role and scope; the account's tokens (which
/// carry the old ones) are revoked.
pub async fn assign_role(
    State(state): State<AppState>,
    Admin(admin): Admin,
    Path(name): Path<String>,
    ApiJson(scope): ApiJson<AccountScope>,
) -> Result<Json<AccountRecord>, ApiError> {
    let store = store_of(&state)?;
    let role = crate::accounts::role_of(&state.registry, &scope)?;
    if name == admin.user && role != Role::Admin {
        return Err(ApiError::OwnAccount("you cannot take away your own administrator role".into()));
    }
    let account = store.assign_role(&admin, &name, &role).await.map_err(store_error)?;
    revoke_all(&state, &name).await?;
    tracing::info!(admin = %admin.user, user = %name, role = role.name(), "role assigned; the account's tokens are revoked");
    Ok(Json(record(&account)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    username: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// Audit entries per page unless `limit` says otherwise.
const DEFAULT_AUDIT_PAGE: i64 = 100;

/// `GET /api/v1/accounts/audit[?username=NAME][&before=ID][&limit=N]`: newest first.
pub async fn audit(
    State(state): State<AppState>,
    Admin(_): Admin,
    q: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<AccountAudit>, ApiError> {
    let q = query(q)?;
    let limit = q.limit.unwrap_or(DEFAULT_AUDIT_PAGE);
    if !(1..=whistle_accounts::store::MAX_AUDIT_PAGE).contains(&limit) {
        return Err(ApiError::InvalidField {
            field: "limit",
            message: format!("must be 1 to {}", whistle_accounts::store::MAX_AUDIT_PAGE),
        });
    }
    if let Some(name) = &q.username {
        username(name)?;
    }
    let entries = store_of(&state)?.audit(q.username.as_deref(), q.before, limit).await.map_err(unavailable)?;
    let next_before =
        (entries.len() == usize::try_from(limit).unwrap_or(usize::MAX)).then(|| entries.last().map(|e| e.id)).flatten();
    let entries = entries
        .into_iter()
        .map(|e| AccountAuditEntry {
            id: e.id,
            at: e.at,
            actor: e.actor,
            actor_role: e.actor_role,
            action: e.action,
            username: e.username,
            detail: e.detail,
        })
        .collect();
    Ok(Json(AccountAudit { entries, next_before }))
}

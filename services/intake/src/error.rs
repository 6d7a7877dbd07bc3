//! Every API error, and the one conversion into an HTTP answer.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use whistle_schemas::api::ErrorBody;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The body is not the JSON this endpoint takes.
    #[error("{0}")]
    MalformedBody(String),
    /// The query string is not what this endpoint takes (unknown or repeated parameter, a
    /// value of the wrong type).
    #[error("{0}")]
    MalformedQuery(String),
    /// A field has a value outside what the API accepts.
    #[error("{field}: {message}")]
    InvalidField { field: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("unknown town: {0}")]
    UnknownTown(String),
    #[error("unknown item {0}")]
    UnknownItem(String),
    /// The town holds the item itself: it acts, it does not whistle.
    #[error("{0}")]
    TownHoldsItem(String),
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("{0}")]
    Conflict(String),
    /// The case refused the request's content (`422`, with the case's code): a decision outside
    /// the law or the benchmark, an investigation without two officers.
    #[error("{1}")]
    Refused(&'static str, String),
    /// A town opening a case for an item it does not hold; the message names the holder.
    #[error("{0}")]
    TownLacksAuthority(String),
    /// The case holds as many of these as one case may (`whistle_case::limits`).
    #[error("{0}")]
    CaseLimitReached(String),
    /// Another action on the same whistle was accepted a moment ago and is not recorded yet.
    #[error("{0}")]
    ActionInProgress(String),
    #[error("request body is too large")]
    TooLarge,
    /// An upload past its kind's size limit; the message names the limit.
    #[error("{0}")]
    FileTooLarge(String),
    /// An upload that is not, by its bytes, one of the accepted kinds (or is a broken one).
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// An attachment id that names no attachment of the caller's body (it may exist for
    /// another body: that is not said).
    #[error("{0}")]
    UnknownAttachment(String),
    /// An electronic fence tripped on an action that needs the officer's reason to proceed.
    #[error("{0}")]
    FenceBlocked(String),
    /// Kafka or Redis did not answer; the request was not accepted and may be retried.
    #[error("{0}")]
    Unavailable(String),
    #[error("wrong username or password")]
    InvalidCredentials,
    /// The right password of a disabled account.
    #[error("this account is disabled; ask an administrator")]
    AccountDisabled,
    #[error("too many login attempts; retry in {} s", .0.as_secs().max(1))]
    TooManyAttempts(std::time::Duration),
    /// The old password of a password change is not the account's.
    #[error("the current password is wrong")]
    WrongPassword,
    /// An account of that name exists (in the account store or the accounts file).
    #[error("{0}")]
    AccountExists(String),
    /// The account is not the account store's (the accounts file or a demo account).
    #[error("{0}")]
    AccountReadOnly(String),
    /// An administrator may not disable their own account or take away their own admin role.
    #[error("{0}")]
    OwnAccount(String),
    /// Single sign-on is not configured (`auth.oidc.issuer` is unset).
    #[error("single sign-on is not configured here; log in with a username and password")]
    OidcNotConfigured,
    /// The sign-in cannot go on: no or an expired flow cookie, a `state` that is not the
    /// cookie's, the provider's `error=` answer, or a code it refused.
    #[error("{0}")]
    OidcFlowInvalid(String),
    /// The provider vouched for a name no Whistle account has.
    #[error("no Whistle account is named {0}; ask an administrator to create it")]
    OidcNoAccount(String),
    /// The provider vouched for the name of a disabled account.
    #[error("the Whistle account {0} is disabled; ask an administrator")]
    OidcAccountDisabled(String),
    /// The provider did not answer or answered something unusable; a retry may help.
    #[error("{0}")]
    OidcProviderUnavailable(String),
    /// The provider's id_token failed a check (signature, issuer, audience, expiry, nonce, claim).
    #[error("{0}")]
    OidcTokenInvalid(String),
    /// Not allowed for this account's role or scope (the `auth` crate decides).
    #[error("{0}")]
    Auth(#[from] whistle_auth::AuthError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The case's rules said no: `409`, with the case's reason.
impl From<whistle_case::Refusal> for ApiError {
    fn from(refusal: whistle_case::Refusal) -> ApiError {
        match refusal {
            whistle_case::Refusal::LimitReached { .. } => ApiError::CaseLimitReached(refusal.to_string()),
            r if r.unprocessable() => ApiError::Refused(r.code(), r.to_string()),
            other => ApiError::Conflict(other.to_string()),
        }
    }
}

impl ApiError {
    /// Refused for this account's role or scope.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::Auth(whistle_auth::AuthError::forbidden(message))
    }

    /// A failure of the case store (Redis): the caller may retry.
    pub fn store(err: impl Into<anyhow::Error>) -> ApiError {
        let err = err.into();
        if whistle_common::redis_conn::refused_for_memory(&err) {
            tracing::error!(error = %format_args!("{err:#}"), "case store is full: Redis refuses writes (maxmemory)");
            return ApiError::Unavailable(
                "case state is full and refuses writes; nothing was recorded, retry later".into(),
            );
        }
        tracing::warn!(error = %format_args!("{err:#}"), "case store unavailable");
        ApiError::Unavailable("case state is unavailable; retry shortly".into())
    }

    /// The stable error code the JSON error shape carries.
    pub fn code(&self) -> &'static str {
        self.status_and_code().1
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::MalformedBody(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
            ApiError::MalformedQuery(_) => (StatusCode::BAD_REQUEST, "malformed_query"),
            ApiError::InvalidField { .. } => (StatusCode::BAD_REQUEST, "invalid_field"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::UnknownTown(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_town"),
            ApiError::UnknownItem(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_item"),
            ApiError::TownHoldsItem(_) => (StatusCode::UNPROCESSABLE_ENTITY, "town_holds_item"),
            ApiError::IdempotencyKeyReused => (StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "invalid_transition"),
            ApiError::Refused(code, _) => (StatusCode::UNPROCESSABLE_ENTITY, code),
            ApiError::TownLacksAuthority(_) => (StatusCode::UNPROCESSABLE_ENTITY, "town_lacks_authority"),
            ApiError::ActionInProgress(_) => (StatusCode::CONFLICT, "action_in_progress"),
            ApiError::CaseLimitReached(_) => (StatusCode::CONFLICT, "case_limit_reached"),
            ApiError::TooLarge | ApiError::FileTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::UnknownAttachment(_) => (StatusCode::UNPROCESSABLE_ENTITY, "unknown_attachment"),
            ApiError::FenceBlocked(_) => (StatusCode::UNPROCESSABLE_ENTITY, "override_reason_required"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "invalid_credentials"),
            ApiError::AccountDisabled => (StatusCode::UNAUTHORIZED, "account_disabled"),
            ApiError::TooManyAttempts(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::WrongPassword => (StatusCode::UNPROCESSABLE_ENTITY, "wrong_password"),
            ApiError::AccountExists(_) => (StatusCode::CONFLICT, "account_exists"),
            ApiError::AccountReadOnly(_) => (StatusCode::CONFLICT, "account_read_only"),
            ApiError::OwnAccount(_) => (StatusCode::CONFLICT, "own_account"),
            ApiError::OidcNotConfigured => (StatusCode::NOT_FOUND, "oidc_not_configured"),
            ApiError::OidcFlowInvalid(_) => (StatusCode::BAD_REQUEST, "oidc_flow_invalid"),
            ApiError::OidcNoAccount(_) => (StatusCode::FORBIDDEN, "oidc_no_account"),
            ApiError::OidcAccountDisabled(_) => (StatusCode::FORBIDDEN, "oidc_account_disabled"),
            ApiError::OidcProviderUnavailable(_) => (StatusCode::BAD_GATEWAY, "oidc_provider_unavailable"),
            ApiError::OidcTokenInvalid(_) => (StatusCode::UNAUTHORIZED, "oidc_token_invalid"),
            ApiError::Auth(e) => (e.status(), e.code()),
            ApiError::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// The `Retry-After` of a `503 unavailable`: Kafka or Redis is down or full for now.
const UNAVAILABLE_RETRY_AFTER_SECONDS: u64 = 2;

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        // Internals stay in the log (the error is attached for the logging middleware), never in
        // the body.
        let message = match &self {
            ApiError::Unexpected(_) => "internal error; it has been logged".to_owned(),
            other => other.to_string(),
        };
        let body = ErrorBody::new(code, message);
        let mut response = (status, Json(body)).into_response();
        let retry_after = match &self {
            ApiError::TooManyAttempts(wait) => Some(wait.as_secs() + u64::from(wait.subsec_nanos() > 0)),
            ApiError::Unavailable(_)
            | ApiError::OidcProviderUnavailable(_)
            | ApiError::Auth(whistle_auth::AuthError::Unavailable) => Some(UNAVAILABLE_RETRY_AFTER_SECONDS),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, seconds.max(1).into());
        }
        response.extensions_mut().insert(std::sync::Arc::new(self));
        response
    }
}

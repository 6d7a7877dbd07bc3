//! Authentication for axum services: a layer that verifies the bearer token of every request it
//! wraps, and the [`Principal`] extractor handlers use to learn who is asking.
//!
//! Answers, in the API's error format `{"error": {"code", "message"}}`:
//! - `401 unauthenticated`: no `Authorization: Bearer …` header;
//! - `401 invalid_token`: forged, tampered or unparseable;
//! - `401 token_expired`: log in again;
//! - `401 token_revoked`: logged out, or the account was disabled or changed: log in again;
//! - `403 forbidden`: authenticated, but outside the caller's role or scope;
//! - `503 unavailable`: the token denylist (Redis) did not answer; retry.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use whistle_schemas::api::ErrorBody;

use crate::principal::Principal;
use crate::revocation::Verifier;
use crate::token::{TokenError, TokenKeys, Verified};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("log in first: send Authorization: Bearer <token> (POST /api/v1/auth/login)")]
    Missing,
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("{0}")]
    Forbidden(String),
    /// The denylist could not be asked: the token might be revoked, so it is not accepted.
    #[error("cannot check the token just now; retry shortly")]
    Unavailable,
}

impl AuthError {
    pub fn forbidden(message: impl Into<String>) -> AuthError {
        AuthError::Forbidden(message.into())
    }

    pub fn code(&self) -> &'static str {
        match self {
            AuthError::Missing => "unauthenticated",
            AuthError::Token(TokenError::Invalid) => "invalid_token",
            AuthError::Token(TokenError::Expired) => "token_expired",
            AuthError::Token(TokenError::Revoked) => "token_revoked",
            AuthError::Forbidden(_) => "forbidden",
            AuthError::Unavailable => "unavailable",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
            AuthError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            AuthError::Missing | AuthError::Token(_) => StatusCode::UNAUTHORIZED,
        }
    }
}

impl IntoResponse for AuthError {
    fn into_response(self) -> Response {
        let body = ErrorBody::new(self.code(), self.to_string());
        let mut response = (self.status(), Json(body)).into_response();
        if self.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.status() == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        response
    }
}

/// The bearer token of a request, if it has an `Authorization: Bearer` header.
pub fn bearer(headers: &HeaderMap) -> Result<&str, AuthError> {
    let value = headers.get(header::AUTHORIZATION).ok_or(AuthError::Missing)?;
    let value = value.to_str().map_err(|_| AuthError::Token(TokenError::Invalid))?;
    match value.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(AuthError::Token(TokenError::Invalid)),
    }
}

/// Middleware: refuses requests without a valid, unrevoked token and hands the principal (and
/// the [`Verified`] token, for logout) to handlers.
/// Use with `axum::middleware::from_fn_with_state(verifier, require_auth)`.
pub async fn require_auth(State(verifier): State<Arc<Verifier>>, mut request: Request, next: Next) -> Response {
    let verified = match bearer(request.headers()) {
        Ok(token) => verifier.verify(token).await,
        Err(err) => Err(err),
    };
    match verified {
        Ok(verified) => {
            request.extensions_mut().insert(verified.principal.clone());
            request.extensions_mut().insert(verified);
            next.run(request).await
        }
        Err(err) => err.into_response(),
    }
}

/// The rate-limit key of a request: its account, when it carries a valid token (checking it is an
/// HMAC, microseconds). Requests without one, logins among them, get `None` and are limited by
/// client address.
pub fn rate_key(keys: Arc<TokenKeys>) -> impl Fn(&Request) -> Option<String> + Send + Sync + 'static {
    move |req| {
        let token = bearer(req.headers()).ok()?;
        keys.verify(token).ok().map(|v| format!("user:{}", v.principal.user))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Verified {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Verified>().cloned().ok_or(AuthError::Missing)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Present whenever the route sits behind `require_auth`; absent means a wiring mistake,
        // which must fail closed.
        parts.extensions.get::<Principal>().cloned().ok_or(AuthError::Missing)
    }
}

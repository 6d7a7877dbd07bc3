//! Authentication for axum services: a layer that verifies the bearer token of every request it
//! wraps, and the [`Principal`] extractor handlers use to learn who is asking.
//!
//! Answers, in the API's error format `{"error": {"code", "message"}}`:
//! - `401 unauthenticated`: no `Authorization: Bearer …` header;
//! - `401 invalid_token`: forged, tampered or unparseable;
//! - `401 token_expired`: log in again;
//! - `403 forbidden`: authenticated, but outside the caller's role or scope.

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use whistle_schemas::api::ErrorBody;

use crate::principal::Principal;
use crate::token::{TokenError, TokenKeys};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("log in first: send Authorization: Bearer <token> (POST /api/v1/auth/login)")]
    Missing,
    #[error("{0}")]
    Token(#[from] TokenError),
    #[error("{0}")]
    Forbidden(String),
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
            AuthError::Forbidden(_) => "forbidden",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            AuthError::Forbidden(_) => StatusCode::FORBIDDEN,
            _ => StatusCode::UNAUTHORIZED,
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

/// Middleware: refuses requests without a valid token and hands the principal to handlers.
/// Use with `axum::middleware::from_fn_with_state(keys, require_auth)`.
pub async fn require_auth(State(keys): State<Arc<TokenKeys>>, mut request: Request, next: Next) -> Response {
    match bearer(request.headers()).and_then(|token| keys.verify(token).map_err(AuthError::from)) {
        Ok(verified) => {
            request.extensions_mut().insert(verified.principal);
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

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AuthError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Present whenever the route sits behind `require_auth`; absent means a wiring mistake,
        // which must fail closed.
        parts.extensions.get::<Principal>().cloned().ok_or(AuthError::Missing)
    }
}

//! A JSON body extractor whose rejections are [`ApiError`]s.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`, but every rejection is a 400 (or 413) in the API's error format.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(from_rejection(rejection)),
        }
    }
}

pub(crate) fn from_rejection(rejection: JsonRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::TooLarge;
    }
    match rejection {
        JsonRejection::MissingJsonContentType(_) => {
            ApiError::MalformedBody("expected a JSON body with Content-Type: application/json".into())
        }
        // serde's message names the field and the position, e.g. "unknown field `tonw`".
        JsonRejection::JsonDataError(e) => ApiError::MalformedBody(e.body_text()),
        JsonRejection::JsonSyntaxError(e) => ApiError::MalformedBody(e.body_text()),
        other => ApiError::MalformedBody(other.body_text()),
    }
}

/// The client's address (the key its failed logins are counted under): from the connection, or
/// from `X-Forwarded-For` when `rate_limit.trust_forwarded_for` says a proxy of ours sets it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub String);

impl axum::extract::FromRequestParts<crate::routes::AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &crate::routes::AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip());
        let address = whistle_common::ratelimit::client_address(&parts.headers, peer, state.trust_forwarded_for);
        Ok(ClientAddress(address.map_or_else(|| "unknown".to_owned(), |a| format!("ip:{a}"))))
    }
}

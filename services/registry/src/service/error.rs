//! Every registry API error, and the one conversion into an HTTP answer.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use whistle_schemas::api::ErrorBody;

use crate::change::ChangeError;
use crate::csv::RowError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    MalformedBody(String),
    #[error("{0}")]
    MalformedQuery(String),
    #[error("{field}: {message}")]
    InvalidField { field: &'static str, message: String },
    #[error("{0}")]
    NotFound(String),
    /// A change whose effective range overlaps one already scheduled.
    #[error("{0}")]
    Overlap(String),
    /// A CSV import with broken rows; nothing was applied.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Csv(Vec<RowError>),
    #[error("request body is too large")]
    TooLarge,
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    Auth(#[from] whistle_auth::AuthError),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<ChangeError> for ApiError {
    fn from(err: ChangeError) -> ApiError {
        match err {
            ChangeError::UnknownItem(code) => ApiError::NotFound(format!("unknown item {code}")),
            ChangeError::InvalidField { field, message } => ApiError::InvalidField { field, message },
            overlap @ ChangeError::Overlap { .. } => ApiError::Overlap(overlap.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = match &self {
            ApiError::MalformedBody(_) => (StatusCode::BAD_REQUEST, "malformed_body"),
            ApiError::MalformedQuery(_) => (StatusCode::BAD_REQUEST, "malformed_query"),
            ApiError::InvalidField { .. } => (StatusCode::BAD_REQUEST, "invalid_field"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Overlap(_) => (StatusCode::CONFLICT, "overlapping_range"),
            ApiError::Csv(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_csv"),
            ApiError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::Auth(e) => (e.status(), e.code()),
            ApiError::Unexpected(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        };
        let message = match &self {
            ApiError::Unexpected(_) => "internal error".to_owned(),
            other => other.to_string(),
        };
        (status, Json(ErrorBody::new(code, message))).into_response()
    }
}

//! [`ApiError`]: every error the service answers with, as
//! `{"error": {"code", "message"}}` and the matching status.

use axum::Json;
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::StoreError;

/// An error response. Database internals never reach the client: a
/// [`StoreError::Database`] (or a closed store) is logged in full and
/// answered with a generic `500 internal`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// No or unknown credentials (401).
    #[error("{0}")]
    Unauthorized(String),
    /// The user may not do this (403).
    #[error("{0}")]
    Forbidden(String),
    /// No such collection or row (404).
    #[error("{0}")]
    NotFound(String),
    /// The route does not take the request's method (405; the `Allow`
    /// header lists those it takes).
    #[error("{0}")]
    MethodNotAllowed(String),
    /// The request itself is malformed: bad JSON, bad query parameter,
    /// unknown command (400).
    #[error("{code}: {message}")]
    BadRequest {
        /// A stable snake_case code.
        code: &'static str,
        /// What was wrong, naming the parameter or field.
        message: String,
    },
    /// The request body is not of a media type the route takes (415):
    /// `POST /dispatch` takes `application/json` only.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The user has too many of something open (429), e.g. live connections.
    #[error("{0}")]
    TooManyRequests(String),
    /// The caller dispatched more than [`HttpConfig::dispatch_rate`](super::HttpConfig::dispatch_rate)
    /// allows (429, with a `Retry-After` header).
    #[error("too many dispatches; retry in {retry_after} s")]
    RateLimited {
        /// Seconds until the caller may dispatch again (`Retry-After`).
        retry_after: u64,
    },
    /// The server is at a limit for everyone (503), e.g. live connections.
    #[error("{0}")]
    Unavailable(String),
    /// The request body is larger than the configured limit (413).
    #[error("request body too large (the limit is {limit} bytes)")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The request is well-formed but holds what the service cannot take
    /// (422), e.g. a number in the body that no double holds exactly.
    #[error("{code}: {message}")]
    Unprocessable {
        /// A stable snake_case code.
        code: &'static str,
        /// What was wrong, naming where.
        message: String,
    },
    /// The store refused or failed the operation.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ApiError {
    /// A 400 with `code` and `message`.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The status, the stable code and the client-facing message.
    pub fn parts(&self) -> (StatusCode, &'static str, String) {
        match self {
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, "unauthorized", m.clone()),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, "forbidden", m.clone()),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, "not_found", m.clone()),
            ApiError::MethodNotAllowed(m) => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", m.clone()),
            ApiError::BadRequest { code, message } => (StatusCode::BAD_REQUEST, code, message.clone()),
            ApiError::Unprocessable { code, message } => (StatusCode::UNPROCESSABLE_ENTITY, code, message.clone()),
            ApiError::UnsupportedMediaType(m) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", m.clone())
            }
            ApiError::TooManyRequests(m) => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests", m.clone()),
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests", self.to_string()),
            ApiError::Unavailable(m) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable", m.clone()),
            ApiError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", self.to_string()),
            ApiError::Store(err) => {
                let status = match err {
                    StoreError::Database { .. }
                    | StoreError::Aborted { .. }
                    | StoreError::Replay { .. }
                    | StoreError::SegmentMissing { .. }
                    | StoreError::SegmentCorrupt { .. }
                    | StoreError::IceLog { .. } => StatusCode::INTERNAL_SERVER_ERROR,
                    StoreError::NotRestorable { .. } | StoreError::IdConflict { .. } => StatusCode::CONFLICT,
                    StoreError::Closed
                    | StoreError::CommitUnknown { .. }
                    | StoreError::LogMissing
                    | StoreError::LogReplaced { .. } => StatusCode::SERVICE_UNAVAILABLE,
                    StoreError::UnknownCommand { .. }
                    | StoreError::InvalidEvent { .. }
                    | StoreError::InvalidPoint { .. }
                    | StoreError::Query { .. } => StatusCode::BAD_REQUEST,
                    StoreError::EventTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
                    _ if err.kind() == "duplicate_key" => StatusCode::CONFLICT,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                let message = if status.is_server_error() {
                    "internal error; see the server log".to_owned()
                } else {
                    err.to_string()
                };
                (status, err.kind(), message)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message) = self.parts();
        if status.is_server_error() {
            tracing::error!(error = %self, "request failed");
        } else {
            tracing::debug!(%status, code, %message, "request refused");
        }
        let mut response = (status, Json(json!({ "error": { "code": code, "message": message } }))).into_response();
        if let ApiError::RateLimited { retry_after } = self {
            response
                .headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from(retry_after));
        }
        response
    }
}

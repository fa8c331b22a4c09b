//! What the API's use cases fail with. Each error has a stable machine code and names the
//! field it is about; the HTTP status of each is decided by the API function, not here.

use super::limits::LimitHit;
use crate::domain::{IllegalTransition, ValidationError};
use crate::ports::PortError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed or a field is out of range.
    #[error("{0}")]
    Invalid(ValidationError),
    /// No API key, a malformed header, or a key that is unknown, disabled, revoked or
    /// expired.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// The key may not do this (a lane, test requests).
    #[error("{message}")]
    Forbidden {
        code: &'static str,
        field: Option<&'static str>,
        message: String,
    },
    /// No such task, or another key's.
    #[error("{0}")]
    NotFound(String),
    /// The task is in a state that does not allow this (cancelling a finished job).
    #[error("{0}")]
    Conflict(String),
    /// A backend failed; the details go to the log, not to the client.
    #[error("internal error")]
    Internal(#[source] PortError),
    /// The Idempotency-Key was used with another body.
    #[error("this Idempotency-Key was used with a different request body")]
    IdempotencyKeyReused,
    /// A request with this Idempotency-Key is still being handled.
    #[error("a request with this Idempotency-Key is still being handled; retry shortly")]
    IdempotencyInProgress,
    /// A backend refused for now; the client may try again.
    #[error("{0}")]
    Unavailable(String),
    /// A limit (the queue's, or the key's) refuses the request for now.
    #[error("{}", .0.message)]
    TooManyRequests(Box<LimitHit>),
}

impl ApiError {
    /// The stable machine code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Invalid(v) => v.code,
            ApiError::Unauthorized(_) => "unauthorized",
            ApiError::Forbidden { code, .. } => code,
            ApiError::NotFound(_) => "not_found",
            ApiError::Conflict(_) => "conflict",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::IdempotencyInProgress => "idempotency_in_progress",
            ApiError::Internal(_) => "internal_error",
            ApiError::Unavailable(_) => "unavailable",
            ApiError::TooManyRequests(hit) => hit.code,
        }
    }

    /// The request field the error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            ApiError::Invalid(v) => v.field.as_deref(),
            ApiError::Forbidden { field, .. } => *field,
            ApiError::IdempotencyKeyReused | ApiError::IdempotencyInProgress => {
                Some("Idempotency-Key")
            }
            _ => None,
        }
    }
}

impl From<ValidationError> for ApiError {
    fn from(v: ValidationError) -> Self {
        ApiError::Invalid(v)
    }
}

impl From<PortError> for ApiError {
    fn from(e: PortError) -> Self {
        match e {
            PortError::BadCursor => ApiError::Invalid(ValidationError::invalid(
                "cursor",
                "cursor is not one a previous page handed out",
            )),
            e => ApiError::Internal(e),
        }
    }
}

impl From<IllegalTransition> for ApiError {
    fn from(e: IllegalTransition) -> Self {
        ApiError::Conflict(e.to_string())
    }
}

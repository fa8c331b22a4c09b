//! The errors the API answers with, and their HTTP status: the one place that maps them.

use serde::Serialize;

use crate::domain::ValidationError;
use crate::ports::PortError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Invalid(ValidationError),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{message}")]
    Forbidden {
        code: &'static str,
        field: Option<&'static str>,
        message: String,
    },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("{0}")]
    MethodNotAllowed(&'static str),
    /// A backend failed; the details go to the log, not to the client.
    #[error("internal error")]
    Internal(#[source] PortError),
    #[error("{0}")]
    Unavailable(String),
}

/// The JSON error body: `{"success": false, "code", "message", "field"}`.
#[derive(Debug, Serialize)]
pub struct ErrorBody {
    pub success: bool,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The seed service's error field.
    pub error: String,
}

impl ApiError {
    pub fn status(&self) -> u16 {
        match self {
            ApiError::Invalid(v) if v.code == "too_large" => 413,
            ApiError::Invalid(_) => 400,
            ApiError::Unauthorized(_) => 401,
            ApiError::Forbidden { .. } => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed(_) => 405,
            ApiError::Conflict(_) => 409,
            ApiError::TooLarge(_) => 413,
            ApiError::Internal(_) => 500,
            ApiError::Unavailable(_) => 503,
        }
    }

    pub fn body(&self) -> ErrorBody {
        let (code, field) = match self {
            ApiError::Invalid(v) => (v.code, v.field.clone()),
            ApiError::Unauthorized(_) => ("unauthorized", None),
            ApiError::Forbidden { code, field, .. } => (*code, field.map(str::to_string)),
            ApiError::NotFound(_) => ("not_found", None),
            ApiError::MethodNotAllowed(_) => ("method_not_allowed", None),
            ApiError::Conflict(_) => ("conflict", None),
            ApiError::TooLarge(_) => ("too_large", Some("body".to_string())),
            ApiError::Internal(_) => ("internal_error", None),
            ApiError::Unavailable(_) => ("unavailable", None),
        };
        let message = self.to_string();
        ErrorBody {
            success: false,
            code,
            error: message.clone(),
            message,
            field,
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
        ApiError::Internal(e)
    }
}

//! What a rejected request says (a stable code, the field, a message for people), and
//! what an accepted one was told: a value brought into range.

/// A value the request gave that naiq changed before sending it: `{field, given, sent}`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Warning {
    pub field: String,
    pub given: serde_json::Value,
    pub sent: serde_json::Value,
    pub message: String,
}

/// A rejected request: a stable code, the field, and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
}

impl ValidationError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            code: "invalid_parameter",
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    pub fn missing(field: &str) -> Self {
        Self {
            code: "missing_parameter",
            field: Some(field.to_string()),
            message: format!("{field} is required"),
        }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self {
            code: "malformed_json",
            field: None,
            message: message.into(),
        }
    }
}

//! Per-request NovelAI credentials: `auth_type` `token` with `token`, or `login` with
//! `email` and `password`. They are checked here and never stored.

use super::ValidationError;
use super::fields::Fields;
use crate::domain::Credentials;

/// The credentials the request carries, if any.
pub(super) fn credentials(f: &Fields<'_>) -> Result<Option<Credentials>, ValidationError> {
    let Some(kind) = f.string("auth_type")? else {
        for field in ["token", "email", "password"] {
            if f.get(field).is_some() {
                return Err(ValidationError::missing("auth_type"));
            }
        }
        return Ok(None);
    };
    let required = |name: &str| -> Result<String, ValidationError> {
        match f.string(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            _ => Err(ValidationError::missing(name)),
        }
    };
    match kind {
        "token" => Ok(Some(Credentials::Token {
            token: required("token")?,
        })),
        "login" => Ok(Some(Credentials::Login {
            email: required("email")?,
            password: f
                .string("password")?
                .filter(|p| !p.is_empty())
                .ok_or_else(|| ValidationError::missing("password"))?
                .to_string(),
        })),
        _ => Err(ValidationError::invalid(
            "auth_type",
            "auth_type must be token or login",
        )),
    }
}

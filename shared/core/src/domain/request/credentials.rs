//! Per-request NovelAI credentials: `auth_type` `token` with `token`, or `login` with
//! `email` and `password`. They are checked here and never stored.

use super::ValidationError;
use super::fields::Fields;
use crate::domain::Credentials;

/// Longest per-request token: a persistent token is 68 bytes, an access token (a JWT) a
/// few hundred.
pub const MAX_TOKEN_BYTES: usize = 2048;
/// Longest email address (the limit of an SMTP path).
pub const MAX_EMAIL_BYTES: usize = 254;
/// Longest password.
pub const MAX_PASSWORD_BYTES: usize = 1024;

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
    let required = |name: &str, max_bytes: usize| -> Result<String, ValidationError> {
        match f.text(name, max_bytes)? {
            Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            _ => Err(ValidationError::missing(name)),
        }
    };
    match kind {
        "token" => Ok(Some(Credentials::Token {
            token: required("token", MAX_TOKEN_BYTES)?,
        })),
        "login" => Ok(Some(Credentials::Login {
            email: required("email", MAX_EMAIL_BYTES)?,
            password: f
                .text("password", MAX_PASSWORD_BYTES)?
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

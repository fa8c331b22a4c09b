use std::fmt;

use serde::{Deserialize, Serialize};

/// NovelAI credentials: a persistent API token (`pst-…`) or a JWT, or an email and password
/// to be turned into an access key. `Debug` never prints the secret parts.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "auth_type", rename_all = "lowercase")]
pub enum Credentials {
    Token { token: String },
    Login { email: String, password: String },
}

impl Credentials {
    /// A form safe to show: the kind, and for tokens the first characters only.
    pub fn masked(&self) -> String {
        match self {
            Credentials::Token { token } => {
                let shown: String = token.chars().take(4).collect();
                format!("token {shown}… ({} characters)", token.chars().count())
            }
            Credentials::Login { email, .. } => {
                let (user, domain) = email.split_once('@').unwrap_or((email, ""));
                let first: String = user.chars().take(1).collect();
                format!("login {first}***@{domain} (password set)")
            }
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Token { .. } => f.write_str("Credentials::Token(<redacted>)"),
            Credentials::Login { .. } => f.write_str("Credentials::Login(<redacted>)"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_masked_never_show_secrets() {
        let t = Credentials::Token {
            token: "pst-abcdefghijklmnopqrstuvwxyz".into(),
        };
        assert!(!format!("{t:?}").contains("abcdef"));
        assert!(!t.masked().contains("abcdef"));
        assert!(t.masked().starts_with("token pst-"));
        let l = Credentials::Login {
            email: "alice@example.org".into(),
            password: "hunter22".into(),
        };
        assert!(!format!("{l:?}").contains("hunter22"));
        assert!(!format!("{l:?}").contains("alice"));
        assert_eq!(l.masked(), "login a***@example.org (password set)");
    }

    #[test]
    fn serialises_with_the_seed_field_names() {
        let t: Credentials =
            serde_json::from_str(r#"{"auth_type":"token","token":"pst-x"}"#).unwrap();
        assert_eq!(
            t,
            Credentials::Token {
                token: "pst-x".into()
            }
        );
    }
}

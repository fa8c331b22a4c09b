//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): the secret is
//! `whsec_` followed by the base64 of its bytes, and each message carries `webhook-id`,
//! `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 of
//! HMAC-SHA256(secret bytes, "{id}.{timestamp}.{body}")>`, so any receiver with a Standard
//! Webhooks library can verify it.

use std::fmt;

use base64::Engine as _;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

const PREFIX: &str = "whsec_";
/// Bytes of a new secret (the spec asks for 24–64).
pub const SECRET_BYTES: usize = 32;

/// A per-key signing secret. `Debug` hides it; only [`WebhookSecret::expose`] shows it
/// (once, to the key's owner, and to the store that keeps it).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a webhook secret (whsec_ and the base64 of 24-64 bytes)")]
pub struct BadSecret;

impl WebhookSecret {
    /// A new secret from the caller's random bytes.
    pub fn from_random_bytes(bytes: [u8; SECRET_BYTES]) -> Self {
        Self(bytes.to_vec())
    }

    /// Reads `whsec_<base64>` as the store kept it.
    pub fn parse(s: &str) -> Result<Self, BadSecret> {
        let b64 = s.trim().strip_prefix(PREFIX).ok_or(BadSecret)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| BadSecret)?;
        if !(24..=64).contains(&bytes.len()) {
            return Err(BadSecret);
        }
        Ok(Self(bytes))
    }

    /// `whsec_<base64>`, what a receiver's library takes.
    pub fn expose(&self) -> String {
        format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::STANDARD.encode(&self.0)
        )
    }

    /// The `webhook-signature` header's value for one message.
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            hmac::Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes a key of any length");
        mac.update(id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        )
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification (and of its libraries' tests).
    #[test]
    fn signs_the_specification_example() {
        let secret = WebhookSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            secret.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_round_trip_and_hide() {
        let s = WebhookSecret::from_random_bytes([7; SECRET_BYTES]);
        let text = s.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(WebhookSecret::parse(&text).unwrap(), s);
        assert!(!format!("{s:?}").contains(&text[6..]));
        assert_eq!(WebhookSecret::parse("whsec_AAAA"), Err(BadSecret));
        assert_eq!(WebhookSecret::parse("naiq_abc"), Err(BadSecret));
        assert_ne!(
            s.sign("a", 1, b"x"),
            WebhookSecret::from_random_bytes([8; SECRET_BYTES]).sign("a", 1, b"x")
        );
    }
}

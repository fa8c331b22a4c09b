//! API keys: shown to their owner once, stored only as a BLAKE2b hash. A key has a
//! lifecycle (an optional expiry, revocation with a reason) and per-key limits (`limits`).

mod limits;

use std::fmt;

use base64::Engine as _;
use blake2::{Blake2b, Digest, digest::consts::U32};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::job::Lane;

pub use limits::{KeyLimits, LimitRefusal};

const PREFIX: &str = "naiq_";

/// A plaintext API key. `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// A new key from 32 random bytes (from the caller's RNG).
    pub fn from_random_bytes(bytes: [u8; 32]) -> Self {
        Self(format!(
            "{PREFIX}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
        ))
    }

    /// Takes a key as a client sent it (`Authorization: Bearer <key>`).
    pub fn from_client(s: &str) -> Self {
        Self(s.trim().to_string())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The hash stored in the keys table: BLAKE2b-256 of the key, hex.
    pub fn hash(&self) -> String {
        let mut h = Blake2b::<U32>::new();
        h.update(self.0.as_bytes());
        hex::encode(h.finalize())
    }

    /// The public id of the key: the first 16 hex digits of its hash. Jobs record it as
    /// their owner.
    pub fn id(&self) -> String {
        self.hash()[..16].to_string()
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// What the keys table holds about a key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_hash: String,
    pub key_id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// Lanes the key may submit to with `priority` (the test lane is governed by `allow_test`).
    pub lanes: Vec<Lane>,
    /// Whether the key may send `is_test_request: true`.
    pub allow_test: bool,
    pub disabled: bool,
    /// Where the key's jobs send their webhook events when a request names no
    /// `webhook_url` (absent in keys made before webhooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// After this instant the key answers 401, as a revoked one does.
    #[serde(default)]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key was revoked (`naiq keys revoke`); a revoked key is never usable again.
    #[serde(default)]
    pub revoked_at: Option<DateTime<Utc>>,
    /// Why, as the operator said; also the error of the jobs the revocation cancelled.
    #[serde(default)]
    pub revoked_reason: Option<String>,
    #[serde(default)]
    pub limits: KeyLimits,
}

/// Why a stored key may not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyUnusable {
    Disabled,
    Revoked,
    Expired,
}

impl KeyUnusable {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyUnusable::Disabled => "disabled",
            KeyUnusable::Revoked => "revoked",
            KeyUnusable::Expired => "expired",
        }
    }
}

impl ApiKeyRecord {
    pub fn new(key: &ApiKey, name: &str, now: DateTime<Utc>) -> Self {
        Self {
            key_hash: key.hash(),
            key_id: key.id(),
            name: name.to_string(),
            created_at: now,
            lanes: vec![Lane::High, Lane::Normal, Lane::Low],
            allow_test: false,
            disabled: false,
            webhook_url: None,
            expires_at: None,
            revoked_at: None,
            revoked_reason: None,
            limits: KeyLimits::default(),
        }
    }

    /// Whether the key may be used at `now`, and why not.
    pub fn usable_at(&self, now: DateTime<Utc>) -> Result<(), KeyUnusable> {
        if self.revoked_at.is_some() {
            Err(KeyUnusable::Revoked)
        } else if self.disabled {
            Err(KeyUnusable::Disabled)
        } else if self.expires_at.is_some_and(|t| t <= now) {
            Err(KeyUnusable::Expired)
        } else {
            Ok(())
        }
    }

    /// The key's state as `naiq keys list` shows it: `active`, `revoked`, `expired`,
    /// `disabled`.
    pub fn state_at(&self, now: DateTime<Utc>) -> &'static str {
        match self.usable_at(now) {
            Ok(()) => "active",
            Err(why) => why.as_str(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_stably_and_hide_in_debug() {
        let k = ApiKey::from_random_bytes([1; 32]);
        assert!(k.expose().starts_with("naiq_"));
        assert_eq!(k.expose().len(), 5 + 43);
        assert_eq!(
            k.hash(),
            ApiKey::from_client(&format!(" {} ", k.expose())).hash()
        );
        assert_eq!(k.hash().len(), 64);
        assert_eq!(k.id(), k.hash()[..16]);
        assert_ne!(k.hash(), ApiKey::from_random_bytes([2; 32]).hash());
        let mut rec = ApiKeyRecord::new(&k, "bot", Utc::now());
        let now = Utc::now();
        assert_eq!(rec.usable_at(now), Ok(()));
        rec.expires_at = Some(now);
        assert_eq!(rec.usable_at(now), Err(KeyUnusable::Expired));
        assert_eq!(rec.usable_at(now - chrono::Duration::seconds(1)), Ok(()));
        rec.revoked_at = Some(now);
        assert_eq!(rec.state_at(now), "revoked");
        assert!(!format!("{k:?}").contains(&k.expose()[5..]));
        let rec = ApiKeyRecord::new(&k, "bot", Utc::now());
        assert!(
            !serde_json::to_string(&rec)
                .unwrap()
                .contains(&k.expose()[5..])
        );
    }
}

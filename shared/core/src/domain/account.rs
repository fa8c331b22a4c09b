//! What naiq knows of the NovelAI account behind the server-side credentials: tier, Anlas,
//! and the V5 usage limit that decides whether Opus's free image still applies to V5.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::models::Family;

/// How old the cached account may be before the worker reads it again.
pub const ACCOUNT_REFRESH: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// The subscription as last read from NovelAI (`GET /user/subscription`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// 0 Paper, 1 Tablet, 2 Scroll, 3 Opus.
    pub tier: u8,
    pub active: bool,
    /// Anlas balance: fixed plus purchased training steps.
    pub anlas: u64,
    /// The V5 usage limit (active Opus only); absent in records read before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub v5_usage: Option<V5Usage>,
    pub checked_at: DateTime<Utc>,
}

/// Opus's V5 usage limit: free V5 images draw on it; once it is negative they cost Anlas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct V5Usage {
    /// Percent left (may exceed 100).
    pub percent: i64,
    /// Exhausted: V5 images are no longer free.
    pub is_negative: bool,
    /// Seconds until the next percent is refilled (0 while refilling is paused).
    pub seconds_to_next_percent: u64,
}

impl AccountInfo {
    /// An active Opus subscription (one small image per request free).
    pub fn is_opus(&self) -> bool {
        self.tier == 3 && self.active
    }

    /// Whether the account gets its one free image per request on this family: Opus,
    /// and for V5 only while its usage limit is not exhausted.
    pub fn free_image_for(&self, family: Family) -> bool {
        self.is_opus() && !(family.is_v5() && self.v5_usage.is_some_and(|u| u.is_negative))
    }

    /// Whether the record is old enough (or from the future) to read again.
    pub fn is_stale(&self, now: DateTime<Utc>) -> bool {
        let age = now.signed_duration_since(self.checked_at);
        age < chrono::TimeDelta::zero() || age >= ACCOUNT_REFRESH
    }

    pub fn tier_name(&self) -> &'static str {
        match self.tier {
            0 => "Paper",
            1 => "Tablet",
            2 => "Scroll",
            3 => "Opus",
            _ => "unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opus(usage: Option<V5Usage>) -> AccountInfo {
        AccountInfo {
            tier: 3,
            active: true,
            anlas: 100,
            v5_usage: usage,
            checked_at: DateTime::<Utc>::UNIX_EPOCH,
        }
    }

    #[test]
    fn the_free_image_on_v5_lasts_while_the_usage_does() {
        let left = V5Usage {
            percent: 3,
            is_negative: false,
            seconds_to_next_percent: 60,
        };
        let spent = V5Usage {
            percent: 0,
            is_negative: true,
            ..left
        };
        assert!(opus(Some(left)).free_image_for(Family::V5));
        assert!(!opus(Some(spent)).free_image_for(Family::V5));
        assert!(
            opus(Some(spent)).free_image_for(Family::V45),
            "V4.5 has no limit"
        );
        let mut scroll = opus(None);
        scroll.tier = 2;
        assert!(!scroll.free_image_for(Family::V45));
    }

    #[test]
    fn records_go_stale_after_an_hour() {
        let a = opus(None);
        let t0 = a.checked_at;
        assert!(!a.is_stale(t0 + chrono::TimeDelta::minutes(59)));
        assert!(a.is_stale(t0 + ACCOUNT_REFRESH));
        assert!(a.is_stale(t0 - chrono::TimeDelta::seconds(1)));
    }

    #[test]
    fn old_records_without_usage_still_load() {
        let v = serde_json::json!({"tier": 3, "active": true, "anlas": 5,
                                   "checked_at": "2026-11-26T00:00:00Z"});
        let a: AccountInfo = serde_json::from_value(v).unwrap();
        assert_eq!(a.v5_usage, None);
    }
}

//! What naiq knows of the NovelAI account behind the server-side credentials.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The subscription as last read from NovelAI (`GET /user/subscription`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountInfo {
    /// 0 Paper, 1 Tablet, 2 Scroll, 3 Opus.
    pub tier: u8,
    pub active: bool,
    /// Anlas balance: fixed plus purchased training steps.
    pub anlas: u64,
    pub checked_at: DateTime<Utc>,
}

impl AccountInfo {
    /// Opus subscribers get one small image per request free (see `domain::pricing`).
    pub fn is_opus(&self) -> bool {
        self.tier == 3 && self.active
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

//! The account cache's contract: the last write wins.

use chrono::{TimeZone, Utc};
use naiq_core::domain::account::{AccountInfo, V5Usage};
use naiq_core::ports::*;

pub async fn account_cache(state: &dyn AccountCache) {
    let t0 = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    assert_eq!(state.load_account().await.unwrap(), None);
    let opus = AccountInfo {
        tier: 3,
        active: true,
        anlas: 10_000,
        v5_usage: Some(V5Usage {
            percent: 42,
            is_negative: false,
            seconds_to_next_percent: 7888,
        }),
        checked_at: t0,
    };
    state.save_account(&opus).await.unwrap();
    let scroll = AccountInfo {
        tier: 2,
        ..opus.clone()
    };
    state.save_account(&scroll).await.unwrap();
    assert_eq!(state.load_account().await.unwrap(), Some(scroll));
}

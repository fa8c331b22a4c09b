//! The drain lease's contract: one holder, extension, expiry, per name.

use chrono::{Duration, TimeZone, Utc};
use naiq_core::ports::*;

pub async fn lease_store(state: &dyn LeaseStore) {
    let t0 = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let later = |s: i64| t0 + Duration::seconds(s);
    assert!(state.acquire_lease("w", "a", t0, later(60)).await.unwrap());
    assert!(
        !state
            .acquire_lease("w", "b", later(1), later(61))
            .await
            .unwrap()
    );
    assert!(
        state
            .acquire_lease("w", "a", later(2), later(90))
            .await
            .unwrap(),
        "holder extends"
    );
    assert!(
        !state
            .acquire_lease("w", "b", later(61), later(120))
            .await
            .unwrap(),
        "extension held"
    );
    assert!(
        state
            .acquire_lease("w", "b", later(91), later(150))
            .await
            .unwrap(),
        "expired lease is free"
    );
    state.release_lease("w", "a").await.unwrap();
    assert!(
        !state
            .acquire_lease("w", "a", later(92), later(150))
            .await
            .unwrap(),
        "a non-holder cannot release"
    );
    state.release_lease("w", "b").await.unwrap();
    assert!(
        state
            .acquire_lease("w", "a", later(93), later(150))
            .await
            .unwrap()
    );
    assert!(
        state
            .acquire_lease("other", "b", later(93), later(150))
            .await
            .unwrap(),
        "leases are per name"
    );
}

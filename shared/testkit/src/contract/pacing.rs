//! The pacing state's contract: optimistic concurrency, one writer per version.

use chrono::{Duration, NaiveDate, TimeZone, Utc};
use naiq_core::domain::pacing::PacingState;
use naiq_core::ports::*;

pub async fn pacing_store(state: &dyn PacingStore) {
    let t0 = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let later = |s: i64| t0 + Duration::seconds(s);
    // Pacing state: optimistic concurrency, one writer per version.
    let (initial, v0) = state.load_pacing().await.unwrap();
    assert_eq!((initial, v0), (PacingState::default(), 0));
    let day = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    let first = PacingState {
        next_allowed_at: Some(later(10)),
        day: Some(day),
        day_count: 1,
    };
    state.save_pacing(&first, 0).await.unwrap();
    assert!(
        matches!(
            state.save_pacing(&first, 0).await,
            Err(PortError::Conflict(_))
        ),
        "a second first write loses"
    );
    assert_eq!(state.load_pacing().await.unwrap(), (first.clone(), 1));
    let second = PacingState {
        day_count: 2,
        ..first.clone()
    };
    state.save_pacing(&second, 1).await.unwrap();
    assert!(
        matches!(
            state.save_pacing(&first, 1).await,
            Err(PortError::Conflict(_))
        ),
        "a stale writer loses"
    );
    assert_eq!(state.load_pacing().await.unwrap(), (second, 2));
}

//! The call statistics' contract: a mean once anything was recorded.

use naiq_core::ports::*;

pub async fn call_stats(state: &dyn CallStats) {
    assert_eq!(state.mean_call_seconds().await.unwrap(), None);
    state.record_call_duration(1000).await.unwrap();
    state.record_call_duration(3000).await.unwrap();
    assert_eq!(state.mean_call_seconds().await.unwrap(), Some(2.0));
}

//! How long upstream calls take, for the queue estimate.

use async_trait::async_trait;

use super::PortResult;

/// Upstream call durations.
#[async_trait]
pub trait CallStats: Send + Sync {
    /// Records how long one upstream call took.
    async fn record_call_duration(&self, millis: u64) -> PortResult<()>;
    /// The mean upstream call duration in seconds, once any call was recorded.
    async fn mean_call_seconds(&self) -> PortResult<Option<f64>>;
}

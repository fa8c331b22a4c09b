//! Waking the worker after a submit.

use async_trait::async_trait;

use super::PortResult;

/// Asks the worker to drain the queue soon (an asynchronous invoke on AWS).
#[async_trait]
pub trait WorkerNudge: Send + Sync {
    async fn nudge(&self) -> PortResult<()>;
}

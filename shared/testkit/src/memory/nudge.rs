//! Worker nudges, counted.

use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use naiq_core::ports::{PortResult, WorkerNudge};

/// Counts nudges; the worker is driven by the test instead.
#[derive(Default)]
pub struct MemoryNudge {
    pub count: AtomicU64,
}

#[async_trait]
impl WorkerNudge for MemoryNudge {
    async fn nudge(&self) -> PortResult<()> {
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

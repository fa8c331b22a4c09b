//! The drain lease: one worker invocation drains at a time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PortResult;

/// Named leases with an expiry, so a crashed holder's lease frees itself.
#[async_trait]
pub trait LeaseStore: Send + Sync {
    /// Takes the named lease for `holder` until `until`, if it is free or expired at `now`
    /// (or already held by `holder`: then it is extended). Returns whether it was taken.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> PortResult<bool>;
    /// Frees the lease if `holder` still holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> PortResult<()>;
}

//! The Anlas ledger: per key and local day, what its jobs hold (accepted, not finished),
//! what they spent (settled at their actual cost) and how many jobs it submitted. Every
//! change is one atomic update, and a hold checks the day's limits in the same update,
//! so concurrent submits can never pass a budget together.

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::Serialize;

use super::PortResult;

/// One key's day.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct LedgerDay {
    /// Anlas held by accepted jobs that have not finished.
    pub held: u64,
    /// Anlas settled by finished jobs.
    pub spent: u64,
    /// Jobs submitted (a cancelled job still counts).
    pub jobs: u64,
}

/// The day's limits a hold must stay within.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HoldLimits {
    /// `held + spent` may not pass it.
    pub anlas: Option<u64>,
    /// `jobs` may not pass it.
    pub jobs: Option<u64>,
}

/// Which limit refused a hold, with the day as it stood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldRefused {
    Anlas(LedgerDay),
    Jobs(LedgerDay),
}

#[async_trait]
pub trait Ledger: Send + Sync {
    /// Holds `amount` and counts one job for `key_id` on `day`, if the day stays within
    /// `limits`; otherwise changes nothing and says which limit.
    async fn hold(
        &self,
        key_id: &str,
        day: NaiveDate,
        amount: u64,
        limits: HoldLimits,
    ) -> PortResult<Result<LedgerDay, HoldRefused>>;
    /// A held job finished: `held` leaves the holds and `actual` joins the spend.
    async fn settle(&self, key_id: &str, day: NaiveDate, held: u64, actual: u64) -> PortResult<()>;
    /// A held job failed or was cancelled: `held` is let go.
    async fn release(&self, key_id: &str, day: NaiveDate, held: u64) -> PortResult<()> {
        self.settle(key_id, day, held, 0).await
    }
    async fn day(&self, key_id: &str, day: NaiveDate) -> PortResult<LedgerDay>;
}

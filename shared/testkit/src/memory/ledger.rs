//! The Anlas ledger in memory: one entry per key and day, changed under one lock (as
//! DynamoDB's conditional `ADD` changes one item atomically).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::NaiveDate;
use naiq_core::ports::{HoldLimits, HoldRefused, Ledger, LedgerDay, PortResult};

use super::lock;

#[derive(Default)]
pub struct MemoryLedger {
    days: Mutex<HashMap<(String, NaiveDate), LedgerDay>>,
}

#[async_trait]
impl Ledger for MemoryLedger {
    async fn hold(
        &self,
        key_id: &str,
        day: NaiveDate,
        amount: u64,
        limits: HoldLimits,
    ) -> PortResult<Result<LedgerDay, HoldRefused>> {
        let mut days = lock(&self.days);
        let entry = days.entry((key_id.to_string(), day)).or_default();
        if limits
            .anlas
            .is_some_and(|budget| entry.held + entry.spent + amount > budget)
        {
            return Ok(Err(HoldRefused::Anlas(*entry)));
        }
        if limits.jobs.is_some_and(|max| entry.jobs >= max) {
            return Ok(Err(HoldRefused::Jobs(*entry)));
        }
        entry.held += amount;
        entry.jobs += 1;
        Ok(Ok(*entry))
    }

    async fn settle(&self, key_id: &str, day: NaiveDate, held: u64, actual: u64) -> PortResult<()> {
        let mut days = lock(&self.days);
        let entry = days.entry((key_id.to_string(), day)).or_default();
        entry.held = entry.held.saturating_sub(held);
        entry.spent += actual;
        Ok(())
    }

    async fn day(&self, key_id: &str, day: NaiveDate) -> PortResult<LedgerDay> {
        Ok(lock(&self.days)
            .get(&(key_id.to_string(), day))
            .copied()
            .unwrap_or_default())
    }
}

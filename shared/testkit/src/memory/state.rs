//! The worker's shared state in memory: the lease, the pacing state, call statistics and
//! the account cache, one store for the four ports (as the DynamoDB state table is).

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use naiq_core::domain::account::AccountInfo;
use naiq_core::domain::pacing::PacingState;
use naiq_core::ports::{AccountCache, CallStats, LeaseStore, PacingStore, PortError, PortResult};

use super::lock;

#[derive(Default)]
pub struct MemoryStateStore {
    leases: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
    pacing: Mutex<(PacingState, u64)>,
    durations: Mutex<(u64, u64)>,
    account: Mutex<Option<AccountInfo>>,
}

#[async_trait]
impl LeaseStore for MemoryStateStore {
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> PortResult<bool> {
        let mut leases = lock(&self.leases);
        match leases.get(name) {
            Some((h, expires)) if h != holder && *expires > now => Ok(false),
            _ => {
                leases.insert(name.to_string(), (holder.to_string(), until));
                Ok(true)
            }
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> PortResult<()> {
        let mut leases = lock(&self.leases);
        if leases.get(name).is_some_and(|(h, _)| h == holder) {
            leases.remove(name);
        }
        Ok(())
    }
}

#[async_trait]
impl PacingStore for MemoryStateStore {
    async fn load_pacing(&self) -> PortResult<(PacingState, u64)> {
        Ok(lock(&self.pacing).clone())
    }

    async fn save_pacing(&self, state: &PacingState, expected: u64) -> PortResult<()> {
        let mut stored = lock(&self.pacing);
        if stored.1 != expected {
            return Err(PortError::Conflict(format!(
                "pacing state is at version {}, not {expected}",
                stored.1
            )));
        }
        *stored = (state.clone(), expected + 1);
        Ok(())
    }
}

#[async_trait]
impl CallStats for MemoryStateStore {
    async fn record_call_duration(&self, millis: u64) -> PortResult<()> {
        let mut d = lock(&self.durations);
        d.0 += millis;
        d.1 += 1;
        Ok(())
    }

    async fn mean_call_seconds(&self) -> PortResult<Option<f64>> {
        let d = lock(&self.durations);
        Ok((d.1 > 0).then(|| d.0 as f64 / d.1 as f64 / 1000.0))
    }
}

#[async_trait]
impl AccountCache for MemoryStateStore {
    async fn save_account(&self, account: &AccountInfo) -> PortResult<()> {
        *lock(&self.account) = Some(account.clone());
        Ok(())
    }

    async fn load_account(&self) -> PortResult<Option<AccountInfo>> {
        Ok(lock(&self.account).clone())
    }
}

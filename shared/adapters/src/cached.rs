//! Read-through caches in front of two ports whose values change rarely but are read on
//! every job or every poll. A warm Lambda keeps the value for a short, fixed time, so each
//! cache trades a bounded staleness for one AWS request less per job or per poll
//! (bench/run.sh --count-aws counts them; docs/cost.md prices them).
//!
//! - [`CachedSecrets`]: the worker reads the NovelAI credentials for every job; Secrets
//!   Manager bills each read. A credential change (`naiq credentials set`) reaches a warm
//!   worker within [`SECRETS_TTL`]; a `put` through the cache is seen at once.
//! - [`CachedCallStats`]: the mean upstream call duration behind every queue estimate; it
//!   moves by a fraction of a second a day, so [`CALL_STATS_TTL`] of staleness changes no
//!   estimate a client could notice.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use naiq_core::domain::Credentials;
use naiq_core::ports::{CallStats, PortResult, SecretStore};
use tokio::time::Instant;

/// How long a warm worker keeps the NovelAI credentials it read.
pub const SECRETS_TTL: Duration = Duration::from_secs(60);
/// How long a warm API keeps the mean upstream call duration it read.
pub const CALL_STATS_TTL: Duration = Duration::from_secs(60);

/// A value read at some instant.
struct Fresh<T> {
    value: T,
    read_at: Instant,
}

/// A value kept for `ttl` after it was read.
struct Slot<T> {
    ttl: Duration,
    held: Mutex<Option<Fresh<T>>>,
}

impl<T: Clone> Slot<T> {
    fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            held: Mutex::new(None),
        }
    }

    fn get(&self) -> Option<T> {
        let held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        held.as_ref()
            .filter(|f| f.read_at.elapsed() < self.ttl)
            .map(|f| f.value.clone())
    }

    fn set(&self, value: T) {
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(Fresh {
            value,
            read_at: Instant::now(),
        });
    }
}

/// [`SecretStore`] with the credentials kept for a while after each read.
pub struct CachedSecrets {
    inner: Arc<dyn SecretStore>,
    slot: Slot<Option<Credentials>>,
}

impl CachedSecrets {
    pub fn new(inner: Arc<dyn SecretStore>, ttl: Duration) -> Self {
        Self {
            inner,
            slot: Slot::new(ttl),
        }
    }
}

#[async_trait]
impl SecretStore for CachedSecrets {
    async fn get(&self) -> PortResult<Option<Credentials>> {
        if let Some(held) = self.slot.get() {
            return Ok(held);
        }
        let read = self.inner.get().await?;
        self.slot.set(read.clone());
        Ok(read)
    }

    async fn put(&self, credentials: &Credentials) -> PortResult<()> {
        self.inner.put(credentials).await?;
        self.slot.set(Some(credentials.clone()));
        Ok(())
    }
}

/// [`CallStats`] with the mean kept for a while after each read; recording passes through.
pub struct CachedCallStats {
    inner: Arc<dyn CallStats>,
    slot: Slot<Option<f64>>,
}

impl CachedCallStats {
    pub fn new(inner: Arc<dyn CallStats>, ttl: Duration) -> Self {
        Self {
            inner,
            slot: Slot::new(ttl),
        }
    }
}

#[async_trait]
impl CallStats for CachedCallStats {
    async fn record_call_duration(&self, millis: u64) -> PortResult<()> {
        self.inner.record_call_duration(millis).await
    }

    async fn mean_call_seconds(&self) -> PortResult<Option<f64>> {
        if let Some(held) = self.slot.get() {
            return Ok(held);
        }
        let read = self.inner.mean_call_seconds().await?;
        self.slot.set(read);
        Ok(read)
    }
}

#[cfg(test)]
mod tests;

//! Read-through caches in front of ports whose values change rarely but are read on
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
//! - [`CachedAccount`]: the server-side account as the worker last read it (hourly), behind
//!   every submit's price (whether the free image applies) and `GET /rate_limit_status`. A
//!   warm API sees a refresh up to `ACCOUNT_CACHE_SECONDS` late; a price held that stale is
//!   settled at what the job actually cost once it ran.
//! - [`CachedKeys`]: the API looks the caller's key up on every request. A warm API keeps
//!   each key it found for `KEY_CACHE_SECONDS`; a revocation, expiry change or new limit made
//!   elsewhere (the CLI) reaches it up to that late. Keys not found are never kept, so a new
//!   key works at once and random keys cannot fill the cache.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use naiq_core::domain::account::AccountInfo;
use naiq_core::domain::{ApiKeyRecord, Credentials};
use naiq_core::ports::{AccountCache, CallStats, KeyStore, PortResult, SecretStore};
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

    /// The kept value, or `read`'s, kept from now on (an error is not kept).
    async fn read_through<F, Fut>(&self, read: F) -> PortResult<T>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = PortResult<T>>,
    {
        if let Some(held) = self.get() {
            return Ok(held);
        }
        let value = read().await?;
        self.set(value.clone());
        Ok(value)
    }

    fn set(&self, value: T) {
        *self.held.lock().unwrap_or_else(|e| e.into_inner()) = Some(Fresh {
            value,
            read_at: Instant::now(),
        });
    }
}

/// A port, and the one value last read from it kept for a while: each cache below is one.
pub struct ReadThrough<P: ?Sized, T> {
    inner: Arc<P>,
    slot: Slot<T>,
}

impl<P: ?Sized, T: Clone> ReadThrough<P, T> {
    pub fn new(inner: Arc<P>, ttl: Duration) -> Self {
        Self {
            inner,
            slot: Slot::new(ttl),
        }
    }
}

/// [`SecretStore`] with the credentials kept for a while after each read.
pub type CachedSecrets = ReadThrough<dyn SecretStore, Option<Credentials>>;

#[async_trait]
impl SecretStore for CachedSecrets {
    async fn get(&self) -> PortResult<Option<Credentials>> {
        self.slot.read_through(|| self.inner.get()).await
    }

    async fn put(&self, credentials: &Credentials) -> PortResult<()> {
        self.inner.put(credentials).await?;
        self.slot.set(Some(credentials.clone()));
        Ok(())
    }
}

/// [`CallStats`] with the mean kept for a while after each read; recording passes through.
pub type CachedCallStats = ReadThrough<dyn CallStats, Option<f64>>;

#[async_trait]
impl CallStats for CachedCallStats {
    async fn record_call_duration(&self, millis: u64) -> PortResult<()> {
        self.inner.record_call_duration(millis).await
    }

    async fn mean_call_seconds(&self) -> PortResult<Option<f64>> {
        self.slot
            .read_through(|| self.inner.mean_call_seconds())
            .await
    }
}

/// [`AccountCache`] with the account kept for a while after each read; a save passes
/// through and is seen at once.
pub type CachedAccount = ReadThrough<dyn AccountCache, Option<AccountInfo>>;

#[async_trait]
impl AccountCache for CachedAccount {
    async fn save_account(&self, account: &AccountInfo) -> PortResult<()> {
        self.inner.save_account(account).await?;
        self.slot.set(Some(account.clone()));
        Ok(())
    }

    async fn load_account(&self) -> PortResult<Option<AccountInfo>> {
        self.slot.read_through(|| self.inner.load_account()).await
    }
}

/// The most keys a warm API keeps; past it, the cache starts over (a deployment has a handful
/// of keys, so this only bounds memory).
pub const MAX_CACHED_KEYS: usize = 1024;

/// [`KeyStore`] with each key found kept for a while, by hash; every other call passes
/// through, and a change made through it drops what it kept of that key.
pub struct CachedKeys {
    inner: Arc<dyn KeyStore>,
    ttl: Duration,
    held: Mutex<HashMap<String, Fresh<ApiKeyRecord>>>,
}

impl CachedKeys {
    pub fn new(inner: Arc<dyn KeyStore>, ttl: Duration) -> Self {
        Self {
            inner,
            ttl,
            held: Mutex::new(HashMap::new()),
        }
    }

    fn held(&self) -> std::sync::MutexGuard<'_, HashMap<String, Fresh<ApiKeyRecord>>> {
        self.held.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn forget_id(&self, key_id: &str) {
        self.held().retain(|_, f| f.value.key_id != key_id);
    }
}

#[async_trait]
impl KeyStore for CachedKeys {
    async fn insert(&self, record: &ApiKeyRecord) -> PortResult<()> {
        self.inner.insert(record).await
    }

    async fn find(&self, key_hash: &str) -> PortResult<Option<ApiKeyRecord>> {
        if let Some(f) = self.held().get(key_hash)
            && f.read_at.elapsed() < self.ttl
        {
            return Ok(Some(f.value.clone()));
        }
        let found = self.inner.find(key_hash).await?;
        let mut held = self.held();
        match &found {
            Some(record) if !self.ttl.is_zero() => {
                if held.len() >= MAX_CACHED_KEYS {
                    held.clear();
                }
                held.insert(
                    key_hash.to_string(),
                    Fresh {
                        value: record.clone(),
                        read_at: Instant::now(),
                    },
                );
            }
            _ => {
                held.remove(key_hash);
            }
        }
        Ok(found)
    }

    async fn find_by_id(&self, key_id: &str) -> PortResult<Option<ApiKeyRecord>> {
        self.inner.find_by_id(key_id).await
    }

    async fn list(&self) -> PortResult<Vec<ApiKeyRecord>> {
        self.inner.list().await
    }

    async fn update(&self, record: &ApiKeyRecord) -> PortResult<()> {
        self.forget_id(&record.key_id);
        self.inner.update(record).await
    }

    async fn rotate(&self, old_hash: &str, new: &ApiKeyRecord) -> PortResult<()> {
        self.forget_id(&new.key_id);
        self.inner.rotate(old_hash, new).await
    }
}

#[cfg(test)]
mod tests;

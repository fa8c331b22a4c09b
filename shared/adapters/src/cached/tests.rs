use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use naiq_core::domain::account::AccountInfo;
use naiq_core::domain::{ApiKeyRecord, Credentials};
use naiq_core::ports::{AccountCache, CallStats, KeyStore, PortResult, SecretStore};
use naiq_testkit::contract;
use naiq_testkit::memory::{MemorySecretStore, MemoryStateStore};

use super::*;

/// Counts the reads that reach the store behind a cache.
#[derive(Default)]
struct Counted {
    secrets: MemorySecretStore,
    state: MemoryStateStore,
    reads: AtomicUsize,
}

#[async_trait]
impl SecretStore for Counted {
    async fn get(&self) -> PortResult<Option<Credentials>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.secrets.get().await
    }
    async fn put(&self, credentials: &Credentials) -> PortResult<()> {
        self.secrets.put(credentials).await
    }
}

#[async_trait]
impl CallStats for Counted {
    async fn record_call_duration(&self, millis: u64) -> PortResult<()> {
        self.state.record_call_duration(millis).await
    }
    async fn mean_call_seconds(&self) -> PortResult<Option<f64>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.state.mean_call_seconds().await
    }
}

#[async_trait]
impl AccountCache for Counted {
    async fn save_account(&self, account: &AccountInfo) -> PortResult<()> {
        self.state.save_account(account).await
    }
    async fn load_account(&self) -> PortResult<Option<AccountInfo>> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.state.load_account().await
    }
}

fn token(t: &str) -> Credentials {
    Credentials::Token { token: t.into() }
}

#[tokio::test]
async fn with_no_time_to_keep_them_the_caches_pass_the_ports_contracts() {
    let secrets = CachedSecrets::new(Arc::new(MemorySecretStore::default()), Duration::ZERO);
    contract::secret_store(&secrets).await;
    let stats = CachedCallStats::new(Arc::new(MemoryStateStore::default()), Duration::ZERO);
    contract::call_stats(&stats).await;
    let account = CachedAccount::new(Arc::new(MemoryStateStore::default()), Duration::ZERO);
    contract::account_cache(&account).await;
}

const ACCOUNT_SECONDS: Duration = Duration::from_secs(60);

fn account(tier: u8) -> AccountInfo {
    AccountInfo {
        tier,
        active: true,
        anlas: 1_000,
        v5_usage: None,
        checked_at: chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
    }
}

#[tokio::test(start_paused = true)]
async fn the_account_is_read_once_per_ttl_and_a_refresh_elsewhere_is_seen_after_it() {
    let store = Arc::new(Counted::default());
    let cached = CachedAccount::new(store.clone(), ACCOUNT_SECONDS);
    // Not yet read by any worker: that too is kept (no read per submit before the first).
    for _ in 0..3 {
        assert_eq!(cached.load_account().await.unwrap(), None);
    }
    assert_eq!(
        store.reads.load(Ordering::SeqCst),
        1,
        "one read for three submits"
    );
    // The worker's refresh, another process: seen once the time is up, not before.
    store.state.save_account(&account(3)).await.unwrap();
    tokio::time::advance(ACCOUNT_SECONDS - Duration::from_secs(1)).await;
    assert_eq!(cached.load_account().await.unwrap(), None);
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(cached.load_account().await.unwrap(), Some(account(3)));
    assert_eq!(store.reads.load(Ordering::SeqCst), 2);
    // Through the cache: seen at once, with no read.
    cached.save_account(&account(2)).await.unwrap();
    assert_eq!(cached.load_account().await.unwrap(), Some(account(2)));
    assert_eq!(store.reads.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn credentials_are_read_once_per_ttl_and_a_put_is_seen_at_once() {
    let store = Arc::new(Counted::default());
    store.secrets.put(&token("pst-one")).await.unwrap();
    let cached = CachedSecrets::new(store.clone(), SECRETS_TTL);
    for _ in 0..5 {
        assert_eq!(cached.get().await.unwrap(), Some(token("pst-one")));
    }
    assert_eq!(
        store.reads.load(Ordering::SeqCst),
        1,
        "one read for five jobs"
    );

    // Changed behind the cache (another process): seen once the time is up, not before.
    store.secrets.put(&token("pst-two")).await.unwrap();
    tokio::time::advance(SECRETS_TTL - Duration::from_secs(1)).await;
    assert_eq!(cached.get().await.unwrap(), Some(token("pst-one")));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(cached.get().await.unwrap(), Some(token("pst-two")));
    assert_eq!(store.reads.load(Ordering::SeqCst), 2);

    // Through the cache: seen at once, with no read.
    cached.put(&token("pst-three")).await.unwrap();
    assert_eq!(cached.get().await.unwrap(), Some(token("pst-three")));
    assert_eq!(store.reads.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn the_mean_call_time_is_read_once_per_ttl_and_recording_passes_through() {
    let store = Arc::new(Counted::default());
    let cached = CachedCallStats::new(store.clone(), CALL_STATS_TTL);
    cached.record_call_duration(2000).await.unwrap();
    for _ in 0..10 {
        assert_eq!(cached.mean_call_seconds().await.unwrap(), Some(2.0));
    }
    assert_eq!(
        store.reads.load(Ordering::SeqCst),
        1,
        "one read for ten polls"
    );
    cached.record_call_duration(4000).await.unwrap();
    assert_eq!(store.state.mean_call_seconds().await.unwrap(), Some(3.0));
    assert_eq!(cached.mean_call_seconds().await.unwrap(), Some(2.0));
    tokio::time::advance(CALL_STATS_TTL).await;
    assert_eq!(cached.mean_call_seconds().await.unwrap(), Some(3.0));
    assert_eq!(store.reads.load(Ordering::SeqCst), 2);
}

/// Counts the key look-ups that reach the store behind a cache.
#[derive(Default)]
struct CountedKeys {
    keys: naiq_testkit::memory::MemoryKeyStore,
    finds: AtomicUsize,
}

#[async_trait]
impl KeyStore for CountedKeys {
    async fn insert(&self, record: &ApiKeyRecord) -> PortResult<()> {
        self.keys.insert(record).await
    }
    async fn find(&self, key_hash: &str) -> PortResult<Option<ApiKeyRecord>> {
        self.finds.fetch_add(1, Ordering::SeqCst);
        self.keys.find(key_hash).await
    }
    async fn find_by_id(&self, key_id: &str) -> PortResult<Option<ApiKeyRecord>> {
        self.keys.find_by_id(key_id).await
    }
    async fn list(&self) -> PortResult<Vec<ApiKeyRecord>> {
        self.keys.list().await
    }
    async fn update(&self, record: &ApiKeyRecord) -> PortResult<()> {
        self.keys.update(record).await
    }
    async fn rotate(&self, old_hash: &str, new: &ApiKeyRecord) -> PortResult<()> {
        self.keys.rotate(old_hash, new).await
    }
}

#[tokio::test]
async fn the_key_cache_passes_the_key_stores_contract_with_and_without_time_to_keep() {
    for ttl in [Duration::ZERO, Duration::from_secs(30)] {
        let keys = CachedKeys::new(
            Arc::new(naiq_testkit::memory::MemoryKeyStore::default()),
            ttl,
        );
        contract::key_store(&keys).await;
    }
}

#[tokio::test(start_paused = true)]
async fn a_key_is_looked_up_once_per_ttl_a_change_elsewhere_lands_after_it_and_misses_are_not_kept()
{
    use naiq_core::domain::ApiKey;
    let store = Arc::new(CountedKeys::default());
    let cached = CachedKeys::new(store.clone(), Duration::from_secs(30));
    let key = ApiKey::from_random_bytes([7; 32]);
    let now = chrono::Utc::now();

    // A miss is not kept: the key created right after it is found at once.
    assert_eq!(cached.find(&key.hash()).await.unwrap(), None);
    let mut record = ApiKeyRecord::new(&key, "cached", now);
    store.insert(&record).await.unwrap();
    assert_eq!(
        cached.find(&key.hash()).await.unwrap(),
        Some(record.clone())
    );
    for _ in 0..20 {
        cached.find(&key.hash()).await.unwrap();
    }
    assert_eq!(
        store.finds.load(Ordering::SeqCst),
        2,
        "one look-up for 21 requests"
    );

    // Revoked elsewhere (the CLI): still served until the time is up, then refused.
    record.revoked_at = Some(now);
    store.update(&record).await.unwrap();
    tokio::time::advance(Duration::from_secs(29)).await;
    assert_eq!(
        cached.find(&key.hash()).await.unwrap().unwrap().revoked_at,
        None
    );
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(
        cached.find(&key.hash()).await.unwrap().unwrap().revoked_at,
        Some(now)
    );

    // A change through the cache is seen at once.
    record.revoked_at = None;
    record.name = "renamed".into();
    cached.update(&record).await.unwrap();
    assert_eq!(
        cached.find(&key.hash()).await.unwrap().unwrap().name,
        "renamed"
    );
}

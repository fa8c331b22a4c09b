//! API keys, stored by hash, also found by their public id.

use async_trait::async_trait;

use super::PortResult;
use crate::domain::ApiKeyRecord;

/// API keys, by hash.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key; `Conflict` if the hash exists.
    async fn insert(&self, record: &ApiKeyRecord) -> PortResult<()>;
    async fn find(&self, key_hash: &str) -> PortResult<Option<ApiKeyRecord>>;
    /// The key with this public id (`key_id`), whatever its state.
    async fn find_by_id(&self, key_id: &str) -> PortResult<Option<ApiKeyRecord>>;
    /// Every key, in no particular order.
    async fn list(&self) -> PortResult<Vec<ApiKeyRecord>>;
    /// Replaces a stored key (the same hash); `Conflict` if there is none.
    async fn update(&self, record: &ApiKeyRecord) -> PortResult<()>;
    /// A new secret for a key: stores `new` (same id, another hash) and deletes the key
    /// stored under `old_hash`, both or neither; `Conflict` if `old_hash` is gone or
    /// `new`'s hash exists.
    async fn rotate(&self, old_hash: &str, new: &ApiKeyRecord) -> PortResult<()>;
}

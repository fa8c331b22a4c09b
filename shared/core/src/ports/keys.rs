//! API keys, stored by hash.

use async_trait::async_trait;

use super::PortResult;
use crate::domain::ApiKeyRecord;

/// API keys, by hash.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key; `Conflict` if the hash exists.
    async fn insert(&self, record: &ApiKeyRecord) -> PortResult<()>;
    async fn find(&self, key_hash: &str) -> PortResult<Option<ApiKeyRecord>>;
}

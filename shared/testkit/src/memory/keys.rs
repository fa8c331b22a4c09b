//! API keys in memory, by hash.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use naiq_core::domain::ApiKeyRecord;
use naiq_core::ports::{KeyStore, PortError, PortResult};

use super::lock;

#[derive(Default)]
pub struct MemoryKeyStore {
    keys: Mutex<HashMap<String, ApiKeyRecord>>,
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn insert(&self, record: &ApiKeyRecord) -> PortResult<()> {
        let mut keys = lock(&self.keys);
        if keys.contains_key(&record.key_hash) {
            return Err(PortError::Conflict("key exists".into()));
        }
        keys.insert(record.key_hash.clone(), record.clone());
        Ok(())
    }

    async fn find(&self, key_hash: &str) -> PortResult<Option<ApiKeyRecord>> {
        Ok(lock(&self.keys).get(key_hash).cloned())
    }
}

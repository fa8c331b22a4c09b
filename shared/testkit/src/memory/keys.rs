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

    async fn find_by_id(&self, key_id: &str) -> PortResult<Option<ApiKeyRecord>> {
        Ok(lock(&self.keys)
            .values()
            .find(|k| k.key_id == key_id)
            .cloned())
    }

    async fn list(&self) -> PortResult<Vec<ApiKeyRecord>> {
        Ok(lock(&self.keys).values().cloned().collect())
    }

    async fn update(&self, record: &ApiKeyRecord) -> PortResult<()> {
        let mut keys = lock(&self.keys);
        match keys.get_mut(&record.key_hash) {
            Some(stored) => {
                *stored = record.clone();
                Ok(())
            }
            None => Err(PortError::Conflict("no such key".into())),
        }
    }

    async fn rotate(&self, old_hash: &str, new: &ApiKeyRecord) -> PortResult<()> {
        let mut keys = lock(&self.keys);
        if !keys.contains_key(old_hash) || keys.contains_key(&new.key_hash) {
            return Err(PortError::Conflict("the key changed meanwhile".into()));
        }
        keys.remove(old_hash);
        keys.insert(new.key_hash.clone(), new.clone());
        Ok(())
    }
}

//! Image objects in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use bytes::Bytes;
use naiq_core::ports::{ImageStore, PortResult};

use super::lock;

#[derive(Default)]
pub struct MemoryImageStore {
    objects: Mutex<HashMap<String, (Bytes, String)>>,
    /// How many objects were read whole (`get`), for tests of what reads them.
    reads: std::sync::atomic::AtomicUsize,
}

#[async_trait]
impl ImageStore for MemoryImageStore {
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> PortResult<()> {
        lock(&self.objects).insert(key.to_string(), (bytes, content_type.to_string()));
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Bytes>> {
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(lock(&self.objects).get(key).map(|(b, _)| b.clone()))
    }

    async fn exists(&self, key: &str) -> PortResult<bool> {
        Ok(lock(&self.objects).contains_key(key))
    }

    async fn url(&self, key: &str, ttl_seconds: u64) -> PortResult<String> {
        Ok(format!("memory://images/{key}?ttl={ttl_seconds}"))
    }
}

impl MemoryImageStore {
    /// How many reads of a whole object (`get`) were made.
    pub fn read_count(&self) -> usize {
        self.reads.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many objects are stored.
    pub fn object_count(&self) -> usize {
        lock(&self.objects).len()
    }

    /// The stored bytes of an object (for tests).
    pub fn get_sync(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.objects).get(key).map(|(b, _)| b.to_vec())
    }
}

//! The server-side credentials in memory.

use std::sync::Mutex;

use async_trait::async_trait;
use naiq_core::domain::Credentials;
use naiq_core::ports::{PortResult, SecretStore};

use super::lock;

#[derive(Default)]
pub struct MemorySecretStore {
    value: Mutex<Option<Credentials>>,
}

impl MemorySecretStore {
    pub fn with(credentials: Credentials) -> Self {
        Self {
            value: Mutex::new(Some(credentials)),
        }
    }
}

#[async_trait]
impl SecretStore for MemorySecretStore {
    async fn get(&self) -> PortResult<Option<Credentials>> {
        Ok(lock(&self.value).clone())
    }

    async fn put(&self, credentials: &Credentials) -> PortResult<()> {
        *lock(&self.value) = Some(credentials.clone());
        Ok(())
    }
}

//! The server-side NovelAI credentials (Secrets Manager).

use async_trait::async_trait;

use super::PortResult;
use crate::domain::Credentials;

/// The server-side NovelAI credentials (Secrets Manager).
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn get(&self) -> PortResult<Option<Credentials>>;
    async fn put(&self, credentials: &Credentials) -> PortResult<()>;
}

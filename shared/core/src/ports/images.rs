//! Image objects: job inputs and results (S3).

use async_trait::async_trait;

use super::PortResult;

/// Image objects (S3).
#[async_trait]
pub trait ImageStore: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()>;
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>>;
    /// A URL that serves the object for `ttl_seconds`.
    async fn url(&self, key: &str, ttl_seconds: u64) -> PortResult<String>;
}

//! Image objects: job inputs and results (S3).

use async_trait::async_trait;
use bytes::Bytes;

use super::PortResult;

/// Image objects (S3).
#[async_trait]
pub trait ImageStore: Send + Sync {
    /// Stores `bytes` under `key`. `Bytes`, not a `Vec`: a write that is retried, or an
    /// object kept for a later write, is a reference-counted handle, not another copy of
    /// what can be a 36 MiB upscale.
    async fn put(&self, key: &str, bytes: Bytes, content_type: &str) -> PortResult<()>;
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>>;
    /// A URL that serves the object for `ttl_seconds`.
    async fn url(&self, key: &str, ttl_seconds: u64) -> PortResult<String>;
}

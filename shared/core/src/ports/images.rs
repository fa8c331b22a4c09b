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
    /// Stores the object made of `parts`, in order: an answer object is a short head and
    /// the images it holds. This default gathers them and puts; the S3 store sends them one
    /// after the other, so the largest answer is never copied into a buffer of its own.
    async fn put_parts(&self, key: &str, parts: Vec<Bytes>, content_type: &str) -> PortResult<()> {
        let mut all = bytes::BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
        for part in &parts {
            all.extend_from_slice(part);
        }
        self.put(key, all.freeze(), content_type).await
    }
    /// The object's bytes, in one buffer read once (not gathered again from the chunks
    /// it arrived in).
    async fn get(&self, key: &str) -> PortResult<Option<Bytes>>;
    /// Whether an object is stored under `key`, without reading it: a redelivered job
    /// looks for an answer it stored, which can be a 36 MiB upscale. This default reads
    /// it; the S3 store asks for its head only.
    async fn exists(&self, key: &str) -> PortResult<bool> {
        Ok(self.get(key).await?.is_some())
    }
    /// A URL that serves the object for `ttl_seconds`.
    async fn url(&self, key: &str, ttl_seconds: u64) -> PortResult<String>;
}

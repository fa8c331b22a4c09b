//! S3 adapter: images and image-to-image inputs; presigned GET URLs.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::{ByteStream, SdkBody};

use super::describe;
use naiq_core::ports::*;

pub struct S3ImageStore {
    client: Client,
    bucket: String,
}

impl S3ImageStore {
    pub fn new(client: Client, bucket: impl Into<String>) -> Self {
        Self {
            client,
            bucket: bucket.into(),
        }
    }
}

fn backend<E: std::error::Error>(err: E) -> PortError {
    PortError::backend("S3", describe(&err))
}

impl S3ImageStore {
    /// One PutObject of `body`; `length` when the body cannot tell it (a streamed one).
    async fn put_object(
        &self,
        key: &str,
        content_type: &str,
        body: ByteStream,
        length: Option<i64>,
    ) -> PortResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .set_content_length(length)
            .body(body)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl ImageStore for S3ImageStore {
    async fn put(&self, key: &str, bytes: bytes::Bytes, content_type: &str) -> PortResult<()> {
        self.put_object(key, content_type, ByteStream::from(bytes), None)
            .await
    }

    async fn put_parts(
        &self,
        key: &str,
        parts: Vec<bytes::Bytes>,
        content_type: &str,
    ) -> PortResult<()> {
        let length = parts.iter().map(|p| p.len() as i64).sum();
        // Retryable: each attempt sends the same parts again (handles, not copies).
        let body = SdkBody::retryable(move || {
            SdkBody::from_body_1_x(super::parts_body::PartsBody::new(parts.clone()))
        });
        self.put_object(key, content_type, ByteStream::new(body), Some(length))
            .await
    }

    async fn get(&self, key: &str) -> PortResult<Option<bytes::Bytes>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(mut out) => {
                // Into one buffer of the object's size as the chunks arrive: collecting
                // the chunks and joining them would hold the object twice.
                let size = out.content_length().unwrap_or(0).max(0) as usize;
                let mut all = Vec::with_capacity(size);
                while let Some(chunk) = out.body.try_next().await.map_err(backend)? {
                    all.extend_from_slice(&chunk);
                }
                Ok(Some(all.into()))
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(e) => Err(backend(e)),
        }
    }

    async fn exists(&self, key: &str) -> PortResult<bool> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            // A HEAD's 404 has no body, so the SDK names it `NotFound`, not `NoSuchKey`.
            Err(e) if e.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    async fn url(&self, key: &str, ttl_seconds: u64) -> PortResult<String> {
        let config =
            PresigningConfig::expires_in(Duration::from_secs(ttl_seconds.clamp(1, 604_800)))
                .map_err(backend)?;
        let req = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(backend)?;
        Ok(req.uri().to_string())
    }
}

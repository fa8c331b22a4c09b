//! S3 adapter: images and image-to-image inputs; presigned GET URLs.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;

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

#[async_trait]
impl ImageStore for S3ImageStore {
    async fn put(&self, key: &str, bytes: bytes::Bytes, content_type: &str) -> PortResult<()> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => {
                let data = out.body.collect().await.map_err(backend)?;
                Ok(Some(data.into_bytes().to_vec()))
            }
            Err(e) if e.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
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

//! The Director tools (`/ai/augment-image`) and upscaling (`/ai/upscale`): one JSON body
//! each, answered with a zip of PNGs (an augment's entries stored rather than deflated,
//! which the archive reader takes as it takes deflated ones).

use naiq_core::domain::Credentials;
use naiq_core::novelai::archive::decode_images;
use naiq_core::ports::{GeneratedImage, UpstreamError};
use serde::Serialize;

use super::NovelAiClient;
use crate::novelai::{answer_body, network};

/// NovelAI's path of a Director tool request.
pub(super) const AUGMENT_PATH: &str = "/ai/augment-image";
/// NovelAI's path of an upscale request.
pub(super) const UPSCALE_PATH: &str = "/ai/upscale";

impl NovelAiClient {
    /// Posts `body` to `path` and reads the zip of images it answers (a generation, a
    /// Director tool or an upscale).
    pub(super) async fn post_images<B: Serialize + Sync>(
        &self,
        token: &str,
        path: &str,
        body: &B,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        let resp = self
            .http
            .post(format!("{}{path}", self.image_url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(network)?;
        let bytes = answer_body(resp, |status| (200..300).contains(&status)).await?;
        decode_images(&bytes)
    }

    /// Sends `body` to `path` and reads the images, logging in once more on a 401 of a
    /// cached login token (as a generation does).
    pub(super) async fn images_from<B: Serialize + Sync>(
        &self,
        credentials: &Credentials,
        path: &str,
        body: &B,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        self.with_login(credentials, |token| async move {
            self.post_images(&token, path, body).await
        })
        .await
    }
}

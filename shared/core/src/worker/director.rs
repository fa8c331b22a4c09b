//! The call of a Director tool or upscale job. Everything around it (the slot, the
//! heartbeat, the answer stored before anything else, retries, the cooldown, the ledger)
//! is the generation's own path in `run`; only the request differs.

use super::Worker;
use crate::domain::Credentials;
use crate::domain::Job;
use crate::domain::director::{JobKind, UPSCALE_FACTOR};
use crate::novelai::{AugmentRequest, UpscaleRequest};
use crate::ports::{GeneratedImage, UpstreamError};

impl Worker {
    /// Sends the job's request with its source image (base64) and returns the images.
    pub(super) async fn director_call(
        &self,
        job: &Job,
        credentials: &Credentials,
        image_b64: String,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        let params = job.params();
        let task_id = job.task_id();
        let (images, expected) = match params.kind {
            JobKind::Augment(a) => {
                let request = AugmentRequest::build(params, image_b64)
                    .expect("an augment job builds an augment request");
                tracing::info!(task_id = %task_id, tool = request.req_type, width = request.width, height = request.height, "running a Director tool");
                let images = self.ports.upstream.augment(credentials, &request).await?;
                (images, (a.tool.images(), params.width, params.height))
            }
            JobKind::Upscale => {
                let request = UpscaleRequest::build(params, image_b64)
                    .expect("an upscale job builds an upscale request");
                tracing::info!(task_id = %task_id, width = params.width, height = params.height, "upscaling");
                let images = self.ports.upstream.upscale(credentials, &request).await?;
                let (w, h) = (
                    params.width * UPSCALE_FACTOR,
                    params.height * UPSCALE_FACTOR,
                );
                (images, (1, w, h))
            }
            JobKind::Generate => unreachable!("generations are built by novelai::body"),
        };
        // NovelAI has been paid for these: an unexpected count or size is kept and told,
        // never thrown away.
        let (count, width, height) = expected;
        if images.len() != count as usize
            || images
                .iter()
                .any(|i| (i.width, i.height) != (width, height))
        {
            tracing::warn!(task_id = %task_id, images = ?images, expected_count = count, width, height, "NovelAI answered other images than expected; keeping them");
        }
        Ok(images)
    }
}

//! A job's vibes, made ready for its generation. V4/V4.5 vibes need NovelAI's encoding:
//! a stored one is used as is (no call); a missing one is made with `/ai/encode-vibe` and
//! stored, once per (image, model, information extracted). An encode is an upstream call
//! like a generation: one at a time, each in its own paced slot (counted in the day's
//! quota), so after the first call of a job (which uses the slot its step reserved) every
//! further call, the generation included, waits for and reserves a fresh slot.

use base64::Engine as _;

use super::{Outcome, Worker};
use crate::domain::pacing::Decision;
use crate::domain::request::vibes::encoded;
use crate::domain::{Credentials, Job, JobError, Status};
use crate::novelai::EncodeVibeRequest;
use crate::novelai::request::JsNumber;
use crate::objects::{vibe_encoding_key, vibe_source_key};
use crate::ports::{Delivery, PortError, UpstreamError};

/// What the job's vibes came to.
pub(super) enum Prepared {
    /// Each vibe's image as the generation sends it (base64), in order; a slot is reserved
    /// for the generation.
    Ready(Vec<String>),
    /// An encode failed: handled like a failed generation.
    Failed(UpstreamError),
    /// A vibe's image is gone from the store.
    Missing(JobError),
    /// The next slot is later than this invocation can wait; the encodings made so far
    /// are kept.
    Later,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Worker {
    /// Reads or makes every vibe's encoding (V4/V4.5) or fitted image (V3).
    pub(super) async fn prepare_vibes(
        &self,
        job: &Job,
        credentials: &Credentials,
    ) -> Result<Prepared, PortError> {
        let params = job.params();
        if params.vibes.is_empty() {
            return Ok(Prepared::Ready(Vec::new()));
        }
        let is_test = job.lane() == crate::domain::Lane::Test;
        let encode = encoded(params.family);
        let mut calls = 0u32;
        let mut out = Vec::with_capacity(params.vibes.len());
        for vibe in &params.vibes {
            let source_key = vibe_source_key(&vibe.hash, encode);
            if !encode {
                match self.ports.images.get(&source_key).await? {
                    Some(png) => out.push(b64(&png)),
                    None => return Ok(Prepared::Missing(gone())),
                }
                continue;
            }
            let key = vibe_encoding_key(&vibe.hash, &params.model, &vibe.ie_key());
            if let Some(encoding) = self.ports.images.get(&key).await? {
                out.push(b64(&encoding));
                continue;
            }
            let Some(source) = self.ports.images.get(&source_key).await? else {
                return Ok(Prepared::Missing(gone()));
            };
            if calls > 0 && !self.next_slot(is_test).await? {
                return Ok(Prepared::Later);
            }
            calls += 1;
            let request = EncodeVibeRequest {
                image: b64(&source),
                information_extracted: JsNumber(vibe.ie_key().parse().unwrap_or(1.0)),
                model: params.model.clone(),
            };
            tracing::info!(task_id = %job.task_id(), vibe = %vibe.hash, model = %params.model, "encoding a vibe");
            match self.ports.upstream.encode_vibe(credentials, &request).await {
                Ok(encoding) => {
                    out.push(b64(&encoding));
                    self.ports
                        .images
                        .put(&key, encoding.into(), "application/octet-stream")
                        .await?;
                }
                Err(e) => return Ok(Prepared::Failed(e)),
            }
        }
        if calls > 0 && !self.next_slot(is_test).await? {
            return Ok(Prepared::Later);
        }
        Ok(Prepared::Ready(out))
    }

    /// Waits for the next paced slot and reserves it; `false` when it comes later than
    /// this invocation can wait.
    pub(super) async fn next_slot(&self, is_test: bool) -> Result<bool, PortError> {
        loop {
            let now = self.clock.now();
            let (state, version) = self.ports.pacing.load_pacing().await?;
            match self.settings.pacing.decide(&state, now, is_test) {
                Decision::Now => {
                    let next = {
                        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
                        self.settings.pacing.reserve(&state, now, &mut *rng)
                    };
                    match self.ports.pacing.save_pacing(&next, version).await {
                        Ok(()) => {
                            tracing::info!(calls_today = next.day_count, "slot reserved");
                            return Ok(true);
                        }
                        Err(PortError::Conflict(_)) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Decision::Wait { until, .. } => {
                    if until + self.job_budget() > self.deadline_or(now) {
                        return Ok(false);
                    }
                    self.sleeper.sleep_until(until).await;
                }
            }
        }
    }
}

impl Worker {
    /// The job's next call cannot wait in this invocation: it goes back to its lane (as
    /// `RETRY`, an attempt spent) with its encodings kept, or fails without attempts left.
    pub(super) async fn retry_later(
        &self,
        mut job: Job,
        delivery: &Delivery,
    ) -> Result<Outcome, PortError> {
        let error = JobError::new(
            "pacing_wait",
            "the next paced slot came after this invocation; the job waits for a later one",
        );
        if job.attempts() < self.settings.max_attempts {
            job.retry(error, self.clock.now())
                .expect("a started job can be retried");
            self.ports.jobs.replace(&job, Status::Started).await?;
            self.ports.queue.release(delivery).await?;
            Ok(Outcome::Retried)
        } else {
            self.finish_failed(job, error, delivery).await
        }
    }
}

fn gone() -> JobError {
    JobError::new("input_missing", "a vibe's image is gone from the store")
}

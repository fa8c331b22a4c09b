//! One job: reserve its slot with a conditional write of the pacing state, mark it
//! started, call NovelAI (with a heartbeat on its message; through the image stream for
//! the families that stream, recording the job's progress, `previews`), store the answer, then the
//! images, mark it done (`answer`); or record the failure, start the cooldown and retry it
//! while attempts are left. A redelivered job whose attempt was answered finishes from the
//! stored answer; one found `STARTED` without an answer was interrupted, and that attempt
//! counts.

use base64::Engine as _;

use super::encode::Prepared;
use super::{Outcome, Worker};
use crate::domain::pacing::{Decision, PacingState};
use crate::domain::{Job, JobError, Lane, Status};
use crate::novelai::{body, scrub, stream_answer};
use crate::ports::{Delivery, PortError, UpstreamError};
use crate::webhooks::EventType;

impl Worker {
    /// Handles one received message: skips it, or reserves its slot and runs it, against
    /// `read` (the pacing state and its version this turn read) first where given.
    pub(super) async fn step(
        &self,
        delivery: &Delivery,
        mut read: Option<(PacingState, u64)>,
    ) -> Result<Outcome, PortError> {
        let task_id = &delivery.message.task_id;
        let Some(job) = self.ports.jobs.get(task_id).await? else {
            tracing::warn!(task_id = %task_id, "queued job not found; dropping the message");
            self.ports.queue.ack(delivery).await?;
            return Ok(Outcome::Skipped);
        };
        if job.status().is_terminal() {
            // Cancelled, or a redelivery of a job that already finished: no second call.
            tracing::info!(task_id = %task_id, status = %job.status(), "job already finished or cancelled; skipping");
            self.ports.queue.ack(delivery).await?;
            return Ok(Outcome::Skipped);
        }
        if let Some(answered) = self.load_answer(&job).await? {
            // A worker stopped after NovelAI answered: finish from the stored answer, with
            // no new call and no new slot.
            tracing::info!(task_id = %task_id, attempt = job.attempts(), "the attempt's answer is stored; finishing from it");
            return self
                .with_heartbeat(delivery, self.finish_succeeded(job, answered, delivery))
                .await;
        }
        if self.refuse_unusable_key(&job).await? {
            self.ports.queue.ack(delivery).await?;
            return Ok(Outcome::Skipped);
        }
        let is_test = job.lane() == Lane::Test;
        loop {
            let now = self.clock.now();
            let (state, version) = match read.take() {
                Some(read) => read,
                None => self.ports.pacing.load_pacing().await?,
            };
            match self.settings.pacing.decide(&state, now, is_test) {
                Decision::Now => {
                    let next = {
                        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
                        self.settings.pacing.reserve(&state, now, &mut *rng)
                    };
                    match self.ports.pacing.save_pacing(&next, version).await {
                        Ok(()) => {
                            tracing::info!(task_id = %task_id, calls_today = next.day_count, "slot reserved");
                            return self.process(job, delivery).await;
                        }
                        // Another worker took the slot first: decide again.
                        Err(PortError::Conflict(_)) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Decision::Wait { .. } => {
                    self.ports.queue.release(delivery).await?;
                    return Ok(Outcome::Released);
                }
            }
        }
    }

    async fn process(&self, mut job: Job, delivery: &Delivery) -> Result<Outcome, PortError> {
        let task_id = &delivery.message.task_id;
        let expected = job.status();
        if expected == Status::Started && job.attempts() >= self.settings.max_attempts {
            // Redelivered after a crash mid-call, with no attempts left.
            return self.finish_failed(job, Job::interrupted(), delivery).await;
        }
        if let Err(e) = job.start(self.clock.now()) {
            tracing::info!(task_id = %task_id, error = %e, "job cannot start; skipping");
            self.ports.queue.ack(delivery).await?;
            return Ok(Outcome::Skipped);
        }
        match self.ports.jobs.replace(&job, expected).await {
            Ok(()) => {}
            Err(PortError::Conflict(_)) => {
                // Cancelled (or otherwise changed) between the read and the write.
                tracing::info!(task_id = %task_id, "job changed before it started; skipping");
                self.ports.queue.ack(delivery).await?;
                return Ok(Outcome::Skipped);
            }
            Err(e) => return Err(e),
        }
        if job.attempts() == 1 {
            if let Some(started) = job.started_at() {
                crate::metrics::job_started(job.lane(), job.created_at(), started);
            }
            self.emit(&job, EventType::Started).await;
        }
        tracing::info!(task_id = %task_id, attempt = job.attempts(), model = %job.params().model, "sending to NovelAI");

        let credentials = match &delivery.message.credentials {
            Some(c) => Some(c.clone()),
            None => self.ports.secrets.get().await?,
        };
        let Some(credentials) = credentials else {
            return self
                .finish_failed(
                    job,
                    JobError::new(
                        "no_credentials",
                        "no NovelAI credentials are configured (naiq credentials set)",
                    ),
                    delivery,
                )
                .await;
        };
        let inputs = match self
            .input_b64(job.input_image_key(), "the input image")
            .await?
        {
            Ok(image) => match self
                .input_b64(job.mask_key(), "the inpainting mask")
                .await?
            {
                Ok(mask) => Ok((image, mask)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (image_b64, mask_b64) = match inputs {
            Ok(found) => found,
            Err(error) => return self.finish_failed(job, error, delivery).await,
        };
        let started;
        let result = if !job.params().kind.is_generate() {
            // A Director tool or an upscale: one call on the stored source image.
            let Some(image) = image_b64 else {
                let error = JobError::new("input_missing", "the source image is gone");
                return self.finish_failed(job, error, delivery).await;
            };
            started = std::time::Instant::now();
            self.with_heartbeat(delivery, self.director_call(&job, &credentials, image))
                .await
        } else {
            let mut request = body::build(job.params(), image_b64.as_deref(), mask_b64.as_deref());
            let vibes = self.prepare_vibes(&job, &credentials).await?;
            started = std::time::Instant::now();
            match vibes {
                Prepared::Ready(images) => {
                    body::attach_vibes(&mut request, job.params(), images);
                    match self.reference_images(&job).await? {
                        Ok(refs) => body::attach_references(&mut request, job.params(), refs),
                        Err(error) => return self.finish_failed(job, error, delivery).await,
                    }
                    let previews = super::previews::JobPreviews::new(self, &job);
                    let call = async {
                        if stream_answer::streams(job.params()) {
                            self.ports
                                .upstream
                                .generate_stream(&credentials, &request, &previews)
                                .await
                        } else {
                            self.ports.upstream.generate(&credentials, &request).await
                        }
                    };
                    self.with_heartbeat(delivery, call).await
                }
                Prepared::Failed(e) => Err(e),
                Prepared::Missing(error) => return self.finish_failed(job, error, delivery).await,
                Prepared::Later => return self.retry_later(job, delivery).await,
            }
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        crate::metrics::upstream_call(elapsed_ms);
        if let Err(e) = self.ports.call_stats.record_call_duration(elapsed_ms).await {
            tracing::warn!(task_id = %task_id, error = %e, "could not record the call's duration");
        }
        match result {
            Ok(images) => {
                tracing::info!(task_id = %task_id, images = images.len(), upstream_ms = elapsed_ms, "NovelAI answered");
                // The answer first, in one write: from here on, nothing can make this
                // attempt be paid again.
                self.with_heartbeat(delivery, async {
                    let answered = self.save_answer(&job, images).await;
                    self.finish_succeeded(job, answered, delivery).await
                })
                .await
            }
            Err(e) => {
                // Whatever the upstream said is scrubbed before it is logged or stored.
                let text = scrub(&e.to_string());
                tracing::warn!(task_id = %task_id, code = e.code(), error = %text, attempt = job.attempts(), upstream_ms = elapsed_ms, "NovelAI call failed");
                if matches!(e, UpstreamError::Status { status: 402, .. }) {
                    // Out of Anlas: the cached balance (and the prices it gives) is wrong.
                    self.refresh_account(true).await;
                }
                self.start_cooldown().await?;
                let error = JobError::new(e.code(), text);
                if e.is_retryable() && job.attempts() < self.settings.max_attempts {
                    job.retry(error, self.clock.now())
                        .expect("a started job can be retried");
                    self.ports.jobs.replace(&job, Status::Started).await?;
                    // Back in its lane, at its old place; the cooldown paces the retry.
                    self.ports.queue.release(delivery).await?;
                    tracing::info!(task_id = %task_id, attempt = job.attempts(), max_attempts = self.settings.max_attempts, "will retry");
                    Ok(Outcome::Retried)
                } else {
                    self.finish_failed(job, error, delivery).await
                }
            }
        }
    }

    /// A stored input (image or mask) as base64: none when the job has none, a job error
    /// when it is gone from the bucket.
    async fn input_b64(
        &self,
        key: Option<&str>,
        what: &str,
    ) -> Result<Result<Option<String>, JobError>, PortError> {
        let Some(key) = key else {
            return Ok(Ok(None));
        };
        Ok(match self.ports.images.get(key).await? {
            Some(bytes) => Ok(Some(
                base64::engine::general_purpose::STANDARD.encode(bytes),
            )),
            None => Err(JobError::new("input_missing", format!("{what} is gone"))),
        })
    }

    /// After a failed call: the next call waits a fresh cooldown draw instead of the interval.
    async fn start_cooldown(&self) -> Result<(), PortError> {
        loop {
            let (state, version) = self.ports.pacing.load_pacing().await?;
            let next = {
                let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
                self.settings
                    .pacing
                    .after_failure(&state, self.clock.now(), &mut *rng)
            };
            match self.ports.pacing.save_pacing(&next, version).await {
                Ok(()) => return Ok(()),
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    pub(super) async fn finish_failed(
        &self,
        mut job: Job,
        error: JobError,
        delivery: &Delivery,
    ) -> Result<Outcome, PortError> {
        let expected = job.status();
        let code = error.code.clone();
        tracing::warn!(task_id = %job.task_id(), code = %code, "job failed");
        if let Err(e) = job.fail(error, self.clock.now()) {
            tracing::info!(task_id = %job.task_id(), error = %e, "job already finished");
            self.ports.queue.ack(delivery).await?;
            return Ok(Outcome::Skipped);
        }
        match self.ports.jobs.replace(&job, expected).await {
            Ok(()) => {
                crate::metrics::job_failed(&code);
                self.settle(&job, None).await;
                self.emit(&job, EventType::Failed).await;
            }
            Err(PortError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        self.ports.queue.ack(delivery).await?;
        Ok(Outcome::Failed)
    }
}

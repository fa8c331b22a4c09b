//! The worker: drains the lane queues one job at a time (single flight), under a lease so
//! two invocations never drain at once.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tracing::Instrument;

use super::{image_key, local_day};
use crate::config::Settings;
use crate::domain::{Clock, Job, JobError, Status};
use crate::novelai::body;
use crate::ports::*;

/// The ports the worker needs.
#[derive(Clone)]
pub struct WorkerPorts {
    pub jobs: Arc<dyn JobStore>,
    pub queue: Arc<dyn JobQueue>,
    pub images: Arc<dyn ImageStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub state: Arc<dyn StateStore>,
    pub upstream: Arc<dyn Upstream>,
}

pub const LEASE_NAME: &str = "worker";

pub struct Worker {
    ports: WorkerPorts,
    clock: Arc<dyn Clock>,
    settings: Settings,
    /// Who holds the lease (the invocation's request id).
    holder: String,
}

/// Why a drain ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum StopReason {
    /// Every lane is empty.
    QueueEmpty,
    /// Another invocation holds the drain lease.
    LeaseHeld,
    /// Not enough time left in this invocation for another upstream call.
    OutOfTime,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrainReport {
    pub stopped: StopReason,
    pub succeeded: u32,
    pub failed: u32,
    pub skipped: u32,
}

enum Outcome {
    Succeeded,
    Failed,
    Skipped,
}

impl Worker {
    pub fn new(
        ports: WorkerPorts,
        clock: Arc<dyn Clock>,
        settings: Settings,
        holder: impl Into<String>,
    ) -> Self {
        Self {
            ports,
            clock,
            settings,
            holder: holder.into(),
        }
    }

    /// Time one job may take: the upstream timeout plus room to store the images.
    fn job_budget(&self) -> Duration {
        Duration::seconds(self.settings.novelai_timeout_seconds as i64 + 10)
    }

    /// Drains until the queues are empty or `deadline` (the invocation's end) is near.
    pub async fn drain(&self, deadline: DateTime<Utc>) -> Result<DrainReport, PortError> {
        let mut report = DrainReport {
            stopped: StopReason::QueueEmpty,
            succeeded: 0,
            failed: 0,
            skipped: 0,
        };
        // The lease outlives the invocation a little, so a crashed worker's lease frees itself.
        let lease_until = deadline + Duration::seconds(30);
        if !self
            .ports
            .state
            .acquire_lease(LEASE_NAME, &self.holder, self.clock.now(), lease_until)
            .await?
        {
            report.stopped = StopReason::LeaseHeld;
            return Ok(report);
        }
        let result = self.drain_leased(deadline, &mut report).await;
        if let Err(e) = self
            .ports
            .state
            .release_lease(LEASE_NAME, &self.holder)
            .await
        {
            tracing::warn!(error = %e, "could not release the drain lease; it expires by itself");
        }
        result.map(|()| report)
    }

    async fn drain_leased(
        &self,
        deadline: DateTime<Utc>,
        report: &mut DrainReport,
    ) -> Result<(), PortError> {
        loop {
            if self.clock.now() + self.job_budget() > deadline {
                report.stopped = StopReason::OutOfTime;
                return Ok(());
            }
            let Some(delivery) = self.ports.queue.receive().await? else {
                report.stopped = StopReason::QueueEmpty;
                return Ok(());
            };
            let span = tracing::info_span!("job", task_id = %delivery.message.task_id);
            match self.process(&delivery).instrument(span).await? {
                Outcome::Succeeded => report.succeeded += 1,
                Outcome::Failed => report.failed += 1,
                Outcome::Skipped => report.skipped += 1,
            }
        }
    }

    async fn process(&self, delivery: &Delivery) -> Result<Outcome, PortError> {
        let task_id = &delivery.message.task_id;
        let Some(mut job) = self.ports.jobs.get(task_id).await? else {
            tracing::warn!(task_id = %task_id, "queued job not found; dropping the message");
            self.ports.queue.ack(delivery).await?;
            return Ok(Outcome::Skipped);
        };
        let expected = job.status;
        match expected {
            s if s.is_terminal() => {
                tracing::info!(task_id = %task_id, status = %s, "job already finished; skipping");
                self.ports.queue.ack(delivery).await?;
                return Ok(Outcome::Skipped);
            }
            Status::Started if job.attempts >= self.settings.max_attempts => {
                // Redelivered after a crash mid-call, with no attempts left.
                return self
                    .finish_failed(
                        job,
                        JobError::new("interrupted", "the worker stopped during the last attempt"),
                        delivery,
                    )
                    .await;
            }
            _ => {}
        }

        job.start(self.clock.now());
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
        let day = local_day(self.clock.now(), self.settings.timezone);
        let count = self.ports.state.count_call(day).await?;
        tracing::info!(task_id = %task_id, attempt = job.attempts, calls_today = count, model = %job.params.model, "sending to NovelAI");

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
        let image_b64 = match &job.input_image_key {
            None => None,
            Some(key) => match self.ports.images.get(key).await? {
                Some(bytes) => Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
                None => {
                    return self
                        .finish_failed(
                            job,
                            JobError::new("input_missing", "the input image is gone"),
                            delivery,
                        )
                        .await;
                }
            },
        };
        let request = body::build(&job.params, image_b64.as_deref());
        let started = std::time::Instant::now();
        match self.ports.upstream.generate(&credentials, &request).await {
            Ok(images) => {
                let mut keys = Vec::with_capacity(images.len());
                for (i, image) in images.into_iter().enumerate() {
                    let key = image_key(&job.task_id, i);
                    self.ports.images.put(&key, image.png, "image/png").await?;
                    keys.push(key);
                }
                let count = keys.len();
                job.succeed(keys, self.clock.now());
                self.ports.jobs.replace(&job, Status::Started).await?;
                self.ports.queue.ack(delivery).await?;
                tracing::info!(task_id = %task_id, images = count, upstream_ms = started.elapsed().as_millis() as u64, "job succeeded");
                Ok(Outcome::Succeeded)
            }
            Err(e) => {
                tracing::warn!(task_id = %task_id, code = e.code(), error = %e, upstream_ms = started.elapsed().as_millis() as u64, "NovelAI call failed");
                self.finish_failed(job, JobError::new(e.code(), e.to_string()), delivery)
                    .await
            }
        }
    }

    async fn finish_failed(
        &self,
        mut job: Job,
        error: JobError,
        delivery: &Delivery,
    ) -> Result<Outcome, PortError> {
        let expected = job.status;
        tracing::warn!(task_id = %job.task_id, code = %error.code, "job failed");
        job.fail(error, self.clock.now());
        match self.ports.jobs.replace(&job, expected).await {
            Ok(()) | Err(PortError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        self.ports.queue.ack(delivery).await?;
        Ok(Outcome::Failed)
    }
}

//! The worker: drains the lane queues one job at a time (single flight), under a lease so
//! two invocations never drain at once.

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use tracing::Instrument;

use rand_chacha::ChaCha8Rng;
use tokio::sync::Mutex;

use super::image_key;
use crate::config::Settings;
use crate::domain::pacing::{Decision, WaitReason};
use crate::domain::{Clock, Job, JobError, Lane, Sleeper, Status};
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
    sleeper: Arc<dyn Sleeper>,
    rng: Mutex<ChaCha8Rng>,
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
    /// The next job may not start before this invocation ends (outside a window, quota
    /// spent); it stays queued for a later invocation.
    NextSlotTooLate,
}

#[derive(Debug, Clone, Serialize)]
pub struct DrainReport {
    pub stopped: StopReason,
    /// With `NextSlotTooLate`: when the next job may start, and why not sooner.
    pub next_start: Option<DateTime<Utc>>,
    pub wait_reason: Option<WaitReason>,
    pub succeeded: u32,
    pub failed: u32,
    pub skipped: u32,
}

enum Step {
    Done(Outcome),
    /// Waited for the slot; read the queue again.
    Waited,
    /// The next slot is after this invocation.
    TooLate,
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
        sleeper: Arc<dyn Sleeper>,
        rng_seed: u64,
        settings: Settings,
        holder: impl Into<String>,
    ) -> Self {
        Self {
            ports,
            clock,
            sleeper,
            rng: Mutex::new(rand::SeedableRng::seed_from_u64(rng_seed)),
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
            next_start: None,
            wait_reason: None,
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
            // Keep the lease for as long as this invocation may still run.
            self.ports
                .state
                .acquire_lease(
                    LEASE_NAME,
                    &self.holder,
                    self.clock.now(),
                    deadline + Duration::seconds(30),
                )
                .await?;
            let Some(delivery) = self.ports.queue.receive().await? else {
                report.stopped = StopReason::QueueEmpty;
                return Ok(());
            };
            let span = tracing::info_span!("job", task_id = %delivery.message.task_id);
            let outcome = self
                .step(&delivery, deadline, report)
                .instrument(span)
                .await?;
            match outcome {
                Step::Done(Outcome::Succeeded) => report.succeeded += 1,
                Step::Done(Outcome::Failed) => report.failed += 1,
                Step::Done(Outcome::Skipped) => report.skipped += 1,
                Step::Waited => {}
                Step::TooLate => {
                    report.stopped = StopReason::NextSlotTooLate;
                    return Ok(());
                }
            }
        }
    }

    /// Handles the delivery at the head of the queue: skips it, runs it if its slot is now,
    /// or puts it back and waits for the slot (the queue is read again afterwards, so a job
    /// of a higher lane that arrived meanwhile goes first).
    async fn step(
        &self,
        delivery: &Delivery,
        deadline: DateTime<Utc>,
        report: &mut DrainReport,
    ) -> Result<Step, PortError> {
        let task_id = &delivery.message.task_id;
        let Some(job) = self.ports.jobs.get(task_id).await? else {
            tracing::warn!(task_id = %task_id, "queued job not found; dropping the message");
            self.ports.queue.ack(delivery).await?;
            return Ok(Step::Done(Outcome::Skipped));
        };
        if job.status.is_terminal() {
            tracing::info!(task_id = %task_id, status = %job.status, "job already finished or cancelled; skipping");
            self.ports.queue.ack(delivery).await?;
            return Ok(Step::Done(Outcome::Skipped));
        }
        let is_test = job.lane == Lane::Test;
        loop {
            let now = self.clock.now();
            let (state, version) = self.ports.state.load_pacing().await?;
            match self.settings.pacing.decide(&state, now, is_test) {
                Decision::Now => {
                    let next = {
                        let mut rng = self.rng.lock().await;
                        self.settings.pacing.reserve(&state, now, &mut *rng)
                    };
                    match self.ports.state.save_pacing(&next, version).await {
                        Ok(()) => {
                            tracing::info!(task_id = %task_id, calls_today = next.day_count, "slot reserved");
                            return self.process(job, delivery).await.map(Step::Done);
                        }
                        // Another worker took the slot first: decide again.
                        Err(PortError::Conflict(_)) => continue,
                        Err(e) => return Err(e),
                    }
                }
                Decision::Wait { until, reason } => {
                    self.ports.queue.release(delivery).await?;
                    if until + self.job_budget() > deadline {
                        tracing::info!(task_id = %task_id, reason = reason.as_str(), next_start = %until, "next slot is after this invocation; leaving the job queued");
                        report.next_start = Some(until);
                        report.wait_reason = Some(reason);
                        return Ok(Step::TooLate);
                    }
                    tracing::debug!(task_id = %task_id, reason = reason.as_str(), until = %until, "waiting for the next slot");
                    self.sleeper.sleep_until(until).await;
                    return Ok(Step::Waited);
                }
            }
        }
    }

    async fn process(&self, mut job: Job, delivery: &Delivery) -> Result<Outcome, PortError> {
        let task_id = &delivery.message.task_id;
        let expected = job.status;
        if expected == Status::Started && job.attempts >= self.settings.max_attempts {
            // Redelivered after a crash mid-call, with no attempts left.
            return self
                .finish_failed(
                    job,
                    JobError::new("interrupted", "the worker stopped during the last attempt"),
                    delivery,
                )
                .await;
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
        tracing::info!(task_id = %task_id, attempt = job.attempts, model = %job.params.model, "sending to NovelAI");

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
        let result = self.ports.upstream.generate(&credentials, &request).await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        if let Err(e) = self.ports.state.record_call_duration(elapsed_ms).await {
            tracing::warn!(task_id = %task_id, error = %e, "could not record the call's duration");
        }
        match result {
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
                tracing::info!(task_id = %task_id, images = count, upstream_ms = elapsed_ms, "job succeeded");
                Ok(Outcome::Succeeded)
            }
            Err(e) => {
                tracing::warn!(task_id = %task_id, code = e.code(), error = %e, upstream_ms = elapsed_ms, "NovelAI call failed");
                self.start_cooldown().await?;
                self.finish_failed(job, JobError::new(e.code(), e.to_string()), delivery)
                    .await
            }
        }
    }

    /// After a failed call: the next call waits a fresh cooldown draw instead of the interval.
    async fn start_cooldown(&self) -> Result<(), PortError> {
        loop {
            let (state, version) = self.ports.state.load_pacing().await?;
            let next = {
                let mut rng = self.rng.lock().await;
                self.settings
                    .pacing
                    .after_failure(&state, self.clock.now(), &mut *rng)
            };
            match self.ports.state.save_pacing(&next, version).await {
                Ok(()) => return Ok(()),
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e),
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

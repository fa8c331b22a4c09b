//! The worker: drains the lane queues one job at a time (single flight), under a lease so
//! two invocations never drain at once, and paced: each upstream call takes a slot reserved
//! with one conditional write of the pacing state.
//!
//! The worker decides whether a call may start *before* it receives a message, so messages
//! are not received and put back while the worker waits for a window or for the day's
//! quota (each receive counts toward the dead-letter queue's limit).

use std::sync::Arc;

use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::sync::Mutex;
use tracing::Instrument;

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

/// While waiting for a normal slot, the test lane is looked at this often (test jobs
/// ignore the interval and the windows).
const TEST_LANE_POLL: Duration = Duration::seconds(1);

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
    /// Failed attempts that will be tried again (status `RETRY`).
    pub retried: u32,
    pub skipped: u32,
}

enum Outcome {
    Succeeded,
    Failed,
    Retried,
    Skipped,
    /// Its slot was not free after all (another worker's call); put back.
    Released,
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
            retried: 0,
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
        // Dead letters are swept before and after: a message moves there when a receive
        // finds it past the limit.
        let result = match self.sweep_dead_letters(&mut report).await {
            Ok(()) => match self.drain_leased(deadline, &mut report).await {
                Ok(()) => self.sweep_dead_letters(&mut report).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
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
        let pacing = &self.settings.pacing;
        loop {
            let now = self.clock.now();
            if now + self.job_budget() > deadline {
                report.stopped = StopReason::OutOfTime;
                return Ok(());
            }
            let (state, _) = self.ports.state.load_pacing().await?;
            let normal = pacing.decide(&state, now, false);
            let test = pacing.decide(&state, now, true);
            let lanes: &[Lane] = match (normal, test) {
                (Decision::Now, _) => &Lane::ALL,
                (_, Decision::Now) => &[Lane::Test],
                _ => &[],
            };
            if !lanes.is_empty() {
                if let Some(delivery) = self.ports.queue.receive(lanes).await? {
                    let span = tracing::info_span!("job", task_id = %delivery.message.task_id);
                    match self.step(&delivery).instrument(span).await? {
                        Outcome::Succeeded => report.succeeded += 1,
                        Outcome::Failed => report.failed += 1,
                        Outcome::Retried => report.retried += 1,
                        Outcome::Skipped => report.skipped += 1,
                        Outcome::Released => {}
                    }
                    continue;
                }
                if lanes.len() == Lane::ALL.len() {
                    report.stopped = StopReason::QueueEmpty;
                    return Ok(());
                }
            }
            // Normal jobs must wait, and no test job can go now.
            let Decision::Wait { until, reason } = normal else {
                unreachable!("a free normal slot drains every lane above")
            };
            if self.ports.jobs.total_pending().await? == 0 {
                report.stopped = StopReason::QueueEmpty;
                return Ok(());
            }
            if until + self.job_budget() > deadline {
                tracing::info!(reason = reason.as_str(), next_start = %until, "the next slot is after this invocation; jobs stay queued");
                report.stopped = StopReason::NextSlotTooLate;
                report.next_start = Some(until);
                report.wait_reason = Some(reason);
                return Ok(());
            }
            let wake = if self.settings.allow_test_requests && test != Decision::Now {
                until.min(now + TEST_LANE_POLL)
            } else {
                until
            };
            tracing::debug!(reason = reason.as_str(), until = %until, "waiting for the next slot");
            self.sleeper.sleep_until(wake).await;
        }
    }

    /// Marks the jobs whose messages reached the dead-letter queue as failed, with the
    /// reason, so nothing accepted is silently lost.
    async fn sweep_dead_letters(&self, report: &mut DrainReport) -> Result<(), PortError> {
        while let Some(delivery) = self.ports.queue.receive_dead_letter().await? {
            let task_id = &delivery.message.task_id;
            if let Some(mut job) = self.ports.jobs.get(task_id).await?
                && !job.status.is_terminal()
            {
                let expected = job.status;
                job.fail(
                    JobError::new(
                        "dead_letter",
                        format!(
                            "the job's queue message failed {} deliveries",
                            crate::adapters::provision::MAX_RECEIVE_COUNT
                        ),
                    ),
                    self.clock.now(),
                );
                match self.ports.jobs.replace(&job, expected).await {
                    Ok(()) => {
                        tracing::error!(task_id = %task_id, "job failed: its message reached the dead-letter queue");
                        report.failed += 1;
                    }
                    Err(PortError::Conflict(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            self.ports.queue.ack(&delivery).await?;
        }
        Ok(())
    }

    /// Handles one received message: skips it, or reserves its slot and runs it.
    async fn step(&self, delivery: &Delivery) -> Result<Outcome, PortError> {
        let task_id = &delivery.message.task_id;
        let Some(job) = self.ports.jobs.get(task_id).await? else {
            tracing::warn!(task_id = %task_id, "queued job not found; dropping the message");
            self.ports.queue.ack(delivery).await?;
            return Ok(Outcome::Skipped);
        };
        if job.status.is_terminal() {
            // Cancelled, or a redelivery of a job that already finished: no second call.
            tracing::info!(task_id = %task_id, status = %job.status, "job already finished or cancelled; skipping");
            self.ports.queue.ack(delivery).await?;
            return Ok(Outcome::Skipped);
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
        let inputs = match self
            .input_b64(&job.input_image_key, "the input image")
            .await?
        {
            Ok(image) => match self.input_b64(&job.mask_key, "the inpainting mask").await? {
                Ok(mask) => Ok((image, mask)),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (image_b64, mask_b64) = match inputs {
            Ok(found) => found,
            Err(error) => return self.finish_failed(job, error, delivery).await,
        };
        let request = body::build(&job.params, image_b64.as_deref(), mask_b64.as_deref());
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
                // Images are stored before the job is marked done.
                job.succeed(keys, self.clock.now());
                self.ports.jobs.replace(&job, Status::Started).await?;
                self.ports.queue.ack(delivery).await?;
                tracing::info!(task_id = %task_id, images = count, upstream_ms = elapsed_ms, "job succeeded");
                Ok(Outcome::Succeeded)
            }
            Err(e) => {
                tracing::warn!(task_id = %task_id, code = e.code(), error = %e, attempt = job.attempts, upstream_ms = elapsed_ms, "NovelAI call failed");
                self.start_cooldown().await?;
                let error = JobError::new(e.code(), e.to_string());
                if e.is_retryable() && job.attempts < self.settings.max_attempts {
                    job.status = Status::Retry;
                    job.error = Some(error);
                    self.ports.jobs.replace(&job, Status::Started).await?;
                    // Back in its lane, at its old place; the cooldown paces the retry.
                    self.ports.queue.release(delivery).await?;
                    tracing::info!(task_id = %task_id, attempt = job.attempts, max_attempts = self.settings.max_attempts, "will retry");
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
        key: &Option<String>,
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

//! The worker: drains the lane queues one job at a time (single flight), under a lease so
//! two invocations never drain at once, and paced: each upstream call takes a slot reserved
//! with one conditional write of the pacing state.
//!
//! The worker decides whether a call may start *before* it receives a message, so messages
//! are not received and put back while the worker waits for a window or for the day's
//! quota (each receive counts toward the dead-letter queue's limit).

mod account;
mod dead_letters;
mod encode;
mod references;
mod run;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tracing::Instrument;

use crate::config::Settings;
use crate::domain::Lane;
use crate::domain::pacing::{Decision, WaitReason};
use crate::ports::{
    AccountCache, CallStats, Clock, ImageStore, JobQueue, JobStore, LeaseStore, PacingStore,
    PortError, SecretStore, Sleeper, Upstream,
};

/// The ports the worker needs.
#[derive(Clone)]
pub struct WorkerPorts {
    pub jobs: Arc<dyn JobStore>,
    pub queue: Arc<dyn JobQueue>,
    pub images: Arc<dyn ImageStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub lease: Arc<dyn LeaseStore>,
    pub pacing: Arc<dyn PacingStore>,
    pub call_stats: Arc<dyn CallStats>,
    pub account: Arc<dyn AccountCache>,
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
    /// The current drain's deadline: a job's later calls (after vibe encodes) wait for
    /// their slots only while they fit it.
    deadline: Mutex<Option<DateTime<Utc>>>,
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
    /// Messages a backend error kept from being handled; each is logged with its task id
    /// and comes back after its visibility timeout. One never stops the drain.
    pub errors: u32,
}

pub(crate) enum Outcome {
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
            deadline: Mutex::new(None),
        }
    }

    /// The drain's deadline, or (outside a drain) one job budget from `now`.
    fn deadline_or(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        self.deadline
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .unwrap_or(now + self.job_budget())
    }

    /// Time one job may take: the upstream timeout plus room to store the images.
    fn job_budget(&self) -> Duration {
        Duration::seconds(self.settings.job_budget_seconds() as i64)
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
            errors: 0,
        };
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(deadline);
        // The lease outlives the invocation a little, so a crashed worker's lease frees itself.
        let lease_until = deadline + Duration::seconds(30);
        if !self
            .ports
            .lease
            .acquire_lease(LEASE_NAME, &self.holder, self.clock.now(), lease_until)
            .await?
        {
            report.stopped = StopReason::LeaseHeld;
            return Ok(report);
        }
        self.refresh_account(false).await;
        // Dead letters are swept before and after: a message moves there when a receive
        // finds it past the limit. A sweep that cannot even receive is logged; the drain
        // goes on without it.
        if let Err(e) = self.sweep_dead_letters(&mut report).await {
            tracing::error!(error = %e, "the dead-letter sweep failed; draining anyway");
        }
        let result = match self.drain_leased(deadline, &mut report).await {
            Ok(()) => self.sweep_dead_letters(&mut report).await,
            Err(e) => Err(e),
        };
        if let Err(e) = self
            .ports
            .lease
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
            let (state, _) = self.ports.pacing.load_pacing().await?;
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
                    match self.step(&delivery).instrument(span).await {
                        Ok(Outcome::Succeeded) => report.succeeded += 1,
                        Ok(Outcome::Failed) => report.failed += 1,
                        Ok(Outcome::Retried) => report.retried += 1,
                        Ok(Outcome::Skipped) => report.skipped += 1,
                        Ok(Outcome::Released) => {}
                        Err(e) => {
                            // This job's trouble is not the others': log it and go on; its
                            // message comes back after its visibility timeout.
                            tracing::error!(task_id = %delivery.message.task_id, error = %e, "could not handle the job; it stays queued");
                            report.errors += 1;
                        }
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
}

//! The worker: drains the lane queues one job at a time (single flight), under a lease so
//! two invocations never drain at once, and paced: each upstream call takes a slot reserved
//! with one conditional write of the pacing state. Inside a lane, keys take turns
//! (`turns`).
//!
//! The worker decides whether a call may start *before* it receives a message, so messages
//! are not received and put back while the worker waits for a window or for the day's
//! quota (each receive counts toward the dead-letter queue's limit).

mod account;
pub mod answer;
mod dead_letters;
mod director;
mod encode;
mod gauges;
pub mod heartbeat;
pub mod previews;
pub mod reaper;
mod references;
mod run;
mod settle;
pub mod tick;
mod turns;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tracing::Instrument;

use crate::config::Settings;
use crate::domain::Lane;
use crate::domain::pacing::{Decision, WaitReason};
use crate::ports::{
    AccountCache, CallStats, Clock, ImageStore, JobQueue, JobStore, KeyStore, LeaseStore, Ledger,
    PacingStore, PortError, SecretStore, Sleeper, Upstream,
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
    /// Where job events go for webhook delivery (queued only, never delivered here).
    pub webhooks: crate::webhooks::WebhookPorts,
    /// To skip the jobs of a revoked or expired key.
    pub keys: Arc<dyn KeyStore>,
    pub ledger: Arc<dyn Ledger>,
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
    /// Until when the drain lease this worker last wrote holds (`heartbeat::keep_lease`).
    lease_held: Mutex<Option<DateTime<Utc>>>,
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
    /// A scheduled invocation found nothing due before the next tick and did not drain
    /// (`tick`).
    NothingDue,
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
    /// Of the failed, waiting jobs the reaper found without a queue message.
    pub reaped: u32,
}

pub(crate) enum Outcome {
    Succeeded,
    Failed,
    Retried,
    Skipped,
    /// Its slot was not free after all (another worker's call); put back.
    Released,
}

impl DrainReport {
    /// A report of a drain that ended for `stopped` before handling any job.
    pub fn ended(stopped: StopReason) -> Self {
        Self {
            stopped,
            next_start: None,
            wait_reason: None,
            succeeded: 0,
            failed: 0,
            retried: 0,
            skipped: 0,
            errors: 0,
            reaped: 0,
        }
    }
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
            lease_held: Mutex::new(None),
        }
    }

    /// Until when the drain lease is taken from `from`: [`heartbeat::LEASE_SECONDS`], and
    /// never much past the invocation's end.
    fn lease_until(&self, from: DateTime<Utc>, deadline: DateTime<Utc>) -> DateTime<Utc> {
        (from + Duration::seconds(heartbeat::LEASE_SECONDS)).min(deadline + Duration::seconds(30))
    }

    /// Queues a job event for its webhook; never fails or waits on a receiver.
    pub(crate) async fn emit(&self, job: &crate::domain::Job, event: crate::webhooks::EventType) {
        crate::webhooks::notify(&self.ports.webhooks, job, event, self.clock.now()).await;
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
        let mut report = DrainReport::ended(StopReason::QueueEmpty);
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner()) = Some(deadline);
        // The lease is short and renewed while the worker lives (`heartbeat`), so a crashed
        // worker's lease frees itself in minutes.
        let lease_until = self.lease_until(self.clock.now(), deadline);
        if !self
            .ports
            .lease
            .acquire_lease(LEASE_NAME, &self.holder, self.clock.now(), lease_until)
            .await?
        {
            // Nothing more: the holder sets the gauges, and the schedule's ticks meanwhile
            // (`tick`). A submit's nudge while a drain runs ends here, after one write.
            report.stopped = StopReason::LeaseHeld;
            return Ok(report);
        }
        self.lease_written(Some(lease_until));
        self.refresh_account(false).await;
        // Dead letters are swept before and after: a message moves there when a receive
        // finds it past the limit. A sweep that cannot even receive is logged; the drain
        // goes on without it.
        if let Err(e) = self.sweep_dead_letters(&mut report).await {
            tracing::error!(error = %e, "the dead-letter sweep failed; draining anyway");
        }
        let mut held = turns::HeldHeads::default();
        let drained = self.drain_leased(deadline, &mut report, &mut held).await;
        self.release_held(&mut held).await;
        let result = match drained {
            Ok(()) => self.sweep_dead_letters(&mut report).await,
            Err(e) => Err(e),
        };
        // Still under the drain lease: no job of this worker is in flight now.
        self.reap(&mut report).await;
        self.record_gauges().await;
        if let Err(e) = self
            .ports
            .lease
            .release_lease(LEASE_NAME, &self.holder)
            .await
        {
            tracing::warn!(error = %e, "could not release the drain lease; it expires by itself");
        }
        self.lease_written(None);
        result.map(|()| report)
    }

    async fn drain_leased(
        &self,
        deadline: DateTime<Utc>,
        report: &mut DrainReport,
        held: &mut turns::HeldHeads,
    ) -> Result<(), PortError> {
        let pacing = &self.settings.pacing;
        loop {
            let now = self.clock.now();
            if now + self.job_budget() > deadline {
                report.stopped = StopReason::OutOfTime;
                return Ok(());
            }
            if !self.keep_lease(self.lease_until(now, deadline)).await {
                report.stopped = StopReason::LeaseHeld;
                return Ok(());
            }
            // One read a turn: the counters say which lanes to receive from (`turns`),
            // and the slot is reserved against this pacing state's version.
            let (snapshot, (state, version)) =
                crate::ports::counters_and_versioned_pacing(&*self.ports.jobs, &*self.ports.pacing)
                    .await?;
            let normal = pacing.decide(&state, now, false);
            let test = pacing.decide(&state, now, true);
            let lanes: &[Lane] = match (normal, test) {
                (Decision::Now, _) => &Lane::ALL,
                // Only a test job may go now (test jobs ignore the interval): its lane is
                // received from only when the counters say one waits. This runs in every
                // wait between normal calls. A test job a killed worker left `STARTED` is
                // not counted; its message is received at the next normal turn.
                (_, Decision::Now) if snapshot.lane(Lane::Test).is_some_and(|t| t.waiting > 0) => {
                    &[Lane::Test]
                }
                _ => &[],
            };
            if !lanes.is_empty() {
                if let Some(delivery) = self.next_turn(lanes, held, &snapshot).await? {
                    let span = tracing::info_span!("job", task_id = %delivery.message.task_id);
                    let read = Some((state, version));
                    match self.step(&delivery, read).instrument(span).await {
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
            // Nothing waits, and no message is left either (a message can belong to a
            // job found `STARTED`, which a crashed worker left: it is finished from its
            // stored answer, or retried).
            let pending = snapshot.total_pending();
            if pending == 0 && self.ports.queue.backlog().await? == 0 {
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
            self.keep_lease(self.lease_until(wake, deadline)).await;
            self.sleeper.sleep_until(wake).await;
        }
    }
}

//! The reaper: a waiting job whose queue message is gone (the queue's retention ran out, the
//! API crashed between writing the job and sending its message, a send failed and so did
//! the write that should have failed the job) would stay `PENDING` for ever and count in
//! every position. At most every [`REAP_EVERY_SECONDS`] the worker fails such jobs with a
//! clear code:
//!
//! - `expired`: waiting longer than the queues keep a message
//!   ([`MESSAGE_RETENTION_SECONDS`] less [`EXPIRY_MARGIN_SECONDS`]); its message is gone
//!   or about to be, whatever the queues hold.
//! - `message_lost`: waiting for more than [`MESSAGE_LOST_GRACE_SECONDS`] while every lane
//!   queue is empty (nothing visible, in flight or delayed, read before and after the jobs
//!   are listed). The grace covers a job being submitted right now (written before its
//!   message is sent) and SQS's approximate counts.

use chrono::Duration;

use super::{DrainReport, Worker};
use crate::domain::{Job, JobError};
use crate::ports::{MESSAGE_RETENTION_SECONDS, PortError, PortResult};

/// The lease that throttles the reaper: taken for this long and never released.
pub const REAPER_LEASE: &str = "reaper";
pub const REAP_EVERY_SECONDS: i64 = 300;
/// A waiting job this young is never `message_lost`.
pub const MESSAGE_LOST_GRACE_SECONDS: i64 = 600;
/// A job is `expired` this long before the queue would drop its message.
pub const EXPIRY_MARGIN_SECONDS: i64 = 3600;
/// Jobs failed per run at most (the next run takes the rest).
const REAP_BATCH: usize = 100;

impl Worker {
    /// Fails the waiting jobs that have no message any more; never fails the drain (an
    /// error is logged, and the next run tries again).
    pub(super) async fn reap(&self, report: &mut DrainReport) {
        if let Err(e) = self.reap_now(report).await {
            tracing::error!(error = %e, "the reaper failed; it runs again later");
        }
    }

    async fn reap_now(&self, report: &mut DrainReport) -> PortResult<()> {
        let now = self.clock.now();
        if !self
            .ports
            .lease
            .acquire_lease(
                REAPER_LEASE,
                &self.holder,
                now,
                now + Duration::seconds(REAP_EVERY_SECONDS),
            )
            .await?
        {
            return Ok(());
        }
        let retention = i64::from(MESSAGE_RETENTION_SECONDS) - EXPIRY_MARGIN_SECONDS;
        let expired = self
            .ports
            .jobs
            .waiting_before(now - Duration::seconds(retention), REAP_BATCH)
            .await?;
        for job in expired {
            let error = JobError::new(
                "expired",
                format!(
                    "the job waited longer than the queue keeps a message ({} days)",
                    MESSAGE_RETENTION_SECONDS / 86_400
                ),
            );
            self.reap_one(job, error, report).await?;
        }

        if self.ports.queue.backlog().await? != 0 {
            return Ok(());
        }
        let lost = self
            .ports
            .jobs
            .waiting_before(
                now - Duration::seconds(MESSAGE_LOST_GRACE_SECONDS),
                REAP_BATCH,
            )
            .await?;
        if lost.is_empty() || self.ports.queue.backlog().await? != 0 {
            return Ok(());
        }
        for job in lost {
            let error = JobError::new(
                "message_lost",
                "the job's queue message is gone (every lane queue is empty); submit it again",
            );
            self.reap_one(job, error, report).await?;
        }
        Ok(())
    }

    async fn reap_one(
        &self,
        mut job: Job,
        error: JobError,
        report: &mut DrainReport,
    ) -> PortResult<()> {
        let expected = job.status();
        let code = error.code.clone();
        if job.fail(error, self.clock.now()).is_err() {
            return Ok(());
        }
        match self.ports.jobs.replace(&job, expected).await {
            Ok(()) => {
                crate::metrics::job_failed(&code);
                tracing::error!(task_id = %job.task_id(), code = %code, created_at = %job.created_at(), "waiting job failed: it has no queue message");
                report.failed += 1;
                report.reaped += 1;
                Ok(())
            }
            // Started or cancelled meanwhile: it was alive after all.
            Err(PortError::Conflict(_)) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

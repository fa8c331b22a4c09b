//! The worker's side of the per-key rules: a job whose API key was revoked or has
//! expired is revoked itself, never sent; and each job that finishes settles its hold in
//! the Anlas ledger (on the local day it was accepted, where its hold is).
//!
//! NovelAI's generation answer does not say what it charged, so the actual cost is the
//! price rules (`domain::pricing`) applied when the job ran, with the account as the
//! worker knows it then (the Opus free image may have ended since the submit, when the
//! V5 usage ran out). A job that failed or was cancelled was not charged: its hold is
//! released.

use super::Worker;
use crate::domain::pricing::anlas_cost;
use crate::domain::{Job, JobError};
use crate::ports::PortError;

impl Worker {
    /// The job's key, if it is revoked or expired: the job is revoked with the reason and
    /// its hold released. `true` when the job must not run.
    pub(super) async fn refuse_unusable_key(&self, job: &Job) -> Result<bool, PortError> {
        let Some(key) = self.ports.keys.find_by_id(job.owner()).await? else {
            return Ok(false);
        };
        let now = self.clock.now();
        let Err(why) = key.usable_at(now) else {
            return Ok(false);
        };
        let reason = match (&key.revoked_reason, why.as_str()) {
            (Some(r), "revoked") => format!("its API key was revoked: {r}"),
            (_, why) => format!("its API key is {why}"),
        };
        let mut revoked = job.clone();
        let expected = job.status();
        if revoked
            .revoke_because(JobError::new(format!("key_{}", why.as_str()), reason), now)
            .is_err()
        {
            return Ok(false);
        }
        match self.ports.jobs.replace(&revoked, expected).await {
            Ok(()) => {
                tracing::info!(task_id = %job.task_id(), key = why.as_str(), "job revoked: its key is not usable");
                self.settle(job, None).await;
            }
            Err(PortError::Conflict(_)) => {}
            Err(e) => return Err(e),
        }
        Ok(true)
    }

    /// What a job that just succeeded cost, by the price rules as they stand now.
    pub(super) async fn actual_cost(&self, job: &Job, server_account: bool) -> u64 {
        let free = server_account
            && match self.ports.account.load_account().await {
                Ok(account) => account.is_some_and(|a| a.free_image_for(job.params().family)),
                Err(_) => job.cost().is_some_and(|c| c.opus_free),
            };
        u64::from(anlas_cost(job.params(), free).total)
    }

    /// Settles a finished job's hold: at `actual` when it ran, released when it did not.
    /// A failure is logged; the ledger only informs the key's budget.
    pub(super) async fn settle(&self, job: &Job, actual: Option<u64>) {
        let day = self.settings.pacing.local_day(job.created_at());
        let held = job.cost().map_or(0, |c| u64::from(c.total));
        let result = self
            .ports
            .ledger
            .settle(job.owner(), day, held, actual.unwrap_or(0))
            .await;
        match result {
            Ok(()) => {
                tracing::info!(task_id = %job.task_id(), held, actual = actual.unwrap_or(0), "ledger settled")
            }
            Err(e) => {
                tracing::warn!(task_id = %job.task_id(), error = %e, "could not settle the job's hold")
            }
        }
    }
}

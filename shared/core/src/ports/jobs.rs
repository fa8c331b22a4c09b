//! The jobs table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PortResult;
use crate::domain::pacing::PacingState;
pub use crate::domain::turns::QueuePosition;
use crate::domain::turns::QueueSnapshot;
use crate::domain::{Job, Status, TaskId};

/// What a status poll reads: the job, the lane counters, and the pacing state with its
/// version where the store could read it in the same request (`None`: read it from the
/// `PacingStore`).
pub type StatusRead = (Option<Job>, QueueSnapshot, Option<(PacingState, u64)>);

/// The lane counters and the pacing state, in one request where the jobs store reads
/// both (the DynamoDB one given the state table), else in two: what a submit checks the
/// queue bound and answers the position and ETA from, and what the worker's schedule
/// tick and gauges are worked out from.
pub async fn counters_and_pacing(
    jobs: &dyn JobStore,
    pacing: &dyn super::PacingStore,
) -> PortResult<(QueueSnapshot, PacingState)> {
    let (snapshot, (state, _)) = counters_and_versioned_pacing(jobs, pacing).await?;
    Ok((snapshot, state))
}

/// As [`counters_and_pacing`], with the pacing state's version: what each of the worker's
/// turns decides from, and reserves its slot against with a conditional write.
pub async fn counters_and_versioned_pacing(
    jobs: &dyn JobStore,
    pacing: &dyn super::PacingStore,
) -> PortResult<(QueueSnapshot, (PacingState, u64))> {
    let (snapshot, read) = jobs.snapshot_with_pacing().await?;
    let state = match read {
        Some(read) => read,
        None => pacing.load_pacing().await?,
    };
    Ok((snapshot, state))
}

/// One page of an owner's jobs, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// Where the next page starts (opaque); none on the last page.
    pub next: Option<String>,
}

/// The jobs table.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Writes a new job; `Conflict` if the task id exists. A waiting job is counted in
    /// the queue counters in the same atomic write.
    async fn insert(&self, job: &Job) -> PortResult<()>;
    async fn get(&self, task_id: &TaskId) -> PortResult<Option<Job>>;
    /// Replaces the job only if its stored status is still `expected`; `Conflict` otherwise.
    /// A move into or out of waiting updates the queue counters in the same atomic write
    /// (a start is the owner's turn in the lane).
    async fn replace(&self, job: &Job, expected: Status) -> PortResult<()>;
    /// How many of `job`'s owner's waiting jobs are ahead of it in its lane (by age).
    async fn own_ahead(&self, job: &Job) -> PortResult<u64>;
    /// The position of a waiting job among all waiting jobs: lanes in order, fair turns
    /// between keys inside a lane (`domain::turns`), an owner's own jobs by age. A bounded
    /// number of reads whatever the queue length: the counters, and the owner's own
    /// waiting jobs ahead in the lane only when the counters say the owner has more than
    /// this one waiting there (most keys have one, and then none is ahead).
    async fn queue_position(&self, job: &Job) -> PortResult<QueuePosition> {
        let snapshot = self.queue_snapshot().await?;
        self.position_in(&snapshot, job).await
    }
    /// The position of a waiting job from counters already read (`queue_snapshot`, or
    /// with the job by `get_with_counters`). Its owner's jobs ahead come from its entry
    /// mark while its owner's jobs stay in order (`domain::turns::EntryMark`), and are
    /// counted in the store otherwise.
    async fn position_in(&self, snapshot: &QueueSnapshot, job: &Job) -> PortResult<QueuePosition> {
        let own_ahead = if snapshot.waiting_of(job.lane(), job.owner()) > 1 {
            match snapshot.own_ahead_by_mark(job) {
                Some(ahead) => ahead,
                None => self.own_ahead(job).await?,
            }
        } else {
            0
        };
        Ok(snapshot.position(job.lane(), job.owner(), own_ahead))
    }
    /// A job and the lane counters, read together where the store can (one request): what
    /// a status poll needs to show a waiting job's position. The counters are read
    /// whatever the job's state, so that the store need not read the job first.
    async fn get_with_counters(
        &self,
        task_id: &TaskId,
    ) -> PortResult<(Option<Job>, QueueSnapshot)> {
        let job = self.get(task_id).await?;
        Ok((job, self.queue_snapshot().await?))
    }
    /// [`JobStore::get_with_counters`], and the pacing state too where the store reads it
    /// in the same request (a waiting job's ETA needs it): one request for a whole poll.
    async fn get_for_status(&self, task_id: &TaskId) -> PortResult<StatusRead> {
        let (job, counters) = self.get_with_counters(task_id).await?;
        Ok((job, counters, None))
    }
    /// The lane counters, and the pacing state with its version where the store reads it
    /// in the same request (`None`: read it from the `PacingStore`); read through
    /// [`counters_and_pacing`], by a submit and by the worker's tick and gauges.
    async fn snapshot_with_pacing(
        &self,
    ) -> PortResult<(QueueSnapshot, Option<(PacingState, u64)>)> {
        Ok((self.queue_snapshot().await?, None))
    }
    /// The number of waiting jobs (from the counters).
    async fn total_pending(&self) -> PortResult<u64>;
    /// Up to `limit` waiting jobs submitted before `before`, in queue order (lane, then
    /// age): the reaper's candidates.
    async fn waiting_before(&self, before: DateTime<Utc>, limit: usize) -> PortResult<Vec<Job>>;
    /// The per-lane counters, kept with every job's state change in the same atomic
    /// write: waiting jobs per lane, and per key its waiting jobs and last turn. Its size
    /// depends on the number of keys, not of jobs.
    async fn queue_snapshot(&self) -> PortResult<QueueSnapshot>;
    /// An owner's jobs that are not finished (waiting or started), oldest first.
    async fn active_for_owner(&self, owner: &str) -> PortResult<Vec<Job>>;
    /// An owner's jobs, newest first, at most `limit`, only of `status` when given, from
    /// `cursor` (a page's `next`); `BadCursor` for a cursor this store did not make.
    async fn list_for_owner(
        &self,
        owner: &str,
        status: Option<Status>,
        limit: usize,
        cursor: Option<&str>,
    ) -> PortResult<JobPage>;
}

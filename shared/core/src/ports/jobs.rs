//! The jobs table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PortResult;
use crate::domain::{Job, Status, TaskId};

/// Where a waiting job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePosition {
    /// 1 = next to start.
    pub position: u64,
    /// All waiting jobs.
    pub total_pending: u64,
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
    /// Writes a new job; `Conflict` if the task id exists.
    async fn insert(&self, job: &Job) -> PortResult<()>;
    async fn get(&self, task_id: &TaskId) -> PortResult<Option<Job>>;
    /// Replaces the job only if its stored status is still `expected`; `Conflict` otherwise.
    async fn replace(&self, job: &Job, expected: Status) -> PortResult<()>;
    /// The position of a waiting job among all waiting jobs (lane, then age).
    async fn queue_position(&self, job: &Job) -> PortResult<QueuePosition>;
    /// The number of waiting jobs.
    async fn total_pending(&self) -> PortResult<u64>;
    /// Up to `limit` waiting jobs submitted before `before`, in queue order (lane, then
    /// age): the reaper's candidates.
    async fn waiting_before(&self, before: DateTime<Utc>, limit: usize) -> PortResult<Vec<Job>>;
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

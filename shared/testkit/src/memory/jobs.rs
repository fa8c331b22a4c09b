//! The jobs table in memory: a map, and the queue counters (`domain::turns`) changed under
//! the same lock as each job, as the DynamoDB store changes them in one transaction.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use naiq_core::domain::turns::{QueueSnapshot, TurnChange};
use naiq_core::domain::{Job, Status, TaskId};
use naiq_core::ports::{JobPage, JobStore, PortError, PortResult};

use super::lock;

#[derive(Default)]
pub struct MemoryJobStore {
    jobs: Mutex<HashMap<TaskId, Job>>,
    counters: Mutex<QueueSnapshot>,
}

impl MemoryJobStore {
    /// Counts `job`'s write over a job that was `before` (none: a new job), and gives the
    /// job as stored: a new job whose entry mark no longer matches its owner's counters is
    /// stored without it, as the DynamoDB store's conditional write does.
    fn count(&self, before: Option<Status>, job: &Job) -> Job {
        let mut counters = lock(&self.counters);
        let stale = job
            .entry_mark()
            .is_some_and(|m| before.is_none() && counters.entry_mark(job.lane(), job.owner()) != m);
        let job = if stale {
            job.without_entry_mark()
        } else {
            job.clone()
        };
        if let Some(change) = TurnChange::of_job(before, &job) {
            counters.lanes.entry(job.lane()).or_default().apply(
                change,
                job.owner(),
                job.created_at().timestamp_millis(),
            );
        }
        job
    }
}

#[async_trait]
impl JobStore for MemoryJobStore {
    async fn insert(&self, job: &Job) -> PortResult<()> {
        let mut jobs = lock(&self.jobs);
        if jobs.contains_key(job.task_id()) {
            return Err(PortError::Conflict(format!(
                "task {} exists",
                job.task_id()
            )));
        }
        let stored = self.count(None, job);
        jobs.insert(job.task_id().clone(), stored);
        Ok(())
    }

    async fn get(&self, task_id: &TaskId) -> PortResult<Option<Job>> {
        Ok(lock(&self.jobs).get(task_id).cloned())
    }

    async fn replace(&self, job: &Job, expected: Status) -> PortResult<()> {
        let mut jobs = lock(&self.jobs);
        match jobs.get(job.task_id()) {
            Some(stored) if stored.status() == expected => {
                let stored = self.count(Some(expected), job);
                jobs.insert(job.task_id().clone(), stored);
                Ok(())
            }
            Some(stored) => Err(PortError::Conflict(format!(
                "task {} is {}, not {expected}",
                job.task_id(),
                stored.status()
            ))),
            None => Err(PortError::Conflict(format!(
                "task {} does not exist",
                job.task_id()
            ))),
        }
    }

    async fn get_with_counters(
        &self,
        task_id: &TaskId,
    ) -> PortResult<(Option<Job>, QueueSnapshot)> {
        let jobs = lock(&self.jobs);
        Ok((jobs.get(task_id).cloned(), lock(&self.counters).clone()))
    }

    async fn own_ahead(&self, job: &Job) -> PortResult<u64> {
        let mine = job.queue_order();
        Ok(lock(&self.jobs)
            .values()
            .filter(|j| j.owner() == job.owner() && j.lane() == job.lane())
            .filter(|j| j.status().is_waiting() && j.queue_order() < mine)
            .count() as u64)
    }

    async fn total_pending(&self) -> PortResult<u64> {
        Ok(lock(&self.counters).total_pending())
    }

    async fn queue_snapshot(&self) -> PortResult<QueueSnapshot> {
        Ok(lock(&self.counters).clone())
    }

    async fn waiting_before(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> PortResult<Vec<Job>> {
        let mut found: Vec<Job> = lock(&self.jobs)
            .values()
            .filter(|j| j.status().is_waiting() && j.created_at() < before)
            .cloned()
            .collect();
        found.sort_by_key(Job::queue_order);
        found.truncate(limit);
        Ok(found)
    }

    async fn active_for_owner(&self, owner: &str) -> PortResult<Vec<Job>> {
        let mut jobs: Vec<Job> = lock(&self.jobs)
            .values()
            .filter(|j| j.owner() == owner && !j.status().is_terminal())
            .cloned()
            .collect();
        jobs.sort_by(|a, b| (a.created_at(), &a.task_id()).cmp(&(b.created_at(), &b.task_id())));
        Ok(jobs)
    }

    async fn list_for_owner(
        &self,
        owner: &str,
        status: Option<Status>,
        limit: usize,
        cursor: Option<&str>,
    ) -> PortResult<JobPage> {
        // The cursor is the sort key of the last job handed out: `<millis>#<task id>`.
        let after = match cursor {
            None => None,
            Some(c) => {
                let (ms, id) = c.split_once('#').ok_or(PortError::BadCursor)?;
                let ms: i64 = ms.parse().map_err(|_| PortError::BadCursor)?;
                let id = TaskId::parse(id).ok_or(PortError::BadCursor)?;
                Some((ms, id))
            }
        };
        let key = |j: &Job| (j.created_at().timestamp_millis(), j.task_id().clone());
        let mut jobs: Vec<Job> = lock(&self.jobs)
            .values()
            .filter(|j| j.owner() == owner && status.is_none_or(|s| j.status() == s))
            .filter(|j| after.as_ref().is_none_or(|a| key(j) < *a))
            .cloned()
            .collect();
        jobs.sort_by_key(|j| std::cmp::Reverse(key(j)));
        let more = jobs.len() > limit;
        jobs.truncate(limit);
        let next = more
            .then(|| jobs.last().map(|j| format!("{}#{}", key(j).0, key(j).1)))
            .flatten();
        Ok(JobPage { jobs, next })
    }
}

//! One generation job and the moves it may make. The job's state (status, attempts, times,
//! results, error) changes only through the transition methods, which refuse a move the
//! lifecycle does not allow:
//!
//! ```text
//! PENDING ──start──▶ STARTED ──succeed──▶ SUCCESS
//!    │                 │  ▲ └──fail────▶ FAILURE   (also from PENDING/RETRY)
//!    │               retry│ └─start (a redelivery after a crash)
//!    │                 ▼  │
//!    └──revoke──▶ REVOKED ◀──revoke── RETRY
//! ```

mod attempts;
mod error;
mod lane;
mod progress;
mod status;
mod task_id;

use chrono::{DateTime, Utc};

pub use attempts::{AttemptError, MAX_ATTEMPT_ERRORS, MAX_ATTEMPT_MESSAGE_BYTES};
pub use error::{JobError, MAX_ERROR_MESSAGE_BYTES};
pub use lane::Lane;
pub use progress::Progress;
pub use status::Status;
pub use task_id::TaskId;

use super::pricing::Cost;
use super::request::GenerationParams;
use super::turns::EntryMark;

/// A move the lifecycle does not allow (a finished job cannot start again, a job in flight
/// cannot be cancelled, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from} job cannot be {to}")]
pub struct IllegalTransition {
    pub from: Status,
    pub to: &'static str,
}

/// A job as a store keeps it: every field, for adapters that write and read jobs. A job is
/// rebuilt from it with [`Job::restore`]; use cases move jobs only through the transitions.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    pub task_id: TaskId,
    pub owner: String,
    pub status: Status,
    pub lane: Lane,
    pub params: GenerationParams,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempts: u32,
    pub image_keys: Vec<String>,
    pub input_image_key: Option<String>,
    pub mask_key: Option<String>,
    pub error: Option<JobError>,
    pub cost: Option<Cost>,
    pub attempt_errors: Vec<AttemptError>,
    pub progress: Option<Progress>,
    pub entry_mark: Option<EntryMark>,
}

/// One generation job as stored in the jobs table. It never holds a credential.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    task_id: TaskId,
    /// The id of the API key that submitted it (never the key itself).
    owner: String,
    status: Status,
    lane: Lane,
    params: GenerationParams,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    /// Upstream attempts made so far.
    attempts: u32,
    /// Object keys of the stored result images, in sample order.
    image_keys: Vec<String>,
    /// Object key of the stored input image (image-to-image).
    input_image_key: Option<String>,
    /// Object key of the stored inpainting mask.
    mask_key: Option<String>,
    error: Option<JobError>,
    /// The Anlas cost worked out at submit.
    cost: Option<Cost>,
    /// The error of each failed attempt, oldest first (at most [`MAX_ATTEMPT_ERRORS`]).
    attempt_errors: Vec<AttemptError>,
    /// The running attempt's progress (a streamed generation's last recorded step); none
    /// unless `STARTED`.
    progress: Option<Progress>,
    /// Its owner's lane counters as it entered the queue, while it waits (`domain::turns`):
    /// a poll places it among its owner's jobs from them.
    entry_mark: Option<EntryMark>,
}

/// The code of an attempt the worker stopped during (a crash, a timeout of the function):
/// it counts, since NovelAI may have been paid for it.
pub const INTERRUPTED: &str = "interrupted";

impl Job {
    /// A new waiting job.
    pub fn new(
        task_id: TaskId,
        owner: String,
        lane: Lane,
        params: GenerationParams,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            task_id,
            owner,
            status: Status::Pending,
            lane,
            params,
            created_at: now,
            started_at: None,
            finished_at: None,
            attempts: 0,
            image_keys: Vec::new(),
            input_image_key: None,
            mask_key: None,
            error: None,
            cost: None,
            attempt_errors: Vec::new(),
            progress: None,
            entry_mark: None,
        }
    }

    /// A job as a store kept it.
    pub fn restore(r: JobRecord) -> Self {
        Self {
            task_id: r.task_id,
            owner: r.owner,
            status: r.status,
            lane: r.lane,
            params: r.params,
            created_at: r.created_at,
            started_at: r.started_at,
            finished_at: r.finished_at,
            attempts: r.attempts,
            image_keys: r.image_keys,
            input_image_key: r.input_image_key,
            mask_key: r.mask_key,
            error: r.error,
            cost: r.cost,
            attempt_errors: r.attempt_errors,
            progress: r.progress,
            entry_mark: r.entry_mark,
        }
    }

    /// Every field, for a store to write.
    pub fn to_record(&self) -> JobRecord {
        JobRecord {
            task_id: self.task_id.clone(),
            owner: self.owner.clone(),
            status: self.status,
            lane: self.lane,
            params: self.params.clone(),
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            attempts: self.attempts,
            image_keys: self.image_keys.clone(),
            input_image_key: self.input_image_key.clone(),
            mask_key: self.mask_key.clone(),
            error: self.error.clone(),
            cost: self.cost,
            attempt_errors: self.attempt_errors.clone(),
            progress: self.progress,
            entry_mark: self.entry_mark,
        }
    }

    pub fn task_id(&self) -> &TaskId {
        &self.task_id
    }
    pub fn owner(&self) -> &str {
        &self.owner
    }
    pub fn status(&self) -> Status {
        self.status
    }
    pub fn lane(&self) -> Lane {
        self.lane
    }
    pub fn params(&self) -> &GenerationParams {
        &self.params
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    pub fn started_at(&self) -> Option<DateTime<Utc>> {
        self.started_at
    }
    pub fn finished_at(&self) -> Option<DateTime<Utc>> {
        self.finished_at
    }
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
    pub fn image_keys(&self) -> &[String] {
        &self.image_keys
    }
    pub fn input_image_key(&self) -> Option<&str> {
        self.input_image_key.as_deref()
    }
    pub fn mask_key(&self) -> Option<&str> {
        self.mask_key.as_deref()
    }
    pub fn error(&self) -> Option<&JobError> {
        self.error.as_ref()
    }
    pub fn cost(&self) -> Option<Cost> {
        self.cost
    }
    /// The error of each failed attempt, oldest first.
    pub fn attempt_errors(&self) -> &[AttemptError] {
        &self.attempt_errors
    }

    /// The running attempt's progress, if a streamed generation recorded one.
    pub fn progress(&self) -> Option<Progress> {
        self.progress
    }

    /// Records how far the running attempt is; only while `STARTED`.
    pub fn set_progress(&mut self, progress: Progress) -> Result<(), IllegalTransition> {
        if self.status != Status::Started {
            return Err(self.refuse("given progress"));
        }
        self.progress = Some(progress);
        Ok(())
    }

    fn record_attempt_error(&mut self, error: &JobError, now: DateTime<Utc>) {
        attempts::push(
            &mut self.attempt_errors,
            AttemptError::new(self.attempts, error, now),
        );
    }

    /// Records where the submitted inputs were stored (before the job is first written).
    pub fn attach_inputs(&mut self, image_key: Option<String>, mask_key: Option<String>) {
        self.input_image_key = image_key;
        self.mask_key = mask_key;
    }

    /// Marks a new job with its owner's lane counters read just before it is stored
    /// (`QueueSnapshot::entry_mark`). A store that finds the counters changed since stores
    /// it without ([`Job::without_entry_mark`]).
    pub fn mark_entry(&mut self, mark: EntryMark) {
        self.entry_mark = Some(mark);
    }

    /// The job with no entry mark: its position among its owner's jobs is counted.
    pub fn without_entry_mark(&self) -> Job {
        Job {
            entry_mark: None,
            ..self.clone()
        }
    }

    pub fn entry_mark(&self) -> Option<EntryMark> {
        self.entry_mark
    }

    /// Records the price worked out at submit.
    pub fn set_cost(&mut self, cost: Cost) {
        self.cost = Some(cost);
    }

    /// The sort key of the queue index: lane first, then submission time, then id.
    /// Lexicographic order of this string is the order jobs start in.
    pub fn queue_order(&self) -> String {
        format!(
            "{}#{:013}#{}",
            self.lane.rank(),
            self.created_at.timestamp_millis().max(0),
            self.task_id
        )
    }

    fn refuse(&self, to: &'static str) -> IllegalTransition {
        IllegalTransition {
            from: self.status,
            to,
        }
    }

    /// Marks the job as sent upstream: a new attempt. Allowed while it waits, and for a
    /// job found `STARTED` again (its message came back after the worker stopped mid-call):
    /// then the attempt in flight is recorded as [`INTERRUPTED`].
    pub fn start(&mut self, now: DateTime<Utc>) -> Result<(), IllegalTransition> {
        if self.status.is_terminal() {
            return Err(self.refuse("started"));
        }
        if self.status == Status::Started && self.attempts > 0 {
            self.record_attempt_error(&Self::interrupted(), now);
        }
        self.status = Status::Started;
        self.attempts += 1;
        self.progress = None;
        self.entry_mark = None;
        if self.started_at.is_none() {
            self.started_at = Some(now);
        }
        self.error = None;
        Ok(())
    }

    /// The error of an attempt the worker stopped during.
    pub fn interrupted() -> JobError {
        JobError::new(
            INTERRUPTED,
            "the worker stopped during this attempt (NovelAI may have been called)",
        )
    }

    /// The attempt in flight failed in a way worth retrying: back to waiting, with its error
    /// (also kept in the attempt errors).
    pub fn retry(&mut self, error: JobError, now: DateTime<Utc>) -> Result<(), IllegalTransition> {
        if self.status != Status::Started {
            return Err(self.refuse("retried"));
        }
        self.record_attempt_error(&error, now);
        self.status = Status::Retry;
        self.progress = None;
        self.error = Some(error);
        Ok(())
    }

    /// The attempt in flight succeeded and its images are stored under `image_keys`.
    pub fn succeed(
        &mut self,
        image_keys: Vec<String>,
        now: DateTime<Utc>,
    ) -> Result<(), IllegalTransition> {
        if self.status != Status::Started {
            return Err(self.refuse("succeeded"));
        }
        self.status = Status::Success;
        self.progress = None;
        self.image_keys = image_keys;
        self.finished_at = Some(now);
        self.error = None;
        Ok(())
    }

    /// The job failed for good (from any unfinished state). From `STARTED`, the error is
    /// also the attempt's.
    pub fn fail(&mut self, error: JobError, now: DateTime<Utc>) -> Result<(), IllegalTransition> {
        if self.status.is_terminal() {
            return Err(self.refuse("failed"));
        }
        if self.status == Status::Started {
            self.record_attempt_error(&error, now);
        }
        self.status = Status::Failure;
        self.progress = None;
        self.entry_mark = None;
        self.error = Some(error);
        self.finished_at = Some(now);
        Ok(())
    }

    /// Cancelled by its owner: only while it waits (never once sent upstream).
    pub fn revoke(&mut self, now: DateTime<Utc>) -> Result<(), IllegalTransition> {
        if !self.status.is_waiting() {
            return Err(self.refuse("cancelled"));
        }
        self.status = Status::Revoked;
        self.entry_mark = None;
        self.finished_at = Some(now);
        Ok(())
    }

    /// Cancelled for a reason other than its owner's wish (its API key was revoked or
    /// expired): as [`Job::revoke`], with the reason kept as the job's error.
    pub fn revoke_because(
        &mut self,
        error: JobError,
        now: DateTime<Utc>,
    ) -> Result<(), IllegalTransition> {
        self.revoke(now)?;
        self.error = Some(error);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::{Limits, parse_submit};

    fn job() -> Job {
        let params = parse_submit(br#"{"prompt": "x"}"#, &Limits::default())
            .unwrap()
            .params;
        Job::new(
            TaskId::from_random_bytes([1; 16]),
            "owner".into(),
            Lane::Normal,
            params,
            DateTime::<Utc>::UNIX_EPOCH,
        )
    }

    fn now() -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + chrono::Duration::seconds(60)
    }

    #[test]
    fn a_job_runs_retries_and_succeeds() {
        let mut j = job();
        assert_eq!(j.status(), Status::Pending);
        j.start(now()).unwrap();
        assert_eq!((j.status(), j.attempts()), (Status::Started, 1));
        j.retry(JobError::new("upstream_busy", "429"), now())
            .unwrap();
        assert_eq!(j.status(), Status::Retry);
        assert_eq!(j.error().unwrap().code, "upstream_busy");
        j.start(now()).unwrap();
        assert_eq!((j.attempts(), j.error()), (2, None));
        j.succeed(vec!["images/a/0.png".into()], now()).unwrap();
        assert_eq!(j.status(), Status::Success);
        assert_eq!(j.finished_at(), Some(now()));
    }

    #[test]
    fn progress_is_kept_only_while_started() {
        let mut j = job();
        let p = Progress { step: 6, steps: 23 };
        assert!(j.set_progress(p).is_err(), "not started");
        j.start(now()).unwrap();
        j.set_progress(p).unwrap();
        assert_eq!(j.progress(), Some(p));
        assert_eq!(Job::restore(j.to_record()).progress(), Some(p));
        j.retry(JobError::new("upstream_stream_failed", "cut"), now())
            .unwrap();
        assert_eq!(j.progress(), None);
        j.start(now()).unwrap();
        j.set_progress(p).unwrap();
        j.succeed(vec!["images/a/0.png".into()], now()).unwrap();
        assert_eq!(j.progress(), None);
        assert!(j.set_progress(p).is_err(), "finished");
    }

    #[test]
    fn illegal_moves_are_refused_and_change_nothing() {
        let mut j = job();
        assert!(j.succeed(vec![], now()).is_err(), "not started");
        assert!(
            j.retry(JobError::new("x", "y"), now()).is_err(),
            "not started"
        );
        j.start(now()).unwrap();
        let started = j.clone();
        assert_eq!(
            j.revoke(now()).unwrap_err(),
            IllegalTransition {
                from: Status::Started,
                to: "cancelled"
            }
        );
        assert_eq!(j, started);
        j.fail(JobError::new("x", "y"), now()).unwrap();
        let failed = j.clone();
        for refused in [
            j.start(now()),
            j.fail(JobError::new("x", "y"), now()),
            j.revoke(now()),
            j.succeed(vec![], now()),
        ] {
            assert!(refused.is_err());
        }
        assert_eq!(j, failed, "a finished job stays as it was");
    }

    #[test]
    fn waiting_jobs_can_be_cancelled_and_a_redelivered_start_counts_an_attempt() {
        let mut j = job();
        j.revoke(now()).unwrap();
        assert_eq!(j.status(), Status::Revoked);
        let mut j = job();
        j.start(now()).unwrap();
        j.start(now()).unwrap();
        assert_eq!((j.status(), j.attempts()), (Status::Started, 2));
        let codes: Vec<_> = j
            .attempt_errors()
            .iter()
            .map(|e| (e.attempt, e.code.as_str()))
            .collect();
        assert_eq!(codes, [(1, INTERRUPTED)], "the interrupted attempt is kept");
    }

    #[test]
    fn every_failed_attempt_is_kept_newest_last_and_bounded() {
        let mut j = job();
        for n in 1..=MAX_ATTEMPT_ERRORS as u32 + 2 {
            j.start(now()).unwrap();
            j.retry(JobError::new("upstream_error", format!("500 #{n}")), now())
                .unwrap();
        }
        j.start(now()).unwrap();
        j.fail(JobError::new("upstream_invalid_request", "400"), now())
            .unwrap();
        let kept = j.attempt_errors();
        assert_eq!(kept.len(), MAX_ATTEMPT_ERRORS);
        assert_eq!(kept.last().unwrap().attempt, j.attempts());
        assert_eq!(kept.last().unwrap().code, "upstream_invalid_request");
        assert_eq!(
            kept[0].attempt,
            j.attempts() + 1 - MAX_ATTEMPT_ERRORS as u32
        );
        let long = AttemptError::new(1, &JobError::new("x", "é".repeat(900)), now());
        assert!(long.message.len() <= MAX_ATTEMPT_MESSAGE_BYTES);
    }

    #[test]
    fn a_record_round_trips() {
        let mut j = job();
        j.attach_inputs(Some("inputs/a".into()), None);
        j.start(now()).unwrap();
        assert_eq!(Job::restore(j.to_record()), j);
    }

    #[test]
    fn an_error_message_is_kept_to_its_limit_at_a_character_boundary() {
        let e = JobError::new("upstream_error", "é".repeat(5_000));
        assert!(
            e.message.len() <= MAX_ERROR_MESSAGE_BYTES,
            "{}",
            e.message.len()
        );
        assert!(e.message.ends_with('…'));
        assert_eq!(JobError::new("c", "short").message, "short");
    }
}

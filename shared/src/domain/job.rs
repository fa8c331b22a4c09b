use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::request::GenerationParams;

/// A task id: a UUID in its hyphenated lower-case form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskId(String);

impl TaskId {
    /// A task id from 16 random bytes (drawn from the caller's injected RNG).
    pub fn from_random_bytes(bytes: [u8; 16]) -> Self {
        Self(
            uuid::Builder::from_random_bytes(bytes)
                .into_uuid()
                .to_string(),
        )
    }

    /// Parses a task id given by a client; anything but a UUID is rejected.
    pub fn parse(s: &str) -> Option<Self> {
        uuid::Uuid::parse_str(s)
            .ok()
            .map(|u| Self(u.hyphenated().to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A job's state. The names are those of the seed service (Celery's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Accepted and queued; not yet sent upstream.
    Pending,
    /// Sent upstream; the call is in flight.
    Started,
    /// The last attempt failed in a way worth retrying; queued again.
    Retry,
    Success,
    Failure,
    /// Cancelled by its owner before it was sent upstream.
    Revoked,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Started,
        Status::Retry,
        Status::Success,
        Status::Failure,
        Status::Revoked,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Started => "STARTED",
            Status::Retry => "RETRY",
            Status::Success => "SUCCESS",
            Status::Failure => "FAILURE",
            Status::Revoked => "REVOKED",
        }
    }

    /// Finished for good: nothing more will happen to the job.
    pub fn is_terminal(self) -> bool {
        matches!(self, Status::Success | Status::Failure | Status::Revoked)
    }

    /// Waiting in the queue (counts for queue positions).
    pub fn is_waiting(self) -> bool {
        matches!(self, Status::Pending | Status::Retry)
    }
}

impl FromStr for Status {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or(())
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Priority lanes, highest first. One FIFO queue per lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lane {
    Test,
    High,
    Normal,
    Low,
}

impl Lane {
    /// In the order the worker drains them.
    pub const ALL: [Lane; 4] = [Lane::Test, Lane::High, Lane::Normal, Lane::Low];

    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Test => "test",
            Lane::High => "high",
            Lane::Normal => "normal",
            Lane::Low => "low",
        }
    }

    /// 0 for the lane drained first.
    pub fn rank(self) -> u8 {
        self as u8
    }
}

impl FromStr for Lane {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Lane::ALL.into_iter().find(|l| l.as_str() == s).ok_or(())
    }
}

impl fmt::Display for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a job failed: a stable machine code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    pub code: String,
    pub message: String,
}

impl JobError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }
}

/// One generation job as stored in the jobs table. It never holds a credential.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    pub task_id: TaskId,
    /// The id of the API key that submitted it (never the key itself).
    pub owner: String,
    pub status: Status,
    pub lane: Lane,
    pub params: GenerationParams,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    /// Upstream attempts made so far.
    pub attempts: u32,
    /// Object keys of the stored result images, in sample order.
    pub image_keys: Vec<String>,
    /// Object key of the stored input image (image-to-image).
    pub input_image_key: Option<String>,
    /// Object key of the stored inpainting mask; absent in jobs stored before masks.
    #[serde(default)]
    pub mask_key: Option<String>,
    pub error: Option<JobError>,
    /// The Anlas cost worked out at submit.
    #[serde(default)]
    pub cost: Option<crate::novelai::cost::Cost>,
}

impl Job {
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
        }
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

    /// Marks the job as sent upstream (a new attempt).
    pub fn start(&mut self, now: DateTime<Utc>) {
        self.status = Status::Started;
        self.attempts += 1;
        if self.started_at.is_none() {
            self.started_at = Some(now);
        }
        self.error = None;
    }

    pub fn succeed(&mut self, image_keys: Vec<String>, now: DateTime<Utc>) {
        self.status = Status::Success;
        self.image_keys = image_keys;
        self.finished_at = Some(now);
        self.error = None;
    }

    pub fn fail(&mut self, error: JobError, now: DateTime<Utc>) {
        self.status = Status::Failure;
        self.error = Some(error);
        self.finished_at = Some(now);
    }

    pub fn revoke(&mut self, now: DateTime<Utc>) {
        self.status = Status::Revoked;
        self.finished_at = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert!("DONE".parse::<Status>().is_err());
    }

    #[test]
    fn lanes_drain_in_priority_order() {
        let ranks: Vec<u8> = Lane::ALL.iter().map(|l| l.rank()).collect();
        assert_eq!(ranks, vec![0, 1, 2, 3]);
        assert!(Lane::Test < Lane::High && Lane::High < Lane::Normal && Lane::Normal < Lane::Low);
    }

    #[test]
    fn task_ids_parse_only_uuids() {
        let id = TaskId::from_random_bytes([7; 16]);
        assert_eq!(TaskId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(TaskId::parse(&id.as_str().to_uppercase()), Some(id));
        assert_eq!(TaskId::parse("../etc/passwd"), None);
        assert_eq!(TaskId::parse(""), None);
    }
}

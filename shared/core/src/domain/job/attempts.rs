//! The error of each failed attempt, kept on the job so a client sees every attempt that
//! was made (and paid for), not only the last one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::JobError;

/// How many attempt errors a job keeps: the newest. `MAX_ATTEMPTS` is at most 8, and an
/// interrupted attempt counts as one, so this holds a whole job's history.
pub const MAX_ATTEMPT_ERRORS: usize = 8;

/// Longest message an attempt error keeps (the job's own `error` keeps more), so the list
/// stays small beside the job's settings in one item.
pub const MAX_ATTEMPT_MESSAGE_BYTES: usize = 300;

/// Why one attempt failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptError {
    /// The attempt's number, 1 for the first.
    pub attempt: u32,
    /// A stable machine code (`upstream_busy`, `interrupted`, …).
    pub code: String,
    pub message: String,
    /// When the failure was recorded (RFC 3339).
    pub at: DateTime<Utc>,
}

impl AttemptError {
    pub fn new(attempt: u32, error: &JobError, at: DateTime<Utc>) -> Self {
        let mut message = error.message.clone();
        super::error::cut_to(&mut message, MAX_ATTEMPT_MESSAGE_BYTES);
        Self {
            attempt,
            code: error.code.clone(),
            message,
            at,
        }
    }
}

/// Appends `e` to `list`, dropping the oldest beyond [`MAX_ATTEMPT_ERRORS`]; an attempt
/// already recorded is not recorded twice.
pub(super) fn push(list: &mut Vec<AttemptError>, e: AttemptError) {
    if list.iter().any(|old| old.attempt == e.attempt) {
        return;
    }
    list.push(e);
    if list.len() > MAX_ATTEMPT_ERRORS {
        let extra = list.len() - MAX_ATTEMPT_ERRORS;
        list.drain(..extra);
    }
}

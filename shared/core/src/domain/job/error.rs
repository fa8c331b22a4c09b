//! Why a job failed, as the job keeps it.

use serde::{Deserialize, Serialize};

/// Why a job failed: a stable machine code and a human message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobError {
    pub code: String,
    pub message: String,
}

/// Longest error message a job keeps (an upstream's text can be anything); a longer one is
/// cut at a character boundary and ends with `…`.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 1000;

/// Cuts `message` to at most `max` bytes at a character boundary, ending it with `…` when
/// it was cut.
pub(super) fn cut_to(message: &mut String, max: usize) {
    if message.len() > max {
        let mut end = max - '…'.len_utf8();
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
}

impl JobError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        let mut message = message.into();
        cut_to(&mut message, MAX_ERROR_MESSAGE_BYTES);
        Self {
            code: code.into(),
            message,
        }
    }
}

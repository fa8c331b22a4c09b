//! A job's state, with the seed service's (Celery's) names.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A job's state. The names are those of the seed service (Celery's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
}

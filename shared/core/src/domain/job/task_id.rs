//! Task ids: UUIDs, drawn from the injected RNG, parsed strictly from clients.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A task id: a UUID in its hyphenated lower-case form.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_parse_only_uuids() {
        let id = TaskId::from_random_bytes([7; 16]);
        assert_eq!(TaskId::parse(id.as_str()), Some(id.clone()));
        assert_eq!(TaskId::parse(&id.as_str().to_uppercase()), Some(id));
        assert_eq!(TaskId::parse("../etc/passwd"), None);
        assert_eq!(TaskId::parse(""), None);
    }
}

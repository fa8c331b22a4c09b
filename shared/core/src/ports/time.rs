//! Time, injected: the domain and the use cases never read the system clock themselves.

use chrono::{DateTime, Utc};

/// The one source of time for the domain and the use cases.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Waiting until an instant: real sleeping in the functions, a jump of the clock in tests.
#[async_trait::async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep_until(&self, t: DateTime<Utc>);
}

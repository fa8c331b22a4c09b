//! The real clock, the real sleeper and the OS seed, which the functions inject into the
//! core (tests inject `naiq-testkit`'s manual clock instead).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use naiq_core::ports::{Clock, Sleeper};

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Sleeps on the tokio timer against the system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep_until(&self, t: DateTime<Utc>) {
        if let Ok(d) = (t - Utc::now()).to_std() {
            tokio::time::sleep(d).await;
        }
    }
}

/// A seed for a service's RNG, from the operating system.
pub fn os_seed() -> u64 {
    rand::random()
}

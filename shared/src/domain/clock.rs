use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

/// The one source of time for the domain and the services.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// Wall-clock time.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to: for simulations and tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().expect("clock lock");
        *now += by;
    }

    pub fn set(&self, to: DateTime<Utc>) {
        *self.0.lock().expect("clock lock") = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().expect("clock lock")
    }
}

/// Waiting until an instant: real sleeping in the functions, a jump of the clock in tests.
#[async_trait::async_trait]
pub trait Sleeper: Send + Sync {
    async fn sleep_until(&self, t: DateTime<Utc>);
}

/// Sleeps on the tokio timer against the system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

#[async_trait::async_trait]
impl Sleeper for TokioSleeper {
    async fn sleep_until(&self, t: DateTime<Utc>) {
        if let Ok(d) = (t - Utc::now()).to_std() {
            tokio::time::sleep(d).await;
        }
    }
}

#[async_trait::async_trait]
impl Sleeper for ManualClock {
    /// Moves the clock forward to `t` at once.
    async fn sleep_until(&self, t: DateTime<Utc>) {
        let mut now = self.0.lock().expect("clock lock");
        if t > *now {
            *now = t;
        }
    }
}

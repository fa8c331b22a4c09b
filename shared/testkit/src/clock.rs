//! A clock that moves only when told to: for simulations and tests. Sleeping on it jumps it
//! forward, so a test of hours of pacing runs in milliseconds.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use naiq_core::ports::{Clock, Sleeper};

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

//! The pacing rules: windows in local time, a daily
//! limit per local calendar day, a random start-to-start interval, a cooldown after a failure,
//! and the ETA walk over the jobs ahead.
//!
//! Pure: time is passed in, randomness comes from the caller's RNG. Windows are wall-clock
//! times in `timezone`: an instant is inside a window when the local clock reads a time in
//! `[start, end)`. On a spring-forward day a window loses the local times that do not exist;
//! on a fall-back day the repeated local times are inside (or outside) both times.
//!
//! Every `next_allowed_at` this module writes is rounded *up* to a whole millisecond, so a
//! store that keeps milliseconds can never shorten a gap below its draw.
//!
//! `windows` holds the window arithmetic, `slots` the decision and the reservation of a call's
//! slot, `estimate` the walk that predicts a queued job's start. Reading the `PACING_*`
//! variables is configuration's job (`crate::config`), not the domain's.

mod estimate;
mod slots;
mod windows;

#[cfg(test)]
mod tests;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

pub use windows::{Window, parse_windows};

/// The default `PACING_WINDOWS`.
pub const DEFAULT_WINDOWS: &str = "06:00-09:00,12:00-14:00,19:00-23:00";

/// Interval/cooldown bounds above this many seconds are rejected (a day between calls is not
/// pacing, it is a typo).
pub const MAX_GAP_SECONDS: f64 = 86_400.0;

/// "Never" for the callers that need an instant: far enough to stop any worker from waiting,
/// near enough that adding a few days cannot overflow.
const FAR_DAYS: i64 = 3650;

/// The pacing configuration (`PACING_*`, `RATE_LIMIT_*`, `COOLDOWN_*`).
#[derive(Debug, Clone, PartialEq)]
pub struct PacingConfig {
    pub timezone: Tz,
    pub windows: Vec<Window>,
    /// Upstream calls per local calendar day (every attempt counts, test jobs included).
    pub daily_limit: u64,
    /// Seconds, `min..=max`: the start-to-start gap between consecutive calls.
    pub interval: (f64, f64),
    /// Seconds, `min..=max`: after a failed call, from the end of that call to the next start
    /// (replaces the interval).
    pub cooldown: (f64, f64),
}

impl Default for PacingConfig {
    fn default() -> Self {
        Self {
            timezone: chrono_tz::Asia::Singapore,
            windows: parse_windows(DEFAULT_WINDOWS).expect("default windows parse"),
            daily_limit: 800,
            interval: (8.0, 15.0),
            cooldown: (5.0, 12.0),
        }
    }
}

/// What the pacing-state store keeps (one item): the earliest next start and the day's count.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PacingState {
    pub next_allowed_at: Option<DateTime<Utc>>,
    /// The local day (in the pacing timezone) that `day_count` belongs to.
    pub day: Option<NaiveDate>,
    pub day_count: u64,
}

impl PacingState {
    /// Calls counted on local day `day` (0 when the stored count is for another day).
    pub fn count_on(&self, day: NaiveDate) -> u64 {
        if self.day == Some(day) {
            self.day_count
        } else {
            0
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// Outside the windows (or the interval ends outside them).
    OutsideWindow,
    /// The day's quota is spent; the wait ends on a later local day.
    QuotaSpent,
    /// Only the interval (or the cooldown after a failure) is left to wait.
    Interval,
}

impl WaitReason {
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::OutsideWindow => "outside_window",
            WaitReason::QuotaSpent => "quota_spent",
            WaitReason::Interval => "interval",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Now,
    Wait {
        until: DateTime<Utc>,
        reason: WaitReason,
    },
}

fn draw(range: (f64, f64), rng: &mut impl Rng) -> f64 {
    let (min, max) = range;
    if min.is_finite() && max.is_finite() && min < max {
        rng.random_range(min..=max)
    } else {
        min.max(0.0)
    }
}

/// Seconds as a duration, rounded to the nanosecond (monotone: a larger draw never gives a
/// shorter duration). Non-finite or negative inputs count as zero, huge ones are capped.
fn seconds(s: f64) -> Duration {
    let s = if s.is_finite() {
        s.clamp(0.0, 1e9)
    } else {
        0.0
    };
    Duration::nanoseconds((s * 1e9).round() as i64)
}

fn nanos(step_ns: i64, n: u64) -> Duration {
    Duration::nanoseconds(step_ns.saturating_mul(i64::try_from(n).unwrap_or(i64::MAX)))
}

/// `t` rounded up to a whole millisecond.
fn ceil_ms(t: DateTime<Utc>) -> DateTime<Utc> {
    let sub = i64::from(t.timestamp_subsec_nanos() % 1_000_000);
    if sub == 0 {
        t
    } else {
        t + Duration::nanoseconds(1_000_000 - sub)
    }
}

fn far(t: DateTime<Utc>) -> DateTime<Utc> {
    t + Duration::days(FAR_DAYS)
}

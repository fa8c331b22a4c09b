//! The schedule's invocation, most minutes of a day: nothing waits, or nothing may start
//! before the next tick. A whole drain then costs a dozen requests for nothing (the lease
//! taken and freed, the account cache read, every lane and the dead-letter queue received
//! from twice, the gauges read again: `docs/cost.md`), so the tick first reads the lane
//! counters and the pacing state in one request, and ends there when nothing is due.
//!
//! It drains as before whenever:
//! - a waiting job may start before the next tick (its lane's slot is free, or frees
//!   within [`TICK_SECONDS`]);
//! - a call was made in the last [`QUIET_AFTER_SECONDS`]: a worker killed during that call
//!   leaves its job `STARTED`, counted nowhere as waiting, and its message comes back only
//!   after its visibility timeout, for a drain to finish or retry it;
//! - the minute is a housekeeping one (every [`HOUSEKEEPING_EVERY_MINUTES`]): the
//!   dead-letter sweep, the reaper and the hourly account refresh run inside drains;
//! - the read fails (a drain is always safe).
//!
//! The API nudges the worker after each submit, and a nudge always drains. A drain that
//! finds the lease taken (another invocation drains) ends there; only a tick then sets the
//! gauges.

use chrono::{DateTime, Duration, Timelike, Utc};

use super::{DrainReport, StopReason, Worker};
use crate::domain::Lane;
use crate::domain::pacing::{Decision, PacingState};
use crate::domain::turns::QueueSnapshot;
use crate::ports::PortError;

/// The schedule's period (`template.yaml`: `rate(1 minute)`).
pub const TICK_SECONDS: i64 = 60;
/// How long after the last call every tick still drains.
pub const QUIET_AFTER_SECONDS: i64 = 600;
/// Every this many minutes (by the clock), a tick drains whatever the counters say.
pub const HOUSEKEEPING_EVERY_MINUTES: u32 = 10;

impl Worker {
    /// What the schedule's invocation runs: a whole drain when something is due (see the
    /// module's doc), else one read, the gauges from it, and a `NothingDue` report.
    pub async fn scheduled(&self, deadline: DateTime<Utc>) -> Result<DrainReport, PortError> {
        let now = self.clock.now();
        let mut read = None;
        if !now.minute().is_multiple_of(HOUSEKEEPING_EVERY_MINUTES) {
            match self.read_counters_and_pacing().await {
                Ok((snapshot, state)) if !self.due(&snapshot, &state, now) => {
                    self.gauges_from(&snapshot, &state);
                    tracing::debug!("nothing due before the next tick");
                    return Ok(DrainReport::ended(StopReason::NothingDue));
                }
                Ok(r) => read = Some(r),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the queue counters; draining");
                }
            }
        }
        let report = self.drain(deadline).await?;
        if report.stopped == StopReason::LeaseHeld {
            // Another invocation drains, and sets the gauges when it ends; until then each
            // tick does, from its own read where it made one (a long drain would otherwise
            // leave them stale for its whole run).
            match read {
                Some((snapshot, state)) => self.gauges_from(&snapshot, &state),
                None => self.record_gauges().await,
            }
        }
        Ok(report)
    }

    /// Whether this tick must drain: a call was made lately, or a waiting job may start
    /// before the next tick.
    fn due(&self, snapshot: &QueueSnapshot, state: &PacingState, now: DateTime<Utc>) -> bool {
        // The slot after a call (or the cooldown after a failure) ends 5–15 s after it.
        let called_lately = state
            .next_allowed_at
            .is_some_and(|t| t > now - Duration::seconds(QUIET_AFTER_SECONDS));
        if called_lately {
            return true;
        }
        let next_tick = now + Duration::seconds(TICK_SECONDS);
        let pacing = &self.settings.pacing;
        let starts_soon = |is_test| match pacing.decide(state, now, is_test) {
            Decision::Now => true,
            Decision::Wait { until, .. } => until <= next_tick,
        };
        let waiting = |lane| snapshot.lane(lane).map_or(0, |t| t.waiting);
        let normal: u64 = Lane::ALL
            .into_iter()
            .filter(|l| *l != Lane::Test)
            .map(waiting)
            .sum();
        let test = waiting(Lane::Test);
        (normal > 0 && starts_soon(false))
            || (test > 0 && (starts_soon(true) || starts_soon(false)))
    }
}

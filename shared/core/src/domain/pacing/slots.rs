//! The slot engine: whether a call may start now, the reservation of its slot (the day's
//! count and the next allowed start), and the cooldown after a failure.

use chrono::{DateTime, Utc};
use rand::Rng;

use super::{Decision, PacingConfig, PacingState, WaitReason, ceil_ms, draw, far, seconds};

impl PacingConfig {
    /// The earliest instant `>= now` at which a call may start, and why not now.
    ///
    /// Normal jobs need a window, `next_allowed_at` passed and quota left on the local day.
    /// Test jobs ignore the windows and the interval/cooldown but not the daily limit: with the
    /// quota spent they wait for the next local midnight (normal jobs for the first window of
    /// the next day). Reason: `QuotaSpent` when the quota moved the answer, else
    /// `OutsideWindow` when a window did, else `Interval`.
    pub fn decide(&self, state: &PacingState, now: DateTime<Utc>, is_test: bool) -> Decision {
        if self.daily_limit == 0 {
            return Decision::Wait {
                until: far(now),
                reason: WaitReason::QuotaSpent,
            };
        }
        let (mut by_interval, mut by_window, mut by_quota) = (false, false, false);
        let mut t = now;
        // Converges in at most three rounds: the quota moves `t` to a day with no count.
        for _ in 0..8 {
            let before = t;
            if !is_test {
                if let Some(next) = state.next_allowed_at
                    && next > t
                {
                    t = next;
                    by_interval = true;
                }
                if !self.in_window(t) {
                    match self.next_flip(t, true) {
                        Some(open) => t = open,
                        None => {
                            return Decision::Wait {
                                until: far(now),
                                reason: WaitReason::OutsideWindow,
                            };
                        }
                    }
                    by_window = true;
                }
            }
            if state.count_on(self.local_day(t)) >= self.daily_limit {
                t = self.next_local_midnight(t);
                by_quota = true;
            }
            if t == before {
                break;
            }
        }
        if t == now {
            return Decision::Now;
        }
        let reason = if by_quota {
            WaitReason::QuotaSpent
        } else if by_window {
            WaitReason::OutsideWindow
        } else {
            debug_assert!(by_interval);
            WaitReason::Interval
        };
        Decision::Wait { until: t, reason }
    }

    /// The earliest start ([`Decision::Now`] means `now`).
    pub fn earliest_start(
        &self,
        state: &PacingState,
        now: DateTime<Utc>,
        is_test: bool,
    ) -> DateTime<Utc> {
        match self.decide(state, now, is_test) {
            Decision::Now => now,
            Decision::Wait { until, .. } => until,
        }
    }

    /// Reserves the slot for a call starting at `start` (the caller made sure [`decide`] said
    /// `Now`): one more call on `start`'s local day (the count restarts on a new day), and the
    /// next call no earlier than `start` plus a fresh draw from `interval`.
    ///
    /// [`decide`]: PacingConfig::decide
    pub fn reserve(
        &self,
        state: &PacingState,
        start: DateTime<Utc>,
        rng: &mut impl Rng,
    ) -> PacingState {
        let day = self.local_day(start);
        PacingState {
            next_allowed_at: Some(ceil_ms(start + seconds(draw(self.interval, rng)))),
            day: Some(day),
            day_count: state.count_on(day) + 1,
        }
    }

    /// After a failed call that ended at `ended`: the next call no earlier than `ended` plus a
    /// fresh draw from `cooldown` (this replaces the interval drawn at reservation). The count
    /// is unchanged (the attempt was counted when it was reserved).
    pub fn after_failure(
        &self,
        state: &PacingState,
        ended: DateTime<Utc>,
        rng: &mut impl Rng,
    ) -> PacingState {
        PacingState {
            next_allowed_at: Some(ceil_ms(ended + seconds(draw(self.cooldown, rng)))),
            ..state.clone()
        }
    }
}

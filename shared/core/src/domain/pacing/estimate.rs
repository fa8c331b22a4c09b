//! The estimate: when a queued job will start, the pacing rules walked forward over the
//! jobs ahead of it.

use chrono::{DateTime, Utc};

use super::{MAX_GAP_SECONDS, PacingConfig, PacingState, far, nanos, seconds};

impl PacingConfig {
    /// When a job with `ahead` jobs ahead of it would start, walking the rules forward from
    /// `now`: the first job in line starts at [`earliest_start`]; each job ahead then takes
    /// `max(mean interval, mean_call_seconds)`; time outside the windows is skipped; a local
    /// day whose quota is spent (counting `state`'s calls for today) moves the rest to the next
    /// day's first window.
    ///
    /// A test job (`is_test`) has only test jobs ahead of it (the test lane drains first):
    /// those ignore windows and the interval, so each takes `mean_call_seconds`, and only the
    /// daily limit moves them (to the next local midnight).
    ///
    /// [`earliest_start`]: PacingConfig::earliest_start
    pub fn estimate_start(
        &self,
        state: &PacingState,
        now: DateTime<Utc>,
        ahead: u64,
        mean_call_seconds: f64,
        is_test: bool,
    ) -> DateTime<Utc> {
        let mean_call = if mean_call_seconds.is_finite() {
            mean_call_seconds.clamp(0.0, MAX_GAP_SECONDS)
        } else {
            0.0
        };
        let step_secs = if is_test {
            mean_call
        } else {
            ((self.interval.0 + self.interval.1) / 2.0).max(mean_call)
        };
        let step_ns = seconds(step_secs).num_nanoseconds().unwrap_or(i64::MAX);

        let mut t = self.earliest_start(state, now, is_test);
        if self.daily_limit == 0 || (!is_test && self.windows.is_empty()) {
            return t;
        }
        let mut day = self.local_day(t);
        let mut used = state.count_on(day);
        let mut remaining = ahead;
        // One round per stretch of open window (or local day); bounded for safety.
        for _ in 0..100_000 {
            if remaining == 0 {
                return t;
            }
            // The stretch [t, end) in which starts follow each other `step` apart.
            let midnight = self.next_local_midnight(t);
            let end = if is_test {
                midnight
            } else {
                self.next_window_end(t)
                    .map_or(midnight, |e| e.min(midnight))
            };
            let fit = if step_ns <= 0 {
                u64::MAX
            } else {
                let span = (end - t).num_nanoseconds().unwrap_or(i64::MAX).max(1);
                (span.unsigned_abs().div_ceil(step_ns.unsigned_abs())).max(1)
            };
            let n = fit.min(self.daily_limit.saturating_sub(used));
            if remaining < n {
                return t + nanos(step_ns, remaining);
            }
            remaining -= n;
            used += n;
            t += nanos(step_ns, n);
            // Move to the next valid start for whoever is next in line.
            for _ in 0..8 {
                if !is_test && !self.in_window(t) {
                    match self.next_flip(t, true) {
                        Some(open) => t = open,
                        None => return far(now),
                    }
                }
                let d = self.local_day(t);
                if d != day {
                    day = d;
                    used = state.count_on(d);
                }
                if used >= self.daily_limit {
                    t = self.next_local_midnight(t);
                    continue;
                }
                break;
            }
        }
        far(now)
    }
}

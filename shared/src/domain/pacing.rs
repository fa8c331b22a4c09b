//! The pacing rules (architecture, "Pacing rules (normative)"): windows in local time, a daily
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

use std::fmt;

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};
use chrono_tz::Tz;
use rand::{Rng, RngExt};
use serde::{Deserialize, Serialize};

/// The default `PACING_WINDOWS`.
pub const DEFAULT_WINDOWS: &str = "06:00-09:00,12:00-14:00,19:00-23:00";

/// Interval/cooldown bounds above this many seconds are rejected (a day between calls is not
/// pacing, it is a typo).
pub const MAX_GAP_SECONDS: f64 = 86_400.0;

/// How far the window search looks ahead before it gives up (only an empty window list, or
/// windows that never exist in the timezone, get that far).
const SEARCH_DAYS: i64 = 16;

/// "Never" for the callers that need an instant: far enough to stop any worker from waiting,
/// near enough that adding a few days cannot overflow.
const FAR_DAYS: i64 = 3650;

/// A daily window `[start, end)` in local time. `end <= start` means it crosses midnight
/// (`22:00-02:00`); `start == end == 00:00` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Window {
    /// Whether the local wall-clock time `t` is inside the window.
    pub fn contains(&self, t: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= t && t < self.end
        } else {
            // Crossing midnight, or the whole day (00:00-00:00: `t >= 00:00` always holds).
            t >= self.start || t < self.end
        }
    }

    pub fn is_all_day(&self) -> bool {
        self.start == NaiveTime::MIN && self.end == NaiveTime::MIN
    }
}

impl fmt::Display for Window {
    /// `06:00-09:00`; an end at midnight prints as `24:00` (`19:00-24:00`, `00:00-24:00`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let end = if self.end == NaiveTime::MIN {
            "24:00".to_string()
        } else {
            fmt_time(self.end)
        };
        write!(f, "{}-{}", fmt_time(self.start), end)
    }
}

fn fmt_time(t: NaiveTime) -> String {
    if t.format("%S").to_string() == "00" {
        t.format("%H:%M").to_string()
    } else {
        t.format("%H:%M:%S").to_string()
    }
}

/// Parses `06:00-09:00,12:00-14:00,19:00-23:00`. Times are `HH:MM` (or `HH:MM:SS`); `24:00`
/// is allowed as an end. An end before the start crosses midnight; `00:00-24:00` (or
/// `00:00-00:00`) is the whole day; any other zero-length window is an error.
pub fn parse_windows(s: &str) -> Result<Vec<Window>, String> {
    if s.trim().is_empty() {
        return Err("no windows given (expected e.g. 06:00-09:00,19:00-23:00)".into());
    }
    s.split(',')
        .enumerate()
        .map(|(i, part)| {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("window {} is empty (stray comma?)", i + 1));
            }
            let (a, b) = part
                .split_once('-')
                .ok_or_else(|| format!("{part:?} is not a window like 06:00-09:00"))?;
            let start = parse_time(a.trim(), false)
                .ok_or_else(|| format!("{part:?}: start {:?} is not a time HH:MM", a.trim()))?;
            let end = parse_time(b.trim(), true).ok_or_else(|| {
                format!(
                    "{part:?}: end {:?} is not a time HH:MM (or 24:00)",
                    b.trim()
                )
            })?;
            if start == end && start != NaiveTime::MIN {
                return Err(format!(
                    "{part:?} is zero-length (use 00:00-24:00 for the whole day)"
                ));
            }
            Ok(Window { start, end })
        })
        .collect()
}

fn parse_time(s: &str, allow_24: bool) -> Option<NaiveTime> {
    if allow_24 && matches!(s, "24:00" | "24:00:00") {
        return Some(NaiveTime::MIN);
    }
    // Digits and colons only: chrono would otherwise accept "+6:00" and the like.
    if !s.bytes().all(|c| c.is_ascii_digit() || c == b':') {
        return None;
    }
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
        .ok()
}

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

/// Reads the pacing configuration through `lookup` (the environment in production). Absent or
/// empty variables take the default. Errors name the variable.
pub fn from_lookup(
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<PacingConfig, (&'static str, String)> {
    let get = |name: &str| {
        lookup(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    let d = PacingConfig::default();

    let timezone = match get("PACING_TIMEZONE") {
        None => d.timezone,
        Some(v) => v.parse::<Tz>().map_err(|_| {
            (
                "PACING_TIMEZONE",
                format!("{v:?} is not an IANA timezone name (such as Asia/Singapore)"),
            )
        })?,
    };
    let windows = match get("PACING_WINDOWS") {
        None => d.windows,
        Some(v) => parse_windows(&v).map_err(|e| ("PACING_WINDOWS", e))?,
    };
    let daily_limit = match get("RATE_LIMIT_DAILY") {
        None => d.daily_limit,
        Some(v) => match v.parse::<u64>() {
            Ok(n) if n >= 1 => n,
            _ => {
                return Err((
                    "RATE_LIMIT_DAILY",
                    format!("{v:?} is not a whole number of at least 1"),
                ));
            }
        },
    };
    let interval = range_from(
        &get,
        ("RATE_LIMIT_MIN_INTERVAL", "RATE_LIMIT_MAX_INTERVAL"),
        d.interval,
    )?;
    let cooldown = range_from(&get, ("COOLDOWN_MIN", "COOLDOWN_MAX"), d.cooldown)?;
    Ok(PacingConfig {
        timezone,
        windows,
        daily_limit,
        interval,
        cooldown,
    })
}

fn range_from(
    get: &dyn Fn(&str) -> Option<String>,
    (min_name, max_name): (&'static str, &'static str),
    default: (f64, f64),
) -> Result<(f64, f64), (&'static str, String)> {
    let seconds = |name: &'static str,
                   fallback: f64|
     -> Result<(f64, bool), (&'static str, String)> {
        let Some(v) = get(name) else {
            return Ok((fallback, false));
        };
        match v.parse::<f64>() {
            Ok(x) if x.is_finite() && (0.0..=MAX_GAP_SECONDS).contains(&x) => Ok((x, true)),
            _ => Err((
                name,
                format!("{v:?} is not a number of seconds 0-{MAX_GAP_SECONDS} (fractions allowed)"),
            )),
        }
    };
    let (min, min_set) = seconds(min_name, default.0)?;
    let (max, _) = seconds(max_name, default.1)?;
    if min > max {
        // Blame the variable that was set; when both were, the minimum.
        let name = if min_set { min_name } else { max_name };
        return Err((
            name,
            format!("{min_name} ({min}) is more than {max_name} ({max})"),
        ));
    }
    Ok((min, max))
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

impl PacingConfig {
    /// The local calendar day `t` falls on.
    pub fn local_day(&self, t: DateTime<Utc>) -> NaiveDate {
        t.with_timezone(&self.timezone).date_naive()
    }

    /// Whether the local wall-clock time at `t` is inside a window.
    pub fn in_window(&self, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&self.timezone).time();
        self.windows.iter().any(|w| w.contains(local))
    }

    /// The first instant `>= t` inside a window (`t` itself when inside). A window start that
    /// does not exist locally (spring forward) opens at the first instant after it, if that
    /// instant is still inside the window (a window wholly inside the gap does not open that
    /// day); an ambiguous start (fall back) opens at the earlier instant. With no windows at
    /// all (only possible by building the config by hand) the answer is ten years away.
    pub fn next_window_start(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.next_flip(t, true).unwrap_or_else(|| far(t))
    }

    /// The first instant `>= t` outside every window (`t` itself when outside); `None` when
    /// the windows cover the whole day.
    pub fn next_window_end(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.next_flip(t, false)
    }

    /// The first instant of the local day after the one `t` falls on (local midnight; when
    /// midnight does not exist that day, the first instant after it).
    pub fn next_local_midnight(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let next = self.local_day(t).succ_opt().expect("date in range");
        self.first_instant_at_or_after(next.and_time(NaiveTime::MIN))
    }

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

    // --- the instant arithmetic behind the windows -------------------------------------

    /// The first instant `u >= t` with `in_window(u) == want_in`.
    ///
    /// The answer is `t`, or an instant where the window state changes: where the local
    /// clock reaches a window start (`want_in`) or end (not `want_in`), or where the clock
    /// jumps (a UTC-offset change). The search collects those candidates a day or two at a
    /// time and keeps the earliest one that has the wanted state.
    fn next_flip(&self, t: DateTime<Utc>, want_in: bool) -> Option<DateTime<Utc>> {
        if self.in_window(t) == want_in {
            return Some(t);
        }
        if self.windows.is_empty() {
            return None;
        }
        let mut lo = t;
        let mut searched = 0;
        while searched < SEARCH_DAYS {
            let span = if searched == 0 { 1 } else { 3 };
            searched += span;
            let hi = lo + Duration::days(span);
            let mut best: Option<DateTime<Utc>> = None;
            let mut consider = |u: DateTime<Utc>| {
                if u > lo && u <= hi && best.is_none_or(|b| u < b) && self.in_window(u) == want_in {
                    best = Some(u);
                }
            };
            let first = self.local_day(lo).pred_opt().expect("date in range");
            let last = self.local_day(hi).succ_opt().expect("date in range");
            for date in first.iter_days().take_while(|d| *d <= last) {
                for w in &self.windows {
                    let at = date.and_time(if want_in { w.start } else { w.end });
                    match self.timezone.from_local_datetime(&at) {
                        LocalResult::Single(u) => consider(u.with_timezone(&Utc)),
                        LocalResult::Ambiguous(a, b) => {
                            consider(a.with_timezone(&Utc));
                            consider(b.with_timezone(&Utc));
                        }
                        // Skipped by a spring-forward jump: the jump itself is a candidate.
                        LocalResult::None => {}
                    }
                }
            }
            for jump in self.offset_changes(lo, hi) {
                consider(jump);
            }
            if best.is_some() {
                return best;
            }
            lo = hi;
        }
        None
    }

    /// The earliest instant whose local time is `local` (ambiguous: the earlier one); when the
    /// local time is skipped by a jump, the instant of that jump.
    fn first_instant_at_or_after(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self.timezone.from_local_datetime(&local) {
            LocalResult::Single(u) => u.with_timezone(&Utc),
            LocalResult::Ambiguous(a, b) => a.with_timezone(&Utc).min(b.with_timezone(&Utc)),
            LocalResult::None => {
                let guess = local.and_utc();
                let jumps =
                    self.offset_changes(guess - Duration::hours(30), guess + Duration::hours(30));
                jumps
                    .iter()
                    .copied()
                    .find(|j| {
                        let before = (*j - Duration::seconds(1)).with_timezone(&self.timezone);
                        let after = j.with_timezone(&self.timezone);
                        before.naive_local() < local && local <= after.naive_local()
                    })
                    // Unreachable with real tz data; fall back to the offset in force a day
                    // later, which puts the instant after the skipped local times.
                    .unwrap_or_else(|| {
                        let after = self.offset_seconds(guess + Duration::days(1));
                        guess - Duration::seconds(i64::from(after))
                    })
            }
        }
    }

    fn offset_seconds(&self, t: DateTime<Utc>) -> i32 {
        self.timezone
            .offset_from_utc_datetime(&t.naive_utc())
            .fix()
            .local_minus_utc()
    }

    /// Instants in `(lo, hi]` where the UTC offset changes, found by sampling every six hours
    /// (offsets change months apart) and bisecting to the second (tz data changes on whole
    /// seconds).
    fn offset_changes(&self, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let mut out = Vec::new();
        let mut x = lo;
        let mut off_x = self.offset_seconds(x);
        while x < hi {
            let y = (x + Duration::hours(6)).min(hi);
            let off_y = self.offset_seconds(y);
            if off_y != off_x {
                // Smallest whole second s in (x, y] with the offset of y.
                let (mut a, mut b) = (x.timestamp(), y.timestamp());
                while b - a > 1 {
                    let m = a + (b - a) / 2;
                    let at = DateTime::from_timestamp(m, 0).expect("timestamp in range");
                    if self.offset_seconds(at) == off_y {
                        b = m;
                    } else {
                        a = m;
                    }
                }
                out.push(DateTime::from_timestamp(b, 0).expect("timestamp in range"));
            }
            x = y;
            off_x = off_y;
        }
        out
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono_tz::{America::New_York, Asia::Singapore};
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("RFC 3339 instant")
    }

    fn local(tz: Tz, s: &str) -> DateTime<Utc> {
        let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("local time");
        tz.from_local_datetime(&naive)
            .single()
            .expect("unambiguous local time")
            .with_timezone(&Utc)
    }

    fn sg(s: &str) -> DateTime<Utc> {
        local(Singapore, s)
    }

    fn cfg(tz: Tz, windows: &str) -> PacingConfig {
        PacingConfig {
            timezone: tz,
            windows: parse_windows(windows).unwrap(),
            ..PacingConfig::default()
        }
    }

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    // --- parsing ---------------------------------------------------------------------

    #[test]
    fn parses_windows() {
        let w = parse_windows(DEFAULT_WINDOWS).unwrap();
        assert_eq!(
            w,
            vec![
                Window {
                    start: t(6, 0),
                    end: t(9, 0)
                },
                Window {
                    start: t(12, 0),
                    end: t(14, 0)
                },
                Window {
                    start: t(19, 0),
                    end: t(23, 0)
                },
            ]
        );
        assert_eq!(
            parse_windows(" 6:30 - 7:00 ,19:00-24:00").unwrap(),
            vec![
                Window {
                    start: t(6, 30),
                    end: t(7, 0)
                },
                Window {
                    start: t(19, 0),
                    end: NaiveTime::MIN
                },
            ]
        );
        let seconds = parse_windows("06:00:30-07:00").unwrap();
        assert_eq!(seconds[0].start, NaiveTime::from_hms_opt(6, 0, 30).unwrap());
        assert_eq!(seconds[0].to_string(), "06:00:30-07:00");
    }

    #[test]
    fn parses_windows_crossing_midnight_and_whole_day() {
        let w = parse_windows("22:00-02:00").unwrap()[0];
        assert_eq!((w.start, w.end), (t(22, 0), t(2, 0)));
        assert!(w.contains(t(23, 59)) && w.contains(t(0, 0)) && w.contains(t(1, 59)));
        assert!(!w.contains(t(2, 0)) && !w.contains(t(21, 59)) && !w.contains(t(12, 0)));
        for all_day in ["00:00-24:00", "00:00-00:00"] {
            let w = parse_windows(all_day).unwrap()[0];
            assert!(w.is_all_day());
            assert!(w.contains(t(0, 0)) && w.contains(t(12, 0)));
            assert!(w.contains(NaiveTime::from_hms_opt(23, 59, 59).unwrap()));
            assert_eq!(w.to_string(), "00:00-24:00");
        }
        assert_eq!(
            parse_windows("19:00-24:00").unwrap()[0].to_string(),
            "19:00-24:00"
        );
        assert_eq!(
            parse_windows("22:00-02:00").unwrap()[0].to_string(),
            "22:00-02:00"
        );
    }

    #[test]
    fn rejects_bad_windows_with_a_reason() {
        for (bad, says) in [
            ("", "no windows"),
            ("   ", "no windows"),
            ("06:00-09:00,", "empty"),
            ("06:00-09:00,,12:00-13:00", "empty"),
            ("06:00", "not a window"),
            ("6-9", "not a time"),
            ("25:00-26:00", "not a time"),
            ("06:60-07:00", "not a time"),
            ("24:00-06:00", "start"),
            ("+6:00-07:00", "start"),
            ("ab:cd-01:00", "start"),
            ("06:00-09:00x", "end"),
            ("09:00-09:00", "zero-length"),
            ("23:00-23:00", "zero-length"),
        ] {
            let err = parse_windows(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
    }

    #[test]
    fn config_from_lookup() {
        assert_eq!(from_lookup(&lookup(&[])).unwrap(), PacingConfig::default());
        // Empty values take the defaults too.
        assert_eq!(
            from_lookup(&lookup(&[("PACING_WINDOWS", ""), ("COOLDOWN_MIN", " ")])).unwrap(),
            PacingConfig::default()
        );
        let c = from_lookup(&lookup(&[
            ("PACING_TIMEZONE", "America/New_York"),
            ("PACING_WINDOWS", "21:00-03:00"),
            ("RATE_LIMIT_DAILY", "40"),
            ("RATE_LIMIT_MIN_INTERVAL", "0.3"),
            ("RATE_LIMIT_MAX_INTERVAL", "1.5"),
            ("COOLDOWN_MIN", "2"),
            ("COOLDOWN_MAX", "2"),
        ]))
        .unwrap();
        assert_eq!(c.timezone, New_York);
        assert_eq!(
            c.windows,
            vec![Window {
                start: t(21, 0),
                end: t(3, 0)
            }]
        );
        assert_eq!(c.daily_limit, 40);
        assert_eq!(c.interval, (0.3, 1.5));
        assert_eq!(c.cooldown, (2.0, 2.0));
    }

    #[test]
    fn config_errors_name_their_variable() {
        for (pairs, var) in [
            (
                &[("PACING_TIMEZONE", "Mars/Olympus")][..],
                "PACING_TIMEZONE",
            ),
            (&[("PACING_WINDOWS", "09:00-09:00")], "PACING_WINDOWS"),
            (&[("PACING_WINDOWS", "morning")], "PACING_WINDOWS"),
            (&[("RATE_LIMIT_DAILY", "0")], "RATE_LIMIT_DAILY"),
            (&[("RATE_LIMIT_DAILY", "-3")], "RATE_LIMIT_DAILY"),
            (&[("RATE_LIMIT_DAILY", "1.5")], "RATE_LIMIT_DAILY"),
            (
                &[("RATE_LIMIT_MIN_INTERVAL", "-1")],
                "RATE_LIMIT_MIN_INTERVAL",
            ),
            (
                &[("RATE_LIMIT_MIN_INTERVAL", "NaN")],
                "RATE_LIMIT_MIN_INTERVAL",
            ),
            (
                &[("RATE_LIMIT_MAX_INTERVAL", "inf")],
                "RATE_LIMIT_MAX_INTERVAL",
            ),
            (
                &[("RATE_LIMIT_MAX_INTERVAL", "ten")],
                "RATE_LIMIT_MAX_INTERVAL",
            ),
            // min > max: blame the one that was set.
            (
                &[("RATE_LIMIT_MIN_INTERVAL", "20")],
                "RATE_LIMIT_MIN_INTERVAL",
            ),
            (
                &[("RATE_LIMIT_MAX_INTERVAL", "5")],
                "RATE_LIMIT_MAX_INTERVAL",
            ),
            (
                &[
                    ("RATE_LIMIT_MIN_INTERVAL", "3"),
                    ("RATE_LIMIT_MAX_INTERVAL", "2"),
                ],
                "RATE_LIMIT_MIN_INTERVAL",
            ),
            (&[("COOLDOWN_MIN", "13")], "COOLDOWN_MIN"),
            (&[("COOLDOWN_MAX", "-0.5")], "COOLDOWN_MAX"),
        ] {
            let pairs: &'static [(&'static str, &'static str)] = pairs;
            let (name, message) = from_lookup(&lookup(pairs)).unwrap_err();
            assert_eq!(name, var, "{pairs:?}: {message}");
            assert!(!message.is_empty());
        }
    }

    // --- windows ---------------------------------------------------------------------

    #[test]
    fn singapore_default_windows() {
        let c = PacingConfig::default();
        for (at, inside) in [
            ("2026-01-05 05:59:59", false),
            ("2026-01-05 06:00:00", true),
            ("2026-01-05 08:59:59", true),
            ("2026-01-05 09:00:00", false),
            ("2026-01-05 12:00:00", true),
            ("2026-01-05 14:00:00", false),
            ("2026-01-05 19:00:00", true),
            ("2026-01-05 22:59:59", true),
            ("2026-01-05 23:00:00", false),
            ("2026-01-06 00:00:00", false),
        ] {
            assert_eq!(c.in_window(sg(at)), inside, "{at}");
        }
        // 06:00 SGT is 22:00 UTC the day before.
        assert_eq!(sg("2026-01-05 06:00:00"), utc("2026-01-04T22:00:00Z"));
        for (from, to) in [
            ("2026-01-05 07:00:00", "2026-01-05 07:00:00"),
            ("2026-01-05 09:00:00", "2026-01-05 12:00:00"),
            ("2026-01-05 14:30:00", "2026-01-05 19:00:00"),
            ("2026-01-05 23:00:00", "2026-01-06 06:00:00"),
            ("2026-01-06 02:00:00", "2026-01-06 06:00:00"),
        ] {
            assert_eq!(c.next_window_start(sg(from)), sg(to), "{from}");
        }
        assert_eq!(
            c.next_window_end(sg("2026-01-05 07:00:00")),
            Some(sg("2026-01-05 09:00:00"))
        );
        assert_eq!(
            c.next_window_end(sg("2026-01-05 10:00:00")),
            Some(sg("2026-01-05 10:00:00"))
        );
        // Sub-second precision: just before the start.
        let before = sg("2026-01-05 12:00:00") - Duration::nanoseconds(1);
        assert_eq!(c.next_window_start(before), sg("2026-01-05 12:00:00"));
    }

    #[test]
    fn window_crossing_midnight() {
        let c = cfg(Singapore, "22:00-02:00");
        assert!(c.in_window(sg("2026-01-05 23:00:00")));
        assert!(c.in_window(sg("2026-01-06 01:59:59")));
        assert!(!c.in_window(sg("2026-01-06 02:00:00")));
        assert!(!c.in_window(sg("2026-01-05 21:59:59")));
        assert_eq!(
            c.next_window_start(sg("2026-01-06 02:00:00")),
            sg("2026-01-06 22:00:00")
        );
        assert_eq!(
            c.next_window_end(sg("2026-01-05 22:00:00")),
            Some(sg("2026-01-06 02:00:00"))
        );
        assert_eq!(
            c.next_window_end(sg("2026-01-06 00:30:00")),
            Some(sg("2026-01-06 02:00:00"))
        );
        // A whole-day window never ends.
        let all = cfg(Singapore, "00:00-24:00");
        let now = sg("2026-01-05 03:00:00");
        assert!(all.in_window(now));
        assert_eq!(all.next_window_start(now), now);
        assert_eq!(all.next_window_end(now), None);
        // Windows that meet make one stretch.
        let joined = cfg(Singapore, "08:00-09:00,09:00-10:00");
        assert_eq!(
            joined.next_window_end(sg("2026-01-05 08:30:00")),
            Some(sg("2026-01-05 10:00:00"))
        );
    }

    #[test]
    fn new_york_spring_forward() {
        // 2026-03-08 02:00 EST (07:00Z) jumps to 03:00 EDT.
        let c = cfg(New_York, "01:30-03:30,06:00-09:00");
        // The day before: 01:30-03:30 EST is 06:30Z-08:30Z (two hours).
        assert_eq!(
            c.next_window_start(utc("2026-03-07T05:00:00Z")),
            utc("2026-03-07T06:30:00Z")
        );
        assert_eq!(
            c.next_window_end(utc("2026-03-07T06:30:00Z")),
            Some(utc("2026-03-07T08:30:00Z"))
        );
        // The switch day: 01:30 EST (06:30Z) to 03:30 EDT (07:30Z): one hour.
        assert_eq!(
            c.next_window_start(utc("2026-03-08T05:00:00Z")),
            utc("2026-03-08T06:30:00Z")
        );
        assert!(c.in_window(utc("2026-03-08T06:59:59Z"))); // 01:59:59 EST
        assert!(c.in_window(utc("2026-03-08T07:00:00Z"))); // 03:00 EDT
        assert!(c.in_window(utc("2026-03-08T07:29:59Z")));
        assert!(!c.in_window(utc("2026-03-08T07:30:00Z"))); // 03:30 EDT
        assert_eq!(
            c.next_window_end(utc("2026-03-08T06:30:00Z")),
            Some(utc("2026-03-08T07:30:00Z"))
        );
        // 06:00 EDT is 10:00Z; the day after, still 10:00Z.
        assert_eq!(
            c.next_window_start(utc("2026-03-08T07:30:00Z")),
            utc("2026-03-08T10:00:00Z")
        );
        assert_eq!(
            c.next_window_end(utc("2026-03-08T10:00:00Z")),
            Some(utc("2026-03-08T13:00:00Z"))
        );
        assert_eq!(
            c.next_window_start(utc("2026-03-08T13:00:00Z")),
            utc("2026-03-09T05:30:00Z")
        );

        // A window that starts inside the gap opens at the first instant after it.
        let gap = cfg(New_York, "02:30-04:00");
        assert_eq!(
            gap.next_window_start(utc("2026-03-08T06:00:00Z")),
            utc("2026-03-08T07:00:00Z")
        );
        assert_eq!(
            gap.next_window_end(utc("2026-03-08T07:00:00Z")),
            Some(utc("2026-03-08T08:00:00Z"))
        );
        // A window wholly inside the gap does not exist that day.
        let lost = cfg(New_York, "02:15-02:45");
        assert_eq!(
            lost.next_window_start(utc("2026-03-08T06:00:00Z")),
            utc("2026-03-09T06:15:00Z")
        );

        // A 23-hour local day.
        assert_eq!(
            c.next_local_midnight(utc("2026-03-08T06:00:00Z")),
            utc("2026-03-09T04:00:00Z")
        );
        assert_eq!(c.local_day(utc("2026-03-09T03:59:59Z")), date("2026-03-08"));
    }

    #[test]
    fn new_york_fall_back() {
        // 2026-11-01 02:00 EDT (06:00Z) falls back to 01:00 EST: 01:00-01:59 happen twice.
        let c = cfg(New_York, "01:30-03:30,06:00-09:00");
        // Ambiguous start: the earlier instant, 01:30 EDT.
        assert_eq!(
            c.next_window_start(utc("2026-11-01T04:00:00Z")),
            utc("2026-11-01T05:30:00Z")
        );
        // The clock falls back to 01:00 EST, outside the window, until 01:30 EST.
        assert_eq!(
            c.next_window_end(utc("2026-11-01T05:30:00Z")),
            Some(utc("2026-11-01T06:00:00Z"))
        );
        assert!(c.in_window(utc("2026-11-01T05:59:59Z")));
        assert!(!c.in_window(utc("2026-11-01T06:00:00Z")));
        assert!(!c.in_window(utc("2026-11-01T06:29:59Z")));
        assert_eq!(
            c.next_window_start(utc("2026-11-01T06:00:00Z")),
            utc("2026-11-01T06:30:00Z")
        );
        assert_eq!(
            c.next_window_end(utc("2026-11-01T06:30:00Z")),
            Some(utc("2026-11-01T08:30:00Z"))
        );
        // 06:00 EST is 11:00Z.
        assert_eq!(
            c.next_window_start(utc("2026-11-01T08:30:00Z")),
            utc("2026-11-01T11:00:00Z")
        );
        // A window entered by the clock falling back into it.
        let early = cfg(New_York, "01:00-01:45");
        assert_eq!(
            early.next_window_end(utc("2026-11-01T05:00:00Z")),
            Some(utc("2026-11-01T05:45:00Z"))
        );
        assert_eq!(
            early.next_window_start(utc("2026-11-01T05:45:00Z")),
            utc("2026-11-01T06:00:00Z")
        );
        assert_eq!(
            early.next_window_end(utc("2026-11-01T06:00:00Z")),
            Some(utc("2026-11-01T06:45:00Z"))
        );
        // A 25-hour local day.
        assert_eq!(
            c.next_local_midnight(utc("2026-11-01T05:00:00Z")),
            utc("2026-11-02T05:00:00Z")
        );
    }

    #[test]
    fn midnight_that_does_not_exist() {
        // Chile springs forward at local midnight: 2026-09-06 00:00 -04 becomes 01:00 -03.
        let c = cfg(chrono_tz::America::Santiago, "00:00-24:00");
        let m = c.next_local_midnight(utc("2026-09-05T12:00:00Z"));
        assert_eq!(c.local_day(m), date("2026-09-06"));
        assert_eq!(c.local_day(m - Duration::seconds(1)), date("2026-09-05"));
        assert_eq!(m, utc("2026-09-06T04:00:00Z"));
    }

    // --- decisions -------------------------------------------------------------------

    #[test]
    fn decide_gives_the_reason() {
        let c = PacingConfig::default();
        let empty = PacingState::default();
        let now = sg("2026-01-05 07:00:00");
        assert_eq!(c.decide(&empty, now, false), Decision::Now);
        assert_eq!(c.earliest_start(&empty, now, false), now);

        let noon = sg("2026-01-05 12:00:00");
        assert_eq!(
            c.decide(&empty, sg("2026-01-05 10:00:00"), false),
            Decision::Wait {
                until: noon,
                reason: WaitReason::OutsideWindow
            }
        );
        // Test jobs ignore windows and the interval.
        assert_eq!(
            c.decide(&empty, sg("2026-01-05 10:00:00"), true),
            Decision::Now
        );

        let soon = PacingState {
            next_allowed_at: Some(now + Duration::seconds(10)),
            day: Some(date("2026-01-05")),
            day_count: 3,
        };
        assert_eq!(
            c.decide(&soon, now, false),
            Decision::Wait {
                until: now + Duration::seconds(10),
                reason: WaitReason::Interval
            }
        );
        assert_eq!(c.decide(&soon, now, true), Decision::Now);
        assert_eq!(
            c.decide(&soon, now + Duration::seconds(10), false),
            Decision::Now
        );

        // The interval runs past the window's end: the window is what we wait for.
        let late = sg("2026-01-05 08:59:55");
        let past_end = PacingState {
            next_allowed_at: Some(late + Duration::seconds(10)),
            ..soon.clone()
        };
        assert_eq!(
            c.decide(&past_end, late, false),
            Decision::Wait {
                until: noon,
                reason: WaitReason::OutsideWindow
            }
        );

        // Quota spent: normal jobs wait for the next day's first window, test jobs for
        // the local midnight.
        let spent = PacingState {
            day_count: 800,
            ..soon.clone()
        };
        assert_eq!(
            c.decide(&spent, now, false),
            Decision::Wait {
                until: sg("2026-01-06 06:00:00"),
                reason: WaitReason::QuotaSpent
            }
        );
        assert_eq!(
            c.decide(&spent, now, true),
            Decision::Wait {
                until: sg("2026-01-06 00:00:00"),
                reason: WaitReason::QuotaSpent
            }
        );
        // A count for another day does not bind.
        let yesterday = PacingState {
            day: Some(date("2026-01-04")),
            ..spent
        };
        assert_eq!(
            c.decide(&yesterday, now + Duration::seconds(10), false),
            Decision::Now
        );

        assert_eq!(
            serde_json::to_string(&WaitReason::QuotaSpent).unwrap(),
            "\"quota_spent\""
        );
        assert_eq!(
            serde_json::to_string(&WaitReason::OutsideWindow).unwrap(),
            "\"outside_window\""
        );
        assert_eq!(WaitReason::Interval.as_str(), "interval");
    }

    #[test]
    fn quota_resets_at_local_midnight_not_utc() {
        let c = PacingConfig {
            daily_limit: 5,
            ..PacingConfig::default()
        };
        let state = PacingState {
            next_allowed_at: None,
            day: Some(date("2026-01-05")),
            day_count: 5,
        };
        // 23:59 SGT on the 5th is 15:59Z; midnight SGT is 16:00Z, not 00:00Z.
        let before = utc("2026-01-05T15:59:00Z");
        let midnight = utc("2026-01-05T16:00:00Z");
        assert_eq!(c.local_day(before), date("2026-01-05"));
        assert_eq!(c.local_day(midnight), date("2026-01-06"));
        assert_eq!(
            c.decide(&state, before, true),
            Decision::Wait {
                until: midnight,
                reason: WaitReason::QuotaSpent
            }
        );
        assert_eq!(c.decide(&state, midnight, true), Decision::Now);
        // At UTC midnight (08:00 SGT on the 6th, in a window) the 5th's count is long gone.
        assert_eq!(
            c.decide(&state, utc("2026-01-06T00:00:00Z"), false),
            Decision::Now
        );

        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let next = c.reserve(&state, midnight, &mut rng);
        assert_eq!((next.day, next.day_count), (Some(date("2026-01-06")), 1));
        let again = c.reserve(&next, midnight + Duration::seconds(30), &mut rng);
        assert_eq!(again.day_count, 2);
        // The same UTC date, but the previous local day: counts there from zero.
        let earlier_day = c.reserve(&again, before, &mut rng);
        assert_eq!(
            (earlier_day.day, earlier_day.day_count),
            (Some(date("2026-01-05")), 1)
        );
    }

    #[test]
    fn draws_stay_in_their_ranges() {
        let c = PacingConfig::default();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let start = sg("2026-01-05 07:00:00") + Duration::nanoseconds(123_456_789);
        let (mut lo, mut hi) = (f64::MAX, 0.0f64);
        let mut state = PacingState::default();
        for i in 0..2000u64 {
            state = c.reserve(&state, start, &mut rng);
            assert_eq!(state.day_count, i + 1);
            let next = state.next_allowed_at.unwrap();
            assert_eq!(
                next.timestamp_subsec_nanos() % 1_000_000,
                0,
                "whole milliseconds"
            );
            let gap = (next - start).num_nanoseconds().unwrap() as f64 / 1e9;
            assert!((8.0..=15.001).contains(&gap), "interval {gap}");
            lo = lo.min(gap);
            hi = hi.max(gap);

            let ended = start + Duration::seconds(3);
            let failed = c.after_failure(&state, ended, &mut rng);
            assert_eq!((failed.day, failed.day_count), (state.day, state.day_count));
            let cool = (failed.next_allowed_at.unwrap() - ended)
                .num_nanoseconds()
                .unwrap() as f64
                / 1e9;
            assert!((5.0..=12.001).contains(&cool), "cooldown {cool}");
        }
        // Fresh draws, spread over the range.
        assert!(lo < 8.1 && hi > 14.9, "{lo}..{hi}");

        // A fixed range draws its value; fractions are kept.
        let fixed = PacingConfig {
            interval: (0.3, 0.3),
            ..c
        };
        let at = sg("2026-01-05 07:00:00");
        let s = fixed.reserve(&PacingState::default(), at, &mut rng);
        assert_eq!(s.next_allowed_at, Some(at + Duration::milliseconds(300)));
    }

    #[test]
    fn estimates_walk_the_rules() {
        let c = PacingConfig {
            daily_limit: 5,
            ..PacingConfig::default()
        };
        let empty = PacingState::default();
        let now = sg("2026-01-05 07:00:00");
        let secs = |s: f64| seconds(s);
        assert_eq!(c.estimate_start(&empty, now, 0, 10.0, false), now);
        // Mean interval 11.5 s, or the mean call when longer.
        assert_eq!(
            c.estimate_start(&empty, now, 3, 10.0, false),
            now + secs(34.5)
        );
        assert_eq!(
            c.estimate_start(&empty, now, 3, 20.0, false),
            now + secs(60.0)
        );
        // Outside the window: from the next window start.
        assert_eq!(
            c.estimate_start(&empty, sg("2026-01-05 10:00:00"), 2, 10.0, false),
            sg("2026-01-05 12:00:00") + secs(23.0)
        );
        // Near the end of a window: 6 starts fit in the last minute, the rest move to noon.
        let big = PacingConfig::default();
        assert_eq!(
            big.estimate_start(&empty, sg("2026-01-05 08:59:00"), 10, 10.0, false),
            sg("2026-01-05 12:00:00") + secs(46.0)
        );
        // Quota: 3 used today, 2 more fit, the rest start tomorrow's first window.
        let used = PacingState {
            next_allowed_at: None,
            day: Some(date("2026-01-05")),
            day_count: 3,
        };
        assert_eq!(
            c.estimate_start(&used, now, 1, 10.0, false),
            now + secs(11.5)
        );
        assert_eq!(
            c.estimate_start(&used, now, 2, 10.0, false),
            sg("2026-01-06 06:00:00")
        );
        assert_eq!(
            c.estimate_start(&used, now, 4, 10.0, false),
            sg("2026-01-06 06:00:00") + secs(23.0)
        );
        // Many days ahead: 5 a day.
        assert_eq!(
            c.estimate_start(&empty, now, 12, 10.0, false),
            sg("2026-01-07 06:00:00") + secs(23.0)
        );
        // Test jobs: back to back, no windows; the quota moves them to local midnight.
        let night = sg("2026-01-05 23:30:00");
        assert_eq!(
            c.estimate_start(&empty, night, 2, 10.0, true),
            night + secs(20.0)
        );
        assert_eq!(
            c.estimate_start(&used, night, 3, 10.0, true),
            sg("2026-01-06 00:00:00") + secs(10.0)
        );
        // The interval of the call in flight delays the first one in line.
        let busy = PacingState {
            next_allowed_at: Some(now + secs(9.0)),
            ..PacingState::default()
        };
        assert_eq!(
            c.estimate_start(&busy, now, 1, 10.0, false),
            now + secs(20.5)
        );
    }
}

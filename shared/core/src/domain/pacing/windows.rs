//! Windows: daily `[start, end)` ranges of local wall-clock time, and the instant
//! arithmetic that finds where they open and close across DST changes.

use std::fmt;

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeZone, Utc,
};

use super::{PacingConfig, far};

/// How far the window search looks ahead before it gives up (only an empty window list, or
/// windows that never exist in the timezone, get that far).
const SEARCH_DAYS: i64 = 16;

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

    /// The first instant `u >= t` with `in_window(u) == want_in`.
    ///
    /// The answer is `t`, or an instant where the window state changes: where the local
    /// clock reaches a window start (`want_in`) or end (not `want_in`), or where the clock
    /// jumps (a UTC-offset change). The search collects those candidates a day or two at a
    /// time and keeps the earliest one that has the wanted state.
    pub(super) fn next_flip(&self, t: DateTime<Utc>, want_in: bool) -> Option<DateTime<Utc>> {
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

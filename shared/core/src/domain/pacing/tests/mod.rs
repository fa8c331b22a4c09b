//! The pacing engine's unit tests: windows across DST, decisions, reservations, estimates.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

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

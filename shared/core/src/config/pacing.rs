//! The pacing variables (`PACING_*`, `RATE_LIMIT_*`, `COOLDOWN_*`), read through a lookup
//! (the environment in production). Absent or empty variables take the default; errors name
//! the variable.

use chrono_tz::Tz;

use super::ranges::{PACING_GAP_SECONDS, RATE_LIMIT_DAILY};
use crate::domain::pacing::{PacingConfig, parse_windows};

/// Reads the pacing configuration through `lookup`.
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
            Ok(n) if RATE_LIMIT_DAILY.contains(n as f64) => n,
            _ => {
                return Err((
                    "RATE_LIMIT_DAILY",
                    format!(
                        "{v:?} is not a whole number {}",
                        RATE_LIMIT_DAILY.describe()
                    ),
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
    let seconds =
        |name: &'static str, fallback: f64| -> Result<(f64, bool), (&'static str, String)> {
            let Some(v) = get(name) else {
                return Ok((fallback, false));
            };
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() && PACING_GAP_SECONDS.contains(x) => Ok((x, true)),
                _ => Err((
                    name,
                    format!(
                        "{v:?} is not a number of seconds {} (fractions allowed)",
                        PACING_GAP_SECONDS.describe()
                    ),
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

#[cfg(test)]
mod tests {
    use chrono::NaiveTime;
    use chrono_tz::America::New_York;

    use super::*;
    use crate::domain::pacing::Window;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn lookup(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
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
}

//! The settings, read through an injected lookup (the environment in production) and
//! checked once at start. Every error names the variable. The names of the AWS resources
//! are the adapters' business (`naiq-adapters`' `resources`).

mod pacing;
pub mod ranges;
pub mod webhooks;

use crate::domain::pacing::PacingConfig;
use ranges::{JOB_OVERHEAD_SECONDS, Range};
pub use webhooks::WebhookSettings;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub message: String,
}

/// Behaviour settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// Windows, timezone, daily limit, interval and cooldown.
    pub pacing: PacingConfig,
    pub max_attempts: u32,
    pub allow_test_requests: bool,
    /// Precise Reference on V5 Full/Curated (`PRECISE_REFERENCE_V5`): off by default, as
    /// NovelAI's facts conflict.
    pub precise_reference_v5: bool,
    pub image_url_ttl: u64,
    /// How long a warm API instance keeps an API key it looked up (`KEY_CACHE_SECONDS`):
    /// one DynamoDB read less per request, for a revocation or a limit change that reaches
    /// a warm instance up to this late. 0 looks every key up on every request.
    pub key_cache_seconds: u64,
    /// How long a warm API instance keeps the server-side account it read
    /// (`ACCOUNT_CACHE_SECONDS`): one DynamoDB read less per submit, for a tier or V5
    /// usage the worker refreshed that reaches a submit's price up to this late (the
    /// worker settles what a job actually cost). 0 reads it on every submit.
    pub account_cache_seconds: u64,
    pub max_body_bytes: usize,
    pub novelai_image_url: String,
    pub novelai_timeout_seconds: u64,
    /// The worker function's timeout (Lambda passes no such variable; the template sets
    /// it to the function's `Timeout`). Also the drain's budget when an invocation comes
    /// without a deadline.
    pub worker_timeout_seconds: u64,
    /// Where webhooks may go, their retry schedule and their timeout.
    pub webhooks: WebhookSettings,
    /// `MAX_QUEUE_DEPTH` as given: the most jobs waiting at once, 0 for the default of
    /// [`ranges::QUEUE_DEPTH_DAYS`] days of quota (see [`Settings::max_queue_depth`]).
    pub queue_depth: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pacing: PacingConfig::default(),
            max_attempts: 3,
            allow_test_requests: false,
            precise_reference_v5: false,
            image_url_ttl: 3600,
            key_cache_seconds: 30,
            account_cache_seconds: 60,
            max_body_bytes: 5 * 1024 * 1024,
            novelai_image_url: "https://image.novelai.net".into(),
            novelai_timeout_seconds: 120,
            worker_timeout_seconds: ranges::LAMBDA_MAX_TIMEOUT_SECONDS,
            webhooks: WebhookSettings::default(),
            queue_depth: 0,
        }
    }
}

/// Every setting variable naiq reads (a test checks the template gives them to the
/// functions).
pub const SETTING_VARIABLES: &[&str] = &[
    "PACING_TIMEZONE",
    "PACING_WINDOWS",
    "RATE_LIMIT_DAILY",
    "RATE_LIMIT_MIN_INTERVAL",
    "RATE_LIMIT_MAX_INTERVAL",
    "COOLDOWN_MIN",
    "COOLDOWN_MAX",
    "MAX_ATTEMPTS",
    "ALLOW_TEST_REQUESTS",
    "PRECISE_REFERENCE_V5",
    "IMAGE_URL_TTL",
    "KEY_CACHE_SECONDS",
    "ACCOUNT_CACHE_SECONDS",
    "MAX_BODY_BYTES",
    "NOVELAI_IMAGE_URL",
    "NOVELAI_TIMEOUT_SECONDS",
    "WORKER_TIMEOUT_SECONDS",
    "WEBHOOK_ALLOW_PRIVATE",
    "WEBHOOK_RETRY_SECONDS",
    "WEBHOOK_TIMEOUT_SECONDS",
    "MAX_QUEUE_DEPTH",
];

/// Reads variables through a lookup: trimmed, an empty value counts as absent.
pub struct Env<'a>(pub &'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    pub fn get(&self, name: &str) -> Option<String> {
        (self.0)(name)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &'static str) -> Result<String, ConfigError> {
        self.get(name).ok_or(ConfigError {
            variable: name,
            message: "is required".into(),
        })
    }

    /// A whole number within `range`; `default` when absent.
    fn whole(&self, name: &'static str, default: u64, range: Range) -> Result<u64, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(*n as f64))
                .ok_or(ConfigError {
                    variable: name,
                    message: format!("{v:?} is not a whole number {}", range.describe()),
                }),
        }
    }

    fn url(&self, name: &'static str, default: &str) -> Result<String, ConfigError> {
        let v = self.get(name).unwrap_or_else(|| default.to_string());
        if !(v.starts_with("http://") || v.starts_with("https://")) {
            return Err(ConfigError {
                variable: name,
                message: format!("{v:?} is not an http(s) URL"),
            });
        }
        Ok(v.trim_end_matches('/').to_string())
    }
}

impl Settings {
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        let d = Settings::default();
        let pacing = pacing::from_lookup(lookup)
            .map_err(|(variable, message)| ConfigError { variable, message })?;
        let flag = |name: &'static str| -> Result<bool, ConfigError> {
            match env.get(name).map(|v| v.to_ascii_lowercase()) {
                None => Ok(false),
                Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
                Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
                Some(v) => Err(ConfigError {
                    variable: name,
                    message: format!("{v:?} is not true or false"),
                }),
            }
        };
        let settings = Self {
            pacing,
            max_attempts: env.whole("MAX_ATTEMPTS", d.max_attempts.into(), ranges::MAX_ATTEMPTS)?
                as u32,
            allow_test_requests: flag("ALLOW_TEST_REQUESTS")?,
            precise_reference_v5: flag("PRECISE_REFERENCE_V5")?,
            image_url_ttl: env.whole("IMAGE_URL_TTL", d.image_url_ttl, ranges::IMAGE_URL_TTL)?,
            key_cache_seconds: env.whole(
                "KEY_CACHE_SECONDS",
                d.key_cache_seconds,
                ranges::KEY_CACHE_SECONDS,
            )?,
            account_cache_seconds: env.whole(
                "ACCOUNT_CACHE_SECONDS",
                d.account_cache_seconds,
                ranges::ACCOUNT_CACHE_SECONDS,
            )?,
            max_body_bytes: env.whole(
                "MAX_BODY_BYTES",
                d.max_body_bytes as u64,
                ranges::MAX_BODY_BYTES,
            )? as usize,
            novelai_image_url: env.url("NOVELAI_IMAGE_URL", &d.novelai_image_url)?,
            novelai_timeout_seconds: env.whole(
                "NOVELAI_TIMEOUT_SECONDS",
                d.novelai_timeout_seconds,
                ranges::NOVELAI_TIMEOUT_SECONDS,
            )?,
            worker_timeout_seconds: env.whole(
                "WORKER_TIMEOUT_SECONDS",
                d.worker_timeout_seconds,
                ranges::WORKER_TIMEOUT_SECONDS,
            )?,
            webhooks: webhooks::from_env(&env, &flag)?,
            queue_depth: env.whole("MAX_QUEUE_DEPTH", d.queue_depth, ranges::MAX_QUEUE_DEPTH)?,
        };
        settings.check_combination(&env)?;
        Ok(settings)
    }

    /// The most jobs waiting at once: `MAX_QUEUE_DEPTH`, or by default a few days of
    /// quota (a queue deeper than that would wait days anyway).
    pub fn max_queue_depth(&self) -> u64 {
        if self.queue_depth > 0 {
            self.queue_depth
        } else {
            self.pacing
                .daily_limit
                .saturating_mul(ranges::QUEUE_DEPTH_DAYS)
        }
    }

    /// Time one job may take: the NovelAI call's timeout and the job's overhead.
    pub fn job_budget_seconds(&self) -> u64 {
        self.novelai_timeout_seconds + JOB_OVERHEAD_SECONDS
    }

    /// Refuses settings that each pass but cannot work together: a job's budget that does
    /// not fit the worker's invocation would leave every job queued for ever. The variable
    /// named is the one set (NOVELAI_TIMEOUT_SECONDS when both are).
    fn check_combination(&self, env: &Env<'_>) -> Result<(), ConfigError> {
        if self.job_budget_seconds() > self.worker_timeout_seconds {
            let variable = if env.get("NOVELAI_TIMEOUT_SECONDS").is_none() {
                "WORKER_TIMEOUT_SECONDS"
            } else {
                "NOVELAI_TIMEOUT_SECONDS"
            };
            return Err(ConfigError {
                variable,
                message: format!(
                    "a job needs NOVELAI_TIMEOUT_SECONDS ({}) plus {JOB_OVERHEAD_SECONDS} s, \
                     more than the worker's WORKER_TIMEOUT_SECONDS ({}): no job could start",
                    self.novelai_timeout_seconds, self.worker_timeout_seconds
                ),
            });
        }
        Ok(())
    }
}

impl Settings {
    /// The settings from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn defaults_follow_the_architecture() {
        // The most the old range allowed: 900 + 10 s never fits Lambda's 900.
        let err =
            Settings::from_lookup(&lookup(&[("NOVELAI_TIMEOUT_SECONDS", "900")])).unwrap_err();
        assert_eq!(err.variable, "NOVELAI_TIMEOUT_SECONDS");
        let s = Settings::from_lookup(&lookup(&[])).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.pacing.timezone, chrono_tz::Asia::Singapore);
        assert_eq!(s.pacing.daily_limit, 800);
        assert_eq!(
            (s.pacing.interval, s.pacing.cooldown),
            ((8.0, 15.0), (5.0, 12.0))
        );
    }

    #[test]
    fn a_novelai_timeout_that_leaves_no_room_in_the_worker_is_refused() {
        // Each value is within its own range; together no job could ever start.
        for (pairs, var) in [
            (
                &[
                    ("NOVELAI_TIMEOUT_SECONDS", "600"),
                    ("WORKER_TIMEOUT_SECONDS", "300"),
                ][..],
                "NOVELAI_TIMEOUT_SECONDS",
            ),
            (
                &[
                    ("NOVELAI_TIMEOUT_SECONDS", "120"),
                    ("WORKER_TIMEOUT_SECONDS", "129"),
                ],
                "NOVELAI_TIMEOUT_SECONDS",
            ),
            (
                &[("WORKER_TIMEOUT_SECONDS", "60")],
                "WORKER_TIMEOUT_SECONDS",
            ),
        ] {
            let err = Settings::from_lookup(&lookup(pairs)).unwrap_err();
            assert_eq!(err.variable, var, "{pairs:?}: {err}");
            assert!(err.message.contains("no job could start"), "{err}");
        }
        let s = Settings::from_lookup(&lookup(&[
            ("NOVELAI_TIMEOUT_SECONDS", "120"),
            ("WORKER_TIMEOUT_SECONDS", "130"),
        ]))
        .unwrap();
        assert_eq!(s.job_budget_seconds(), 130);
        assert_eq!(
            Settings::from_lookup(&lookup(&[("NOVELAI_TIMEOUT_SECONDS", "890")]))
                .unwrap()
                .job_budget_seconds(),
            900
        );
    }

    #[test]
    fn every_range_is_enforced_at_its_bounds() {
        let load = |var: &str, v: f64| {
            let v = v.to_string();
            Settings::from_lookup(&lookup(&[(var, &v)]))
                .map(|_| ())
                .map_err(|e| e.variable)
        };
        // Bounds that need another variable moved with them to be accepted alone.
        let paired_min = [
            "RATE_LIMIT_MAX_INTERVAL",
            "COOLDOWN_MAX",
            "WORKER_TIMEOUT_SECONDS",
        ];
        let paired_max = ["RATE_LIMIT_MIN_INTERVAL", "COOLDOWN_MIN"];
        for &(var, range) in ranges::RANGES {
            assert_eq!(
                load(var, range.min - 1.0),
                Err(var),
                "{var} below its range"
            );
            if !paired_min.contains(&var) {
                assert_eq!(load(var, range.min), Ok(()), "{var} at its minimum");
            }
            if let Some(max) = range.max {
                assert_eq!(load(var, max + 1.0), Err(var), "{var} above its range");
                if !paired_max.contains(&var) {
                    assert_eq!(load(var, max), Ok(()), "{var} at its maximum");
                }
            }
        }
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, value) in [
            ("PACING_TIMEZONE", "Mars/Olympus"),
            ("RATE_LIMIT_DAILY", "-3"),
            ("RATE_LIMIT_DAILY", "0"),
            ("MAX_ATTEMPTS", "many"),
            ("ALLOW_TEST_REQUESTS", "perhaps"),
            ("IMAGE_URL_TTL", "0"),
            ("NOVELAI_IMAGE_URL", "ftp://x"),
            ("PACING_WINDOWS", "9am-5pm"),
            ("RATE_LIMIT_MIN_INTERVAL", "-1"),
            ("COOLDOWN_MIN", "20"),
        ] {
            let err = Settings::from_lookup(&lookup(&[(var, value)])).unwrap_err();
            assert_eq!(err.variable, var);
            assert!(err.to_string().starts_with(var));
        }
    }
}

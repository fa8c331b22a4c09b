//! The settings, read through an injected lookup (the environment in production) and
//! checked once at start. Every error names the variable. The names of the AWS resources
//! are the adapters' business (`naiq-adapters`' `resources`).

mod pacing;

use crate::domain::pacing::PacingConfig;

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
    pub image_url_ttl: u64,
    pub max_body_bytes: usize,
    pub novelai_image_url: String,
    pub novelai_timeout_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pacing: PacingConfig::default(),
            max_attempts: 3,
            allow_test_requests: false,
            image_url_ttl: 3600,
            max_body_bytes: 5 * 1024 * 1024,
            novelai_image_url: "https://image.novelai.net".into(),
            novelai_timeout_seconds: 120,
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
    "IMAGE_URL_TTL",
    "MAX_BODY_BYTES",
    "NOVELAI_IMAGE_URL",
    "NOVELAI_TIMEOUT_SECONDS",
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

    fn parsed<T: std::str::FromStr>(
        &self,
        name: &'static str,
        default: T,
        check: impl Fn(&T) -> bool,
        expect: &str,
    ) -> Result<T, ConfigError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse::<T>().ok().filter(|t| check(t)).ok_or(ConfigError {
                variable: name,
                message: format!("{v:?} is not {expect}"),
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
        Ok(Self {
            pacing,
            max_attempts: env.parsed(
                "MAX_ATTEMPTS",
                d.max_attempts,
                |n| (1..=8).contains(n),
                "a whole number 1-8",
            )?,
            allow_test_requests: flag("ALLOW_TEST_REQUESTS")?,
            image_url_ttl: env.parsed(
                "IMAGE_URL_TTL",
                d.image_url_ttl,
                |n| (1..=604_800).contains(n),
                "a number of seconds 1-604800",
            )?,
            max_body_bytes: env.parsed(
                "MAX_BODY_BYTES",
                d.max_body_bytes,
                |n| (1024..=6_000_000).contains(n),
                "a byte count 1024-6000000",
            )?,
            novelai_image_url: env.url("NOVELAI_IMAGE_URL", &d.novelai_image_url)?,
            novelai_timeout_seconds: env.parsed(
                "NOVELAI_TIMEOUT_SECONDS",
                d.novelai_timeout_seconds,
                |n| (1..=900).contains(n),
                "a number of seconds 1-900",
            )?,
        })
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

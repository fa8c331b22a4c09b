//! The webhook settings: whether private addresses (and plain http) are allowed (only the
//! local stack sets `WEBHOOK_ALLOW_PRIVATE`), the retry schedule, and each attempt's timeout.

use super::{ConfigError, Env, ranges};

/// The waits between attempts, in seconds: quick at first, then hours, 37.7 hours in all
/// (more than the 24 the retries must span), each within SQS's 12-hour visibility limit.
pub const DEFAULT_RETRY_SECONDS: &[u32] = &[
    5, 30, 120, 600, 1800, 3600, 7200, 14400, 21600, 43200, 43200,
];
/// The retries must span at least this long before an event is given up.
pub const MIN_RETRY_SPAN_SECONDS: u64 = 86_400;
/// SQS's longest visibility timeout.
pub const MAX_RETRY_STEP_SECONDS: u32 = 43_200;
/// At most this many retries (the queue's `maxReceiveCount` is above it).
pub const MAX_RETRIES: usize = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookSettings {
    /// http and private, loopback and link-local receivers allowed (local stack only).
    pub allow_private: bool,
    /// The wait after attempt n (1-based) is `retry_seconds[n - 1]`; after the last one
    /// the event goes to the dead-letter queue.
    pub retry_seconds: Vec<u32>,
    /// How long one attempt may take.
    pub timeout_seconds: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private: false,
            retry_seconds: DEFAULT_RETRY_SECONDS.to_vec(),
            timeout_seconds: 10,
        }
    }
}

pub(super) fn from_env(
    env: &Env<'_>,
    flag: &dyn Fn(&'static str) -> Result<bool, ConfigError>,
) -> Result<WebhookSettings, ConfigError> {
    let d = WebhookSettings::default();
    let retry_seconds = match env.get("WEBHOOK_RETRY_SECONDS") {
        None => d.retry_seconds,
        Some(v) => parse_schedule(&v).map_err(|message| ConfigError {
            variable: "WEBHOOK_RETRY_SECONDS",
            message,
        })?,
    };
    Ok(WebhookSettings {
        allow_private: flag("WEBHOOK_ALLOW_PRIVATE")?,
        retry_seconds,
        timeout_seconds: env.whole(
            "WEBHOOK_TIMEOUT_SECONDS",
            d.timeout_seconds,
            ranges::WEBHOOK_TIMEOUT_SECONDS,
        )?,
    })
}

/// `5,30,120,…`: whole seconds, each at most 12 hours, together at least 24 hours.
pub fn parse_schedule(v: &str) -> Result<Vec<u32>, String> {
    let steps: Vec<u32> = v
        .split(',')
        .map(|s| s.trim().parse::<u32>())
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{v:?} is not a comma-separated list of whole seconds"))?;
    if steps.is_empty() || steps.len() > MAX_RETRIES {
        return Err(format!("give 1-{MAX_RETRIES} waits"));
    }
    if steps.iter().any(|s| *s > MAX_RETRY_STEP_SECONDS) {
        return Err(format!(
            "each wait must be at most {MAX_RETRY_STEP_SECONDS} s (SQS's visibility limit)"
        ));
    }
    let span: u64 = steps.iter().map(|s| u64::from(*s)).sum();
    if span < MIN_RETRY_SPAN_SECONDS {
        return Err(format!(
            "the waits add up to {span} s; retries must span at least {MIN_RETRY_SPAN_SECONDS} s"
        ));
    }
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_schedule_spans_a_day_and_fits_sqs() {
        let s = parse_schedule(
            &DEFAULT_RETRY_SECONDS
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(","),
        )
        .unwrap();
        assert!(s.iter().map(|s| u64::from(*s)).sum::<u64>() >= MIN_RETRY_SPAN_SECONDS);
    }

    #[test]
    fn schedules_are_checked() {
        assert_eq!(
            parse_schedule("1, 2,43200,43200").unwrap(),
            vec![1, 2, 43200, 43200]
        );
        assert!(parse_schedule("1,2,3").unwrap_err().contains("86400"));
        assert!(parse_schedule("43201,43200,43200").is_err());
        assert!(parse_schedule("a").is_err());
        assert!(parse_schedule("").is_err());
    }
}

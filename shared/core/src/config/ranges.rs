//! The range of every numeric setting, one named constant each, and the table of them by
//! variable. The settings are checked against these constants, and the template's test
//! compares each parameter's `MinValue` and `MaxValue` with them, so the code and the
//! template cannot drift apart.

use crate::domain::pacing::MAX_GAP_SECONDS;

/// The values a numeric setting may take: `min` to `max` (unbounded above when `None`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub min: f64,
    pub max: Option<f64>,
}

impl Range {
    pub const fn between(min: f64, max: f64) -> Self {
        Self {
            min,
            max: Some(max),
        }
    }

    pub const fn at_least(min: f64) -> Self {
        Self { min, max: None }
    }

    pub fn contains(&self, v: f64) -> bool {
        v >= self.min && self.max.is_none_or(|max| v <= max)
    }

    /// `1-8`, or `at least 1`.
    pub fn describe(&self) -> String {
        match self.max {
            Some(max) => format!("{}-{}", self.min, max),
            None => format!("at least {}", self.min),
        }
    }
}

/// Lambda's longest timeout, in seconds.
pub const LAMBDA_MAX_TIMEOUT_SECONDS: u64 = 900;

/// Time a job needs besides its NovelAI call: storing the images and the job.
pub const JOB_OVERHEAD_SECONDS: u64 = 10;

/// Upstream attempts per job: fewer than the lane queues' 10 receives before a message
/// goes to the dead-letter queue, so a job runs out of attempts before its message does.
pub const MAX_ATTEMPTS: Range = Range::between(1.0, 8.0);

/// Presigned URL lifetime: S3's longest is a week.
pub const IMAGE_URL_TTL: Range = Range::between(1.0, 604_800.0);

/// How long a warm API keeps a looked-up key: at most five minutes of revocation delay.
pub const KEY_CACHE_SECONDS: Range = Range::between(0.0, 300.0);

/// How long a warm API keeps the server-side account: the worker refreshes it hourly.
pub const ACCOUNT_CACHE_SECONDS: Range = Range::between(0.0, 300.0);

/// The largest request body: Lambda's synchronous payload limit is 6 MB.
pub const MAX_BODY_BYTES: Range = Range::between(1024.0, 6_000_000.0);

/// One NovelAI call's timeout: with the job's overhead it must fit a Lambda invocation.
pub const NOVELAI_TIMEOUT_SECONDS: Range = Range::between(
    1.0,
    (LAMBDA_MAX_TIMEOUT_SECONDS - JOB_OVERHEAD_SECONDS) as f64,
);

/// The worker function's timeout (its `Timeout` in the template): room for at least one
/// job, at most Lambda's limit.
pub const WORKER_TIMEOUT_SECONDS: Range = Range::between(
    (1 + JOB_OVERHEAD_SECONDS) as f64,
    LAMBDA_MAX_TIMEOUT_SECONDS as f64,
);

/// Upstream calls per local day.
pub const RATE_LIMIT_DAILY: Range = Range::at_least(1.0);

/// The most jobs waiting at once; 0 = three days of quota (3 × `RATE_LIMIT_DAILY`).
pub const MAX_QUEUE_DEPTH: Range = Range::at_least(0.0);

/// How many days of quota the default `MAX_QUEUE_DEPTH` holds.
pub const QUEUE_DEPTH_DAYS: u64 = 3;

/// The random gaps between calls and after a failure, in seconds (fractions allowed).
pub const PACING_GAP_SECONDS: Range = Range::between(0.0, MAX_GAP_SECONDS);

/// One webhook attempt's timeout, in seconds: short, so a hanging receiver holds the
/// delivery function only briefly.
pub const WEBHOOK_TIMEOUT_SECONDS: Range = Range::between(1.0, 30.0);

/// Every numeric setting variable and its range.
pub const RANGES: &[(&str, Range)] = &[
    ("MAX_ATTEMPTS", MAX_ATTEMPTS),
    ("IMAGE_URL_TTL", IMAGE_URL_TTL),
    ("KEY_CACHE_SECONDS", KEY_CACHE_SECONDS),
    ("ACCOUNT_CACHE_SECONDS", ACCOUNT_CACHE_SECONDS),
    ("MAX_BODY_BYTES", MAX_BODY_BYTES),
    ("NOVELAI_TIMEOUT_SECONDS", NOVELAI_TIMEOUT_SECONDS),
    ("WORKER_TIMEOUT_SECONDS", WORKER_TIMEOUT_SECONDS),
    ("RATE_LIMIT_DAILY", RATE_LIMIT_DAILY),
    ("MAX_QUEUE_DEPTH", MAX_QUEUE_DEPTH),
    ("RATE_LIMIT_MIN_INTERVAL", PACING_GAP_SECONDS),
    ("RATE_LIMIT_MAX_INTERVAL", PACING_GAP_SECONDS),
    ("COOLDOWN_MIN", PACING_GAP_SECONDS),
    ("COOLDOWN_MAX", PACING_GAP_SECONDS),
    ("WEBHOOK_TIMEOUT_SECONDS", WEBHOOK_TIMEOUT_SECONDS),
];

/// The range of a numeric setting variable.
pub fn range_of(variable: &str) -> Option<Range> {
    RANGES.iter().find(|(v, _)| *v == variable).map(|(_, r)| *r)
}

//! What naiq measures: the catalogue of its metrics (name, kind, unit, dimensions) and one
//! small function per observation, over the `metrics` facade.
//!
//! The facade is to metrics what `tracing` is to logs: the use cases say what happened,
//! with no I/O and no port to thread through; the functions' composition roots install a
//! recorder that writes CloudWatch embedded-metric-format lines (`naiq-adapters`'
//! `metrics` module) and flush it once per invocation. Without a recorder (the CLI, the
//! tests) every call here is a no-op.
//!
//! The names live only here: the template's alarms are checked against [`ALL`]
//! (`shared/adapters/tests/template`), so a rename breaks that test until the template
//! follows. Dimensions are few on purpose (each distinct combination is a billed metric):
//! a lane (four values) and an error code (a code-defined set).

use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use ::metrics::Unit;
use chrono::{DateTime, Utc};

use crate::domain::Lane;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "naiq";

/// Dimension: a lane (`test`, `high`, `normal`, `low`).
pub const LANE: &str = "Lane";
/// Dimension: a failed job's error code (`upstream_busy`, `dead_letter`, ...).
pub const ERROR_CODE: &str = "ErrorCode";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Summed over the invocation.
    Counter,
    /// The last value set in the invocation.
    Gauge,
    /// Every value recorded since the recorder last wrote (CloudWatch takes up to 100 in
    /// one document: see [`HISTOGRAM_VALUES_PER_WRITE`]).
    Histogram,
}

/// One metric as CloudWatch sees it.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub unit: Unit,
    /// The dimension sets it is emitted with; `&[]` is the metric without dimensions.
    pub dimension_sets: &'static [&'static [&'static str]],
}

impl Metric {
    /// CloudWatch's name of the unit.
    pub fn unit_name(&self) -> &'static str {
        match self.unit {
            Unit::Seconds => "Seconds",
            Unit::Milliseconds => "Milliseconds",
            _ => "Count",
        }
    }
}

const fn metric(
    name: &'static str,
    kind: Kind,
    unit: Unit,
    dimension_sets: &'static [&'static [&'static str]],
) -> Metric {
    Metric {
        name,
        kind,
        unit,
        dimension_sets,
    }
}

const NONE: &[&[&str]] = &[&[]];

/// Jobs the API accepted and queued (not dry runs).
pub const JOBS_ACCEPTED: Metric = metric("JobsAccepted", Kind::Counter, Unit::Count, NONE);
/// Jobs that finished with their images stored.
pub const JOBS_SUCCEEDED: Metric = metric("JobsSucceeded", Kind::Counter, Unit::Count, NONE);
/// Jobs that failed for good (no attempt left, a refused request, a dead letter, a lost
/// message); once in total and once under their error code.
pub const JOBS_FAILED: Metric = metric(
    "JobsFailed",
    Kind::Counter,
    Unit::Count,
    &[&[], &[ERROR_CODE]],
);
/// Waiting jobs at the end of a drain, in total and per lane.
pub const QUEUE_DEPTH: Metric = metric("QueueDepth", Kind::Gauge, Unit::Count, &[&[], &[LANE]]);
/// Waiting jobs at the end of a drain while a call may start (inside a pacing window,
/// the day's quota not spent); 0 otherwise. With `JobsSucceeded` it tells a stalled
/// upstream from a queue that waits for its window.
pub const QUEUE_DEPTH_IN_WINDOW: Metric =
    metric("QueueDepthInWindow", Kind::Gauge, Unit::Count, NONE);
/// A job's wait from its submit to its first start.
pub const QUEUE_WAIT: Metric = metric("QueueWait", Kind::Histogram, Unit::Seconds, &[&[LANE]]);
/// The duration of each NovelAI generation call, answered or failed.
pub const UPSTREAM_LATENCY: Metric =
    metric("UpstreamLatency", Kind::Histogram, Unit::Milliseconds, NONE);
/// Upstream calls counted on the current local day (pacing timezone), at the end of a drain.
pub const UPSTREAM_CALLS_TODAY: Metric =
    metric("UpstreamCallsToday", Kind::Gauge, Unit::Count, NONE);
/// The daily limit (`RATE_LIMIT_DAILY`), beside the count.
pub const UPSTREAM_DAILY_LIMIT: Metric =
    metric("UpstreamDailyLimit", Kind::Gauge, Unit::Count, NONE);
/// Anlas spent on the server's NovelAI account by the jobs that succeeded (by the price
/// rules; jobs run with per-request credentials spend their caller's Anlas, not counted).
pub const ANLAS_SPENT: Metric = metric("AnlasSpent", Kind::Counter, Unit::Count, NONE);
/// Webhook attempts that failed (to be retried, refused, or dead-lettered).
pub const WEBHOOK_DELIVERY_FAILURES: Metric =
    metric("WebhookDeliveryFailures", Kind::Counter, Unit::Count, NONE);

/// Every metric naiq emits.
pub const ALL: &[Metric] = &[
    JOBS_ACCEPTED,
    JOBS_SUCCEEDED,
    JOBS_FAILED,
    QUEUE_DEPTH,
    QUEUE_DEPTH_IN_WINDOW,
    QUEUE_WAIT,
    UPSTREAM_LATENCY,
    UPSTREAM_CALLS_TODAY,
    UPSTREAM_DAILY_LIMIT,
    ANLAS_SPENT,
    WEBHOOK_DELIVERY_FAILURES,
];

/// Tells the installed recorder each metric's unit (call once, after installing it).
pub fn describe() {
    for m in ALL {
        match m.kind {
            Kind::Counter => ::metrics::describe_counter!(m.name, m.unit, ""),
            Kind::Gauge => ::metrics::describe_gauge!(m.name, m.unit, ""),
            Kind::Histogram => ::metrics::describe_histogram!(m.name, m.unit, ""),
        }
    }
}

/// An error code as a dimension value: code-defined, but kept to `[a-z0-9_]`, 40 bytes,
/// so no free text (let alone a secret) can ever become a dimension.
pub fn code_dimension(code: &str) -> &str {
    let ok = !code.is_empty()
        && code.len() <= 40
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { code } else { "other" }
}

pub fn job_accepted() {
    ::metrics::counter!(JOBS_ACCEPTED.name).increment(1);
}

pub fn job_succeeded() {
    ::metrics::counter!(JOBS_SUCCEEDED.name).increment(1);
}

pub fn job_failed(code: &str) {
    ::metrics::counter!(JOBS_FAILED.name).increment(1);
    let code = code_dimension(code).to_string();
    ::metrics::counter!(JOBS_FAILED.name, ERROR_CODE => code).increment(1);
}

/// A drain's outcome counters, touched at 0: a recorder that writes zeros then reports
/// every drain, not only those that finished a job.
pub fn drain_outcomes_reported() {
    ::metrics::counter!(JOBS_SUCCEEDED.name).increment(0);
    ::metrics::counter!(JOBS_FAILED.name).increment(0);
}

/// A job's first start, `submitted` being its acceptance.
pub fn job_started(lane: Lane, submitted: DateTime<Utc>, started: DateTime<Utc>) {
    let wait = (started - submitted).num_milliseconds().max(0) as f64 / 1000.0;
    ::metrics::histogram!(QUEUE_WAIT.name, LANE => lane.as_str()).record(wait);
    histogram_value_recorded();
}

pub fn upstream_call(elapsed_ms: u64) {
    ::metrics::histogram!(UPSTREAM_LATENCY.name).record(elapsed_ms as f64);
    histogram_value_recorded();
}

/// How many histogram values may wait in the recorder before it writes them out. CloudWatch
/// takes at most 100 values of one metric in one document and the exporter keeps no more
/// (it drops the rest, logging an error for each); a drain of many jobs records two values
/// a job, so waiting for the end of the invocation would lose them. Counted over every
/// histogram, so no single one can pass 100.
pub const HISTOGRAM_VALUES_PER_WRITE: usize = 90;

static UNWRITTEN_VALUES: AtomicUsize = AtomicUsize::new(0);
static WRITE_OUT: OnceLock<fn()> = OnceLock::new();

/// What to call when [`HISTOGRAM_VALUES_PER_WRITE`] values wait: the installed recorder's
/// write (the functions' exporter sets it once; with none set, nothing is called).
pub fn when_full_write_with(write_out: fn()) {
    let _ = WRITE_OUT.set(write_out);
}

/// The recorder wrote out what it held: the count of waiting values starts again.
pub fn written() {
    UNWRITTEN_VALUES.store(0, Ordering::Relaxed);
}

fn histogram_value_recorded() {
    let waiting = UNWRITTEN_VALUES.fetch_add(1, Ordering::Relaxed) + 1;
    if waiting >= HISTOGRAM_VALUES_PER_WRITE
        && let Some(write_out) = WRITE_OUT.get()
    {
        write_out();
    }
}

pub fn anlas_spent(anlas: u64) {
    if anlas > 0 {
        ::metrics::counter!(ANLAS_SPENT.name).increment(anlas);
    }
}

pub fn webhook_delivery_failed() {
    ::metrics::counter!(WEBHOOK_DELIVERY_FAILURES.name).increment(1);
}

/// The queue and quota gauges, from one look at the counters and the pacing state.
pub struct Gauges {
    pub per_lane: Vec<(Lane, u64)>,
    pub in_window: u64,
    pub calls_today: u64,
    pub daily_limit: u64,
}

pub fn gauges(g: &Gauges) {
    let total: u64 = g.per_lane.iter().map(|(_, n)| n).sum();
    ::metrics::gauge!(QUEUE_DEPTH.name).set(total as f64);
    for (lane, n) in &g.per_lane {
        ::metrics::gauge!(QUEUE_DEPTH.name, LANE => lane.as_str()).set(*n as f64);
    }
    ::metrics::gauge!(QUEUE_DEPTH_IN_WINDOW.name).set(g.in_window as f64);
    ::metrics::gauge!(UPSTREAM_CALLS_TODAY.name).set(g.calls_today as f64);
    ::metrics::gauge!(UPSTREAM_DAILY_LIMIT.name).set(g.daily_limit as f64);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_dimension_values_are_tame() {
        let mut names: Vec<_> = ALL.iter().map(|m| m.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert_eq!(code_dimension("upstream_busy"), "upstream_busy");
        for wild in ["", "Bearer naiq_SECRET", "a b", "ünïcode", &"x".repeat(41)] {
            assert_eq!(code_dimension(wild), "other", "{wild}");
        }
    }
}

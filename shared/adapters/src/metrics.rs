//! The functions' metrics exporter: the recorder behind `naiq_core::metrics`, writing
//! CloudWatch embedded-metric-format (EMF) lines to stdout, where the Lambda log group
//! turns them into metrics in the `naiq` namespace with no API call and no agent.
//!
//! `metrics_cloudwatch_embedded` keeps the values; [`flush`] writes them once per
//! invocation (the end of a drain, of an HTTP request), and during a long drain whenever
//! `naiq_core::metrics::HISTOGRAM_VALUES_PER_WRITE` histogram values wait (the exporter
//! keeps no more than 100 of one metric). One JSON line per dimension set, each written
//! whole so it never interleaves with a log line. Only the functions install it ([`init`]);
//! elsewhere (the CLI, the tests) the facade has no recorder and nothing is printed.
//! `NAIQ_METRICS=off` leaves it out of a function too.

use std::io::Write;
use std::sync::OnceLock;

use metrics_cloudwatch_embedded::{Builder, Collector};

/// The variable that turns the exporter off (`off`); on by default in the functions.
pub const METRICS_VARIABLE: &str = "NAIQ_METRICS";

static COLLECTOR: OnceLock<Option<&'static Collector>> = OnceLock::new();

/// Where [`flush`] writes the lines: stdout in the functions.
pub type Sink = fn(&[u8]) -> std::io::Result<()>;

static SINK: OnceLock<Sink> = OnceLock::new();

/// Stdout, all lines in one write.
fn stdout(lines: &[u8]) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(lines)?;
    out.flush()
}

/// Installs the process's recorder, unless `NAIQ_METRICS=off`; `true` when one is
/// installed. A second call changes nothing.
///
/// With `emit_zeros`, a counter used once in the process is written at every flush, 0
/// included: the worker's, so that each drain reports `JobsSucceeded` and `JobsFailed`
/// and the alarms' metric math finds a 0 where it would otherwise find a gap. The API and
/// the webhook function leave it off (a line per request or tick for nothing).
pub fn init(emit_zeros: bool) -> bool {
    let off = std::env::var(METRICS_VARIABLE).is_ok_and(|v| v.eq_ignore_ascii_case("off"));
    install(off, emit_zeros)
}

/// Installs the recorder unless `off` (what [`init`] does with the environment read).
pub fn install(off: bool, emit_zeros: bool) -> bool {
    install_to(off, emit_zeros, stdout)
}

/// [`install`], with [`flush`] writing to `sink` (a test's capture).
pub fn install_to(off: bool, emit_zeros: bool, sink: Sink) -> bool {
    let _ = SINK.set(sink);
    COLLECTOR
        .get_or_init(|| {
            if off {
                return None;
            }
            match Builder::new()
                .cloudwatch_namespace(naiq_core::metrics::NAMESPACE)
                .emit_zeros(emit_zeros)
                .init()
            {
                Ok(collector) => {
                    naiq_core::metrics::describe();
                    naiq_core::metrics::when_full_write_with(flush);
                    Some(collector)
                }
                Err(e) => {
                    // Another recorder holds the facade: metrics are off, the work is not.
                    tracing::warn!(error = %e, "metrics recorder not installed");
                    None
                }
            }
        })
        .is_some()
}

/// Writes what was measured since the last flush to `out`, one EMF document a line;
/// nothing when no recorder is installed or nothing was measured.
pub fn flush_to(out: &mut impl Write) -> std::io::Result<()> {
    match COLLECTOR.get() {
        Some(Some(collector)) => {
            let written = collector.flush(out);
            naiq_core::metrics::written();
            written
        }
        _ => Ok(()),
    }
}

/// [`flush_to`] the installed sink (stdout), all lines in one write. A failure is logged,
/// never returned: a lost metric must not fail an invocation.
pub fn flush() {
    let mut lines = Vec::new();
    let written = flush_to(&mut lines).and_then(|()| {
        if lines.is_empty() {
            return Ok(());
        }
        (SINK.get().copied().unwrap_or(stdout))(&lines)
    });
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not write the metrics");
    }
}

//! The paced worker Lambda: a thin composition root. Started by the schedule and by the
//! API's nudge; drains the lane queues one job at a time until they are empty or the
//! invocation's time runs short.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use naiq_adapters::aws::AwsClients;
use naiq_adapters::compose::{Config, worker_ports};
use naiq_adapters::runtime::{SystemClock, TokioSleeper, os_seed};
use naiq_core::worker::Worker;
use serde_json::Value;

// One thread: a Lambda process handles one event at a time, and a multi-thread runtime
// spends more CPU moving work between threads than it saves (bench/README.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // JSON logs when AWS_LAMBDA_LOG_FORMAT=JSON (set by the template's LoggingConfig); the
    // runtime's raw events never, whatever AWS_LAMBDA_LOG_LEVEL or RUST_LOG ask.
    naiq_adapters::logging::init();
    naiq_adapters::metrics::init(true);
    let config = Config::from_env().map_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
        e
    })?;
    let clients = AwsClients::from_env().await;
    let ports = worker_ports(&clients, &config);
    let settings = config.settings.clone();
    run(service_fn(move |event: LambdaEvent<Value>| {
        let ports = ports.clone();
        let settings = settings.clone();
        async move {
            let deadline =
                invocation_deadline(event.context.deadline, settings.worker_timeout_seconds);
            let source = event
                .payload
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string();
            tracing::info!(
                source,
                remaining_ms = (deadline - Utc::now()).num_milliseconds(),
                "drain starting"
            );
            let worker = Worker::new(
                ports,
                Arc::new(SystemClock),
                Arc::new(TokioSleeper),
                os_seed(),
                settings,
                event.context.request_id.clone(),
            );
            // The schedule's tick ends early when nothing is due; a nudge always drains.
            let report = if source == SCHEDULE_SOURCE {
                worker.scheduled(deadline).await
            } else {
                worker.drain(deadline).await
            };
            // Once per invocation, whatever the drain's outcome.
            naiq_adapters::metrics::flush();
            let report = report?;
            tracing::info!(source, report = ?report, "drain finished");
            Ok::<_, Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}

/// The `source` of the schedule's events (`events/schedule.json`).
const SCHEDULE_SOURCE: &str = "aws.events";

/// The invocation's end. Lambda always sends it; a local emulator may not (cargo lambda
/// watch sends no usable deadline), and then the worker allows itself its configured
/// timeout (WORKER_TIMEOUT_SECONDS), as Lambda would.
fn invocation_deadline(deadline_ms: u64, timeout_seconds: u64) -> DateTime<Utc> {
    let now = Utc::now();
    match DateTime::<Utc>::from_timestamp_millis(deadline_ms as i64) {
        Some(d) if d > now => d,
        _ => {
            tracing::warn!(
                deadline_ms,
                timeout_seconds,
                "no usable invocation deadline; allowing WORKER_TIMEOUT_SECONDS"
            );
            now + chrono::Duration::seconds(timeout_seconds as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_deadline_gets_a_budget_and_a_real_one_is_kept() {
        let d = invocation_deadline(0, 300);
        let left = (d - Utc::now()).num_seconds();
        assert!((299..=300).contains(&left), "{left}");
        let real = Utc::now() + chrono::Duration::seconds(900);
        assert_eq!(
            invocation_deadline(real.timestamp_millis() as u64, 300).timestamp_millis(),
            real.timestamp_millis()
        );
    }

    #[test]
    fn the_sample_events_name_their_source() {
        for (file, source) in [
            ("schedule.json", SCHEDULE_SOURCE),
            ("nudge.json", "naiq.nudge"),
        ] {
            let path = format!("{}/../../events/{file}", env!("CARGO_MANIFEST_DIR"));
            let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            assert_eq!(v["source"], source, "{file}");
        }
    }
}

//! The webhook delivery Lambda: a thin composition root. Started by its schedule and by
//! the nudge the worker and the API send after queueing an event; drains the webhook
//! queue (sign, check the address, POST, record, retry later or dead-letter) until it is
//! empty or the invocation's time runs short. It never touches the lanes or the pacing.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use naiq_adapters::aws::AwsClients;
use naiq_adapters::compose::{Config, deliverer_ports};
use naiq_adapters::runtime::SystemClock;
use naiq_core::webhooks::Deliverer;
use serde_json::Value;

/// The function's `Timeout` in the template; also the drain's budget when an invocation
/// has no deadline (`cargo lambda watch`).
pub const TIMEOUT_SECONDS: i64 = 60;

// One thread: a Lambda process handles one event at a time, and a multi-thread runtime
// spends more CPU moving work between threads than it saves (bench/README.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    naiq_adapters::logging::init();
    naiq_adapters::metrics::init(false);
    let config = Config::from_env().map_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
        e
    })?;
    let clients = AwsClients::from_env().await;
    let ports = deliverer_ports(&clients, &config);
    let settings = config.settings.clone();
    run(service_fn(move |event: LambdaEvent<Value>| {
        let deliverer = Deliverer::new(
            ports.clone(),
            Arc::new(SystemClock),
            settings.webhooks.clone(),
            settings.image_url_ttl,
        );
        async move {
            let deadline = invocation_deadline(event.context.deadline);
            let source = event
                .payload
                .get("source")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string();
            let report = deliverer.drain(deadline).await;
            // Once per invocation, whatever the drain's outcome.
            naiq_adapters::metrics::flush();
            let report = report?;
            tracing::info!(source, report = ?report, "webhook delivery finished");
            Ok::<_, Error>(serde_json::to_value(report)?)
        }
    }))
    .await
}

/// The invocation's end: Lambda's deadline, else (a local emulator) the function's timeout.
fn invocation_deadline(deadline_ms: u64) -> DateTime<Utc> {
    let now = Utc::now();
    match DateTime::<Utc>::from_timestamp_millis(deadline_ms as i64) {
        Some(d) if d > now => d,
        _ => now + chrono::Duration::seconds(TIMEOUT_SECONDS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_deadline_gets_the_timeout() {
        let left = (invocation_deadline(0) - Utc::now()).num_seconds();
        assert!(
            (TIMEOUT_SECONDS - 1..=TIMEOUT_SECONDS).contains(&left),
            "{left}"
        );
    }
}

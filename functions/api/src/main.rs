//! The HTTP API Lambda: a thin composition root. `routes` holds the axum router, `handlers`
//! its handlers, `openapi` the OpenAPI document generated from them, `caller`
//! the API-key extractor, `error` the mapping of errors to HTTP; the use cases are in
//! `naiq-core`, the adapters in `naiq-adapters`.

use std::sync::Arc;

use lambda_http::{Error, run};
use naiq_adapters::aws::AwsClients;
use naiq_adapters::compose::{Config, api_ports};
use naiq_adapters::runtime::{SystemClock, os_seed};
use naiq_core::api::ApiService;
use tower::ServiceExt;

mod caller;
mod error;
mod handlers;
mod openapi;
mod routes;

#[cfg(test)]
mod tests;

// One thread: a Lambda process handles one event at a time, and a multi-thread runtime
// spends more CPU moving work between threads than it saves (bench/README.md).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    // JSON logs when AWS_LAMBDA_LOG_FORMAT=JSON (set by the template's LoggingConfig); the
    // runtime's raw events never, whatever AWS_LAMBDA_LOG_LEVEL or RUST_LOG ask.
    naiq_adapters::logging::init();
    naiq_adapters::metrics::init(false);
    let config = Config::from_env().map_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
        e
    })?;
    let clients = AwsClients::from_env().await;
    let service = Arc::new(ApiService::new(
        api_ports(&clients, &config),
        Arc::new(SystemClock),
        os_seed(),
        config.settings.clone(),
    ));
    // The metrics are written once per request, after its answer is made.
    run(routes::app(service).map_response(|response| {
        naiq_adapters::metrics::flush();
        response
    }))
    .await
}

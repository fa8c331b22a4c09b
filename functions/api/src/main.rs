//! The HTTP API Lambda: a thin composition root. Routing and the HTTP mapping live in
//! `http.rs`; everything else is in the shared crate.

use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use naiq::app::ApiService;
use naiq::app::compose::api_ports;
use naiq::domain::SystemClock;

mod http;

#[tokio::main]
async fn main() -> Result<(), Error> {
    // JSON logs when AWS_LAMBDA_LOG_FORMAT=JSON (set by the template's LoggingConfig).
    lambda_http::tracing::init_default_subscriber();
    let config = naiq::Config::from_env().map_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
        e
    })?;
    let clients = naiq::adapters::aws::AwsClients::from_env().await;
    let service = Arc::new(ApiService::new(
        api_ports(&clients, &config),
        Arc::new(SystemClock),
        naiq::app::os_seed(),
        config.settings.clone(),
    ));
    run(service_fn(move |req| {
        let service = Arc::clone(&service);
        async move { http::handle(&service, req).await }
    }))
    .await
}

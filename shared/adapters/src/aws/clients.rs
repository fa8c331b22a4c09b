//! Building AWS SDK clients from the environment. `AWS_ENDPOINT_URL` (and the per-service
//! variants) point every client at a local emulator; the same code runs on AWS unchanged.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};

/// How long one AWS request may take, and one call with the SDK's retries. The SDK waits
/// for an answer without end by default: an endpoint that accepts a request and never
/// answers would hold a worker (and its drain lease and its job) until the invocation's
/// own timeout. naiq's requests are small and short-polled (no long poll), so a few
/// seconds is ample; a call cut off is a backend error, handled like any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdkTimeouts {
    pub connect: Duration,
    pub attempt: Duration,
    pub operation: Duration,
}

impl Default for SdkTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(3),
            attempt: Duration::from_secs(10),
            operation: Duration::from_secs(25),
        }
    }
}

impl SdkTimeouts {
    fn config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// The SDK clients naiq uses, built once per process.
#[derive(Clone)]
pub struct AwsClients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub s3: aws_sdk_s3::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub lambda: aws_sdk_lambda::Client,
}

impl AwsClients {
    pub async fn from_env() -> Self {
        Self::load(
            aws_config::defaults(BehaviorVersion::latest()),
            SdkTimeouts::default(),
        )
        .await
    }

    /// The clients of `loader`'s configuration, every request bounded by `timeouts`.
    pub async fn load(loader: ConfigLoader, timeouts: SdkTimeouts) -> Self {
        Self::from_config(&loader.timeout_config(timeouts.config()).load().await)
    }

    pub fn from_config(config: &SdkConfig) -> Self {
        // S3 has no environment setting for path-style addressing; emulators need it
        // (`bucket.localhost` does not resolve).
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(
                config.endpoint_url().is_some()
                    || std::env::var_os("AWS_ENDPOINT_URL_S3").is_some(),
            )
            .build();
        Self {
            dynamodb: aws_sdk_dynamodb::Client::new(config),
            sqs: aws_sdk_sqs::Client::new(config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            secrets: aws_sdk_secretsmanager::Client::new(config),
            lambda: aws_sdk_lambda::Client::new(config),
        }
    }
}

/// The full text of an SDK error, including the service's message (the `Display` of
/// `SdkError` alone says only "service error").
pub fn describe<E: std::error::Error>(err: &E) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

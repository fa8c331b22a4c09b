//! Building AWS SDK clients from the environment. `AWS_ENDPOINT_URL` (and the per-service
//! variants) point every client at a local emulator; the same code runs on AWS unchanged.

use aws_config::{BehaviorVersion, SdkConfig};

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
        let config = aws_config::load_defaults(BehaviorVersion::latest()).await;
        Self::from_config(&config)
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

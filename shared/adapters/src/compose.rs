//! Composition: each function's ports, wired to the AWS adapters and the NovelAI client
//! from its configuration. The functions and the CLI share it.

use std::sync::Arc;
use std::time::Duration;

use naiq_core::api::ApiPorts;
use naiq_core::config::{ConfigError, Settings};
use naiq_core::ports::WorkerNudge;
use naiq_core::worker::WorkerPorts;

use crate::aws::AwsClients;
use crate::aws::dynamodb::{DynamoJobStore, DynamoKeyStore, DynamoStateStore};
use crate::aws::lambda::{LambdaNudge, NoNudge};
use crate::aws::s3::S3ImageStore;
use crate::aws::secrets::SecretsManagerStore;
use crate::aws::sqs::SqsQueue;
use crate::novelai::NovelAiClient;
use crate::resources::Resources;

/// A function's whole configuration: where its resources are, and how it behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub resources: Resources,
    pub settings: Settings,
}

impl Config {
    /// Both halves from the process environment; the error names the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            resources: Resources::from_lookup(lookup)?,
            settings: Settings::from_lookup(lookup)?,
        })
    }
}

/// The ports of the API function.
pub fn api_ports(clients: &AwsClients, config: &Config) -> ApiPorts {
    let r = &config.resources;
    let nudge: Arc<dyn WorkerNudge> = match &r.worker_function {
        Some(f) => Arc::new(LambdaNudge::new(clients.lambda.clone(), f)),
        None => Arc::new(NoNudge),
    };
    let state = Arc::new(DynamoStateStore::new(
        clients.dynamodb.clone(),
        &r.state_table,
    ));
    ApiPorts {
        jobs: Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), &r.jobs_table)),
        queue: Arc::new(SqsQueue::new(clients.sqs.clone(), r.queues.clone())),
        images: Arc::new(S3ImageStore::new(clients.s3.clone(), &r.images_bucket)),
        keys: Arc::new(DynamoKeyStore::new(clients.dynamodb.clone(), &r.keys_table)),
        pacing: state.clone(),
        call_stats: state.clone(),
        account: state.clone(),
        idempotency: state.clone(),
        ledger: state,
        nudge,
    }
}

/// The ports of the worker function.
pub fn worker_ports(clients: &AwsClients, config: &Config) -> WorkerPorts {
    let r = &config.resources;
    let s = &config.settings;
    let state = Arc::new(DynamoStateStore::new(
        clients.dynamodb.clone(),
        &r.state_table,
    ));
    WorkerPorts {
        jobs: Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), &r.jobs_table)),
        queue: Arc::new(SqsQueue::new(clients.sqs.clone(), r.queues.clone())),
        images: Arc::new(S3ImageStore::new(clients.s3.clone(), &r.images_bucket)),
        secrets: Arc::new(SecretsManagerStore::new(
            clients.secrets.clone(),
            &r.secret_id,
        )),
        lease: state.clone(),
        pacing: state.clone(),
        call_stats: state.clone(),
        account: state.clone(),
        ledger: state,
        keys: Arc::new(DynamoKeyStore::new(clients.dynamodb.clone(), &r.keys_table)),
        upstream: Arc::new(NovelAiClient::new(
            &s.novelai_image_url,
            Duration::from_secs(s.novelai_timeout_seconds),
        )),
    }
}

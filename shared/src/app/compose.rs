//! Composition from the environment: the AWS adapters the functions and the CLI share.

use std::sync::Arc;
use std::time::Duration;

use super::api::ApiPorts;
use super::worker::WorkerPorts;
use crate::adapters::aws::AwsClients;
use crate::adapters::dynamodb::{DynamoJobStore, DynamoKeyStore, DynamoStateStore};
use crate::adapters::lambda::{LambdaNudge, NoNudge};
use crate::adapters::s3::S3ImageStore;
use crate::adapters::secrets::SecretsManagerStore;
use crate::adapters::sqs::SqsQueue;
use crate::config::Config;
use crate::novelai::NovelAiClient;
use crate::ports::WorkerNudge;

pub fn api_ports(clients: &AwsClients, config: &Config) -> ApiPorts {
    let r = &config.resources;
    let nudge: Arc<dyn WorkerNudge> = match &r.worker_function {
        Some(f) => Arc::new(LambdaNudge::new(clients.lambda.clone(), f)),
        None => Arc::new(NoNudge),
    };
    ApiPorts {
        jobs: Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), &r.jobs_table)),
        queue: Arc::new(SqsQueue::new(clients.sqs.clone(), r.queues.clone())),
        images: Arc::new(S3ImageStore::new(clients.s3.clone(), &r.images_bucket)),
        keys: Arc::new(DynamoKeyStore::new(clients.dynamodb.clone(), &r.keys_table)),
        state: Arc::new(DynamoStateStore::new(
            clients.dynamodb.clone(),
            &r.state_table,
        )),
        nudge,
    }
}

pub fn worker_ports(clients: &AwsClients, config: &Config) -> WorkerPorts {
    let r = &config.resources;
    let s = &config.settings;
    WorkerPorts {
        jobs: Arc::new(DynamoJobStore::new(clients.dynamodb.clone(), &r.jobs_table)),
        queue: Arc::new(SqsQueue::new(clients.sqs.clone(), r.queues.clone())),
        images: Arc::new(S3ImageStore::new(clients.s3.clone(), &r.images_bucket)),
        secrets: Arc::new(SecretsManagerStore::new(
            clients.secrets.clone(),
            &r.secret_id,
        )),
        state: Arc::new(DynamoStateStore::new(
            clients.dynamodb.clone(),
            &r.state_table,
        )),
        upstream: Arc::new(NovelAiClient::new(
            &s.novelai_image_url,
            &s.novelai_api_url,
            Duration::from_secs(s.novelai_timeout_seconds),
        )),
    }
}

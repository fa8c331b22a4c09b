//! Composition: each function's ports, wired to the AWS adapters and the NovelAI client
//! from its configuration. The functions and the CLI share it.

use std::sync::Arc;
use std::time::Duration;

use naiq_core::api::ApiPorts;
use naiq_core::config::{ConfigError, Settings};
use naiq_core::ports::WorkerNudge;
use naiq_core::webhooks::{DelivererPorts, WebhookPorts};
use naiq_core::worker::WorkerPorts;

use crate::aws::AwsClients;
use crate::aws::dynamodb::{DynamoJobStore, DynamoKeyStore, DynamoStateStore};
use crate::aws::lambda::{LambdaNudge, NoNudge};
use crate::aws::s3::S3ImageStore;
use crate::aws::secrets::SecretsManagerStore;
use crate::aws::sqs::SqsQueue;
use crate::aws::webhook_queue::SqsWebhookQueue;
use crate::cached::{
    CALL_STATS_TTL, CachedAccount, CachedCallStats, CachedKeys, CachedSecrets, SECRETS_TTL,
};
use crate::faults::{FaultPlan, Faulty, Function, Injector, Service};
use crate::novelai::NovelAiClient;
use crate::resources::Resources;
use crate::webhook_transport::HttpWebhookTransport;

/// A function's whole configuration: where its resources are, and how it behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub resources: Resources,
    pub settings: Settings,
    /// The test-only fault layer (`NAIQ_FAULTS`, see [`crate::faults`]); `None` in
    /// production.
    pub faults: Option<FaultPlan>,
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
            faults: FaultPlan::from_lookup(lookup)?,
        })
    }

    /// The fault injector of `function`'s ports, when the fault layer is on for it.
    fn injector(&self, function: Function) -> Option<Arc<Injector>> {
        let plan = self.faults.as_ref()?;
        let injector = Arc::new(Injector::new(plan, function)?);
        tracing::warn!(plan = ?plan, "NAIQ_FAULTS is set: the AWS ports fail at random (test-only)");
        Some(injector)
    }
}

/// The ports of the API function.
pub fn api_ports(clients: &AwsClients, config: &Config) -> ApiPorts {
    let r = &config.resources;
    let faults = config.injector(Function::Api);
    let nudge: Arc<dyn WorkerNudge> = match &r.worker_function {
        Some(f) => Arc::new(LambdaNudge::new(clients.lambda.clone(), f)),
        None => Arc::new(NoNudge),
    };
    let state = Arc::new(Faulty::new(
        Arc::new(DynamoStateStore::new(
            clients.dynamodb.clone(),
            &r.state_table,
        )),
        Service::DynamoDb,
        faults.clone(),
    ));
    ApiPorts {
        // A status poll reads the job, its lane counters and the pacing state in one batch.
        jobs: Arc::new(Faulty::new(
            Arc::new(
                DynamoJobStore::new(clients.dynamodb.clone(), &r.jobs_table)
                    .with_pacing_from(&r.state_table),
            ),
            Service::DynamoDb,
            faults.clone(),
        )),
        queue: Arc::new(Faulty::new(
            Arc::new(SqsQueue::new(clients.sqs.clone(), r.queues.clone())),
            Service::Sqs,
            faults.clone(),
        )),
        images: Arc::new(Faulty::new(
            Arc::new(S3ImageStore::new(clients.s3.clone(), &r.images_bucket)),
            Service::S3,
            faults.clone(),
        )),
        keys: Arc::new(CachedKeys::new(
            Arc::new(Faulty::new(
                Arc::new(DynamoKeyStore::new(clients.dynamodb.clone(), &r.keys_table)),
                Service::DynamoDb,
                faults.clone(),
            )),
            Duration::from_secs(config.settings.key_cache_seconds),
        )),
        pacing: state.clone(),
        call_stats: Arc::new(CachedCallStats::new(state.clone(), CALL_STATS_TTL)),
        account: Arc::new(CachedAccount::new(
            state.clone(),
            Duration::from_secs(config.settings.account_cache_seconds),
        )),
        idempotency: state.clone(),
        ledger: state,
        nudge,
        webhooks: webhook_ports(clients, config),
    }
}

/// The ports of the worker function.
pub fn worker_ports(clients: &AwsClients, config: &Config) -> WorkerPorts {
    let r = &config.resources;
    let s = &config.settings;
    let faults = config.injector(Function::Worker);
    let state = Arc::new(Faulty::new(
        Arc::new(DynamoStateStore::new(
            clients.dynamodb.clone(),
            &r.state_table,
        )),
        Service::DynamoDb,
        faults.clone(),
    ));
    WorkerPorts {
        jobs: Arc::new(Faulty::new(
            Arc::new(
                DynamoJobStore::new(clients.dynamodb.clone(), &r.jobs_table)
                    .with_pacing_from(&r.state_table),
            ),
            Service::DynamoDb,
            faults.clone(),
        )),
        queue: Arc::new(Faulty::new(
            Arc::new(SqsQueue::new(clients.sqs.clone(), r.queues.clone())),
            Service::Sqs,
            faults.clone(),
        )),
        images: Arc::new(Faulty::new(
            Arc::new(S3ImageStore::new(clients.s3.clone(), &r.images_bucket)),
            Service::S3,
            faults.clone(),
        )),
        secrets: Arc::new(CachedSecrets::new(
            Arc::new(Faulty::new(
                Arc::new(SecretsManagerStore::new(
                    clients.secrets.clone(),
                    &r.secret_id,
                )),
                Service::Secrets,
                faults,
            )),
            SECRETS_TTL,
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
        webhooks: webhook_ports(clients, config),
    }
}

/// What the API and the worker need to queue webhook events (and show their state).
pub fn webhook_ports(clients: &AwsClients, config: &Config) -> WebhookPorts {
    let r = &config.resources;
    let nudge: Arc<dyn WorkerNudge> = match &r.webhooks_function {
        Some(f) => Arc::new(LambdaNudge::new(clients.lambda.clone(), f)),
        None => Arc::new(NoNudge),
    };
    WebhookPorts {
        queue: Arc::new(SqsWebhookQueue::new(
            clients.sqs.clone(),
            r.webhook_queues.clone(),
        )),
        states: Arc::new(DynamoStateStore::new(
            clients.dynamodb.clone(),
            &r.state_table,
        )),
        nudge,
    }
}

/// The ports of the webhook delivery function.
pub fn deliverer_ports(clients: &AwsClients, config: &Config) -> DelivererPorts {
    let r = &config.resources;
    let state = Arc::new(DynamoStateStore::new(
        clients.dynamodb.clone(),
        &r.state_table,
    ));
    DelivererPorts {
        queue: Arc::new(SqsWebhookQueue::new(
            clients.sqs.clone(),
            r.webhook_queues.clone(),
        )),
        states: state.clone(),
        secrets: state,
        transport: Arc::new(HttpWebhookTransport),
        images: Arc::new(S3ImageStore::new(clients.s3.clone(), &r.images_bucket)),
    }
}

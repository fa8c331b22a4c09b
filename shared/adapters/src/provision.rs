//! Creates naiq's AWS resources on a local emulator: the same tables, indexes, queues,
//! bucket and secret as `template.yaml` (a test checks the template against
//! [`crate::aws::dynamodb::schema`] and these definitions). Used by
//! `localstack/up.sh` (through `naiq local provision`) and by the emulator tests, which give
//! each test its own prefix.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use aws_sdk_sqs::types::QueueAttributeName;

use naiq_core::domain::Lane;
pub use naiq_core::ports::MAX_RECEIVE_COUNT;

use crate::aws::dynamodb::schema;
use crate::aws::sqs::LaneQueues;
use crate::aws::webhook_queue::WebhookQueues;
use crate::aws::{AwsClients, describe};
use crate::resources::Resources;

/// SQS visibility timeout of the lane queues: short, since the worker's heartbeat keeps a
/// running job's message hidden (`naiq_core::worker::heartbeat`).
pub const VISIBILITY_TIMEOUT: u32 = naiq_core::worker::heartbeat::VISIBILITY_TIMEOUT_SECONDS;

/// How long every queue keeps a message; the reaper fails jobs that waited longer.
pub use naiq_core::ports::MESSAGE_RETENTION_SECONDS;

/// SQS visibility timeout of the webhook queue: longer than the delivery function's
/// time limit, so a message in hand is not handed out twice.
pub const WEBHOOK_VISIBILITY_TIMEOUT: u32 = 90;
/// How long the webhook queues keep a message: 14 days, more than the longest retry
/// schedule allowed (`naiq_core::config::webhooks::MAX_RETRIES` waits of 12 hours).
pub const WEBHOOK_RETENTION_SECONDS: u32 = 1_209_600;
/// The webhook queue's redrive backstop: above the most attempts a schedule gives
/// (the delivery function dead-letters the message itself after its last attempt).
pub const WEBHOOK_MAX_RECEIVE_COUNT: u32 = 30;

#[derive(Debug, thiserror::Error)]
#[error("provisioning {resource} failed: {message}")]
pub struct ProvisionError {
    pub resource: String,
    pub message: String,
}

fn fail<E: std::error::Error>(resource: &str) -> impl FnOnce(E) -> ProvisionError + '_ {
    move |e| ProvisionError {
        resource: resource.to_string(),
        message: describe(&e),
    }
}

/// Resource names for a prefix (`naiq-local` for the local stack).
pub struct Names {
    pub prefix: String,
}

impl Names {
    pub fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_ascii_lowercase(),
        }
    }
    pub fn jobs_table(&self) -> String {
        format!("{}-jobs", self.prefix)
    }
    pub fn keys_table(&self) -> String {
        format!("{}-api-keys", self.prefix)
    }
    pub fn state_table(&self) -> String {
        format!("{}-state", self.prefix)
    }
    pub fn queue(&self, lane: Lane) -> String {
        format!("{}-{}.fifo", self.prefix, lane.as_str())
    }
    pub fn dead_letter_queue(&self) -> String {
        format!("{}-dead-letter.fifo", self.prefix)
    }
    pub fn webhook_queue(&self) -> String {
        format!("{}-webhooks", self.prefix)
    }
    pub fn webhook_dead_letter_queue(&self) -> String {
        format!("{}-webhooks-dlq", self.prefix)
    }
    pub fn bucket(&self) -> String {
        format!("{}-images", self.prefix)
    }
    pub fn secret(&self) -> String {
        format!("{}/novelai", self.prefix)
    }
}

fn key(name: &str, kind: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .expect("key schema")
}

fn string_attr(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute definition")
}

fn index(name: &str, hash: &str, range: &str, projection: ProjectionType) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash))
        .key_schema(key(range, KeyType::Range))
        .projection(Projection::builder().projection_type(projection).build())
        .build()
        .expect("index")
}

/// An index with a hash key only.
fn hash_index(name: &str, hash: &str, projection: ProjectionType) -> GlobalSecondaryIndex {
    GlobalSecondaryIndex::builder()
        .index_name(name)
        .key_schema(key(hash, KeyType::Hash))
        .projection(Projection::builder().projection_type(projection).build())
        .build()
        .expect("index")
}

async fn create_table(
    clients: &AwsClients,
    name: &str,
    hash: &str,
    extra_attrs: &[&str],
    indexes: Vec<GlobalSecondaryIndex>,
) -> Result<(), ProvisionError> {
    let mut req = clients
        .dynamodb
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(hash, KeyType::Hash))
        .attribute_definitions(string_attr(hash));
    for a in extra_attrs {
        req = req.attribute_definitions(string_attr(a));
    }
    for i in indexes {
        req = req.global_secondary_indexes(i);
    }
    match req.send().await {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(fail(name)(e)),
    }
}

/// Creates every resource (idempotent) and returns their names as configuration.
pub async fn provision(clients: &AwsClients, names: &Names) -> Result<Resources, ProvisionError> {
    create_table(
        clients,
        &names.jobs_table(),
        schema::JOBS_KEY,
        &[
            schema::QUEUE_INDEX_HASH,
            schema::QUEUE_INDEX_RANGE,
            schema::ACTIVE_INDEX_HASH,
            schema::ACTIVE_INDEX_RANGE,
            schema::OWNER_INDEX_HASH,
        ],
        vec![
            index(
                schema::QUEUE_INDEX,
                schema::QUEUE_INDEX_HASH,
                schema::QUEUE_INDEX_RANGE,
                ProjectionType::KeysOnly,
            ),
            index(
                schema::ACTIVE_INDEX,
                schema::ACTIVE_INDEX_HASH,
                schema::ACTIVE_INDEX_RANGE,
                ProjectionType::All,
            ),
            index(
                schema::OWNER_INDEX,
                schema::OWNER_INDEX_HASH,
                schema::OWNER_INDEX_RANGE,
                ProjectionType::All,
            ),
        ],
    )
    .await?;
    create_table(
        clients,
        &names.keys_table(),
        schema::KEYS_KEY,
        &[schema::KEY_ID_INDEX_HASH],
        vec![hash_index(
            schema::KEY_ID_INDEX,
            schema::KEY_ID_INDEX_HASH,
            ProjectionType::All,
        )],
    )
    .await?;
    create_table(
        clients,
        &names.state_table(),
        schema::STATE_KEY,
        &[],
        vec![],
    )
    .await?;

    let dlq_name = names.dead_letter_queue();
    let dlq = clients
        .sqs
        .create_queue()
        .queue_name(&dlq_name)
        .attributes(QueueAttributeName::FifoQueue, "true")
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            MESSAGE_RETENTION_SECONDS.to_string(),
        )
        .send()
        .await
        .map_err(fail(&dlq_name))?;
    let dlq_url = dlq.queue_url.unwrap_or_default();
    let dlq_url_ref = &dlq_url;
    let dlq_arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(dlq_url_ref)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(fail(&dlq_name))?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    let redrive =
        serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT})
            .to_string();
    let mut urls = Vec::new();
    for lane in Lane::ALL {
        let name = names.queue(lane);
        let out = clients
            .sqs
            .create_queue()
            .queue_name(&name)
            .attributes(QueueAttributeName::FifoQueue, "true")
            .attributes(
                QueueAttributeName::VisibilityTimeout,
                VISIBILITY_TIMEOUT.to_string(),
            )
            .attributes(
                QueueAttributeName::MessageRetentionPeriod,
                MESSAGE_RETENTION_SECONDS.to_string(),
            )
            .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
            .attributes(QueueAttributeName::RedrivePolicy, &redrive)
            .send()
            .await
            .map_err(fail(&name))?;
        urls.push(out.queue_url.unwrap_or_default());
    }

    let webhook_queues = provision_webhook_queues(clients, names).await?;

    let bucket = names.bucket();
    match clients.s3.create_bucket().bucket(&bucket).send().await {
        Ok(_) => {}
        Err(e)
            if e.as_service_error().is_some_and(|e| {
                e.is_bucket_already_owned_by_you() || e.is_bucket_already_exists()
            }) => {}
        Err(e) => return Err(fail(&bucket)(e)),
    }

    let secret = names.secret();
    match clients
        .secrets
        .create_secret()
        .name(&secret)
        .secret_string("{}")
        .send()
        .await
    {
        Ok(_) => {}
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_resource_exists_exception()) => {}
        Err(e) => return Err(fail(&secret)(e)),
    }

    Ok(Resources {
        jobs_table: names.jobs_table(),
        keys_table: names.keys_table(),
        state_table: names.state_table(),
        queues: LaneQueues {
            test: urls[0].clone(),
            high: urls[1].clone(),
            normal: urls[2].clone(),
            low: urls[3].clone(),
            dead_letter: dlq_url,
        },
        images_bucket: bucket,
        secret_id: secret,
        worker_function: None,
        webhook_queues,
        webhooks_function: None,
    })
}

/// The webhook queue (standard) and its dead-letter queue, as in the template.
async fn provision_webhook_queues(
    clients: &AwsClients,
    names: &Names,
) -> Result<WebhookQueues, ProvisionError> {
    let dlq_name = names.webhook_dead_letter_queue();
    let dlq_url = clients
        .sqs
        .create_queue()
        .queue_name(&dlq_name)
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            WEBHOOK_RETENTION_SECONDS.to_string(),
        )
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .send()
        .await
        .map_err(fail(&dlq_name))?
        .queue_url
        .unwrap_or_default();
    let dlq_arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&dlq_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(fail(&dlq_name))?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default();
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": WEBHOOK_MAX_RECEIVE_COUNT,
    })
    .to_string();
    let name = names.webhook_queue();
    let url = clients
        .sqs
        .create_queue()
        .queue_name(&name)
        .attributes(
            QueueAttributeName::VisibilityTimeout,
            WEBHOOK_VISIBILITY_TIMEOUT.to_string(),
        )
        .attributes(
            QueueAttributeName::MessageRetentionPeriod,
            WEBHOOK_RETENTION_SECONDS.to_string(),
        )
        .attributes(QueueAttributeName::SqsManagedSseEnabled, "true")
        .attributes(QueueAttributeName::RedrivePolicy, &redrive)
        .send()
        .await
        .map_err(fail(&name))?
        .queue_url
        .unwrap_or_default();
    Ok(WebhookQueues {
        queue: url,
        dead_letter: dlq_url,
    })
}

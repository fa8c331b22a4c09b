//! The port contracts against the AWS adapters, on the local emulator. Each test provisions
//! its own resources under a fresh prefix. Run by `localstack/test.sh` (these are ignored
//! by a bare `cargo test`, which has no emulator).

use naiq_adapters::aws::AwsClients;
use naiq_adapters::aws::dynamodb::{DynamoJobStore, DynamoKeyStore, DynamoStateStore};
use naiq_adapters::aws::s3::S3ImageStore;
use naiq_adapters::aws::secrets::SecretsManagerStore;
use naiq_adapters::aws::sqs::SqsQueue;
use naiq_adapters::provision::{Names, provision};
use naiq_adapters::resources::Resources;
use naiq_testkit::contract;

/// Clients for the emulator; refuses anything but a loopback endpoint, so a test can never
/// touch a real AWS account.
async fn emulator() -> (AwsClients, Resources) {
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL must point at the emulator");
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "tests only run against a loopback emulator, not {endpoint}"
    );
    let clients = AwsClients::from_env().await;
    let prefix = format!(
        "t{}",
        uuid::Uuid::new_v4().simple().to_string().get(..12).unwrap()
    );
    let resources = provision(&clients, &Names::new(&prefix))
        .await
        .expect("provision");
    (clients, resources)
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_job_store() {
    let (c, r) = emulator().await;
    contract::job_store(&DynamoJobStore::new(c.dynamodb, r.jobs_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn sqs_job_queue() {
    let (c, r) = emulator().await;
    contract::job_queue(&SqsQueue::new(c.sqs, r.queues)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_queue_counters() {
    let (c, r) = emulator().await;
    contract::queue_counters(&DynamoJobStore::new(c.dynamodb, r.jobs_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_entry_marks() {
    let (c, r) = emulator().await;
    contract::entry_marks(&DynamoJobStore::new(c.dynamodb, r.jobs_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn sqs_job_queue_groups() {
    let (c, r) = emulator().await;
    contract::job_queue_groups(&SqsQueue::new(c.sqs, r.queues)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn s3_image_store() {
    let (c, r) = emulator().await;
    contract::image_store(&S3ImageStore::new(c.s3, r.images_bucket)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn secrets_manager_secret_store() {
    let (c, r) = emulator().await;
    contract::secret_store(&SecretsManagerStore::new(c.secrets, r.secret_id)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_key_store() {
    let (c, r) = emulator().await;
    contract::key_store(&DynamoKeyStore::new(c.dynamodb, r.keys_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_job_listing() {
    let (c, r) = emulator().await;
    contract::job_listing(&DynamoJobStore::new(c.dynamodb, r.jobs_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_idempotency_store() {
    let (c, r) = emulator().await;
    contract::idempotency_store(&DynamoStateStore::new(c.dynamodb, r.state_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_lease_store() {
    let (c, r) = emulator().await;
    contract::lease_store(&DynamoStateStore::new(c.dynamodb, r.state_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_pacing_store() {
    let (c, r) = emulator().await;
    contract::pacing_store(&DynamoStateStore::new(c.dynamodb, r.state_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_call_stats() {
    let (c, r) = emulator().await;
    contract::call_stats(&DynamoStateStore::new(c.dynamodb, r.state_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_account_cache() {
    let (c, r) = emulator().await;
    contract::account_cache(&DynamoStateStore::new(c.dynamodb, r.state_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn sqs_dead_letters() {
    let (c, r) = emulator().await;
    contract::dead_letters(&SqsQueue::new(c.sqs, r.queues)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_job_waiting_before() {
    let (c, r) = emulator().await;
    contract::job_waiting_before(&DynamoJobStore::new(c.dynamodb, r.jobs_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn sqs_webhook_queue() {
    let (c, r) = emulator().await;
    contract::webhook_queue(&naiq_adapters::aws::webhook_queue::SqsWebhookQueue::new(
        c.sqs,
        r.webhook_queues,
    ))
    .await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn sqs_heartbeat_and_backlog() {
    let (c, r) = emulator().await;
    contract::heartbeat_and_backlog(&SqsQueue::new(c.sqs, r.queues)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_webhook_states() {
    let (c, r) = emulator().await;
    contract::webhook_states(&DynamoStateStore::new(c.dynamodb, r.state_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_webhook_secrets() {
    let (c, r) = emulator().await;
    contract::webhook_secrets(&DynamoStateStore::new(c.dynamodb, r.state_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_ledger() {
    let (c, r) = emulator().await;
    contract::ledger(&DynamoStateStore::new(c.dynamodb, r.state_table)).await;
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn dynamodb_status_read() {
    let (c, r) = emulator().await;
    let pacing = DynamoStateStore::new(c.dynamodb.clone(), &r.state_table);
    // As the API builds it: the pacing state comes in the job's batch.
    let batched =
        DynamoJobStore::new(c.dynamodb.clone(), &r.jobs_table).with_pacing_from(&r.state_table);
    contract::status_read(&batched, &pacing, true).await;
    // Without the state table, the store leaves the pacing state to the pacing store.
    let (c, r) = emulator().await;
    let pacing = DynamoStateStore::new(c.dynamodb.clone(), &r.state_table);
    contract::status_read(
        &DynamoJobStore::new(c.dynamodb, r.jobs_table),
        &pacing,
        false,
    )
    .await;
}

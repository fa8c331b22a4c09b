//! The port contracts against the in-memory adapters.

use naiq_testkit::contract;
use naiq_testkit::memory::*;

#[tokio::test]
async fn memory_job_store() {
    contract::job_store(&MemoryJobStore::default()).await;
}

#[tokio::test]
async fn memory_job_queue() {
    contract::job_queue(&MemoryQueue::default()).await;
}

#[tokio::test]
async fn memory_queue_counters() {
    contract::queue_counters(&MemoryJobStore::default()).await;
}

#[tokio::test]
async fn memory_entry_marks() {
    contract::entry_marks(&MemoryJobStore::default()).await;
}

#[tokio::test]
async fn memory_job_queue_groups() {
    contract::job_queue_groups(&MemoryQueue::default()).await;
}

#[tokio::test]
async fn memory_image_store() {
    contract::image_store(&MemoryImageStore::default()).await;
}

#[tokio::test]
async fn memory_secret_store() {
    contract::secret_store(&MemorySecretStore::default()).await;
}

#[tokio::test]
async fn memory_key_store() {
    contract::key_store(&MemoryKeyStore::default()).await;
}

#[tokio::test]
async fn memory_job_listing() {
    contract::job_listing(&MemoryJobStore::default()).await;
}

#[tokio::test]
async fn memory_idempotency_store() {
    contract::idempotency_store(&MemoryIdempotencyStore::default()).await;
}

#[tokio::test]
async fn memory_lease_store() {
    contract::lease_store(&MemoryStateStore::default()).await;
}

#[tokio::test]
async fn memory_pacing_store() {
    contract::pacing_store(&MemoryStateStore::default()).await;
}

#[tokio::test]
async fn memory_call_stats() {
    contract::call_stats(&MemoryStateStore::default()).await;
}

#[tokio::test]
async fn memory_account_cache() {
    contract::account_cache(&MemoryStateStore::default()).await;
}

#[tokio::test]
async fn memory_dead_letters() {
    contract::dead_letters(&MemoryQueue::default()).await;
}

#[tokio::test]
async fn memory_job_waiting_before() {
    contract::job_waiting_before(&MemoryJobStore::default()).await;
}

#[tokio::test]
async fn memory_heartbeat_and_backlog() {
    contract::heartbeat_and_backlog(&MemoryQueue::default()).await;
}

#[tokio::test]
async fn memory_webhook_queue() {
    let clock = std::sync::Arc::new(naiq_testkit::ManualClock::new(
        "2026-01-02T03:04:05Z".parse().unwrap(),
    ));
    contract::webhook_queue(&MemoryWebhookQueue::new(clock)).await;
}

#[tokio::test]
async fn memory_webhook_states() {
    contract::webhook_states(&MemoryWebhookStates::default()).await;
}

#[tokio::test]
async fn memory_webhook_secrets() {
    contract::webhook_secrets(&MemoryWebhookSecrets::default()).await;
}

#[tokio::test]
async fn memory_ledger() {
    contract::ledger(&MemoryLedger::default()).await;
}

#[tokio::test]
async fn memory_status_read() {
    contract::status_read(
        &MemoryJobStore::default(),
        &MemoryStateStore::default(),
        false,
    )
    .await;
}

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
async fn memory_ledger() {
    contract::ledger(&MemoryLedger::default()).await;
}

//! [`Faulty`]: a port adapter wrapped so that its calls fail as the [`Injector`] draws.
//! Without an injector every call goes straight through.

use std::future::Future;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use naiq_core::domain::account::AccountInfo;
use naiq_core::domain::pacing::PacingState;
use naiq_core::domain::turns::QueueSnapshot;
use naiq_core::domain::{ApiKeyRecord, Credentials, Job, Lane, Status, TaskId};
use naiq_core::ports::{
    AccountCache, CallStats, Claim, Delivery, IdempotencyStore, ImageStore, JobPage, JobQueue,
    JobStore, KeyStore, LeaseStore, PacingStore, PortResult, QueueMessage, SecretStore, StatusRead,
};

use super::{Injected, Injector, Service};

/// `inner`, failing at random on `service`'s behalf.
pub struct Faulty<S: ?Sized> {
    inner: Arc<S>,
    service: Service,
    faults: Option<Arc<Injector>>,
}

impl<S: ?Sized> Faulty<S> {
    pub fn new(inner: Arc<S>, service: Service, faults: Option<Arc<Injector>>) -> Self {
        Self {
            inner,
            service,
            faults,
        }
    }

    /// Runs `call` unless a fault is drawn for it; a timeout made after the call drops
    /// its answer.
    async fn call<T>(
        &self,
        operation: &'static str,
        call: impl Future<Output = PortResult<T>>,
    ) -> PortResult<T> {
        let Some(faults) = &self.faults else {
            return call.await;
        };
        let Some(kind) = faults.draw(self.service, Utc::now().timestamp()) else {
            return call.await;
        };
        let service = self.service.name();
        match kind {
            Injected::Throttle => {}
            Injected::TimeoutBefore => tokio::time::sleep(faults.timeout()).await,
            Injected::TimeoutAfter => {
                let made = call.await.is_ok();
                tracing::warn!(
                    injected_fault = kind.name(),
                    service,
                    operation,
                    call_succeeded = made,
                    "NAIQ_FAULTS: the call was made; its answer is lost"
                );
                tokio::time::sleep(faults.timeout()).await;
                return Err(kind.error(self.service, faults.timeout_ms()));
            }
        }
        tracing::warn!(
            injected_fault = kind.name(),
            service,
            operation,
            "NAIQ_FAULTS: call failed by injection"
        );
        Err(kind.error(self.service, faults.timeout_ms()))
    }
}

#[async_trait]
impl<S: JobStore + ?Sized> JobStore for Faulty<S> {
    async fn insert(&self, job: &Job) -> PortResult<()> {
        self.call("jobs.insert", self.inner.insert(job)).await
    }
    async fn get(&self, task_id: &TaskId) -> PortResult<Option<Job>> {
        self.call("jobs.get", self.inner.get(task_id)).await
    }
    async fn replace(&self, job: &Job, expected: Status) -> PortResult<()> {
        self.call("jobs.replace", self.inner.replace(job, expected))
            .await
    }
    async fn get_with_counters(
        &self,
        task_id: &TaskId,
    ) -> PortResult<(Option<Job>, naiq_core::domain::turns::QueueSnapshot)> {
        self.call(
            "jobs.get_with_counters",
            self.inner.get_with_counters(task_id),
        )
        .await
    }
    async fn get_for_status(&self, task_id: &TaskId) -> PortResult<StatusRead> {
        self.call("jobs.get_for_status", self.inner.get_for_status(task_id))
            .await
    }
    async fn snapshot_with_pacing(
        &self,
    ) -> PortResult<(QueueSnapshot, Option<(PacingState, u64)>)> {
        self.call(
            "jobs.snapshot_with_pacing",
            self.inner.snapshot_with_pacing(),
        )
        .await
    }
    async fn own_ahead(&self, job: &Job) -> PortResult<u64> {
        self.call("jobs.own_ahead", self.inner.own_ahead(job)).await
    }
    async fn total_pending(&self) -> PortResult<u64> {
        self.call("jobs.total_pending", self.inner.total_pending())
            .await
    }
    async fn waiting_before(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> PortResult<Vec<Job>> {
        self.call(
            "jobs.waiting_before",
            self.inner.waiting_before(before, limit),
        )
        .await
    }
    async fn queue_snapshot(&self) -> PortResult<QueueSnapshot> {
        self.call("jobs.queue_snapshot", self.inner.queue_snapshot())
            .await
    }
    async fn active_for_owner(&self, owner: &str) -> PortResult<Vec<Job>> {
        self.call("jobs.active_for_owner", self.inner.active_for_owner(owner))
            .await
    }
    async fn list_for_owner(
        &self,
        owner: &str,
        status: Option<Status>,
        limit: usize,
        cursor: Option<&str>,
    ) -> PortResult<JobPage> {
        self.call(
            "jobs.list_for_owner",
            self.inner.list_for_owner(owner, status, limit, cursor),
        )
        .await
    }
}

#[async_trait]
impl<S: JobQueue + ?Sized> JobQueue for Faulty<S> {
    async fn send(&self, lane: Lane, message: &QueueMessage) -> PortResult<()> {
        self.call("queue.send", self.inner.send(lane, message))
            .await
    }
    async fn receive(&self, lanes: &[Lane]) -> PortResult<Option<Delivery>> {
        self.call("queue.receive", self.inner.receive(lanes)).await
    }
    async fn receive_dead_letter(&self) -> PortResult<Option<Delivery>> {
        self.call(
            "queue.receive_dead_letter",
            self.inner.receive_dead_letter(),
        )
        .await
    }
    async fn ack(&self, delivery: &Delivery) -> PortResult<()> {
        self.call("queue.ack", self.inner.ack(delivery)).await
    }
    async fn release(&self, delivery: &Delivery) -> PortResult<()> {
        self.call("queue.release", self.inner.release(delivery))
            .await
    }
    async fn keep_hidden(&self, delivery: &Delivery, seconds: u32) -> PortResult<()> {
        self.call(
            "queue.keep_hidden",
            self.inner.keep_hidden(delivery, seconds),
        )
        .await
    }
    async fn backlog(&self) -> PortResult<u64> {
        self.call("queue.backlog", self.inner.backlog()).await
    }
}

#[async_trait]
impl<S: ImageStore + ?Sized> ImageStore for Faulty<S> {
    async fn put(&self, key: &str, bytes: bytes::Bytes, content_type: &str) -> PortResult<()> {
        self.call("images.put", self.inner.put(key, bytes, content_type))
            .await
    }
    async fn put_parts(
        &self,
        key: &str,
        parts: Vec<bytes::Bytes>,
        content_type: &str,
    ) -> PortResult<()> {
        self.call("images.put", self.inner.put_parts(key, parts, content_type))
            .await
    }
    async fn get(&self, key: &str) -> PortResult<Option<bytes::Bytes>> {
        self.call("images.get", self.inner.get(key)).await
    }
    async fn exists(&self, key: &str) -> PortResult<bool> {
        self.call("images.exists", self.inner.exists(key)).await
    }
    async fn url(&self, key: &str, ttl_seconds: u64) -> PortResult<String> {
        self.call("images.url", self.inner.url(key, ttl_seconds))
            .await
    }
}

#[async_trait]
impl<S: SecretStore + ?Sized> SecretStore for Faulty<S> {
    async fn get(&self) -> PortResult<Option<Credentials>> {
        self.call("secrets.get", self.inner.get()).await
    }
    async fn put(&self, credentials: &Credentials) -> PortResult<()> {
        self.call("secrets.put", self.inner.put(credentials)).await
    }
}

#[async_trait]
impl<S: KeyStore + ?Sized> KeyStore for Faulty<S> {
    async fn insert(&self, record: &ApiKeyRecord) -> PortResult<()> {
        self.call("keys.insert", self.inner.insert(record)).await
    }
    async fn find(&self, key_hash: &str) -> PortResult<Option<ApiKeyRecord>> {
        self.call("keys.find", self.inner.find(key_hash)).await
    }
    async fn find_by_id(&self, key_id: &str) -> PortResult<Option<ApiKeyRecord>> {
        self.call("keys.find_by_id", self.inner.find_by_id(key_id))
            .await
    }
    async fn list(&self) -> PortResult<Vec<ApiKeyRecord>> {
        self.call("keys.list", self.inner.list()).await
    }
    async fn update(&self, record: &ApiKeyRecord) -> PortResult<()> {
        self.call("keys.update", self.inner.update(record)).await
    }
    async fn rotate(&self, old_hash: &str, new: &ApiKeyRecord) -> PortResult<()> {
        self.call("keys.rotate", self.inner.rotate(old_hash, new))
            .await
    }
}

#[async_trait]
impl<S: naiq_core::ports::Ledger + ?Sized> naiq_core::ports::Ledger for Faulty<S> {
    async fn hold(
        &self,
        key_id: &str,
        day: chrono::NaiveDate,
        amount: u64,
        limits: naiq_core::ports::HoldLimits,
    ) -> PortResult<Result<naiq_core::ports::LedgerDay, naiq_core::ports::HoldRefused>> {
        self.call("ledger.hold", self.inner.hold(key_id, day, amount, limits))
            .await
    }
    async fn settle(
        &self,
        key_id: &str,
        day: chrono::NaiveDate,
        held: u64,
        actual: u64,
    ) -> PortResult<()> {
        self.call(
            "ledger.settle",
            self.inner.settle(key_id, day, held, actual),
        )
        .await
    }
    async fn day(
        &self,
        key_id: &str,
        day: chrono::NaiveDate,
    ) -> PortResult<naiq_core::ports::LedgerDay> {
        self.call("ledger.day", self.inner.day(key_id, day)).await
    }
}

#[async_trait]
impl<S: PacingStore + ?Sized> PacingStore for Faulty<S> {
    async fn load_pacing(&self) -> PortResult<(PacingState, u64)> {
        self.call("pacing.load", self.inner.load_pacing()).await
    }
    async fn save_pacing(&self, state: &PacingState, expected: u64) -> PortResult<()> {
        self.call("pacing.save", self.inner.save_pacing(state, expected))
            .await
    }
}

#[async_trait]
impl<S: LeaseStore + ?Sized> LeaseStore for Faulty<S> {
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> PortResult<bool> {
        self.call(
            "lease.acquire",
            self.inner.acquire_lease(name, holder, now, until),
        )
        .await
    }
    async fn release_lease(&self, name: &str, holder: &str) -> PortResult<()> {
        self.call("lease.release", self.inner.release_lease(name, holder))
            .await
    }
}

#[async_trait]
impl<S: CallStats + ?Sized> CallStats for Faulty<S> {
    async fn record_call_duration(&self, millis: u64) -> PortResult<()> {
        self.call("call_stats.record", self.inner.record_call_duration(millis))
            .await
    }
    async fn mean_call_seconds(&self) -> PortResult<Option<f64>> {
        self.call("call_stats.mean", self.inner.mean_call_seconds())
            .await
    }
}

#[async_trait]
impl<S: AccountCache + ?Sized> AccountCache for Faulty<S> {
    async fn save_account(&self, account: &AccountInfo) -> PortResult<()> {
        self.call("account.save", self.inner.save_account(account))
            .await
    }
    async fn load_account(&self) -> PortResult<Option<AccountInfo>> {
        self.call("account.load", self.inner.load_account()).await
    }
}

#[async_trait]
impl<S: IdempotencyStore + ?Sized> IdempotencyStore for Faulty<S> {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_after: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> PortResult<Claim> {
        self.call(
            "idempotency.claim",
            self.inner
                .claim(key, fingerprint, now, stale_after, expires),
        )
        .await
    }
    async fn complete(&self, key: &str, response: &str) -> PortResult<()> {
        self.call("idempotency.complete", self.inner.complete(key, response))
            .await
    }
    async fn release(&self, key: &str) -> PortResult<()> {
        self.call("idempotency.release", self.inner.release(key))
            .await
    }
}

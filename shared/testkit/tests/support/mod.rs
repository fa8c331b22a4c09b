//! A worker and an API over the in-memory adapters, with the image store, the jobs table
//! and the upstream given by the test (so a test can wrap them to inject faults).

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use chrono::{Duration, TimeZone, Utc};
use naiq_core::api::{ApiPorts, ApiService, SubmitResponse, Submitted};
use naiq_core::config::Settings;
use naiq_core::domain::{ApiKey, ApiKeyRecord, Credentials, Lane, TaskId};
use naiq_core::ports::{
    Clock, Delivery, ImageStore, JobQueue, JobStore, KeyStore, PortResult, QueueMessage, Sleeper,
    Upstream,
};
use naiq_core::worker::{DrainReport, Worker, WorkerPorts};
use naiq_testkit::ManualClock;
use naiq_testkit::memory::*;

pub struct Stack {
    pub api: ApiService,
    pub worker: Worker,
    pub ports: WorkerPorts,
    pub settings: Settings,
    pub clock: Arc<ManualClock>,
    pub queue: Arc<MemoryQueue>,
    pub state: Arc<MemoryStateStore>,
    pub alice: ApiKeyRecord,
}

/// The ports a test may replace; the rest are fresh memory adapters.
pub struct Given {
    pub images: Arc<dyn ImageStore>,
    pub jobs: Arc<dyn JobStore>,
    pub upstream: Arc<dyn Upstream>,
    pub settings: Settings,
}

impl Given {
    /// Every port a fresh memory adapter, NovelAI answered by `upstream`.
    pub fn memory(upstream: Arc<MemoryUpstream>, settings: Settings) -> Self {
        Self {
            images: Arc::new(MemoryImageStore::default()),
            jobs: Arc::new(MemoryJobStore::default()),
            upstream,
            settings,
        }
    }
}

pub fn clock() -> Arc<ManualClock> {
    // 12:30 in Singapore: inside the default windows.
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 26, 4, 30, 0).unwrap(),
    ))
}

pub async fn stack(clock: Arc<ManualClock>, given: Given) -> Stack {
    let queue = Arc::new(MemoryQueue::default());
    let keys = Arc::new(MemoryKeyStore::default());
    let ledger = Arc::new(MemoryLedger::default());
    let state = Arc::new(MemoryStateStore::default());
    let alice = ApiKeyRecord::new(&ApiKey::from_random_bytes([1; 32]), "alice", clock.now());
    keys.insert(&alice).await.unwrap();
    let api = ApiService::new(
        ApiPorts {
            jobs: given.jobs.clone(),
            queue: queue.clone(),
            images: given.images.clone(),
            keys: keys.clone(),
            pacing: state.clone(),
            call_stats: state.clone(),
            account: state.clone(),
            idempotency: Arc::new(MemoryIdempotencyStore::default()),
            nudge: Arc::new(MemoryNudge::default()),
            webhooks: naiq_testkit::memory::unused_webhook_ports(),
            ledger: ledger.clone(),
        },
        clock.clone(),
        7,
        given.settings.clone(),
    );
    let ports = WorkerPorts {
        jobs: given.jobs,
        queue: queue.clone(),
        images: given.images,
        secrets: Arc::new(MemorySecretStore::with(Credentials::Token {
            token: "pst-server".into(),
        })),
        lease: state.clone(),
        pacing: state.clone(),
        call_stats: state.clone(),
        account: state.clone(),
        upstream: given.upstream,
        webhooks: naiq_testkit::memory::unused_webhook_ports(),
        keys: keys.clone(),
        ledger,
    };
    let worker = Worker::new(
        ports.clone(),
        clock.clone(),
        clock.clone(),
        11,
        given.settings.clone(),
        "test-worker",
    );
    Stack {
        api,
        worker,
        ports,
        settings: given.settings,
        clock,
        queue,
        state,
        alice,
    }
}

impl Stack {
    /// Another worker invocation over the same ports, waiting on `sleeper`.
    pub fn worker(&self, holder: &str, sleeper: Arc<dyn Sleeper>) -> Worker {
        Worker::new(
            self.ports.clone(),
            self.clock.clone(),
            sleeper,
            13,
            self.settings.clone(),
            holder,
        )
    }

    /// A worker invocation over `ports` (the stack's, some replaced by a test), waiting on
    /// the stack's clock.
    pub fn worker_over(&self, ports: WorkerPorts, holder: &str) -> Worker {
        Worker::new(
            ports,
            self.clock.clone(),
            self.clock.clone(),
            13,
            self.settings.clone(),
            holder,
        )
    }

    /// A worker invocation over the stack's ports but a [`Watched`] lane queue.
    pub fn watched(&self) -> (Worker, Arc<Watched>) {
        let queue = Arc::new(Watched {
            inner: self.queue.clone(),
            receives: Mutex::default(),
            expire_at: Mutex::default(),
        });
        let mut ports = self.ports.clone();
        ports.queue = queue.clone();
        (self.worker_over(ports, "watched"), queue)
    }

    pub async fn submit(&self) -> SubmitResponse {
        self.submit_body(
            br#"{"prompt": "1girl, cat ears", "model": "nai-v3", "resolution": "portrait"}"#,
        )
        .await
    }

    /// Alice's job of `body` (a `POST /generate` body), queued.
    pub async fn submit_body(&self, body: &[u8]) -> SubmitResponse {
        match self.api.submit(&self.alice, body).await.unwrap() {
            Submitted::Queued(r) => *r,
            Submitted::DryRun(_) => panic!("a dry run"),
        }
    }

    pub async fn drain(&self) -> DrainReport {
        self.worker
            .drain(self.clock.now() + Duration::seconds(900))
            .await
            .unwrap()
    }

    /// NovelAI calls counted by the pacing state today (each reserved slot is one).
    pub async fn slots_taken(&self) -> u64 {
        use naiq_core::ports::PacingStore;
        self.state.load_pacing().await.unwrap().0.day_count
    }
}

/// The lane queues, with the lanes of every receive recorded; and, if asked, one message
/// in flight made visible again (its visibility timeout run out) just before a given
/// receive.
pub struct Watched {
    inner: Arc<MemoryQueue>,
    receives: Mutex<Vec<Vec<Lane>>>,
    expire_at: Mutex<Option<(usize, TaskId)>>,
}

impl Watched {
    /// The lanes of every receive so far, in order.
    pub fn receives(&self) -> Vec<Vec<Lane>> {
        self.receives.lock().unwrap().clone()
    }

    /// Makes `task_id`'s message in flight visible again just before the receive numbered
    /// `receive` (from 1).
    pub fn expire_before(&self, receive: usize, task_id: TaskId) {
        *self.expire_at.lock().unwrap() = Some((receive, task_id));
    }
}

#[async_trait]
impl JobQueue for Watched {
    async fn send(&self, lane: Lane, message: &QueueMessage) -> PortResult<()> {
        self.inner.send(lane, message).await
    }
    async fn receive(&self, lanes: &[Lane]) -> PortResult<Option<Delivery>> {
        let n = {
            let mut receives = self.receives.lock().unwrap();
            receives.push(lanes.to_vec());
            receives.len()
        };
        let due = {
            let mut expire_at = self.expire_at.lock().unwrap();
            match expire_at.as_ref() {
                Some((at, _)) if *at == n => expire_at.take(),
                _ => None,
            }
        };
        if let Some((_, task_id)) = due {
            self.inner.expire(&task_id);
        }
        self.inner.receive(lanes).await
    }
    async fn receive_dead_letter(&self) -> PortResult<Option<Delivery>> {
        self.inner.receive_dead_letter().await
    }
    async fn ack(&self, delivery: &Delivery) -> PortResult<()> {
        self.inner.ack(delivery).await
    }
    async fn release(&self, delivery: &Delivery) -> PortResult<()> {
        self.inner.release(delivery).await
    }
    async fn keep_hidden(&self, delivery: &Delivery, seconds: u32) -> PortResult<()> {
        self.inner.keep_hidden(delivery, seconds).await
    }
    async fn backlog(&self) -> PortResult<u64> {
        self.inner.backlog().await
    }
}

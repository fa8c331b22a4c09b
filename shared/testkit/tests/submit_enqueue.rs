//! A submit whose queue send fails: when the message never went out, the job is failed and
//! the client is told to try again (503); when it went out and only the answer was lost (a
//! timeout after the call) and the worker already has the job, the submit succeeded, and
//! answering an error would make the client's retry queue, and pay for, a second job.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use naiq_core::api::{ApiError, ApiPorts, ApiService, Submitted};
use naiq_core::config::Settings;
use naiq_core::domain::{ApiKey, ApiKeyRecord, Lane, Status, TaskId};
use naiq_core::ports::{
    Clock, Delivery, JobQueue, JobStore, KeyStore, PortError, PortResult, QueueMessage,
};
use naiq_testkit::ManualClock;
use naiq_testkit::memory::*;
use serde_json::json;

/// What the queue does with a send.
#[derive(Clone, Copy)]
enum Send {
    /// Fails before the message goes out.
    Lost,
    /// The message goes out, the worker starts the job at once, and the answer is lost.
    AnswerLost,
}

struct FlakyQueue {
    inner: Arc<MemoryQueue>,
    jobs: Arc<MemoryJobStore>,
    clock: Arc<ManualClock>,
    send: Send,
}

#[async_trait]
impl JobQueue for FlakyQueue {
    async fn send(&self, lane: Lane, message: &QueueMessage) -> PortResult<()> {
        if let Send::AnswerLost = self.send {
            self.inner.send(lane, message).await?;
            let mut job = self.jobs.get(&message.task_id).await?.expect("the job");
            job.start(self.clock.now()).expect("a pending job starts");
            self.jobs.replace(&job, Status::Pending).await?;
        }
        Err(PortError::Backend {
            service: "SQS",
            message: "timeout: the operation did not complete".into(),
        })
    }
    async fn receive(&self, lanes: &[Lane]) -> PortResult<Option<Delivery>> {
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

/// Submits the seed's body through a queue that fails its send `send`'s way; returns the
/// answer, the jobs table and the real queue behind.
async fn submit_through(
    send: Send,
) -> (
    Result<TaskId, ApiError>,
    Arc<MemoryJobStore>,
    Arc<MemoryQueue>,
) {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 12, 4, 4, 30, 0).unwrap(),
    ));
    let jobs = Arc::new(MemoryJobStore::default());
    let queue = Arc::new(MemoryQueue::default());
    let keys = Arc::new(MemoryKeyStore::default());
    let alice = ApiKeyRecord::new(&ApiKey::from_random_bytes([1; 32]), "alice", clock.now());
    keys.insert(&alice).await.unwrap();
    let state = Arc::new(MemoryStateStore::default());
    let api = ApiService::new(
        ApiPorts {
            jobs: jobs.clone(),
            queue: Arc::new(FlakyQueue {
                inner: queue.clone(),
                jobs: jobs.clone(),
                clock: clock.clone(),
                send,
            }),
            images: Arc::new(MemoryImageStore::default()),
            keys,
            pacing: state.clone(),
            call_stats: state.clone(),
            account: state,
            idempotency: Arc::new(MemoryIdempotencyStore::default()),
            nudge: Arc::new(MemoryNudge::default()),
            webhooks: unused_webhook_ports(),
            ledger: Arc::new(MemoryLedger::default()),
        },
        clock,
        7,
        Settings::default(),
    );
    let body = json!({"prompt": "猫耳の女の子", "model": "nai-v3", "resolution": "portrait"});
    let answer = api
        .submit(&alice, body.to_string().as_bytes())
        .await
        .map(|s| match s {
            Submitted::Queued(r) => r.task_id,
            Submitted::DryRun(_) => panic!("not a dry run"),
        });
    (answer, jobs, queue)
}

#[tokio::test]
async fn a_send_that_never_went_out_fails_the_job_and_asks_for_a_retry() {
    let (answer, jobs, queue) = submit_through(Send::Lost).await;
    assert!(
        matches!(answer, Err(ApiError::Unavailable(_))),
        "{answer:?}"
    );
    assert_eq!(queue.len(Lane::Normal), 0);
    assert_eq!(
        jobs.total_pending().await.unwrap(),
        0,
        "no ghost left waiting"
    );
}

#[tokio::test]
async fn a_send_whose_answer_was_lost_after_the_worker_took_the_job_is_a_success() {
    let (answer, jobs, queue) = submit_through(Send::AnswerLost).await;
    let task_id = answer.expect("the job is queued: no error, so no second job on a retry");
    assert_eq!(queue.len(Lane::Normal), 1, "its message went out");
    let job = jobs.get(&task_id).await.unwrap().unwrap();
    assert_eq!(
        job.status(),
        Status::Started,
        "left to the worker, not failed"
    );
}

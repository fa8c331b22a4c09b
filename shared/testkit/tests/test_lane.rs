//! With test requests allowed, a test job ignores the interval between calls: while normal
//! jobs wait for their slot, a waiting test job goes at once. The worker learns whether one
//! waits from the lane counters, so the waits between normal calls do not receive from the
//! test lane for nothing.

mod support;

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::Duration;
use naiq_core::api::Submitted;
use naiq_core::config::Settings;
use naiq_core::domain::Lane;
use naiq_core::domain::pacing::PacingState;
use naiq_core::ports::{Clock, Delivery, JobQueue, PacingStore, PortResult, QueueMessage};
use naiq_core::worker::Worker;
use naiq_testkit::memory::*;
use serde_json::json;
use support::{Given, Stack};

/// The lane queues, with the lanes of every receive recorded.
struct Watched {
    inner: Arc<MemoryQueue>,
    receives: Mutex<Vec<Vec<Lane>>>,
}

#[async_trait]
impl JobQueue for Watched {
    async fn send(&self, lane: Lane, message: &QueueMessage) -> PortResult<()> {
        self.inner.send(lane, message).await
    }
    async fn receive(&self, lanes: &[Lane]) -> PortResult<Option<Delivery>> {
        self.receives.lock().unwrap().push(lanes.to_vec());
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

async fn test_mode() -> Stack {
    let mut s = support::stack(
        support::clock(),
        Given::memory(
            Arc::default(),
            Settings {
                allow_test_requests: true,
                ..Settings::default()
            },
        ),
    )
    .await;
    s.alice.allow_test = true;
    s
}

fn watched(s: &Stack) -> (Worker, Arc<Watched>) {
    let queue = Arc::new(Watched {
        inner: s.queue.clone(),
        receives: Mutex::default(),
    });
    let mut ports = s.ports.clone();
    ports.queue = queue.clone();
    (s.worker_over(ports, "watched"), queue)
}

/// The receives from the test lane: each normal turn's first, and each wait's when it
/// receives (lanes are received from one at a time).
fn test_lane_only(queue: &Watched) -> usize {
    queue
        .receives
        .lock()
        .unwrap()
        .iter()
        .filter(|lanes| lanes.as_slice() == [Lane::Test])
        .count()
}

#[tokio::test]
async fn the_waits_between_normal_calls_receive_nothing_when_no_test_job_waits() {
    let s = test_mode().await;
    for _ in 0..5 {
        s.submit().await;
    }
    let (worker, queue) = watched(&s);
    let report = worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.succeeded, 5, "{report:?}");
    // One per normal turn (the test lane comes first), none in the waits between them.
    assert_eq!(test_lane_only(&queue), 5);
}

#[tokio::test]
async fn a_test_job_goes_during_the_wait_for_a_normal_slot() {
    let s = test_mode().await;
    s.submit().await;
    let body = json!({"prompt": "テスト", "is_test_request": true}).to_string();
    let test = match s.api.submit(&s.alice, body.as_bytes()).await.unwrap() {
        Submitted::Queued(r) => *r,
        Submitted::DryRun(_) => panic!("a dry run"),
    };
    // The last normal call was just made: the next normal slot is ten seconds away.
    let (_, version) = s.state.load_pacing().await.unwrap();
    let slot = s.clock.now() + Duration::seconds(10);
    s.state
        .save_pacing(
            &PacingState {
                next_allowed_at: Some(slot),
                ..PacingState::default()
            },
            version,
        )
        .await
        .unwrap();
    let (worker, _) = watched(&s);
    let report = worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.succeeded, 2, "{report:?}");
    let job = s.ports.jobs.get(&test.task_id).await.unwrap().unwrap();
    assert!(
        job.started_at().unwrap() < slot,
        "the test job waited for the normal slot"
    );
}

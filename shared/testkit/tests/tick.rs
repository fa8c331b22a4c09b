//! The schedule's tick (`worker::tick`): with nothing due it ends after one read, touching
//! neither the lane queues nor the drain lease; it drains when a job may start before the
//! next tick, for ten minutes after any call (a killed worker's job comes back), and on
//! housekeeping minutes.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, TimeZone, Utc};
use naiq_core::config::Settings;
use naiq_core::domain::Lane;
use naiq_core::domain::pacing::PacingState;
use naiq_core::ports::{
    Clock, Delivery, JobQueue, LeaseStore, PacingStore, PortResult, QueueMessage,
};
use naiq_core::worker::tick::QUIET_AFTER_SECONDS;
use naiq_core::worker::{DrainReport, LEASE_NAME, StopReason, Worker};
use naiq_testkit::memory::*;
use support::{Given, Stack};

/// Lane queues and a lease that fail the test when touched: a tick with nothing due must
/// not receive, look at the dead letters or take the lease.
struct Untouchable;

#[async_trait]
impl JobQueue for Untouchable {
    async fn send(&self, _: Lane, _: &QueueMessage) -> PortResult<()> {
        panic!("a quiet tick sent a message")
    }
    async fn receive(&self, _: &[Lane]) -> PortResult<Option<Delivery>> {
        panic!("a quiet tick received from the lanes")
    }
    async fn receive_dead_letter(&self) -> PortResult<Option<Delivery>> {
        panic!("a quiet tick swept the dead letters")
    }
    async fn ack(&self, _: &Delivery) -> PortResult<()> {
        panic!("a quiet tick acknowledged a message")
    }
    async fn release(&self, _: &Delivery) -> PortResult<()> {
        panic!("a quiet tick released a message")
    }
    async fn keep_hidden(&self, _: &Delivery, _: u32) -> PortResult<()> {
        panic!("a quiet tick kept a message hidden")
    }
    async fn backlog(&self) -> PortResult<u64> {
        panic!("a quiet tick counted the queues")
    }
}

#[async_trait]
impl LeaseStore for Untouchable {
    async fn acquire_lease(
        &self,
        _: &str,
        _: &str,
        _: DateTime<Utc>,
        _: DateTime<Utc>,
    ) -> PortResult<bool> {
        panic!("a quiet tick took the drain lease")
    }
    async fn release_lease(&self, _: &str, _: &str) -> PortResult<()> {
        panic!("a quiet tick released the drain lease")
    }
}

/// That day at `hour_utc:minute` UTC (Singapore is eight hours ahead).
fn at(hour_utc: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 26, hour_utc, minute, 0)
        .unwrap()
}

async fn stack_at(now: DateTime<Utc>) -> (Stack, Arc<MemoryUpstream>) {
    let upstream = Arc::new(MemoryUpstream::default());
    let clock = support::clock();
    clock.set(now);
    let s = support::stack(clock, Given::memory(upstream.clone(), Settings::default())).await;
    (s, upstream)
}

/// A worker whose queues and lease fail the test if a tick touches them.
fn hands_off(s: &Stack) -> Worker {
    let mut ports = s.ports.clone();
    ports.queue = Arc::new(Untouchable);
    ports.lease = Arc::new(Untouchable);
    s.worker_over(ports, "tick")
}

async fn tick(s: &Stack, worker: &Worker) -> DrainReport {
    worker
        .scheduled(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_tick_with_nothing_waiting_ends_after_one_read() {
    let (s, upstream) = stack_at(at(4, 31)).await;
    let report = tick(&s, &hands_off(&s)).await;
    assert_eq!(report.stopped, StopReason::NothingDue, "{report:?}");
    assert_eq!(upstream.call_count(), 0);
}

#[tokio::test]
async fn a_tick_drains_a_waiting_job_whose_slot_is_free() {
    let (s, upstream) = stack_at(at(4, 31)).await;
    s.submit().await;
    let report = tick(&s, &s.worker).await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(upstream.call_count(), 1);
}

#[tokio::test]
async fn ticks_drain_for_ten_minutes_after_a_call_then_rest() {
    let (s, upstream) = stack_at(at(4, 31)).await;
    s.submit().await;
    assert_eq!(s.drain().await.succeeded, 1);
    // A worker killed during that call would leave its job STARTED, waiting nowhere:
    // the ticks keep draining, so its message is picked up when it comes back.
    s.clock.advance(Duration::minutes(4));
    let report = tick(&s, &s.worker).await;
    assert_eq!(report.stopped, StopReason::QueueEmpty, "{report:?}");
    s.clock
        .advance(Duration::seconds(QUIET_AFTER_SECONDS) - Duration::minutes(3));
    let report = tick(&s, &hands_off(&s)).await;
    assert_eq!(report.stopped, StopReason::NothingDue, "{report:?}");
    assert_eq!(upstream.call_count(), 1);
}

#[tokio::test]
async fn a_housekeeping_minute_drains_whatever_the_counters_say() {
    let (s, _) = stack_at(at(4, 40)).await;
    let report = tick(&s, &s.worker).await;
    assert_eq!(report.stopped, StopReason::QueueEmpty, "{report:?}");
}

#[tokio::test]
async fn a_job_waiting_for_a_window_is_left_until_the_tick_before_it_opens() {
    // 10:31 in Singapore: the next window opens at 12:00.
    let (s, upstream) = stack_at(at(2, 31)).await;
    s.submit().await;
    let report = tick(&s, &hands_off(&s)).await;
    assert_eq!(report.stopped, StopReason::NothingDue, "{report:?}");
    // 11:59:21, the last tick before the window: it drains, waiting for the slot.
    s.clock.set(at(3, 59) + Duration::seconds(21));
    let report = tick(&s, &s.worker).await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(upstream.call_count(), 1);
    assert!(s.clock.now() >= at(4, 0));
}

/// The pacing state, its reads counted: the memory jobs store reads it apart from the lane
/// counters, so each read of both (a tick's, the gauges') is one read here.
struct CountedPacing {
    inner: Arc<MemoryStateStore>,
    reads: AtomicUsize,
}

#[async_trait]
impl PacingStore for CountedPacing {
    async fn load_pacing(&self) -> PortResult<(PacingState, u64)> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.load_pacing().await
    }
    async fn save_pacing(&self, state: &PacingState, expected: u64) -> PortResult<()> {
        self.inner.save_pacing(state, expected).await
    }
}

#[tokio::test]
async fn with_the_lease_taken_a_nudge_ends_at_once_and_a_tick_sets_the_gauges_from_its_read() {
    let (s, upstream) = stack_at(at(4, 31)).await;
    s.submit().await;
    // Another invocation drains.
    let now = s.clock.now();
    assert!(
        s.state
            .acquire_lease(LEASE_NAME, "another", now, now + Duration::seconds(150))
            .await
            .unwrap()
    );
    let pacing = Arc::new(CountedPacing {
        inner: s.state.clone(),
        reads: AtomicUsize::new(0),
    });
    let mut ports = s.ports.clone();
    ports.pacing = pacing.clone();
    let worker = s.worker_over(ports, "w2");
    // A submit's nudge: the lease is taken, and that is all it learns.
    let report = worker.drain(now + Duration::seconds(900)).await.unwrap();
    assert_eq!(report.stopped, StopReason::LeaseHeld, "{report:?}");
    assert_eq!(pacing.reads.load(Ordering::SeqCst), 0, "no gauges read");
    // The schedule's tick: its one read decides, and sets the gauges too.
    let report = tick(&s, &worker).await;
    assert_eq!(report.stopped, StopReason::LeaseHeld, "{report:?}");
    assert_eq!(pacing.reads.load(Ordering::SeqCst), 1, "one read in all");
    assert_eq!(upstream.call_count(), 0);
}

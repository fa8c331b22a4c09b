//! Ghost jobs (issue 13, item 5): a waiting job whose queue message is gone is failed by
//! the reaper with a clear code, and stops counting in the positions; a job whose message
//! may still exist is left alone.

mod support;

use std::sync::Arc;

use chrono::Duration;
use naiq_core::config::Settings;
use naiq_core::domain::{Lane, Status};
use naiq_core::ports::{JobQueue, MESSAGE_RETENTION_SECONDS};
use naiq_core::worker::reaper::{EXPIRY_MARGIN_SECONDS, MESSAGE_LOST_GRACE_SECONDS};
use naiq_testkit::memory::*;
use support::{Given, Stack};

async fn fresh() -> (Stack, Arc<MemoryUpstream>) {
    let upstream = Arc::new(MemoryUpstream::default());
    let s = support::stack(
        support::clock(),
        Given::memory(upstream.clone(), Settings::default()),
    )
    .await;
    (s, upstream)
}

async fn status_of(s: &Stack, task_id: &str) -> (Status, Option<String>) {
    let st = s.api.task_status(&s.alice, task_id).await.unwrap();
    (st.status, st.error_code)
}

#[tokio::test]
async fn a_ghost_pending_job_is_reaped_once_its_grace_is_over() {
    let (s, upstream) = fresh().await;
    let ghost = s.submit().await;
    // Its message is gone (a crash between the job's write and the send, say).
    s.queue.lose_all();
    let report = s.drain().await;
    assert_eq!(
        report.reaped, 0,
        "a job this young may be being submitted right now"
    );
    assert_eq!(
        status_of(&s, ghost.task_id.as_str()).await.0,
        Status::Pending
    );

    s.clock
        .advance(Duration::seconds(MESSAGE_LOST_GRACE_SECONDS + 60));
    let report = s.drain().await;
    assert_eq!(report.reaped, 1, "{report:?}");
    assert_eq!(
        status_of(&s, ghost.task_id.as_str()).await,
        (Status::Failure, Some("message_lost".into()))
    );
    assert_eq!(upstream.call_count(), 0);
    // It no longer counts ahead of anyone.
    let next = s.submit().await;
    let q = next.queue_info.unwrap();
    assert_eq!((q.position, q.total_pending), (1, 1));
}

#[tokio::test]
async fn no_job_is_reaped_as_lost_while_a_lane_still_holds_a_message() {
    let (s, _) = fresh().await;
    let ghost = s.submit().await;
    s.queue.lose_all();
    let alive = s.submit().await;
    // Another job's message is in flight (for instance a worker elsewhere has it).
    let held = s.queue.receive(&Lane::ALL).await.unwrap().unwrap();
    assert_eq!(held.message.task_id, alive.task_id);
    s.clock
        .advance(Duration::seconds(MESSAGE_LOST_GRACE_SECONDS + 60));
    let report = s.drain().await;
    assert_eq!(report.reaped, 0, "{report:?}");
    assert_eq!(
        status_of(&s, ghost.task_id.as_str()).await.0,
        Status::Pending
    );
    // Its message goes away too: now both are ghosts. The reaper runs at most every few
    // minutes.
    s.queue.ack(&held).await.unwrap();
    s.clock.advance(Duration::seconds(
        naiq_core::worker::reaper::REAP_EVERY_SECONDS + 1,
    ));
    let report = s.drain().await;
    assert_eq!(report.reaped, 2, "{report:?}");
    for t in [&ghost.task_id, &alive.task_id] {
        assert_eq!(
            status_of(&s, t.as_str()).await,
            (Status::Failure, Some("message_lost".into()))
        );
    }
}

#[tokio::test]
async fn a_job_waiting_longer_than_the_queue_keeps_messages_expires() {
    let (s, _) = fresh().await;
    let old = s.submit().await;
    // Its message is held (so the lanes are not empty), and the days go by.
    let held = s.queue.receive(&Lane::ALL).await.unwrap().unwrap();
    s.clock.advance(Duration::seconds(
        i64::from(MESSAGE_RETENTION_SECONDS) - EXPIRY_MARGIN_SECONDS - 60,
    ));
    assert_eq!(s.drain().await.reaped, 0, "not yet");
    s.clock.advance(Duration::seconds(
        naiq_core::worker::reaper::REAP_EVERY_SECONDS + 1,
    ));
    let report = s.drain().await;
    assert_eq!(report.reaped, 1, "{report:?}");
    assert_eq!(
        status_of(&s, old.task_id.as_str()).await,
        (Status::Failure, Some("expired".into()))
    );
    // When the message does come, the worker makes no call for the finished job.
    s.queue.release(&held).await.unwrap();
    s.clock.advance(Duration::hours(24) + Duration::minutes(30));
    let report = s.drain().await;
    assert_eq!((report.skipped, report.succeeded), (1, 0), "{report:?}");
}

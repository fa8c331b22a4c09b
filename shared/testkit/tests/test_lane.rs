//! With test requests allowed, a test job ignores the interval between calls: while normal
//! jobs wait for their slot, a waiting test job goes at once. The worker learns whether one
//! waits from the lane counters, so the waits between normal calls do not receive from the
//! test lane for nothing.

mod support;

use std::sync::Arc;

use chrono::Duration;
use naiq_core::api::Submitted;
use naiq_core::config::Settings;
use naiq_core::domain::Lane;
use naiq_core::domain::pacing::PacingState;
use naiq_core::ports::{Clock, PacingStore};
use serde_json::json;
use support::{Given, Stack, Watched};

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

/// The receives from the test lane (lanes are received from one at a time).
fn test_lane_only(queue: &Watched) -> usize {
    queue
        .receives()
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
    let (worker, queue) = s.watched();
    let report = worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.succeeded, 5, "{report:?}");
    // Once, in the drain's first turn, which receives every lane until it gives nothing;
    // after it, neither the normal turns nor the waits between them: the counters say
    // no test job waits.
    assert_eq!(test_lane_only(&queue), 1);
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
    let (worker, _) = s.watched();
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

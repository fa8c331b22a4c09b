//! What a drain receives: the lanes the counters say hold waiting jobs, a head per key
//! (about one receive a job, where receiving every lane until it gave nothing took four);
//! and every lane until it gives nothing at the drain's first turn and every few minutes,
//! so a job a stopped worker left `STARTED` (counted nowhere as waiting) is found while
//! other jobs keep the queue busy.

mod support;

use std::sync::Arc;

use chrono::Duration;
use naiq_core::config::Settings;
use naiq_core::domain::{ApiKey, ApiKeyRecord, Lane, Status, TaskId};
use naiq_core::ports::{Clock, JobQueue};
use naiq_testkit::memory::MemoryUpstream;
use support::{Given, Stack};

async fn plain() -> Stack {
    support::stack(
        support::clock(),
        Given::memory(Arc::default(), Settings::default()),
    )
    .await
}

#[tokio::test]
async fn a_drain_of_one_key_s_jobs_receives_about_once_a_job() {
    let s = plain().await;
    for _ in 0..30 {
        s.submit().await;
    }
    let started = s.clock.now();
    let (worker, queue) = s.watched();
    let report = worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.succeeded, 30, "{report:?}");
    assert!(s.queue.is_empty());
    // A turn receives the one key's next job; a full pass (the first turn, then one every
    // two minutes: 30 jobs 8-15 s apart take under six) receives three lanes more.
    let minutes = (s.clock.now() - started).num_minutes();
    assert!(minutes < 8, "{minutes} minutes");
    let receives = queue.receives().len();
    assert!(
        receives <= 30 + 3 * 4,
        "{receives} receives for 30 jobs (every lane until it gives nothing takes 120)"
    );
    // Every receive asks one lane, and only the normal lane outside the full passes.
    let others = queue
        .receives()
        .iter()
        .filter(|lanes| lanes.as_slice() != [Lane::Normal])
        .count();
    assert!(others <= 3 * 3, "{others} receives from the empty lanes");
}

#[tokio::test]
async fn a_job_left_started_is_found_while_another_key_keeps_the_queue_busy() {
    let upstream = Arc::new(MemoryUpstream::default());
    let s = support::stack(
        support::clock(),
        Given::memory(upstream.clone(), Settings::default()),
    )
    .await;
    let bob = ApiKeyRecord::new(&ApiKey::from_random_bytes([2; 32]), "bob", s.clock.now());
    s.ports.keys.insert(&bob).await.unwrap();
    // In a lane of its own: a counted receive from alice's lane would find its message
    // too, at the front of the queue.
    let body = r#"{"prompt": "猫, 1girl", "model": "nai-v3", "priority": "high"}"#;
    let orphan = match s.api.submit(&bob, body.as_bytes()).await.unwrap() {
        naiq_core::api::Submitted::Queued(r) => TaskId::parse(r.task_id.as_str()).unwrap(),
        naiq_core::api::Submitted::DryRun(_) => panic!("a dry run"),
    };
    // A worker stopped during bob's call: the job `STARTED` (no longer counted as waiting:
    // the high lane's counters say nothing waits), its message in flight until its
    // visibility timeout runs out.
    let mut job = s.ports.jobs.get(&orphan).await.unwrap().unwrap();
    job.start(s.clock.now()).unwrap();
    s.ports.jobs.replace(&job, Status::Pending).await.unwrap();
    let taken = s.queue.receive(&Lane::ALL).await.unwrap().unwrap();
    assert_eq!(taken.message.task_id, orphan);
    for _ in 0..30 {
        s.submit().await;
    }

    // Its message comes back while alice's thirty jobs keep the drain busy: after the
    // drain's first turn (a full pass) and a few of alice's jobs.
    let (worker, queue) = s.watched();
    queue.expire_before(8, orphan.clone());
    let report = worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.succeeded, 31, "{report:?}");
    let finished = s.ports.jobs.get(&orphan).await.unwrap().unwrap();
    assert_eq!(
        (finished.status(), finished.attempts()),
        (Status::Success, 2)
    );

    // It ran at the next full pass, two minutes at most after the one before, not after
    // alice's last job (its first attempt's start is kept: the job's end tells).
    let mut alice_after = 0;
    for sub in s
        .ports
        .jobs
        .list_for_owner(&s.alice.key_id, None, 100, None)
        .await
        .unwrap()
        .jobs
    {
        if sub.started_at() > finished.finished_at() {
            alice_after += 1;
        }
    }
    assert!(
        alice_after >= 15,
        "only {alice_after} of alice's 30 jobs started after bob's"
    );
    assert_eq!(upstream.call_count(), 31);
}

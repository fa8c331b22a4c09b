//! The jobs table's contract: conditional writes, queue positions, the active index.

use chrono::{Duration, TimeZone, Utc};
use naiq_core::domain::request::{Limits, parse_submit};
use naiq_core::domain::{Job, Lane, Status, TaskId};
use naiq_core::ports::*;

/// A job of `owner-a` in `lane`, created `created_ms` after a fixed instant.
pub(crate) fn job(n: u8, lane: Lane, created_ms: i64) -> Job {
    job_of("owner-a", n, lane, created_ms)
}

/// A job of `owner`.
pub(crate) fn job_of(owner: &str, n: u8, lane: Lane, created_ms: i64) -> Job {
    let params = parse_submit(
        br#"{"prompt": "contract", "model": "nai-v3"}"#,
        &Limits::default(),
    )
    .expect("valid body")
    .params;
    Job::new(
        TaskId::from_random_bytes([n; 16]),
        owner.into(),
        lane,
        params,
        Utc.timestamp_millis_opt(1_790_000_000_000 + created_ms)
            .unwrap(),
    )
}

pub async fn job_store(store: &dyn JobStore) {
    let a = job(1, Lane::Normal, 0);
    assert_eq!(store.get(a.task_id()).await.unwrap(), None);
    store.insert(&a).await.unwrap();
    assert_eq!(store.get(a.task_id()).await.unwrap(), Some(a.clone()));
    assert!(matches!(
        store.insert(&a).await,
        Err(PortError::Conflict(_))
    ));

    // Conditional replace: only from the expected status.
    let mut started = a.clone();
    started
        .start(a.created_at() + Duration::seconds(1))
        .unwrap();
    assert!(matches!(
        store.replace(&started, Status::Started).await,
        Err(PortError::Conflict(_))
    ));
    store.replace(&started, Status::Pending).await.unwrap();
    assert_eq!(
        store.get(a.task_id()).await.unwrap().unwrap().status(),
        Status::Started
    );
    // A running job's progress: written and read back while it runs (one STARTED to
    // STARTED replace, counting nothing in the queue), gone once it is done.
    let mut running = started.clone();
    running
        .set_progress(naiq_core::domain::job::Progress { step: 7, steps: 23 })
        .unwrap();
    store.replace(&running, Status::Started).await.unwrap();
    assert_eq!(store.get(a.task_id()).await.unwrap(), Some(running.clone()));
    assert_eq!(store.total_pending().await.unwrap(), 0);
    let mut done = started.clone();
    done.succeed(
        vec!["images/x/0.png".into()],
        a.created_at() + Duration::seconds(2),
    )
    .unwrap();
    store.replace(&done, Status::Started).await.unwrap();
    assert_eq!(store.get(a.task_id()).await.unwrap(), Some(done.clone()));
    assert_eq!(done.progress(), None);
    let mut missing = job(99, Lane::Low, 0);
    missing.start(missing.created_at()).unwrap();
    assert!(matches!(
        store.replace(&missing, Status::Pending).await,
        Err(PortError::Conflict(_))
    ));

    // Queue positions: lane first, then age; finished jobs do not count.
    let low = job(2, Lane::Low, 10);
    let normal_old = job(3, Lane::Normal, 20);
    let normal_new = job(4, Lane::Normal, 30);
    let high = job(5, Lane::High, 40);
    let test = job(6, Lane::Test, 50);
    for j in [&low, &normal_new, &normal_old, &high, &test] {
        store.insert(j).await.unwrap();
    }
    assert_eq!(store.total_pending().await.unwrap(), 5);
    let pos = |j: &Job| {
        let j = j.clone();
        async move { store.queue_position(&j).await.unwrap() }
    };
    assert_eq!(
        pos(&test).await,
        QueuePosition {
            position: 1,
            total_pending: 5
        }
    );
    assert_eq!(pos(&high).await.position, 2);
    assert_eq!(pos(&normal_old).await.position, 3);
    assert_eq!(pos(&normal_new).await.position, 4);
    assert_eq!(pos(&low).await.position, 5);
    // An owner's unfinished jobs, oldest first (the others belong to "owner-a" too, but
    // `a` is finished).
    let bobs = job_of("owner-b", 7, Lane::Low, 60);
    store.insert(&bobs).await.unwrap();
    let active: Vec<TaskId> = store
        .active_for_owner("owner-b")
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.task_id().clone())
        .collect();
    assert_eq!(active, vec![bobs.task_id().clone()]);
    let active: Vec<TaskId> = store
        .active_for_owner("owner-a")
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.task_id().clone())
        .collect();
    assert_eq!(
        active,
        vec![
            low.task_id().clone(),
            normal_old.task_id().clone(),
            normal_new.task_id().clone(),
            high.task_id().clone(),
            test.task_id().clone()
        ]
    );
    let mut bobs_done = bobs.clone();
    bobs_done.revoke(bobs.created_at()).unwrap();
    store.replace(&bobs_done, Status::Pending).await.unwrap();
    assert!(store.active_for_owner("owner-b").await.unwrap().is_empty());

    let mut revoked = high.clone();
    revoked.revoke(high.created_at()).unwrap();
    store.replace(&revoked, Status::Pending).await.unwrap();
    assert_eq!(store.total_pending().await.unwrap(), 4);
    assert_eq!(
        pos(&low).await,
        QueuePosition {
            position: 4,
            total_pending: 4
        }
    );
}

/// An owner's jobs, newest first, page by page, filtered by status; a forged cursor is
/// refused.
pub async fn job_listing(store: &dyn JobStore) {
    let mut ids = Vec::new();
    for n in 0..7u8 {
        let j = job_of("lister", 100 + n, Lane::Normal, i64::from(n) * 1000);
        store.insert(&j).await.unwrap();
        ids.push(j.task_id().clone());
    }
    let mut done = job_of("lister", 120, Lane::Low, 9000);
    store.insert(&done).await.unwrap();
    done.revoke(done.created_at()).unwrap();
    store.replace(&done, Status::Pending).await.unwrap();
    store
        .insert(&job_of("someone-else", 121, Lane::Low, 9500))
        .await
        .unwrap();

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_for_owner("lister", None, 3, cursor.as_deref())
            .await
            .unwrap();
        assert!(page.jobs.len() <= 3);
        seen.extend(page.jobs.iter().map(|j| j.task_id().clone()));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut expected = vec![done.task_id().clone()];
    expected.extend(ids.iter().rev().cloned());
    assert_eq!(seen, expected, "newest first, each once, no other owner's");
    let revoked = store
        .list_for_owner("lister", Some(Status::Revoked), 10, None)
        .await
        .unwrap();
    assert_eq!(
        revoked
            .jobs
            .iter()
            .map(|j| j.task_id().clone())
            .collect::<Vec<_>>(),
        vec![done.task_id().clone()]
    );
    assert_eq!(revoked.next, None);
    assert!(matches!(
        store
            .list_for_owner("lister", None, 3, Some("not-a-cursor"))
            .await,
        Err(PortError::BadCursor)
    ));
}

/// The reaper's candidates: waiting jobs (`PENDING`, `RETRY`) submitted before an instant,
/// in queue order, at most as many as asked for.
pub async fn job_waiting_before(store: &dyn JobStore) {
    let t0 = job(1, Lane::Normal, 0).created_at();
    let started = {
        let mut j = job(1, Lane::Normal, 0);
        store.insert(&j).await.unwrap();
        j.start(t0).unwrap();
        store.replace(&j, Status::Pending).await.unwrap();
        j
    };
    let low = job(2, Lane::Low, 10);
    let normal_old = job(3, Lane::Normal, 20);
    let mut retrying = job(4, Lane::Normal, 30);
    let high_late = job(5, Lane::High, 40);
    let test_late = job(6, Lane::Test, 50);
    for j in [&low, &normal_old, &retrying, &high_late, &test_late] {
        store.insert(j).await.unwrap();
    }
    retrying.start(t0).unwrap();
    store.replace(&retrying, Status::Pending).await.unwrap();
    retrying
        .retry(naiq_core::domain::JobError::new("upstream_busy", "429"), t0)
        .unwrap();
    store.replace(&retrying, Status::Started).await.unwrap();

    let ids =
        |jobs: Vec<Job>| -> Vec<TaskId> { jobs.iter().map(|j| j.task_id().clone()).collect() };
    let before = t0 + Duration::milliseconds(35);
    assert_eq!(
        ids(store.waiting_before(before, 10).await.unwrap()),
        vec![
            normal_old.task_id().clone(),
            retrying.task_id().clone(),
            low.task_id().clone()
        ],
        "waiting jobs before the instant, in queue order; not the started one"
    );
    let found = store.waiting_before(before, 2).await.unwrap();
    assert_eq!(found.len(), 2, "at most the limit");
    assert_eq!(found[1], retrying, "whole jobs, as stored");
    assert!(store.waiting_before(t0, 10).await.unwrap().is_empty());
    assert!(
        !ids(store
            .waiting_before(t0 + Duration::seconds(1), 10)
            .await
            .unwrap())
        .contains(started.task_id())
    );
}

/// The queue counters move with each job write: keys take turns inside a lane (a key that
/// never had one goes first, in arrival order), a start is the key's turn, a cancelled
/// job stops counting, a retried one counts again.
pub async fn queue_counters(store: &dyn JobStore) {
    use naiq_core::domain::turns::fresh_turn;
    let a1 = job_of("key-a", 51, Lane::Normal, 0);
    let a2 = job_of("key-a", 52, Lane::Normal, 10);
    let a3 = job_of("key-a", 53, Lane::Normal, 20);
    let b1 = job_of("key-b", 54, Lane::Normal, 30);
    for j in [&a1, &a2, &a3, &b1] {
        store.insert(j).await.unwrap();
    }
    let snap = store.queue_snapshot().await.unwrap();
    let normal = snap.lane(Lane::Normal).expect("normal counted");
    assert_eq!((normal.waiting, normal.turn), (4, 0));
    assert_eq!(normal.keys["key-a"].waiting, 3);
    assert_eq!(
        normal.keys["key-a"].last_turn,
        fresh_turn(a1.created_at().timestamp_millis())
    );
    assert_eq!(normal.keys["key-b"].waiting, 1);
    assert_eq!(snap.total_pending(), 4);
    // Each key's own waiting jobs ahead in the lane, by age.
    let mut ahead = Vec::new();
    for j in [&a1, &a2, &a3, &b1] {
        ahead.push(store.own_ahead(j).await.unwrap());
    }
    assert_eq!(ahead, vec![0, 1, 2, 0]);
    // A job and the counters in one read, as a status poll makes it; a missing job reads
    // as none, with the counters all the same.
    let (found, counters) = store.get_with_counters(a2.task_id()).await.unwrap();
    assert_eq!(found.as_ref(), Some(&a2));
    assert_eq!(counters, snap);
    let (missing, counters) = store
        .get_with_counters(&TaskId::from_random_bytes([0xEE; 16]))
        .await
        .unwrap();
    assert!(missing.is_none());
    assert_eq!(counters.total_pending(), 4);
    let positions = |jobs: Vec<Job>| async move {
        let mut out = Vec::new();
        for j in jobs {
            out.push(store.queue_position(&j).await.unwrap().position);
        }
        out
    };
    assert_eq!(
        positions(vec![a1.clone(), b1.clone(), a2.clone(), a3.clone()]).await,
        vec![1, 2, 3, 4],
        "a came first: a, b, a, a"
    );

    let mut a1_started = a1.clone();
    a1_started
        .start(a1.created_at() + Duration::seconds(1))
        .unwrap();
    store.replace(&a1_started, Status::Pending).await.unwrap();
    let snap = store.queue_snapshot().await.unwrap();
    let normal = snap.lane(Lane::Normal).unwrap();
    assert_eq!((normal.waiting, normal.turn), (3, 1));
    assert_eq!(normal.keys["key-a"].last_turn, 1, "a's turn");
    assert_eq!(
        snap.next_turn(Lane::Normal, ["key-a", "key-b"]),
        Some("key-b")
    );
    assert_eq!(
        positions(vec![b1.clone(), a2.clone(), a3.clone()]).await,
        vec![1, 2, 3],
        "now b's turn"
    );

    let mut a2_cancelled = a2.clone();
    a2_cancelled.revoke(a2.created_at()).unwrap();
    store.replace(&a2_cancelled, Status::Pending).await.unwrap();
    assert_eq!(store.total_pending().await.unwrap(), 2);
    assert_eq!(positions(vec![b1.clone(), a3.clone()]).await, vec![1, 2]);

    // a1's attempt failed and it waits again, at the head of a's jobs.
    let mut a1_retry = a1_started.clone();
    a1_retry
        .retry(
            naiq_core::domain::JobError::new("upstream_5xx", "try again"),
            a1.created_at() + Duration::seconds(2),
        )
        .unwrap();
    store.replace(&a1_retry, Status::Started).await.unwrap();
    let snap = store.queue_snapshot().await.unwrap();
    let normal = snap.lane(Lane::Normal).unwrap();
    assert_eq!((normal.waiting, normal.keys["key-a"].waiting), (3, 2));
    assert_eq!(normal.turn, 1, "a retry is no new turn");
    assert_eq!(
        positions(vec![b1.clone(), a1_retry.clone(), a3.clone()]).await,
        vec![1, 2, 3]
    );
    // Another lane's counters are apart; a higher lane's job goes first.
    let high = job_of("key-b", 55, Lane::High, 40);
    store.insert(&high).await.unwrap();
    assert_eq!(
        positions(vec![high.clone(), b1.clone(), a3.clone()]).await,
        vec![1, 2, 4]
    );
    assert_eq!(store.total_pending().await.unwrap(), 4);
}

//! Behavioural tests every adapter of a port must pass. The in-memory adapters run them in
//! `tests/contract_memory.rs`, the AWS adapters on the emulator in `tests/contract_aws.rs`.
//! Each suite expects fresh, empty resources.

use chrono::{Duration, NaiveDate, TimeZone, Utc};

use crate::domain::account::AccountInfo;
use crate::domain::pacing::PacingState;
use crate::domain::request::{Limits, parse_submit};
use crate::domain::{ApiKey, ApiKeyRecord, Credentials, Job, Lane, Status, TaskId};
use crate::ports::*;

fn job(n: u8, lane: Lane, created_ms: i64) -> Job {
    let params = parse_submit(
        br#"{"prompt": "contract", "model": "nai-v3"}"#,
        &Limits::default(),
    )
    .expect("valid body")
    .params;
    Job::new(
        TaskId::from_random_bytes([n; 16]),
        "owner-a".into(),
        lane,
        params,
        Utc.timestamp_millis_opt(1_790_000_000_000 + created_ms)
            .unwrap(),
    )
}

pub async fn job_store(store: &dyn JobStore) {
    let a = job(1, Lane::Normal, 0);
    assert_eq!(store.get(&a.task_id).await.unwrap(), None);
    store.insert(&a).await.unwrap();
    assert_eq!(store.get(&a.task_id).await.unwrap(), Some(a.clone()));
    assert!(matches!(
        store.insert(&a).await,
        Err(PortError::Conflict(_))
    ));

    // Conditional replace: only from the expected status.
    let mut started = a.clone();
    started.start(a.created_at + Duration::seconds(1));
    assert!(matches!(
        store.replace(&started, Status::Started).await,
        Err(PortError::Conflict(_))
    ));
    store.replace(&started, Status::Pending).await.unwrap();
    assert_eq!(
        store.get(&a.task_id).await.unwrap().unwrap().status,
        Status::Started
    );
    let mut done = started.clone();
    done.succeed(
        vec!["images/x/0.png".into()],
        a.created_at + Duration::seconds(2),
    );
    done.error = None;
    store.replace(&done, Status::Started).await.unwrap();
    assert_eq!(store.get(&a.task_id).await.unwrap(), Some(done.clone()));
    let mut missing = job(99, Lane::Low, 0);
    missing.status = Status::Started;
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
    let mut bobs = job(7, Lane::Low, 60);
    bobs.owner = "owner-b".into();
    store.insert(&bobs).await.unwrap();
    let active: Vec<TaskId> = store
        .active_for_owner("owner-b")
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.task_id)
        .collect();
    assert_eq!(active, vec![bobs.task_id.clone()]);
    let active: Vec<TaskId> = store
        .active_for_owner("owner-a")
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.task_id)
        .collect();
    assert_eq!(
        active,
        vec![
            low.task_id.clone(),
            normal_old.task_id.clone(),
            normal_new.task_id.clone(),
            high.task_id.clone(),
            test.task_id.clone()
        ]
    );
    let mut bobs_done = bobs.clone();
    bobs_done.revoke(bobs.created_at);
    store.replace(&bobs_done, Status::Pending).await.unwrap();
    assert!(store.active_for_owner("owner-b").await.unwrap().is_empty());

    let mut revoked = high.clone();
    revoked.revoke(high.created_at);
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

pub async fn job_queue(queue: &dyn JobQueue) {
    let msg = |n: u8| QueueMessage {
        task_id: TaskId::from_random_bytes([n; 16]),
        credentials: None,
    };
    assert!(queue.receive(&Lane::ALL).await.unwrap().is_none());
    queue.send(Lane::Normal, &msg(1)).await.unwrap();
    queue.send(Lane::Normal, &msg(2)).await.unwrap();
    queue.send(Lane::Low, &msg(3)).await.unwrap();
    let with_token = QueueMessage {
        task_id: TaskId::from_random_bytes([4; 16]),
        credentials: Some(Credentials::Token {
            token: "pst-contract".into(),
        }),
    };
    queue.send(Lane::High, &with_token).await.unwrap();
    assert!(
        queue.receive(&[Lane::Test]).await.unwrap().is_none(),
        "only the lanes asked for"
    );
    let d = queue
        .receive(&[Lane::Low])
        .await
        .unwrap()
        .expect("a lane on its own");
    assert_eq!(d.message, msg(3));
    queue.release(&d).await.unwrap();

    let d = queue
        .receive(&Lane::ALL)
        .await
        .unwrap()
        .expect("high first");
    assert_eq!((d.lane, &d.message), (Lane::High, &with_token));
    assert_eq!(d.receive_count, 1);
    queue.ack(&d).await.unwrap();
    let d = queue
        .receive(&Lane::ALL)
        .await
        .unwrap()
        .expect("then normal, oldest first");
    assert_eq!((d.lane, &d.message), (Lane::Normal, &msg(1)));
    queue.ack(&d).await.unwrap();
    let d = queue
        .receive(&Lane::ALL)
        .await
        .unwrap()
        .expect("normal again");
    assert_eq!(d.message, msg(2));
    queue.release(&d).await.unwrap();
    let again = queue
        .receive(&Lane::ALL)
        .await
        .unwrap()
        .expect("released message comes back");
    assert_eq!(again.message, msg(2));
    assert_eq!(again.receive_count, 2);
    queue.ack(&again).await.unwrap();
    let d = queue.receive(&Lane::ALL).await.unwrap().expect("low last");
    assert_eq!(
        (d.lane, &d.message, d.receive_count),
        (Lane::Low, &msg(3), 2)
    );
    queue.ack(&d).await.unwrap();
    assert!(queue.receive(&Lane::ALL).await.unwrap().is_none());
}

/// Messages that fail `MAX_RECEIVE_COUNT` deliveries land in the dead-letter queue.
pub async fn dead_letters(queue: &dyn JobQueue) {
    let poison = QueueMessage {
        task_id: TaskId::from_random_bytes([13; 16]),
        credentials: None,
    };
    assert!(queue.receive_dead_letter().await.unwrap().is_none());
    queue.send(Lane::Normal, &poison).await.unwrap();
    for n in 1..=crate::adapters::provision::MAX_RECEIVE_COUNT {
        let d = queue
            .receive(&Lane::ALL)
            .await
            .unwrap()
            .expect("redelivered");
        assert_eq!(d.receive_count, n);
        queue.release(&d).await.unwrap();
    }
    assert!(
        queue.receive(&Lane::ALL).await.unwrap().is_none(),
        "moved on"
    );
    let dead = queue
        .receive_dead_letter()
        .await
        .unwrap()
        .expect("in the dead-letter queue");
    assert!(dead.dead_letter);
    assert_eq!(dead.message, poison);
    queue.ack(&dead).await.unwrap();
    assert!(queue.receive_dead_letter().await.unwrap().is_none());
}

pub async fn image_store(images: &dyn ImageStore) {
    assert_eq!(images.get("images/none/0.png").await.unwrap(), None);
    images
        .put("images/t/0.png", b"\x89PNG-0".to_vec(), "image/png")
        .await
        .unwrap();
    images
        .put("images/t/1.png", b"\x89PNG-1".to_vec(), "image/png")
        .await
        .unwrap();
    assert_eq!(
        images.get("images/t/1.png").await.unwrap().as_deref(),
        Some(&b"\x89PNG-1"[..])
    );
    let url = images.url("images/t/0.png", 60).await.unwrap();
    assert!(url.contains("images/t/0.png"), "{url}");
}

pub async fn secret_store(secrets: &dyn SecretStore) {
    assert_eq!(secrets.get().await.unwrap(), None);
    let token = Credentials::Token {
        token: "pst-contract-token".into(),
    };
    secrets.put(&token).await.unwrap();
    assert_eq!(secrets.get().await.unwrap(), Some(token));
    let login = Credentials::Login {
        email: "a@example.org".into(),
        password: "secret pass".into(),
    };
    secrets.put(&login).await.unwrap();
    assert_eq!(secrets.get().await.unwrap(), Some(login));
}

pub async fn key_store(keys: &dyn KeyStore) {
    let key = ApiKey::from_random_bytes([9; 32]);
    let mut rec = ApiKeyRecord::new(
        &key,
        "contract",
        Utc.timestamp_opt(1_790_000_000, 0).unwrap(),
    );
    rec.allow_test = true;
    rec.lanes = vec![Lane::Normal, Lane::Low];
    assert_eq!(keys.find(&key.hash()).await.unwrap(), None);
    keys.insert(&rec).await.unwrap();
    assert_eq!(keys.find(&key.hash()).await.unwrap(), Some(rec.clone()));
    assert!(matches!(
        keys.insert(&rec).await,
        Err(PortError::Conflict(_))
    ));
}

pub async fn state_store(state: &dyn StateStore) {
    let t0 = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let later = |s: i64| t0 + Duration::seconds(s);
    assert!(state.acquire_lease("w", "a", t0, later(60)).await.unwrap());
    assert!(
        !state
            .acquire_lease("w", "b", later(1), later(61))
            .await
            .unwrap()
    );
    assert!(
        state
            .acquire_lease("w", "a", later(2), later(90))
            .await
            .unwrap(),
        "holder extends"
    );
    assert!(
        !state
            .acquire_lease("w", "b", later(61), later(120))
            .await
            .unwrap(),
        "extension held"
    );
    assert!(
        state
            .acquire_lease("w", "b", later(91), later(150))
            .await
            .unwrap(),
        "expired lease is free"
    );
    state.release_lease("w", "a").await.unwrap();
    assert!(
        !state
            .acquire_lease("w", "a", later(92), later(150))
            .await
            .unwrap(),
        "a non-holder cannot release"
    );
    state.release_lease("w", "b").await.unwrap();
    assert!(
        state
            .acquire_lease("w", "a", later(93), later(150))
            .await
            .unwrap()
    );
    assert!(
        state
            .acquire_lease("other", "b", later(93), later(150))
            .await
            .unwrap(),
        "leases are per name"
    );

    // Pacing state: optimistic concurrency, one writer per version.
    let (initial, v0) = state.load_pacing().await.unwrap();
    assert_eq!((initial, v0), (PacingState::default(), 0));
    let day = NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    let first = PacingState {
        next_allowed_at: Some(later(10)),
        day: Some(day),
        day_count: 1,
    };
    state.save_pacing(&first, 0).await.unwrap();
    assert!(
        matches!(
            state.save_pacing(&first, 0).await,
            Err(PortError::Conflict(_))
        ),
        "a second first write loses"
    );
    assert_eq!(state.load_pacing().await.unwrap(), (first.clone(), 1));
    let second = PacingState {
        day_count: 2,
        ..first.clone()
    };
    state.save_pacing(&second, 1).await.unwrap();
    assert!(
        matches!(
            state.save_pacing(&first, 1).await,
            Err(PortError::Conflict(_))
        ),
        "a stale writer loses"
    );
    assert_eq!(state.load_pacing().await.unwrap(), (second, 2));

    assert_eq!(state.load_account().await.unwrap(), None);
    let opus = AccountInfo {
        tier: 3,
        active: true,
        anlas: 10_000,
        checked_at: t0,
    };
    state.save_account(&opus).await.unwrap();
    let scroll = AccountInfo {
        tier: 2,
        ..opus.clone()
    };
    state.save_account(&scroll).await.unwrap();
    assert_eq!(state.load_account().await.unwrap(), Some(scroll));

    assert_eq!(state.mean_call_seconds().await.unwrap(), None);
    state.record_call_duration(1000).await.unwrap();
    state.record_call_duration(3000).await.unwrap();
    assert_eq!(state.mean_call_seconds().await.unwrap(), Some(2.0));
}

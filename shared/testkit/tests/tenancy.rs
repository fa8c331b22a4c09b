//! Many clients on one account, over the in-memory adapters: a key's lifecycle (revoke,
//! expire, rotate), its limits (waiting jobs, jobs and Anlas per day, request shape), the
//! global queue bound, and the Anlas ledger (held at submit, settled at the actual cost,
//! released on failure or cancel).

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use naiq_core::admin::{KeyAdmin, KeyChange, KeyPorts};
use naiq_core::api::{ApiError, ApiPorts, ApiService, LimitHit, SubmitResponse, Submitted};
use naiq_core::config::Settings;
use naiq_core::domain::account::{AccountInfo, V5Usage};
use naiq_core::domain::{ApiKey, ApiKeyRecord, Credentials, Status, TaskId};
use naiq_core::ports::{AccountCache, Clock, JobStore, KeyStore, Ledger, UpstreamError};
use naiq_core::worker::{Worker, WorkerPorts};
use naiq_testkit::ManualClock;
use naiq_testkit::memory::*;
use serde_json::json;

struct Stack {
    api: ApiService,
    worker: Worker,
    admin: KeyAdmin,
    clock: Arc<ManualClock>,
    upstream: Arc<MemoryUpstream>,
    state: Arc<MemoryStateStore>,
    jobs: Arc<MemoryJobStore>,
    keys: Arc<MemoryKeyStore>,
    ledger: Arc<MemoryLedger>,
    settings: Settings,
}

const SECRET: [u8; 32] = [1; 32];

fn key() -> ApiKey {
    ApiKey::from_random_bytes(SECRET)
}

fn bearer(key: &ApiKey) -> String {
    format!("Bearer {}", key.expose())
}

async fn stack_with(settings: Settings, change: KeyChange) -> Stack {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 26, 4, 30, 0).unwrap(),
    ));
    let jobs = Arc::new(MemoryJobStore::default());
    let queue = Arc::new(MemoryQueue::default());
    let images = Arc::new(MemoryImageStore::default());
    let keys = Arc::new(MemoryKeyStore::default());
    let state = Arc::new(MemoryStateStore::default());
    let ledger = Arc::new(MemoryLedger::default());
    let upstream = Arc::new(MemoryUpstream::with_clock(clock.clone()));
    let api = ApiService::new(
        ApiPorts {
            jobs: jobs.clone(),
            queue: queue.clone(),
            images: images.clone(),
            keys: keys.clone(),
            pacing: state.clone(),
            call_stats: state.clone(),
            account: state.clone(),
            idempotency: Arc::new(MemoryIdempotencyStore::default()),
            nudge: Arc::new(MemoryNudge::default()),
            ledger: ledger.clone(),
            webhooks: naiq_testkit::memory::unused_webhook_ports(),
        },
        clock.clone(),
        7,
        settings.clone(),
    );
    let worker = Worker::new(
        WorkerPorts {
            jobs: jobs.clone(),
            queue,
            images,
            secrets: Arc::new(MemorySecretStore::with(Credentials::Token {
                token: "pst-server".into(),
            })),
            lease: state.clone(),
            pacing: state.clone(),
            call_stats: state.clone(),
            account: state.clone(),
            upstream: upstream.clone(),
            webhooks: naiq_testkit::memory::unused_webhook_ports(),
            keys: keys.clone(),
            ledger: ledger.clone(),
        },
        clock.clone(),
        clock.clone(),
        11,
        settings.clone(),
        "tenancy-worker",
    );
    let admin = KeyAdmin::new(
        KeyPorts {
            keys: keys.clone(),
            jobs: jobs.clone(),
            ledger: ledger.clone(),
        },
        clock.clone(),
        settings.pacing.clone(),
    );
    // A Scroll account, fresh: no free image, and the worker does not read it again.
    state
        .save_account(&AccountInfo {
            tier: 2,
            active: true,
            anlas: 10_000,
            checked_at: clock.now(),
            v5_usage: None,
        })
        .await
        .unwrap();
    let (created, _) = admin.create("alice", SECRET, change).await.unwrap();
    assert_eq!(created, key());
    Stack {
        api,
        worker,
        admin,
        clock,
        upstream,
        state,
        jobs,
        keys,
        ledger,
        settings,
    }
}

async fn stack(change: KeyChange) -> Stack {
    stack_with(Settings::default(), change).await
}

impl Stack {
    async fn caller(&self) -> Result<ApiKeyRecord, ApiError> {
        self.api.authenticate(Some(&bearer(&key()))).await
    }

    async fn submit(&self, prompt: &str) -> Result<SubmitResponse, ApiError> {
        let body = json!({"prompt": prompt, "model": "nai-v3", "resolution": "portrait"});
        match self
            .api
            .submit(&self.caller().await?, body.to_string().as_bytes())
            .await?
        {
            Submitted::Queued(r) => Ok(*r),
            Submitted::DryRun(_) => panic!("a dry run"),
        }
    }

    async fn drain(&self) {
        self.clock.advance(Duration::seconds(3));
        self.worker
            .drain(self.clock.now() + Duration::seconds(900))
            .await
            .unwrap();
    }

    async fn status(&self, id: &TaskId) -> Status {
        self.jobs.get(id).await.unwrap().unwrap().status()
    }

    fn day(&self) -> chrono::NaiveDate {
        self.settings.pacing.local_day(self.clock.now())
    }
}

fn limit(e: ApiError) -> LimitHit {
    match e {
        ApiError::TooManyRequests(hit) => *hit,
        e => panic!("expected a 429, got {e:?}"),
    }
}

/// 832×1216 at 28 steps on V3, no Opus: 20 Anlas.
const JOB_COST: u64 = 20;

#[tokio::test]
async fn a_revoked_key_is_refused_at_once_and_its_waiting_jobs_are_never_sent() {
    let s = stack(KeyChange::default()).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        ids.push(s.submit(&format!("job {i}")).await.unwrap().task_id);
    }
    let key_id = key().id();
    assert_eq!(
        s.ledger.day(&key_id, s.day()).await.unwrap().held,
        3 * JOB_COST
    );
    let done = s.admin.revoke(&key_id, "left the team").await.unwrap();
    assert_eq!(done.cancelled.len(), 3);
    let err = s.caller().await.unwrap_err();
    assert_eq!(
        (err.code(), err.to_string().as_str()),
        ("unauthorized", "this API key was revoked")
    );
    for id in &ids {
        let job = s.jobs.get(id).await.unwrap().unwrap();
        assert_eq!(job.status(), Status::Revoked);
        let error = job.error().expect("the reason is kept");
        assert_eq!(error.code, "key_revoked");
        assert!(error.message.contains("left the team"), "{error:?}");
    }
    s.drain().await;
    assert_eq!(s.upstream.call_count(), 0, "none was sent");
    let day = s.ledger.day(&key_id, s.day()).await.unwrap();
    assert_eq!((day.held, day.spent), (0, 0), "the holds are released");
    // A revoked key stays revoked: it cannot be changed or rotated back to life.
    assert!(s.admin.rotate(&key_id, [3; 32]).await.is_err());
    assert!(s.admin.update(&key_id, KeyChange::default()).await.is_err());
}

#[tokio::test]
async fn the_worker_skips_a_job_whose_key_was_revoked_after_the_sweep() {
    let s = stack(KeyChange::default()).await;
    let id = s.submit("raced").await.unwrap().task_id;
    // Revoked straight in the store: as if the job was written after revoke's sweep.
    let mut record = s.keys.find(&key().hash()).await.unwrap().unwrap();
    record.revoked_at = Some(s.clock.now());
    record.revoked_reason = Some("compromised".into());
    s.keys.update(&record).await.unwrap();
    s.drain().await;
    assert_eq!(s.upstream.call_count(), 0);
    let job = s.jobs.get(&id).await.unwrap().unwrap();
    assert_eq!(job.status(), Status::Revoked);
    assert_eq!(job.error().unwrap().code, "key_revoked");
    assert!(job.error().unwrap().message.contains("compromised"));
    assert_eq!(s.ledger.day(&key().id(), s.day()).await.unwrap().held, 0);
}

#[tokio::test]
async fn an_expired_key_gets_401_and_its_waiting_job_is_not_sent() {
    let s = stack(KeyChange {
        expires_at: Some(Some(Utc.with_ymd_and_hms(2026, 11, 26, 5, 0, 0).unwrap())),
        ..KeyChange::default()
    })
    .await;
    let id = s.submit("before expiry").await.unwrap().task_id;
    s.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 26, 5, 0, 0).unwrap());
    let err = s.caller().await.unwrap_err();
    assert_eq!(err.to_string(), "this API key has expired");
    s.worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(s.upstream.call_count(), 0);
    assert_eq!(s.status(&id).await, Status::Revoked);
    let job = s.jobs.get(&id).await.unwrap().unwrap();
    assert_eq!(job.error().unwrap().code, "key_expired");
}

#[tokio::test]
async fn rotation_keeps_the_id_and_the_jobs_and_ends_the_old_secret() {
    let s = stack(KeyChange::default()).await;
    let id = s.submit("before rotation").await.unwrap().task_id;
    let (fresh, record) = s.admin.rotate(&key().id(), [4; 32]).await.unwrap();
    assert_eq!(record.key_id, key().id());
    assert!(s.caller().await.is_err(), "the old secret is refused");
    let caller = s.api.authenticate(Some(&bearer(&fresh))).await.unwrap();
    assert_eq!(caller.key_id, key().id());
    let st = s.api.task_status(&caller, id.as_str()).await.unwrap();
    assert_eq!(st.status, Status::Pending, "its jobs are still its own");
}

#[tokio::test]
async fn a_key_with_as_many_jobs_waiting_as_it_may_gets_429_until_one_starts() {
    let s = stack(KeyChange {
        max_waiting: Some(Some(2)),
        ..KeyChange::default()
    })
    .await;
    s.submit("a").await.unwrap();
    s.submit("b").await.unwrap();
    let hit = limit(s.submit("c").await.unwrap_err());
    assert_eq!(
        (hit.code, hit.policy, hit.quota),
        ("waiting_limit", "waiting", 2)
    );
    assert_eq!(
        hit.policy_field(),
        r#""waiting";q=2;qu="concurrent-requests""#
    );
    assert!(hit.ratelimit_field().starts_with(r#""waiting";r=0;t="#));
    assert!(hit.retry_after() >= 1);
    assert_eq!(
        s.ledger.day(&key().id(), s.day()).await.unwrap().jobs,
        2,
        "a refused job holds nothing"
    );
    s.drain().await;
    s.submit("c").await.unwrap();
}

#[tokio::test]
async fn a_daily_anlas_budget_refuses_what_would_pass_it_and_the_ledger_settles() {
    let s = stack(KeyChange {
        anlas_per_day: Some(Some(2 * JOB_COST as u32 + 5)),
        ..KeyChange::default()
    })
    .await;
    let first = s.submit("a").await.unwrap();
    assert_eq!(u64::from(first.cost.total), JOB_COST);
    s.submit("b").await.unwrap();
    let hit = limit(s.submit("c").await.unwrap_err());
    assert_eq!(
        (hit.code, hit.policy, hit.quota, hit.remaining),
        ("anlas_per_day", "anlas-daily", 45, 5)
    );
    assert_eq!(
        hit.policy_field(),
        r#""anlas-daily";q=45;qu="anlas";w=86400"#
    );
    // 04:30 UTC is 12:30 in Singapore: the budget starts again in 11.5 hours.
    assert_eq!(hit.reset_seconds, 11 * 3600 + 1800);
    let caller = s.caller().await.unwrap();
    let usage = s.api.usage(&caller).await.unwrap();
    assert_eq!(
        (
            usage.held,
            usage.spent_today,
            usage.jobs_today,
            usage.waiting
        ),
        (2 * JOB_COST, 0, 2, 2)
    );
    assert_eq!(usage.anlas_remaining, Some(5));
    assert_eq!(usage.limits.anlas_per_day, Some(45));

    s.drain().await;
    let usage = s.api.usage(&caller).await.unwrap();
    assert_eq!(
        (usage.held, usage.spent_today),
        (0, 2 * JOB_COST),
        "settled at the actual cost"
    );
    // Still over: what is spent counts.
    assert_eq!(limit(s.submit("c").await.unwrap_err()).remaining, 5);
    // The next local day starts afresh.
    s.clock.advance(Duration::hours(12));
    s.submit("next day").await.unwrap();
}

#[tokio::test]
async fn a_cancelled_or_failed_job_gives_its_hold_back() {
    let s = stack(KeyChange::default()).await;
    let caller = s.caller().await.unwrap();
    let a = s.submit("cancel me").await.unwrap().task_id;
    s.api.cancel(&caller, a.as_str()).await.unwrap();
    let day = s.ledger.day(&key().id(), s.day()).await.unwrap();
    assert_eq!((day.held, day.spent, day.jobs), (0, 0, 1));
    s.upstream.fail_next(UpstreamError::Status {
        status: 400,
        message: "bad".into(),
    });
    let b = s.submit("fail me").await.unwrap().task_id;
    s.drain().await;
    assert_eq!(s.status(&b).await, Status::Failure);
    let day = s.ledger.day(&key().id(), s.day()).await.unwrap();
    assert_eq!((day.held, day.spent, day.jobs), (0, 0, 2));
}

#[tokio::test]
async fn the_settlement_is_the_price_when_the_job_ran() {
    // At submit the Opus account's V5 usage is spent: the free image is not assumed.
    let s = stack(KeyChange::default()).await;
    let now = s.clock.now();
    let account = |negative: bool| AccountInfo {
        tier: 3,
        active: true,
        anlas: 1000,
        checked_at: now,
        v5_usage: Some(V5Usage {
            percent: if negative { -1 } else { 50 },
            is_negative: negative,
            seconds_to_next_percent: 60,
        }),
    };
    s.state.save_account(&account(true)).await.unwrap();
    let body = json!({"prompt": "v5", "model": "nai-v5", "width": 1024, "height": 1024,
                      "steps": 28});
    let caller = s.caller().await.unwrap();
    let Submitted::Queued(sub) = s
        .api
        .submit(&caller, body.to_string().as_bytes())
        .await
        .unwrap()
    else {
        panic!()
    };
    assert!(sub.cost.total > 0);
    let day = s.ledger.day(&key().id(), s.day()).await.unwrap();
    assert_eq!(day.held, u64::from(sub.cost.total));
    // The usage refilled before the job ran: NovelAI gave the image free.
    s.state.save_account(&account(false)).await.unwrap();
    s.drain().await;
    let day = s.ledger.day(&key().id(), s.day()).await.unwrap();
    assert_eq!((day.held, day.spent), (0, 0));
}

#[tokio::test]
async fn jobs_per_day_and_the_shape_limits_refuse_naming_what() {
    let s = stack(KeyChange {
        jobs_per_day: Some(Some(1)),
        max_samples: Some(Some(1)),
        max_area: Some(Some(1_048_576)),
        models: Some(Some(vec!["nai-diffusion-3".into()])),
        ..KeyChange::default()
    })
    .await;
    let caller = s.caller().await.unwrap();
    for (body, code, field) in [
        (
            json!({"prompt": "x", "model": "nai-v4.5"}),
            "model_not_allowed",
            "model",
        ),
        (
            json!({"prompt": "x", "model": "nai-v3", "width": 1024, "height": 1088}),
            "area_not_allowed",
            "width",
        ),
        (
            json!({"prompt": "x", "model": "nai-v3", "resolution": "small_square", "n_samples": 2}),
            "n_samples_not_allowed",
            "n_samples",
        ),
    ] {
        let err = s
            .api
            .submit(&caller, body.to_string().as_bytes())
            .await
            .unwrap_err();
        assert_eq!((err.code(), err.field()), (code, Some(field)), "{body}");
    }
    s.submit("the one").await.unwrap();
    let hit = limit(s.submit("two").await.unwrap_err());
    assert_eq!(
        (hit.code, hit.policy, hit.quota),
        ("jobs_per_day", "jobs-daily", 1)
    );
    assert_eq!(hit.policy_field(), r#""jobs-daily";q=1;w=86400"#);
}

#[tokio::test]
async fn the_queue_bound_answers_429_with_when_it_frees_up() {
    let settings = Settings {
        queue_depth: 2,
        ..Settings::default()
    };
    let s = stack_with(settings, KeyChange::default()).await;
    s.submit("a").await.unwrap();
    s.submit("b").await.unwrap();
    let hit = limit(s.submit("c").await.unwrap_err());
    assert_eq!(
        (hit.code, hit.policy, hit.quota),
        ("queue_full", "queue", 2)
    );
    assert!(hit.reset_seconds >= 1);
    // The default: three days of quota.
    assert_eq!(Settings::default().max_queue_depth(), 3 * 800);
}

#[tokio::test]
async fn concurrent_submits_never_pass_the_budget_together() {
    let s = stack(KeyChange {
        anlas_per_day: Some(Some(3 * JOB_COST as u32)),
        ..KeyChange::default()
    })
    .await;
    let results = futures::future::join_all((0..8).map(|i| {
        let s = &s;
        async move { s.submit(&format!("race {i}")).await }
    }))
    .await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 3);
    let day = s.ledger.day(&key().id(), s.day()).await.unwrap();
    assert_eq!(day.held, 3 * JOB_COST);
}

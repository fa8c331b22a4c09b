//! The API and worker use cases over the in-memory adapters: submit → drain → status.

use std::sync::Arc;

use chrono::{DateTime, Duration, TimeZone, Utc};
use naiq_core::api::{ApiError, ApiPorts, ApiService, SubmitResponse, Submitted};
use naiq_core::config::Settings;
use naiq_core::domain::account::AccountInfo;
use naiq_core::domain::{ApiKey, ApiKeyRecord, Credentials, Status};
use naiq_core::ports::{AccountCache, Clock, KeyStore, LeaseStore, PacingStore, UpstreamError};
use naiq_core::worker::{StopReason, Worker, WorkerPorts};
use naiq_testkit::memory::*;
use naiq_testkit::{ManualClock, png_of};
use serde_json::json;

struct Stack {
    api: ApiService,
    worker: Worker,
    clock: Arc<ManualClock>,
    upstream: Arc<MemoryUpstream>,
    queue: Arc<MemoryQueue>,
    images: Arc<MemoryImageStore>,
    state: Arc<MemoryStateStore>,
    jobs: Arc<MemoryJobStore>,
    keys: Arc<MemoryKeyStore>,
    ledger: Arc<MemoryLedger>,
    alice: ApiKeyRecord,
    bob: ApiKeyRecord,
}

async fn stack_with(settings: Settings, secret: Option<Credentials>) -> Stack {
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
    let secrets = Arc::new(match secret {
        Some(c) => MemorySecretStore::with(c),
        None => MemorySecretStore::default(),
    });
    let alice = ApiKeyRecord::new(&ApiKey::from_random_bytes([1; 32]), "alice", clock.now());
    let bob = ApiKeyRecord::new(&ApiKey::from_random_bytes([2; 32]), "bob", clock.now());
    keys.insert(&alice).await.unwrap();
    keys.insert(&bob).await.unwrap();
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
            webhooks: unused_webhook_ports(),
            ledger: ledger.clone(),
        },
        clock.clone(),
        7,
        settings.clone(),
    );
    let worker = Worker::new(
        WorkerPorts {
            jobs: jobs.clone(),
            queue: queue.clone(),
            images: images.clone(),
            secrets,
            lease: state.clone(),
            pacing: state.clone(),
            call_stats: state.clone(),
            account: state.clone(),
            upstream: upstream.clone(),
            webhooks: unused_webhook_ports(),
            keys: keys.clone(),
            ledger: ledger.clone(),
        },
        clock.clone(),
        clock.clone(),
        11,
        settings,
        "test-worker",
    );
    Stack {
        api,
        worker,
        clock,
        upstream,
        queue,
        images,
        state,
        jobs,
        keys,
        ledger,
        alice,
        bob,
    }
}

/// The answer to a submit that was queued (not a dry run).
trait Queued {
    fn queued(self) -> SubmitResponse;
}

impl Queued for Submitted {
    fn queued(self) -> SubmitResponse {
        match self {
            Submitted::Queued(r) => *r,
            Submitted::DryRun(d) => panic!("expected a queued job, got a dry run: {d:?}"),
        }
    }
}

async fn stack() -> Stack {
    stack_with(
        Settings::default(),
        Some(Credentials::Token {
            token: "pst-server".into(),
        }),
    )
    .await
}

fn seed_body() -> Vec<u8> {
    json!({"prompt": "1girl, cat ears", "model": "nai-v3", "resolution": "portrait"})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn a_job_goes_from_submit_to_success_with_images() {
    let s = stack().await;
    let sub = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    assert!(sub.success);
    assert_eq!(
        (
            sub.queue_info.as_ref().unwrap().position,
            sub.queue_info.as_ref().unwrap().total_pending
        ),
        (1, 1)
    );
    assert_eq!(sub.rate_limit_info.as_ref().unwrap().remaining, 800);
    let before = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(before.status, Status::Pending);
    assert!(!before.done && before.image_url.is_none());
    assert!(before.seed > 0, "a seed is drawn and recorded");

    s.clock.advance(Duration::seconds(3));
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(
        (report.succeeded, report.stopped),
        (1, StopReason::QueueEmpty)
    );

    let done = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(done.status, Status::Success);
    assert!(done.done && done.success);
    assert_eq!(done.image_urls.len(), 1);
    assert_eq!(
        done.image_url.as_deref(),
        done.image_urls.first().map(String::as_str)
    );
    assert!(done.started_at.is_some() && done.finished_at.is_some());
    let png = s
        .images
        .get_sync(&format!("images/{}/0.png", sub.task_id))
        .expect("stored");
    assert_eq!(
        naiq_core::novelai::archive::check_png(&png).unwrap(),
        (832, 1216)
    );
    let sent = s.upstream.calls.lock().unwrap()[0].clone();
    assert_eq!(sent["model"], "nai-diffusion-3");
    assert_eq!(sent["parameters"]["seed"], done.seed);
    assert!(s.queue.is_empty());
    assert_eq!(s.state.load_pacing().await.unwrap().0.day_count, 1);
}

#[tokio::test]
async fn another_keys_task_is_not_found() {
    let s = stack().await;
    let sub = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    let err = s
        .api
        .task_status(&s.bob, sub.task_id.as_str())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found");
    let err = s.api.task_status(&s.alice, "not-a-task").await.unwrap_err();
    assert_eq!(err.code(), "not_found");
}

#[tokio::test]
async fn keys_authenticate_by_hash_only() {
    let s = stack().await;
    let key = ApiKey::from_random_bytes([1; 32]);
    let ok = s
        .api
        .authenticate(Some(&format!("Bearer {}", key.expose())))
        .await
        .unwrap();
    assert_eq!(ok.key_id, s.alice.key_id);
    for bad in [
        None,
        Some(""),
        Some("Bearer "),
        Some("Basic abc"),
        Some("Bearer naiq_wrong"),
    ] {
        let err = s.api.authenticate(bad).await.unwrap_err();
        assert_eq!(err.code(), "unauthorized", "{bad:?}");
    }
}

#[tokio::test]
async fn bad_input_is_rejected_and_nothing_is_queued() {
    let s = stack().await;
    // (The body's byte limit is the API function's layer; its tests check the 413.)
    for (body, code, field) in [
        (
            json!({"model": "nai-v3"}).to_string(),
            "missing_parameter",
            Some("prompt"),
        ),
        (
            json!({"prompt": "x", "model": "nai-v9"}).to_string(),
            "invalid_parameter",
            Some("model"),
        ),
        (
            json!({"prompt": "x", "steps": 0}).to_string(),
            "invalid_parameter",
            Some("steps"),
        ),
        (
            json!({"prompt": "x", "steps": 51}).to_string(),
            "invalid_parameter",
            Some("steps"),
        ),
        (
            json!({"prompt": "x", "width": 500, "height": 512}).to_string(),
            "invalid_parameter",
            Some("width"),
        ),
        ("{not json".to_string(), "malformed_json", None),
    ] {
        let err = s.api.submit(&s.alice, body.as_bytes()).await.unwrap_err();
        assert!(matches!(err, ApiError::Invalid(_)), "{body}: {err:?}");
        assert_eq!(err.code(), code, "{body}");
        assert_eq!(err.field(), field);
    }
    assert!(s.queue.is_empty());
}

#[tokio::test]
async fn test_requests_need_the_setting_and_the_key() {
    let body = json!({"prompt": "x", "is_test_request": true}).to_string();
    let s = stack().await;
    let err = s.api.submit(&s.alice, body.as_bytes()).await.unwrap_err();
    assert!(matches!(
        err,
        ApiError::Forbidden {
            code: "test_requests_disabled",
            ..
        }
    ));
    let settings = Settings {
        allow_test_requests: true,
        ..Settings::default()
    };
    let mut s = stack_with(settings, Some(Credentials::Token { token: "t".into() })).await;
    let err = s.api.submit(&s.alice, body.as_bytes()).await.unwrap_err();
    assert!(matches!(
        err,
        ApiError::Forbidden {
            code: "test_requests_not_allowed",
            ..
        }
    ));
    s.alice.allow_test = true;
    let ok = s
        .api
        .submit(&s.alice, body.as_bytes())
        .await
        .unwrap()
        .queued();
    assert_eq!(
        s.api
            .task_status(&s.alice, ok.task_id.as_str())
            .await
            .unwrap()
            .priority,
        "test"
    );
    assert!(!s.queue.is_empty());
}

#[tokio::test]
async fn upstream_failures_end_in_failure_with_the_code() {
    let s = stack().await;
    s.upstream.fail_next(UpstreamError::Status {
        status: 402,
        message: "Insufficient Anlas".into(),
    });
    let sub = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.failed, 1);
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(st.status, Status::Failure);
    assert!(st.done && !st.success);
    assert_eq!(st.error_code.as_deref(), Some("insufficient_anlas"));
    assert!(st.error.unwrap().contains("Insufficient Anlas"));
    assert!(
        s.queue.is_empty(),
        "a failed job's message is not left behind"
    );
}

#[tokio::test]
async fn without_credentials_jobs_fail_clearly() {
    let s = stack_with(Settings::default(), None).await;
    let sub = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    s.worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(st.error_code.as_deref(), Some("no_credentials"));
    assert_eq!(s.upstream.call_count(), 0);
}

#[tokio::test]
async fn per_request_credentials_are_used_and_never_stored() {
    let s = stack().await;
    let body =
        json!({"prompt": "x", "auth_type": "token", "token": "pst-per-request-secret"}).to_string();
    let sub = s
        .api
        .submit(&s.alice, body.as_bytes())
        .await
        .unwrap()
        .queued();
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert!(
        !serde_json::to_string(&st)
            .unwrap()
            .contains("per-request-secret")
    );
    s.worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(s.upstream.call_count(), 1);
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(st.status, Status::Success);
}

#[tokio::test]
async fn jobs_run_one_at_a_time_in_lane_order() {
    let s = stack().await;
    let mut ids = Vec::new();
    for priority in ["low", "normal", "high", "normal"] {
        let body = json!({"prompt": priority, "priority": priority}).to_string();
        ids.push(
            s.api
                .submit(&s.alice, body.as_bytes())
                .await
                .unwrap()
                .queued()
                .task_id,
        );
        s.clock.advance(Duration::milliseconds(5));
    }
    let low = s.api.task_status(&s.alice, ids[0].as_str()).await.unwrap();
    assert_eq!(low.queue_info.unwrap().position, 4);
    s.worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    let prompts: Vec<String> = s
        .upstream
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["input"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(prompts, ["high", "normal", "normal", "low"]);
    assert!(
        !s.upstream
            .overlapped
            .load(std::sync::atomic::Ordering::SeqCst)
    );
}

#[tokio::test]
async fn a_held_lease_stops_a_second_drain() {
    let s = stack().await;
    s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    let now = s.clock.now();
    assert!(
        s.state
            .acquire_lease("worker", "someone-else", now, now + Duration::seconds(60))
            .await
            .unwrap()
    );
    let report = s.worker.drain(now + Duration::seconds(900)).await.unwrap();
    assert_eq!(report.stopped, StopReason::LeaseHeld);
    assert_eq!(s.upstream.call_count(), 0);
    s.clock.advance(Duration::seconds(61));
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.succeeded, 1, "an expired lease frees itself");
}

#[tokio::test]
async fn a_drain_stops_before_the_deadline() {
    let s = stack().await;
    s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(60))
        .await
        .unwrap();
    assert_eq!(report.stopped, StopReason::OutOfTime);
    assert_eq!(s.upstream.call_count(), 0);
    assert!(!s.queue.is_empty(), "the job waits for the next invocation");
}

#[tokio::test]
async fn calls_keep_the_interval_and_the_cooldown() {
    let s = stack().await;
    for i in 0..3 {
        let body = json!({"prompt": format!("job {i}")}).to_string();
        s.api
            .submit(&s.alice, body.as_bytes())
            .await
            .unwrap()
            .queued();
    }
    s.upstream.fail_next(UpstreamError::Status {
        status: 500,
        message: "boom".into(),
    });
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!((report.succeeded, report.failed, report.retried), (3, 0, 1));
    let times = s.upstream.started_at.lock().unwrap().clone();
    let prompts: Vec<String> = s
        .upstream
        .calls
        .lock()
        .unwrap()
        .iter()
        .map(|b| b["input"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        prompts,
        ["job 0", "job 0", "job 1", "job 2"],
        "the failed job is retried first, in its place"
    );
    // The first call failed: the next waits a cooldown (5-12 s) measured from its end.
    let gap0 = (times[1] - times[0]).num_milliseconds();
    assert!((5_000..=12_000).contains(&gap0), "cooldown gap {gap0} ms");
    for w in times[1..].windows(2) {
        let gap = (w[1] - w[0]).num_milliseconds();
        assert!((8_000..=15_000).contains(&gap), "interval gap {gap} ms");
    }
    assert_eq!(
        s.state.load_pacing().await.unwrap().0.day_count,
        4,
        "every attempt counts"
    );
}

#[tokio::test]
async fn retryable_failures_retry_up_to_max_attempts() {
    let s = stack().await;
    for status in [429, 502, 503] {
        s.upstream.fail_next(UpstreamError::Status {
            status,
            message: format!("failure {status}"),
        });
    }
    let sub = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!((report.retried, report.failed), (2, 1));
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!((st.status, st.attempts), (Status::Failure, 3));
    assert_eq!(st.error_code.as_deref(), Some("upstream_error"));
    assert_eq!(s.upstream.call_count(), 3);
    assert!(s.queue.is_empty(), "nothing is left behind");
    // A network failure, then success.
    s.upstream
        .fail_next(UpstreamError::Network("connection reset".into()));
    let sub = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    s.worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!((st.status, st.attempts), (Status::Success, 2));
}

#[tokio::test]
async fn a_novelai_error_that_quotes_a_token_is_scrubbed_before_the_job_keeps_it() {
    let s = stack().await;
    let token = "pst-q8Zr2KwX0vNnT4yLbE6uJmHcA9sDfG1iOpR5tQ3wY7eU";
    s.upstream.fail_next(UpstreamError::Status {
        status: 401,
        message: format!("Invalid accessToken {token} (Bearer {token})"),
    });
    let sub = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    s.worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(st.status, Status::Failure);
    let error = st.error.unwrap_or_default();
    assert!(!error.contains("q8Zr2KwX"), "{error}");
    assert!(error.contains("Invalid accessToken <redacted>"), "{error}");
}

#[tokio::test]
async fn a_retry_waits_in_state_retry_between_invocations() {
    let s = stack().await;
    s.upstream.fail_next(UpstreamError::Status {
        status: 429,
        message: "Concurrent generation is locked".into(),
    });
    let sub = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    // An invocation too short to wait out the cooldown: the retry stays queued.
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(135))
        .await
        .unwrap();
    assert_eq!(report.retried, 1);
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(st.status, Status::Retry);
    assert!(!st.done);
    assert_eq!(st.error_code.as_deref(), Some("upstream_busy"));
    assert_eq!(st.queue_info.unwrap().position, 1);
    s.clock.advance(Duration::seconds(20));
    s.worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(st.status, Status::Success);
    assert!(st.error.is_none());
}

#[tokio::test]
async fn outside_the_windows_jobs_wait_with_an_honest_eta() {
    let s = stack().await;
    // 10:00 Singapore time: between the 06-09 and 12-14 windows.
    s.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 0).unwrap());
    let sub = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    let noon = Utc.with_ymd_and_hms(2026, 11, 26, 4, 0, 0).unwrap();
    assert_eq!(
        sub.queue_info.as_ref().unwrap().estimated_start_at,
        "2026-11-26T04:00:00.000Z"
    );
    assert_eq!(sub.queue_info.as_ref().unwrap().estimated_wait, 2 * 3600);
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.stopped, StopReason::NextSlotTooLate);
    assert_eq!(report.next_start, Some(noon));
    assert_eq!(s.upstream.call_count(), 0);
    assert!(!s.queue.is_empty(), "the job stays queued");
    let rl = s.api.rate_limit_status().await.unwrap();
    assert!(!rl.in_allowed_window);
    assert_eq!(rl.next_window_start, "2026-11-26T04:00:00.000Z");
    assert_eq!(
        (rl.singapore_time.date.as_str(), rl.singapore_time.hour),
        ("2026-11-26", 10)
    );
    assert_eq!(rl.windows, ["06:00-09:00", "12:00-14:00", "19:00-23:00"]);
    assert_eq!(
        serde_json::to_value(&rl.allowed_windows).unwrap(),
        json!([[6, 9], [12, 14], [19, 23]]),
        "the seed's hour pairs, integers"
    );
    assert_eq!(rl.window_description, "6:00-9:00, 12:00-14:00, 19:00-23:00");
    assert_eq!(rl.timezone, "Asia/Singapore");
    // At noon it runs.
    s.clock.set(noon);
    let report = s.worker.drain(noon + Duration::seconds(900)).await.unwrap();
    assert_eq!(report.succeeded, 1);
}

#[tokio::test]
async fn the_daily_limit_holds_and_moves_the_rest_to_the_next_day() {
    let settings = Settings {
        pacing: naiq_core::domain::pacing::PacingConfig {
            daily_limit: 2,
            ..Default::default()
        },
        ..Settings::default()
    };
    let s = stack_with(settings, Some(Credentials::Token { token: "t".into() })).await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let body = json!({"prompt": format!("job {i}")}).to_string();
        ids.push(
            s.api
                .submit(&s.alice, body.as_bytes())
                .await
                .unwrap()
                .queued()
                .task_id,
        );
    }
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.succeeded, 2);
    assert_eq!(
        report.wait_reason,
        Some(naiq_core::domain::pacing::WaitReason::QuotaSpent)
    );
    let st = s.api.task_status(&s.alice, ids[2].as_str()).await.unwrap();
    assert_eq!(st.status, Status::Pending);
    // The next day's first window: 06:00 Singapore time on the 27th.
    assert_eq!(
        st.queue_info.unwrap().estimated_start_at,
        "2026-11-26T22:00:00.000Z"
    );
    let rl = s.api.rate_limit_status().await.unwrap();
    assert_eq!((rl.requests_today, rl.remaining), (2, 0));
}

#[tokio::test]
async fn cancel_revokes_waiting_jobs_only() {
    let s = stack().await;
    let a = s
        .api
        .submit(&s.alice, &seed_body())
        .await
        .unwrap()
        .queued()
        .task_id;
    let b = s
        .api
        .submit(&s.alice, &seed_body())
        .await
        .unwrap()
        .queued()
        .task_id;
    assert_eq!(
        s.api.cancel(&s.bob, b.as_str()).await.unwrap_err().code(),
        "not_found"
    );
    let c = s.api.cancel(&s.alice, b.as_str()).await.unwrap();
    assert_eq!(c.status, Status::Revoked);
    assert_eq!(
        s.api.cancel(&s.alice, b.as_str()).await.unwrap_err().code(),
        "conflict"
    );
    let st = s.api.task_status(&s.alice, b.as_str()).await.unwrap();
    assert!(st.done && !st.success && st.status == Status::Revoked);
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    // The cancelled job's message is dropped when the worker reaches it: a drain goes on
    // while a message is left, even when no job waits.
    assert_eq!((report.succeeded, report.skipped), (1, 1));
    assert!(s.queue.is_empty());
    s.clock.advance(Duration::seconds(60));
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!((report.succeeded, report.skipped), (0, 0));
    assert_eq!(
        s.upstream.call_count(),
        1,
        "the cancelled job never went upstream"
    );
    assert_eq!(
        s.api.cancel(&s.alice, a.as_str()).await.unwrap_err().code(),
        "conflict"
    );
}

#[tokio::test]
async fn queue_status_shows_only_the_callers_positions() {
    let s = stack().await;
    let a1 = s
        .api
        .submit(&s.alice, &seed_body())
        .await
        .unwrap()
        .queued()
        .task_id;
    s.clock.advance(Duration::milliseconds(5));
    let b1 = s
        .api
        .submit(&s.bob, &seed_body())
        .await
        .unwrap()
        .queued()
        .task_id;
    s.clock.advance(Duration::milliseconds(5));
    let a2 = s
        .api
        .submit(&s.alice, &seed_body())
        .await
        .unwrap()
        .queued()
        .task_id;
    let q = s.api.queue_status(&s.alice).await.unwrap();
    assert_eq!(q.queue_status.total_pending, 3);
    assert_eq!(q.queue_status.queue_positions.len(), 2);
    assert_eq!(q.queue_status.queue_positions[a1.as_str()], 1);
    assert_eq!(q.queue_status.queue_positions[a2.as_str()], 3);
    assert!(!q.queue_status.queue_positions.contains_key(b1.as_str()));
    assert_eq!(q.active_tasks, 0);
    assert!(q.active_task_ids.is_empty());
}

#[tokio::test]
async fn a_job_whose_message_dies_is_marked_failed_with_the_reason() {
    use naiq_core::ports::JobQueue;
    let s = stack().await;
    let sub = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    // Its message keeps failing delivery (a worker crashing on it, say).
    for _ in 0..naiq_core::ports::MAX_RECEIVE_COUNT {
        let d = s
            .queue
            .receive(&naiq_core::domain::Lane::ALL)
            .await
            .unwrap()
            .unwrap();
        s.queue.release(&d).await.unwrap();
    }
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.failed, 1);
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(st.status, Status::Failure);
    assert_eq!(st.error_code.as_deref(), Some("dead_letter"));
    assert_eq!(s.upstream.call_count(), 0);
}

#[tokio::test]
async fn a_dry_run_shows_the_body_and_the_cost_and_queues_nothing() {
    let s = stack().await;
    let png = naiq_testkit::png_of(64, 64);
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &png);
    let body = json!({"prompt": "1girl", "model": "nai-v3", "resolution": "portrait", "steps": 28,
        "image": b64, "strength": 0.5, "dry_run": true, "auth_type": "token", "token": "pst-dry-secret"});
    let out = s
        .api
        .submit(&s.alice, body.to_string().as_bytes())
        .await
        .unwrap();
    let Submitted::DryRun(d) = out else {
        panic!("not a dry run")
    };
    assert!(d.dry_run && d.success);
    assert_eq!(d.request["model"], "nai-diffusion-3");
    assert_eq!(d.request["action"], "img2img");
    let shown = d.request["parameters"]["image"].as_str().unwrap();
    assert!(
        shown.starts_with('<') && shown.ends_with(" base64 characters>"),
        "image bytes are elided: {shown}"
    );
    // 832x1216 at 28 steps is 20 Anlas; strength 0.5 halves it; no Opus discount assumed
    // for per-request credentials.
    assert_eq!((d.cost.per_image, d.cost.total), (10, 10));
    let text = serde_json::to_string(&d).unwrap();
    assert!(!text.contains("pst-dry-secret"));
    assert!(s.queue.is_empty());
    assert_eq!(s.images.object_count(), 0, "the input image was not stored");
    assert_eq!(
        s.api
            .queue_status(&s.alice)
            .await
            .unwrap()
            .queue_status
            .total_pending,
        0
    );
}

#[tokio::test]
async fn costs_know_the_opus_free_image() {
    let s = stack().await;
    let body = json!({"prompt": "x", "model": "nai-v3", "resolution": "portrait", "steps": 28})
        .to_string();
    let sub = s
        .api
        .submit(&s.alice, body.as_bytes())
        .await
        .unwrap()
        .queued();
    assert_eq!(
        (sub.cost.per_image, sub.cost.total),
        (20, 20),
        "not known to be Opus"
    );
    s.state
        .save_account(&AccountInfo {
            tier: 3,
            active: true,
            anlas: 100,
            v5_usage: None,
            checked_at: s.clock.now(),
        })
        .await
        .unwrap();
    let sub = s
        .api
        .submit(&s.alice, body.as_bytes())
        .await
        .unwrap()
        .queued();
    assert_eq!((sub.cost.total, sub.cost.opus_free), (0, true));
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(
        st.cost.total, 0,
        "status shows the cost worked out at submit"
    );
}

fn b64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

/// A 128x128 mask: black with one white pixel at (13, 21).
fn one_pixel_mask() -> Vec<u8> {
    let img = image::RgbaImage::from_fn(128, 128, |x, y| {
        image::Rgba(if (x, y) == (13, 21) {
            [255, 255, 255, 255]
        } else {
            [0, 0, 0, 255]
        })
    });
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

fn inpaint_body(extra: serde_json::Value) -> Vec<u8> {
    let mut body = json!({"prompt": "1girl, red hair", "model": "nai-v4.5", "width": 128,
        "height": 128, "image": b64(&png_of(128, 128)), "mask": b64(&one_pixel_mask()),
        "strength": 0.6, "noise": 0.1});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body.to_string().into_bytes()
}

#[tokio::test]
async fn an_inpainting_job_sends_infill_with_the_stored_mask() {
    let s = stack().await;
    let sub = s
        .api
        .submit(&s.alice, &inpaint_body(json!({})))
        .await
        .unwrap()
        .queued();
    // 128x128 is billed as 65,536 px: base 3 × 0.6 → 2 (the floor).
    assert_eq!(sub.cost.per_image, 2);
    let id = sub.task_id.as_str();
    let image = s
        .images
        .get_sync(&format!("inputs/{id}"))
        .expect("image stored");
    let mask = s
        .images
        .get_sync(&format!("inputs/{id}-mask"))
        .expect("mask stored");
    assert_eq!(s.images.object_count(), 2);
    let stored = image::load_from_memory(&mask).unwrap().to_luma8();
    assert_eq!(stored.dimensions(), (128, 128));
    assert_eq!(stored.get_pixel(8, 16).0[0], 255, "snapped to its 8x8 cell");
    assert_eq!(stored.get_pixel(16, 16).0[0], 0);

    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.succeeded, 1);
    let sent = s.upstream.calls.lock().unwrap()[0].clone();
    assert_eq!(sent["action"], "infill");
    assert_eq!(sent["model"], "nai-diffusion-4-5-full-inpainting");
    let p = &sent["parameters"];
    assert_eq!(p["mask"], b64(&mask));
    assert_eq!(p["image"], b64(&image));
    assert_eq!(p["add_original_image"], true);
    assert_eq!(p["strength"], 0.6);
    assert_eq!(p["inpaintImg2ImgStrength"], 0.6);
    let done = s.api.task_status(&s.alice, id).await.unwrap();
    assert_eq!(done.status, Status::Success);
    assert_eq!(
        done.model, "nai-diffusion-4-5-full",
        "the job keeps the base model"
    );
}

/// An image store that has lost every mask.
struct MasksLost(Arc<MemoryImageStore>);

#[async_trait::async_trait]
impl naiq_core::ports::ImageStore for MasksLost {
    async fn put(
        &self,
        key: &str,
        bytes: bytes::Bytes,
        content_type: &str,
    ) -> naiq_core::ports::PortResult<()> {
        self.0.put(key, bytes, content_type).await
    }
    async fn get(&self, key: &str) -> naiq_core::ports::PortResult<Option<bytes::Bytes>> {
        if key.ends_with("-mask") {
            return Ok(None);
        }
        self.0.get(key).await
    }
    async fn url(&self, key: &str, ttl_seconds: u64) -> naiq_core::ports::PortResult<String> {
        self.0.url(key, ttl_seconds).await
    }
}

#[tokio::test]
async fn a_missing_mask_fails_the_job_without_a_call() {
    let s = stack().await;
    let sub = s
        .api
        .submit(&s.alice, &inpaint_body(json!({})))
        .await
        .unwrap()
        .queued();
    let worker = Worker::new(
        WorkerPorts {
            jobs: s.jobs.clone(),
            queue: s.queue.clone(),
            images: Arc::new(MasksLost(s.images.clone())),
            secrets: Arc::new(MemorySecretStore::with(Credentials::Token {
                token: "pst-server".into(),
            })),
            lease: s.state.clone(),
            pacing: s.state.clone(),
            call_stats: s.state.clone(),
            account: s.state.clone(),
            upstream: s.upstream.clone(),
            webhooks: unused_webhook_ports(),
            keys: s.keys.clone(),
            ledger: s.ledger.clone(),
        },
        s.clock.clone(),
        s.clock.clone(),
        11,
        Settings::default(),
        "masks-lost",
    );
    let report = worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.failed, 1);
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(st.status, Status::Failure);
    assert_eq!(st.error_code.as_deref(), Some("input_missing"));
    assert_eq!(s.upstream.call_count(), 0);
}

#[tokio::test]
async fn an_inpainting_dry_run_elides_the_mask_and_stores_nothing() {
    let s = stack().await;
    let out = s
        .api
        .submit(&s.alice, &inpaint_body(json!({"dry_run": true})))
        .await
        .unwrap();
    let Submitted::DryRun(d) = out else {
        panic!("not a dry run")
    };
    assert_eq!(d.request["action"], "infill");
    assert_eq!(d.request["model"], "nai-diffusion-4-5-full-inpainting");
    for field in ["image", "mask"] {
        let shown = d.request["parameters"][field].as_str().unwrap();
        assert!(
            shown.starts_with('<') && shown.ends_with(" base64 characters>"),
            "{field} elided: {shown}"
        );
    }
    assert_eq!(s.images.object_count(), 0);
    assert!(s.queue.is_empty());
}

#[tokio::test]
async fn a_mask_without_an_image_or_on_a_legacy_model_is_rejected() {
    let s = stack().await;
    let body = json!({"prompt": "x", "mask": b64(&one_pixel_mask())}).to_string();
    let e = s.api.submit(&s.alice, body.as_bytes()).await.unwrap_err();
    assert_eq!((e.code(), e.field()), ("invalid_parameter", Some("mask")));
    let e = s
        .api
        .submit(&s.alice, &inpaint_body(json!({"model": "nai-v2"})))
        .await
        .unwrap_err();
    assert_eq!((e.code(), e.field()), ("invalid_parameter", Some("mask")));
    assert_eq!(
        e.to_string(),
        "inpainting is not available for nai-diffusion-2"
    );
    assert_eq!(s.images.object_count(), 0);
    assert!(s.queue.is_empty());
}

#[tokio::test]
async fn the_worker_refreshes_the_account_hourly_and_after_a_402() {
    use naiq_core::domain::account::V5Usage;
    use std::sync::atomic::Ordering::SeqCst;
    let s = stack().await;
    let calls = || s.upstream.subscription_calls.load(SeqCst);
    *s.upstream.account.lock().unwrap() = AccountInfo {
        tier: 3,
        active: true,
        anlas: 500,
        v5_usage: Some(V5Usage {
            percent: -1,
            is_negative: true,
            seconds_to_next_percent: 600,
        }),
        checked_at: DateTime::<Utc>::UNIX_EPOCH,
    };
    let drain = || s.worker.drain(s.clock.now() + Duration::seconds(900));
    drain().await.unwrap();
    assert_eq!(calls(), 1, "nothing cached yet: read it");
    let cached = s.state.load_account().await.unwrap().unwrap();
    assert_eq!((cached.anlas, cached.checked_at), (500, s.clock.now()));
    assert!(cached.v5_usage.unwrap().is_negative);
    s.clock.advance(Duration::minutes(59));
    drain().await.unwrap();
    assert_eq!(calls(), 1, "fresh for an hour");
    // A V5 job is priced without the free image now that the usage is spent.
    let sub = s
        .api
        .submit(
            &s.alice,
            br#"{"prompt": "x", "model": "nai-v5", "width": 1024, "height": 1024, "steps": 28}"#,
        )
        .await
        .unwrap()
        .queued();
    assert_eq!((sub.cost.opus_free, sub.cost.total), (false, 30));
    // Out of Anlas: read the account at once.
    s.upstream.fail_next(UpstreamError::Status {
        status: 402,
        message: "Not enough Anlas".into(),
    });
    drain().await.unwrap();
    assert_eq!(calls(), 2, "read again after the 402");
    s.clock.advance(Duration::minutes(61));
    drain().await.unwrap();
    assert_eq!(calls(), 3, "and again an hour later");
    let status = s.api.rate_limit_status().await.unwrap();
    let account = serde_json::to_value(status.account).unwrap();
    assert_eq!(account["tier_name"], "Opus");
    assert_eq!(account["v5_usage"]["free_v5_images"], false);
    let text = account.to_string();
    assert!(
        !text.contains("pst-"),
        "no credential in the status: {text}"
    );
}

#[tokio::test]
async fn an_idempotency_key_replays_refuses_another_body_and_is_per_api_key() {
    use naiq_core::api::Idempotent;
    let s = stack().await;
    let body = seed_body();
    let first = s
        .api
        .submit_idempotent(&s.alice, &body, Some("retry-1"))
        .await
        .unwrap();
    let Idempotent::Fresh(Submitted::Queued(first)) = first else {
        panic!("a fresh answer")
    };
    let again = s
        .api
        .submit_idempotent(&s.alice, &body, Some("retry-1"))
        .await
        .unwrap();
    let Idempotent::Replayed(replayed) = again else {
        panic!("the first answer again")
    };
    assert_eq!(replayed["task_id"], first.task_id.as_str());
    assert_eq!(
        s.queue.len(naiq_core::domain::Lane::Normal),
        1,
        "queued once"
    );
    let other = s
        .api
        .submit_idempotent(&s.alice, br#"{"prompt": "another"}"#, Some("retry-1"))
        .await
        .unwrap_err();
    assert_eq!(
        (other.code(), other.field()),
        ("idempotency_key_reused", Some("Idempotency-Key"))
    );
    // Another API key with the same Idempotency-Key is another request.
    let bobs = s
        .api
        .submit_idempotent(&s.bob, &body, Some("retry-1"))
        .await
        .unwrap();
    assert!(matches!(bobs, Idempotent::Fresh(_)));
    // A refused request gives its key up: the corrected retry runs.
    let bad = s
        .api
        .submit_idempotent(&s.alice, br#"{"model": "nai-v3"}"#, Some("retry-2"))
        .await
        .unwrap_err();
    assert_eq!(bad.field(), Some("prompt"));
    let fixed = s
        .api
        .submit_idempotent(&s.alice, br#"{"model": "nai-v3"}"#, Some("retry-2"))
        .await;
    assert!(
        fixed.is_err(),
        "the same bad body is refused again, not replayed"
    );
    for bad_key in ["", &"k".repeat(256), "tab\there"] {
        let e = s
            .api
            .submit_idempotent(&s.alice, &body, Some(bad_key))
            .await
            .unwrap_err();
        assert_eq!(e.field(), Some("Idempotency-Key"), "{bad_key:?}");
    }
}

/// Call statistics that cannot be read, as a backend hiccup after the job is queued (the
/// mean call time is the one read a submit makes after it queued the job).
struct CallStatsFail;

#[async_trait::async_trait]
impl naiq_core::ports::CallStats for CallStatsFail {
    async fn record_call_duration(&self, _millis: u64) -> naiq_core::ports::PortResult<()> {
        Ok(())
    }
    async fn mean_call_seconds(&self) -> naiq_core::ports::PortResult<Option<f64>> {
        Err(naiq_core::ports::PortError::backend(
            "DynamoDB",
            "throttled (injected)",
        ))
    }
}

#[tokio::test]
async fn a_queued_job_is_answered_200_even_when_a_later_read_fails() {
    let s = stack().await;
    let keys = Arc::new(MemoryKeyStore::default());
    keys.insert(&s.alice).await.unwrap();
    let state = Arc::new(MemoryStateStore::default());
    let api = ApiService::new(
        ApiPorts {
            jobs: s.jobs.clone(),
            queue: s.queue.clone(),
            images: s.images.clone(),
            keys,
            pacing: state.clone(),
            call_stats: Arc::new(CallStatsFail),
            account: state,
            idempotency: Arc::new(MemoryIdempotencyStore::default()),
            nudge: Arc::new(MemoryNudge::default()),
            webhooks: unused_webhook_ports(),
            ledger: Arc::new(MemoryLedger::default()),
        },
        s.clock.clone(),
        3,
        Settings::default(),
    );
    let sub = api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    assert!(sub.success);
    assert!(
        sub.queue_info.is_none(),
        "the position is unknown, not an error"
    );
    assert!(sub.warnings.iter().any(|w| w.field == "queue_info"));
    assert!(
        sub.rate_limit_info.is_some(),
        "the day's count was read before"
    );
    assert_eq!(sub.status_url, format!("/task_status/{}", sub.task_id));
    assert_eq!(
        s.queue.len(naiq_core::domain::Lane::Normal),
        1,
        "and it is queued"
    );
}

/// A jobs table that cannot write one job (an item grown too large, say): every write of
/// that task id fails.
struct OneJobUnwritable {
    inner: Arc<MemoryJobStore>,
    poison: std::sync::Mutex<Option<naiq_core::domain::TaskId>>,
}

#[async_trait::async_trait]
impl naiq_core::ports::JobStore for OneJobUnwritable {
    async fn insert(&self, job: &naiq_core::domain::Job) -> naiq_core::ports::PortResult<()> {
        self.inner.insert(job).await
    }
    async fn get(
        &self,
        id: &naiq_core::domain::TaskId,
    ) -> naiq_core::ports::PortResult<Option<naiq_core::domain::Job>> {
        self.inner.get(id).await
    }
    async fn replace(
        &self,
        job: &naiq_core::domain::Job,
        expected: Status,
    ) -> naiq_core::ports::PortResult<()> {
        if self.poison.lock().unwrap().as_ref() == Some(job.task_id()) {
            return Err(naiq_core::ports::PortError::backend(
                "DynamoDB",
                "item size has exceeded the maximum allowed size (injected)",
            ));
        }
        self.inner.replace(job, expected).await
    }
    async fn own_ahead(&self, job: &naiq_core::domain::Job) -> naiq_core::ports::PortResult<u64> {
        self.inner.own_ahead(job).await
    }
    async fn total_pending(&self) -> naiq_core::ports::PortResult<u64> {
        self.inner.total_pending().await
    }
    async fn waiting_before(
        &self,
        before: DateTime<Utc>,
        limit: usize,
    ) -> naiq_core::ports::PortResult<Vec<naiq_core::domain::Job>> {
        self.inner.waiting_before(before, limit).await
    }
    async fn queue_snapshot(
        &self,
    ) -> naiq_core::ports::PortResult<naiq_core::domain::turns::QueueSnapshot> {
        self.inner.queue_snapshot().await
    }
    async fn active_for_owner(
        &self,
        owner: &str,
    ) -> naiq_core::ports::PortResult<Vec<naiq_core::domain::Job>> {
        self.inner.active_for_owner(owner).await
    }
    async fn list_for_owner(
        &self,
        owner: &str,
        status: Option<Status>,
        limit: usize,
        cursor: Option<&str>,
    ) -> naiq_core::ports::PortResult<naiq_core::ports::JobPage> {
        self.inner
            .list_for_owner(owner, status, limit, cursor)
            .await
    }
}

#[tokio::test]
async fn one_job_that_cannot_be_written_stops_neither_the_drain_nor_the_sweep() {
    use naiq_core::ports::JobQueue;
    let s = stack().await;
    let jobs = Arc::new(OneJobUnwritable {
        inner: s.jobs.clone(),
        poison: std::sync::Mutex::new(None),
    });
    let worker = Worker::new(
        WorkerPorts {
            jobs: jobs.clone(),
            queue: s.queue.clone(),
            images: s.images.clone(),
            secrets: Arc::new(MemorySecretStore::with(Credentials::Token {
                token: "pst-server".into(),
            })),
            lease: s.state.clone(),
            pacing: s.state.clone(),
            call_stats: s.state.clone(),
            account: s.state.clone(),
            upstream: s.upstream.clone(),
            webhooks: unused_webhook_ports(),
            keys: s.keys.clone(),
            ledger: s.ledger.clone(),
        },
        s.clock.clone(),
        s.clock.clone(),
        11,
        Settings::default(),
        "poison-worker",
    );
    // A dead letter whose job cannot be written, and one that can.
    let dead_poison = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    let dead_fine = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    for _ in 0..naiq_core::ports::MAX_RECEIVE_COUNT {
        for _ in 0..2 {
            let d = s
                .queue
                .receive(&naiq_core::domain::Lane::ALL)
                .await
                .unwrap()
                .unwrap();
            s.queue.release(&d).await.unwrap();
        }
    }
    *jobs.poison.lock().unwrap() = Some(dead_poison.task_id.clone());
    // And a live job behind them.
    let live = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
    let report = worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .expect("the drain goes on");
    assert_eq!((report.succeeded, report.errors), (1, 1), "{report:?}");
    let status = |id: &naiq_core::domain::TaskId| {
        let api = &s.api;
        let alice = &s.alice;
        let id = id.as_str().to_string();
        async move { api.task_status(alice, &id).await.unwrap().status }
    };
    assert_eq!(status(&dead_fine.task_id).await, Status::Failure, "swept");
    assert_eq!(
        status(&live.task_id).await,
        Status::Success,
        "and the queue drained"
    );
    assert_eq!(
        status(&dead_poison.task_id).await,
        Status::Pending,
        "left for a later sweep"
    );
}

#[tokio::test]
async fn a_webp_job_stores_webp_objects_named_for_their_format() {
    let s = stack().await;
    let sub = s
        .api
        .submit(
            &s.alice,
            br#"{"prompt": "x", "model": "nai-v5", "image_format": "webp"}"#,
        )
        .await
        .unwrap()
        .queued();
    s.worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    let done = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(done.status, Status::Success);
    let key = format!("images/{}/0.webp", sub.task_id);
    let bytes = s.images.get_sync(&key).expect("stored as .webp");
    assert!(bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP");
    assert_eq!(
        naiq_core::novelai::archive::check_webp(&bytes).unwrap(),
        (832, 1216)
    );
}

#[tokio::test]
async fn keys_take_turns_inside_a_lane_and_their_positions_say_so() {
    let s = stack().await;
    let mut a_ids = Vec::new();
    for i in 0..30 {
        let sub = s.api.submit(&s.alice, &seed_body()).await.unwrap().queued();
        // The submit's position (the counters read before the job entered, with it
        // counted) is the one a poll reads from the job's own jobs ahead.
        let at_submit = sub.queue_info.as_ref().unwrap();
        let polled = s
            .api
            .task_status(&s.alice, sub.task_id.as_str())
            .await
            .unwrap()
            .queue_info
            .unwrap();
        assert_eq!(
            (at_submit.position, at_submit.total_pending),
            (polled.position, polled.total_pending),
            "job {i}"
        );
        assert_eq!(at_submit.position, i + 1);
        a_ids.push(sub.task_id);
        s.clock.advance(Duration::milliseconds(5));
    }
    let b = s.api.submit(&s.bob, &seed_body()).await.unwrap().queued();
    let info = b.queue_info.as_ref().unwrap();
    assert_eq!(
        (info.position, info.total_pending),
        (2, 31),
        "behind alice's first job only, not her 30"
    );
    let q = s.api.queue_status(&s.alice).await.unwrap();
    let pos = &q.queue_status.queue_positions;
    assert_eq!(pos[a_ids[0].as_str()], 1);
    assert_eq!(pos[a_ids[1].as_str()], 3, "after bob's turn");
    assert_eq!(pos[a_ids[29].as_str()], 31);
    let st = s
        .api
        .task_status(&s.alice, a_ids[29].as_str())
        .await
        .unwrap();
    assert_eq!(st.queue_info.unwrap().position, 31, "task_status agrees");

    // A cancelled job stops counting: the ones behind it move up.
    s.api.cancel(&s.alice, a_ids[1].as_str()).await.unwrap();
    let q = s.api.queue_status(&s.alice).await.unwrap();
    assert_eq!(q.queue_status.total_pending, 30);
    assert_eq!(q.queue_status.queue_positions[a_ids[2].as_str()], 3);
    assert_eq!(q.queue_status.queue_positions[a_ids[29].as_str()], 30);

    // The worker runs alice's first, then bob's, then the rest of alice's.
    for _ in 0..30 {
        if !drain_then_wait(&s, Duration::seconds(900)).await {
            break;
        }
    }
    let started = |id: &naiq_core::domain::TaskId| {
        let jobs = s.jobs.clone();
        let id = id.clone();
        async move {
            let job = naiq_core::ports::JobStore::get(&*jobs, &id)
                .await
                .unwrap()
                .unwrap();
            assert!(job.status().is_terminal(), "{:?}", job.status());
            job.started_at()
        }
    };
    let b_start = started(&b.task_id).await.expect("bob's job ran");
    let mut before_b = Vec::new();
    for (i, id) in a_ids.iter().enumerate() {
        if let Some(t) = started(id).await
            && t < b_start
        {
            before_b.push(i);
        }
    }
    assert_eq!(before_b, vec![0], "only alice's first went before bob's");
    assert!(s.queue.is_empty());
    assert_eq!(s.upstream.call_count(), 30, "29 of alice's and bob's one");
}

/// One drain of at most `length`, then the clock at the next start it reported; `false`
/// once the queue is empty.
async fn drain_then_wait(s: &Stack, length: Duration) -> bool {
    let report = s.worker.drain(s.clock.now() + length).await.unwrap();
    if report.stopped == StopReason::QueueEmpty {
        return false;
    }
    if let Some(next) = report.next_start {
        s.clock.set(next);
    }
    true
}

/// Every waiting job's `task_status` position (from its entry mark while its owner's jobs
/// stay in order, counted after a cancel) is the one `queue_status` counts, as the worker
/// starts jobs.
#[tokio::test]
async fn polls_place_a_key_s_many_jobs_as_the_queue_listing_does_while_they_run() {
    let s = stack().await;
    let mut ids = Vec::new();
    for who in [
        &s.alice, &s.alice, &s.bob, &s.alice, &s.alice, &s.bob, &s.alice,
    ] {
        ids.push((
            who.clone(),
            s.api
                .submit(who, &seed_body())
                .await
                .unwrap()
                .queued()
                .task_id,
        ));
        s.clock.advance(Duration::milliseconds(5));
    }
    let mut checked = 0;
    for round in 0..12 {
        for who in [&s.alice, &s.bob] {
            let listed = s
                .api
                .queue_status(who)
                .await
                .unwrap()
                .queue_status
                .queue_positions;
            for (owner, id) in &ids {
                if owner.key_id != who.key_id || !listed.contains_key(id.as_str()) {
                    continue;
                }
                let polled = s.api.task_status(who, id.as_str()).await.unwrap();
                assert_eq!(
                    polled.queue_info.unwrap().position,
                    listed[id.as_str()],
                    "round {round}, {id}"
                );
                checked += 1;
            }
        }
        if round == 2 {
            // Alice cancels one in the middle of her jobs.
            s.api.cancel(&s.alice, ids[4].1.as_str()).await.unwrap();
        }
        // One job: a second would not fit before this drain's end (the next slot is at
        // least eight seconds on).
        let budget = Settings::default().job_budget_seconds() as i64;
        if !drain_then_wait(&s, Duration::seconds(budget + 1)).await {
            break;
        }
    }
    assert!(checked > 15, "{checked} positions compared");
    assert_eq!(s.upstream.call_count(), 6);
}

#[tokio::test]
async fn a_key_that_had_its_turn_goes_behind_a_key_that_did_not() {
    let s = stack().await;
    let submit = |who: ApiKeyRecord| {
        let api = &s.api;
        async move { api.submit(&who, &seed_body()).await.unwrap().queued() }
    };
    let a1 = submit(s.alice.clone()).await;
    s.worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    // Alice had a turn; bob never did: bob's job goes before alice's next.
    let a2 = submit(s.alice.clone()).await;
    s.clock.advance(Duration::milliseconds(5));
    let b1 = submit(s.bob.clone()).await;
    assert_eq!(b1.queue_info.as_ref().unwrap().position, 1);
    let st = s
        .api
        .task_status(&s.alice, a2.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(st.queue_info.unwrap().position, 2);
    assert_eq!(
        s.api
            .task_status(&s.alice, a1.task_id.as_str())
            .await
            .unwrap()
            .status,
        Status::Success
    );
}

#[tokio::test]
async fn vibes_are_encoded_once_in_paced_slots_and_then_come_from_the_store() {
    let s = stack().await;
    let img = |w| b64(&png_of(w, 64));
    let body = json!({"prompt": "vibes", "model": "nai-v4.5",
                      "vibes": [{"image": img(64)}, {"image": img(96), "information_extracted": 0.5}]})
    .to_string();
    let first = s
        .api
        .submit(&s.alice, body.as_bytes())
        .await
        .unwrap()
        .queued();
    assert_eq!((first.cost.vibe_encodes, first.cost.surcharges), (2, 4));
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(s.upstream.encodes.lock().unwrap().len(), 2);
    assert!(
        !s.upstream
            .overlapped
            .load(std::sync::atomic::Ordering::SeqCst)
    );
    // Two encodes and the generation, each in its own slot, the interval apart.
    let times = s.upstream.started_at.lock().unwrap().clone();
    assert_eq!(times.len(), 3);
    for w in times.windows(2) {
        let gap = (w[1] - w[0]).num_milliseconds();
        assert!((8_000..=15_000).contains(&gap), "interval gap {gap} ms");
    }
    assert_eq!(s.state.load_pacing().await.unwrap().0.day_count, 3);
    let sent = s.upstream.calls.lock().unwrap()[0].clone();
    let encodings = sent["parameters"]["reference_image_multiple"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(encodings.len(), 2);
    assert!(sent["parameters"]["reference_information_extracted_multiple"].is_null());

    // The same vibes again: priced without encodes, sent with the stored encodings.
    let again = s
        .api
        .submit(&s.alice, body.as_bytes())
        .await
        .unwrap()
        .queued();
    assert_eq!((again.cost.vibe_encodes, again.cost.surcharges), (0, 0));
    s.worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(s.upstream.encodes.lock().unwrap().len(), 2, "no new encode");
    let resent = s.upstream.calls.lock().unwrap()[1].clone();
    assert_eq!(
        resent["parameters"]["reference_image_multiple"],
        json!(encodings)
    );
}

#[tokio::test]
async fn a_failed_encode_is_retried_like_a_generation() {
    use naiq_core::ports::JobStore;
    let s = stack().await;
    let body = json!({"prompt": "vibes", "model": "nai-v4.5",
                      "vibes": [{"image": b64(&png_of(64, 64))}]})
    .to_string();
    let sub = s
        .api
        .submit(&s.alice, body.as_bytes())
        .await
        .unwrap()
        .queued();
    s.upstream.fail_next(UpstreamError::Status {
        status: 500,
        message: "boom".into(),
    });
    let report = s
        .worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!((report.succeeded, report.retried), (1, 1), "{report:?}");
    assert_eq!(s.upstream.encodes.lock().unwrap().len(), 2);
    let job = s.jobs.get(&sub.task_id).await.unwrap().unwrap();
    assert_eq!(job.status(), Status::Success);
}

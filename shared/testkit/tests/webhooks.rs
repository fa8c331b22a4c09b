//! Webhooks over the in-memory adapters: submit with a `webhook_url` → the worker queues
//! the events → the deliverer signs and POSTs them to a checked address, retries on the
//! schedule and gives up at its end; the state shows on `task_status`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Duration, TimeZone, Utc};
use naiq_core::api::{ApiError, ApiPorts, ApiService, Submitted};
use naiq_core::config::Settings;
use naiq_core::domain::{ApiKey, ApiKeyRecord, Credentials, Status};
use naiq_core::ports::{
    Clock, KeyStore, PortError, PortResult, TransportError, WebhookDelivery, WebhookQueue,
    WebhookSecretStore,
};
use naiq_core::webhooks::{
    Deliverer, DelivererPorts, DeliveryStatus, SECRET_BYTES, WebhookMessage, WebhookPorts,
    WebhookSecret,
};
use naiq_core::worker::{Worker, WorkerPorts};
use naiq_testkit::ManualClock;
use naiq_testkit::memory::*;
use serde_json::{Value, json};

struct Stack {
    api: ApiService,
    worker: Worker,
    deliverer: Deliverer,
    clock: Arc<ManualClock>,
    hooks: Arc<MemoryWebhookQueue>,
    transport: Arc<MemoryTransport>,
    nudges: Arc<MemoryNudge>,
    key: ApiKeyRecord,
    secret: WebhookSecret,
}

const PUBLIC_HOST: &str = "hooks.example.com";

async fn stack_with(
    settings: Settings,
    transport: MemoryTransport,
    queue: Option<Arc<dyn WebhookQueue>>,
) -> Stack {
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 26, 4, 30, 0).unwrap(),
    ));
    let jobs = Arc::new(MemoryJobStore::default());
    let lanes = Arc::new(MemoryQueue::default());
    let images = Arc::new(MemoryImageStore::default());
    let keys = Arc::new(MemoryKeyStore::default());
    let state = Arc::new(MemoryStateStore::default());
    let hooks = Arc::new(MemoryWebhookQueue::new(clock.clone()));
    let states = Arc::new(MemoryWebhookStates::default());
    let secrets = Arc::new(MemoryWebhookSecrets::default());
    let transport = Arc::new(transport);
    let nudges = Arc::new(MemoryNudge::default());
    let key = ApiKeyRecord::new(&ApiKey::from_random_bytes([1; 32]), "alice", clock.now());
    keys.insert(&key).await.unwrap();
    let secret = WebhookSecret::from_random_bytes([5; SECRET_BYTES]);
    secrets.put_secret(&key.key_id, &secret).await.unwrap();
    let ledger = Arc::new(MemoryLedger::default());
    let webhooks = WebhookPorts {
        queue: queue.unwrap_or_else(|| hooks.clone()),
        states: states.clone(),
        nudge: nudges.clone(),
    };
    let api = ApiService::new(
        ApiPorts {
            jobs: jobs.clone(),
            queue: lanes.clone(),
            images: images.clone(),
            keys: keys.clone(),
            pacing: state.clone(),
            call_stats: state.clone(),
            account: state.clone(),
            idempotency: Arc::new(MemoryIdempotencyStore::default()),
            nudge: Arc::new(MemoryNudge::default()),
            webhooks: webhooks.clone(),
            ledger: ledger.clone(),
        },
        clock.clone(),
        7,
        settings.clone(),
    );
    let upstream = Arc::new(MemoryUpstream::with_clock(clock.clone()));
    let worker = Worker::new(
        WorkerPorts {
            jobs,
            queue: lanes,
            images: images.clone(),
            secrets: Arc::new(MemorySecretStore::with(Credentials::Token {
                token: "pst-server".into(),
            })),
            lease: state.clone(),
            pacing: state.clone(),
            call_stats: state.clone(),
            account: state,
            upstream,
            webhooks,
            keys,
            ledger,
        },
        clock.clone(),
        clock.clone(),
        11,
        settings.clone(),
        "test-worker",
    );
    let deliverer = Deliverer::new(
        DelivererPorts {
            queue: hooks.clone(),
            states,
            secrets,
            transport: transport.clone(),
            images,
        },
        clock.clone(),
        settings.webhooks.clone(),
        settings.image_url_ttl,
    );
    Stack {
        api,
        worker,
        deliverer,
        clock,
        hooks,
        transport,
        nudges,
        key,
        secret,
    }
}

async fn stack() -> Stack {
    stack_with(
        Settings::default(),
        MemoryTransport::default().with_name(PUBLIC_HOST, &["93.184.215.14"]),
        None,
    )
    .await
}

fn body(url: &str) -> Vec<u8> {
    json!({"prompt": "1girl", "model": "nai-v3", "webhook_url": url})
        .to_string()
        .into_bytes()
}

async fn submit(s: &Stack, url: &str) -> String {
    match s.api.submit(&s.key, &body(url)).await.unwrap() {
        Submitted::Queued(r) => r.task_id.to_string(),
        Submitted::DryRun(_) => panic!("a dry run"),
    }
}

async fn run_worker(s: &Stack) {
    s.worker
        .drain(s.clock.now() + Duration::seconds(900))
        .await
        .unwrap();
}

async fn deliver(s: &Stack) -> naiq_core::webhooks::DeliveryReport {
    s.deliverer
        .drain(s.clock.now() + Duration::seconds(60))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_job_sends_signed_started_and_succeeded_events_to_the_checked_address() {
    let s = stack().await;
    let id = submit(&s, "https://hooks.example.com/naiq").await;
    run_worker(&s).await;
    assert_eq!(s.hooks.len(), 2, "started and succeeded are queued");
    assert!(s.nudges.count.load(std::sync::atomic::Ordering::Relaxed) >= 2);
    assert!(
        s.transport.sent().is_empty(),
        "the worker itself sends nothing"
    );
    let report = deliver(&s).await;
    assert_eq!(report.delivered, 2);
    let sent = s.transport.sent();
    let types: Vec<String> = sent
        .iter()
        .map(|w| {
            serde_json::from_slice::<Value>(&w.body).unwrap()["type"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(types, ["task.started", "task.succeeded"]);
    for w in &sent {
        assert_eq!(w.address.to_string(), "93.184.215.14:443");
        assert_eq!(w.url, "https://hooks.example.com/naiq");
        let wid = w.header("webhook-id").unwrap();
        let ts: i64 = w.header("webhook-timestamp").unwrap().parse().unwrap();
        assert_eq!(ts, s.clock.now().timestamp());
        assert_eq!(
            w.header("webhook-signature").unwrap(),
            s.secret.sign(wid, ts, &w.body)
        );
        let v: Value = serde_json::from_slice(&w.body).unwrap();
        assert_eq!(v["data"]["task_id"], id.as_str());
        let text = String::from_utf8_lossy(&w.body);
        assert!(!text.contains("pst-server") && !text.contains("whsec_"));
    }
    let done: Value = serde_json::from_slice(&sent[1].body).unwrap();
    assert_eq!(done["data"]["status"], "SUCCESS");
    assert!(
        done["data"]["image_url"].as_str().is_some(),
        "fresh image URLs"
    );
    let status = s.api.task_status(&s.key, &id).await.unwrap();
    let hooks = status.webhooks.unwrap();
    assert_eq!(hooks.len(), 2);
    assert!(
        hooks
            .iter()
            .all(|h| h.state == DeliveryStatus::Delivered && h.attempts == 1)
    );
    assert_eq!(hooks[0].last_status, Some(200));
}

#[tokio::test]
async fn a_job_without_a_webhook_queues_nothing() {
    let s = stack().await;
    let sub = s
        .api
        .submit(&s.key, br#"{"prompt": "1girl", "model": "nai-v3"}"#)
        .await
        .unwrap();
    let Submitted::Queued(sub) = sub else {
        panic!()
    };
    run_worker(&s).await;
    assert!(s.hooks.is_empty());
    let status = s
        .api
        .task_status(&s.key, sub.task_id.as_str())
        .await
        .unwrap();
    assert!(status.webhooks.is_none());
}

#[tokio::test]
async fn the_keys_default_url_is_used_and_a_cancel_sends_task_cancelled() {
    let mut s = stack().await;
    s.key.webhook_url = Some("https://hooks.example.com/default".into());
    let Submitted::Queued(sub) = s
        .api
        .submit(&s.key, br#"{"prompt": "1girl", "model": "nai-v3"}"#)
        .await
        .unwrap()
    else {
        panic!()
    };
    let pending = s
        .api
        .task_status(&s.key, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(pending.webhooks.unwrap(), vec![], "no event yet");
    s.api.cancel(&s.key, sub.task_id.as_str()).await.unwrap();
    let queued: Vec<WebhookMessage> = s.hooks.messages();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].url, "https://hooks.example.com/default");
    let status = s
        .api
        .task_status(&s.key, sub.task_id.as_str())
        .await
        .unwrap();
    let hooks = status.webhooks.unwrap();
    assert_eq!(hooks[0].state, DeliveryStatus::Pending);
    assert_eq!(hooks[0].webhook_id, queued[0].id);
    deliver(&s).await;
    let v: Value = serde_json::from_slice(&s.transport.sent()[0].body).unwrap();
    assert_eq!(
        (v["type"].as_str(), v["data"]["status"].as_str()),
        (Some("task.cancelled"), Some("REVOKED"))
    );
}

#[tokio::test]
async fn ip_literals_and_http_are_refused_at_submit_naming_the_field() {
    let s = stack().await;
    for url in [
        "https://127.0.0.1/hook",
        "https://169.254.169.254/latest",
        "https://10.1.2.3/x",
        "https://[fe80::1]/x",
        "http://hooks.example.com/x",
    ] {
        match s.api.submit(&s.key, &body(url)).await {
            Err(ApiError::Invalid(e)) => {
                assert_eq!(e.field.as_deref(), Some("webhook_url"), "{url}")
            }
            other => panic!("{url}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_is_refused_at_delivery() {
    let s = stack_with(
        Settings::default(),
        MemoryTransport::default()
            .with_name("rebind.example.com", &["127.0.0.1"])
            .with_name("mixed.example.com", &["93.184.215.14", "169.254.169.254"]),
        None,
    )
    .await;
    let a = submit(&s, "https://rebind.example.com/x").await;
    let b = submit(&s, "https://mixed.example.com/x").await;
    run_worker(&s).await;
    let report = deliver(&s).await;
    assert_eq!(report.dead, 4);
    assert!(s.transport.sent().is_empty(), "nothing was sent");
    assert_eq!(s.hooks.dead.lock().unwrap().len(), 4);
    for (id, class) in [(a, "loopback"), (b, "link-local")] {
        let hooks = s
            .api
            .task_status(&s.key, &id)
            .await
            .unwrap()
            .webhooks
            .unwrap();
        for h in hooks {
            assert_eq!(h.state, DeliveryStatus::Dead);
            assert!(h.last_error.as_deref().unwrap().contains(class), "{h:?}");
        }
    }
}

#[tokio::test]
async fn failed_attempts_are_retried_on_the_schedule_then_dead_lettered() {
    let mut settings = Settings::default();
    settings.webhooks.retry_seconds = vec![10, 20, 86_400];
    let s = stack_with(
        settings,
        MemoryTransport::default().with_name(PUBLIC_HOST, &["93.184.215.14"]),
        None,
    )
    .await;
    let id = submit(&s, "https://hooks.example.com/x").await;
    s.api.cancel(&s.key, &id).await.unwrap();
    s.transport.script([
        Ok(503),
        Err(TransportError::Timeout(10_000)),
        Err(TransportError::Connect("refused".into())),
        Ok(500),
    ]);
    assert_eq!(deliver(&s).await.retrying, 1);
    let h = &s
        .api
        .task_status(&s.key, &id)
        .await
        .unwrap()
        .webhooks
        .unwrap()[0];
    assert_eq!(
        (h.state, h.attempts, h.last_status),
        (DeliveryStatus::Retrying, 1, Some(503))
    );
    assert_eq!(
        h.next_attempt_at.as_deref(),
        Some("2026-11-26T04:30:10.000Z")
    );
    assert_eq!(deliver(&s).await.retrying, 0, "not due yet");
    s.clock.advance(Duration::seconds(10));
    assert_eq!(deliver(&s).await.retrying, 1);
    let h = &s
        .api
        .task_status(&s.key, &id)
        .await
        .unwrap()
        .webhooks
        .unwrap()[0];
    assert_eq!(h.attempts, 2);
    assert!(h.last_error.as_deref().unwrap().contains("no answer"));
    s.clock.advance(Duration::seconds(20));
    deliver(&s).await;
    s.clock.advance(Duration::seconds(86_400));
    assert_eq!(deliver(&s).await.dead, 1);
    let h = &s
        .api
        .task_status(&s.key, &id)
        .await
        .unwrap()
        .webhooks
        .unwrap()[0];
    assert_eq!(
        (h.state, h.attempts, h.last_status),
        (DeliveryStatus::Dead, 4, Some(500))
    );
    assert_eq!(s.transport.sent().len(), 4);
    let ids: Vec<_> = s
        .transport
        .sent()
        .iter()
        .map(|w| w.header("webhook-id").unwrap().to_string())
        .collect();
    assert!(
        ids.iter().all(|i| *i == ids[0]),
        "the same webhook-id on every attempt"
    );
    assert_eq!(s.hooks.dead.lock().unwrap().len(), 1);
    assert!(s.hooks.is_empty());
}

/// A queue that is down: sending fails.
struct BrokenQueue;

#[async_trait]
impl WebhookQueue for BrokenQueue {
    async fn send(&self, _: &WebhookMessage) -> PortResult<()> {
        Err(PortError::backend("SQS", "unavailable"))
    }
    async fn receive(&self, _: u32) -> PortResult<Vec<WebhookDelivery>> {
        Ok(vec![])
    }
    async fn ack(&self, _: &WebhookDelivery) -> PortResult<()> {
        Ok(())
    }
    async fn retry_after(&self, _: &WebhookDelivery, _: u32) -> PortResult<()> {
        Ok(())
    }
    async fn dead_letter(&self, _: &WebhookDelivery) -> PortResult<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_failed_enqueue_never_fails_the_job() {
    let s = stack_with(
        Settings::default(),
        MemoryTransport::default(),
        Some(Arc::new(BrokenQueue)),
    )
    .await;
    let id = submit(&s, "https://hooks.example.com/x").await;
    run_worker(&s).await;
    let status = s.api.task_status(&s.key, &id).await.unwrap();
    assert_eq!(status.status, Status::Success);
}

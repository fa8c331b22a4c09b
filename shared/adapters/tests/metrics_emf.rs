//! The metric lines a job produces, through the functions' own exporter
//! (`naiq_adapters::metrics`) over the API, the worker and the webhook deliverer on the
//! in-memory adapters: each line is a valid CloudWatch embedded-metric-format document,
//! every metric is one of `naiq_core::metrics::ALL` with its unit and dimensions, and the
//! metrics a successful and a failed job must produce are there, with no secret in them.
//!
//! The exporter is the process's global recorder, so this binary holds a single test that
//! runs its scenarios one after the other, flushing between them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use naiq_core::api::{ApiPorts, ApiService, Submitted};
use naiq_core::config::Settings;
use naiq_core::domain::{ApiKey, ApiKeyRecord, Credentials};
use naiq_core::metrics::{self as catalogue, Metric};
use naiq_core::ports::{Clock, KeyStore, UpstreamError, WebhookSecretStore};
use naiq_core::webhooks::{Deliverer, DelivererPorts, SECRET_BYTES, WebhookPorts, WebhookSecret};
use naiq_core::worker::{Worker, WorkerPorts};
use naiq_testkit::ManualClock;
use naiq_testkit::memory::*;
use serde_json::{Value, json};

const SERVER_TOKEN: &str = "pst-server-token-for-metrics";
const HOOK_HOST: &str = "hooks.example.com";

struct Stack {
    api: ApiService,
    worker: Worker,
    deliverer: Deliverer,
    clock: Arc<ManualClock>,
    upstream: Arc<MemoryUpstream>,
    transport: Arc<MemoryTransport>,
    key: ApiKey,
    record: ApiKeyRecord,
    secret: WebhookSecret,
}

async fn stack() -> Stack {
    // 12:30 in Singapore: inside the default windows.
    let clock = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 11, 26, 4, 30, 0).unwrap(),
    ));
    let settings = Settings::default();
    let jobs = Arc::new(MemoryJobStore::default());
    let lanes = Arc::new(MemoryQueue::default());
    let images = Arc::new(MemoryImageStore::default());
    let keys = Arc::new(MemoryKeyStore::default());
    let state = Arc::new(MemoryStateStore::default());
    let ledger = Arc::new(MemoryLedger::default());
    let hooks = Arc::new(MemoryWebhookQueue::new(clock.clone()));
    let states = Arc::new(MemoryWebhookStates::default());
    let secrets = Arc::new(MemoryWebhookSecrets::default());
    let transport = Arc::new(MemoryTransport::default().with_name(HOOK_HOST, &["93.184.215.14"]));
    let upstream = Arc::new(MemoryUpstream::with_clock(clock.clone()));
    let key = ApiKey::from_random_bytes([3; 32]);
    let record = ApiKeyRecord::new(&key, "metrics", clock.now());
    keys.insert(&record).await.unwrap();
    let secret = WebhookSecret::from_random_bytes([5; SECRET_BYTES]);
    secrets.put_secret(&record.key_id, &secret).await.unwrap();
    let webhooks = WebhookPorts {
        queue: hooks.clone(),
        states: states.clone(),
        nudge: Arc::new(MemoryNudge::default()),
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
    let worker = Worker::new(
        WorkerPorts {
            jobs,
            queue: lanes,
            images: images.clone(),
            secrets: Arc::new(MemorySecretStore::with(Credentials::Token {
                token: SERVER_TOKEN.into(),
            })),
            lease: state.clone(),
            pacing: state.clone(),
            call_stats: state.clone(),
            account: state,
            upstream: upstream.clone(),
            webhooks,
            keys,
            ledger,
        },
        clock.clone(),
        clock.clone(),
        11,
        settings.clone(),
        "metrics-worker",
    );
    let deliverer = Deliverer::new(
        DelivererPorts {
            queue: hooks,
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
        upstream,
        transport,
        key,
        record,
        secret,
    }
}

impl Stack {
    /// Submits a job that costs Anlas (40 steps: no Opus free image), with a webhook,
    /// then lets time pass so its wait is measurable.
    async fn submit(&self) {
        let body = json!({
            "prompt": "1girl, 猫耳, «ambient light»", "model": "nai-v3",
            "resolution": "portrait", "steps": 40,
            "webhook_url": format!("https://{HOOK_HOST}/naiq"),
        });
        match self
            .api
            .submit(&self.record, body.to_string().as_bytes())
            .await
            .unwrap()
        {
            Submitted::Queued(_) => {}
            Submitted::DryRun(_) => panic!("a dry run"),
        }
        self.clock.advance(Duration::seconds(7));
    }

    async fn drain(&self) {
        self.worker
            .drain(self.clock.now() + Duration::seconds(900))
            .await
            .unwrap();
    }

    /// One delivery round of the job's webhook events, each answered 500.
    async fn deliver_failing(&self) {
        self.transport.script((0..4).map(|_| Ok(500)));
        self.deliverer
            .drain(self.clock.now() + Duration::seconds(60))
            .await
            .unwrap();
    }

    /// The metrics the exporter writes now, each line checked.
    fn flush(&self) -> Vec<Emitted> {
        let mut out = Vec::new();
        naiq_adapters::metrics::flush_to(&mut out).unwrap();
        let text = String::from_utf8(out).expect("UTF-8 metric lines");
        for secret in [
            SERVER_TOKEN,
            self.key.expose(),
            self.secret.expose().as_str(),
        ] {
            assert!(!text.contains(secret), "a secret in a metric line: {text}");
        }
        let now_ms = Utc::now().timestamp_millis();
        text.lines().flat_map(|l| check_line(l, now_ms)).collect()
    }
}

/// One metric value as a line carried it.
#[derive(Debug)]
struct Emitted {
    name: String,
    dimensions: BTreeMap<String, String>,
    values: Vec<f64>,
}

fn catalogued(name: &str) -> Metric {
    *catalogue::ALL
        .iter()
        .find(|m| m.name == name)
        .unwrap_or_else(|| panic!("{name} is not in naiq_core::metrics::ALL"))
}

/// Checks one line against the EMF specification and the catalogue; its metrics.
fn check_line(line: &str, now_ms: i64) -> Vec<Emitted> {
    let doc: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let aws = doc["_aws"]
        .as_object()
        .unwrap_or_else(|| panic!("no _aws object: {line}"));
    let ts = aws["Timestamp"]
        .as_i64()
        .unwrap_or_else(|| panic!("Timestamp is not an integer: {line}"));
    assert!(
        (now_ms - 60_000..=now_ms + 60_000).contains(&ts),
        "Timestamp {ts} is not epoch milliseconds near {now_ms}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert!(!directives.is_empty(), "{line}");
    let mut found = Vec::new();
    for d in directives {
        assert_eq!(d["Namespace"], catalogue::NAMESPACE, "{line}");
        let sets = d["Dimensions"].as_array().expect("Dimensions");
        assert!(!sets.is_empty(), "{line}");
        for set in sets {
            let set: Vec<&str> = set
                .as_array()
                .expect("a dimension set is an array")
                .iter()
                .map(|n| n.as_str().expect("a dimension name is a string"))
                .collect();
            assert!(set.len() <= 30, "{line}");
            let dimensions: BTreeMap<String, String> = set
                .iter()
                .map(|n| {
                    let v = doc[*n]
                        .as_str()
                        .unwrap_or_else(|| panic!("dimension {n} is not a string member: {line}"));
                    assert!(!v.is_empty() && v.len() <= 1024, "{line}");
                    (n.to_string(), v.to_string())
                })
                .collect();
            for m in d["Metrics"].as_array().expect("Metrics") {
                let name = m["Name"].as_str().expect("Name");
                let spec = catalogued(name);
                assert_eq!(m["Unit"], spec.unit_name(), "{name}: {line}");
                assert!(
                    spec.dimension_sets
                        .iter()
                        .any(|s| s.iter().copied().eq(set.iter().copied())),
                    "{name} with dimensions {set:?} is not catalogued: {line}"
                );
                let values = match &doc[name] {
                    Value::Number(n) => vec![n.as_f64().unwrap()],
                    Value::Array(a) => {
                        assert!(!a.is_empty() && a.len() <= 100, "{name}: {line}");
                        a.iter()
                            .map(|v| v.as_f64().unwrap_or_else(|| panic!("{name}: {line}")))
                            .collect()
                    }
                    other => panic!("{name} has no numeric value member ({other}): {line}"),
                };
                assert!(values.iter().all(|v| v.is_finite() && *v >= 0.0), "{line}");
                found.push(Emitted {
                    name: name.to_string(),
                    dimensions: dimensions.clone(),
                    values,
                });
            }
        }
    }
    found
}

fn names(emitted: &[Emitted]) -> BTreeSet<String> {
    emitted.iter().map(|e| e.name.clone()).collect()
}

fn value(emitted: &[Emitted], name: &str, dimensions: &[(&str, &str)]) -> Option<Vec<f64>> {
    let want: BTreeMap<String, String> = dimensions
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    emitted
        .iter()
        .find(|e| e.name == name && e.dimensions == want)
        .map(|e| e.values.clone())
}

#[tokio::test]
async fn a_job_s_metric_lines_are_valid_emf_with_the_catalogued_names() {
    assert!(
        naiq_adapters::metrics::install_to(false, true, capture),
        "the exporter installs, as the worker does"
    );
    let s = stack().await;
    let before = s.flush();
    assert!(before.is_empty(), "nothing measured yet: {before:?}");

    // A job that succeeds, and whose webhook receiver answers 500.
    s.submit().await;
    s.drain().await;
    s.deliver_failing().await;
    let lines = s.flush();
    let found = names(&lines);
    for name in [
        "JobsAccepted",
        "JobsSucceeded",
        "QueueWait",
        "UpstreamLatency",
        "QueueDepth",
        "QueueDepthInWindow",
        "UpstreamCallsToday",
        "UpstreamDailyLimit",
        "AnlasSpent",
        "WebhookDeliveryFailures",
    ] {
        assert!(found.contains(name), "{name} missing from {lines:#?}");
    }
    assert_eq!(value(&lines, "JobsFailed", &[]), Some(vec![0.0]));
    assert_eq!(value(&lines, "JobsAccepted", &[]), Some(vec![1.0]));
    assert_eq!(value(&lines, "JobsSucceeded", &[]), Some(vec![1.0]));
    assert_eq!(
        value(&lines, "QueueWait", &[("Lane", "normal")]),
        Some(vec![7.0]),
        "the wait is start - submit"
    );
    assert_eq!(value(&lines, "UpstreamCallsToday", &[]), Some(vec![1.0]));
    assert_eq!(
        value(&lines, "UpstreamDailyLimit", &[]),
        Some(vec![Settings::default().pacing.daily_limit as f64])
    );
    for lane in ["test", "high", "normal", "low"] {
        assert_eq!(
            value(&lines, "QueueDepth", &[("Lane", lane)]),
            Some(vec![0.0])
        );
    }
    assert_eq!(value(&lines, "QueueDepth", &[]), Some(vec![0.0]));
    assert!(value(&lines, "AnlasSpent", &[]).unwrap()[0] > 0.0);
    assert!(value(&lines, "WebhookDeliveryFailures", &[]).unwrap()[0] >= 1.0);
    assert_eq!(s.upstream.call_count(), 1);

    // A job NovelAI refuses (400: not retried), failed for good.
    s.upstream.fail_next(UpstreamError::Status {
        status: 400,
        message: "bad request".into(),
    });
    s.clock.advance(Duration::seconds(60));
    s.submit().await;
    s.drain().await;
    let lines = s.flush();
    let found = names(&lines);
    assert_eq!(value(&lines, "JobsSucceeded", &[]), Some(vec![0.0]));
    assert_eq!(
        value(&lines, "AnlasSpent", &[]),
        Some(vec![0.0]),
        "a failed job costs nothing"
    );
    assert_eq!(value(&lines, "JobsFailed", &[]), Some(vec![1.0]));
    assert_eq!(
        value(
            &lines,
            "JobsFailed",
            &[("ErrorCode", "upstream_invalid_request")]
        ),
        Some(vec![1.0])
    );
    assert_eq!(value(&lines, "JobsAccepted", &[]), Some(vec![1.0]));
    assert_eq!(value(&lines, "UpstreamCallsToday", &[]), Some(vec![2.0]));
    assert!(found.contains("UpstreamLatency"), "{lines:#?}");

    // Counters were reset by the flush: a drain with nothing to do reports its outcome
    // counters at 0 (as the worker writes zeros), and gauges.
    s.drain().await;
    let lines = s.flush();
    for e in &lines {
        assert!(
            catalogued(&e.name).kind == catalogue::Kind::Gauge || e.values == [0.0],
            "{} = {:?} after an idle drain",
            e.name,
            e.values
        );
    }
    assert_eq!(value(&lines, "JobsSucceeded", &[]), Some(vec![0.0]));
    assert_eq!(value(&lines, "JobsFailed", &[]), Some(vec![0.0]));

    // The next day at 10:00 in Singapore, between two windows: the job waits, and is not
    // counted as one that could run now; the day's count starts again.
    s.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 27, 2, 0, 0).unwrap());
    s.submit().await;
    s.drain().await;
    let lines = s.flush();
    assert_eq!(value(&lines, "QueueDepth", &[]), Some(vec![1.0]));
    assert_eq!(
        value(&lines, "QueueDepth", &[("Lane", "normal")]),
        Some(vec![1.0])
    );
    assert_eq!(value(&lines, "QueueDepthInWindow", &[]), Some(vec![0.0]));
    assert_eq!(value(&lines, "UpstreamCallsToday", &[]), Some(vec![0.0]));
    assert!(!names(&lines).contains("QueueWait"), "it has not started");

    // At 12:00 its window opens: before the drain starts it, it could run now.
    s.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 27, 4, 0, 0).unwrap());
    s.worker
        .drain(s.clock.now() - Duration::seconds(1))
        .await
        .unwrap();
    let lines = s.flush();
    assert_eq!(value(&lines, "QueueDepthInWindow", &[]), Some(vec![1.0]));

    // One drain of 120 jobs records 240 histogram values: they are written out as they
    // reach 90, never more than 100 of one metric to a line, and none is lost.
    let calls_before = s.upstream.call_count();
    for _ in 0..120 {
        s.submit().await;
    }
    assert!(
        take_captured().is_empty(),
        "nothing written before the drain"
    );
    s.worker
        .drain(s.clock.now() + Duration::hours(2))
        .await
        .unwrap();
    let calls = s.upstream.call_count() - calls_before;
    assert_eq!(calls, 121, "the waiting job and the 120");
    let during = take_captured();
    let now_ms = Utc::now().timestamp_millis();
    let mut lines: Vec<Emitted> = during.lines().flat_map(|l| check_line(l, now_ms)).collect();
    assert!(
        lines.iter().filter(|e| e.name == "UpstreamLatency").count() >= 2,
        "written during the drain: {during}"
    );
    lines.extend(s.flush());
    let latencies: Vec<usize> = lines
        .iter()
        .filter(|e| e.name == "UpstreamLatency")
        .map(|e| e.values.len())
        .collect();
    assert!(latencies.iter().all(|n| *n <= 100), "{latencies:?}");
    assert_eq!(latencies.iter().sum::<usize>(), calls, "{latencies:?}");
    let waits: usize = lines
        .iter()
        .filter(|e| e.name == "QueueWait")
        .map(|e| e.values.len())
        .sum();
    assert_eq!(waits, calls, "every start's wait");
}

/// What the exporter wrote through its sink (a write when values piled up), taken.
static CAPTURED: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

fn capture(lines: &[u8]) -> std::io::Result<()> {
    CAPTURED.lock().unwrap().extend_from_slice(lines);
    Ok(())
}

fn take_captured() -> String {
    String::from_utf8(std::mem::take(&mut *CAPTURED.lock().unwrap())).expect("UTF-8")
}

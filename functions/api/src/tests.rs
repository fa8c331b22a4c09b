//! The router over in-memory adapters: the sample events, every error as JSON naming its
//! field, 404/405 with `Allow`, the body limit, owners.

use std::sync::Arc;

use axum::http::{Request as HttpRequest, header};
use lambda_http::{Body, Request};
use naiq_adapters::runtime::SystemClock;
use naiq_core::api::{ApiPorts, ApiService};
use naiq_core::config::Settings;
use naiq_core::domain::{ApiKey, ApiKeyRecord};
use naiq_core::ports::KeyStore;
use naiq_testkit::memory::*;
use serde_json::Value;
use tower::ServiceExt;

use crate::routes::{App, app};

/// The key in the sample events (`events/*.json`).
pub(crate) const EVENT_KEY: &str = "naiq_example-key-for-the-sample-events-only-0000";

pub(crate) struct Harness {
    app: App,
    queue: Arc<MemoryQueue>,
}

pub(crate) async fn harness() -> Harness {
    let keys = Arc::new(MemoryKeyStore::default());
    for key in [EVENT_KEY, "naiq_other"] {
        let key = ApiKey::from_client(key);
        keys.insert(&ApiKeyRecord::new(&key, "test", chrono::Utc::now()))
            .await
            .unwrap();
    }
    let queue = Arc::new(MemoryQueue::default());
    let state = Arc::new(MemoryStateStore::default());
    let service = ApiService::new(
        ApiPorts {
            jobs: Arc::new(MemoryJobStore::default()),
            queue: queue.clone(),
            images: Arc::new(MemoryImageStore::default()),
            keys,
            pacing: state.clone(),
            call_stats: state.clone(),
            account: state,
            idempotency: Arc::new(MemoryIdempotencyStore::default()),
            nudge: Arc::new(MemoryNudge::default()),
            webhooks: naiq_testkit::memory::unused_webhook_ports(),
            ledger: Arc::new(MemoryLedger::default()),
        },
        Arc::new(SystemClock),
        1,
        Settings::default(),
    );
    Harness {
        app: app(Arc::new(service)),
        queue,
    }
}

fn event(name: &str) -> Request {
    let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn call(h: &Harness, req: Request) -> (u16, Value) {
    let (status, headers, body) = call_raw(h, req).await;
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    (status, serde_json::from_slice(&body).unwrap())
}

pub(crate) async fn call_raw(h: &Harness, req: Request) -> (u16, header::HeaderMap, Vec<u8>) {
    let resp = h.app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

pub(crate) fn request(method: &str, path: &str, key: Option<&str>, body: &str) -> Request {
    let mut b = HttpRequest::builder()
        .method(method)
        .uri(format!("https://api.example{path}"));
    if let Some(k) = key {
        b = b.header("authorization", format!("Bearer {k}"));
    }
    b.body(Body::Text(body.to_string())).unwrap()
}

#[tokio::test]
async fn the_sample_events_work() {
    let h = harness().await;
    let (status, body) = call(&h, event("health.json")).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body) = call(&h, event("generate.json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["queue_info"]["position"], 1);
    let (status, body) = call(&h, event("task_status.json")).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let id = {
        let (_, b) = call(&h, event("generate.json")).await;
        b["task_id"].as_str().unwrap().to_string()
    };
    let (status, body) = call(
        &h,
        request("GET", &format!("/task_status/{id}"), Some(EVENT_KEY), ""),
    )
    .await;
    assert_eq!(status, 200);
    for field in [
        "task_id",
        "status",
        "done",
        "success",
        "image_url",
        "image_urls",
        "queue_info",
        "error",
        "created_at",
        "started_at",
        "finished_at",
    ] {
        assert!(
            body.get(field).is_some(),
            "task_status lacks {field}: {body}"
        );
    }
    assert_eq!(body["status"], "PENDING");
    assert_eq!(body["queue_info"]["position"], 2);
}

#[tokio::test]
async fn errors_are_json_with_a_code_and_the_field() {
    let h = harness().await;
    let k = Some(EVENT_KEY);
    let big = format!("{{\"prompt\": \"{}\"}}", "x".repeat(6 * 1024 * 1024));
    let huge_image = serde_json::json!({
        "prompt": "x",
        "image": base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            naiq_testkit::png_claiming(8192, 8192, false),
        ),
    })
    .to_string();
    let cases: Vec<(Request, u16, &str, Option<&str>)> = vec![
        (
            request("POST", "/generate", k, r#"{"model": "nai-v3"}"#),
            400,
            "missing_parameter",
            Some("prompt"),
        ),
        (
            request(
                "POST",
                "/generate",
                k,
                r#"{"prompt": "x", "model": "sdxl"}"#,
            ),
            400,
            "invalid_parameter",
            Some("model"),
        ),
        (
            request("POST", "/generate", k, r#"{"prompt": "x", "steps": 0}"#),
            400,
            "invalid_parameter",
            Some("steps"),
        ),
        (
            request("POST", "/generate", k, r#"{"prompt": "x", "steps": 51}"#),
            400,
            "invalid_parameter",
            Some("steps"),
        ),
        (
            request(
                "POST",
                "/generate",
                k,
                r#"{"prompt": "x", "width": 800, "height": 1216}"#,
            ),
            400,
            "invalid_parameter",
            Some("width"),
        ),
        (
            request("POST", "/generate", k, r#"{"prompt": "x""#),
            400,
            "malformed_json",
            None,
        ),
        (
            request("POST", "/generate", k, &big),
            413,
            "too_large",
            Some("body"),
        ),
        (
            request("POST", "/generate", k, &huge_image),
            413,
            "too_large",
            Some("image"),
        ),
        (
            request("POST", "/generate", None, r#"{"prompt": "x"}"#),
            401,
            "unauthorized",
            None,
        ),
        (
            request(
                "POST",
                "/generate",
                Some("naiq_wrong"),
                r#"{"prompt": "x"}"#,
            ),
            401,
            "unauthorized",
            None,
        ),
        (
            request("GET", "/generate", k, ""),
            405,
            "method_not_allowed",
            None,
        ),
        (request("GET", "/nowhere", k, ""), 404, "not_found", None),
    ];
    for (req, status, code, field) in cases {
        let what = format!("{} {}", req.method(), req.uri().path());
        let (got, body) = call(&h, req).await;
        assert_eq!(got, status, "{what}: {body}");
        assert_eq!(body["code"], code, "{what}: {body}");
        assert_eq!(body["field"].as_str(), field, "{what}: {body}");
        assert_eq!(body["success"], false);
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    assert!(h.queue.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn another_keys_task_answers_404() {
    let h = harness().await;
    let (_, b) = call(
        &h,
        request("POST", "/generate", Some(EVENT_KEY), r#"{"prompt": "x"}"#),
    )
    .await;
    let path = format!("/task_status/{}", b["task_id"].as_str().unwrap());
    let (status, _) = call(&h, request("GET", &path, Some("naiq_other"), "")).await;
    assert_eq!(status, 404);
    let (status, _) = call(&h, request("GET", &path, Some(EVENT_KEY), "")).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn wrong_methods_name_the_allowed_one_and_paths_are_normalised() {
    let h = harness().await;
    for (method, path, allow) in [
        ("GET", "/generate", "POST"),
        ("DELETE", "/queue_status", "GET"),
        ("POST", "/task_status/x", "GET"),
        ("GET", "/cancel_task/x", "POST"),
    ] {
        let (status, headers, body) =
            call_raw(&h, request(method, path, Some(EVENT_KEY), "")).await;
        assert_eq!(status, 405, "{method} {path}");
        assert_eq!(headers[header::ALLOW], allow, "{method} {path}");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], "method_not_allowed");
    }
    // Doubled and trailing slashes find the route, as API Gateway clients send them.
    let (status, body) = call(&h, request("GET", "//queue_status/", Some(EVENT_KEY), "")).await;
    assert_eq!(status, 200, "{body}");
    // A key is checked only on a route that exists.
    let (status, body) = call(&h, request("GET", "/nowhere", None, "")).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
}

#[tokio::test]
async fn bytes_the_emulator_cannot_carry_are_400s() {
    // `cargo lambda watch` answers these itself, so the fuzzing leaves them out: naiq's own
    // answers are checked here.
    let h = harness().await;
    let body = HttpRequest::builder()
        .method("POST")
        .uri("https://api.example/generate")
        .header("authorization", format!("Bearer {EVENT_KEY}"))
        .header("content-type", "application/json")
        .body(Body::Binary(b"+\xff>\xfe".to_vec()))
        .unwrap();
    let (status, body) = call(&h, body).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("malformed_json"))
    );
    let mut req = request("POST", "/generate", Some(EVENT_KEY), r#"{"prompt": "x"}"#);
    req.headers_mut().insert(
        "idempotency-key",
        header::HeaderValue::from_bytes(b"\xd7\xf8\x9b").unwrap(),
    );
    let (status, body) = call(&h, req).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["field"], "Idempotency-Key");
    assert!(h.queue.is_empty(), "nothing was queued");
}

#[tokio::test]
async fn a_webhook_url_at_an_ip_literal_or_over_http_is_a_400_naming_it() {
    let h = harness().await;
    for url in [
        "https://127.0.0.1/hook",
        "https://10.0.0.8/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[fd00::1]/hook",
        "https://100.64.0.1/hook",
        "http://hooks.example.com/hook",
        "https://localhost/hook",
    ] {
        let body = serde_json::json!({"prompt": "x", "webhook_url": url}).to_string();
        let (status, resp) = call(&h, request("POST", "/generate", Some(EVENT_KEY), &body)).await;
        assert_eq!(status, 400, "{url}: {resp}");
        assert_eq!(resp["field"], "webhook_url", "{url}: {resp}");
        assert_eq!(resp["code"], "invalid_parameter", "{url}: {resp}");
    }
    let long = serde_json::json!({
        "prompt": "x",
        "webhook_url": format!("https://hooks.example.com/{}", "a".repeat(3000)),
    })
    .to_string();
    let (status, resp) = call(&h, request("POST", "/generate", Some(EVENT_KEY), &long)).await;
    assert_eq!(
        (status, resp["field"].as_str()),
        (400, Some("webhook_url")),
        "{resp}"
    );
    assert!(h.queue.is_empty(), "nothing was queued");
    let ok =
        r#"{"prompt": "x", "model": "nai-v3", "webhook_url": "https://hooks.example.com/naiq"}"#;
    let (status, resp) = call(&h, request("POST", "/generate", Some(EVENT_KEY), ok)).await;
    assert_eq!(status, 200, "{resp}");
}

mod director;

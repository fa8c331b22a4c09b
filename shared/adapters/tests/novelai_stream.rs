//! naiq's NovelAI client on the stream route, against the fake NovelAI in-process: it reads
//! the MessagePack frames as they arrive, hands each step's JPEG to the sink in order,
//! returns the final images, and turns every way a stream can break into a retryable
//! error, never a panic.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use fake_novelai::{Config, RunningFake};
use naiq_adapters::novelai::NovelAiClient;
use naiq_core::domain::Credentials;
use naiq_core::domain::request::{ImageFormat, Limits, parse_submit};
use naiq_core::novelai::{ImageRequest, body};
use naiq_core::ports::{Preview, PreviewSink, Upstream, UpstreamError};
use serde_json::{Value, json};

async fn fake() -> RunningFake {
    let config = Config::default()
        .with_tokens(["pst-good"])
        .with_latency(Duration::from_millis(10));
    fake_novelai::spawn(config).await.expect("the fake starts")
}

fn request(submit: Value) -> ImageRequest {
    let req = parse_submit(submit.to_string().as_bytes(), &Limits::default()).expect("valid");
    body::build(&req.params, None, None)
}

fn token() -> Credentials {
    Credentials::Token {
        token: "pst-good".into(),
    }
}

async fn send(fake: &RunningFake, method: reqwest::Method, path: &str, body: Value) {
    let resp = reqwest::Client::new()
        .request(method, format!("{}{path}", fake.url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
}

/// Notes each preview with when it came.
#[derive(Default)]
struct Seen(Mutex<Vec<(Preview, Instant)>>);

#[async_trait::async_trait]
impl PreviewSink for Seen {
    async fn preview(&self, preview: Preview) {
        self.0.lock().unwrap().push((preview, Instant::now()));
    }
}

#[tokio::test]
async fn previews_arrive_step_by_step_then_the_final_images() {
    let fake = fake().await;
    send(
        &fake,
        reqwest::Method::PUT,
        "/_fake/config",
        json!({"step_delay_ms": 30}),
    )
    .await;
    let client = NovelAiClient::new(fake.url(), Duration::from_secs(30));
    let req = request(
        json!({"prompt": "猫, 1girl", "model": "nai-v4.5", "width": 64,
                             "height": 64, "steps": 12, "n_samples": 2, "image_format": "webp"}),
    );
    let seen = Seen::default();
    let started = Instant::now();
    let images = client.generate_stream(&token(), &req, &seen).await.unwrap();
    let done = Instant::now();
    assert_eq!(images.len(), 2);
    assert!(
        images
            .iter()
            .all(|i| i.format == ImageFormat::Webp && i.width == 64)
    );
    let seen = seen.0.into_inner().unwrap();
    let steps: Vec<(u32, u32, u32)> = seen
        .iter()
        .map(|(p, _)| (p.sample, p.step, p.steps))
        .collect();
    let expected: Vec<(u32, u32, u32)> = (0..2)
        .flat_map(|s| (1..12).map(move |step| (s, step, 12)))
        .collect();
    assert_eq!(steps, expected);
    assert!(
        seen.iter()
            .all(|(p, _)| p.jpeg.starts_with(&[0xff, 0xd8, 0xff]))
    );
    // Read as they came, not at the end: the first preview well before the last byte.
    assert!(
        seen[0].1 - started < (done - started) / 2,
        "previews are streamed"
    );
    let log: Vec<Value> = reqwest::get(format!("{}/_fake/requests", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log[0]["path"], "/ai/generate-image-stream");
    assert_eq!(log[0]["body"]["parameters"]["stream"], "msgpack");
}

#[tokio::test]
async fn a_broken_stream_is_a_retryable_error() {
    let fake = fake().await;
    let client = NovelAiClient::new(fake.url(), Duration::from_secs(30));
    let req = request(
        json!({"prompt": "x", "model": "nai-v5", "width": 64, "height": 64,
                             "steps": 10}),
    );
    for (kind, check) in [
        ("stream_truncated", "Stream"),
        ("stream_dropped", "Network"),
        ("stream_error", "Stream"),
    ] {
        send(
            &fake,
            reqwest::Method::POST,
            "/_fake/faults",
            json!({"kind": kind}),
        )
        .await;
        let seen = Seen::default();
        let err = client
            .generate_stream(&token(), &req, &seen)
            .await
            .unwrap_err();
        let matched = match &err {
            UpstreamError::Stream(_) => "Stream",
            UpstreamError::Network(_) => "Network",
            _ => "other",
        };
        assert_eq!(matched, check, "{kind}: {err}");
        assert!(err.is_retryable(), "{kind}");
        assert!(
            !seen.0.into_inner().unwrap().is_empty(),
            "{kind}: some previews came first"
        );
    }
    // A refusal before the stream is the plain route's status error.
    send(
        &fake,
        reqwest::Method::POST,
        "/_fake/faults",
        json!({"kind": "429"}),
    )
    .await;
    let err = client
        .generate_stream(&token(), &req, &Seen::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "upstream_busy");
    let bad = Credentials::Token {
        token: "pst-wrong".into(),
    };
    let err = client
        .generate_stream(&bad, &req, &Seen::default())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "upstream_auth_failed");
}

#[tokio::test]
async fn a_stream_slower_than_the_timeout_is_a_network_error() {
    let fake = fake().await;
    send(
        &fake,
        reqwest::Method::PUT,
        "/_fake/config",
        json!({"step_delay_ms": 400}),
    )
    .await;
    let client = NovelAiClient::new(fake.url(), Duration::from_secs(1));
    let req = request(
        json!({"prompt": "x", "model": "nai-v4.5", "width": 64, "height": 64,
                             "steps": 10}),
    );
    let started = Instant::now();
    let err = client
        .generate_stream(&token(), &req, &Seen::default())
        .await
        .unwrap_err();
    assert!(matches!(err, UpstreamError::Network(_)), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "the one timeout covers the body"
    );
}

//! The fake NovelAI answers as NovelAI does, and naiq's NovelAI client reads it: a zip of
//! PNGs at the requested size, 401 on a wrong token, 400 on a malformed body, 429 while
//! another generation is in flight; every request is recorded.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use naiq::domain::Credentials;
use naiq::novelai::NovelAiClient;
use naiq::ports::{Upstream, UpstreamError};
use serde_json::{Value, json};

/// The fake on a free loopback port, stopped when dropped.
struct Fake {
    child: Child,
    url: String,
}

impl Fake {
    fn start(latency_ms: u64) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fake-novelai"))
            .args([
                "--port",
                "0",
                "--tokens",
                "pst-good,pst-other",
                "--latency-ms",
                &latency_ms.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("fake starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{line}");
        Fake { child, url }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn body(width: u32, height: u32, n: u32) -> Value {
    json!({
        "input": "1girl, cat ears",
        "model": "nai-diffusion-3",
        "action": "generate",
        "parameters": {"width": width, "height": height, "scale": 5, "sampler": "k_euler",
                        "steps": 28, "n_samples": n, "seed": 42, "params_version": 1}
    })
}

fn token(t: &str) -> Credentials {
    Credentials::Token { token: t.into() }
}

#[tokio::test]
async fn it_answers_like_novelai_and_the_client_reads_it() {
    let fake = Fake::start(10);
    let client = NovelAiClient::new(&fake.url, Duration::from_secs(10));

    let images = client
        .generate(&token("pst-good"), &body(832, 1216, 2))
        .await
        .unwrap();
    assert_eq!(images.len(), 2);
    for img in &images {
        assert_eq!((img.width, img.height), (832, 1216));
        assert_eq!(
            naiq::novelai::archive::check_png(&img.png).unwrap(),
            (832, 1216)
        );
        let text = String::from_utf8_lossy(&img.png);
        assert!(
            text.contains("Software") && text.contains("NovelAI"),
            "NovelAI-like metadata"
        );
    }

    let err = client
        .generate(&token("pst-wrong"), &body(64, 64, 1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        UpstreamError::Status {
            status: 401,
            message: "Unauthorized".into()
        }
    );
    assert_eq!(err.code(), "upstream_auth_failed");
    assert!(!err.is_retryable());

    let err = client
        .generate(&token("pst-good"), &body(100, 64, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UpstreamError::Status { status: 400, message } if message.starts_with("A validation error occurred"))
    );
    assert_eq!(err.code(), "upstream_invalid_request");

    let http = reqwest::Client::new();
    let log: Vec<Value> = http
        .get(format!("{}/_fake/requests", fake.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.len(), 3);
    for entry in &log {
        assert_eq!(
            (entry["method"].as_str(), entry["path"].as_str()),
            (Some("POST"), Some("/ai/generate-image"))
        );
        let at = entry["received_at"].as_str().unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(at).expect("RFC 3339");
        assert_eq!(
            at.len(),
            "2026-11-26T04:00:00.000Z".len(),
            "milliseconds: {at}"
        );
        assert!(parsed.timestamp() > 0);
    }
    assert_eq!(log[0]["body"]["parameters"]["n_samples"], 2);
    assert_eq!(log[1]["status"], 401);
}

#[tokio::test]
async fn overlapping_generations_get_the_concurrency_lock() {
    let fake = Fake::start(400);
    let client = NovelAiClient::new(&fake.url, Duration::from_secs(10));
    let b = body(64, 64, 1);
    let (good, other) = (token("pst-good"), token("pst-other"));
    let (first, second) = tokio::join!(client.generate(&good, &b), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.generate(&other, &b).await
    });
    assert!(first.is_ok());
    let err = second.unwrap_err();
    assert_eq!(
        err,
        UpstreamError::Status {
            status: 429,
            message: "Concurrent generation is locked".into()
        }
    );
    assert!(err.is_retryable());
    // Once the first finishes, the lock is free again.
    assert!(client.generate(&token("pst-good"), &b).await.is_ok());
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let fake = Fake::start(0);
    let http = reqwest::Client::new();
    for bad in [
        "not json",
        r#"{"input": "x"}"#,
        r#"{"input": "x", "model": "nai-diffusion-3", "action": "generate", "parameters": {"width": 64, "height": 64, "steps": 0, "scale": 5, "sampler": "k_euler", "n_samples": 1}}"#,
    ] {
        let resp = http
            .post(format!("{}/ai/generate-image", fake.url))
            .bearer_auth("pst-good")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{bad}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["statusCode"], 400);
    }
}

//! naiq's NovelAI client on the Director tools and upscaling, against the fake NovelAI
//! in-process: the bodies the worker builds are accepted, the zips (an augment's entries
//! stored, not deflated) are read with each image's size, and refusals are classified.

use std::time::Duration;

use base64::Engine as _;
use fake_novelai::{Config, RunningFake};
use naiq_adapters::novelai::NovelAiClient;
use naiq_core::domain::Credentials;
use naiq_core::domain::director::DirectorTool;
use naiq_core::domain::request::{Limits, parse_augment, parse_upscale};
use naiq_core::novelai::{AugmentRequest, UpscaleRequest};
use naiq_core::ports::{Upstream, UpstreamError};
use serde_json::{Value, json};

async fn fake() -> RunningFake {
    let config = Config::default()
        .with_tokens(["pst-good"])
        .with_latency(Duration::from_millis(5));
    fake_novelai::spawn(config).await.expect("the fake starts")
}

fn b64_png(w: u32, h: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(naiq_testkit::png_of(w, h))
}

/// The request the worker would send for this `POST /augment` body (the stored source
/// is the PNG the submit made).
fn augment(body: Value) -> AugmentRequest {
    let req = parse_augment(body.to_string().as_bytes(), &Limits::default()).expect("valid");
    let source = base64::engine::general_purpose::STANDARD.encode(req.image.unwrap().bytes);
    AugmentRequest::build(&req.params, source).unwrap()
}

fn good() -> Credentials {
    Credentials::Token {
        token: "pst-good".into(),
    }
}

#[tokio::test]
async fn every_tool_and_an_upscale_are_read_with_their_sizes() {
    let fake = fake().await;
    let client = NovelAiClient::new(fake.url(), Duration::from_secs(10));
    for tool in DirectorTool::ALL {
        let mut body = json!({"tool": tool.as_str(), "image": b64_png(96, 160)});
        if tool == DirectorTool::Emotion {
            body["emotion"] = json!("thinking");
            body["prompt"] = json!("考え中");
        }
        let images = client.augment(&good(), &augment(body)).await.unwrap();
        let sizes: Vec<_> = images.iter().map(|i| (i.width, i.height)).collect();
        assert_eq!(
            sizes,
            vec![(96, 160); tool.images() as usize],
            "{}",
            tool.as_str()
        );
    }
    let req = parse_upscale(
        json!({"image": b64_png(200, 120)}).to_string().as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let source = base64::engine::general_purpose::STANDARD.encode(req.image.unwrap().bytes);
    let up = UpscaleRequest::build(&req.params, source).unwrap();
    let images = client.upscale(&good(), &up).await.unwrap();
    assert_eq!(
        images
            .iter()
            .map(|i| (i.width, i.height))
            .collect::<Vec<_>>(),
        [(400, 240)]
    );
}

#[tokio::test]
async fn refusals_are_classified_for_the_retry_rules() {
    let fake = fake().await;
    let client = NovelAiClient::new(fake.url(), Duration::from_secs(10));
    // An image that is not a PNG: NovelAI's 400, not worth retrying.
    let bad = UpscaleRequest {
        image: "bm90IGEgcG5n".into(),
        model: "nai-diffusion-5-curated",
        declared_blur_sigma: 0,
    };
    let e = client.upscale(&good(), &bad).await.unwrap_err();
    assert_eq!(e.code(), "upstream_invalid_request", "{e}");
    assert!(!e.is_retryable());
    // An unknown token: 401.
    let stranger = Credentials::Token {
        token: "pst-nobody".into(),
    };
    let e = client
        .augment(
            &stranger,
            &augment(json!({"tool": "sketch", "image": b64_png(64, 64)})),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(e, UpstreamError::Status { status: 401, .. }),
        "{e}"
    );
}

/// A loopback server that reads one request and answers 200 with `size` bytes of zeros,
/// as if NovelAI sent an answer past any real one. Stopped when the test ends (the task is
/// aborted with the runtime).
async fn oversized_answer(size: usize) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        // Headers, then the body they announce.
        let body_len = loop {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
            if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map_or(0, |v| v.trim().parse().unwrap());
                break end + 4 + length;
            }
        };
        while request.len() < body_len {
            let n = socket.read(&mut buf).await.unwrap();
            request.extend_from_slice(&buf[..n]);
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: binary/octet-stream\r\ncontent-length: {size}\r\n\r\n"
        );
        socket.write_all(head.as_bytes()).await.unwrap();
        let zeros = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = left.min(zeros.len());
            // The client stops reading once it has refused the answer.
            if socket.write_all(&zeros[..n]).await.is_err() {
                return;
            }
            left -= n;
        }
    });
    url
}

#[tokio::test]
async fn an_answer_larger_than_any_real_one_is_refused_not_held() {
    let max = naiq_adapters::novelai::MAX_ANSWER_BYTES;
    let url = oversized_answer(max + 1).await;
    let client = NovelAiClient::new(&url, Duration::from_secs(30));
    let req = parse_upscale(
        json!({"image": b64_png(64, 64)}).to_string().as_bytes(),
        &Limits::default(),
    )
    .unwrap();
    let source = base64::engine::general_purpose::STANDARD.encode(req.image.unwrap().bytes);
    let up = UpscaleRequest::build(&req.params, source).unwrap();
    let err = client.upscale(&good(), &up).await.unwrap_err();
    assert!(
        matches!(&err, UpstreamError::BadResponse(m) if m.contains("64 MiB")),
        "{err}"
    );
}

//! Step previews through the whole stack: a V4.5 text-to-image job goes through the fake's
//! stream route; while it runs, `task_status` shows a growing `progress.step` and a
//! `preview_url` that serves a JPEG, then SUCCESS with the final image. A stream cut
//! mid-way is retried and succeeds; one that breaks on every attempt fails with
//! `upstream_stream_failed`. One sequential test: the fake's config and faults are global,
//! and both are reset at the end.

use std::time::{Duration, Instant};

use naiq_e2e::{Stack, new_key};
use serde_json::{Value, json};

const STREAM: &str = "/ai/generate-image-stream";

async fn configure(s: &Stack, config: Value) {
    let resp = s
        .http
        .put(format!("{}/_fake/config", s.fake))
        .header("content-type", "application/json")
        .body(config.to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{config}: {}", resp.status());
}

async fn inject(s: &Stack, kind: &str, count: u32) {
    let resp = s
        .http
        .post(format!("{}/_fake/faults", s.fake))
        .header("content-type", "application/json")
        .body(json!({"kind": kind, "count": count}).to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{kind}: {}", resp.status());
}

async fn bytes_at(s: &Stack, url: &str) -> Vec<u8> {
    let resp = s.http.get(url).send().await.unwrap();
    assert!(resp.status().is_success(), "{url}: {}", resp.status());
    resp.bytes().await.unwrap().to_vec()
}

fn v45(prompt: &str) -> Value {
    json!({"prompt": prompt, "model": "nai-v4.5", "width": 512, "height": 512, "steps": 23})
}

/// Polls a running job until it is done; returns every (step, preview bytes) seen.
async fn watch(s: &Stack, key: &str, id: &str) -> (Vec<(u64, Vec<u8>)>, Value) {
    let start = Instant::now();
    let mut seen = Vec::new();
    loop {
        let (status, body) = s
            .call("GET", &format!("/task_status/{id}"), Some(key), None)
            .await;
        assert_eq!(status, 200, "{body}");
        if body["done"] == true || start.elapsed() > Duration::from_secs(120) {
            return (seen, body);
        }
        if let Some(step) = body["progress"]["step"].as_u64() {
            assert_eq!(body["status"], "STARTED", "{body}");
            assert_eq!(body["progress"]["steps"], 23, "{body}");
            let url = body["preview_url"]
                .as_str()
                .expect("a preview URL with progress");
            if seen.last().is_none_or(|(last, _)| *last != step) {
                seen.push((step, bytes_at(s, url).await));
            }
        } else {
            assert!(body.get("preview_url").is_none(), "{body}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn a_streamed_job_shows_its_steps_then_succeeds() {
    let s = Stack::from_env();
    let key = new_key("previews").await;
    configure(&s, json!({"step_delay_ms": 200})).await;

    // A prompt of this run's own: the fake's log outlives a run.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prompt = format!("previews {nanos}, 猫耳");
    let sub = s.submit(&key, &v45(&prompt)).await;
    let id = sub["task_id"].as_str().unwrap().to_string();
    let (seen, done) = watch(&s, &key, &id).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert!(
        done.get("progress").is_none() && done.get("preview_url").is_none(),
        "{done}"
    );
    let steps: Vec<u64> = seen.iter().map(|(step, _)| *step).collect();
    eprintln!("progress steps seen while polling: {steps:?}");
    assert!(steps.len() >= 2, "progress seen growing: {steps:?}");
    assert!(steps.windows(2).all(|w| w[0] < w[1]), "{steps:?}");
    assert!(steps.iter().all(|s| (5..=22).contains(s)), "{steps:?}");
    for (_, jpeg) in &seen {
        assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff], "a JPEG preview");
    }
    let image = bytes_at(&s, done["image_url"].as_str().unwrap()).await;
    assert_eq!(&image[..8], b"\x89PNG\r\n\x1a\n");
    let calls: Vec<Value> = s
        .fake_requests()
        .await
        .into_iter()
        .filter(|r| r["body"]["input"] == prompt.as_str())
        .collect();
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["path"], STREAM);
    assert_eq!(calls[0]["body"]["parameters"]["stream"], "msgpack");

    // A stream cut mid-way (inside a frame; then with the connection dropped) is retried.
    configure(&s, json!({"step_delay_ms": 20})).await;
    for kind in ["stream_truncated", "stream_dropped"] {
        inject(&s, kind, 1).await;
        let sub = s.submit(&key, &v45(&format!("previews {kind}"))).await;
        let id = sub["task_id"].as_str().unwrap();
        let done = s.wait_done(&key, id, Duration::from_secs(120)).await;
        assert_eq!(done["status"], "SUCCESS", "{kind}: {done}");
        assert_eq!(done["attempts"], 2, "{kind}: {done}");
        let code = done["attempt_errors"][0]["code"].as_str().unwrap();
        assert!(
            ["upstream_stream_failed", "upstream_unreachable"].contains(&code),
            "{kind}: {done}"
        );
    }

    // An error event on every attempt: the job fails once the attempts run out.
    inject(&s, "stream_error", 10).await;
    let sub = s.submit(&key, &v45("previews error")).await;
    let id = sub["task_id"].as_str().unwrap();
    let done = s.wait_done(&key, id, Duration::from_secs(180)).await;
    let reset = s
        .http
        .delete(format!("{}/_fake/faults", s.fake))
        .send()
        .await
        .unwrap();
    assert!(reset.status().is_success());
    configure(&s, json!({"step_delay_ms": 0})).await;
    assert_eq!(done["status"], "FAILURE", "{done}");
    assert_eq!(done["error_code"], "upstream_stream_failed", "{done}");
    let attempts = done["attempts"].as_u64().unwrap();
    assert!(attempts >= 2, "{done}");
    assert_eq!(
        done["attempt_errors"].as_array().unwrap().len() as u64,
        attempts
    );
}

//! `POST /ai/generate-image-stream`: MessagePack frames and server-sent events, the same
//! checks, lock and charge as the plain route, V3 refused, the per-step delay, and the
//! stream faults.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::bodies::{v3, v4, with};
use crate::common::*;

const PATH: &str = "/ai/generate-image-stream";

/// `b` with `parameters.stream` set.
fn streamed(mut b: Value, form: Value) -> Value {
    b["parameters"]["stream"] = form;
    b
}

fn stream_body(form: &str, steps: u32, n: u32) -> Value {
    let b = v4("nai-diffusion-4-5-full", 64, 64, n);
    streamed(with(&b, "/parameters/steps", json!(steps)), json!(form))
}

async fn post(fake: &fake_novelai::RunningFake, token: &str, body: &Value) -> Answer {
    let resp = http()
        .post(format!("{}{PATH}", fake.url()))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    read(resp).await
}

/// An event: its type, sample, step and image bytes.
#[derive(Debug)]
struct Ev {
    kind: String,
    sample: u64,
    step: Option<u64>,
    image: Vec<u8>,
}

/// Reads MessagePack frames with `rmp`; `Err` with the leftover bytes when cut.
fn frames(mut body: &[u8]) -> Result<Vec<Ev>, usize> {
    let mut out = Vec::new();
    while !body.is_empty() {
        if body.len() < 4 {
            return Err(body.len());
        }
        let len = u32::from_be_bytes(body[..4].try_into().unwrap()) as usize;
        if body.len() < 4 + len {
            return Err(body.len());
        }
        let mut map = &body[4..4 + len];
        body = &body[4 + len..];
        let n = rmp::decode::read_map_len(&mut map).unwrap();
        let mut ev = Ev {
            kind: String::new(),
            sample: 0,
            step: None,
            image: Vec::new(),
        };
        for _ in 0..n {
            let klen = rmp::decode::read_str_len(&mut map).unwrap() as usize;
            let key = std::str::from_utf8(&map[..klen]).unwrap().to_string();
            map = &map[klen..];
            match key.as_str() {
                "event_type" | "message" => {
                    let l = rmp::decode::read_str_len(&mut map).unwrap() as usize;
                    if key == "event_type" {
                        ev.kind = std::str::from_utf8(&map[..l]).unwrap().to_string();
                    }
                    map = &map[l..];
                }
                "samp_ix" => ev.sample = rmp::decode::read_int(&mut map).unwrap(),
                "step_ix" => ev.step = Some(rmp::decode::read_int(&mut map).unwrap()),
                "gen_id" => {
                    let _: u64 = rmp::decode::read_int(&mut map).unwrap();
                }
                "sigma" => {
                    rmp::decode::read_f64(&mut map).unwrap();
                }
                "image" => {
                    let l = rmp::decode::read_bin_len(&mut map).unwrap() as usize;
                    ev.image = map[..l].to_vec();
                    map = &map[l..];
                }
                other => panic!("unexpected key {other}"),
            }
        }
        assert!(map.is_empty());
        out.push(ev);
    }
    Ok(out)
}

#[tokio::test]
async fn msgpack_streams_steps_minus_one_previews_then_a_final_per_sample() {
    let fake = start(0).await;
    let a = post(&fake, GOOD, &stream_body("msgpack", 6, 2)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("application/msgpack"));
    assert_eq!(a.header("cache-control"), Some("no-cache"));
    let events = frames(&a.bytes).unwrap();
    let shape: Vec<(String, u64, Option<u64>)> = events
        .iter()
        .map(|e| (e.kind.clone(), e.sample, e.step))
        .collect();
    let mut expected = Vec::new();
    for sample in 0..2 {
        for step in 0..5 {
            expected.push(("intermediate".to_string(), sample, Some(step)));
        }
        expected.push(("final".to_string(), sample, None));
    }
    assert_eq!(shape, expected);
    for e in &events {
        if e.kind == "intermediate" {
            assert_eq!(&e.image[..4], &[0xff, 0xd8, 0xff, 0xe0], "a JFIF JPEG");
        } else {
            let png = decode_png("final", &e.image);
            assert_eq!((png.width, png.height), (64, 64));
        }
    }
    let logged = log(&fake).await;
    let entry = logged.iter().find(|r| r["path"] == PATH).unwrap();
    assert_eq!(entry["status"], 200);
    assert!(entry["anlas_charged"].as_u64().is_some(), "{entry}");
    assert!(
        entry["finished_at"].is_string(),
        "finished once the body ended: {entry}"
    );
}

#[tokio::test]
async fn sse_sends_typed_events_with_base64_images() {
    let fake = start(0).await;
    let a = post(&fake, GOOD, &stream_body("sse", 4, 1)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), Some("text/event-stream"));
    let text = String::from_utf8(a.bytes.clone()).unwrap();
    let events: Vec<&str> = text.split("\n\n").filter(|e| !e.is_empty()).collect();
    assert_eq!(events.len(), 4, "3 previews and a final");
    for (i, e) in events.iter().enumerate() {
        let (head, data) = e.split_once('\n').unwrap();
        let v: Value = serde_json::from_str(data.strip_prefix("data: ").unwrap()).unwrap();
        let kind = if i < 3 { "intermediate" } else { "final" };
        assert_eq!(head, format!("event: {kind}"));
        assert_eq!(v["event_type"], kind);
        assert!(v["image"].as_str().unwrap().len() > 100);
    }
}

#[tokio::test]
async fn v3_a_bad_stream_form_and_a_bad_token_are_refused_like_the_plain_route() {
    let fake = start(0).await;
    let b = streamed(v3("nai-diffusion-3", 64, 64, 1), json!("msgpack"));
    let a = post(&fake, GOOD, &b).await;
    assert_eq!(a.status, 400);
    assert!(a.message().contains("does not stream"), "{}", a.message());
    for form in [json!("json"), json!(null), json!(3)] {
        let a = post(&fake, GOOD, &streamed(stream_body("msgpack", 6, 1), form)).await;
        assert_eq!(a.status, 400);
        assert!(a.message().contains("parameters.stream"), "{}", a.message());
    }
    assert_eq!(
        post(&fake, "pst-wrong", &stream_body("msgpack", 6, 1))
            .await
            .status,
        401
    );
    let unknown = with(
        &stream_body("msgpack", 6, 1),
        "/model",
        json!("nai-diffusion-9"),
    );
    assert_eq!(post(&fake, GOOD, &unknown).await.status, 400);
}

#[tokio::test]
async fn the_step_delay_paces_the_stream_and_the_lock_is_held_throughout() {
    let fake = start(0).await;
    let set = send(
        &fake,
        reqwest::Method::PUT,
        "/_fake/config",
        r#"{"step_delay_ms": 60}"#,
    )
    .await;
    assert_eq!(set.json()["step_delay_ms"], 60);
    let bad = send(
        &fake,
        reqwest::Method::PUT,
        "/_fake/config",
        r#"{"step_delay_ms": -1}"#,
    )
    .await;
    assert_eq!(bad.status, 400);
    let started = Instant::now();
    let body = stream_body("msgpack", 11, 1);
    let (first, second) = tokio::join!(post(&fake, GOOD, &body), async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Another token of the same account, mid-stream.
        post(&fake, OTHER, &body).await
    });
    assert!(
        started.elapsed() >= Duration::from_millis(600),
        "10 steps of 60 ms"
    );
    assert_eq!(first.status, 200);
    assert_eq!(frames(&first.bytes).unwrap().len(), 11);
    assert_eq!(second.status, 429, "single flight while streaming");
    assert_eq!(second.message(), "Concurrent generation is locked");
}

#[tokio::test]
async fn stream_faults_cut_the_body_or_send_an_error_event() {
    let fake = start(0).await;
    // Cut inside a frame, the body ended cleanly.
    inject(&fake, "stream_truncated", 1).await;
    let a = post(&fake, GOOD, &stream_body("msgpack", 10, 1)).await;
    assert_eq!(a.status, 200);
    assert!(frames(&a.bytes).is_err(), "ends inside a frame");

    // The connection dropped mid-body: the client sees a broken body.
    inject(&fake, "stream_dropped", 1).await;
    let resp = http()
        .post(format!("{}{PATH}", fake.url()))
        .bearer_auth(GOOD)
        .body(stream_body("msgpack", 10, 1).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.bytes().await.is_err(), "the body breaks off");

    // An error event after some previews, the charge refunded.
    inject(&fake, "stream_error", 1).await;
    let a = post(&fake, GOOD, &stream_body("msgpack", 10, 1)).await;
    let events = frames(&a.bytes).unwrap();
    assert_eq!(events.last().unwrap().kind, "error");
    assert!(
        events[..events.len() - 1]
            .iter()
            .all(|e| e.kind == "intermediate")
    );
    let logged = log(&fake).await;
    let faults: Vec<(&str, u64)> = logged
        .iter()
        .filter(|r| r["path"] == PATH)
        .map(|r| {
            (
                r["fault"].as_str().unwrap_or(""),
                r["anlas_charged"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    assert_eq!(faults[0].0, "stream_truncated");
    assert_eq!(faults[1].0, "stream_dropped");
    assert_eq!(faults[2], ("stream_error", 0), "refunded");

    // A fault answered whole on the stream route (a 200 zip missing its image) is logged as
    // finished, so the log never shows a generation still holding the account.
    inject(&fake, "missing_image", 1).await;
    let whole = post(&fake, GOOD, &stream_body("msgpack", 10, 1)).await;
    assert_eq!(whole.status, 200);
    let logged = log(&fake).await;
    let last = logged.iter().rev().find(|r| r["path"] == PATH).unwrap();
    assert_eq!(last["fault"], "missing_image");
    assert_eq!(last["status"], 200, "{last}");
    assert!(last["finished_at"].is_string(), "{last}");

    // The plain route answers a stream fault as a 500.
    inject(&fake, "stream_error", 1).await;
    let plain = generate(&fake, GOOD, &v4("nai-diffusion-4-5-full", 64, 64, 1)).await;
    assert_eq!(plain.status, 500);
}

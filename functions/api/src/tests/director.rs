//! `POST /augment` and `POST /upscale` through the router: queued and answered as a
//! generation is, refusals as JSON 400s naming the field, the body limit a 413, the
//! Idempotency-Key replayed, the task shown by `GET /task_status` with its kind.

use base64::Engine as _;
use naiq_testkit::png_of;
use serde_json::{Value, json};

use super::{EVENT_KEY, call, harness, request};

fn png(w: u32, h: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(png_of(w, h))
}

#[tokio::test]
async fn both_routes_queue_a_task_answered_as_a_generation_is() {
    let h = harness().await;
    let (status, generated) = call(
        &h,
        request("POST", "/generate", Some(EVENT_KEY), r#"{"prompt": "x"}"#),
    )
    .await;
    assert_eq!(status, 200, "{generated}");
    for (path, body, kind) in [
        (
            "/augment",
            json!({"tool": "emotion", "emotion": "happy", "image": png(832, 1216)}),
            "augment",
        ),
        ("/upscale", json!({"image": png(512, 768)}), "upscale"),
    ] {
        let (status, answer) = call(
            &h,
            request("POST", path, Some(EVENT_KEY), &body.to_string()),
        )
        .await;
        assert_eq!(status, 200, "{path}: {answer}");
        let keys = |v: &Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(keys(&answer), keys(&generated), "{path}");
        assert_eq!(answer["status"], "PENDING");
        let id = answer["task_id"].as_str().unwrap();
        assert_eq!(answer["status_url"], format!("/task_status/{id}"));
        let (status, task) = call(
            &h,
            request("GET", &format!("/task_status/{id}"), Some(EVENT_KEY), ""),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(task["kind"], kind);
        assert_eq!(task["status"], "PENDING");
    }
    assert_eq!(h.queue.len(naiq_core::domain::Lane::Normal), 3);
    let (_, task) = call(
        &h,
        request(
            "GET",
            &format!("/task_status/{}", generated["task_id"].as_str().unwrap()),
            Some(EVENT_KEY),
            "",
        ),
    )
    .await;
    assert_eq!(task["kind"], "generate");
}

#[tokio::test]
async fn refusals_are_json_400s_naming_the_field_and_queue_nothing() {
    let h = harness().await;
    let image = png(64, 64);
    for (path, body, code, field) in [
        (
            "/augment",
            json!({"image": image}),
            "missing_parameter",
            "tool",
        ),
        (
            "/augment",
            json!({"tool": "upscale", "image": image}),
            "invalid_parameter",
            "tool",
        ),
        (
            "/augment",
            json!({"tool": "emotion", "image": image, "emotion": "glee"}),
            "invalid_parameter",
            "emotion",
        ),
        (
            "/augment",
            json!({"tool": "colorize", "image": image, "defry": 6}),
            "invalid_parameter",
            "defry",
        ),
        (
            "/augment",
            json!({"tool": "sketch", "image": image, "prompt": "x"}),
            "invalid_parameter",
            "prompt",
        ),
        (
            "/augment",
            json!({"tool": "sketch", "image": "%%%"}),
            "invalid_parameter",
            "image",
        ),
        (
            "/augment",
            json!({"tool": "sketch", "image": image, "model": "nai-v3"}),
            "invalid_parameter",
            "model",
        ),
        (
            "/upscale",
            json!({"image": png(2048, 2048)}),
            "invalid_parameter",
            "image",
        ),
        (
            "/upscale",
            json!({"image": image, "webhook_url": "http://10.0.0.1/hook"}),
            "invalid_parameter",
            "webhook_url",
        ),
        (
            "/upscale",
            json!({"image": image, "priority": "urgent"}),
            "invalid_parameter",
            "priority",
        ),
    ] {
        let (status, answer) = call(
            &h,
            request("POST", path, Some(EVENT_KEY), &body.to_string()),
        )
        .await;
        assert_eq!(
            (status, answer["code"].as_str(), answer["field"].as_str()),
            (400, Some(code), Some(field)),
            "{path} {answer}"
        );
    }
    let (status, answer) = call(&h, request("POST", "/upscale", Some(EVENT_KEY), "[")).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (400, Some("malformed_json"))
    );
    let (status, _) = call(&h, request("POST", "/augment", None, "{}")).await;
    assert_eq!(status, 401);
    let (status, answer) = call(&h, request("GET", "/upscale", Some(EVENT_KEY), "")).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (405, Some("method_not_allowed"))
    );
    // Over the body limit: a 413 before anything is read.
    let limit = naiq_core::config::Settings::default().max_body_bytes;
    let huge = json!({"image": "A".repeat(limit)}).to_string();
    let (status, answer) = call(&h, request("POST", "/upscale", Some(EVENT_KEY), &huge)).await;
    assert_eq!((status, answer["code"].as_str()), (413, Some("too_large")));
    assert!(h.queue.is_empty());
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer() {
    let h = harness().await;
    let body = json!({"image": png(64, 64)}).to_string();
    let send = || {
        let mut req = request("POST", "/upscale", Some(EVENT_KEY), &body);
        req.headers_mut()
            .insert("idempotency-key", "upscale-1".parse().unwrap());
        req
    };
    let (status, first) = call(&h, send()).await;
    assert_eq!(status, 200);
    let (status, again) = call(&h, send()).await;
    assert_eq!(status, 200);
    assert_eq!(again["task_id"], first["task_id"]);
    assert_eq!(h.queue.len(naiq_core::domain::Lane::Normal), 1);
}

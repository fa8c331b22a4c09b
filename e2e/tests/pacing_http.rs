//! Pacing through the HTTP API of the local stack: priority order, cancel, queue status,
//! rate-limit status and test-mode gating. One sequential test: it slows the fake NovelAI
//! down to keep jobs waiting, which would disturb tests running beside it.

use std::time::Duration;

use naiq_e2e::{Stack, naiq};
use serde_json::{Value, json};

async fn set_latency(s: &Stack, ms: u64) {
    let resp = s
        .http
        .put(format!("{}/_fake/config", s.fake))
        .body(json!({"latency_ms": ms}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

async fn key_with(args: &[&str]) -> String {
    let mut all = vec!["keys", "create"];
    all.extend_from_slice(args);
    let (code, out, err) = naiq(&all, None, &[]).await;
    assert_eq!(code, 0, "{err}");
    out.trim().to_string()
}

async fn wait_for_status(s: &Stack, key: &str, id: &str, want: &str) -> Value {
    for _ in 0..150 {
        let (_, body) = s
            .call("GET", &format!("/task_status/{id}"), Some(key), None)
            .await;
        if body["status"] == want {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("task {id} never reached {want}");
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn lanes_cancel_queue_and_rate_limit_status_over_http() {
    let s = Stack::from_env();
    let key = key_with(&["--name", "pacing", "--allow-test"]).await;
    let plain = key_with(&["--name", "plain", "--lanes", "normal,low"]).await;
    let other = key_with(&["--name", "other"]).await;
    let submit = |prompt: &str, extra: Value| {
        let mut body = json!({"prompt": prompt, "model": "nai-v3", "resolution": "small_square"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };

    // Keep the worker busy with a first job so the next ones wait.
    set_latency(&s, 3500).await;
    let first = s.submit(&key, &submit("pacing first", json!({}))).await;
    let first_id = first["task_id"].as_str().unwrap().to_string();
    wait_for_status(&s, &key, &first_id, "STARTED").await;

    let low = s
        .submit(&key, &submit("pacing low", json!({"priority": "low"})))
        .await;
    let normal = s
        .submit(
            &key,
            &submit("pacing normal", json!({"priority": "normal"})),
        )
        .await;
    let high = s
        .submit(&key, &submit("pacing high", json!({"priority": "high"})))
        .await;
    let test = s
        .submit(
            &key,
            &submit("pacing test", json!({"is_test_request": true})),
        )
        .await;
    let id = |v: &Value| v["task_id"].as_str().unwrap().to_string();
    assert_eq!(test["queue_info"]["position"], 1, "{test}");
    for v in [&low, &normal, &high, &test] {
        assert!(v["queue_info"]["estimated_wait"].is_u64(), "{v}");
        assert!(v["queue_info"]["estimated_start_at"].is_string(), "{v}");
    }

    // Queue status: the caller's own positions, in lane order.
    let (status, q) = s.call("GET", "/queue_status", Some(&key), None).await;
    assert_eq!(status, 200, "{q}");
    let pos = &q["queue_status"]["queue_positions"];
    assert_eq!(pos[id(&test)], 1, "{q}");
    assert_eq!(pos[id(&high)], 2, "{q}");
    assert_eq!(pos[id(&normal)], 3, "{q}");
    assert_eq!(pos[id(&low)], 4, "{q}");
    assert_eq!(q["active_tasks"], 1, "the seed's count: {q}");
    assert_eq!(q["active_task_ids"], json!([first_id]), "{q}");
    let (_, theirs) = s.call("GET", "/queue_status", Some(&other), None).await;
    assert_eq!(
        theirs["queue_status"]["queue_positions"],
        json!({}),
        "another key sees none of them"
    );

    // Cancel: a waiting job is revoked; a started one is a conflict; a foreign one is 404.
    let (status, c) = s
        .call(
            "POST",
            &format!("/cancel_task/{}", id(&normal)),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(
        (status, c["status"].as_str()),
        (200, Some("REVOKED")),
        "{c}"
    );
    let (status, c) = s
        .call(
            "POST",
            &format!("/cancel_task/{first_id}"),
            Some(&key),
            None,
        )
        .await;
    assert_eq!((status, c["code"].as_str()), (409, Some("conflict")), "{c}");
    let (status, _) = s
        .call(
            "POST",
            &format!("/cancel_task/{}", id(&low)),
            Some(&other),
            None,
        )
        .await;
    assert_eq!(status, 404);

    // Rate-limit status: the seed's fields and the timezone and next window.
    let (status, rl) = s.call("GET", "/rate_limit_status", Some(&key), None).await;
    assert_eq!(status, 200, "{rl}");
    let info = &rl["rate_limit_info"];
    for field in [
        "daily_limit",
        "requests_today",
        "remaining",
        "singapore_time",
        "allowed_windows",
        "in_allowed_window",
        "window_description",
        "timezone",
        "next_window_start",
    ] {
        assert!(
            info.get(field).is_some(),
            "rate_limit_info lacks {field}: {rl}"
        );
    }
    assert_eq!(info["timezone"], "Asia/Singapore");
    assert_eq!(info["in_allowed_window"], true);
    assert!(info["requests_today"].as_u64().unwrap() >= 1);
    assert!(info["singapore_time"]["hour"].is_u64());

    // Test-mode gating: a key without the right gets 403 and nothing is queued; so does a
    // priority the key may not use.
    let (status, e) = s
        .call(
            "POST",
            "/generate",
            Some(&plain),
            Some(submit("gated", json!({"is_test_request": true})).to_string()),
        )
        .await;
    assert_eq!(
        (status, e["field"].as_str()),
        (403, Some("is_test_request")),
        "{e}"
    );
    let (status, e) = s
        .call(
            "POST",
            "/generate",
            Some(&plain),
            Some(submit("gated", json!({"priority": "high"})).to_string()),
        )
        .await;
    assert_eq!(
        (status, e["field"].as_str()),
        (403, Some("priority")),
        "{e}"
    );
    let (_, q) = s.call("GET", "/queue_status", Some(&plain), None).await;
    assert_eq!(q["queue_status"]["queue_positions"], json!({}));

    // Let everything run; NovelAI sees them in lane order, never the cancelled one.
    set_latency(&s, 50).await;
    for v in [&low, &high, &test] {
        let done = s.wait_done(&key, &id(v), Duration::from_secs(60)).await;
        assert_eq!(done["status"], "SUCCESS", "{done}");
    }
    let (_, revoked) = s
        .call(
            "GET",
            &format!("/task_status/{}", id(&normal)),
            Some(&key),
            None,
        )
        .await;
    assert_eq!(
        (revoked["status"].as_str(), revoked["done"].as_bool()),
        (Some("REVOKED"), Some(true))
    );
    let log = s.fake_requests().await;
    let order: Vec<&str> = log
        .iter()
        .filter_map(|r| r["body"]["input"].as_str())
        .filter(|p| p.starts_with("pacing "))
        .collect();
    assert_eq!(
        order,
        ["pacing first", "pacing test", "pacing high", "pacing low"]
    );
}

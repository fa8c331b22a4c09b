//! The seed service's README as its clients read it: every documented route answers with
//! the documented field names and JSON types (only the key header added), and a retried
//! submit with an `Idempotency-Key` is answered once, over HTTP through the whole stack.

use naiq_e2e::Stack;
use serde_json::{Value, json};

fn is_number(v: &Value) -> bool {
    v.is_number()
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn every_documented_field_has_the_seeds_name_and_type() {
    let s = Stack::from_env();
    let body = json!({"prompt": "一只可爱的猫咪，高清照片", "negative_prompt": "模糊，低质量",
                      "model": "nai-v3", "sampler": "k_euler_ancestral", "steps": 28,
                      "scale": 11, "resolution": "portrait", "vibe": 1});
    let sub = s.submit(&s.key, &body).await;
    assert_eq!(sub["success"], true);
    assert!(sub["task_id"].is_string() && sub["message"].is_string());
    assert!(
        is_number(&sub["queue_info"]["position"]) && is_number(&sub["queue_info"]["total_pending"])
    );
    for f in ["daily_limit", "requests_today", "remaining"] {
        assert!(is_number(&sub["rate_limit_info"][f]), "{f}: {sub}");
    }
    let fields: Vec<&str> = sub["warnings"]
        .as_array()
        .expect("warnings")
        .iter()
        .filter_map(|w| w["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        ["scale", "vibe"],
        "scale brought into range, the typo named: {sub}"
    );
    assert_eq!(sub["warnings"][0]["given"], 11);
    assert_eq!(sub["warnings"][0]["sent"], 10.0);
    let id = sub["task_id"].as_str().unwrap();
    assert_eq!(sub["status_url"], format!("/task_status/{id}"));

    let (status, st) = s
        .call("GET", &format!("/task_status/{id}"), Some(&s.key), None)
        .await;
    assert_eq!(status, 200);
    assert!(st["status"].is_string() && st["done"].is_boolean());
    if st["done"] == false {
        assert!(is_number(&st["queue_info"]["estimated_wait"]) || st["status"] == "STARTED");
        assert!(st["poll_after_seconds"].as_u64().unwrap() >= 2);
    }

    let (_, q) = s.call("GET", "/queue_status", Some(&s.key), None).await;
    assert!(q["queue_status"]["total_pending"].is_u64(), "{q}");
    assert!(q["queue_status"]["queue_positions"].is_object(), "{q}");
    assert!(
        q["queue_status"]["last_updated"].is_f64(),
        "epoch seconds: {q}"
    );
    assert!(q["active_tasks"].is_u64(), "a count: {q}");
    let last = q["last_updated"].as_str().unwrap();
    assert_eq!(last.len(), "2023-03-17 14:52:25".len(), "{q}");

    let (_, rl) = s
        .call("GET", "/rate_limit_status", Some(&s.key), None)
        .await;
    let info = &rl["rate_limit_info"];
    assert_eq!(rl["success"], true);
    for f in ["daily_limit", "requests_today", "remaining"] {
        assert!(info[f].is_u64(), "{f}: {rl}");
    }
    assert!(info["singapore_time"]["date"].is_string());
    assert!(info["singapore_time"]["hour"].is_u64());
    assert!(info["in_allowed_window"].is_boolean());
    assert!(info["window_description"].is_string());
    let windows = info["allowed_windows"].as_array().expect("hour pairs");
    for w in windows {
        let pair = w.as_array().expect("a pair");
        assert_eq!(pair.len(), 2, "{rl}");
        assert!(pair.iter().all(Value::is_number), "{rl}");
    }

    // Cancel: {success, message}.
    let sub = s
        .submit(&s.key, &json!({"prompt": "to cancel", "priority": "low"}))
        .await;
    let id = sub["task_id"].as_str().unwrap();
    let (status, c) = s
        .call("POST", &format!("/cancel_task/{id}"), Some(&s.key), None)
        .await;
    if status == 200 {
        assert_eq!(c["success"], true);
        assert!(c["message"].is_string());
    } else {
        assert_eq!(status, 409, "already sent upstream: {c}");
    }
}

/// `POST /generate` with an Idempotency-Key: the status, the body and one header's value.
async fn post_with_key(
    s: &Stack,
    key: &str,
    body: &Value,
    header: &str,
) -> (u16, Value, Option<String>) {
    let resp = s
        .http
        .post(format!("{}/generate", s.api))
        .bearer_auth(&s.key)
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let value = resp
        .headers()
        .get(header)
        .map(|v| v.to_str().unwrap().to_string());
    (status, resp.json().await.unwrap(), value)
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn an_idempotency_key_makes_a_retried_submit_safe() {
    let s = Stack::from_env();
    let key = format!("e2e-{}", std::process::id());
    let body = json!({"prompt": "e2e idempotent", "model": "nai-v3", "priority": "low"});
    let (status, first, replayed) = post_with_key(&s, &key, &body, "idempotent-replayed").await;
    assert_eq!((status, replayed), (200, None), "{first}");
    let (status, again, replayed) = post_with_key(&s, &key, &body, "idempotent-replayed").await;
    assert_eq!(
        (status, replayed.as_deref()),
        (200, Some("true")),
        "{again}"
    );
    assert_eq!(
        again["task_id"], first["task_id"],
        "the same task, queued once"
    );
    let (status, other, _) = post_with_key(
        &s,
        &key,
        &json!({"prompt": "another body"}),
        "idempotent-replayed",
    )
    .await;
    assert_eq!(
        (status, other["code"].as_str()),
        (422, Some("idempotency_key_reused"))
    );
    let sent = s
        .fake_requests()
        .await
        .into_iter()
        .filter(|r| r["body"]["input"] == "e2e idempotent")
        .count();
    assert!(sent <= 1, "never sent twice");
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn concurrent_retries_with_one_key_queue_one_job() {
    let s = Stack::from_env();
    let key = format!("e2e-race-{}", std::process::id());
    let body = json!({"prompt": "e2e idempotent race", "model": "nai-v3", "priority": "low"});
    let answers = futures_join(&s, &key, &body).await;
    let mut ids = std::collections::HashSet::new();
    for (status, answer, retry_after) in &answers {
        match status {
            200 => {
                ids.insert(answer["task_id"].as_str().unwrap().to_string());
            }
            409 => {
                assert_eq!(answer["code"], "idempotency_in_progress", "{answer}");
                assert!(retry_after.is_some(), "409 says when to retry");
            }
            other => panic!("unexpected {other}: {answer}"),
        }
    }
    assert_eq!(ids.len(), 1, "one task whatever the race: {answers:?}");
}

async fn futures_join(s: &Stack, key: &str, body: &Value) -> Vec<(u16, Value, Option<String>)> {
    let (a, b, c, d) = tokio::join!(
        post_with_key(s, key, body, "retry-after"),
        post_with_key(s, key, body, "retry-after"),
        post_with_key(s, key, body, "retry-after"),
        post_with_key(s, key, body, "retry-after")
    );
    vec![a, b, c, d]
}

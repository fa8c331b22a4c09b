//! Fair turns through the HTTP API of the local stack: a key with a deep backlog delays
//! another key's job by at most one of its own, and the position says so. One sequential
//! test: it slows the fake NovelAI down to keep jobs waiting, which would disturb tests
//! running beside it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use naiq_e2e::{Stack, new_key};
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

fn time(v: &Value, field: &str) -> Option<DateTime<Utc>> {
    v[field]
        .as_str()
        .map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
}

async fn status(s: &Stack, key: &str, id: &str) -> Value {
    let (code, body) = s
        .call("GET", &format!("/task_status/{id}"), Some(key), None)
        .await;
    assert_eq!(code, 200, "{body}");
    body
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn a_second_key_waits_for_at_most_one_job_of_a_deep_backlog() {
    let s = Stack::from_env();
    let a = new_key("fair-a").await;
    let b = new_key("fair-b").await;
    let body =
        |prompt: &str| json!({"prompt": prompt, "model": "nai-v3", "resolution": "small_square"});

    // Each call takes a while, so A's jobs wait while B submits.
    set_latency(&s, 1200).await;
    let mut a_ids = Vec::new();
    for i in 0..30 {
        let sub = s.submit(&a, &body(&format!("fair a {i}"))).await;
        a_ids.push(sub["task_id"].as_str().unwrap().to_string());
    }
    let b_submitted = Utc::now();
    let b_sub = s.submit(&b, &body("fair b")).await;
    let b_id = b_sub["task_id"].as_str().unwrap().to_string();
    let b_position = b_sub["queue_info"]["position"].as_u64().unwrap();
    assert!(
        b_position <= 2,
        "B is behind at most one of A's 30 jobs: {b_sub}"
    );
    // Before fair turns A's last job stood there; now A's later jobs stand behind B.
    let a_last = status(&s, &a, a_ids.last().unwrap()).await;
    if a_last["status"] == "PENDING" {
        let a_last_pos = a_last["queue_info"]["position"].as_u64().unwrap();
        assert!(a_last_pos > b_position, "{a_last}");
    }

    // While B waits, its position stays within one of A's jobs.
    let b_done = loop {
        let v = status(&s, &b, &b_id).await;
        if v["status"] == "PENDING" {
            assert!(v["queue_info"]["position"].as_u64().unwrap() <= 2, "{v}");
        } else if v["done"] == true {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    assert_eq!(b_done["status"], "SUCCESS", "{b_done}");
    let b_started = time(&b_done, "started_at").expect("B started");

    // A's jobs that started after B was queued and before B: at most one, and no more
    // than B's position said.
    let mut between = 0u64;
    let mut a_started = 0;
    for id in &a_ids {
        let v = status(&s, &a, id).await;
        if let Some(t) = time(&v, "started_at") {
            a_started += 1;
            if t > b_submitted && t < b_started {
                between += 1;
            }
        }
    }
    assert!(between <= 1, "{between} of A's jobs went between");
    assert!(
        between < b_position,
        "position {b_position} said fewer than {between} jobs were ahead"
    );
    assert!(
        a_started < 30,
        "A's backlog was still waiting when B ran ({a_started} started)"
    );

    // Clean up: A's waiting jobs are cancelled, the fake is fast again.
    for id in &a_ids {
        let _ = s
            .call("POST", &format!("/cancel_task/{id}"), Some(&a), None)
            .await;
    }
    set_latency(&s, 0).await;
    for id in &a_ids {
        let v = s.wait_done(&a, id, Duration::from_secs(30)).await;
        assert_eq!(v["done"], true, "{v}");
    }
}

//! `naiq ops status` against the running stack: its figures agree with the API's own
//! (`GET /rate_limit_status`), and a job that just failed shows under its code.

use std::time::Duration;

use naiq_e2e::{Stack, naiq, new_key};
use serde_json::{Value, json};

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn ops_status_shows_calls_lanes_failures_and_the_account() {
    let s = Stack::from_env();
    let key = new_key("ops-status").await;
    let resp = s
        .http
        .post(format!("{}/_fake/faults", s.fake))
        .header("content-type", "application/json")
        .body(json!({"kind": "402", "count": 1}).to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    let sub = s
        .submit(&key, &json!({"prompt": "ops: out of anlas"}))
        .await;
    let task = sub["task_id"].as_str().expect("task id");
    let done = s.wait_done(&key, task, Duration::from_secs(60)).await;
    assert_eq!(done["error_code"], "insufficient_anlas", "{done}");

    let (code, out, err) = naiq(&["ops", "status", "--json"], None, &[]).await;
    assert_eq!(code, 0, "{err}");
    let ops: Value = serde_json::from_str(&out).expect("JSON");
    let (_, limits) = s.call("GET", "/rate_limit_status", Some(&key), None).await;
    let api = &limits["rate_limit_info"];
    assert_eq!(ops["daily_limit"], api["daily_limit"]);
    // The stack is idle between the two reads (this test's job is done).
    assert_eq!(ops["calls_today"], api["requests_today"], "{ops} vs {api}");
    assert_eq!(ops["timezone"], api["timezone"]);
    for lane in ["test", "high", "normal", "low"] {
        assert!(ops["lanes"][lane]["waiting"].is_u64(), "{lane}: {ops}");
    }
    assert!(ops["dead_letters"]["waiting"].is_u64(), "{ops}");
    assert!(
        ops["failures_24h"]["by_code"]["insufficient_anlas"].as_u64() >= Some(1),
        "{ops}"
    );
    // The 402 made the worker read the account again.
    assert!(ops["account"]["anlas"].is_u64(), "{ops}");

    let (code, screen, err) = naiq(&["ops", "status"], None, &[]).await;
    assert_eq!(code, 0, "{err}");
    eprintln!("{screen}");
    for label in [
        "calls today",
        "windows",
        "next slot",
        "waiting jobs",
        "dead letters",
        "failures, 24 h",
        "account",
    ] {
        assert!(screen.contains(label), "{label}: {screen}");
    }
    assert!(screen.contains("insufficient_anlas ×"), "{screen}");
    for secret in [s.key.as_str(), key.as_str(), s.fake_token.as_str()] {
        assert!(!screen.contains(secret) && !out.contains(secret));
    }
}

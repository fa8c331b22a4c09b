//! Upstream faults through the whole stack (API → SQS → worker under cargo lambda watch →
//! the fake NovelAI → S3/DynamoDB): each injected fault ends in the documented status,
//! retries keep the cooldown and MAX_ATTEMPTS (3 in the test stack), no job is lost, and
//! no credential reaches a log line. One sequential test: the fake's faults are global.

use std::time::Duration;

use chrono::{DateTime, Utc};
use naiq_e2e::{Stack, new_key};
use serde_json::{Value, json};

async fn inject(s: &Stack, kind: &str, count: u32) {
    let resp = s
        .http
        .post(format!("{}/_fake/faults", s.fake))
        .header("content-type", "application/json")
        .body(json!({"kind": kind, "count": count}).to_string())
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "injecting {kind}: {}",
        resp.status()
    );
}

fn ts(v: &Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
}

/// The fake's log entries for one prompt, oldest first.
async fn calls_for(s: &Stack, prompt: &str) -> Vec<Value> {
    s.fake_requests()
        .await
        .into_iter()
        .filter(|r| r["path"] == "/ai/generate-image" && r["body"]["input"] == prompt)
        .collect()
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn injected_faults_end_in_the_documented_status() {
    let s = Stack::from_env();
    let key = new_key("faults").await;
    // (fault, count, final status, error code, attempts)
    let cases: [(&str, u32, &str, Option<&str>, u64); 7] = [
        ("500", 1, "SUCCESS", None, 2),
        ("429", 3, "FAILURE", Some("upstream_busy"), 3),
        ("402", 1, "FAILURE", Some("insufficient_anlas"), 1),
        ("401", 1, "FAILURE", Some("upstream_auth_failed"), 1),
        ("hang", 1, "SUCCESS", None, 2),
        (
            "corrupt_zip",
            1,
            "FAILURE",
            Some("upstream_bad_response"),
            1,
        ),
        (
            "missing_image",
            1,
            "FAILURE",
            Some("upstream_bad_response"),
            1,
        ),
    ];
    let mut seen = Vec::new();
    for (kind, count, status, code, attempts) in cases {
        let prompt = format!("fault {kind}");
        inject(&s, kind, count).await;
        let sub = s
            .submit(
                &key,
                &json!({"prompt": prompt, "model": "nai-v3", "resolution": "small_square"}),
            )
            .await;
        let id = sub["task_id"].as_str().unwrap().to_string();
        let done = s.wait_done(&key, &id, Duration::from_secs(120)).await;
        assert_eq!(done["status"], status, "{kind}: {done}");
        assert_eq!(done["error_code"].as_str(), code, "{kind}: {done}");
        assert_eq!(done["attempts"], attempts, "{kind}: {done}");
        // Each failed attempt is shown with its own error, numbered from 1.
        let failed_attempts = if status == "SUCCESS" {
            attempts - 1
        } else {
            attempts
        };
        let errors = done["attempt_errors"].as_array().expect("attempt_errors");
        assert_eq!(errors.len() as u64, failed_attempts, "{kind}: {done}");
        for (n, e) in errors.iter().enumerate() {
            assert_eq!(e["attempt"], n as u64 + 1, "{kind}: {done}");
            assert!(
                e["code"].is_string() && e["at"].is_string(),
                "{kind}: {done}"
            );
        }
        if let (Some(code), Some(last)) = (code, errors.last()) {
            assert_eq!(last["code"], code, "{kind}: {done}");
        }
        if status == "SUCCESS" {
            assert!(done["image_url"].is_string(), "{kind}: {done}");
        } else {
            assert!(
                !done["error"].as_str().unwrap_or("").is_empty(),
                "{kind}: {done}"
            );
        }
        // One upstream call per attempt, and after a failed call the next one waits the
        // cooldown (0.3-0.6 s in the test stack) from the failure's end.
        let calls = calls_for(&s, &prompt).await;
        assert_eq!(calls.len() as u64, attempts, "{kind}: {calls:#?}");
        for pair in calls.windows(2) {
            let (end, next) = (
                ts(&pair[0]["finished_at"]),
                ts(&pair[1]["received_at"]).unwrap(),
            );
            // A hung call has no end on the fake's side; the client's timeout ended it.
            if let Some(end) = end {
                let gap = (next - end).num_milliseconds();
                assert!(gap >= 290, "{kind}: retry {gap} ms after the failure");
            }
        }
        seen.push(id);
    }
    // Nothing was lost: every job reached a final state (checked above), and the queue of
    // this key is empty.
    let (_, q) = s.call("GET", "/queue_status", Some(&key), None).await;
    assert_eq!(q["queue_status"]["queue_positions"], json!({}), "{q}");
    assert_eq!(q["active_tasks"], 0, "{q}");

    let logs = s.logs();
    for id in &seen {
        assert!(logs.contains(id.as_str()), "the logs carry task {id}");
    }
    for secret in [s.fake_token.as_str(), s.key.as_str(), key.as_str()] {
        assert!(!logs.contains(secret), "a credential appears in a log line");
    }
}

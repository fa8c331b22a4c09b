//! A revoked key through the whole stack: `naiq keys revoke` answers at once, the key gets
//! 401 on every route, its three waiting jobs are `REVOKED` with the reason, and the fake
//! NovelAI never sees them. One sequential test: it holds the worker with two hanging
//! calls (each lasts NOVELAI_TIMEOUT_SECONDS, 5 s in the test stack) on another key's
//! job in a higher lane, so the revoked key's jobs are still waiting when it is revoked;
//! the fake's faults are global, which would disturb tests beside it.

use std::time::{Duration, Instant};

use naiq_adapters::aws::AwsClients;
use naiq_adapters::aws::dynamodb::DynamoJobStore;
use naiq_core::domain::{ApiKey, Status, TaskId};
use naiq_core::ports::JobStore;
use naiq_e2e::{Stack, key_change_lands, naiq, new_key};
use serde_json::json;

async fn wait_for(s: &Stack, key: &str, id: &str, want: &[&str]) {
    let start = Instant::now();
    loop {
        let (_, body) = s
            .call("GET", &format!("/task_status/{id}"), Some(key), None)
            .await;
        if want.iter().any(|w| body["status"] == *w) {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "task {id} never reached {want:?}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn a_revoked_key_gets_401_everywhere_and_its_waiting_jobs_are_never_sent() {
    let s = Stack::from_env();
    let doomed = new_key("revoke-doomed").await;
    let other = new_key("revoke-other").await;
    let key_id = ApiKey::from_client(&doomed).id();

    // Hold the worker: the other key's normal-lane job hangs twice, then succeeds.
    let resp = s
        .http
        .post(format!("{}/_fake/faults", s.fake))
        .header("content-type", "application/json")
        .body(json!({"kind": "hang", "count": 2}).to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let small = |prompt: &str, lane: &str| {
        json!({"prompt": prompt, "model": "nai-v3", "resolution": "small_square",
               "priority": lane})
    };
    let blocker = s.submit(&other, &small("revoke blocker", "normal")).await;
    let blocker_id = blocker["task_id"].as_str().unwrap().to_string();
    wait_for(&s, &other, &blocker_id, &["STARTED", "RETRY"]).await;

    let mut ids = Vec::new();
    for i in 0..3 {
        let sub = s
            .submit(&doomed, &small(&format!("revoke doomed {i}"), "low"))
            .await;
        ids.push(sub["task_id"].as_str().unwrap().to_string());
    }
    let (code, out, err) = naiq(
        &[
            "keys",
            "revoke",
            &key_id,
            "--reason",
            "e2e: the bot was retired",
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cancelled 3 waiting job(s)"), "{out}");
    assert!(!out.contains(&doomed), "the secret is never printed");
    key_change_lands().await;

    // 401 on every route that takes a key.
    let id = &ids[0];
    for (method, path, body) in [
        (
            "POST",
            "/generate".to_string(),
            Some(small("after", "low").to_string()),
        ),
        ("GET", format!("/task_status/{id}"), None),
        ("POST", format!("/cancel_task/{id}"), None),
        ("GET", "/queue_status".to_string(), None),
        ("GET", "/rate_limit_status".to_string(), None),
        ("GET", "/tasks".to_string(), None),
        ("GET", "/usage".to_string(), None),
    ] {
        let (status, answer) = s.call(method, &path, Some(&doomed), body).await;
        assert_eq!(status, 401, "{method} {path}: {answer}");
        assert_eq!(answer["code"], "unauthorized");
        assert_eq!(answer["message"], "this API key was revoked");
    }
    let (code, shown, _) = naiq(&["keys", "show", &key_id], None, &[]).await;
    assert_eq!(code, 0);
    assert!(shown.contains("state: revoked"), "{shown}");
    assert!(shown.contains("e2e: the bot was retired"), "{shown}");
    let (_, listed, _) = naiq(&["keys", "list"], None, &[]).await;
    let line = listed
        .lines()
        .find(|l| l.starts_with(&key_id))
        .unwrap_or_else(|| panic!("{key_id} not listed: {listed}"));
    assert!(line.contains("revoked"), "{line}");

    let store = DynamoJobStore::new(
        AwsClients::from_env().await.dynamodb,
        std::env::var("JOBS_TABLE").unwrap(),
    );
    for id in &ids {
        let job = store
            .get(&TaskId::parse(id).unwrap())
            .await
            .unwrap()
            .expect("stored");
        assert_eq!(job.status(), Status::Revoked, "{id}");
        let error = job.error().expect("the reason is kept");
        assert_eq!(error.code, "key_revoked");
        assert!(
            error.message.contains("e2e: the bot was retired"),
            "{error:?}"
        );
    }

    // A job queued behind them in the same lane finishing means the worker has passed
    // over their messages.
    wait_for(&s, &other, &blocker_id, &["SUCCESS"]).await;
    let sentinel = s.submit(&other, &small("revoke sentinel", "low")).await;
    let sentinel_id = sentinel["task_id"].as_str().unwrap().to_string();
    wait_for(&s, &other, &sentinel_id, &["SUCCESS"]).await;
    let seen: Vec<_> = s
        .fake_requests()
        .await
        .into_iter()
        .filter(|r| {
            r["body"]["input"]
                .as_str()
                .is_some_and(|p| p.starts_with("revoke doomed"))
        })
        .collect();
    assert!(
        seen.is_empty(),
        "the fake saw a revoked key's job: {seen:?}"
    );
    for id in &ids {
        let job = store
            .get(&TaskId::parse(id).unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(job.status(), Status::Revoked, "still revoked: {id}");
    }
}

//! The server-side account as NovelAI describes it in 2026, through the whole stack:
//! `naiq credentials check` reads the subscription on the image host and prints the V5
//! usage; an Opus account's free V5 image is free (in the cost naiq shows and in what the
//! fake charges) while the usage lasts, and stops being free once it goes negative.
//! One sequential test: it changes the fake's account.

use std::time::Duration;

use naiq_e2e::{Stack, account_change_lands, naiq};
use serde_json::{Value, json};

async fn set_usage(s: &Stack, percent: f64) {
    let resp = s
        .http
        .put(format!("{}/_fake/accounts", s.fake))
        .header("content-type", "application/json")
        .body(json!({"token": s.fake_token, "usage_percent": percent}).to_string())
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "setting the usage: {}",
        resp.status()
    );
}

async fn check(s: &Stack) -> String {
    let (code, out, err) = naiq(
        &["credentials", "check"],
        None,
        &[("NOVELAI_IMAGE_URL", s.fake.as_str())],
    )
    .await;
    assert_eq!(code, 0, "credentials check failed: {err}");
    assert!(
        !out.contains(&s.fake_token),
        "the token is never printed: {out}"
    );
    // A warm API prices with the account it read a moment ago until its cache time passes.
    account_change_lands().await;
    out
}

/// Runs one free-sized V5 job; returns naiq's cost and what the fake charged.
async fn v5_job(s: &Stack, prompt: &str) -> (Value, Value) {
    let sub = s
        .submit(
            &s.key,
            &json!({"prompt": prompt, "model": "nai-v5", "width": 1024, "height": 1024,
                    "steps": 28}),
        )
        .await;
    let id = sub["task_id"].as_str().unwrap();
    let done = s.wait_done(&s.key, id, Duration::from_secs(60)).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let sent = s
        .fake_requests()
        .await
        .into_iter()
        .find(|r| r["body"]["input"] == prompt)
        .expect("sent upstream");
    (sub["cost"].clone(), sent["anlas_charged"].clone())
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn the_free_v5_image_lasts_while_the_opus_usage_does() {
    let s = Stack::from_env();
    set_usage(&s, 50.0).await;
    let out = check(&s).await;
    assert!(out.contains("tier Opus"), "{out}");
    // The gauge refills continuously, so 50 % may read 51 % a moment later.
    let percent: i64 = out
        .split("V5 usage: ")
        .nth(1)
        .and_then(|rest| rest.split('%').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no V5 usage line: {out}"));
    assert!((50..=51).contains(&percent), "{out}");
    assert!(!out.contains("exhausted"), "{out}");
    let (cost, charged) = v5_job(&s, "e2e usage left").await;
    assert_eq!(
        (cost["opus_free"].clone(), cost["total"].clone()),
        (json!(true), json!(0))
    );
    assert_eq!(charged, 0, "the fake gave the free image");

    set_usage(&s, -1.0).await;
    let out = check(&s).await;
    assert!(out.contains("exhausted"), "{out}");
    let (cost, charged) = v5_job(&s, "e2e usage spent").await;
    assert_eq!(
        (cost["opus_free"].clone(), cost["total"].clone()),
        (json!(false), json!(30))
    );
    assert_eq!(charged, 30, "the fake charged what naiq said");
    // The status route shows the account, no secret in it.
    let (_, status) = s
        .call("GET", "/rate_limit_status", Some(&s.key), None)
        .await;
    let account = &status["rate_limit_info"]["account"];
    assert_eq!(account["tier_name"], "Opus");
    assert_eq!(account["v5_usage"]["free_v5_images"], false);
    assert!(!status.to_string().contains(&s.fake_token));
    set_usage(&s, 100.0).await;
    check(&s).await;
}

//! Per-key limits through the whole stack: a key at its waiting limit and a key past its
//! daily Anlas budget each get 429 naming the limit, with `Retry-After` and the IETF
//! RateLimit fields; and the Anlas ledger (`GET /usage`) settles to what the fake NovelAI
//! actually charged (its request log and its account balance, `GET /_fake/accounts`).

use std::time::Duration;

use chrono::Utc;
use naiq_adapters::aws::AwsClients;
use naiq_adapters::aws::dynamodb::DynamoJobStore;
use naiq_core::domain::request::{Limits, parse_submit};
use naiq_core::domain::{ApiKey, Job, Lane, TaskId};
use naiq_core::ports::JobStore;
use naiq_e2e::{Stack, key_change_lands, naiq};
use serde_json::{Value, json};

async fn key_with(args: &[&str]) -> String {
    let mut all = vec!["keys", "create"];
    all.extend_from_slice(args);
    let (code, out, err) = naiq(&all, None, &[]).await;
    assert_eq!(code, 0, "{err}");
    out.trim().to_string()
}

/// A submit that may be refused: status, the headers that matter, the body.
async fn try_submit(s: &Stack, key: &str, body: &Value) -> (u16, [Option<String>; 3], Value) {
    let resp = s
        .http
        .post(format!("{}/generate", s.api))
        .bearer_auth(key)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let headers = [
        header("retry-after"),
        header("ratelimit-policy"),
        header("ratelimit"),
    ];
    (status, headers, resp.json().await.unwrap())
}

/// `"name";r=R;t=T` → (R, T).
fn remaining_and_reset(field: &str, policy: &str) -> (u64, u64) {
    let rest = field
        .strip_prefix(&format!("\"{policy}\";"))
        .unwrap_or_else(|| panic!("{field} is not policy {policy}"));
    let mut r = None;
    let mut t = None;
    for param in rest.split(';') {
        match param.split_once('=') {
            Some(("r", v)) => r = v.parse().ok(),
            Some(("t", v)) => t = v.parse().ok(),
            _ => panic!("unexpected parameter {param} in {field}"),
        }
    }
    (r.expect("r"), t.expect("t"))
}

async fn usage(s: &Stack, key: &str) -> Value {
    let (status, body) = s.call("GET", "/usage", Some(key), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn a_key_at_its_waiting_limit_gets_429_with_the_ratelimit_fields() {
    let s = Stack::from_env();
    let key = key_with(&["--name", "limits-waiting", "--max-waiting", "2"]).await;
    let key_id = ApiKey::from_client(&key).id();
    // Two jobs that wait for ever: written to the table with no queue message.
    let store = DynamoJobStore::new(
        AwsClients::from_env().await.dynamodb,
        std::env::var("JOBS_TABLE").unwrap(),
    );
    let params = parse_submit(br#"{"prompt": "limits waiting"}"#, &Limits::default())
        .unwrap()
        .params;
    for i in 0..2u8 {
        let mut bytes = [7u8; 16];
        bytes[0] = i;
        bytes[1..9].copy_from_slice(&u64::from(std::process::id()).to_le_bytes());
        let job = Job::new(
            TaskId::from_random_bytes(bytes),
            key_id.clone(),
            Lane::Low,
            params.clone(),
            Utc::now(),
        );
        store.insert(&job).await.unwrap();
    }
    // The index is read eventually consistently: give it a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(usage(&s, &key).await["waiting"], 2);
    let body = json!({"prompt": "limits one too many", "model": "nai-v3",
                      "resolution": "small_square"});
    let (status, [retry, policy, limit], answer) = try_submit(&s, &key, &body).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["code"], "waiting_limit");
    assert_eq!(answer["limit"], "waiting");
    assert_eq!(answer["quota"], 2);
    assert_eq!(answer["success"], false);
    assert!(
        answer["message"]
            .as_str()
            .unwrap()
            .contains("max_waiting 2")
    );
    assert_eq!(
        policy.as_deref(),
        Some(r#""waiting";q=2;qu="concurrent-requests""#)
    );
    let (r, t) = remaining_and_reset(limit.as_deref().unwrap(), "waiting");
    assert_eq!(r, 0);
    let retry: u64 = retry.unwrap().parse().unwrap();
    assert!(
        retry >= 1 && retry >= t.max(1),
        "Retry-After {retry}, t {t}"
    );
    // Nothing was queued or held.
    assert_eq!(usage(&s, &key).await["jobs_today"], 0);

    // Revoking the key cancels the two (and leaves no waiting job behind).
    let (code, out, err) = naiq(&["keys", "revoke", &key_id], None, &[]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cancelled 2 waiting job(s)"), "{out}");
}

/// The fake's account 0 (the configured token's) Anlas balance.
async fn balance(s: &Stack) -> u64 {
    let accounts: Value = s
        .http
        .get(format!("{}/_fake/accounts", s.fake))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["account"] == 0)
        .and_then(|a| a["anlas"].as_u64())
        .expect("account 0")
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn a_daily_anlas_budget_answers_429_and_the_ledger_settles_to_the_fakes_charges() {
    let s = Stack::from_env();
    let key = key_with(&["--name", "limits-anlas"]).await;
    let key_id = ApiKey::from_client(&key).id();
    let before = balance(&s).await;
    // 29 steps: past the Opus free image, so each job costs Anlas.
    let job = |i: usize| {
        json!({"prompt": format!("limits anlas {i}"), "model": "nai-v3",
               "resolution": "portrait", "steps": 29})
    };
    let first = s.submit(&key, &job(0)).await;
    let price = first["cost"]["total"].as_u64().unwrap();
    assert!(price > 0, "{first}");
    // A budget for two jobs and a half.
    let budget = 2 * price + price / 2;
    let (code, _, err) = naiq(
        &[
            "keys",
            "update",
            &key_id,
            "--anlas-per-day",
            &budget.to_string(),
        ],
        None,
        &[],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    key_change_lands().await;
    let second = s.submit(&key, &job(1)).await;
    let (status, [retry, policy, limit], answer) = try_submit(&s, &key, &job(2)).await;
    assert_eq!(status, 429, "{answer}");
    assert_eq!(answer["code"], "anlas_per_day");
    assert_eq!(answer["limit"], "anlas-daily");
    assert_eq!(answer["quota"], budget);
    assert_eq!(
        policy.as_deref(),
        Some(format!(r#""anlas-daily";q={budget};qu="anlas";w=86400"#).as_str())
    );
    let (left, reset) = remaining_and_reset(limit.as_deref().unwrap(), "anlas-daily");
    assert!(left < price, "{left} left, {price} needed");
    assert!(reset > 0 && reset <= 86_400, "{reset}");
    assert_eq!(retry.unwrap().parse::<u64>().unwrap(), reset);

    let mut charged = 0;
    for sub in [&first, &second] {
        let id = sub["task_id"].as_str().unwrap();
        let done = s.wait_done(&key, id, Duration::from_secs(60)).await;
        assert_eq!(done["status"], "SUCCESS", "{done}");
    }
    for i in 0..2 {
        let prompt = format!("limits anlas {i}");
        let sent = s
            .fake_requests()
            .await
            .into_iter()
            .find(|r| r["body"]["input"] == prompt.as_str())
            .expect("sent upstream");
        charged += sent["anlas_charged"].as_u64().expect("charged");
    }
    let after = balance(&s).await;
    assert_eq!(
        before - after,
        charged,
        "the fake's balance moved by its charges"
    );
    // The worker settles just after it marks the job done: allow it a moment.
    let mut u = usage(&s, &key).await;
    for _ in 0..50 {
        if u["held"] == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        u = usage(&s, &key).await;
    }
    assert_eq!(u["spent_today"], charged, "{u}");
    assert_eq!(u["held"], 0, "{u}");
    assert_eq!(u["jobs_today"], 2, "{u}");
    assert_eq!(u["limits"]["anlas_per_day"], budget);
    assert_eq!(u["anlas_remaining"], budget - charged);
    assert_eq!(u["key_id"], key_id.as_str());
}

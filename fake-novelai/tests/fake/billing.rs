//! Anlas: prices, the Opus free sample, the V5 usage gauge, balances, 402, and the
//! account controls.

use fake_novelai::{Account, RunningFake};
use serde_json::{Value, json};

use crate::accounts::{TEST_EMAIL, TEST_KEY, TEST_PASSWORD};
use crate::bodies::{img2img, param, v4, v5};
use crate::common::{self, GOOD, generate, get, images, log, start, start_with};

async fn put(fake: &RunningFake, path: &str, body: Value) -> common::Answer {
    common::send(fake, reqwest::Method::PUT, path, &body.to_string()).await
}

async fn accounts(fake: &RunningFake) -> Vec<Value> {
    serde_json::from_value(get(fake, "/_fake/accounts", None).await.json()).unwrap()
}

/// The Anlas `/user/subscription` shows: (fixed, purchased).
async fn anlas(fake: &RunningFake, token: &str) -> (u64, u64) {
    let v = get(fake, "/user/subscription", Some(token)).await.json();
    let t = &v["trainingStepsLeft"];
    (
        t["fixedTrainingStepsLeft"].as_u64().unwrap(),
        t["purchasedTrainingSteps"].as_u64().unwrap(),
    )
}

/// The last generation's charge, from the request log.
async fn last_charge(fake: &RunningFake) -> Option<u64> {
    let log = log(fake).await;
    let last = log
        .iter()
        .rev()
        .find(|e| e["path"] == "/ai/generate-image")
        .unwrap();
    last.get("anlas_charged").and_then(Value::as_u64)
}

async fn login(fake: &RunningFake) -> String {
    let body = json!({"key": TEST_KEY}).to_string();
    let answer = common::send(fake, reqwest::Method::POST, "/user/login", &body).await;
    answer.json()["accessToken"].as_str().unwrap().to_string()
}

const FULL: &str = "nai-diffusion-5-full";

#[tokio::test]
async fn opus_gets_one_free_sample_and_pays_for_the_rest() {
    let fake = start(0).await;
    assert_eq!(anlas(&fake, GOOD).await, (10_000, 0));
    for (body, charged) in [
        (v5(FULL, 832, 1216, 1), 0),
        (v5(FULL, 832, 1216, 2), 26),
        (param(&v5(FULL, 832, 1216, 1), "steps", json!(28)), 0),
        (param(&v5(FULL, 832, 1216, 1), "steps", json!(29)), 30),
        (param(&v5(FULL, 1088, 1024, 1), "steps", json!(28)), 33),
        (v4("nai-diffusion-4-5-full", 832, 1216, 3), 34),
    ] {
        let answer = generate(&fake, GOOD, &body).await;
        assert_eq!(answer.status, 200, "{body}");
        assert_eq!(last_charge(&fake).await, Some(charged), "{body}");
    }
    assert_eq!(anlas(&fake, GOOD).await, (10_000 - 26 - 30 - 33 - 34, 0));
    // Refused before the charge: no charge noted.
    assert_eq!(
        generate(&fake, "pst-wrong", &v5(FULL, 64, 64, 1))
            .await
            .status,
        401
    );
    assert_eq!(last_charge(&fake).await, None);
}

#[tokio::test]
async fn free_v5_images_draw_on_the_usage_gauge_until_it_is_negative() {
    let fake = start(0).await;
    let usage = |v: &Value| v["usage"].clone();
    let sub = get(&fake, "/user/subscription", Some(GOOD)).await.json();
    assert_eq!(
        usage(&sub),
        json!({"percent": 100, "isNegative": false, "timeUntilNextPercent": 0})
    );
    // A free V5 image takes 1/1730 of the gauge; the integer percent rounds up.
    generate(&fake, GOOD, &v5(FULL, 832, 1216, 1)).await;
    let sub = get(&fake, "/user/subscription", Some(GOOD)).await.json();
    assert_eq!(sub["usage"]["percent"], 100);
    assert_eq!(
        sub["usage"]["timeUntilNextPercent"], 7855,
        "refilling again"
    );
    let exact = accounts(&fake).await[0]["usage_exact_percent"]
        .as_f64()
        .unwrap();
    assert!((100.0 - exact - 100.0 / 1730.0).abs() < 1e-3, "{exact}");

    // 0.1 % holds one image and a bit: the second free image takes it below 0.
    let listing = put(&fake, "/_fake/accounts", json!({"usage_percent": 0.1})).await;
    assert_eq!(listing.status, 200);
    for _ in 0..2 {
        generate(&fake, GOOD, &v5(FULL, 832, 1216, 1)).await;
        assert_eq!(last_charge(&fake).await, Some(0));
    }
    let sub = get(&fake, "/user/subscription", Some(GOOD)).await.json();
    assert_eq!(
        (
            sub["usage"]["percent"].as_i64(),
            sub["usage"]["isNegative"].as_bool()
        ),
        (Some(0), Some(true))
    );
    // Now V5 is billed, Medium too; V4.5 stays free.
    for (body, charged) in [
        (v5(FULL, 832, 1216, 1), 26),
        (v5("nai-diffusion-5-curated", 1024, 1024, 1), 26),
        (v5("nai-diffusion-5-full-medium", 832, 1216, 1), 15),
        (v4("nai-diffusion-4-5-full", 832, 1216, 1), 0),
    ] {
        assert_eq!(generate(&fake, GOOD, &body).await.status, 200);
        assert_eq!(last_charge(&fake).await, Some(charged), "{body}");
    }
    // Set back, by token: free again.
    put(
        &fake,
        "/_fake/accounts",
        json!({"token": GOOD, "usage_percent": 50}),
    )
    .await;
    generate(&fake, GOOD, &v5(FULL, 832, 1216, 1)).await;
    assert_eq!(last_charge(&fake).await, Some(0));
}

#[tokio::test]
async fn a_short_balance_is_402_and_charges_nothing() {
    let fake = start_with(
        common::config(0).with_account(Account::new(TEST_EMAIL, TEST_PASSWORD).tier(1).anlas(30)),
    )
    .await;
    let tablet = login(&fake).await;
    assert_eq!(anlas(&fake, &tablet).await, (30, 0));
    let body = v5(FULL, 832, 1216, 1);
    assert_eq!(generate(&fake, &tablet, &body).await.status, 200);
    assert_eq!(last_charge(&fake).await, Some(26));
    let answer = generate(&fake, &tablet, &body).await;
    assert_eq!(
        (answer.status, answer.json()),
        (
            402,
            json!({"statusCode": 402, "message": "Not enough Anlas"})
        )
    );
    assert_eq!(last_charge(&fake).await, Some(0));
    assert_eq!(anlas(&fake, &tablet).await, (4, 0), "nothing taken");
    // A cheap one still fits: 512x512 at 23 steps on V4.5 is 5.
    let cheap = v4("nai-diffusion-4-5-full", 512, 512, 1);
    assert_eq!(generate(&fake, &tablet, &cheap).await.status, 402);
    let tiny = v4("nai-diffusion-4-5-full", 256, 256, 1);
    assert_eq!(generate(&fake, &tablet, &tiny).await.status, 200);
    assert_eq!(last_charge(&fake).await, Some(2));

    // Fixed Anlas go first, then purchased ones.
    let set = json!({"email": TEST_EMAIL, "fixed_anlas": 10, "purchased_anlas": 30});
    assert_eq!(put(&fake, "/_fake/accounts", set).await.status, 200);
    assert_eq!(generate(&fake, &tablet, &body).await.status, 200);
    assert_eq!(anlas(&fake, &tablet).await, (0, 14));
    // Strength scales img2img: 1024x1024 at 29 steps, strength 0.7 → 23.
    put(
        &fake,
        "/_fake/accounts",
        json!({"account": 1, "anlas": 100}),
    )
    .await;
    let i2i = param(
        &img2img(param(&v5(FULL, 1024, 1024, 1), "steps", json!(29))),
        "strength",
        json!(0.7),
    );
    assert_eq!(images(&generate(&fake, &tablet, &i2i).await).len(), 1);
    assert_eq!(last_charge(&fake).await, Some(23));
    assert_eq!(
        anlas(&fake, &tablet).await,
        (77, 0),
        "Tablet: 1000 a month are fixed"
    );
}

#[tokio::test]
async fn an_image_over_140_anlas_is_a_validation_error() {
    let fake = start(0).await;
    let body = param(&v5(FULL, 1536, 2048, 1), "steps", json!(50));
    let answer = generate(&fake, GOOD, &body).await;
    assert_eq!(answer.status, 400);
    assert!(answer.message().starts_with("A validation error occurred."));
    assert_eq!(last_charge(&fake).await, None);
    // On V4.5 the same image is 100: fine.
    let v45 = param(
        &v4("nai-diffusion-4-5-full", 1536, 2048, 1),
        "steps",
        json!(50),
    );
    assert_eq!(generate(&fake, GOOD, &v45).await.status, 200);
    assert_eq!(last_charge(&fake).await, Some(100));
    assert_eq!(anlas(&fake, GOOD).await, (9_900, 0));
}

#[tokio::test]
async fn the_medium_step_factor_is_configurable() {
    let fake = start(0).await;
    put(&fake, "/_fake/accounts", json!({"usage_percent": -1})).await;
    let medium = v5("nai-diffusion-5-full-medium", 832, 1216, 1);
    generate(&fake, GOOD, &medium).await;
    assert_eq!(last_charge(&fake).await, Some(15));
    let answer = put(&fake, "/_fake/config", json!({"medium_step_factor": 0.95})).await;
    assert_eq!(answer.json(), json!({"medium_step_factor": 0.95}));
    generate(&fake, GOOD, &medium).await;
    assert_eq!(last_charge(&fake).await, Some(17));
    let both = put(
        &fake,
        "/_fake/config",
        json!({"medium_step_factor": 1, "latency_ms": 0}),
    )
    .await;
    assert_eq!(
        both.json(),
        json!({"latency_ms": 0, "medium_step_factor": 1.0})
    );
    for bad in [
        json!({"medium_step_factor": -1}),
        json!({"medium_step_factor": "1"}),
        json!({"latency_ms": 1, "other": 2}),
    ] {
        assert_eq!(
            put(&fake, "/_fake/config", bad.clone()).await.status,
            400,
            "{bad}"
        );
    }
}

#[tokio::test]
async fn the_account_controls_list_and_set_without_secrets() {
    let fake = start_with(
        common::config(0)
            .with_tokens(["pst-secret-token-1234", GOOD])
            .with_account(Account::new(TEST_EMAIL, TEST_PASSWORD).tier(2).anlas(1500)),
    )
    .await;
    let token = login(&fake).await;
    let list = accounts(&fake).await;
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["account"], 0);
    assert_eq!(list[0]["tokens"], json!(["pst-…", "ps…"]));
    assert_eq!(
        (list[0]["tier"].as_u64(), list[0]["anlas"].as_u64()),
        (Some(3), Some(10_000))
    );
    assert_eq!(
        list[0]["usage"],
        json!({"percent": 100, "isNegative": false, "timeUntilNextPercent": 0})
    );
    assert_eq!(list[1]["email"], TEST_EMAIL);
    assert_eq!(list[1]["logins"], 1);
    assert_eq!(
        (
            list[1]["fixed_anlas"].as_u64(),
            list[1]["purchased_anlas"].as_u64()
        ),
        (Some(1000), Some(500))
    );
    assert_eq!(list[1]["usage"], Value::Null);
    let text = serde_json::to_string(&list).unwrap();
    for secret in ["secret", TEST_PASSWORD, TEST_KEY, token.as_str(), GOOD] {
        assert!(!text.contains(secret), "{secret}: {text}");
    }

    // Set by logged-in token; the answer is the listing.
    let answer = put(
        &fake,
        "/_fake/accounts",
        json!({"token": token, "anlas": 7}),
    )
    .await;
    assert_eq!(answer.json()[1]["anlas"], 7);
    assert_eq!(anlas(&fake, &token).await, (7, 0));
    // Everyone's balance at once; usage only where there is a gauge.
    let answer = put(
        &fake,
        "/_fake/accounts",
        json!({"anlas": 1200, "usage_percent": 3.5}),
    )
    .await;
    let list = answer.json();
    assert_eq!(
        (
            list[0]["fixed_anlas"].as_u64(),
            list[1]["fixed_anlas"].as_u64()
        ),
        (Some(1200), Some(1000))
    );
    assert_eq!(list[0]["usage"]["percent"], 4);
    assert_eq!(list[1]["usage"], Value::Null);

    for (body, status) in [
        (json!({"token": "pst-nobody", "anlas": 1}), 404),
        (json!({"email": "nobody@example.com", "anlas": 1}), 404),
        (json!({"account": 9, "anlas": 1}), 404),
        (json!({"account": 1, "usage_percent": 50}), 400),
        (json!({"anlas": 5, "fixed_anlas": 1}), 400),
        (json!({"token": GOOD, "email": TEST_EMAIL, "anlas": 1}), 400),
        (json!({"token": GOOD}), 400),
        (json!({"anlas": -1}), 400),
        (json!({"usage": 5}), 400),
        (json!([]), 400),
    ] {
        let answer = put(&fake, "/_fake/accounts", body.clone()).await;
        assert_eq!(answer.status, status, "{body}");
        assert_eq!(answer.json()["statusCode"], status);
    }
    assert_eq!(
        accounts(&fake).await[1]["anlas"],
        1200,
        "refusals change nothing"
    );
    // The controls are not logged.
    assert!(
        log(&fake)
            .await
            .iter()
            .all(|e| !e["path"].as_str().unwrap().starts_with("/_fake"))
    );
}

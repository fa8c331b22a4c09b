//! Generations: the zip of PNGs, their metadata, the token check, the log, the
//! concurrency lock, the latency.

use std::time::{Duration, Instant};

use fake_novelai::Account;
use serde_json::{Value, json};

use crate::bodies::{small, v3, v4};
use crate::common::{self, GOOD, OTHER, generate, images, log, start};

#[tokio::test]
async fn it_answers_a_zip_of_pngs_at_the_requested_size_and_logs_every_call() {
    let fake = start(10).await;
    let answer = generate(&fake, GOOD, &v3("nai-diffusion-3", 832, 1216, 2)).await;
    let pngs = images(&answer);
    assert_eq!(pngs.len(), 2);
    for (i, png) in pngs.iter().enumerate() {
        assert_eq!((png.width, png.height), (832, 1216), "{}", png.name);
        assert_eq!(png.color, png::ColorType::Rgba);
        assert_eq!(png.text("Title"), Some("AI generated image"));
        assert_eq!(png.text("Software"), Some("NovelAI"));
        assert_eq!(png.text("Description"), Some("1girl, cat ears"));
        assert_eq!(png.text("Source"), Some("Stable Diffusion XL C1E1DE52"));
        assert!(png.text("Generation time").unwrap().ends_with('s'));
        let c = png.comment();
        assert_eq!(c["seed"], 42 + i as u64, "sample i uses seed + i");
        assert_eq!(
            (c["width"].as_u64(), c["steps"].as_u64()),
            (Some(832), Some(28))
        );
        assert_eq!(c["prompt"], "1girl, cat ears");
        assert_eq!(c["uc"], "lowres");
        assert_eq!(c["request_type"], "PromptGenerateRequest");
    }

    let wrong = generate(&fake, "pst-wrong", &small()).await;
    assert_eq!(
        (wrong.status, wrong.message()),
        (401, "Unauthorized".to_string())
    );
    let bad = generate(&fake, GOOD, &v3("nai-diffusion-3", 100, 64, 1)).await;
    assert_eq!(bad.status, 400);
    assert!(bad.message().starts_with("A validation error occurred."));
    let no_auth = common::http()
        .post(format!("{}/ai/generate-image", fake.url()))
        .body(small().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(no_auth.status(), 401);

    let log = log(&fake).await;
    assert_eq!(log.len(), 4);
    for entry in &log {
        assert_eq!(
            (entry["method"].as_str(), entry["path"].as_str()),
            (Some("POST"), Some("/ai/generate-image"))
        );
        for at in ["received_at", "finished_at"] {
            let text = entry[at].as_str().unwrap();
            let parsed = chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339");
            assert_eq!(
                text.len(),
                "2026-11-26T04:00:00.000Z".len(),
                "milliseconds: {text}"
            );
            assert!(text.ends_with('Z') && parsed.timestamp() > 0);
        }
    }
    let statuses: Vec<u64> = log.iter().map(|e| e["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [200, 401, 400, 401]);
    assert_eq!(log[0]["body"]["parameters"]["n_samples"], 2);
    let text = serde_json::to_string(&log).unwrap();
    assert!(!text.contains(GOOD), "a token was logged");

    // DELETE empties the log.
    let cleared = common::send(&fake, reqwest::Method::DELETE, "/_fake/requests", "").await;
    assert_eq!(cleared.status, 204);
    assert!(common::log(&fake).await.is_empty());
}

#[tokio::test]
async fn every_sample_has_its_own_seed_and_pixels() {
    let fake = start(0).await;
    let answer = generate(&fake, GOOD, &v4("nai-diffusion-4-5-full", 512, 512, 4)).await;
    let entries = common::unzip(&answer.bytes).unwrap();
    assert_eq!(entries.len(), 4);
    let seeds: Vec<u64> = images(&answer)
        .iter()
        .map(|p| p.comment()["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [7, 8, 9, 10]);
    assert_ne!(
        entries[0].2, entries[1].2,
        "different seeds, different images"
    );
    let c = images(&answer)[0].comment();
    assert_eq!(
        c["v4_prompt"]["caption"]["base_caption"],
        "1girl, cat ears, very aesthetic, masterpiece"
    );
    assert_eq!(c["uc"], "lowres");
}

#[tokio::test]
async fn a_chinese_prompt_is_kept_in_utf8_metadata() {
    let fake = start(0).await;
    let prompt = "一只可爱的猫咪，高清照片";
    let mut body = v4("nai-diffusion-4-5-full", 64, 64, 1);
    body["input"] = json!(prompt);
    body["parameters"]["v4_prompt"]["caption"]["base_caption"] = json!(prompt);
    body["parameters"]["v4_negative_prompt"]["caption"]["base_caption"] = json!("低质量");
    let png = &images(&generate(&fake, GOOD, &body).await)[0];
    assert_eq!(png.text("Description"), Some(prompt));
    assert!(png.utf8.iter().any(|(k, _)| k == "Description"), "as iTXt");
    assert!(
        png.latin1
            .iter()
            .any(|(k, v)| k == "Software" && v == "NovelAI"),
        "as tEXt"
    );
    let c = png.comment();
    assert_eq!(
        (c["prompt"].as_str(), c["uc"].as_str()),
        (Some(prompt), Some("低质量"))
    );

    // Latin-1 text beyond ASCII stays in tEXt.
    let mut body = small();
    body["input"] = json!("café au lait, ÿ");
    let png = &images(&generate(&fake, GOOD, &body).await)[0];
    assert!(
        png.latin1
            .iter()
            .any(|(k, v)| k == "Description" && v == "café au lait, ÿ")
    );
}

#[tokio::test]
async fn overlapping_generations_of_one_account_get_the_concurrency_lock() {
    let fake = start(400).await;
    let b = small();
    // GOOD and OTHER are tokens of the same account.
    let (first, second) = tokio::join!(generate(&fake, GOOD, &b), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        generate(&fake, OTHER, &b).await
    });
    assert_eq!(first.status, 200);
    assert_eq!(
        (second.status, second.message()),
        (429, "Concurrent generation is locked".to_string())
    );
    // Once the first has finished, the lock is free again.
    assert_eq!(generate(&fake, GOOD, &b).await.status, 200);
}

#[tokio::test]
async fn the_lock_is_per_account() {
    let config = common::config(400).with_account(Account::new("test@example.com", "password123"));
    let fake = common::start_with(config).await;
    let login = common::send(
        &fake,
        reqwest::Method::POST,
        "/user/login",
        &json!({"key": crate::accounts::TEST_KEY}).to_string(),
    )
    .await;
    let token = login.json()["accessToken"].as_str().unwrap().to_string();
    let b = small();
    let (a, b2) = tokio::join!(generate(&fake, GOOD, &b), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        generate(&fake, &token, &b).await
    });
    assert_eq!(
        (a.status, b2.status),
        (200, 200),
        "two accounts, two generations"
    );
}

#[tokio::test]
async fn the_latency_can_be_changed_at_run_time() {
    let fake = start(0).await;
    let put = |body: &'static str| common::send(&fake, reqwest::Method::PUT, "/_fake/config", body);
    let answer = put(r#"{"latency_ms": 300}"#).await;
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"latency_ms": 300}))
    );
    let started = Instant::now();
    assert_eq!(generate(&fake, GOOD, &small()).await.status, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    for bad in [
        "{}",
        r#"{"latency_ms": -1}"#,
        r#"{"latency_ms": "300"}"#,
        "300",
        "not json",
    ] {
        let answer = put(bad).await;
        assert_eq!(answer.status, 400, "{bad}");
        assert!(
            answer.message().starts_with("expected {\"latency_ms\": N}"),
            "{bad}"
        );
    }
    let health = common::get(&fake, "/_fake/health", None).await;
    assert_eq!(
        (health.status, health.bytes.as_slice()),
        (200, b"ok".as_slice())
    );
}

#[tokio::test]
async fn unknown_paths_are_404_and_logged_without_secrets() {
    let fake = start(0).await;
    let key = crate::accounts::TEST_KEY;
    let answer = common::send(
        &fake,
        reqwest::Method::POST,
        "/api/user/login",
        &json!({"key": key, "email": "test@example.com"}).to_string(),
    )
    .await;
    assert_eq!(
        (answer.status, answer.message()),
        (404, "Not Found".to_string())
    );
    let raw = common::send(
        &fake,
        reqwest::Method::POST,
        "/user/login/",
        &format!("key={key}"),
    )
    .await;
    assert_eq!(raw.status, 404);
    let log = log(&fake).await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["path"], "/api/user/login");
    assert_eq!(log[0]["status"], 404);
    assert_eq!(
        log[0]["body"],
        json!({"key": "<redacted>", "email": "test@example.com"})
    );
    assert_eq!(
        log[1]["body"],
        Value::String(format!("<{} bytes, not a JSON object>", key.len() + 4))
    );
    assert!(!serde_json::to_string(&log).unwrap().contains(key));
    // Upscale is served on the image host since 2026: without a token, 401.
    let upscale = common::send(&fake, reqwest::Method::POST, "/ai/upscale", "{}").await;
    assert_eq!(upscale.status, 401);
}

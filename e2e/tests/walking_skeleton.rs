//! A job's whole trip over HTTP through `cargo lambda watch`: POST /generate → DynamoDB +
//! SQS → the worker (nudged through the relay) → the fake NovelAI → S3 → task_status.

use std::time::{Duration, Instant};

use naiq_e2e::{Stack, naiq, new_key};
use serde_json::json;

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn the_seed_body_becomes_an_832x1216_png() {
    let s = Stack::from_env();
    let started = Instant::now();
    let sub = s
        .submit(
            &s.key,
            &json!({"prompt": "1girl, cat ears", "model": "nai-v3", "resolution": "portrait"}),
        )
        .await;
    assert_eq!(sub["success"], true);
    for field in ["task_id", "message", "queue_info", "rate_limit_info"] {
        assert!(sub.get(field).is_some(), "submit lacks {field}: {sub}");
    }
    assert!(sub["queue_info"]["position"].as_u64().unwrap() >= 1);
    assert_eq!(sub["rate_limit_info"]["daily_limit"], 800);
    let task_id = sub["task_id"].as_str().unwrap();

    let done = s.wait_done(&s.key, task_id, Duration::from_secs(90)).await;
    let elapsed = started.elapsed();
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert_eq!(
        (done["done"].as_bool(), done["success"].as_bool()),
        (Some(true), Some(true))
    );
    for field in ["created_at", "started_at", "finished_at"] {
        assert!(done[field].is_string(), "{field}: {done}");
    }
    let url = done["image_url"].as_str().expect("image_url");
    assert_eq!(done["image_urls"][0].as_str(), Some(url));
    let resp = s.http.get(url).send().await.expect("image URL answers");
    assert_eq!(resp.status().as_u16(), 200);
    let png = resp.bytes().await.unwrap();
    let info = png::Decoder::new(std::io::Cursor::new(png.to_vec()))
        .read_info()
        .expect("a PNG");
    assert_eq!((info.info().width, info.info().height), (832, 1216));
    println!("round trip submit → SUCCESS: {} ms", elapsed.as_millis());

    // NovelAI got exactly this job, with the server-side token and the website's V3 body.
    let calls = s.fake_requests().await;
    let sent = calls
        .iter()
        .find(|c| c["body"]["input"] == "1girl, cat ears" && c["status"] == 200)
        .expect("the fake saw the job");
    assert_eq!(sent["body"]["model"], "nai-diffusion-3");
    assert_eq!(sent["body"]["parameters"]["width"], 832);
    assert_eq!(sent["body"]["parameters"]["seed"], done["seed"]);
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn bad_input_gets_a_4xx_naming_the_field_and_nothing_is_queued() {
    let s = Stack::from_env();
    let key = new_key("bad-input").await;
    let k = Some(key.as_str());
    let huge = json!({"prompt": "x".repeat(6 * 1024 * 1024)}).to_string();
    let cases = [
        (
            k,
            json!({"model": "nai-v3"}).to_string(),
            400,
            "missing_parameter",
            Some("prompt"),
        ),
        (
            k,
            json!({"prompt": "x", "model": "dall-e-3"}).to_string(),
            400,
            "invalid_parameter",
            Some("model"),
        ),
        (
            k,
            json!({"prompt": "x", "steps": 0}).to_string(),
            400,
            "invalid_parameter",
            Some("steps"),
        ),
        (
            k,
            json!({"prompt": "x", "steps": 51}).to_string(),
            400,
            "invalid_parameter",
            Some("steps"),
        ),
        (
            k,
            json!({"prompt": "x", "width": 830, "height": 1216}).to_string(),
            400,
            "invalid_parameter",
            Some("width"),
        ),
        (
            k,
            "{\"prompt\": \"x\",".to_string(),
            400,
            "malformed_json",
            None,
        ),
        (k, huge, 413, "too_large", Some("body")),
        (
            None,
            json!({"prompt": "x"}).to_string(),
            401,
            "unauthorized",
            None,
        ),
        (
            Some("naiq_not-a-key"),
            json!({"prompt": "x"}).to_string(),
            401,
            "unauthorized",
            None,
        ),
    ];
    for (key, body, status, code, field) in cases {
        let what = body.chars().take(60).collect::<String>();
        let (got, resp) = s.call("POST", "/generate", key, Some(body)).await;
        assert_eq!(got, status, "{what}: {resp}");
        assert_eq!(resp["code"], code, "{what}: {resp}");
        assert_eq!(resp["field"].as_str(), field, "{what}: {resp}");
        assert_eq!(resp["success"], false);
    }
    // Nothing was stored for this key.
    assert_eq!(
        naiq_e2e::jobs_of(&key).await,
        0,
        "a rejected request left a job behind"
    );
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn a_key_sees_only_its_own_tasks() {
    let s = Stack::from_env();
    let alice = new_key("alice").await;
    let bob = new_key("bob").await;
    let sub = s
        .submit(
            &alice,
            &json!({"prompt": "only alice's", "model": "nai-v3"}),
        )
        .await;
    let path = format!("/task_status/{}", sub["task_id"].as_str().unwrap());
    let (status, body) = s.call("GET", &path, Some(&bob), None).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    let (status, _) = s.call("GET", &path, Some(&alice), None).await;
    assert_eq!(status, 200);
    let (status, body) = s
        .call("GET", "/task_status/not-a-uuid", Some(&alice), None)
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = s.call("GET", "/health", None, None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn credentials_never_reach_logs_responses_or_the_jobs_table() {
    let s = Stack::from_env();
    let key = new_key("secrets").await;
    // A per-request token: the fake accepts the stack's token, so the job succeeds with it.
    let sub = s
        .submit(&key, &json!({"prompt": "per-request token", "model": "nai-v3", "auth_type": "token", "token": s.fake_token}))
        .await;
    let task_id = sub["task_id"].as_str().unwrap().to_string();
    let done = s.wait_done(&key, &task_id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    assert!(!sub.to_string().contains(&s.fake_token));
    assert!(!done.to_string().contains(&s.fake_token));

    let table = naiq_e2e::jobs_table_text().await;
    assert!(
        !table.contains(&s.fake_token),
        "a token is in the jobs table"
    );
    assert!(
        !table.contains(&s.key) && !table.contains(&key),
        "an API key is in the jobs table"
    );

    // Give the functions a moment to flush, then search every log line of the stack.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logs = s.logs();
    assert!(logs.contains(&task_id), "the logs carry task ids");
    for secret in [s.fake_token.as_str(), s.key.as_str(), key.as_str()] {
        assert!(!logs.contains(secret), "a secret appears in a log line");
    }
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn the_cli_sets_credentials_from_stdin_and_shows_them_masked() {
    // Its own secret, so the stack's credentials stay as they are.
    let secret = format!("naiq-cli-test/{}", std::process::id());
    let env = [("NOVELAI_SECRET_ID", secret.as_str())];
    let token = "pst-cli-test-token-0123456789abcdef";
    let (code, out, err) = naiq(&["credentials", "set"], Some(&format!("{token}\n")), &env).await;
    assert_eq!(code, 0, "{err}");
    assert!(
        !out.contains(token) && !err.contains(token),
        "set echoed the token"
    );
    let (code, out, err) = naiq(&["credentials", "show"], None, &env).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("token pst-"), "{out}");
    assert!(
        !out.contains("0123456789abcdef"),
        "show did not mask: {out}"
    );
    let (code, _, err) = naiq(&["credentials", "set"], Some(""), &env).await;
    assert_ne!(code, 0, "an empty token is refused");
    assert!(err.contains("nothing was entered"), "{err}");
    // The token argument does not exist: secrets never travel in argv.
    let (code, _, _) = naiq(&["credentials", "set", "--token", token], None, &env).await;
    assert_eq!(code, 2);
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn a_dry_run_answers_the_upstream_body_and_its_cost_and_queues_nothing() {
    let s = Stack::from_env();
    let key = new_key("dry-run").await;
    let body = json!({"prompt": "1girl, dry run", "model": "nai-v4.5", "resolution": "portrait",
        "steps": 28, "n_samples": 2, "dry_run": true,
        "characters": [{"prompt": "girl, red hair", "position": "B2"}]});
    let (status, resp) = s
        .call("POST", "/generate", Some(&key), Some(body.to_string()))
        .await;
    assert_eq!(status, 200, "{resp}");
    assert_eq!(
        (resp["success"].as_bool(), resp["dry_run"].as_bool()),
        (Some(true), Some(true))
    );
    assert!(resp.get("task_id").is_none(), "{resp}");
    let req = &resp["request"];
    assert_eq!(req["model"], "nai-diffusion-4-5-full");
    assert_eq!(req["parameters"]["params_version"], 4);
    assert_eq!(
        req["parameters"]["v4_prompt"]["caption"]["base_caption"],
        "1girl, dry run"
    );
    assert_eq!(
        req["parameters"]["characterPrompts"][0]["center"],
        json!({"x": 0.3, "y": 0.3})
    );
    assert_eq!(req["parameters"]["n_samples"], 2);
    // 832x1216 at 28 steps: 20 Anlas an image, two images.
    assert_eq!(resp["cost"]["per_image"], 20, "{resp}");
    assert!(resp["cost"]["total"].as_u64().unwrap() >= 20, "{resp}");
    // Nothing was stored or queued for this key.
    assert_eq!(naiq_e2e::jobs_of(&key).await, 0);
    assert!(
        !s.fake_requests()
            .await
            .iter()
            .any(|r| r["body"]["input"] == "1girl, dry run"),
        "a dry run never reaches NovelAI"
    );
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn image_to_image_sends_the_input_fitted_to_the_target_size() {
    use base64::Engine as _;
    let s = Stack::from_env();
    let key = new_key("img2img").await;
    // A 300x200 PNG; the job asks for small_landscape (768x512).
    let mut png = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut png, 300, 200);
        enc.set_color(png::ColorType::Rgb);
        let mut w = enc.write_header().unwrap();
        w.write_image_data(&vec![120u8; 300 * 200 * 3]).unwrap();
    }
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let sub = s
        .submit(&key, &json!({"prompt": "img2img cat", "model": "nai-v3", "resolution": "small_landscape",
            "image": format!("data:image/png;base64,{b64}"), "strength": 0.45, "noise": 0.1, "seed": 77}))
        .await;
    let done = s
        .wait_done(
            &key,
            sub["task_id"].as_str().unwrap(),
            Duration::from_secs(90),
        )
        .await;
    assert_eq!(done["status"], "SUCCESS", "{done}");
    let calls = s.fake_requests().await;
    let sent = calls
        .iter()
        .find(|c| c["body"]["input"] == "img2img cat")
        .expect("sent upstream");
    let p = &sent["body"]["parameters"];
    assert_eq!(sent["body"]["action"], "img2img");
    assert_eq!(
        (p["strength"].as_f64(), p["noise"].as_f64()),
        (Some(0.45), Some(0.1))
    );
    assert_eq!(
        p["extra_noise_seed"], 76,
        "the seed less one, as the website sends"
    );
    let input = base64::engine::general_purpose::STANDARD
        .decode(p["image"].as_str().unwrap())
        .unwrap();
    let info = png::Decoder::new(std::io::Cursor::new(input))
        .read_info()
        .expect("the input is a PNG");
    assert_eq!((info.info().width, info.info().height), (768, 512));
}

//! The fake NovelAI answers as NovelAI does, and naiq's NovelAI client reads it: a zip of
//! PNGs at the requested size, 401 on a wrong token, 400 on a malformed body, 429 while
//! another generation is in flight; logins with real access keys, subscriptions, injected
//! faults; every request is recorded (login keys redacted).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use naiq::domain::Credentials;
use naiq::novelai::NovelAiClient;
use naiq::ports::{Upstream, UpstreamError};
use serde_json::{Value, json};

/// The fake on a free loopback port, stopped when dropped.
struct Fake {
    child: Child,
    url: String,
}

impl Fake {
    fn start(latency_ms: u64) -> Self {
        Self::start_with(latency_ms, &[])
    }

    fn start_with(latency_ms: u64, extra: &[&str]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fake-novelai"))
            .args([
                "--port",
                "0",
                "--tokens",
                "pst-good,pst-other",
                "--latency-ms",
                &latency_ms.to_string(),
            ])
            .args(extra)
            .env_remove("FAKE_NOVELAI_ACCOUNTS")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("fake starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line.trim().rsplit(' ').next().unwrap().to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{line}");
        Fake { child, url }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn body(width: u32, height: u32, n: u32) -> Value {
    json!({
        "input": "1girl, cat ears",
        "model": "nai-diffusion-3",
        "action": "generate",
        "parameters": {"width": width, "height": height, "scale": 5, "sampler": "k_euler",
                        "steps": 28, "n_samples": n, "seed": 42, "params_version": 1}
    })
}

fn token(t: &str) -> Credentials {
    Credentials::Token { token: t.into() }
}

#[tokio::test]
async fn it_answers_like_novelai_and_the_client_reads_it() {
    let fake = Fake::start(10);
    let client = NovelAiClient::new(&fake.url, &fake.url, Duration::from_secs(10));

    let images = client
        .generate(&token("pst-good"), &body(832, 1216, 2))
        .await
        .unwrap();
    assert_eq!(images.len(), 2);
    for img in &images {
        assert_eq!((img.width, img.height), (832, 1216));
        assert_eq!(
            naiq::novelai::archive::check_png(&img.png).unwrap(),
            (832, 1216)
        );
        let text = String::from_utf8_lossy(&img.png);
        assert!(
            text.contains("Software") && text.contains("NovelAI"),
            "NovelAI-like metadata"
        );
    }

    let err = client
        .generate(&token("pst-wrong"), &body(64, 64, 1))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        UpstreamError::Status {
            status: 401,
            message: "Unauthorized".into()
        }
    );
    assert_eq!(err.code(), "upstream_auth_failed");
    assert!(!err.is_retryable());

    let err = client
        .generate(&token("pst-good"), &body(100, 64, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, UpstreamError::Status { status: 400, message } if message.starts_with("A validation error occurred"))
    );
    assert_eq!(err.code(), "upstream_invalid_request");

    let http = reqwest::Client::new();
    let log: Vec<Value> = http
        .get(format!("{}/_fake/requests", fake.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log.len(), 3);
    for entry in &log {
        assert_eq!(
            (entry["method"].as_str(), entry["path"].as_str()),
            (Some("POST"), Some("/ai/generate-image"))
        );
        let at = entry["received_at"].as_str().unwrap();
        let parsed = chrono::DateTime::parse_from_rfc3339(at).expect("RFC 3339");
        assert_eq!(
            at.len(),
            "2026-11-26T04:00:00.000Z".len(),
            "milliseconds: {at}"
        );
        assert!(parsed.timestamp() > 0);
    }
    assert_eq!(log[0]["body"]["parameters"]["n_samples"], 2);
    assert_eq!(log[1]["status"], 401);
}

#[tokio::test]
async fn overlapping_generations_get_the_concurrency_lock() {
    let fake = Fake::start(400);
    let client = NovelAiClient::new(&fake.url, &fake.url, Duration::from_secs(10));
    let b = body(64, 64, 1);
    let (good, other) = (token("pst-good"), token("pst-other"));
    let (first, second) = tokio::join!(client.generate(&good, &b), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.generate(&other, &b).await
    });
    assert!(first.is_ok());
    let err = second.unwrap_err();
    assert_eq!(
        err,
        UpstreamError::Status {
            status: 429,
            message: "Concurrent generation is locked".into()
        }
    );
    assert!(err.is_retryable());
    // Once the first finishes, the lock is free again.
    assert!(client.generate(&token("pst-good"), &b).await.is_ok());
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let fake = Fake::start(0);
    let http = reqwest::Client::new();
    for bad in [
        "not json",
        r#"{"input": "x"}"#,
        r#"{"input": "x", "model": "nai-diffusion-3", "action": "generate", "parameters": {"width": 64, "height": 64, "steps": 0, "scale": 5, "sampler": "k_euler", "n_samples": 1}}"#,
    ] {
        let resp = http
            .post(format!("{}/ai/generate-image", fake.url))
            .bearer_auth("pst-good")
            .body(bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{bad}");
        let v: Value = resp.json().await.unwrap();
        assert_eq!(v["statusCode"], 400);
    }
}

// ---------------------------------------------------------------------------------------
// Accounts: login with real access keys, subscriptions.

use naiq::novelai::account::{Account, TokenCache};
use naiq::novelai::auth;

/// novelai-api.md §2, vector 2.
const TEST_EMAIL: &str = "test@example.com";
const TEST_PASSWORD: &str = "password123";
const TEST_KEY: &str = "5TjO-5RT1mNI59hEHZXjBJZpp2yvC4L0LJUeIhRwkZHxgIHEutHp8EgOwvynvwLu";
/// Vectors 5 and 6: the same account typed with capitals, and lower-cased.
const BOB_KEY_TYPED: &str = "OZuc0d0yagUPg7jZP4SS1uDbVUJ2h2hmgsuzBP8Frkyn4dJZKlxrOR0XdMgJARJn";
const BOB_KEY_LOWER: &str = "rxokLBB6ohUcXnkC91m-kbQ3r2lNI0k-LWBAbREHROm2KJTMdFfMWPVjKiTPIphf";

async fn post_login(http: &reqwest::Client, fake: &Fake, body: &str) -> (u16, Value) {
    let resp = http
        .post(format!("{}/user/login", fake.url))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

async fn fake_log(fake: &Fake) -> Vec<Value> {
    reqwest::get(format!("{}/_fake/requests", fake.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn login_takes_the_real_access_key_and_never_records_it() {
    let fake = Fake::start_with(
        0,
        &[
            "--account",
            &format!("{TEST_EMAIL}:{TEST_PASSWORD}"),
            "--account",
            "Bob.Smith@Example.COM:Pa$$w0rd!:1:500",
        ],
    );
    let http = reqwest::Client::new();

    let (status, v) = post_login(&http, &fake, &json!({"key": TEST_KEY}).to_string()).await;
    assert_eq!(status, 201, "{v}");
    let token = v["accessToken"].as_str().unwrap().to_string();
    assert!(token.starts_with("eyJfake."), "{token}");
    let (_, again) = post_login(&http, &fake, &json!({"key": TEST_KEY}).to_string()).await;
    assert_ne!(
        again["accessToken"], v["accessToken"],
        "a fresh token each time"
    );

    let wrong = auth::access_key(TEST_EMAIL, "password124");
    let (status, v) = post_login(&http, &fake, &json!({"key": wrong}).to_string()).await;
    assert_eq!(
        (status, v),
        (
            401,
            json!({"statusCode": 401, "message": "Incorrect access key."})
        )
    );
    for bad in ["not json", r#"{"key": 5}"#, "{}"] {
        let (status, v) = post_login(&http, &fake, bad).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(v["statusCode"], 400);
    }
    // The email as typed and lower-cased both work.
    for key in [BOB_KEY_TYPED, BOB_KEY_LOWER] {
        let (status, _) = post_login(&http, &fake, &json!({"key": key}).to_string()).await;
        assert_eq!(status, 201, "{key}");
    }

    // A login token generates like a configured one.
    let client = NovelAiClient::new(&fake.url, &fake.url, Duration::from_secs(10));
    let images = client
        .generate(&Credentials::Token { token }, &body(64, 64, 1))
        .await
        .unwrap();
    assert_eq!(images.len(), 1);

    // The log has every login, the key of none.
    let log = fake_log(&fake).await;
    let logins: Vec<&Value> = log.iter().filter(|e| e["path"] == "/user/login").collect();
    assert_eq!(logins.len(), 8);
    assert_eq!(logins[0]["body"], json!({"key": "<redacted>"}));
    assert_eq!(logins[0]["status"], 201);
    assert_eq!(logins[2]["status"], 401);
    assert_eq!(logins[3]["body"], json!("<8 bytes, not a JSON object>"));
    let text = serde_json::to_string(&log).unwrap();
    for key in [TEST_KEY, BOB_KEY_TYPED, BOB_KEY_LOWER, wrong.as_str()] {
        assert!(!text.contains(key), "a key was recorded: {text}");
    }
    assert!(!text.contains(TEST_PASSWORD));
}

#[tokio::test]
async fn subscriptions_and_the_token_cache_against_the_fake() {
    let fake = Fake::start_with(
        0,
        &[
            "--account",
            &format!("{TEST_EMAIL}:{TEST_PASSWORD}"),
            "--account",
            "scroll@example.com:secret:2:1500",
            "--account",
            "paper@example.com:secret:0:0",
        ],
    );
    let account = Account::new(&fake.url, Duration::from_secs(10));

    // Configured tokens are Opus with 10000 Anlas.
    let s = account.subscription("pst-good").await.unwrap();
    assert_eq!(
        (s.tier, s.tier_name, s.active, s.anlas),
        (3, "Opus", true, 10_000)
    );
    assert!(s.unlimited_image_generation);
    assert!(s.expires_at.unwrap() > chrono::Utc::now().timestamp());

    // The raw JSON has NovelAI's shape.
    let raw: Value = reqwest::Client::new()
        .get(format!("{}/user/subscription", fake.url))
        .bearer_auth("pst-good")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        raw["perks"]["unlimitedImageGenerationLimits"],
        json!([{"resolution": 4194304, "maxPrompts": 0}, {"resolution": 1048576, "maxPrompts": 1}])
    );
    assert_eq!(raw["perks"]["imageGeneration"], true);
    assert!(raw["trainingStepsLeft"]["purchasedTrainingSteps"].is_u64());
    assert!(raw["accountType"].is_u64());

    // Without a valid token: 401.
    let err = account.subscription("eyJnope").await.unwrap_err();
    assert_eq!(
        err,
        UpstreamError::Status {
            status: 401,
            message: "Unauthorized".into()
        }
    );

    // Email/password credentials through the cache: one login, then the cached token.
    let cache = TokenCache::new();
    let now = chrono::Utc::now();
    let creds = Credentials::Login {
        email: TEST_EMAIL.into(),
        password: TEST_PASSWORD.into(),
    };
    let token = cache.token_for(&account, &creds, now).await.unwrap();
    assert_eq!(cache.token_for(&account, &creds, now).await.unwrap(), token);
    let s = account.subscription(&token).await.unwrap();
    assert_eq!((s.tier, s.anlas), (3, 10_000));
    let client = NovelAiClient::new(&fake.url, &fake.url, Duration::from_secs(10));
    assert!(
        client
            .generate(&Credentials::Token { token }, &body(64, 64, 1))
            .await
            .is_ok()
    );

    // Other tiers; purchased Anlas count too.
    for (email, tier, name, active, anlas, unlimited) in [
        ("scroll@example.com", 2, "Scroll", true, 1500, false),
        ("paper@example.com", 0, "Paper", false, 0, false),
    ] {
        let creds = Credentials::Login {
            email: email.into(),
            password: "secret".into(),
        };
        let token = cache.token_for(&account, &creds, now).await.unwrap();
        let s = account.subscription(&token).await.unwrap();
        assert_eq!(
            (
                s.tier,
                s.tier_name,
                s.active,
                s.anlas,
                s.unlimited_image_generation
            ),
            (tier, name, active, anlas, unlimited),
            "{email}"
        );
    }

    // A wrong password: NovelAI's 401, nothing secret in the error.
    let wrong = Credentials::Login {
        email: TEST_EMAIL.into(),
        password: "hunter2-wrong".into(),
    };
    let err = cache.token_for(&account, &wrong, now).await.unwrap_err();
    assert_eq!(
        err,
        UpstreamError::Status {
            status: 401,
            message: "Incorrect access key.".into()
        }
    );
    assert!(!format!("{err} {err:?} {cache:?}").contains("hunter2"));

    let log = fake_log(&fake).await;
    let logins = log.iter().filter(|e| e["path"] == "/user/login").count();
    assert_eq!(logins, 4, "one login per account, the cached token reused");
    assert!(
        log.iter()
            .any(|e| e["path"] == "/user/subscription" && e["status"] == 401)
    );
}

// ---------------------------------------------------------------------------------------
// Fault injection: POST /_fake/faults {"kind", "count"}.

async fn inject(fake: &Fake, kind: &str, count: u64) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{}/_fake/faults", fake.url))
        .json(&json!({"kind": kind, "count": count}))
        .send()
        .await
        .unwrap()
}

async fn queued(fake: &Fake) -> Value {
    reqwest::get(format!("{}/_fake/faults", fake.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn every_fault_kind_reaches_the_client_as_documented() {
    let fake = Fake::start(0);
    let client = NovelAiClient::new(&fake.url, &fake.url, Duration::from_secs(10));
    let good = token("pst-good");
    let b = body(64, 64, 1);

    let status = |status: u16, message: &str| UpstreamError::Status {
        status,
        message: message.into(),
    };
    for (kind, expected, code) in [
        (
            "500",
            status(500, "Internal server error"),
            "upstream_error",
        ),
        (
            "429",
            status(429, "Concurrent generation is locked"),
            "upstream_busy",
        ),
        (
            "402",
            status(402, "Insufficient Anlas"),
            "insufficient_anlas",
        ),
        ("401", status(401, "Unauthorized"), "upstream_auth_failed"),
    ] {
        assert!(inject(&fake, kind, 1).await.status().is_success());
        let err = client.generate(&good, &b).await.unwrap_err();
        assert_eq!(err, expected, "{kind}");
        assert_eq!(err.code(), code, "{kind}");
        // Only one call was faulted.
        assert!(client.generate(&good, &b).await.is_ok(), "{kind}");
    }

    for (kind, needle) in [
        ("corrupt_zip", "not a zip archive"),
        ("missing_image", "no PNG"),
    ] {
        inject(&fake, kind, 1).await;
        let err = client.generate(&good, &b).await.unwrap_err();
        assert!(
            matches!(&err, UpstreamError::BadResponse(m) if m.contains(needle)),
            "{kind}: {err:?}"
        );
        assert_eq!(err.code(), "upstream_bad_response");
    }

    // "401" answers whatever the token and the body.
    inject(&fake, "401", 1).await;
    let err = client
        .generate(&token("pst-wrong"), &json!({"input": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err, status(401, "Unauthorized"));

    // "hang": no answer; the client's timeout ends the call.
    inject(&fake, "hang", 1).await;
    let impatient = NovelAiClient::new(&fake.url, &fake.url, Duration::from_secs(1));
    let started = std::time::Instant::now();
    let err = impatient.generate(&good, &b).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Network(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(5));
    // A hung call does not hold the concurrency lock.
    assert!(client.generate(&good, &b).await.is_ok());

    let log = fake_log(&fake).await;
    let statuses: Vec<u64> = log.iter().map(|e| e["status"].as_u64().unwrap()).collect();
    assert_eq!(
        statuses,
        [
            500, 200, 429, 200, 402, 200, 401, 200, 200, 200, 401, 0, 200
        ]
    );
    let hung = &log[11];
    assert_eq!(hung["finished_at"], Value::Null);
    assert_eq!(hung["body"]["input"], "1girl, cat ears");
    assert_eq!(queued(&fake).await, json!([]));
}

#[tokio::test]
async fn queued_faults_are_answered_in_order_and_can_be_cleared() {
    let fake = Fake::start(0);
    let client = NovelAiClient::new(&fake.url, &fake.url, Duration::from_secs(10));
    let good = token("pst-good");
    let b = body(64, 64, 1);
    let http = reqwest::Client::new();

    // Bad requests to the fault API.
    for bad in [
        json!({"kind": "418", "count": 1}),
        json!({"kind": "500", "count": 0}),
        json!({"count": 1}),
    ] {
        let resp = http
            .post(format!("{}/_fake/faults", fake.url))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 400, "{bad}");
    }

    inject(&fake, "500", 2).await;
    let answer: Value = inject(&fake, "429", 1).await.json().await.unwrap();
    let expected = json!([{"kind": "500", "count": 2}, {"kind": "429", "count": 1}]);
    assert_eq!(answer, expected);
    assert_eq!(queued(&fake).await, expected);

    // A call refused for its token or its body does not use a fault.
    let err = client.generate(&token("pst-wrong"), &b).await.unwrap_err();
    assert_eq!(err.code(), "upstream_auth_failed");
    let err = client.generate(&good, &body(100, 64, 1)).await.unwrap_err();
    assert_eq!(err.code(), "upstream_invalid_request");
    assert_eq!(queued(&fake).await, expected);

    let mut codes = Vec::new();
    for _ in 0..4 {
        codes.push(match client.generate(&good, &b).await {
            Ok(_) => 200,
            Err(UpstreamError::Status { status, .. }) => status,
            Err(e) => panic!("{e:?}"),
        });
    }
    assert_eq!(codes, [500, 500, 429, 200]);
    assert_eq!(queued(&fake).await, json!([]));

    inject(&fake, "402", 5).await;
    assert_eq!(queued(&fake).await, json!([{"kind": "402", "count": 5}]));
    let resp = http
        .delete(format!("{}/_fake/faults", fake.url))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(queued(&fake).await, json!([]));
    assert!(client.generate(&good, &b).await.is_ok());
}

// ---------------------------------------------------------------------------------------
// Validation per model family.

/// base64 of a real 64x64 PNG (naiq's request parser decodes input images).
fn png_b64() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(naiq::adapters::memory::png_of(64, 64))
}

fn built(submit: Value) -> Value {
    let request =
        naiq::domain::request::parse_submit(submit.to_string().as_bytes(), &Default::default())
            .unwrap_or_else(|e| panic!("{submit}: {e:?}"));
    let image = request.image.as_ref().map(|_| png_b64());
    let mask = request.mask.as_ref().map(|_| png_b64());
    naiq::novelai::body::build(&request.params, image.as_deref(), mask.as_deref())
}

#[tokio::test]
async fn the_bodies_naiq_builds_pass_for_every_family() {
    let fake = Fake::start(0);
    let client = NovelAiClient::new(&fake.url, &fake.url, Duration::from_secs(10));
    let good = token("pst-good");
    for model in [
        "nai-v3",
        "nai-furry-v3",
        "nai-v4",
        "nai-v4-curated",
        "nai-v4.5",
        "nai-v4.5-curated",
        "nai-v2",
    ] {
        let base = json!({"prompt": "1girl", "negative_prompt": "lowres", "model": model,
                          "resolution": "small_square", "seed": 5});
        let mut i2i = base.clone();
        i2i["image"] = json!(png_b64());
        i2i["strength"] = json!(0.5);
        i2i["noise"] = json!(0.1);
        let mut many = base.clone();
        many["n_samples"] = json!(4);
        many["width"] = json!(512);
        many["height"] = json!(512);
        for submit in [base, i2i, many] {
            let b = built(submit.clone());
            let images = client
                .generate(&good, &b)
                .await
                .unwrap_or_else(|e| panic!("{model} {submit}: {e:?}\n{b}"));
            assert!(!images.is_empty());
        }
    }
    // V4/V4.5 character prompts, placed and left to the AI.
    for model in ["nai-v4", "nai-v4.5"] {
        for characters in [
            json!([{"prompt": "girl, red hair", "uc": "bad hands", "position": "a1"},
                   {"prompt": "girl, blue hair"}]),
            json!([{"prompt": "a"}, {"prompt": "b"}, {"prompt": "c"}]),
        ] {
            let b = built(json!({"prompt": "2girls", "model": model,
                                 "resolution": "small_square", "characters": characters}));
            assert!(
                client.generate(&good, &b).await.is_ok(),
                "{model} {characters}\n{b}"
            );
        }
    }
    // Inpainting (infill with the model's inpainting variant and a mask), V3 and V4.5.
    for (model, inpainting) in [
        ("nai-v3", "nai-diffusion-3-inpainting"),
        ("nai-v4.5", "nai-diffusion-4-5-full-inpainting"),
    ] {
        let b = built(
            json!({"prompt": "1girl", "model": model, "resolution": "small_square",
                   "image": png_b64(), "mask": png_b64(), "strength": 0.6, "noise": 0.1}),
        );
        assert_eq!(b["action"], "infill");
        assert_eq!(b["model"], inpainting);
        let images = client
            .generate(&good, &b)
            .await
            .unwrap_or_else(|e| panic!("{model} infill: {e:?}\n{b}"));
        assert!(!images.is_empty());
    }
    // V3 extras: SMEA and DDIM (sent as ddim_v3).
    let b = built(
        json!({"prompt": "x", "model": "nai-v3", "resolution": "small_square",
                         "sm": true, "sm_dyn": true}),
    );
    assert!(client.generate(&good, &b).await.is_ok());
    let b = built(
        json!({"prompt": "x", "model": "nai-v3", "resolution": "small_square",
                         "sampler": "ddim"}),
    );
    assert_eq!(b["parameters"]["sampler"], "ddim_v3");
    assert!(client.generate(&good, &b).await.is_ok());
}

#[tokio::test]
async fn bodies_the_real_api_refuses_are_400() {
    let fake = Fake::start(0);
    let client = NovelAiClient::new(&fake.url, &fake.url, Duration::from_secs(10));
    let good = token("pst-good");
    let v45 = built(json!({"prompt": "1girl", "model": "nai-v4.5", "resolution": "small_square"}));
    let v3 = built(json!({"prompt": "1girl", "model": "nai-v3", "resolution": "small_square"}));
    let i2i = built(
        json!({"prompt": "1girl", "model": "nai-v4.5", "resolution": "small_square",
                           "image": png_b64()}),
    );
    let with = |base: &Value, path: &str, value: Value| {
        let mut b = base.clone();
        *b.pointer_mut(path).unwrap_or_else(|| panic!("{path}")) = value;
        b
    };
    let without = |base: &Value, field: &str| {
        let mut b = base.clone();
        b["parameters"].as_object_mut().unwrap().remove(field);
        b
    };
    let infill = built(
        json!({"prompt": "1girl", "model": "nai-v4.5", "resolution": "small_square",
                           "image": png_b64(), "mask": png_b64()}),
    );
    let char_caption = json!({"char_caption": "girl", "centers": [{"x": 0.5, "y": 0.5}]});
    let cases: Vec<(&str, Value)> = vec![
        (
            "infill to the base model",
            with(&infill, "/model", json!("nai-diffusion-4-5-full")),
        ),
        ("infill without a mask", without(&infill, "mask")),
        ("V4 without params_version", without(&v45, "params_version")),
        (
            "V4 params_version 1",
            with(&v45, "/parameters/params_version", json!(1)),
        ),
        ("V4 without v4_prompt", without(&v45, "v4_prompt")),
        (
            "V4 base_caption not a string",
            with(
                &v45,
                "/parameters/v4_prompt/caption/base_caption",
                json!(null),
            ),
        ),
        (
            "V4 without v4_negative_prompt",
            without(&v45, "v4_negative_prompt"),
        ),
        (
            "uneven char_captions",
            with(
                &v45,
                "/parameters/v4_prompt/caption/char_captions",
                json!([char_caption]),
            ),
        ),
        (
            "char_caption without centers",
            with(
                &with(
                    &v45,
                    "/parameters/v4_prompt/caption/char_captions",
                    json!([{"char_caption": "girl", "centers": []}]),
                ),
                "/parameters/v4_negative_prompt/caption/char_captions",
                json!([{"char_caption": "", "centers": []}]),
            ),
        ),
        ("V4 with sm", {
            let mut b = v45.clone();
            b["parameters"]["sm"] = json!(true);
            b
        }),
        (
            "V4 native schedule",
            with(&v45, "/parameters/noise_schedule", json!("native")),
        ),
        (
            "V4 ddim_v3",
            with(&v45, "/parameters/sampler", json!("ddim_v3")),
        ),
        ("V4 ddim", with(&v45, "/parameters/sampler", json!("ddim"))),
        (
            "V3 params_version 3",
            with(&v3, "/parameters/params_version", json!(3)),
        ),
        ("V3 v4_prompt only", {
            let mut b = with(&v3, "/input", json!(""));
            b["parameters"]["v4_prompt"] = v45["parameters"]["v4_prompt"].clone();
            b
        }),
        (
            "unknown sampler",
            with(&v3, "/parameters/sampler", json!("k_magic")),
        ),
        (
            "unknown model",
            with(&v3, "/model", json!("nai-diffusion-9")),
        ),
        ("n_samples over the size limit", {
            let b = with(&v3, "/parameters/width", json!(832));
            let b = with(&b, "/parameters/height", json!(1216));
            with(&b, "/parameters/n_samples", json!(8))
        }),
        (
            "img2img image not base64",
            with(&i2i, "/parameters/image", json!("not base64!")),
        ),
        ("img2img without image", without(&i2i, "image")),
        (
            "img2img strength 1",
            with(&i2i, "/parameters/strength", json!(1.0)),
        ),
        (
            "img2img strength 0",
            with(&i2i, "/parameters/strength", json!(0.0)),
        ),
        (
            "img2img noise 1",
            with(&i2i, "/parameters/noise", json!(1.0)),
        ),
        (
            "infill on a generation model",
            with(&i2i, "/action", json!("infill")),
        ),
    ];
    for (name, b) in cases {
        let err = client.generate(&good, &b).await.unwrap_err();
        assert!(
            matches!(&err, UpstreamError::Status { status: 400, message } if message.starts_with("A validation error occurred.")),
            "{name}: {err:?}"
        );
    }
    // Absent sm/sm_dyn, or false, are fine everywhere; V3 takes no params_version too.
    assert!(
        client
            .generate(&good, &without(&v3, "params_version"))
            .await
            .is_ok()
    );
    let mut b = v45.clone();
    b["parameters"]["sm"] = json!(false);
    assert!(client.generate(&good, &b).await.is_ok());
}

// ---------------------------------------------------------------------------------------
// naiq's client with email and password: access key, login, token reuse, one re-login.

#[tokio::test]
async fn the_client_logs_in_with_email_and_password_and_relogs_once_after_a_401() {
    let fake = Fake::start_with(0, &["--account", &format!("{TEST_EMAIL}:{TEST_PASSWORD}")]);
    let client = NovelAiClient::new(&fake.url, &fake.url, Duration::from_secs(10));
    let login = Credentials::Login {
        // Typed with capitals: the client lower-cases it as the web client does.
        email: TEST_EMAIL.to_uppercase(),
        password: TEST_PASSWORD.into(),
    };
    let b = body(64, 64, 1);
    assert_eq!(client.generate(&login, &b).await.unwrap().len(), 1);
    assert_eq!(client.generate(&login, &b).await.unwrap().len(), 1);
    let logins = |log: &[Value]| log.iter().filter(|r| r["path"] == "/user/login").count();
    let log: Vec<Value> = reqwest::get(format!("{}/_fake/requests", fake.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logins(&log), 1, "the token is reused");

    // The token is refused once: one fresh login, one retry, success.
    inject(&fake, "401", 1).await;
    assert!(client.generate(&login, &b).await.is_ok());
    let log: Vec<Value> = reqwest::get(format!("{}/_fake/requests", fake.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logins(&log), 2);
    // Refused twice: the one re-login does not help; the 401 stands.
    inject(&fake, "401", 2).await;
    let err = client.generate(&login, &b).await.unwrap_err();
    assert_eq!(err.code(), "upstream_auth_failed");

    // The subscription, through the same login.
    let info = client.subscription(&login).await.unwrap();
    assert_eq!((info.tier, info.active), (3, true));
    assert!(info.anlas > 0);

    // A wrong password: NovelAI's "Incorrect access key.", and no secret in the error.
    let wrong = Credentials::Login {
        email: TEST_EMAIL.into(),
        password: "nope-nope".into(),
    };
    let err = client.generate(&wrong, &b).await.unwrap_err();
    assert_eq!(err.code(), "upstream_auth_failed");
    let text = format!("{err} {err:?}");
    assert!(
        !text.contains("nope-nope") && !text.contains(TEST_KEY),
        "{text}"
    );
}

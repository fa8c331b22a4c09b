//! naiq's NovelAI client against the fake NovelAI, in-process: it reads the zip of PNGs,
//! classifies every error the way the worker's retry rules need, waits out the concurrency
//! lock, logs in with email and password (the derived access key), reuses the token and
//! logs in afresh on the next call after a 401 (never resending within one), and never lets a secret into an error.

use std::time::Duration;

use fake_novelai::{Account, Config, RunningFake};
use naiq_adapters::novelai::NovelAiClient;
use naiq_adapters::novelai::account::{Account as AccountApi, TokenCache};
use naiq_core::domain::Credentials;
use naiq_core::domain::request::{Limits, parse_submit};
use naiq_core::novelai::{ImageRequest, body};
use naiq_core::ports::{Upstream, UpstreamError};
use serde_json::{Value, json};

/// NovelAI's published test account (vector 2) and its access key.
const EMAIL: &str = "test@example.com";
const PASSWORD: &str = "password123";
const KEY: &str = "5TjO-5RT1mNI59hEHZXjBJZpp2yvC4L0LJUeIhRwkZHxgIHEutHp8EgOwvynvwLu";

async fn fake(latency_ms: u64, accounts: Vec<Account>) -> RunningFake {
    let mut config = Config::default()
        .with_tokens(["pst-good", "pst-other"])
        .with_latency(Duration::from_millis(latency_ms));
    for a in accounts {
        config = config.with_account(a);
    }
    fake_novelai::spawn(config).await.expect("the fake starts")
}

fn client(fake: &RunningFake, timeout_s: u64) -> NovelAiClient {
    NovelAiClient::new(fake.url(), Duration::from_secs(timeout_s))
}

/// The request naiq's worker would send for this `POST /generate` body.
fn request(submit: Value) -> ImageRequest {
    let req = parse_submit(submit.to_string().as_bytes(), &Limits::default()).expect("valid");
    body::build(&req.params, None, None)
}

fn small(model: &str, n: u32) -> ImageRequest {
    request(
        json!({"prompt": "1girl, cat ears", "model": model, "width": 64, "height": 64,
                   "n_samples": n, "seed": 42}),
    )
}

fn token(t: &str) -> Credentials {
    Credentials::Token { token: t.into() }
}

async fn log(fake: &RunningFake) -> Vec<Value> {
    reqwest::get(format!("{}/_fake/requests", fake.url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn inject(fake: &RunningFake, kind: &str, count: u64) {
    let resp = reqwest::Client::new()
        .post(format!("{}/_fake/faults", fake.url()))
        .json(&json!({"kind": kind, "count": count}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{kind}");
}

#[tokio::test]
async fn the_client_reads_every_family_and_classifies_refusals() {
    let fake = fake(10, vec![]).await;
    let client = client(&fake, 10);
    for model in [
        "nai-v3",
        "nai-v4.5",
        "nai-v5",
        "nai-v5-curated",
        "nai-v5-medium",
    ] {
        let req = request(json!({"prompt": "一只可爱的猫咪，高清照片", "model": model,
                                 "n_samples": 2, "seed": 7}));
        let images = client.generate(&token("pst-good"), &req).await;
        let images = images.unwrap_or_else(|e| panic!("{model}: {e}"));
        assert_eq!(images.len(), 2, "{model}");
        for img in &images {
            assert_eq!((img.width, img.height), (832, 1216), "{model}");
            assert_eq!(
                naiq_core::novelai::archive::check_png(&img.bytes).unwrap(),
                (832, 1216)
            );
        }
    }
    // WebP when asked: the client reads it as WebP.
    let webp = request(
        json!({"prompt": "x", "model": "nai-v5", "image_format": "webp",
                              "width": 512, "height": 768}),
    );
    let images = client.generate(&token("pst-good"), &webp).await.unwrap();
    assert_eq!(
        (images[0].format, images[0].width, images[0].height),
        (naiq_core::domain::request::ImageFormat::Webp, 512, 768)
    );
    let err = client
        .generate(&token("pst-wrong"), &small("nai-v3", 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, UpstreamError::Status { status: 401, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "upstream_auth_failed");
    assert!(!err.is_retryable());
    // A body NovelAI refuses: 400, not retried.
    let mut bad = small("nai-v4.5", 1);
    bad.parameters.width = 100;
    let err = client.generate(&token("pst-good"), &bad).await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::Status { status: 400, .. }),
        "{err:?}"
    );
    assert_eq!(err.code(), "upstream_invalid_request");
    // The fake saw what naiq sent, prompts in any script unchanged.
    let log = log(&fake).await;
    assert_eq!(log[0]["body"]["input"], "一只可爱的猫咪，高清照片");
    assert_eq!(log[0]["body"]["parameters"]["params_version"], 4);
    assert!(log.iter().all(|e| e["path"] == "/ai/generate-image"));
}

#[tokio::test]
async fn overlapping_generations_get_the_concurrency_lock() {
    let fake = fake(400, vec![]).await;
    let client = client(&fake, 10);
    let b = small("nai-v4.5", 1);
    let (good, other) = (token("pst-good"), token("pst-other"));
    let (first, second) = tokio::join!(client.generate(&good, &b), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        client.generate(&other, &b).await
    });
    assert!(first.is_ok());
    let err = second.unwrap_err();
    assert!(
        matches!(err, UpstreamError::Status { status: 429, .. }),
        "{err:?}"
    );
    assert!(err.is_retryable());
    assert!(
        client.generate(&good, &b).await.is_ok(),
        "the lock is free again"
    );
}

#[tokio::test]
async fn every_fault_kind_reaches_the_client_as_documented() {
    let fake = fake(0, vec![]).await;
    let client = client(&fake, 10);
    let good = token("pst-good");
    let b = small("nai-v4.5", 1);
    for (kind, status, code, retryable) in [
        ("500", 500, "upstream_error", true),
        ("429", 429, "upstream_busy", true),
        ("402", 402, "insufficient_anlas", false),
        ("401", 401, "upstream_auth_failed", false),
    ] {
        inject(&fake, kind, 1).await;
        let err = client.generate(&good, &b).await.unwrap_err();
        assert!(
            matches!(&err, UpstreamError::Status { status: s, .. } if *s == status),
            "{kind}: {err:?}"
        );
        assert_eq!(
            (err.code(), err.is_retryable()),
            (code, retryable),
            "{kind}"
        );
        assert!(
            client.generate(&good, &b).await.is_ok(),
            "only one call faulted: {kind}"
        );
    }
    for kind in ["corrupt_zip", "missing_image"] {
        inject(&fake, kind, 1).await;
        let err = client.generate(&good, &b).await.unwrap_err();
        assert!(
            matches!(err, UpstreamError::BadResponse(_)),
            "{kind}: {err:?}"
        );
        assert_eq!(err.code(), "upstream_bad_response");
    }
    // "hang": no answer; the client's timeout ends the call, and the lock is not held.
    inject(&fake, "hang", 1).await;
    let impatient = self::client(&fake, 1);
    let started = std::time::Instant::now();
    let err = impatient.generate(&good, &b).await.unwrap_err();
    assert!(matches!(err, UpstreamError::Network(_)), "{err:?}");
    assert!(err.is_retryable());
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(client.generate(&good, &b).await.is_ok());
}

#[tokio::test]
async fn subscriptions_and_the_token_cache_on_the_image_host() {
    let fake = fake(
        0,
        vec![
            Account::new(EMAIL, PASSWORD),
            Account::new("scroll@example.com", "secret")
                .tier(2)
                .anlas(1500),
        ],
    )
    .await;
    let account = AccountApi::new(fake.url(), Duration::from_secs(10));
    let s = account.subscription("pst-good").await.unwrap();
    assert_eq!(
        (s.tier, s.tier_name, s.active, s.anlas),
        (3, "Opus", true, 10_000)
    );
    let err = account.subscription("eyJnope").await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::Status { status: 401, .. }),
        "{err:?}"
    );

    let cache = TokenCache::new();
    let now = chrono::Utc::now();
    let creds = Credentials::Login {
        email: EMAIL.into(),
        password: PASSWORD.into(),
    };
    let t = cache.token_for(&account, &creds, now).await.unwrap();
    assert_eq!(cache.token_for(&account, &creds, now).await.unwrap(), t);
    let scroll = Credentials::Login {
        email: "scroll@example.com".into(),
        password: "secret".into(),
    };
    let t2 = cache.token_for(&account, &scroll, now).await.unwrap();
    let s = account.subscription(&t2).await.unwrap();
    assert_eq!(
        (s.tier, s.tier_name, s.anlas, s.v5_usage),
        (2, "Scroll", 1500, None)
    );
    let wrong = Credentials::Login {
        email: EMAIL.into(),
        password: "hunter2-wrong".into(),
    };
    let err = cache.token_for(&account, &wrong, now).await.unwrap_err();
    assert!(
        matches!(err, UpstreamError::Status { status: 401, .. }),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?} {cache:?}").contains("hunter2"));
    let log = log(&fake).await;
    let logins: Vec<&Value> = log.iter().filter(|e| e["path"] == "/user/login").collect();
    assert_eq!(
        logins.len(),
        3,
        "one login per account, the cached token reused"
    );
    assert!(
        log.iter().all(|e| !e.to_string().contains(KEY)),
        "the access key is never recorded"
    );
}

#[tokio::test]
async fn the_client_logs_in_with_email_and_password_and_logs_in_afresh_after_a_401() {
    let fake = fake(0, vec![Account::new(EMAIL, PASSWORD)]).await;
    let client = client(&fake, 10);
    let login = Credentials::Login {
        // Typed with capitals: the client lower-cases it as the web client does.
        email: EMAIL.to_uppercase(),
        password: PASSWORD.into(),
    };
    let b = small("nai-v5", 1);
    assert_eq!(client.generate(&login, &b).await.unwrap().len(), 1);
    assert_eq!(client.generate(&login, &b).await.unwrap().len(), 1);
    let logins = |log: &[Value]| log.iter().filter(|r| r["path"] == "/user/login").count();
    assert_eq!(logins(&log(&fake).await), 1, "the token is reused");
    // A refused token is dropped, and the call is not made again within the attempt: a
    // second generation would go out unpaced and uncounted. The next attempt logs in.
    let generations = |log: &[Value]| {
        log.iter()
            .filter(|r| r["path"] == "/ai/generate-image")
            .count()
    };
    let before = generations(&log(&fake).await);
    inject(&fake, "401", 1).await;
    let err = client.generate(&login, &b).await.unwrap_err();
    assert!(matches!(err, UpstreamError::LoginRefused(_)), "{err:?}");
    assert_eq!(
        (err.code(), err.is_retryable()),
        ("upstream_auth_failed", true)
    );
    assert_eq!(
        generations(&log(&fake).await),
        before + 1,
        "one call, no resend"
    );
    assert_eq!(logins(&log(&fake).await), 1, "no login within the attempt");
    assert!(
        client.generate(&login, &b).await.is_ok(),
        "the next attempt logs in afresh"
    );
    assert_eq!(logins(&log(&fake).await), 2);
    assert_eq!(generations(&log(&fake).await), before + 2);
    let info = client.subscription(&login).await.unwrap();
    assert_eq!((info.tier, info.active), (3, true));
    let wrong = Credentials::Login {
        email: EMAIL.into(),
        password: "nope-nope".into(),
    };
    let err = client.generate(&wrong, &b).await.unwrap_err();
    assert_eq!(err.code(), "upstream_auth_failed");
    let text = format!("{err} {err:?}");
    assert!(!text.contains("nope-nope") && !text.contains(KEY), "{text}");
}

//! Logging in with real access keys, and subscriptions.

use fake_novelai::{Account, Config};
use serde_json::{Value, json};

use crate::bodies::small;
use crate::common::{self, GOOD, generate, get, log, start_with};

// NovelAI's published access-key vectors.
pub const TEST_EMAIL: &str = "test@example.com";
pub const TEST_PASSWORD: &str = "password123";
pub const TEST_KEY: &str = "5TjO-5RT1mNI59hEHZXjBJZpp2yvC4L0LJUeIhRwkZHxgIHEutHp8EgOwvynvwLu";
/// The same account typed with capitals, and lower-cased.
const BOB_KEY_TYPED: &str = "OZuc0d0yagUPg7jZP4SS1uDbVUJ2h2hmgsuzBP8Frkyn4dJZKlxrOR0XdMgJARJn";
const BOB_KEY_LOWER: &str = "rxokLBB6ohUcXnkC91m-kbQ3r2lNI0k-LWBAbREHROm2KJTMdFfMWPVjKiTPIphf";
const ALICE_KEY: &str = "KD-BmAqk7X4wck7LHmvAqyWy7jVqzoBncGWIQ3ktMTFiMWGwGPvzNJc102PEyztu";
const SHORT_KEY: &str = "L6LgyD5lGRzE03jJiLUl75-XaZN8520zQjrjV6VOpWCJdEExwLg8B5MPyDbVUbLw";
const UNICODE_KEY: &str = "xFKw2EzutNndF0B9-DuwXr9skbCnZ8rmAY_TI8LIlU1L8Ezh3n4m6WuSNjYKBJiS";
/// A real key of an account the fakes here do not have.
const STRANGER_KEY: &str = "vtQmbCKY3JMbibT54ctxmAaAL-nZOK5BLVMSmF4M75yasKIKKPconLnx_L0ybh3P";

async fn login(fake: &fake_novelai::RunningFake, body: &str) -> (u16, Value) {
    let answer = common::send(fake, reqwest::Method::POST, "/user/login", body).await;
    let v = serde_json::from_slice(&answer.bytes).unwrap_or(Value::Null);
    (answer.status, v)
}

async fn token_for(fake: &fake_novelai::RunningFake, key: &str) -> String {
    let (status, v) = login(fake, &json!({"key": key}).to_string()).await;
    assert_eq!(status, 201, "{v}");
    v["accessToken"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn login_takes_the_real_access_key_and_never_records_it() {
    let fake = start_with(
        common::config(0)
            .with_account(Account::new(TEST_EMAIL, TEST_PASSWORD))
            .with_account("Bob.Smith@Example.COM:Pa$$w0rd!:1:500".parse().unwrap())
            .with_account(Account::new("unicode@example.jp", "пароль密码🔑xyz")),
    )
    .await;

    let (status, v) = login(&fake, &json!({"key": TEST_KEY}).to_string()).await;
    assert_eq!(status, 201, "{v}");
    let token = v["accessToken"].as_str().unwrap().to_string();
    assert!(token.starts_with("eyJ"), "JWT-shaped: {token}");
    let (_, again) = login(&fake, &json!({"key": TEST_KEY}).to_string()).await;
    assert_ne!(
        again["accessToken"], v["accessToken"],
        "a fresh token each time"
    );

    // Email and recaptcha fields are taken and ignored.
    let with_extras = json!({"key": TEST_KEY, "email": TEST_EMAIL, "recaptcha": ""});
    assert_eq!(login(&fake, &with_extras.to_string()).await.0, 201);

    let (status, v) = login(&fake, &json!({"key": STRANGER_KEY}).to_string()).await;
    assert_eq!(
        (status, v),
        (
            401,
            json!({"statusCode": 401, "message": "Incorrect access key."})
        )
    );
    for bad in ["not json", r#"{"key": 5}"#, "{}", "[]", r#"{"key": null}"#] {
        let (status, v) = login(&fake, bad).await;
        assert_eq!(
            (status, v["statusCode"].as_u64()),
            (400, Some(400)),
            "{bad}"
        );
    }
    // The email as typed and lower-cased both work; a multi-byte password too.
    for key in [BOB_KEY_TYPED, BOB_KEY_LOWER, UNICODE_KEY] {
        token_for(&fake, key).await;
    }

    // A login token generates like a configured one.
    assert_eq!(generate(&fake, &token, &small()).await.status, 200);

    // The log has every login, the key of none.
    let log = log(&fake).await;
    let logins: Vec<&Value> = log.iter().filter(|e| e["path"] == "/user/login").collect();
    assert_eq!(logins.len(), 12);
    assert_eq!(logins[0]["body"], json!({"key": "<redacted>"}));
    assert_eq!(logins[0]["status"], 201);
    assert_eq!(logins[2]["body"]["email"], TEST_EMAIL);
    assert_eq!(logins[3]["status"], 401);
    assert_eq!(logins[4]["body"], json!("<8 bytes, not a JSON object>"));
    assert_eq!(
        logins[5]["body"],
        json!({"key": "<redacted>"}),
        "a non-string key too"
    );
    let text = serde_json::to_string(&log).unwrap();
    for secret in [
        TEST_KEY,
        BOB_KEY_TYPED,
        BOB_KEY_LOWER,
        UNICODE_KEY,
        STRANGER_KEY,
        TEST_PASSWORD,
        &token,
    ] {
        assert!(!text.contains(secret), "a secret was recorded: {text}");
    }
}

#[tokio::test]
async fn subscriptions_have_novelais_shape_per_tier() {
    let fake = start_with(
        common::config(0)
            .with_account(Account::new(TEST_EMAIL, TEST_PASSWORD))
            .with_account(
                Account::new("alice@example.org", "correct horse battery staple")
                    .tier(2)
                    .anlas(1500),
            )
            .with_account(Account::new("short@example.net", "abc").tier(0).anlas(0)),
    )
    .await;

    // The configured tokens: Opus, 10000 Anlas.
    let answer = get(&fake, "/user/subscription", Some(GOOD)).await;
    assert_eq!(answer.status, 200);
    let v = answer.json();
    assert_eq!(
        (v["tier"].as_u64(), v["active"].as_bool()),
        (Some(3), Some(true))
    );
    let anlas = |v: &Value| {
        v["trainingStepsLeft"]["fixedTrainingStepsLeft"]
            .as_u64()
            .unwrap()
            + v["trainingStepsLeft"]["purchasedTrainingSteps"]
                .as_u64()
                .unwrap()
    };
    assert_eq!(anlas(&v), 10_000);
    assert!(v["expiresAt"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    assert_eq!(v["perks"]["unlimitedMaxPriority"], true);
    assert!(v["perks"]["maxPriorityActions"].is_u64() && v["perks"]["contextTokens"].is_u64());
    assert_eq!(
        v["usage"],
        json!({"percent": 100, "isNegative": false, "timeUntilNextPercent": 0})
    );
    for gone in [
        "imageGeneration",
        "unlimitedImageGeneration",
        "unlimitedImageGenerationLimits",
    ] {
        assert!(
            v["perks"].get(gone).is_none(),
            "NovelAI no longer sends perks.{gone}"
        );
    }
    assert!(v["accountType"].is_u64());
    assert_eq!(
        (v["isGracePeriod"].as_bool(), v["isPaypal"].as_bool()),
        (Some(false), Some(false))
    );

    // Without a valid token: 401.
    for token in [Some("eyJnope"), None] {
        let answer = get(&fake, "/user/subscription", token).await;
        assert_eq!(
            (answer.status, answer.message()),
            (401, "Unauthorized".to_string())
        );
    }

    // Logged-in accounts: their own tier and Anlas; purchased Anlas count too.
    let opus = token_for(&fake, TEST_KEY).await;
    let v = get(&fake, "/user/subscription", Some(&opus)).await.json();
    assert_eq!((v["tier"].as_u64(), anlas(&v)), (Some(3), 10_000));
    let scroll = token_for(&fake, ALICE_KEY).await;
    let v = get(&fake, "/user/subscription", Some(&scroll)).await.json();
    assert_eq!(
        (v["tier"].as_u64(), v["active"].as_bool(), anlas(&v)),
        (Some(2), Some(true), 1500)
    );
    assert_eq!(v["trainingStepsLeft"]["purchasedTrainingSteps"], 500);
    assert!(v.get("usage").is_none(), "the usage gauge is Opus's");
    let paper = token_for(&fake, SHORT_KEY).await;
    let v = get(&fake, "/user/subscription", Some(&paper)).await.json();
    assert_eq!(
        (
            v["tier"].as_u64(),
            v["active"].as_bool(),
            anlas(&v),
            v["expiresAt"].as_i64()
        ),
        (Some(0), Some(false), 0, Some(0))
    );

    let log = log(&fake).await;
    let subs: Vec<u64> = log
        .iter()
        .filter(|e| e["path"] == "/user/subscription")
        .map(|e| e["status"].as_u64().unwrap())
        .collect();
    assert_eq!(subs, [200, 401, 401, 200, 200, 200]);
    assert!(
        log.iter()
            .all(|e| e["method"] != "GET" || e["body"].is_null())
    );
}

#[tokio::test]
async fn the_default_config_takes_the_default_token() {
    let fake = start_with(Config::default().with_latency(std::time::Duration::ZERO)).await;
    let answer = generate(&fake, fake_novelai::DEFAULT_TOKEN, &small()).await;
    assert_eq!(answer.status, 200);
}

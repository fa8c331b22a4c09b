//! The NovelAI credentials end to end: every `naiq credentials` command against the
//! emulator and the fake NovelAI, and jobs that log in with email and password (the
//! access key derived with Argon2id), with nothing secret in any log line, response or
//! the jobs table.

use std::time::Duration;

use naiq_e2e::{Stack, naiq, new_key};
use serde_json::json;

/// The fake's configured account (NovelAI's published second test vector).
const EMAIL: &str = "test@example.com";
const PASSWORD: &str = "password123";
const ACCESS_KEY: &str = "5TjO-5RT1mNI59hEHZXjBJZpp2yvC4L0LJUeIhRwkZHxgIHEutHp8EgOwvynvwLu";

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn every_credentials_command_works_end_to_end() {
    let s = Stack::from_env();
    // A secret of this test's own, so the stack's credentials stay as they are.
    let secret = format!("naiq-cli-creds/{}", std::process::id());
    let env = [
        ("NOVELAI_SECRET_ID", secret.as_str()),
        ("NOVELAI_IMAGE_URL", s.fake.as_str()),
    ];

    // derive-key: the password from stdin, the key on stdout.
    let (code, out, err) = naiq(
        &["credentials", "derive-key", "--email", EMAIL],
        Some(&format!("{PASSWORD}\n")),
        &env,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), ACCESS_KEY);
    let (code, out, _) = naiq(
        &[
            "credentials",
            "derive-key",
            "--email",
            "Bob.Smith@Example.COM",
            "--raw-email",
        ],
        Some("Pa$$w0rd!\n"),
        &env,
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        "OZuc0d0yagUPg7jZP4SS1uDbVUJ2h2hmgsuzBP8Frkyn4dJZKlxrOR0XdMgJARJn",
        "email as typed"
    );
    let (code, out, _) = naiq(
        &[
            "credentials",
            "derive-key",
            "--email",
            "Bob.Smith@Example.COM",
        ],
        Some("Pa$$w0rd!\n"),
        &env,
    )
    .await;
    assert_eq!(code, 0);
    assert_eq!(
        out.trim(),
        "rxokLBB6ohUcXnkC91m-kbQ3r2lNI0k-LWBAbREHROm2KJTMdFfMWPVjKiTPIphf",
        "lower-cased by default"
    );

    // check without credentials says so.
    let (code, _, err) = naiq(&["credentials", "check"], None, &env).await;
    assert_ne!(code, 0);
    assert!(err.contains("no credentials"), "{err}");

    // set (email and password), show (masked), check (logs in, reads the subscription).
    let (code, out, err) = naiq(
        &["credentials", "set", "--email", EMAIL],
        Some(&format!("{PASSWORD}\n")),
        &env,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let (code, shown, _) = naiq(&["credentials", "show"], None, &env).await;
    assert_eq!(code, 0);
    assert!(shown.starts_with("login t***@example.com"), "{shown}");
    let (code, checked, err) = naiq(&["credentials", "check"], None, &env).await;
    assert_eq!(code, 0, "{err}");
    assert!(checked.contains("Opus"), "{checked}");
    assert!(checked.contains("Anlas"), "{checked}");
    for text in [&out, &err, &shown, &checked] {
        assert!(
            !text.contains(PASSWORD) && !text.contains(ACCESS_KEY),
            "a secret was printed"
        );
    }

    // A wrong password fails the check with NovelAI's answer.
    naiq(
        &["credentials", "set", "--email", EMAIL],
        Some("not-the-password\n"),
        &env,
    )
    .await;
    let (code, _, err) = naiq(&["credentials", "check"], None, &env).await;
    assert_ne!(code, 0);
    assert!(
        err.contains("401") || err.contains("Incorrect access key"),
        "{err}"
    );

    // A token works too.
    naiq(
        &["credentials", "set"],
        Some(&format!("{}\n", s.fake_token)),
        &env,
    )
    .await;
    let (code, checked, err) = naiq(&["credentials", "check"], None, &env).await;
    assert_eq!(code, 0, "{err}");
    assert!(!checked.contains(&s.fake_token));
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn a_job_with_per_request_login_credentials_succeeds_and_leaves_no_trace() {
    let s = Stack::from_env();
    let key = new_key("login").await;
    let sub = s
        .submit(
            &key,
            &json!({"prompt": "per-request login", "model": "nai-v3", "resolution": "small_square",
            "auth_type": "login", "email": EMAIL, "password": PASSWORD}),
        )
        .await;
    let id = sub["task_id"].as_str().unwrap().to_string();
    let done = s.wait_done(&key, &id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "SUCCESS", "{done}");

    // A wrong password: the login fails, and so does the job, with the auth code.
    let sub = s
        .submit(&key, &json!({"prompt": "per-request bad login", "model": "nai-v3", "resolution": "small_square",
            "auth_type": "login", "email": EMAIL, "password": "wrong-password-123"}))
        .await;
    let bad = s
        .wait_done(
            &key,
            sub["task_id"].as_str().unwrap(),
            Duration::from_secs(90),
        )
        .await;
    assert_eq!(
        (bad["status"].as_str(), bad["error_code"].as_str()),
        (Some("FAILURE"), Some("upstream_auth_failed")),
        "{bad}"
    );

    let table = naiq_e2e::jobs_table_text().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let logs = s.logs();
    let fake_log = serde_json::to_string(&s.fake_requests().await).unwrap();
    for secret in [PASSWORD, "wrong-password-123", ACCESS_KEY] {
        assert!(!table.contains(secret), "a credential is in the jobs table");
        assert!(!logs.contains(secret), "a credential is in a log line");
        assert!(!done.to_string().contains(secret) && !bad.to_string().contains(secret));
        assert!(!fake_log.contains(secret), "the fake recorded a credential");
    }
}

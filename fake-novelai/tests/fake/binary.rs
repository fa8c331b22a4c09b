//! The binary, started as `localstack/up.sh` and the end-to-end tests start it: flags or
//! environment variables, one line on stdout with the address, then serving.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::accounts::{TEST_KEY, TEST_PASSWORD};
use crate::bodies::small;

/// The binary, stopped when dropped; `url` is read from its first stdout line.
struct Binary {
    child: Child,
    url: String,
}

impl Binary {
    fn start(command: &mut Command) -> Self {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the fake starts");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim_end()
            .strip_prefix("fake NovelAI listening on ")
            .unwrap_or_else(|| panic!("{line:?}"))
            .to_string();
        assert!(url.starts_with("http://127.0.0.1:"), "{line}");
        Binary { child, url }
    }

    /// Stops it and returns the rest of what it printed.
    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut rest = String::new();
        let _ = self.child.stdout.take().unwrap().read_to_string(&mut rest);
        rest
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn command() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_fake-novelai"));
    for var in [
        "FAKE_NOVELAI_PORT",
        "FAKE_NOVELAI_TOKENS",
        "FAKE_NOVELAI_ACCOUNTS",
        "FAKE_NOVELAI_LATENCY_MS",
        "FAKE_NOVELAI_MEDIUM_STEP_FACTOR",
    ] {
        c.env_remove(var);
    }
    c
}

async fn generate(url: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("{url}/ai/generate-image"))
        .bearer_auth(token)
        .body(small().to_string())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn flags_as_the_end_to_end_tests_give_them() {
    let fake = Binary::start(command().args([
        "--port",
        "0",
        "--tokens",
        "pst-e2e,pst-two",
        "--latency-ms",
        "150",
        "--account",
        "x@y.z:pw:1:25",
        "--medium-step-factor",
        "0.95",
    ]));
    let health = reqwest::get(format!("{}/_fake/health", fake.url))
        .await
        .unwrap();
    assert_eq!(health.text().await.unwrap(), "ok");
    assert_eq!(generate(&fake.url, "pst-two").await, 200);
    assert_eq!(
        generate(&fake.url, "pst-fake-token").await,
        401,
        "not the default any more"
    );
    let log: serde_json::Value = reqwest::get(format!("{}/_fake/requests", fake.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let received =
        chrono::DateTime::parse_from_rfc3339(log[0]["received_at"].as_str().unwrap()).unwrap();
    let finished =
        chrono::DateTime::parse_from_rfc3339(log[0]["finished_at"].as_str().unwrap()).unwrap();
    assert!(
        (finished - received).num_milliseconds() >= 150,
        "the latency"
    );
    // The accounts, without their secrets.
    let accounts: serde_json::Value = reqwest::get(format!("{}/_fake/accounts", fake.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(accounts[0]["tier"], 3);
    assert_eq!(accounts[0]["usage"]["percent"], 100);
    assert_eq!(
        (accounts[1]["tier"].as_u64(), accounts[1]["anlas"].as_u64()),
        (Some(1), Some(25))
    );
    let text = accounts.to_string();
    assert!(!text.contains("pst-e2e") && !text.contains("pw"), "{text}");
    assert_eq!(fake.stop(), "", "one line on stdout, nothing else");
}

#[tokio::test]
async fn environment_variables_as_the_local_stack_gives_them() {
    // A free port, found by binding one and letting it go.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fake = Binary::start(
        command()
            .env("FAKE_NOVELAI_PORT", port.to_string())
            .env("FAKE_NOVELAI_TOKENS", "pst-local-secret")
            .env(
                "FAKE_NOVELAI_ACCOUNTS",
                format!("test@example.com:{TEST_PASSWORD},x@y.z:pw:1:5"),
            )
            .env("FAKE_NOVELAI_LATENCY_MS", "0"),
    );
    assert_eq!(fake.url, format!("http://127.0.0.1:{port}"));
    assert_eq!(generate(&fake.url, "pst-local-secret").await, 200);
    let login = reqwest::Client::new()
        .post(format!("{}/user/login", fake.url))
        .json(&json!({"key": TEST_KEY}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 201);
    let output = fake.stop();
    for secret in ["pst-local-secret", TEST_PASSWORD, TEST_KEY] {
        assert!(!output.contains(secret), "{output}");
    }
}

#[test]
fn help_lists_the_flags_but_not_the_secret_environment() {
    let out = command()
        .arg("--help")
        .env("FAKE_NOVELAI_TOKENS", "pst-very-secret")
        .env("FAKE_NOVELAI_ACCOUNTS", "a@b.c:hunter2")
        .output()
        .unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--port",
        "--tokens",
        "--account",
        "--latency-ms",
        "--medium-step-factor",
        "FAKE_NOVELAI_PORT",
    ] {
        assert!(help.contains(flag), "{flag}: {help}");
    }
    assert!(
        !help.contains("pst-very-secret") && !help.contains("hunter2"),
        "{help}"
    );
}

#[test]
fn a_bad_account_spec_is_refused_without_echoing_it() {
    for spec in [":hunter2", "no-colon-hunter2", "a@b.c:"] {
        let out = command().args(["--account", spec]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{spec}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("EMAIL:PASSWORD"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }
}

//! Helpers for the end-to-end tests: they talk HTTP to the API served by
//! `cargo lambda watch` in the local stack that `localstack/test.sh` starts (its addresses
//! come from the environment that `localstack/.run/stack.env` sets), and read the emulator
//! directly to check what was (not) stored.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::AsyncWriteExt;

/// Why a test is ignored by a bare `cargo test`.
pub const NEEDS_STACK: &str = "needs the local stack (localstack/test.sh runs it)";

pub struct Stack {
    pub api: String,
    pub key: String,
    pub fake: String,
    pub fake_token: String,
    pub log_dir: PathBuf,
    pub http: reqwest::Client,
}

fn var(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the tests through localstack/test.sh"))
}

/// Every address must be on loopback: the tests send traffic nowhere else.
fn loopback(url: String) -> String {
    assert!(
        url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:"),
        "tests only talk to 127.0.0.1, not {url}"
    );
    url
}

impl Stack {
    pub fn from_env() -> Self {
        Self {
            api: loopback(var("NAIQ_API_URL")),
            key: var("NAIQ_API_KEY"),
            fake: loopback(var("NAIQ_FAKE_NOVELAI_URL")),
            fake_token: var("NAIQ_FAKE_NOVELAI_TOKEN"),
            log_dir: PathBuf::from(var("NAIQ_LOG_DIR")),
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(120))
                .build()
                .expect("client"),
        }
    }

    /// Sends a request; returns the status and the JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<String>,
    ) -> (u16, Value) {
        let url = format!("{}{path}", self.api);
        let mut req = self.http.request(method.parse().expect("method"), &url);
        if let Some(k) = key {
            req = req.bearer_auth(k);
        }
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let json = serde_json::from_str(&text).unwrap_or_else(|_| {
            panic!("{method} {path} answered {status} with non-JSON: {text:.200}")
        });
        (status, json)
    }

    pub async fn submit(&self, key: &str, body: &Value) -> Value {
        let (status, resp) = self
            .call("POST", "/generate", Some(key), Some(body.to_string()))
            .await;
        assert_eq!(status, 200, "submit failed: {resp}");
        resp
    }

    /// Polls the task until it is done or `timeout` passes; returns the last status.
    pub async fn wait_done(&self, key: &str, task_id: &str, timeout: Duration) -> Value {
        let start = Instant::now();
        loop {
            let (status, body) = self
                .call("GET", &format!("/task_status/{task_id}"), Some(key), None)
                .await;
            assert_eq!(status, 200, "{body}");
            if body["done"] == true || start.elapsed() > timeout {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Every log line the stack has written so far.
    pub fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(&self.log_dir).expect("log dir") {
            let path = entry.expect("entry").path();
            all.push_str(&std::fs::read_to_string(&path).unwrap_or_default());
        }
        all
    }

    /// The fake NovelAI's request log.
    pub async fn fake_requests(&self) -> Vec<Value> {
        let resp = self
            .http
            .get(format!("{}/_fake/requests", self.fake))
            .send()
            .await
            .expect("fake log");
        resp.json().await.expect("fake log JSON")
    }
}

/// The `naiq` CLI built next to the test binary (target/debug/naiq).
pub fn naiq_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("naiq");
    assert!(
        bin.exists(),
        "{} is missing: cargo build --bins first",
        bin.display()
    );
    bin
}

/// Runs the CLI with the stack's environment; returns (status, stdout, stderr).
pub async fn naiq(
    args: &[&str],
    stdin: Option<&str>,
    extra_env: &[(&str, &str)],
) -> (i32, String, String) {
    let mut cmd = tokio::process::Command::new(naiq_binary());
    cmd.args(args)
        .envs(extra_env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("naiq runs");
    let mut input = child.stdin.take().expect("stdin");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).await.expect("stdin write");
    }
    drop(input);
    let out = child.wait_with_output().await.expect("naiq output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A new API key made with `naiq keys create`.
pub async fn new_key(name: &str) -> String {
    let (code, out, err) = naiq(&["keys", "create", "--name", name], None, &[]).await;
    assert_eq!(code, 0, "naiq keys create failed: {err}");
    let key = out.trim().to_string();
    assert!(key.starts_with("naiq_"), "{out}");
    key
}

/// Everything in the jobs table, as text (to search it for what must not be there).
pub async fn jobs_table_text() -> String {
    let clients = naiq_adapters::aws::AwsClients::from_env().await;
    let items = clients
        .dynamodb
        .scan()
        .table_name(std::env::var("JOBS_TABLE").expect("JOBS_TABLE"))
        .send()
        .await
        .expect("scan the jobs table");
    format!("{:?}", items.items())
}

/// How many jobs the jobs table holds for an API key.
pub async fn jobs_of(key: &str) -> i32 {
    let clients = naiq_adapters::aws::AwsClients::from_env().await;
    clients
        .dynamodb
        .scan()
        .table_name(std::env::var("JOBS_TABLE").expect("JOBS_TABLE"))
        .filter_expression("#o = :o")
        .expression_attribute_names("#o", "owner")
        .expression_attribute_values(
            ":o",
            aws_sdk_dynamodb::types::AttributeValue::S(
                naiq_core::domain::ApiKey::from_client(key).id(),
            ),
        )
        .send()
        .await
        .expect("scan the jobs table")
        .count()
}

/// A time the fake NovelAI logged (`received_at`, `finished_at`).
pub fn fake_time(v: &Value) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(v.as_str().expect("a logged time"))
        .expect("RFC 3339")
        .with_timezone(&chrono::Utc)
}

/// Every `/ai/*` call the fake received since `since`, in order, after checking the pacing
/// rules on them: none overlapped another (single flight), and each started at least the
/// stack's minimum gap after the one before (0.3 s in `localstack/test.sh`, less a little
/// for the trip from the worker to the fake). Encodes, Director tools and upscales count as
/// calls like generations.
pub async fn single_flight_and_paced(
    s: &Stack,
    since: chrono::DateTime<chrono::Utc>,
) -> Vec<Value> {
    let calls: Vec<Value> = s
        .fake_requests()
        .await
        .into_iter()
        .filter(|r| r["path"].as_str().is_some_and(|p| p.starts_with("/ai/")))
        .filter(|r| fake_time(&r["received_at"]) >= since)
        .collect();
    for pair in calls.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let b_start = fake_time(&b["received_at"]);
        assert!(
            b_start >= fake_time(&a["finished_at"]),
            "{} started before {} ended",
            b["path"],
            a["path"]
        );
        let gap = b_start - fake_time(&a["received_at"]);
        assert!(
            gap >= chrono::Duration::milliseconds(250),
            "{} came {gap} after {}",
            b["path"],
            a["path"]
        );
    }
    calls
}

/// Waits until a key change made with the CLI (a revocation, new limits) has reached the warm
/// API: it keeps a key it looked up for `KEY_CACHE_SECONDS` (30 unless the stack was given
/// another value; `localstack/test.sh` gives 1).
pub async fn key_change_lands() {
    cache_time_passes("KEY_CACHE_SECONDS", 30.0).await;
}

/// Waits until an account refresh (`naiq credentials check`) has reached the warm API: it
/// keeps the account it read for `ACCOUNT_CACHE_SECONDS` (60 unless the stack was given
/// another value; `localstack/test.sh` gives 1).
pub async fn account_change_lands() {
    cache_time_passes("ACCOUNT_CACHE_SECONDS", 60.0).await;
}

/// Sleeps a little past the seconds `variable` gives a warm API's cache.
async fn cache_time_passes(variable: &str, default: f64) {
    let seconds: f64 = std::env::var(variable)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default);
    tokio::time::sleep(Duration::from_secs_f64(seconds + 0.2)).await;
}

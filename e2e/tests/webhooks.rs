//! Webhooks through the local stack: a receiver on 127.0.0.1 verifies every request with
//! the `standardwebhooks` package (localstack/webhook-receiver.sh); with the receiver down
//! for a while and then up it still gets every event; while it hangs, the fake NovelAI's
//! request log shows the same pacing as without webhooks. One sequential test: it measures
//! the worker's gaps, which tests running beside it would disturb.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use naiq_e2e::{NEEDS_STACK, Stack, naiq};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};

/// A receiver process, stopped when dropped.
struct Receiver {
    child: tokio::process::Child,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../localstack/webhook-receiver.sh")
}

async fn start_receiver(port: u16, secret: &str, hang: bool, log: PathBuf) -> Receiver {
    let mut cmd = tokio::process::Command::new(script());
    cmd.args(["--port", &port.to_string(), "--secret", secret, "--log"])
        .arg(&log)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if hang {
        cmd.arg("--hang");
    }
    let mut child = cmd.spawn().expect("the receiver starts");
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(120),
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line),
    )
    .await
    .expect("the receiver is ready in time")
    .unwrap();
    assert!(
        line.contains(&format!("http://127.0.0.1:{port}")),
        "receiver: {line}"
    );
    let _ = log;
    Receiver { child }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn lines(log: &PathBuf) -> Vec<Value> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// A key whose default webhook URL is `url`; its secret as `keys create` printed it.
async fn key_with_webhook(name: &str, url: &str) -> (String, String) {
    let (code, out, err) = naiq(
        &["keys", "create", "--name", name, "--webhook-url", url],
        None,
        &[],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let secret = err
        .lines()
        .find_map(|l| l.strip_prefix("Webhook signing secret: "))
        .expect("the secret is printed once")
        .trim()
        .to_string();
    assert!(secret.starts_with("whsec_"), "{err}");
    assert!(!out.contains("whsec_"), "the key alone goes to stdout");
    (out.trim().to_string(), secret)
}

fn job(prompt: &str) -> Value {
    json!({"prompt": prompt, "model": "nai-v3", "resolution": "small_square"})
}

async fn submit_all(s: &Stack, key: &str, bodies: &[Value]) -> Vec<String> {
    let mut ids = Vec::new();
    for b in bodies {
        ids.push(
            s.submit(key, b).await["task_id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    ids
}

async fn wait_all_done(s: &Stack, key: &str, ids: &[String]) {
    for id in ids {
        let st = s.wait_done(key, id, Duration::from_secs(120)).await;
        assert_eq!(st["status"], "SUCCESS", "{st}");
    }
}

/// Seconds between the starts of the fake's generations for prompts starting `prefix`.
async fn gaps(s: &Stack, prefix: &str) -> Vec<f64> {
    let log = s.fake_requests().await;
    let times: Vec<DateTime<Utc>> = log
        .iter()
        .filter(|r| {
            r["body"]["input"]
                .as_str()
                .is_some_and(|p| p.starts_with(prefix))
        })
        .map(|r| {
            DateTime::parse_from_rfc3339(r["received_at"].as_str().unwrap())
                .unwrap()
                .with_timezone(&Utc)
        })
        .collect();
    times
        .windows(2)
        .map(|w| (w[1] - w[0]).num_milliseconds() as f64 / 1000.0)
        .collect()
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn webhooks_are_verified_survive_a_down_receiver_and_never_touch_the_pacing() {
    let _ = NEEDS_STACK;
    let s = Stack::from_env();
    let dir = std::env::temp_dir().join(format!("naiq-hooks-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();

    // 1. The receiver is down (nothing listens on its port): every attempt fails…
    let port = free_port();
    let (key, secret) = key_with_webhook("hooks", &format!("http://127.0.0.1:{port}/hook")).await;
    let ids = submit_all(&s, &key, &[job("hooks down 1"), job("hooks down 2")]).await;
    wait_all_done(&s, &key, &ids).await;
    let start = Instant::now();
    loop {
        let (_, st) = s
            .call("GET", &format!("/task_status/{}", ids[1]), Some(&key), None)
            .await;
        let retrying = st["webhooks"]
            .as_array()
            .is_some_and(|h| h.iter().any(|h| h["state"] == "retrying"));
        if retrying {
            let h = &st["webhooks"][0];
            assert!(h["last_error"].as_str().is_some(), "{st}");
            assert!(h["next_attempt_at"].as_str().is_some(), "{st}");
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no failed attempt: {st}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // …then it comes up, and every event arrives (a webhook-id may come twice).
    let log = dir.join("down-then-up.jsonl");
    let receiver = start_receiver(port, &secret, false, log.clone()).await;
    let want: BTreeSet<(String, String)> = ids
        .iter()
        .flat_map(|id| {
            [
                (id.clone(), "task.started".to_string()),
                (id.clone(), "task.succeeded".to_string()),
            ]
        })
        .collect();
    let start = Instant::now();
    let got = loop {
        let entries = lines(&log);
        for e in &entries {
            assert_eq!(e["verified"], true, "standardwebhooks refused one: {e}");
        }
        let got: BTreeSet<(String, String)> = entries
            .iter()
            .map(|e| {
                (
                    e["task_id"].as_str().unwrap_or("").to_string(),
                    e["type"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect();
        if got.is_superset(&want) || start.elapsed() > Duration::from_secs(90) {
            break got;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(
        got.is_superset(&want),
        "missing events: got {got:?}, want {want:?}"
    );
    for e in lines(&log) {
        let id = e["webhook_id"].as_str().unwrap();
        assert!(id.starts_with("msg_"), "{e}");
    }
    // The delivery state is recorded once the receiver has answered: poll for it.
    let start = Instant::now();
    let mut retried = false;
    for id in &ids {
        loop {
            let (_, st) = s
                .call("GET", &format!("/task_status/{id}"), Some(&key), None)
                .await;
            let hooks = st["webhooks"].as_array().cloned().unwrap_or_default();
            if hooks.len() == 2 && hooks.iter().all(|h| h["state"] == "delivered") {
                for h in &hooks {
                    assert_eq!(h["last_status"], 204, "{st}");
                    retried |= h["attempts"].as_u64().unwrap() >= 2;
                }
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "not delivered: {st}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    assert!(
        retried,
        "the receiver was down: some event took more than one attempt"
    );
    drop(receiver);

    // 2. The pacing with a receiver that hangs is the pacing without webhooks.
    let plain = submit_all(
        &s,
        &s.key,
        &(1..=4)
            .map(|i| job(&format!("hooks plain {i}")))
            .collect::<Vec<_>>(),
    )
    .await;
    wait_all_done(&s, &s.key, &plain).await;
    let hang_port = free_port();
    let hang_log = dir.join("hang.jsonl");
    let hanging = start_receiver(hang_port, &secret, true, hang_log.clone()).await;
    let url = format!("http://127.0.0.1:{hang_port}/hook");
    let hung = submit_all(
        &s,
        &key,
        &(1..=4)
            .map(|i| {
                let mut b = job(&format!("hooks hang {i}"));
                b["webhook_url"] = json!(url);
                b
            })
            .collect::<Vec<_>>(),
    )
    .await;
    wait_all_done(&s, &key, &hung).await;
    let without = gaps(&s, "hooks plain ").await;
    let with = gaps(&s, "hooks hang ").await;
    assert_eq!((without.len(), with.len()), (3, 3), "{without:?} {with:?}");
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let max = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    eprintln!("gaps without webhooks {without:?}, with a hanging receiver {with:?}");
    // A receiver holding each attempt for the whole webhook timeout (2 s in the test
    // stack) would push every gap past it if delivery were in the pacing path.
    assert!(
        max(&with) < 1.8,
        "a gap as long as a webhook timeout: {with:?} (without: {without:?})"
    );
    assert!(
        (mean(&with) - mean(&without)).abs() < 0.6,
        "pacing changed: {with:?} vs {without:?}"
    );
    let start = Instant::now();
    while lines(&hang_log).is_empty() && start.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(
        !lines(&hang_log).is_empty(),
        "the hanging receiver was called while the jobs ran"
    );
    drop(hanging);
    let _ = std::fs::remove_dir_all(&dir);
}

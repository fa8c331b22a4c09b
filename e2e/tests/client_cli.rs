//! `naiq` as a client of the running stack: `generate --wait --out DIR` saves the PNGs and
//! exits 0, with plain lines when not on a terminal and a live progress line on one (run
//! in tmux); a failing job exits non-zero with its error code; `tasks`, `status`, `cancel`
//! and `download` answer for the caller's tasks. One sequential test: it sets the fake's
//! global latency and faults.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use naiq_e2e::{Stack, naiq, naiq_binary, new_key};
use serde_json::json;

async fn fake(s: &Stack, method: reqwest::Method, path: &str, body: serde_json::Value) {
    let resp = s
        .http
        .request(method, format!("{}{path}", s.fake))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success(), "{path}: {}", resp.status());
}

/// The PNGs in `dir`, with their sizes.
fn pngs(dir: &Path) -> Vec<(String, u32, u32)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        let info = png::Decoder::new(std::io::Cursor::new(bytes))
            .read_info()
            .unwrap_or_else(|e| panic!("{} is not a PNG: {e}", path.display()));
        let (w, h) = (info.info().width, info.info().height);
        found.push((
            path.file_name().unwrap().to_string_lossy().into_owned(),
            w,
            h,
        ));
    }
    found.sort();
    found
}

fn tmux(socket: &str, args: &[&str]) -> String {
    let out = Command::new("tmux")
        .args(["-L", socket])
        .args(args)
        .output()
        .expect("tmux runs (the machine has it)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
#[ignore = "needs the local stack (localstack/test.sh runs it)"]
async fn the_client_submits_waits_saves_and_reports_failures() {
    let s = Stack::from_env();
    let key = new_key("client-cli").await;
    let env = [
        ("NAIQ_API_URL", s.api.as_str()),
        ("NAIQ_API_KEY", key.as_str()),
    ];
    let scratch = std::env::temp_dir().join(format!("naiq-client-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);

    // 1. Without a terminal: plain lines, exit 0, the PNGs named after task, index and seed.
    let out_dir = scratch.join("plain");
    let out_arg = out_dir.to_str().unwrap();
    let (code, stdout, stderr) = naiq(
        &[
            "generate",
            "猫耳の少女, 🐱",
            "--seed",
            "1234",
            "--n-samples",
            "2",
            "--width",
            "832",
            "--height",
            "1216",
            "--wait",
            "--out",
            out_arg,
        ],
        None,
        &env,
    )
    .await;
    assert_eq!(code, 0, "stdout: {stdout}\nstderr: {stderr}");
    assert!(
        !stderr.contains('\u{1b}'),
        "no terminal codes without a terminal: {stderr:?}"
    );
    let task_id = stdout.lines().next().unwrap().trim().to_string();
    assert!(
        stderr
            .lines()
            .last()
            .unwrap()
            .contains(&format!("{task_id} SUCCESS · 2 images")),
        "{stderr}"
    );
    let files = pngs(&out_dir);
    assert_eq!(
        files,
        vec![
            (format!("{task_id}_0_s1234.png"), 832, 1216),
            (format!("{task_id}_1_s1234.png"), 832, 1216)
        ]
    );
    for (name, _, _) in &files {
        assert!(
            stdout.contains(name),
            "the saved paths are printed: {stdout}"
        );
    }

    // 2. `status`, `tasks` and `download` see that task.
    let (code, status, _) = naiq(&["status", &task_id], None, &env).await;
    assert_eq!(code, 0);
    assert!(
        status.starts_with(&format!("{task_id} SUCCESS")),
        "{status}"
    );
    let (code, listed, _) = naiq(&["tasks", "--status", "SUCCESS"], None, &env).await;
    assert_eq!(code, 0);
    assert!(listed.contains(&task_id), "{listed}");
    let again = scratch.join("again");
    let (code, _, err) = naiq(
        &["download", &task_id, "--out", again.to_str().unwrap()],
        None,
        &env,
    )
    .await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(pngs(&again), files);

    // 3. On a terminal (tmux): a live progress line while the job waits and runs.
    fake(
        &s,
        reqwest::Method::PUT,
        "/_fake/config",
        json!({"latency_ms": 4000}),
    )
    .await;
    let socket = format!("naiq-test-{}", std::process::id());
    let tty_dir = scratch.join("tty");
    let command = format!(
        "{} generate 'a lighthouse at dusk' --wait --out {}; echo EXIT=$?; sleep 60",
        naiq_binary().display(),
        tty_dir.display()
    );
    tmux(
        &socket,
        &[
            "new-session",
            "-d",
            "-s",
            "client",
            "-x",
            "160",
            "-y",
            "20",
            "-e",
            &format!("NAIQ_API_URL={}", s.api),
            "-e",
            &format!("NAIQ_API_KEY={key}"),
            &command,
        ],
    );
    let mut screens = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let exit_line = loop {
        let screen = tmux(&socket, &["capture-pane", "-p", "-t", "client"]);
        if let Some(line) = screen.lines().find(|l| l.starts_with("EXIT=")) {
            screens.push(screen.clone());
            break line.to_string();
        }
        screens.push(screen);
        assert!(Instant::now() < deadline, "no exit in 90 s: {screens:?}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    tmux(&socket, &["kill-server"]);
    fake(
        &s,
        reqwest::Method::PUT,
        "/_fake/config",
        json!({"latency_ms": 0}),
    )
    .await;
    assert_eq!(exit_line, "EXIT=0", "{screens:?}");
    assert!(
        screens
            .iter()
            .any(|sc| sc.contains("STARTED · generating") && sc.contains('[')),
        "the progress line showed the running job with its elapsed time: {screens:?}"
    );
    assert!(
        screens.last().unwrap().contains("SUCCESS · 1 image"),
        "{screens:?}"
    );
    assert_eq!(pngs(&tty_dir).len(), 1);

    // 4. A failing job: non-zero exit, the error code on stderr.
    fake(
        &s,
        reqwest::Method::POST,
        "/_fake/faults",
        json!({"kind": "402", "count": 1}),
    )
    .await;
    let (code, _, stderr) = naiq(&["generate", "out of anlas", "--wait"], None, &env).await;
    fake(&s, reqwest::Method::DELETE, "/_fake/faults", json!({})).await;
    assert_ne!(code, 0, "{stderr}");
    assert!(
        stderr.contains("FAILURE") && stderr.contains("error: insufficient_anlas"),
        "{stderr}"
    );

    // 5. `cancel` on a finished task says so, with the API's code, and exits non-zero.
    let (code, _, err) = naiq(&["cancel", &task_id], None, &env).await;
    assert_ne!(code, 0);
    assert!(err.contains("409") || err.contains("400"), "{err}");
    // Bad input is the API's 4xx naming the field, not a crash.
    let (code, _, err) = naiq(&["generate", "x", "--width", "100000"], None, &env).await;
    assert_ne!(code, 0);
    assert!(err.contains("width"), "{err}");
    let _ = std::fs::remove_dir_all(&scratch);
}

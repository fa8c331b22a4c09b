//! Real time on the emulator: short gaps (0.3-0.6 s), a daily limit of 5, eight jobs and
//! three worker invocations started at the same moment, over the AWS adapters (moto) and
//! a fake NovelAI of this test's own. The fake's log must show never two calls in flight,
//! every gap at or above the minimum, and exactly 5 calls; the other three jobs stay
//! PENDING with an ETA in the next day's first window.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveTime, Timelike, Utc};
use naiq_adapters::aws::AwsClients;
use naiq_adapters::compose::Config;
use naiq_adapters::compose::{api_ports, worker_ports};
use naiq_adapters::provision::{Names, provision};
use naiq_adapters::runtime::{SystemClock, TokioSleeper};
use naiq_core::api::ApiService;
use naiq_core::config::Settings;
use naiq_core::domain::pacing::{PacingConfig, parse_windows};
use naiq_core::domain::{ApiKey, ApiKeyRecord, Credentials};
use naiq_core::ports::{KeyStore, SecretStore};
use naiq_core::worker::Worker;
use serde_json::{Value, json};

struct Fake(Child, String);

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_fake(token: &str) -> Fake {
    let bin = naiq_e2e::naiq_binary().with_file_name("fake-novelai");
    let mut child = Command::new(bin)
        .args(["--port", "0", "--tokens", token, "--latency-ms", "150"])
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
    Fake(child, url)
}

fn ts(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().expect("a timestamp"))
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn three_workers_five_calls_a_day_never_overlapping() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL");
    assert!(
        endpoint.starts_with("http://127.0.0.1:"),
        "loopback only: {endpoint}"
    );
    let clients = AwsClients::from_env().await;
    let prefix = format!("rt{}", std::process::id());
    let resources = provision(&clients, &Names::new(&prefix)).await.unwrap();
    let token = "pst-realtime-test";
    let fake = start_fake(token);

    // A two-hour window around now, in Singapore time (it may cross midnight).
    let tz = chrono_tz::Asia::Singapore;
    let local_now = Utc::now().with_timezone(&tz).time();
    let hhmm = |t: NaiveTime| format!("{:02}:{:02}", t.hour(), t.minute());
    let window = format!(
        "{}-{}",
        hhmm(local_now - Duration::hours(1)),
        hhmm(local_now + Duration::hours(1))
    );
    let pacing = PacingConfig {
        timezone: tz,
        windows: parse_windows(&window).unwrap(),
        daily_limit: 5,
        interval: (0.3, 0.6),
        cooldown: (0.3, 0.6),
    };
    let settings = Settings {
        pacing: pacing.clone(),
        novelai_image_url: fake.1.clone(),
        novelai_timeout_seconds: 10,
        ..Settings::default()
    };
    let config = Config {
        resources,
        settings: settings.clone(),
        faults: None,
    };
    naiq_adapters::aws::secrets::SecretsManagerStore::new(
        clients.secrets.clone(),
        &config.resources.secret_id,
    )
    .put(&Credentials::Token {
        token: token.into(),
    })
    .await
    .unwrap();
    let key = ApiKey::from_random_bytes([42; 32]);
    let record = ApiKeyRecord::new(&key, "realtime", Utc::now());
    naiq_adapters::aws::dynamodb::DynamoKeyStore::new(
        clients.dynamodb.clone(),
        &config.resources.keys_table,
    )
    .insert(&record)
    .await
    .unwrap();
    let api = ApiService::new(
        api_ports(&clients, &config),
        Arc::new(SystemClock),
        5,
        settings.clone(),
    );
    let mut ids = Vec::new();
    for i in 0..8 {
        let body = json!({"prompt": format!("realtime {i}"), "model": "nai-v3", "resolution": "small_square"});
        ids.push(
            api.submit(&record, body.to_string().as_bytes())
                .await
                .unwrap()
                .task_id()
                .expect("queued")
                .clone(),
        );
    }

    // Three invocations at the same moment.
    let deadline = Utc::now() + Duration::seconds(60);
    let workers: Vec<Worker> = (0..3)
        .map(|i| {
            Worker::new(
                worker_ports(&clients, &config),
                Arc::new(SystemClock),
                Arc::new(TokioSleeper),
                100 + i,
                settings.clone(),
                format!("invocation-{i}"),
            )
        })
        .collect();
    let (a, b, c) = tokio::join!(
        workers[0].drain(deadline),
        workers[1].drain(deadline),
        workers[2].drain(deadline)
    );
    let reports = [a.unwrap(), b.unwrap(), c.unwrap()];
    let succeeded: u32 = reports.iter().map(|r| r.succeeded).sum();
    assert_eq!(succeeded, 5, "{reports:?}");

    let log: Vec<Value> = reqwest::get(format!("{}/_fake/requests", fake.1))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Generations only: the worker also reads the account (an hourly subscription read).
    let log: Vec<Value> = log
        .into_iter()
        .filter(|r| r["path"] == "/ai/generate-image")
        .collect();
    assert_eq!(log.len(), 5, "exactly five upstream calls: {log:#?}");
    let mut calls: Vec<(DateTime<Utc>, DateTime<Utc>)> = log
        .iter()
        .map(|r| (ts(&r["received_at"]), ts(&r["finished_at"])))
        .collect();
    calls.sort();
    assert!(
        log.iter().all(|r| r["status"] == 200),
        "no call was refused (no 429 lock): {log:#?}"
    );
    for pair in calls.windows(2) {
        let ((s0, e0), (s1, _)) = (pair[0], pair[1]);
        assert!(s1 >= e0, "two calls in flight: {pair:?}");
        let gap = (s1 - s0).num_milliseconds();
        // The fake stamps arrival; allow its clock granularity (1 ms) and nothing more.
        assert!(gap >= 299, "gap {gap} ms is below the 0.3 s minimum");
    }
    println!(
        "start-to-start gaps (ms): {:?}",
        calls
            .windows(2)
            .map(|p| (p[1].0 - p[0].0).num_milliseconds())
            .collect::<Vec<_>>()
    );

    // The other three wait for tomorrow's window, and say so.
    let tomorrow = pacing.next_local_midnight(Utc::now());
    let window_opens = pacing.next_window_start(tomorrow);
    let window_closes = pacing
        .next_window_end(window_opens)
        .expect("the window ends");
    let mut pending = 0;
    for id in &ids {
        let st = api.task_status(&record, id.as_str()).await.unwrap();
        match st.status {
            naiq_core::domain::Status::Success => {}
            naiq_core::domain::Status::Pending => {
                pending += 1;
                let eta = DateTime::parse_from_rfc3339(&st.queue_info.unwrap().estimated_start_at)
                    .unwrap()
                    .with_timezone(&Utc);
                assert!(
                    eta >= window_opens && eta < window_closes,
                    "ETA {eta} is not in the next day's first window [{window_opens}, {window_closes})"
                );
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(pending, 3);
}

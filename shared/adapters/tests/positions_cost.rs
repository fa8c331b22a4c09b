//! What one `task_status` of a waiting job costs in DynamoDB requests, at 10 and at 5,000
//! waiting jobs, on the emulator: every request of the API's DynamoDB client is counted by
//! an SDK interceptor. The count must not grow with the queue; the latency at both sizes is
//! printed (run with `--nocapture`), not asserted.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use chrono::Utc;
use naiq_adapters::aws::AwsClients;
use naiq_adapters::aws::dynamodb::{DynamoJobStore, job_to_item, schema};
use naiq_adapters::compose::{Config, api_ports};
use naiq_adapters::provision::{Names, provision};
use naiq_adapters::runtime::SystemClock;
use naiq_core::api::ApiService;
use naiq_core::config::Settings;
use naiq_core::domain::request::{Limits, parse_submit};
use naiq_core::domain::{ApiKey, ApiKeyRecord, Job, Lane, TaskId};
use naiq_core::ports::JobStore;

/// Every DynamoDB request sent, by its operation (`X-Amz-Target`).
#[derive(Debug, Default)]
struct Requests(Mutex<Vec<String>>);

impl Intercept for Requests {
    fn name(&self) -> &'static str {
        "CountRequests"
    }
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context
            .request()
            .headers()
            .get("x-amz-target")
            .unwrap_or("?")
            .trim_start_matches("DynamoDB_20120810.")
            .to_string();
        self.0.lock().unwrap().push(target);
        Ok(())
    }
}

#[derive(Debug, Clone)]
struct Shared(Arc<Requests>);

impl Intercept for Shared {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.read_before_transmit(context, rc, cfg)
    }
}

fn job(owner: &str, n: u32) -> Job {
    let params = parse_submit(
        br#"{"prompt": "positions cost", "model": "nai-v3"}"#,
        &Limits::default(),
    )
    .expect("valid body")
    .params;
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&n.to_be_bytes());
    id[4] = owner.len() as u8;
    Job::new(
        TaskId::from_random_bytes(id),
        owner.into(),
        Lane::Normal,
        params,
        Utc::now(),
    )
}

/// Inserts jobs `from..to` of `owner` through the adapter (each with its counters, in one
/// transaction).
async fn insert_some(store: &DynamoJobStore, owner: &str, from: u32, to: u32) {
    for n in from..to {
        store.insert(&job(owner, n)).await.unwrap();
    }
}

/// Writes jobs `from..to` of `owner` 25 to a request, and adds them to the lane's
/// counters at once: the emulator copies the whole table for each transaction, so
/// thousands of single inserts would take many minutes. The items are the adapter's own
/// (`job_to_item`), so the reads see what `insert` would have written.
async fn load_many(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    owner: &str,
    from: u32,
    to: u32,
) {
    use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
    let all: Vec<u32> = (from..to).collect();
    for chunk in all.chunks(25) {
        let writes = chunk
            .iter()
            .map(|n| {
                WriteRequest::builder()
                    .put_request(
                        PutRequest::builder()
                            .set_item(Some(job_to_item(&job(owner, *n))))
                            .build()
                            .unwrap(),
                    )
                    .build()
            })
            .collect();
        let out = client
            .batch_write_item()
            .request_items(table, writes)
            .send()
            .await
            .unwrap();
        assert!(
            out.unprocessed_items.unwrap_or_default().is_empty(),
            "the emulator does not throttle"
        );
    }
    let count = AttributeValue::N((to - from).to_string());
    client
        .update_item()
        .table_name(table)
        .key(
            schema::JOBS_KEY,
            AttributeValue::S(format!("{}normal", schema::COUNTERS_PREFIX)),
        )
        .update_expression("ADD #lw :n, #w :n")
        .expression_attribute_names("#lw", "waiting")
        .expression_attribute_names("#w", format!("w#{owner}"))
        .expression_attribute_values(":n", count)
        .send()
        .await
        .unwrap();
}

/// One task_status: the requests it sent, its time, and the position it answered.
async fn measure(
    api: &ApiService,
    caller: &ApiKeyRecord,
    task: &TaskId,
    log: &Requests,
) -> (Vec<String>, f64, u64) {
    let mut times = Vec::new();
    let mut seen: Option<Vec<String>> = None;
    let mut position = 0;
    // A warm API: the first status also reads the mean call time, which the API then keeps
    // for a while (`naiq_adapters::cached`); the rest send the same requests.
    api.task_status(caller, task.as_str()).await.unwrap();
    for _ in 0..15 {
        log.0.lock().unwrap().clear();
        let start = Instant::now();
        let st = api.task_status(caller, task.as_str()).await.unwrap();
        times.push(start.elapsed().as_secs_f64() * 1000.0);
        position = st.queue_info.expect("waiting").position;
        let mut ops = log.0.lock().unwrap().clone();
        ops.sort();
        if let Some(before) = &seen {
            assert_eq!(before, &ops, "every call sends the same requests");
        }
        seen = Some(ops);
    }
    times.sort_by(f64::total_cmp);
    (seen.unwrap(), times[times.len() / 2], position)
}

#[tokio::test]
#[ignore = "needs the local AWS emulator (localstack/test.sh runs it)"]
async fn one_task_status_costs_the_same_requests_at_10_and_5000_waiting_jobs() {
    let endpoint =
        std::env::var("AWS_ENDPOINT_URL").expect("AWS_ENDPOINT_URL must point at the emulator");
    assert!(
        endpoint.starts_with("http://127.0.0.1:") || endpoint.starts_with("http://localhost:"),
        "tests only run against a loopback emulator, not {endpoint}"
    );
    let clients = AwsClients::from_env().await;
    let prefix = format!(
        "t{}",
        uuid::Uuid::new_v4().simple().to_string().get(..12).unwrap()
    );
    let resources = provision(&clients, &Names::new(&prefix))
        .await
        .expect("provision");
    let log = Arc::new(Requests::default());
    let mut counted = clients.clone();
    counted.dynamodb = aws_sdk_dynamodb::Client::from_conf(
        clients
            .dynamodb
            .config()
            .to_builder()
            .interceptor(Shared(log.clone()))
            .build(),
    );
    let config = Config {
        resources: resources.clone(),
        settings: Settings::default(),
        faults: None,
    };
    let api = ApiService::new(
        api_ports(&counted, &config),
        Arc::new(SystemClock),
        1,
        Settings::default(),
    );
    let loader = DynamoJobStore::new(clients.dynamodb.clone(), &resources.jobs_table);
    let caller = ApiKeyRecord::new(&ApiKey::from_random_bytes([9; 32]), "cost", Utc::now());

    // 10 waiting: 9 of a heavy key, then the caller's one.
    insert_some(&loader, "heavy", 0, 9).await;
    let mine = job(&caller.key_id, 0);
    loader.insert(&mine).await.unwrap();
    let (small_ops, small_ms, small_pos) = measure(&api, &caller, mine.task_id(), &log).await;

    // 5,000 waiting: 4,990 more of the heavy key's.
    load_many(&clients.dynamodb, &resources.jobs_table, "heavy", 9, 4999).await;
    assert_eq!(loader.total_pending().await.unwrap(), 5000);
    let (big_ops, big_ms, big_pos) = measure(&api, &caller, mine.task_id(), &log).await;

    println!(
        "task_status at 10 waiting: {} DynamoDB requests {small_ops:?}, median {small_ms:.1} ms, position {small_pos}",
        small_ops.len()
    );
    println!(
        "task_status at 5000 waiting: {} DynamoDB requests {big_ops:?}, median {big_ms:.1} ms, position {big_pos}",
        big_ops.len()
    );
    assert_eq!(small_ops, big_ops, "the same requests at both sizes");
    // The heavy key's first job, then the caller's: fair turns at any length.
    assert_eq!((small_pos, big_pos), (2, 2));

    // Two more of the caller's, marked as a submit marks them: the last one's own jobs
    // ahead come from its mark, so its poll is the one batch read too.
    let mut last = None;
    for n in 1..3 {
        let mut job = job(&caller.key_id, n);
        let counters = loader.queue_snapshot().await.unwrap();
        job.mark_entry(counters.entry_mark(job.lane(), job.owner()));
        loader.insert(&job).await.unwrap();
        last = Some(job);
    }
    let last = last.unwrap();
    let (marked_ops, _, marked_pos) = measure(&api, &caller, last.task_id(), &log).await;
    println!("task_status of the caller's third job: {marked_ops:?}, position {marked_pos}");
    assert_eq!(marked_ops, small_ops, "no count of the caller's jobs ahead");
    // heavy, caller, heavy, caller, heavy, caller.
    assert_eq!(marked_pos, 6);
}

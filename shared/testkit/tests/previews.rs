//! Step previews of streamed generations over the in-memory adapters and a manual clock:
//! which families stream, how often the progress and preview are written, that a preview
//! failure never fails the job, that a stream cut mid-way is retried, and what
//! `task_status` shows.

mod support;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use naiq_core::api::Submitted;
use naiq_core::config::Settings;
use naiq_core::domain::job::Progress;
use naiq_core::domain::{Job, Status, TaskId};
use naiq_core::objects::preview_key;
use naiq_core::ports::{Clock, ImageStore, JobPage, JobStore, PortError, PortResult};
use naiq_testkit::ManualClock;
use naiq_testkit::memory::*;
use support::{Given, Stack};

/// A jobs table that notes every progress written, with the clock's time.
struct Watched {
    inner: Arc<MemoryJobStore>,
    clock: Arc<ManualClock>,
    progress: Mutex<Vec<(Progress, DateTime<Utc>)>>,
}

#[async_trait::async_trait]
impl JobStore for Watched {
    async fn insert(&self, job: &Job) -> PortResult<()> {
        self.inner.insert(job).await
    }
    async fn get(&self, task_id: &TaskId) -> PortResult<Option<Job>> {
        self.inner.get(task_id).await
    }
    async fn replace(&self, job: &Job, expected: Status) -> PortResult<()> {
        if let Some(p) = job.progress() {
            self.progress.lock().unwrap().push((p, self.clock.now()));
        }
        self.inner.replace(job, expected).await
    }
    async fn own_ahead(&self, job: &Job) -> PortResult<u64> {
        self.inner.own_ahead(job).await
    }
    async fn total_pending(&self) -> PortResult<u64> {
        self.inner.total_pending().await
    }
    async fn waiting_before(&self, before: DateTime<Utc>, limit: usize) -> PortResult<Vec<Job>> {
        self.inner.waiting_before(before, limit).await
    }
    async fn queue_snapshot(&self) -> PortResult<naiq_core::domain::turns::QueueSnapshot> {
        self.inner.queue_snapshot().await
    }
    async fn active_for_owner(&self, owner: &str) -> PortResult<Vec<Job>> {
        self.inner.active_for_owner(owner).await
    }
    async fn list_for_owner(
        &self,
        owner: &str,
        status: Option<Status>,
        limit: usize,
        cursor: Option<&str>,
    ) -> PortResult<JobPage> {
        self.inner
            .list_for_owner(owner, status, limit, cursor)
            .await
    }
}

/// An image store whose preview puts fail (or all succeed), counting them.
struct Previews {
    inner: Arc<MemoryImageStore>,
    fail: bool,
    puts: Mutex<u32>,
}

#[async_trait::async_trait]
impl ImageStore for Previews {
    async fn put(&self, key: &str, bytes: bytes::Bytes, content_type: &str) -> PortResult<()> {
        if key.starts_with(naiq_core::objects::PREVIEW_PREFIX) {
            *self.puts.lock().unwrap() += 1;
            assert_eq!(content_type, "image/jpeg");
            if self.fail {
                return Err(PortError::backend("s3", "throttled"));
            }
        }
        self.inner.put(key, bytes, content_type).await
    }
    async fn get(&self, key: &str) -> PortResult<Option<bytes::Bytes>> {
        self.inner.get(key).await
    }
    async fn url(&self, key: &str, ttl_seconds: u64) -> PortResult<String> {
        self.inner.url(key, ttl_seconds).await
    }
}

struct Run {
    stack: Stack,
    jobs: Arc<Watched>,
    images: Arc<Previews>,
    raw_images: Arc<MemoryImageStore>,
    upstream: Arc<MemoryUpstream>,
}

async fn run(fail_previews: bool) -> Run {
    let clock = support::clock();
    let jobs = Arc::new(Watched {
        inner: Arc::new(MemoryJobStore::default()),
        clock: clock.clone(),
        progress: Mutex::default(),
    });
    let raw_images = Arc::new(MemoryImageStore::default());
    let images = Arc::new(Previews {
        inner: raw_images.clone(),
        fail: fail_previews,
        puts: Mutex::default(),
    });
    let upstream = Arc::new(MemoryUpstream::default());
    let stack = support::stack(
        clock,
        Given {
            images: images.clone(),
            jobs: jobs.clone(),
            upstream: upstream.clone(),
            settings: Settings::default(),
        },
    )
    .await;
    Run {
        stack,
        jobs,
        images,
        raw_images,
        upstream,
    }
}

impl Run {
    async fn submit(&self, body: &str) -> TaskId {
        match self
            .stack
            .api
            .submit(&self.stack.alice, body.as_bytes())
            .await
            .unwrap()
        {
            Submitted::Queued(r) => r.task_id,
            Submitted::DryRun(_) => panic!("a dry run"),
        }
    }

    fn steps_recorded(&self) -> Vec<u32> {
        let seen = self.jobs.progress.lock().unwrap();
        seen.iter().map(|(p, _)| p.step).collect()
    }
}

const V45: &str =
    r#"{"prompt": "1girl, 猫耳", "model": "nai-v4.5", "width": 64, "height": 64, "steps": 23}"#;

#[tokio::test]
async fn updates_wait_for_two_steps_and_two_seconds() {
    // 23 steps, 22 previews. At 300 ms a step the two seconds are what hold updates back.
    let r = run(false).await;
    r.upstream
        .step_time(r.stack.clock.clone(), Duration::milliseconds(300));
    let task = r.submit(V45).await;
    assert_eq!(r.stack.drain().await.succeeded, 1);
    assert_eq!(r.steps_recorded(), [5, 12, 19]);
    let seen = r.jobs.progress.lock().unwrap().clone();
    for pair in seen.windows(2) {
        assert!(pair[1].1 - pair[0].1 >= Duration::seconds(2), "{pair:?}");
    }
    assert!(seen.iter().all(|(p, _)| p.steps == 23));
    assert_eq!(
        *r.images.puts.lock().unwrap(),
        3,
        "one preview put per update"
    );
    // The preview is the last one written; the finished job shows neither.
    let jpeg = r.raw_images.get_sync(&preview_key(&task)).unwrap();
    assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff]);
    let status = r
        .stack
        .api
        .task_status(&r.stack.alice, task.as_str())
        .await
        .unwrap();
    assert_eq!(status.status, Status::Success);
    assert_eq!((status.progress, status.preview_url), (None, None));
    let body = r.upstream.calls.lock().unwrap()[0].clone();
    assert_eq!(body["parameters"]["stream"], "msgpack");
}

#[tokio::test]
async fn slow_steps_update_every_other_step_and_fast_ones_once() {
    let r = run(false).await;
    r.upstream
        .step_time(r.stack.clock.clone(), Duration::seconds(2));
    r.submit(V45).await;
    r.stack.drain().await;
    assert_eq!(r.steps_recorded(), [5, 7, 9, 11, 13, 15, 17, 19, 21]);

    let r = run(false).await;
    r.upstream
        .step_time(r.stack.clock.clone(), Duration::milliseconds(85));
    r.submit(V45).await;
    r.stack.drain().await;
    assert_eq!(
        r.steps_recorded(),
        [5],
        "18 steps in 1.5 s, as NovelAI streams them"
    );
}

#[tokio::test]
async fn a_failing_preview_store_never_fails_the_job() {
    let r = run(true).await;
    r.upstream
        .step_time(r.stack.clock.clone(), Duration::milliseconds(300));
    let task = r.submit(V45).await;
    let report = r.stack.drain().await;
    assert_eq!((report.succeeded, report.failed, report.retried), (1, 0, 0));
    assert!(*r.images.puts.lock().unwrap() >= 1, "previews were tried");
    assert!(
        r.steps_recorded().is_empty(),
        "no progress without its preview"
    );
    let job = r.jobs.get(&task).await.unwrap().unwrap();
    assert_eq!((job.status(), job.attempts()), (Status::Success, 1));
}

#[tokio::test]
async fn a_stream_cut_mid_way_is_retried_and_then_succeeds() {
    let r = run(false).await;
    r.upstream
        .step_time(r.stack.clock.clone(), Duration::milliseconds(300));
    r.upstream.cut_next_stream(11);
    let task = r.submit(V45).await;
    // The cooldown passes on the manual clock, so one drain retries and finishes it.
    let report = r.stack.drain().await;
    assert_eq!((report.retried, report.succeeded), (1, 1), "{report:?}");
    let job = r.jobs.get(&task).await.unwrap().unwrap();
    assert_eq!((job.status(), job.attempts()), (Status::Success, 2));
    assert_eq!(job.attempt_errors()[0].code, "upstream_stream_failed");
    assert_eq!(r.upstream.call_count(), 2);
}

#[tokio::test]
async fn v3_and_image_to_image_keep_the_plain_route() {
    let r = run(false).await;
    r.submit(r#"{"prompt": "x", "model": "nai-v3", "width": 64, "height": 64}"#)
        .await;
    r.stack.drain().await;
    let calls = r.upstream.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0]["parameters"].get("stream").is_none(),
        "{}",
        calls[0]["parameters"]
    );
    assert!(r.steps_recorded().is_empty());
}

#[tokio::test]
async fn task_status_shows_progress_and_preview_only_while_started() {
    let r = run(false).await;
    let task = r.submit(V45).await;
    let mut job = r.jobs.get(&task).await.unwrap().unwrap();
    let status = r
        .stack
        .api
        .task_status(&r.stack.alice, task.as_str())
        .await
        .unwrap();
    assert_eq!(
        (status.progress, status.preview_url.as_deref()),
        (None, None)
    );
    job.start(r.stack.clock.now()).unwrap();
    r.jobs.replace(&job, Status::Pending).await.unwrap();
    let p = Progress { step: 9, steps: 23 };
    job.set_progress(p).unwrap();
    r.jobs.replace(&job, Status::Started).await.unwrap();
    let status = r
        .stack
        .api
        .task_status(&r.stack.alice, task.as_str())
        .await
        .unwrap();
    assert_eq!(status.progress, Some(p));
    let url = status.preview_url.clone().unwrap();
    assert!(url.contains(&preview_key(&task)), "{url}");
    let shown = serde_json::to_value(&status).unwrap();
    assert_eq!(
        shown["progress"],
        serde_json::json!({"step": 9, "steps": 23})
    );
    job.succeed(vec![], r.stack.clock.now()).unwrap();
    r.jobs.replace(&job, Status::Started).await.unwrap();
    let shown = serde_json::to_value(
        r.stack
            .api
            .task_status(&r.stack.alice, task.as_str())
            .await
            .unwrap(),
    )
    .unwrap();
    assert!(
        shown.get("progress").is_none() && shown.get("preview_url").is_none(),
        "{shown}"
    );
}

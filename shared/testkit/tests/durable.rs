//! An attempt is paid at most once (issue 13, item 1): the answer is stored before anything
//! else can fail, the writes after it are retried in place, a redelivered job whose answer
//! exists finishes from it with no new call and no new slot, an interrupted attempt counts
//! and is shown, and a heartbeat keeps a running job's message hidden.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use chrono::{DateTime, Utc};
use naiq_core::config::Settings;
use naiq_core::domain::request::ImageFormat;
use naiq_core::domain::{Credentials, Job, Lane, Status, TaskId};
use naiq_core::novelai::ImageRequest;
use naiq_core::objects::{answer_key, image_key};
use naiq_core::ports::*;
use naiq_core::worker::heartbeat::{LEASE_SECONDS, VISIBILITY_TIMEOUT_SECONDS};
use naiq_core::worker::{StopReason, Worker, WorkerPorts};
use naiq_testkit::memory::*;
use support::{Given, Stack};

/// An image store whose puts under `prefix` fail while `failures` lasts.
struct FlakyImages {
    inner: Arc<MemoryImageStore>,
    prefix: &'static str,
    failures: AtomicU32,
}

#[async_trait::async_trait]
impl ImageStore for FlakyImages {
    async fn put(&self, key: &str, bytes: bytes::Bytes, content_type: &str) -> PortResult<()> {
        if key.starts_with(self.prefix)
            && self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(PortError::backend("S3", "503 SlowDown (injected)"));
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

/// A jobs table whose writes of a finished (`SUCCESS`) job fail while `failures` lasts.
struct FlakyJobs {
    inner: Arc<MemoryJobStore>,
    failures: AtomicU32,
}

#[async_trait::async_trait]
impl JobStore for FlakyJobs {
    async fn insert(&self, job: &Job) -> PortResult<()> {
        self.inner.insert(job).await
    }
    async fn get(&self, id: &TaskId) -> PortResult<Option<Job>> {
        self.inner.get(id).await
    }
    async fn replace(&self, job: &Job, expected: Status) -> PortResult<()> {
        if job.status() == Status::Success
            && self
                .failures
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok()
        {
            return Err(PortError::backend("DynamoDB", "throttled (injected)"));
        }
        self.inner.replace(job, expected).await
    }
    async fn own_ahead(&self, job: &Job) -> PortResult<u64> {
        self.inner.own_ahead(job).await
    }
    async fn total_pending(&self) -> PortResult<u64> {
        self.inner.total_pending().await
    }
    async fn queue_snapshot(&self) -> PortResult<naiq_core::domain::turns::QueueSnapshot> {
        self.inner.queue_snapshot().await
    }
    async fn waiting_before(&self, before: DateTime<Utc>, limit: usize) -> PortResult<Vec<Job>> {
        self.inner.waiting_before(before, limit).await
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

/// A NovelAI call that takes a while: it hands the turn back `turns` times first.
struct SlowUpstream {
    inner: Arc<MemoryUpstream>,
    turns: u32,
}

#[async_trait::async_trait]
impl Upstream for SlowUpstream {
    async fn generate(
        &self,
        credentials: &Credentials,
        request: &ImageRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        for _ in 0..self.turns {
            tokio::task::yield_now().await;
        }
        self.inner.generate(credentials, request).await
    }
    async fn generate_stream(
        &self,
        credentials: &Credentials,
        request: &ImageRequest,
        previews: &dyn naiq_core::ports::PreviewSink,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        for _ in 0..self.turns {
            tokio::task::yield_now().await;
        }
        self.inner
            .generate_stream(credentials, request, previews)
            .await
    }
    async fn subscription(
        &self,
        credentials: &Credentials,
    ) -> Result<naiq_core::domain::account::AccountInfo, UpstreamError> {
        self.inner.subscription(credentials).await
    }
    async fn encode_vibe(
        &self,
        credentials: &Credentials,
        request: &naiq_core::novelai::EncodeVibeRequest,
    ) -> Result<Vec<u8>, UpstreamError> {
        self.inner.encode_vibe(credentials, request).await
    }
    async fn augment(
        &self,
        credentials: &Credentials,
        request: &naiq_core::novelai::AugmentRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        for _ in 0..self.turns {
            tokio::task::yield_now().await;
        }
        self.inner.augment(credentials, request).await
    }
    async fn upscale(
        &self,
        credentials: &Credentials,
        request: &naiq_core::novelai::UpscaleRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        for _ in 0..self.turns {
            tokio::task::yield_now().await;
        }
        self.inner.upscale(credentials, request).await
    }
}

struct Plain {
    images: Arc<MemoryImageStore>,
    jobs: Arc<MemoryJobStore>,
    upstream: Arc<MemoryUpstream>,
}

fn plain() -> Plain {
    Plain {
        images: Arc::new(MemoryImageStore::default()),
        jobs: Arc::new(MemoryJobStore::default()),
        upstream: Arc::new(MemoryUpstream::default()),
    }
}

async fn stack_over(
    images: Arc<dyn ImageStore>,
    jobs: Arc<dyn JobStore>,
    upstream: Arc<dyn Upstream>,
    settings: Settings,
) -> Stack {
    support::stack(
        support::clock(),
        Given {
            images,
            jobs,
            upstream,
            settings,
        },
    )
    .await
}

/// More failures than the worker's retries in place: its handling of the message ends
/// with an error, as if it had died there.
const OUTLASTS_THE_RETRIES: u32 = 10;

/// A job of two images: its answer is kept in an answer object, apart from its images.
const TWO_IMAGES: &[u8] =
    br#"{"prompt": "1girl, cat ears", "model": "nai-v3", "resolution": "portrait", "n_samples": 2}"#;

#[tokio::test]
async fn an_answer_whose_images_could_not_be_stored_finishes_on_redelivery_without_a_second_call() {
    let p = plain();
    let images = Arc::new(FlakyImages {
        inner: p.images.clone(),
        prefix: "images/",
        failures: AtomicU32::new(OUTLASTS_THE_RETRIES),
    });
    let s = stack_over(
        images.clone(),
        p.jobs.clone(),
        p.upstream.clone(),
        Settings::default(),
    )
    .await;
    let sub = s.submit_body(TWO_IMAGES).await;
    let report = s.drain().await;
    assert_eq!((report.succeeded, report.errors), (0, 1), "{report:?}");
    assert_eq!(p.upstream.call_count(), 1);
    // The worker is gone; its message shows again after the visibility timeout.
    images.failures.store(0, Ordering::SeqCst);
    s.queue.expire_in_flight();
    let report = s.drain().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(
        p.upstream.call_count(),
        1,
        "the paid answer was used, not paid again"
    );
    assert_eq!(s.slots_taken().await, 1, "no second slot was reserved");
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!((st.status, st.attempts), (Status::Success, 1));
    assert_eq!(st.image_urls.len(), 2);
    let task_id = TaskId::parse(sub.task_id.as_str()).unwrap();
    assert!(p.images.get_sync(&answer_key(&task_id, 1)).is_some());
    let job = p.jobs.get(&task_id).await.unwrap().unwrap();
    for key in job.image_keys() {
        assert!(p.images.get_sync(key).is_some(), "{key} is stored");
    }
    assert!(s.queue.is_empty());
}

/// A stack whose writes of a finished job fail until the test lets them (`jobs.failures`),
/// as a worker that dies after the answer is stored and before the job is marked done.
async fn success_write_fails() -> (Plain, Arc<FlakyJobs>, Stack) {
    let p = plain();
    let jobs = Arc::new(FlakyJobs {
        inner: p.jobs.clone(),
        failures: AtomicU32::new(OUTLASTS_THE_RETRIES),
    });
    let s = stack_over(
        p.images.clone(),
        jobs.clone(),
        p.upstream.clone(),
        Settings::default(),
    )
    .await;
    (p, jobs, s)
}

#[tokio::test]
async fn a_job_whose_success_write_failed_finishes_on_redelivery_without_a_second_call() {
    let (p, jobs, s) = success_write_fails().await;
    let sub = s.submit().await;
    let report = s.drain().await;
    assert_eq!(report.errors, 1, "{report:?}");
    let task_id = TaskId::parse(sub.task_id.as_str()).unwrap();
    assert_eq!(
        p.jobs.get(&task_id).await.unwrap().unwrap().status(),
        Status::Started
    );
    // A one-image answer is stored as the job's image itself, once: no answer object.
    assert!(
        p.images
            .get_sync(&image_key(&task_id, 0, ImageFormat::Png))
            .is_some(),
        "the answer was stored first, as the image"
    );
    assert!(p.images.get_sync(&answer_key(&task_id, 1)).is_none());
    assert_eq!(p.images.object_count(), 1);
    jobs.failures.store(0, Ordering::SeqCst);
    s.queue.expire_in_flight();
    let report = s.drain().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(p.upstream.call_count(), 1, "no second NovelAI call");
    assert_eq!(s.slots_taken().await, 1);
    // Found by asking whether it exists: the image (up to a 36 MiB upscale) is not read.
    assert_eq!(
        p.images.read_count(),
        1,
        "only the missing answer object was read"
    );
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!((st.status, st.attempts), (Status::Success, 1));
    assert!(st.attempt_errors.is_empty());
    let job = p.jobs.get(&task_id).await.unwrap().unwrap();
    assert_eq!(
        job.image_keys(),
        [image_key(&task_id, 0, ImageFormat::Png)],
        "the job's image is the stored answer"
    );
    assert_eq!(p.images.object_count(), 1);
}

#[tokio::test]
async fn a_one_image_answer_in_webp_is_found_on_redelivery_too() {
    let (p, jobs, s) = success_write_fails().await;
    let sub = s
        .submit_body(br#"{"prompt": "a fox", "model": "nai-v3", "image_format": "webp"}"#)
        .await;
    assert_eq!(s.drain().await.errors, 1);
    jobs.failures.store(0, Ordering::SeqCst);
    s.queue.expire_in_flight();
    assert_eq!(s.drain().await.succeeded, 1);
    assert_eq!(p.upstream.call_count(), 1, "no second NovelAI call");
    let task_id = TaskId::parse(sub.task_id.as_str()).unwrap();
    let job = p.jobs.get(&task_id).await.unwrap().unwrap();
    assert_eq!(
        job.image_keys(),
        [image_key(&task_id, 0, ImageFormat::Webp)]
    );
}

#[tokio::test]
async fn writes_after_the_answer_are_retried_in_place() {
    let p = plain();
    let images = Arc::new(FlakyImages {
        inner: p.images.clone(),
        prefix: "",
        // The answer's (the one image's) first two puts fail.
        failures: AtomicU32::new(2),
    });
    let jobs = Arc::new(FlakyJobs {
        inner: p.jobs.clone(),
        failures: AtomicU32::new(2),
    });
    let s = stack_over(images, jobs, p.upstream.clone(), Settings::default()).await;
    let sub = s.submit().await;
    let report = s.drain().await;
    assert_eq!((report.succeeded, report.errors), (1, 0), "{report:?}");
    assert_eq!(p.upstream.call_count(), 1);
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!((st.status, st.attempts), (Status::Success, 1));
    assert!(s.queue.is_empty());
}

/// Puts the job in the state a worker that died during the NovelAI call leaves: `STARTED`,
/// its message in flight, no answer; then lets the visibility timeout run out.
async fn die_during_the_call(s: &Stack, jobs: &MemoryJobStore, task_id: &TaskId) {
    let mut job = jobs.get(task_id).await.unwrap().unwrap();
    job.start(s.clock.now()).unwrap();
    jobs.replace(&job, Status::Pending).await.unwrap();
    let d = s.queue.receive(&Lane::ALL).await.unwrap().unwrap();
    assert_eq!(&d.message.task_id, task_id);
    s.queue.expire_in_flight();
}

#[tokio::test]
async fn an_interrupted_attempt_is_counted_shown_and_retried() {
    let p = plain();
    let s = stack_over(
        p.images.clone(),
        p.jobs.clone(),
        p.upstream.clone(),
        Settings::default(),
    )
    .await;
    let sub = s.submit().await;
    let task_id = TaskId::parse(sub.task_id.as_str()).unwrap();
    die_during_the_call(&s, &p.jobs, &task_id).await;
    let report = s.drain().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!((st.status, st.attempts), (Status::Success, 2));
    let errors: Vec<_> = st
        .attempt_errors
        .iter()
        .map(|e| (e.attempt, e.code.as_str()))
        .collect();
    assert_eq!(errors, [(1, "interrupted")]);
    let json = serde_json::to_value(&st).unwrap();
    assert_eq!(json["attempt_errors"][0]["attempt"], 1);
    assert!(json["attempt_errors"][0]["at"].is_string());
}

#[tokio::test]
async fn an_interrupted_last_attempt_fails_the_job_without_a_call() {
    let p = plain();
    let settings = Settings {
        max_attempts: 1,
        ..Settings::default()
    };
    let s = stack_over(
        p.images.clone(),
        p.jobs.clone(),
        p.upstream.clone(),
        settings,
    )
    .await;
    let sub = s.submit().await;
    let task_id = TaskId::parse(sub.task_id.as_str()).unwrap();
    die_during_the_call(&s, &p.jobs, &task_id).await;
    s.drain().await;
    assert_eq!(p.upstream.call_count(), 0);
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!((st.status, st.attempts), (Status::Failure, 1));
    assert_eq!(st.error_code.as_deref(), Some("interrupted"));
    assert_eq!(st.attempt_errors.len(), 1);
}

#[tokio::test]
async fn every_failed_attempt_is_shown_with_its_error() {
    let p = plain();
    let s = stack_over(
        p.images.clone(),
        p.jobs.clone(),
        p.upstream.clone(),
        Settings::default(),
    )
    .await;
    p.upstream
        .fail_next(UpstreamError::Network("timed out".into()));
    p.upstream.fail_next(UpstreamError::Status {
        status: 502,
        message: "bad gateway".into(),
    });
    let sub = s.submit().await;
    s.drain().await;
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!((st.status, st.attempts), (Status::Success, 3));
    assert_eq!(p.upstream.call_count(), 3);
    let errors: Vec<_> = st
        .attempt_errors
        .iter()
        .map(|e| (e.attempt, e.code.as_str()))
        .collect();
    assert_eq!(errors, [(1, "upstream_unreachable"), (2, "upstream_error")]);
}

/// A NovelAI call that never ends (the worker is killed during it).
struct EndlessUpstream;

#[async_trait::async_trait]
impl Upstream for EndlessUpstream {
    async fn generate(
        &self,
        _: &Credentials,
        _: &ImageRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        std::future::pending().await
    }
    async fn generate_stream(
        &self,
        _: &Credentials,
        _: &ImageRequest,
        _: &dyn naiq_core::ports::PreviewSink,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        std::future::pending().await
    }
    async fn subscription(
        &self,
        _: &Credentials,
    ) -> Result<naiq_core::domain::account::AccountInfo, UpstreamError> {
        Err(UpstreamError::Network("not in this test".into()))
    }
    async fn encode_vibe(
        &self,
        _: &Credentials,
        _: &naiq_core::novelai::EncodeVibeRequest,
    ) -> Result<Vec<u8>, UpstreamError> {
        std::future::pending().await
    }
    async fn augment(
        &self,
        _: &Credentials,
        _: &naiq_core::novelai::AugmentRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        std::future::pending().await
    }
    async fn upscale(
        &self,
        _: &Credentials,
        _: &naiq_core::novelai::UpscaleRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        std::future::pending().await
    }
}

/// Time that stands still for the worker that is about to be killed: its heartbeat never
/// comes round.
struct Frozen;

#[async_trait::async_trait]
impl Sleeper for Frozen {
    async fn sleep_until(&self, _: DateTime<Utc>) {
        std::future::pending().await
    }
}

#[tokio::test]
async fn a_worker_killed_mid_call_is_recovered_in_minutes_and_its_attempt_counts() {
    let p = plain();
    let s = stack_over(
        p.images.clone(),
        p.jobs.clone(),
        p.upstream.clone(),
        Settings::default(),
    )
    .await;
    let sub = s.submit().await;
    // The first invocation is killed during its NovelAI call (its future dropped, as a
    // kill -9 would stop it).
    let doomed = Worker::new(
        WorkerPorts {
            upstream: Arc::new(EndlessUpstream),
            ..s.ports.clone()
        },
        s.clock.clone(),
        Arc::new(Frozen),
        3,
        Settings::default(),
        "doomed",
    );
    let deadline = s.clock.now() + chrono::Duration::seconds(900);
    {
        let mut drain = std::pin::pin!(doomed.drain(deadline));
        for _ in 0..50 {
            let polled = std::future::poll_fn(|cx| {
                std::task::Poll::Ready(std::future::Future::poll(drain.as_mut(), cx))
            })
            .await;
            assert!(polled.is_pending(), "the call never ends");
            tokio::task::yield_now().await;
        }
    }
    drop(doomed);
    let task_id = TaskId::parse(sub.task_id.as_str()).unwrap();
    assert_eq!(
        p.jobs.get(&task_id).await.unwrap().unwrap().status(),
        Status::Started
    );

    // Within the visibility timeout and the lease, the next invocation waits...
    let next = s.worker("next", s.clock.clone());
    let report = next
        .drain(s.clock.now() + chrono::Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.stopped, StopReason::LeaseHeld);
    // ...and a few minutes later (the message visible again, the lease expired) it
    // recovers the job.
    s.clock.advance(chrono::Duration::seconds(
        i64::from(VISIBILITY_TIMEOUT_SECONDS).max(LEASE_SECONDS) + 1,
    ));
    s.queue.expire_in_flight();
    let report = next
        .drain(s.clock.now() + chrono::Duration::seconds(900))
        .await
        .unwrap();
    assert_eq!(report.succeeded, 1, "{report:?}");
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!((st.status, st.attempts), (Status::Success, 2));
    assert_eq!(st.attempt_errors[0].code, "interrupted");
    assert_eq!(p.upstream.call_count(), 1);
}

#[tokio::test]
async fn a_heartbeat_keeps_a_long_call_hidden_and_stops_with_it() {
    let p = plain();
    let upstream = Arc::new(SlowUpstream {
        inner: p.upstream.clone(),
        turns: 5,
    });
    let s = stack_over(
        p.images.clone(),
        p.jobs.clone(),
        upstream,
        Settings::default(),
    )
    .await;
    let before = s.clock.now();
    s.submit().await;
    let report = s.drain().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    let beats = s.queue.kept_hidden();
    assert!(
        !beats.is_empty(),
        "the message was kept hidden during the call"
    );
    assert!(beats.len() <= 5, "one beat per turn at most: {beats:?}");
    assert!(beats.iter().all(|s| *s == VISIBILITY_TIMEOUT_SECONDS));
    assert!(s.clock.now() > before, "the beats waited on the sleeper");
    assert!(s.queue.is_empty());
}

#[tokio::test]
async fn a_dead_letter_whose_attempt_was_answered_finishes_from_the_answer() {
    let p = plain();
    let images = Arc::new(FlakyImages {
        inner: p.images.clone(),
        prefix: "images/",
        failures: AtomicU32::new(u32::MAX),
    });
    let s = stack_over(
        images.clone(),
        p.jobs.clone(),
        p.upstream.clone(),
        Settings::default(),
    )
    .await;
    let sub = s.submit_body(TWO_IMAGES).await;
    // Every delivery stores nothing but the answer; the next receive moves the message
    // to the dead letters.
    for _ in 0..MAX_RECEIVE_COUNT {
        s.drain().await;
        s.queue.expire_in_flight();
    }
    let task_id = TaskId::parse(sub.task_id.as_str()).unwrap();
    assert_eq!(
        p.jobs.get(&task_id).await.unwrap().unwrap().status(),
        Status::Started
    );
    images.failures.store(0, Ordering::SeqCst);
    let report = s.drain().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!(
        (st.status, st.attempts),
        (Status::Success, 1),
        "not dead_letter"
    );
    assert_eq!(p.upstream.call_count(), 1);
    assert!(s.queue.is_empty());
}

#[tokio::test]
async fn a_director_tools_answer_is_stored_first_and_a_redelivery_finishes_from_it() {
    use base64::Engine as _;
    let p = plain();
    let images = Arc::new(FlakyImages {
        inner: p.images.clone(),
        prefix: "images/",
        failures: AtomicU32::new(OUTLASTS_THE_RETRIES),
    });
    let s = stack_over(
        images.clone(),
        p.jobs.clone(),
        p.upstream.clone(),
        Settings::default(),
    )
    .await;
    let image = base64::engine::general_purpose::STANDARD.encode(naiq_testkit::png_of(128, 192));
    let body = serde_json::json!({"tool": "bg-removal", "image": image}).to_string();
    let naiq_core::api::Submitted::Queued(sub) = s
        .api
        .submit_augment(&s.alice, body.as_bytes())
        .await
        .unwrap()
    else {
        panic!("queued")
    };
    let report = s.drain().await;
    assert_eq!((report.succeeded, report.errors), (0, 1), "{report:?}");
    assert_eq!(p.upstream.director_calls.lock().unwrap().len(), 1);
    let task_id = TaskId::parse(sub.task_id.as_str()).unwrap();
    assert!(p.images.get_sync(&answer_key(&task_id, 1)).is_some());

    images.failures.store(0, Ordering::SeqCst);
    s.queue.expire_in_flight();
    let report = s.drain().await;
    assert_eq!(report.succeeded, 1, "{report:?}");
    assert_eq!(
        p.upstream.director_calls.lock().unwrap().len(),
        1,
        "the paid answer was used, not paid again"
    );
    assert_eq!(s.slots_taken().await, 1, "no second slot was reserved");
    let st = s
        .api
        .task_status(&s.alice, sub.task_id.as_str())
        .await
        .unwrap();
    assert_eq!((st.status, st.attempts), (Status::Success, 1));
    assert_eq!(st.image_urls.len(), 3, "background removal's three images");
}

//! A streamed job's progress, as `GET /task_status` shows it: the latest step's JPEG under
//! one object per task ([`preview_key`], overwritten, expired by the bucket's lifecycle
//! rule), then `progress {step, steps}` on the job.
//!
//! Each update is an S3 put and a DynamoDB write, so updates are thinned out: none before
//! [`FIRST_SHOWN_STEP`] (the first steps are noise; the website hides them too), then one
//! only when at least [`MIN_STEPS_BETWEEN`] steps AND [`MIN_INTERVAL`] have passed since
//! the last. The interval is the status's own poll floor (`MIN_POLL_SECONDS`, 2 s): a
//! client polling as fast as it is told to sees at most one preview in that time, so a
//! more frequent update would be an S3 put and a DynamoDB write nobody sees. NovelAI streams
//! a 23-step image in about two seconds, so such a job gets one update (the fifth step) and
//! a longer one (more steps, a larger image) one every two seconds.
//!
//! A preview never fails or stalls the job: each write is bounded by [`WRITE_LIMIT`], and
//! a failed or slow one is logged and skipped. The preview is stored before the progress
//! is recorded, so a job that shows progress always has a preview to serve.

use std::future::{Future, poll_fn};
use std::pin::pin;
use std::sync::Mutex;
use std::task::Poll;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::Worker;
use crate::domain::job::Progress;
use crate::domain::{Job, Status};
use crate::objects::preview_key;
use crate::ports::{PortError, Preview, PreviewSink};

/// The first step shown (1-based): earlier previews are mostly noise.
pub const FIRST_SHOWN_STEP: u32 = 5;

/// The fewest steps between two updates.
pub const MIN_STEPS_BETWEEN: u32 = 2;

/// The least time between two updates: the status's poll floor (`MIN_POLL_SECONDS`).
pub const MIN_INTERVAL: Duration = Duration::seconds(2);

/// The longest a preview write may hold up the stream's reading.
pub const WRITE_LIMIT: Duration = Duration::seconds(3);

/// The content type previews are stored with.
const CONTENT_TYPE: &str = "image/jpeg";

/// The last update made.
#[derive(Clone, Copy)]
struct Shown {
    sample: u32,
    step: u32,
    at: DateTime<Utc>,
}

/// A running job's [`PreviewSink`].
pub(super) struct JobPreviews<'a> {
    worker: &'a Worker,
    /// The job as the worker started it; the progress is recorded on a copy of it.
    job: Mutex<Job>,
    last: Mutex<Option<Shown>>,
    /// Set once the job changed under us (it can no longer be given progress).
    gone: Mutex<bool>,
}

impl<'a> JobPreviews<'a> {
    pub(super) fn new(worker: &'a Worker, job: &Job) -> Self {
        Self {
            worker,
            job: Mutex::new(job.clone()),
            last: Mutex::new(None),
            gone: Mutex::new(false),
        }
    }

    /// Whether this preview is due, by the rules in the module's doc; marks it shown.
    fn due(&self, preview: &Preview, now: DateTime<Utc>) -> bool {
        if preview.step < FIRST_SHOWN_STEP || *lock(&self.gone) {
            return false;
        }
        let mut last = lock(&self.last);
        let due = match *last {
            None => true,
            Some(shown) => {
                let steps_passed = shown.sample != preview.sample
                    || preview.step >= shown.step + MIN_STEPS_BETWEEN;
                steps_passed && now - shown.at >= MIN_INTERVAL
            }
        };
        if due {
            // Marked before the writes: a failing store is not tried again at every step.
            *last = Some(Shown {
                sample: preview.sample,
                step: preview.step,
                at: now,
            });
        }
        due
    }

    /// `write`'s output, or `None` once [`WRITE_LIMIT`] has passed.
    async fn bounded<F: Future>(&self, write: F) -> Option<F::Output> {
        let clock = &self.worker.clock;
        let limit = self.worker.sleeper.sleep_until(clock.now() + WRITE_LIMIT);
        let mut write = pin!(write);
        let mut limit = pin!(limit);
        poll_fn(|cx| {
            if let Poll::Ready(out) = write.as_mut().poll(cx) {
                return Poll::Ready(Some(out));
            }
            match limit.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    async fn store(&self, preview: Preview) {
        let task_id = lock(&self.job).task_id().clone();
        let key = preview_key(&task_id);
        let put = self
            .worker
            .ports
            .images
            .put(&key, preview.jpeg.into(), CONTENT_TYPE);
        match self.bounded(put).await {
            Some(Ok(())) => {}
            Some(Err(e)) => {
                tracing::warn!(task_id = %task_id, error = %e, "could not store a step preview; the job goes on");
                return;
            }
            None => {
                tracing::warn!(task_id = %task_id, "storing a step preview took too long; the job goes on");
                return;
            }
        }
        let job = {
            let mut job = lock(&self.job);
            let progress = Progress {
                step: preview.step,
                steps: preview.steps,
            };
            if job.set_progress(progress).is_err() {
                return;
            }
            job.clone()
        };
        let replace = self.worker.ports.jobs.replace(&job, Status::Started);
        match self.bounded(replace).await {
            Some(Ok(())) => {
                tracing::debug!(task_id = %task_id, step = preview.step, steps = preview.steps, "progress recorded");
            }
            Some(Err(PortError::Conflict(_))) => {
                tracing::info!(task_id = %task_id, "the job changed while it ran; no more progress");
                *lock(&self.gone) = true;
            }
            Some(Err(e)) => {
                tracing::warn!(task_id = %task_id, error = %e, "could not record the progress; the job goes on");
            }
            None => {
                tracing::warn!(task_id = %task_id, "recording the progress took too long; the job goes on");
            }
        }
    }
}

#[async_trait]
impl PreviewSink for JobPreviews<'_> {
    async fn preview(&self, preview: Preview) {
        if self.due(&preview, self.worker.clock.now()) {
            self.store(preview).await;
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

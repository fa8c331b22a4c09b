//! `GET /task_status/{id}` and `POST /cancel_task/{id}`: a key sees and cancels only its
//! own tasks; another key's task is indistinguishable from a missing one.

use super::responses::{CancelResponse, StatusResponse};
use super::{ApiError, ApiService, rfc3339};
use crate::domain::pricing::anlas_cost;
use crate::domain::{ApiKeyRecord, Job, Status, TaskId};
use crate::ports::PortError;
use crate::webhooks::{DeliveryState, EventType, WebhookMessage, notify};

fn not_found(task_id: &str) -> ApiError {
    ApiError::NotFound(format!("no task {task_id}"))
}

fn parse_task_id(task_id: &str) -> Result<TaskId, ApiError> {
    TaskId::parse(task_id).ok_or_else(|| not_found(task_id))
}

/// The caller's job, if `found` is one: another key's task is indistinguishable from a
/// missing one.
fn owned(caller: &ApiKeyRecord, task_id: &str, found: Option<Job>) -> Result<Job, ApiError> {
    match found {
        Some(job) if job.owner() == caller.key_id => Ok(job),
        _ => Err(not_found(task_id)),
    }
}

impl ApiService {
    async fn owned_job(&self, caller: &ApiKeyRecord, task_id: &str) -> Result<Job, ApiError> {
        let id = parse_task_id(task_id)?;
        owned(caller, task_id, self.ports.jobs.get(&id).await?)
    }

    /// `GET /task_status/{task_id}`.
    pub async fn task_status(
        &self,
        caller: &ApiKeyRecord,
        task_id: &str,
    ) -> Result<StatusResponse, ApiError> {
        // The job, the lane counters and (where the store can) the pacing state in one
        // read: most polls are of a waiting job, whose position and ETA need all three.
        let id = parse_task_id(task_id)?;
        let (job, counters, pacing) = self.ports.jobs.get_for_status(&id).await?;
        let job = owned(caller, task_id, job)?;
        let queue_info = if job.status().is_waiting() {
            let state = match pacing {
                Some((state, _)) => state,
                None => self.ports.pacing.load_pacing().await?.0,
            };
            Some(self.estimate(&job, &counters, &state).await?)
        } else {
            None
        };
        let mut status = self.describe(&job, true, queue_info).await?;
        status.webhooks = self.webhook_deliveries(&job).await;
        Ok(status)
    }

    /// The delivery state of the job's events so far; an event with no recorded attempt
    /// is pending. A state that cannot be read leaves the field out (logged).
    async fn webhook_deliveries(&self, job: &Job) -> Option<Vec<DeliveryState>> {
        job.params().webhook_url.as_ref()?;
        let recorded = match self.ports.webhooks.states.deliveries(job.task_id()).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(task_id = %job.task_id(), error = %e, "could not read the webhook deliveries");
                return None;
            }
        };
        let now = self.clock.now();
        Some(
            EventType::so_far(job)
                .into_iter()
                .map(|event| {
                    recorded
                        .iter()
                        .find(|s| s.event == event)
                        .cloned()
                        .unwrap_or_else(|| {
                            let id = WebhookMessage::for_job(job, event, now)
                                .map(|m| m.id)
                                .unwrap_or_default();
                            DeliveryState::pending(event, id)
                        })
                })
                .collect(),
        )
    }

    /// A job as `task_status` shows it; image URLs only when `with_urls`.
    pub(super) async fn describe(
        &self,
        job: &Job,
        with_urls: bool,
        queue_info: Option<super::QueueInfo>,
    ) -> Result<StatusResponse, ApiError> {
        let mut urls = Vec::with_capacity(job.image_keys().len());
        if with_urls && job.status() == Status::Success {
            for key in job.image_keys() {
                urls.push(
                    self.ports
                        .images
                        .url(key, self.settings.image_url_ttl)
                        .await?,
                );
            }
        }
        // A running job's progress and preview (`worker::previews` stores the preview
        // before it records the progress, so the object exists once progress shows).
        let (progress, preview_url) = match job.progress() {
            Some(p) if with_urls && job.status() == Status::Started => {
                let key = crate::objects::preview_key(job.task_id());
                let url = self
                    .ports
                    .images
                    .url(&key, self.settings.image_url_ttl)
                    .await?;
                (Some(p), Some(url))
            }
            _ => (None, None),
        };
        let poll_after_seconds = match (&queue_info, job.status()) {
            (Some(q), _) => Some(poll_after(q.estimated_wait)),
            (None, s) if !s.is_terminal() => Some(MIN_POLL_SECONDS),
            _ => None,
        };
        Ok(StatusResponse {
            poll_after_seconds,
            queue_info,
            progress,
            preview_url,
            ..job_status(job, urls)
        })
    }

    /// `POST /cancel_task/{task_id}`: a job not yet sent upstream becomes `REVOKED`; the
    /// worker skips it without an upstream call.
    pub async fn cancel(
        &self,
        caller: &ApiKeyRecord,
        task_id: &str,
    ) -> Result<CancelResponse, ApiError> {
        let mut job = self.owned_job(caller, task_id).await?;
        if !job.status().is_waiting() {
            return Err(ApiError::Conflict(format!(
                "task {} is {} and can no longer be cancelled",
                job.task_id(),
                job.status()
            )));
        }
        let expected = job.status();
        job.revoke(self.clock.now())?;
        match self.ports.jobs.replace(&job, expected).await {
            Ok(()) => {}
            Err(PortError::Conflict(_)) => {
                return Err(ApiError::Conflict(format!(
                    "task {} was sent upstream meanwhile and can no longer be cancelled",
                    job.task_id()
                )));
            }
            Err(e) => return Err(e.into()),
        }
        self.release_job(&job).await;
        tracing::info!(task_id = %job.task_id(), "job cancelled");
        notify(
            &self.ports.webhooks,
            &job,
            EventType::Cancelled,
            self.clock.now(),
        )
        .await;
        Ok(CancelResponse {
            success: true,
            task_id: job.task_id().clone(),
            status: job.status(),
            message: "Task cancelled".into(),
        })
    }
}

/// The status fields of a job, without its queue position or polling hint: what
/// `GET /task_status` shows, and what a webhook event carries.
pub fn job_status(job: &Job, urls: Vec<String>) -> StatusResponse {
    StatusResponse {
        poll_after_seconds: None,
        task_id: job.task_id().clone(),
        status: job.status(),
        done: job.status().is_terminal(),
        success: job.status() == Status::Success,
        image_url: urls.first().cloned(),
        image_urls: urls,
        progress: None,
        preview_url: None,
        queue_info: None,
        error: job.error().as_ref().map(|e| e.message.clone()),
        error_code: job.error().as_ref().map(|e| e.code.clone()),
        priority: job.lane().to_string(),
        kind: job.params().kind.as_str(),
        tool: match job.params().kind {
            crate::domain::JobKind::Augment(a) => Some(a.tool.as_str()),
            _ => None,
        },
        model: job.params().model.clone(),
        seed: job.params().seed,
        width: job.params().width,
        height: job.params().height,
        n_samples: job.params().n_samples,
        cost: job
            .cost()
            .unwrap_or_else(|| anlas_cost(job.params(), false)),
        attempts: job.attempts(),
        attempt_errors: job
            .attempt_errors()
            .iter()
            .map(|e| super::responses::AttemptErrorInfo {
                attempt: e.attempt,
                code: e.code.clone(),
                message: e.message.clone(),
                at: rfc3339(e.at),
            })
            .collect(),
        created_at: rfc3339(job.created_at()),
        started_at: job.started_at().map(rfc3339),
        finished_at: job.finished_at().map(rfc3339),
        webhooks: None,
    }
}

/// The shortest polling hint: a job in flight or next in line can finish in seconds.
pub const MIN_POLL_SECONDS: u64 = 2;
/// The longest: a job hours away is polled every five minutes at most.
pub const MAX_POLL_SECONDS: u64 = 300;

/// When a waiting job's state can first change: half its expected wait, within bounds.
pub fn poll_after(estimated_wait: u64) -> u64 {
    (estimated_wait / 2).clamp(MIN_POLL_SECONDS, MAX_POLL_SECONDS)
}

//! The HTTP API's use cases: authenticate, submit, report status.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::error::ApiError;
use super::{input_key, local_day};
use crate::config::Settings;
use crate::domain::request::{Limits, parse_submit};
use crate::domain::{ApiKey, ApiKeyRecord, Clock, Job, JobError, Status, TaskId};
use crate::ports::*;

/// The ports the API needs.
#[derive(Clone)]
pub struct ApiPorts {
    pub jobs: Arc<dyn JobStore>,
    pub queue: Arc<dyn JobQueue>,
    pub images: Arc<dyn ImageStore>,
    pub keys: Arc<dyn KeyStore>,
    pub state: Arc<dyn StateStore>,
    pub nudge: Arc<dyn WorkerNudge>,
}

pub struct ApiService {
    ports: ApiPorts,
    clock: Arc<dyn Clock>,
    rng: Mutex<ChaCha8Rng>,
    settings: Settings,
    limits: Limits,
}

#[derive(Debug, Serialize)]
pub struct QueueInfo {
    pub position: u64,
    pub total_pending: u64,
    /// Seconds until the job is expected to start; `None` until the pacing ETA exists.
    pub estimated_wait: Option<u64>,
}

#[derive(Debug, Serialize)]
pub struct RateLimitInfo {
    pub daily_limit: u64,
    pub requests_today: u64,
    pub remaining: u64,
}

#[derive(Debug, Serialize)]
pub struct SubmitResponse {
    pub success: bool,
    pub task_id: TaskId,
    pub message: String,
    pub status: Status,
    pub queue_info: QueueInfo,
    pub rate_limit_info: RateLimitInfo,
}

#[derive(Debug, Serialize)]
pub struct StatusResponse {
    pub task_id: TaskId,
    pub status: Status,
    pub done: bool,
    pub success: bool,
    pub image_url: Option<String>,
    pub image_urls: Vec<String>,
    pub queue_info: Option<QueueInfo>,
    pub error: Option<String>,
    pub error_code: Option<String>,
    pub priority: String,
    pub model: String,
    pub seed: u32,
    pub width: u32,
    pub height: u32,
    pub n_samples: u32,
    pub attempts: u32,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl ApiService {
    pub fn new(ports: ApiPorts, clock: Arc<dyn Clock>, rng_seed: u64, settings: Settings) -> Self {
        let limits = Limits {
            // Base64 grows by 4/3; leave room for the rest of the body.
            max_image_bytes: settings.max_body_bytes / 4 * 3 - 4096,
            ..Limits::default()
        };
        Self {
            ports,
            clock,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(rng_seed)),
            settings,
            limits,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn draw<T>(&self, f: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut rng)
    }

    /// Checks `Authorization: Bearer <key>` against the stored hashes.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<ApiKeyRecord, ApiError> {
        let header = authorization.ok_or(ApiError::Unauthorized(
            "missing API key: send Authorization: Bearer <key>",
        ))?;
        let key = header
            .trim()
            .strip_prefix("Bearer ")
            .or_else(|| header.trim().strip_prefix("bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(ApiError::Unauthorized(
                "malformed Authorization header: send Authorization: Bearer <key>",
            ))?;
        match self
            .ports
            .keys
            .find(&ApiKey::from_client(key).hash())
            .await?
        {
            Some(record) if !record.disabled => Ok(record),
            _ => Err(ApiError::Unauthorized("invalid API key")),
        }
    }

    async fn rate_limit_info(&self) -> Result<RateLimitInfo, ApiError> {
        let today = local_day(self.clock.now(), self.settings.timezone);
        let used = self.ports.state.calls_on(today).await?;
        Ok(RateLimitInfo {
            daily_limit: self.settings.daily_limit,
            requests_today: used,
            remaining: self.settings.daily_limit.saturating_sub(used),
        })
    }

    /// `POST /generate`.
    pub async fn submit(
        &self,
        caller: &ApiKeyRecord,
        body: &[u8],
    ) -> Result<SubmitResponse, ApiError> {
        if body.len() > self.settings.max_body_bytes {
            return Err(ApiError::TooLarge(self.settings.max_body_bytes));
        }
        let mut req = parse_submit(body, &self.limits)?;
        if req.is_test_request {
            if !self.settings.allow_test_requests {
                return Err(ApiError::Forbidden {
                    code: "test_requests_disabled",
                    field: Some("is_test_request"),
                    message: "test requests are turned off (ALLOW_TEST_REQUESTS)".into(),
                });
            }
            if !caller.allow_test {
                return Err(ApiError::Forbidden {
                    code: "test_requests_not_allowed",
                    field: Some("is_test_request"),
                    message: "this API key may not send test requests".into(),
                });
            }
        } else if !caller.lanes.contains(&req.lane) {
            return Err(ApiError::Forbidden {
                code: "priority_not_allowed",
                field: Some("priority"),
                message: format!("this API key may not use priority {}", req.lane),
            });
        }
        if !req.seed_given {
            // 0 asks NovelAI to choose and leaves the seed unrecorded: draw a real one.
            req.params.seed = self.draw(|r| r.random_range(1..=u32::MAX));
        }
        let task_id = TaskId::from_random_bytes(self.draw(|r| r.random()));
        let now = self.clock.now();
        let mut job = Job::new(
            task_id.clone(),
            caller.key_id.clone(),
            req.lane,
            req.params,
            now,
        );

        if let Some(image) = req.image.take() {
            let key = input_key(&task_id);
            self.ports
                .images
                .put(&key, image.bytes, image.content_type)
                .await?;
            job.input_image_key = Some(key);
        }
        self.ports.jobs.insert(&job).await?;
        let message = QueueMessage {
            task_id: task_id.clone(),
            credentials: req.credentials.take(),
        };
        if let Err(e) = self.ports.queue.send(job.lane, &message).await {
            tracing::error!(task_id = %task_id, error = %e, "could not queue the job");
            let mut failed = job.clone();
            failed.fail(
                JobError::new("enqueue_failed", "the job could not be queued"),
                self.clock.now(),
            );
            if let Err(e2) = self.ports.jobs.replace(&failed, Status::Pending).await {
                tracing::error!(task_id = %task_id, error = %e2, "could not mark the unqueued job failed");
            }
            return Err(ApiError::Unavailable(
                "the queue is unavailable; try again".into(),
            ));
        }
        tracing::info!(task_id = %task_id, lane = %job.lane, model = %job.params.model, owner = %job.owner, "job accepted");
        if let Err(e) = self.ports.nudge.nudge().await {
            // The schedule drains the queue anyway.
            tracing::warn!(task_id = %task_id, error = %e, "could not nudge the worker");
        }
        let pos = self.ports.jobs.queue_position(&job).await?;
        Ok(SubmitResponse {
            success: true,
            task_id,
            message: "Task submitted".into(),
            status: job.status,
            queue_info: QueueInfo {
                position: pos.position,
                total_pending: pos.total_pending,
                estimated_wait: None,
            },
            rate_limit_info: self.rate_limit_info().await?,
        })
    }

    async fn owned_job(&self, caller: &ApiKeyRecord, task_id: &str) -> Result<Job, ApiError> {
        let not_found = || ApiError::NotFound(format!("no task {task_id}"));
        let id = TaskId::parse(task_id).ok_or_else(not_found)?;
        match self.ports.jobs.get(&id).await? {
            // Another key's task is indistinguishable from a missing one.
            Some(job) if job.owner == caller.key_id => Ok(job),
            _ => Err(not_found()),
        }
    }

    /// `GET /task_status/{task_id}`.
    pub async fn task_status(
        &self,
        caller: &ApiKeyRecord,
        task_id: &str,
    ) -> Result<StatusResponse, ApiError> {
        let job = self.owned_job(caller, task_id).await?;
        let mut urls = Vec::with_capacity(job.image_keys.len());
        if job.status == Status::Success {
            for key in &job.image_keys {
                urls.push(
                    self.ports
                        .images
                        .url(key, self.settings.image_url_ttl)
                        .await?,
                );
            }
        }
        let queue_info = if job.status.is_waiting() {
            let pos = self.ports.jobs.queue_position(&job).await?;
            Some(QueueInfo {
                position: pos.position,
                total_pending: pos.total_pending,
                estimated_wait: None,
            })
        } else {
            None
        };
        Ok(StatusResponse {
            task_id: job.task_id.clone(),
            status: job.status,
            done: job.status.is_terminal(),
            success: job.status == Status::Success,
            image_url: urls.first().cloned(),
            image_urls: urls,
            queue_info,
            error: job.error.as_ref().map(|e| e.message.clone()),
            error_code: job.error.as_ref().map(|e| e.code.clone()),
            priority: job.lane.to_string(),
            model: job.params.model.clone(),
            seed: job.params.seed,
            width: job.params.width,
            height: job.params.height,
            n_samples: job.params.n_samples,
            attempts: job.attempts,
            created_at: rfc3339(job.created_at),
            started_at: job.started_at.map(rfc3339),
            finished_at: job.finished_at.map(rfc3339),
        })
    }
}

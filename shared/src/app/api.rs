//! The HTTP API's use cases: authenticate, submit, report status.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::error::ApiError;
use super::{input_key, mask_key};
use crate::config::Settings;
use crate::domain::request::{Limits, parse_submit};
use crate::domain::{ApiKey, ApiKeyRecord, Clock, GenerationParams, Job, JobError, Status, TaskId};
use crate::novelai::body;
use crate::novelai::cost::{Cost, anlas_cost};
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

/// The mean upstream call duration assumed before any call was measured.
pub const DEFAULT_CALL_SECONDS: f64 = 8.0;

#[derive(Debug, Serialize)]
pub struct QueueInfo {
    pub position: u64,
    pub total_pending: u64,
    /// Seconds until the job is expected to start (the pacing rules walked forward over
    /// the jobs ahead: windows, the day's quota, the interval or the measured call time).
    pub estimated_wait: u64,
    pub estimated_start_at: String,
}

#[derive(Debug, Serialize)]
pub struct RateLimitInfo {
    pub daily_limit: u64,
    pub requests_today: u64,
    pub remaining: u64,
}

#[derive(Debug, Serialize)]
pub struct LocalTime {
    pub date: String,
    pub hour: u32,
    pub time: String,
}

/// `GET /rate_limit_status`'s `rate_limit_info`: the seed's fields plus the timezone, the
/// next window and the next allowed start.
#[derive(Debug, Serialize)]
pub struct RateLimitStatus {
    pub daily_limit: u64,
    pub requests_today: u64,
    pub remaining: u64,
    /// The local time in the pacing timezone (named for the seed service, whose timezone was
    /// always Singapore's).
    pub singapore_time: LocalTime,
    pub timezone: String,
    pub allowed_windows: Vec<String>,
    pub in_allowed_window: bool,
    pub window_description: String,
    /// Start of the next window, or now when inside one.
    pub next_window_start: String,
    /// The earliest instant the next (non-test) upstream call may start.
    pub next_call_at: String,
    pub interval_seconds: (f64, f64),
    pub cooldown_seconds: (f64, f64),
}

#[derive(Debug, Serialize)]
pub struct QueueStatus {
    pub total_pending: u64,
    /// The caller's own waiting tasks and their positions.
    pub queue_positions: std::collections::BTreeMap<String, u64>,
    pub last_updated: String,
}

#[derive(Debug, Serialize)]
pub struct QueueStatusResponse {
    pub success: bool,
    pub queue_status: QueueStatus,
    /// The caller's tasks being generated right now.
    pub active_tasks: Vec<String>,
    pub last_updated: String,
}

#[derive(Debug, Serialize)]
pub struct CancelResponse {
    pub success: bool,
    pub task_id: TaskId,
    pub status: Status,
    pub message: String,
}

#[derive(Debug, Serialize)]
pub struct SubmitResponse {
    pub success: bool,
    pub task_id: TaskId,
    pub message: String,
    pub status: Status,
    pub queue_info: QueueInfo,
    pub rate_limit_info: RateLimitInfo,
    /// What NovelAI will charge (the Opus free image counted when the account has it).
    pub cost: Cost,
}

/// `dry_run: true`: what would be sent, and what it would cost; nothing is queued.
#[derive(Debug, Serialize)]
pub struct DryRunResponse {
    pub success: bool,
    pub dry_run: bool,
    pub message: String,
    /// The exact upstream body (image bytes elided).
    pub request: serde_json::Value,
    pub cost: Cost,
    pub priority: String,
}

/// What `POST /generate` answers.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Submitted {
    Queued(Box<SubmitResponse>),
    DryRun(DryRunResponse),
}

impl Submitted {
    /// The new task's id (none for a dry run).
    pub fn task_id(&self) -> Option<&TaskId> {
        match self {
            Submitted::Queued(r) => Some(&r.task_id),
            Submitted::DryRun(_) => None,
        }
    }
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
    pub cost: Cost,
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
        let pacing = &self.settings.pacing;
        let (state, _) = self.ports.state.load_pacing().await?;
        let used = state.count_on(pacing.local_day(self.clock.now()));
        Ok(RateLimitInfo {
            daily_limit: pacing.daily_limit,
            requests_today: used,
            remaining: pacing.daily_limit.saturating_sub(used),
        })
    }

    /// Position and ETA of a waiting job.
    async fn queue_info(&self, job: &Job) -> Result<QueueInfo, ApiError> {
        let pos = self.ports.jobs.queue_position(job).await?;
        let (state, _) = self.ports.state.load_pacing().await?;
        let mean = self
            .ports
            .state
            .mean_call_seconds()
            .await?
            .unwrap_or(DEFAULT_CALL_SECONDS);
        let now = self.clock.now();
        let eta = self.settings.pacing.estimate_start(
            &state,
            now,
            pos.position.saturating_sub(1),
            mean,
            job.lane == crate::domain::Lane::Test,
        );
        Ok(QueueInfo {
            position: pos.position,
            total_pending: pos.total_pending,
            estimated_wait: (eta - now).num_seconds().max(0) as u64,
            estimated_start_at: rfc3339(eta.max(now)),
        })
    }

    /// The cost of a job; the Opus free image only with the server-side account known to
    /// be Opus (per-request credentials: unknown, so no discount is assumed).
    async fn cost(
        &self,
        params: &GenerationParams,
        server_account: bool,
    ) -> Result<Cost, ApiError> {
        let opus = server_account
            && self
                .ports
                .state
                .load_account()
                .await?
                .is_some_and(|a| a.is_opus());
        Ok(anlas_cost(params, opus))
    }

    /// `POST /generate`.
    pub async fn submit(&self, caller: &ApiKeyRecord, body: &[u8]) -> Result<Submitted, ApiError> {
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
        if req.dry_run {
            let encode = |i: &crate::domain::request::InputImage| {
                base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &i.bytes)
            };
            let image_b64 = req.image.as_ref().map(encode);
            let mask_b64 = req.mask.as_ref().map(encode);
            let upstream = body::redact_images(&body::build(
                &req.params,
                image_b64.as_deref(),
                mask_b64.as_deref(),
            ));
            return Ok(Submitted::DryRun(DryRunResponse {
                success: true,
                dry_run: true,
                message: "Dry run: nothing was queued".into(),
                request: upstream,
                cost: self.cost(&req.params, req.credentials.is_none()).await?,
                priority: req.lane.to_string(),
            }));
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
        if let Some(mask) = req.mask.take() {
            let key = mask_key(&task_id);
            self.ports
                .images
                .put(&key, mask.bytes, mask.content_type)
                .await?;
            job.mask_key = Some(key);
        }
        job.cost = Some(self.cost(&job.params, req.credentials.is_none()).await?);
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
        Ok(Submitted::Queued(Box::new(SubmitResponse {
            success: true,
            task_id,
            message: "Task submitted".into(),
            status: job.status,
            queue_info: self.queue_info(&job).await?,
            rate_limit_info: self.rate_limit_info().await?,
            cost: job.cost.expect("set at submit"),
        })))
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
            Some(self.queue_info(&job).await?)
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
            cost: job.cost.unwrap_or_else(|| anlas_cost(&job.params, false)),
            attempts: job.attempts,
            created_at: rfc3339(job.created_at),
            started_at: job.started_at.map(rfc3339),
            finished_at: job.finished_at.map(rfc3339),
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
        if !job.status.is_waiting() {
            return Err(ApiError::Conflict(format!(
                "task {} is {} and can no longer be cancelled",
                job.task_id, job.status
            )));
        }
        let expected = job.status;
        job.revoke(self.clock.now());
        match self.ports.jobs.replace(&job, expected).await {
            Ok(()) => {}
            Err(PortError::Conflict(_)) => {
                return Err(ApiError::Conflict(format!(
                    "task {} was sent upstream meanwhile and can no longer be cancelled",
                    job.task_id
                )));
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(task_id = %job.task_id, "job cancelled");
        Ok(CancelResponse {
            success: true,
            task_id: job.task_id,
            status: job.status,
            message: "Task cancelled".into(),
        })
    }

    /// `GET /queue_status`: totals, and the positions of the caller's own waiting tasks.
    pub async fn queue_status(
        &self,
        caller: &ApiKeyRecord,
    ) -> Result<QueueStatusResponse, ApiError> {
        let mine = self.ports.jobs.active_for_owner(&caller.key_id).await?;
        let mut positions = std::collections::BTreeMap::new();
        let mut active = Vec::new();
        for job in &mine {
            if job.status.is_waiting() {
                let pos = self.ports.jobs.queue_position(job).await?;
                positions.insert(job.task_id.to_string(), pos.position);
            } else if job.status == Status::Started {
                active.push(job.task_id.to_string());
            }
        }
        let now = rfc3339(self.clock.now());
        Ok(QueueStatusResponse {
            success: true,
            queue_status: QueueStatus {
                total_pending: self.ports.jobs.total_pending().await?,
                queue_positions: positions,
                last_updated: now.clone(),
            },
            active_tasks: active,
            last_updated: now,
        })
    }

    /// `GET /rate_limit_status`.
    pub async fn rate_limit_status(&self) -> Result<RateLimitStatus, ApiError> {
        let pacing = &self.settings.pacing;
        let now = self.clock.now();
        let (state, _) = self.ports.state.load_pacing().await?;
        let used = state.count_on(pacing.local_day(now));
        let local = now.with_timezone(&pacing.timezone);
        let windows: Vec<String> = pacing.windows.iter().map(ToString::to_string).collect();
        let in_window = pacing.in_window(now);
        let next_window = pacing.next_window_start(now);
        let description = if in_window {
            format!(
                "inside an allowed window ({} {})",
                windows.join(", "),
                pacing.timezone
            )
        } else {
            format!(
                "outside the allowed windows ({} {}); the next opens at {}",
                windows.join(", "),
                pacing.timezone,
                next_window
                    .with_timezone(&pacing.timezone)
                    .format("%Y-%m-%d %H:%M")
            )
        };
        Ok(RateLimitStatus {
            daily_limit: pacing.daily_limit,
            requests_today: used,
            remaining: pacing.daily_limit.saturating_sub(used),
            singapore_time: LocalTime {
                date: local.format("%Y-%m-%d").to_string(),
                hour: chrono::Timelike::hour(&local),
                time: local.format("%H:%M:%S").to_string(),
            },
            timezone: pacing.timezone.to_string(),
            allowed_windows: windows,
            in_allowed_window: in_window,
            window_description: description,
            next_window_start: rfc3339(next_window),
            next_call_at: rfc3339(pacing.earliest_start(&state, now, false)),
            interval_seconds: pacing.interval,
            cooldown_seconds: pacing.cooldown,
        })
    }
}

//! The JSON answers of the API's routes: the seed service's fields, with naiq's next to
//! them.

use serde::Serialize;

use crate::domain::request::Warning;
use crate::domain::{Cost, Status, TaskId};
use crate::novelai::request::JsNumber;

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueInfo {
    pub position: u64,
    pub total_pending: u64,
    /// Seconds until the job is expected to start (the pacing rules walked forward over
    /// the jobs ahead: windows, the day's quota, the interval or the measured call time).
    pub estimated_wait: u64,
    pub estimated_start_at: String,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitInfo {
    pub daily_limit: u64,
    pub requests_today: u64,
    pub remaining: u64,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LocalTime {
    pub date: String,
    pub hour: u32,
    pub time: String,
}

/// `GET /rate_limit_status`'s `rate_limit_info`: the seed's fields plus the timezone, the
/// next window and the next allowed start.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitStatus {
    pub daily_limit: u64,
    pub requests_today: u64,
    pub remaining: u64,
    /// The local time in the pacing timezone (named for the seed service, whose timezone was
    /// always Singapore's).
    pub singapore_time: LocalTime,
    pub timezone: String,
    /// The windows as `[start, end]` hours, as the seed gave them (`[[6, 9], [12, 14]]`);
    /// an hour with minutes is a fraction (`6.5` for 06:30).
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Vec<f64>>))]
    pub allowed_windows: Vec<[JsNumber; 2]>,
    /// The windows as `HH:MM-HH:MM`.
    pub windows: Vec<String>,
    pub in_allowed_window: bool,
    /// The windows as the seed described them: `6:00-9:00, 12:00-14:00, 19:00-23:00`.
    pub window_description: String,
    /// Whether a window is open, and when the next one opens.
    pub window_status: String,
    /// Start of the next window, or now when inside one.
    pub next_window_start: String,
    /// The earliest instant the next (non-test) upstream call may start.
    pub next_call_at: String,
    /// The gap between two calls' starts, `[min, max]` seconds.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f64>, min_items = 2, max_items = 2))]
    pub interval_seconds: (f64, f64),
    /// The wait after a failed call, `[min, max]` seconds.
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<f64>, min_items = 2, max_items = 2))]
    pub cooldown_seconds: (f64, f64),
    /// The server-side NovelAI account as the worker last read it (no secret in it), or
    /// null before the first read.
    pub account: Option<AccountStatus>,
}

/// The server-side account's state: what it is, what it has left.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountStatus {
    pub tier: u8,
    pub tier_name: &'static str,
    pub active: bool,
    pub anlas: u64,
    /// Opus's V5 usage limit, when the account has one.
    pub v5_usage: Option<V5UsageStatus>,
    pub checked_at: String,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct V5UsageStatus {
    pub percent: i64,
    pub is_negative: bool,
    pub seconds_to_next_percent: u64,
    /// Whether V5 images still get Opus's free image.
    pub free_v5_images: bool,
}

/// `GET /rate_limit_status`'s answer.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimitStatusResponse {
    pub success: bool,
    pub rate_limit_info: RateLimitStatus,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueStatus {
    pub total_pending: u64,
    /// The caller's own waiting tasks and their positions.
    pub queue_positions: std::collections::BTreeMap<String, u64>,
    /// Epoch seconds, as the seed service gave it (`1679012345.67`).
    pub last_updated: f64,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct QueueStatusResponse {
    pub success: bool,
    pub queue_status: QueueStatus,
    /// How many of the caller's tasks are being generated right now (the seed's count).
    pub active_tasks: u64,
    /// Their ids.
    pub active_task_ids: Vec<String>,
    /// Local time in the pacing timezone, `YYYY-MM-DD HH:MM:SS`, as the seed gave it.
    pub last_updated: String,
    /// The same instant in RFC 3339.
    pub last_updated_at: String,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CancelResponse {
    pub success: bool,
    pub task_id: TaskId,
    pub status: Status,
    pub message: String,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubmitResponse {
    pub success: bool,
    pub task_id: TaskId,
    pub message: String,
    pub status: Status,
    /// Null only when the job is queued but its position could not be read just now.
    pub queue_info: Option<QueueInfo>,
    /// Null only when the job is queued but the day's count could not be read just now.
    pub rate_limit_info: Option<RateLimitInfo>,
    /// What NovelAI will charge (the Opus free image counted when the account has it).
    pub cost: Cost,
    /// Where to poll the task, and where to cancel it.
    pub status_url: String,
    pub cancel_url: String,
    /// When polling can first show a change.
    pub poll_after_seconds: u64,
    /// Values brought into range (`{field, given, sent, message}`); absent when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// `dry_run: true`: what would be sent, and what it would cost; nothing is queued.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DryRunResponse {
    pub success: bool,
    pub dry_run: bool,
    pub message: String,
    /// The exact upstream body (image bytes elided).
    pub request: serde_json::Value,
    pub cost: Cost,
    pub priority: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// What `POST /generate` answers.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

/// `GET /tasks`: a page of the caller's tasks, newest first.
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TaskList {
    pub success: bool,
    pub tasks: Vec<StatusResponse>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusResponse {
    pub task_id: TaskId,
    pub status: Status,
    pub done: bool,
    pub success: bool,
    /// For an unfinished task: when polling can first show a change (also sent as
    /// `Retry-After`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_after_seconds: Option<u64>,
    pub image_url: Option<String>,
    pub image_urls: Vec<String>,
    /// While the task is `STARTED` and NovelAI streams its steps (V4, V4.5 and V5
    /// text-to-image): the steps done so far of the sample being made. Updated every
    /// couple of steps, at most about once a second. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<crate::domain::job::Progress>,
    /// With `progress`: a presigned URL of the latest step's small JPEG preview, valid as
    /// long as the image URLs. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_url: Option<String>,
    pub queue_info: Option<QueueInfo>,
    pub error: Option<String>,
    pub error_code: Option<String>,
    pub priority: String,
    /// What the job asks of NovelAI: `generate`, `augment` (a Director tool) or `upscale`.
    pub kind: &'static str,
    /// The Director tool of an `augment` job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<&'static str>,
    /// The model of a generation (the model sent with an upscale; the tool of an augment).
    pub model: String,
    pub seed: u32,
    pub width: u32,
    pub height: u32,
    pub n_samples: u32,
    pub cost: Cost,
    pub attempts: u32,
    /// The error of each failed attempt, oldest first (at most eight): every attempt made
    /// is counted in `attempts`, and each that failed is here.
    pub attempt_errors: Vec<AttemptErrorInfo>,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// With a `webhook_url`: the delivery of each event so far (pending, delivered,
    /// retrying or dead, with the attempts, the last HTTP status or error and the next
    /// attempt). Only `GET /task_status` shows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webhooks: Option<Vec<crate::webhooks::DeliveryState>>,
}

/// One failed attempt, as `task_status` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttemptErrorInfo {
    /// 1 for the first attempt.
    pub attempt: u32,
    /// A stable code: `upstream_busy`, `upstream_error`, `upstream_unreachable`,
    /// `interrupted` (the worker stopped during the attempt), …
    pub code: String,
    pub message: String,
    /// RFC 3339.
    pub at: String,
}

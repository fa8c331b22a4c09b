//! Narrow async ports. Each has an in-memory adapter (`adapters::memory`) and an AWS
//! adapter; `contract` holds the behavioural tests both must pass.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::account::AccountInfo;
use crate::domain::pacing::PacingState;
use crate::domain::{ApiKeyRecord, Credentials, Job, Lane, Status, TaskId};

/// A failure of a store or service behind a port (network, permissions, throttling…).
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// A conditional write lost: the item was not in the expected state.
    #[error("conflict: {0}")]
    Conflict(String),
    #[error("{service} failed: {message}")]
    Backend {
        service: &'static str,
        message: String,
    },
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

impl PortError {
    pub fn backend(service: &'static str, err: impl std::fmt::Display) -> Self {
        PortError::Backend {
            service,
            message: err.to_string(),
        }
    }
}

pub type PortResult<T> = Result<T, PortError>;

/// Where a waiting job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePosition {
    /// 1 = next to start.
    pub position: u64,
    /// All waiting jobs.
    pub total_pending: u64,
}

/// The jobs table.
#[async_trait]
pub trait JobStore: Send + Sync {
    /// Writes a new job; `Conflict` if the task id exists.
    async fn insert(&self, job: &Job) -> PortResult<()>;
    async fn get(&self, task_id: &TaskId) -> PortResult<Option<Job>>;
    /// Replaces the job only if its stored status is still `expected`; `Conflict` otherwise.
    async fn replace(&self, job: &Job, expected: Status) -> PortResult<()>;
    /// The position of a waiting job among all waiting jobs (lane, then age).
    async fn queue_position(&self, job: &Job) -> PortResult<QueuePosition>;
    /// The number of waiting jobs.
    async fn total_pending(&self) -> PortResult<u64>;
    /// An owner's jobs that are not finished (waiting or started), oldest first.
    async fn active_for_owner(&self, owner: &str) -> PortResult<Vec<Job>>;
}

/// The body of a queue message: which job, and per-request credentials if the client sent
/// any (the queue is encrypted; they are never written anywhere else).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueMessage {
    pub task_id: TaskId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
}

/// A received message, to be acknowledged once handled.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub lane: Lane,
    pub receipt: String,
    pub message: QueueMessage,
    /// How many times it has been received (1 on first delivery).
    pub receive_count: u32,
    /// Received from the dead-letter queue (an unreadable message there carries a nil
    /// task id).
    pub dead_letter: bool,
}

/// The lane queues (FIFO within a lane).
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn send(&self, lane: Lane, message: &QueueMessage) -> PortResult<()>;
    /// The next message of the highest non-empty lane among `lanes` (in `Lane::ALL`
    /// order), hidden from other receivers until it is acknowledged or released.
    async fn receive(&self, lanes: &[Lane]) -> PortResult<Option<Delivery>>;
    /// The next message that failed `MAX_RECEIVE_COUNT` deliveries.
    async fn receive_dead_letter(&self) -> PortResult<Option<Delivery>>;
    /// Deletes a handled message.
    async fn ack(&self, delivery: &Delivery) -> PortResult<()>;
    /// Makes the message visible again at once (it is not done).
    async fn release(&self, delivery: &Delivery) -> PortResult<()>;
}

/// Image objects (S3).
#[async_trait]
pub trait ImageStore: Send + Sync {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()>;
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>>;
    /// A URL that serves the object for `ttl_seconds`.
    async fn url(&self, key: &str, ttl_seconds: u64) -> PortResult<String>;
}

/// The server-side NovelAI credentials (Secrets Manager).
#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn get(&self) -> PortResult<Option<Credentials>>;
    async fn put(&self, credentials: &Credentials) -> PortResult<()>;
}

/// API keys, by hash.
#[async_trait]
pub trait KeyStore: Send + Sync {
    /// Stores a new key; `Conflict` if the hash exists.
    async fn insert(&self, record: &ApiKeyRecord) -> PortResult<()>;
    async fn find(&self, key_hash: &str) -> PortResult<Option<ApiKeyRecord>>;
}

/// Shared worker state: the drain lease, the pacing state and call statistics.
#[async_trait]
pub trait StateStore: Send + Sync {
    /// Takes the named lease for `holder` until `until`, if it is free or expired at `now`
    /// (or already held by `holder`: then it is extended). Returns whether it was taken.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> PortResult<bool>;
    /// Frees the lease if `holder` still holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> PortResult<()>;
    /// The pacing state (next allowed start, the day's count) and its version; version 0
    /// means it was never written.
    async fn load_pacing(&self) -> PortResult<(PacingState, u64)>;
    /// Writes the pacing state as version `expected + 1`, only if the stored version is still
    /// `expected` (one conditional write: two racing workers can never both take a slot);
    /// `Conflict` otherwise.
    async fn save_pacing(&self, state: &PacingState, expected: u64) -> PortResult<()>;
    /// Records how long one upstream call took.
    async fn record_call_duration(&self, millis: u64) -> PortResult<()>;
    /// The mean upstream call duration in seconds, once any call was recorded.
    async fn mean_call_seconds(&self) -> PortResult<Option<f64>>;
    /// Remembers the server-side account's subscription.
    async fn save_account(&self, account: &AccountInfo) -> PortResult<()>;
    /// The server-side account's subscription, as last read.
    async fn load_account(&self) -> PortResult<Option<AccountInfo>>;
}

/// Asks the worker to drain the queue soon (an asynchronous invoke on AWS).
#[async_trait]
pub trait WorkerNudge: Send + Sync {
    async fn nudge(&self) -> PortResult<()>;
}

/// A NovelAI generation failure, classified for retry decisions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpstreamError {
    /// NovelAI answered with an error status.
    #[error("NovelAI answered {status}: {message}")]
    Status { status: u16, message: String },
    /// No answer: connection refused, reset, or timed out.
    #[error("NovelAI could not be reached: {0}")]
    Network(String),
    /// A 200 whose body is not the expected zip of PNGs.
    #[error("NovelAI sent an unreadable result: {0}")]
    BadResponse(String),
}

impl UpstreamError {
    /// The job error code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            UpstreamError::Status { status: 400, .. } => "upstream_invalid_request",
            UpstreamError::Status {
                status: 401 | 403, ..
            } => "upstream_auth_failed",
            UpstreamError::Status { status: 402, .. } => "insufficient_anlas",
            UpstreamError::Status { status: 429, .. } => "upstream_busy",
            UpstreamError::Status { .. } => "upstream_error",
            UpstreamError::Network(_) => "upstream_unreachable",
            UpstreamError::BadResponse(_) => "upstream_bad_response",
        }
    }

    /// Whether another attempt may succeed (429, 5xx, network).
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Status { status, .. } => *status == 429 || *status >= 500,
            UpstreamError::Network(_) => true,
            UpstreamError::BadResponse(_) => false,
        }
    }
}

/// One image NovelAI returned.
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedImage {
    pub png: Vec<u8>,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for GeneratedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GeneratedImage({}x{}, {} bytes)",
            self.width,
            self.height,
            self.png.len()
        )
    }
}

/// The NovelAI image API.
#[async_trait]
pub trait Upstream: Send + Sync {
    /// Sends one generation request body (as built by `novelai::body`) and returns the images.
    async fn generate(
        &self,
        credentials: &Credentials,
        body: &serde_json::Value,
    ) -> Result<Vec<GeneratedImage>, UpstreamError>;
    /// Logs in if need be and reads the account's subscription.
    async fn subscription(&self, credentials: &Credentials) -> Result<AccountInfo, UpstreamError>;
}

//! The lane queues and their dead-letter queue. Inside a lane, each key's messages form
//! one FIFO group: while a message of a group is received and not yet acknowledged or
//! released, no other message of that group is delivered, so receiving until the lane is
//! empty yields the next job of every key that has one (the worker picks whose turn it
//! is, `domain::turns`).

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::PortResult;
use crate::domain::{Credentials, Lane, TaskId};

/// How many receives a message gets before the queue moves it to the dead-letter queue.
/// Every retry of a job is one receive, so `MAX_ATTEMPTS` stays well below it.
pub const MAX_RECEIVE_COUNT: u32 = 10;

/// How long the lane queues keep a message (SQS's longest, 14 days). The reaper fails a
/// job that waited longer (`worker::reaper`); `template.yaml` and provisioning use this
/// (a test checks).
pub const MESSAGE_RETENTION_SECONDS: u32 = 1_209_600;

/// The body of a queue message: which job, and per-request credentials if the client sent
/// any (the queue is encrypted; they are never written anywhere else).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueMessage {
    pub task_id: TaskId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<Credentials>,
    /// The key (owner id) the job belongs to: its turn group inside the lane. A message
    /// without one (queued before fair turns) belongs to one shared group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

impl QueueMessage {
    /// The turn group of the message: its owner, or the shared group of old messages.
    pub fn group(&self) -> &str {
        self.owner.as_deref().unwrap_or("")
    }
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

/// The lane queues (FIFO within a key's group in a lane).
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn send(&self, lane: Lane, message: &QueueMessage) -> PortResult<()>;
    /// The next message of the highest non-empty lane among `lanes` (in `Lane::ALL`
    /// order) of a group with no message in flight, hidden from other receivers until it
    /// is acknowledged or released.
    async fn receive(&self, lanes: &[Lane]) -> PortResult<Option<Delivery>>;
    /// The next message that failed [`MAX_RECEIVE_COUNT`] deliveries.
    async fn receive_dead_letter(&self) -> PortResult<Option<Delivery>>;
    /// Deletes a handled message.
    async fn ack(&self, delivery: &Delivery) -> PortResult<()>;
    /// Makes the message visible again at once (it is not done).
    async fn release(&self, delivery: &Delivery) -> PortResult<()>;
    /// Keeps a received message hidden for `seconds` from now: the heartbeat of a job that
    /// is running. The queues' own visibility timeout is short, so a crashed worker's
    /// message comes back in minutes while a live worker keeps its own.
    async fn keep_hidden(&self, delivery: &Delivery, seconds: u32) -> PortResult<()>;
    /// How many messages the lane queues hold: visible, in flight and delayed (SQS counts
    /// them approximately; a message sent in the last minute may be missing).
    async fn backlog(&self) -> PortResult<u64>;
}

//! The delivery state of one event, as `GET /task_status/{id}` shows it under `webhooks`.
//! It is kept apart from the job (its own item), so the worker's conditional writes of the
//! job never overwrite it, nor it them.

use serde::{Deserialize, Serialize};

use super::event::EventType;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Queued; no attempt has finished yet.
    Pending,
    /// The receiver answered 2xx.
    Delivered,
    /// The last attempt failed; another is due at `next_attempt_at`.
    Retrying,
    /// Given up (the retries are spent, or the address is refused): in the dead-letter queue.
    Dead,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeliveryState {
    pub event: EventType,
    /// The `webhook-id` the receiver sees.
    pub webhook_id: String,
    pub state: DeliveryStatus,
    /// Attempts made so far.
    pub attempts: u32,
    /// The HTTP status of the last answer, if there was one.
    pub last_status: Option<u16>,
    /// Why the last attempt failed, when it did (never a secret).
    pub last_error: Option<String>,
    /// When the next attempt is due (RFC 3339), while retrying.
    pub next_attempt_at: Option<String>,
    /// When this state was recorded (RFC 3339).
    pub updated_at: Option<String>,
}

impl DeliveryState {
    /// What a queued event with no finished attempt shows.
    pub fn pending(event: EventType, webhook_id: String) -> Self {
        Self {
            event,
            webhook_id,
            state: DeliveryStatus::Pending,
            attempts: 0,
            last_status: None,
            last_error: None,
            next_attempt_at: None,
            updated_at: None,
        }
    }
}

//! The webhook ports: the webhook queue (a standard queue with a dead-letter queue of its
//! own, apart from the lanes), the transport that POSTs to an address already checked,
//! the delivery-state store, and the per-key signing secrets.

use std::net::{IpAddr, SocketAddr};

use async_trait::async_trait;

use super::PortResult;
use crate::domain::TaskId;
use crate::webhooks::{DeliveryState, WebhookMessage, WebhookSecret, WebhookUrl};

/// A received webhook message, to be acknowledged, retried later or dead-lettered.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    pub receipt: String,
    pub message: WebhookMessage,
    /// How many times it has been received (1 on the first attempt).
    pub receive_count: u32,
}

/// The webhook queue: at-least-once, in no particular order.
#[async_trait]
pub trait WebhookQueue: Send + Sync {
    async fn send(&self, message: &WebhookMessage) -> PortResult<()>;
    /// Up to `max` visible messages (none when the queue is empty).
    async fn receive(&self, max: u32) -> PortResult<Vec<WebhookDelivery>>;
    /// Deletes a delivered message.
    async fn ack(&self, delivery: &WebhookDelivery) -> PortResult<()>;
    /// Hides the message for `seconds` (at most 43,200, SQS's limit); it comes back then.
    async fn retry_after(&self, delivery: &WebhookDelivery, seconds: u32) -> PortResult<()>;
    /// Moves the message to the dead-letter queue.
    async fn dead_letter(&self, delivery: &WebhookDelivery) -> PortResult<()>;
}

/// One POST of a signed event to an address the caller has checked.
#[derive(Debug, Clone)]
pub struct WebhookRequest<'a> {
    pub url: &'a WebhookUrl,
    /// Where to connect: the URL's host stays the TLS name and the `Host` header, but no
    /// second resolution happens (so DNS rebinding cannot move the connection).
    pub address: SocketAddr,
    pub headers: Vec<(&'static str, String)>,
    pub body: &'a [u8],
    pub timeout_ms: u64,
}

/// Why an attempt got no HTTP answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("no answer within {0} ms")]
    Timeout(u64),
    #[error("could not resolve the host: {0}")]
    Resolve(String),
    #[error("could not connect: {0}")]
    Connect(String),
    #[error("{0}")]
    Other(String),
}

/// Resolves receivers' names and POSTs to one checked address.
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    async fn resolve(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, TransportError>;
    /// The receiver's HTTP status (redirects are not followed).
    async fn post(&self, request: WebhookRequest<'_>) -> Result<u16, TransportError>;
}

/// The delivery state of each event of a task, kept apart from the job.
#[async_trait]
pub trait WebhookStateStore: Send + Sync {
    /// Records the state of `state.event` (replacing that event's previous state only).
    async fn record_delivery(&self, task_id: &TaskId, state: &DeliveryState) -> PortResult<()>;
    async fn deliveries(&self, task_id: &TaskId) -> PortResult<Vec<DeliveryState>>;
}

/// The signing secret of each API key, by key id.
#[async_trait]
pub trait WebhookSecretStore: Send + Sync {
    /// Sets (or replaces, on rotation) the key's secret.
    async fn put_secret(&self, key_id: &str, secret: &WebhookSecret) -> PortResult<()>;
    async fn secret(&self, key_id: &str) -> PortResult<Option<WebhookSecret>>;
}

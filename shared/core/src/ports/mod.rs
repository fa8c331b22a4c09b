//! The ports: narrow async traits, one concern each, through which the use cases reach
//! the world. Each has an in-memory adapter (`naiq-testkit`) and an AWS adapter
//! (`naiq-adapters`), and both pass the same contract suite (`naiq-testkit`'s `contract`).

mod account_cache;
mod call_stats;
mod idempotency;
mod images;
mod jobs;
mod keys;
mod lease;
mod ledger;
mod nudge;
mod pacing;
mod previews;
mod queue;
mod secrets;
mod time;
mod upstream;
mod webhooks;

pub use account_cache::AccountCache;
pub use call_stats::CallStats;
pub use idempotency::{Claim, IdempotencyStore};
pub use images::ImageStore;
pub use jobs::{
    JobPage, JobStore, QueuePosition, StatusRead, counters_and_pacing,
    counters_and_versioned_pacing,
};
pub use keys::KeyStore;
pub use lease::LeaseStore;
pub use ledger::{HoldLimits, HoldRefused, Ledger, LedgerDay};
pub use nudge::WorkerNudge;
pub use pacing::PacingStore;
pub use previews::{NoPreviews, Preview, PreviewSink};
pub use queue::{Delivery, JobQueue, MAX_RECEIVE_COUNT, MESSAGE_RETENTION_SECONDS, QueueMessage};
pub use secrets::SecretStore;
pub use time::{Clock, Sleeper};
pub use upstream::{GeneratedImage, Upstream, UpstreamError};
pub use webhooks::{
    TransportError, WebhookDelivery, WebhookQueue, WebhookRequest, WebhookSecretStore,
    WebhookStateStore, WebhookTransport,
};

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
    /// A paging cursor that is not one this store handed out.
    #[error("invalid cursor")]
    BadCursor,
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

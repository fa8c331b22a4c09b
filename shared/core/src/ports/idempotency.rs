//! Idempotency keys: a retried submit with the same `Idempotency-Key` gets the first
//! answer instead of a second (paid) job. Records expire (DynamoDB TTL on AWS).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::PortResult;

/// What a claim on a key found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The key was free (or its earlier holder gave up or went stale): it is ours now.
    New,
    /// Another request with this key is being handled right now.
    InProgress { fingerprint: String },
    /// A request with this key was answered: its fingerprint and its answer.
    Done {
        fingerprint: String,
        response: String,
    },
}

/// The idempotency records, one per (API key, Idempotency-Key).
#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    /// Claims `key` for a request with `fingerprint`: `New` if it was free, expired, or
    /// held in progress past `stale_after`; otherwise what is there. The record lives
    /// until `expires`.
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_after: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> PortResult<Claim>;
    /// Records the answer of the request that holds `key`.
    async fn complete(&self, key: &str, response: &str) -> PortResult<()>;
    /// Gives `key` up (the request failed before anything was queued): a retry may run.
    async fn release(&self, key: &str) -> PortResult<()>;
}

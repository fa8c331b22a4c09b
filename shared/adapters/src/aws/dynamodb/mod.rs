//! DynamoDB adapters: the jobs table (with its queue index), the keys table and the
//! state table (drain lease, per-day call counters).
//!
//! `codec` turns jobs into items and back; `jobs`, `keys` and `state` are the stores. The
//! state table holds four small items (the drain lease, the pacing state, call statistics
//! and the account cache), so one `DynamoStateStore` implements the four ports.

mod codec;
mod idempotency;
mod jobs;
mod keys;
mod ledger;
mod owner_jobs;
mod state;
mod turns;
mod webhooks;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use naiq_core::ports::{PortError, PortResult};

pub use codec::{item_to_job, job_to_item};
pub use jobs::DynamoJobStore;
pub use keys::DynamoKeyStore;
pub use state::DynamoStateStore;

use super::describe;

/// Names the code and `template.yaml` agree on (a test checks the template).
pub mod schema {
    pub const JOBS_KEY: &str = "task_id";
    pub const QUEUE_INDEX: &str = "queue-index";
    pub const QUEUE_INDEX_HASH: &str = "queue";
    pub const QUEUE_INDEX_RANGE: &str = "queue_order";
    /// Sparse: only unfinished jobs carry its hash key, so a key's queue status reads its
    /// few live jobs, not its whole history.
    pub const ACTIVE_INDEX: &str = "active-index";
    pub const ACTIVE_INDEX_HASH: &str = "active_owner";
    pub const ACTIVE_INDEX_RANGE: &str = "created_at";
    /// Every job by its owner, newest first (`GET /tasks`).
    pub const OWNER_INDEX: &str = "owner-index";
    pub const OWNER_INDEX_HASH: &str = "owner";
    pub const OWNER_INDEX_RANGE: &str = "created_at";
    /// The prefix of the queue index's hash key (`WAITING#<lane>#<owner>`): only waiting
    /// jobs carry it.
    pub const QUEUE_WAITING: &str = "WAITING";
    /// The jobs table's key of a lane's counters (`queue-counters#<lane>`); never a task
    /// id, and in no index.
    pub const COUNTERS_PREFIX: &str = "queue-counters#";
    pub const KEYS_KEY: &str = "key_hash";
    /// Every key by its public id (`naiq keys show`, the worker's check of a job's key).
    pub const KEY_ID_INDEX: &str = "key-id-index";
    pub const KEY_ID_INDEX_HASH: &str = "key_id";
    pub const STATE_KEY: &str = "name";
    /// Epoch seconds after which DynamoDB may delete a state item.
    pub const STATE_TTL: &str = "expires_at_epoch";
}

pub(super) type Item = HashMap<String, AttributeValue>;

pub(super) fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub(super) fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub(super) fn ts(t: DateTime<Utc>) -> AttributeValue {
    s(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

pub(super) fn get_s<'a>(item: &'a Item, name: &str) -> PortResult<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| PortError::Corrupt(format!("attribute {name} missing or not a string")))
}

pub(super) fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

pub(super) fn get_ts(item: &Item, name: &str) -> PortResult<DateTime<Utc>> {
    parse_ts(get_s(item, name)?, name)
}

pub(super) fn parse_ts(v: &str, name: &str) -> PortResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| PortError::Corrupt(format!("attribute {name}: {e}")))
}

pub(super) fn opt_ts(item: &Item, name: &str) -> PortResult<Option<DateTime<Utc>>> {
    opt_s(item, name).map(|v| parse_ts(v, name)).transpose()
}

pub(super) fn is_conditional_failure<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

pub(super) fn backend<E: std::error::Error>(err: E) -> PortError {
    PortError::backend("DynamoDB", describe(&err))
}

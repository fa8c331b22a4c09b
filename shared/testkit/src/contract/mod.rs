//! Behavioural tests every adapter of a port must pass. The in-memory adapters run them in
//! this crate's `tests/contract_memory.rs`, the AWS adapters on the emulator in
//! `naiq-adapters`' `tests/contract_aws.rs`.
//! Each suite expects fresh, empty resources.

mod account_cache;
mod call_stats;
mod entry_marks;
mod idempotency;
mod images;
mod jobs;
mod keys;
mod lease;
mod ledger;
mod pacing;
mod queue;
mod secrets;
mod status_read;
mod webhooks;

pub use account_cache::account_cache;
pub use call_stats::call_stats;
pub use entry_marks::entry_marks;
pub use idempotency::idempotency_store;
pub use images::image_store;
pub use jobs::{job_listing, job_store, job_waiting_before, queue_counters};
pub use keys::key_store;
pub use lease::lease_store;
pub use ledger::ledger;
pub use pacing::pacing_store;
pub use queue::{dead_letters, heartbeat_and_backlog, job_queue, job_queue_groups};
pub use secrets::secret_store;
pub use status_read::status_read;
pub use webhooks::{webhook_queue, webhook_secrets, webhook_states};

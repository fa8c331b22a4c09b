//! In-memory adapters behind every port, for fast tests of the use cases. They keep the
//! ports' contracts (the same suites as the AWS adapters pass, `crate::contract`).

mod idempotency;
mod images;
mod jobs;
mod keys;
mod ledger;
mod nudge;
mod queue;
mod secrets;
mod state;
mod upstream;
mod webhooks;

pub use idempotency::MemoryIdempotencyStore;
pub use images::MemoryImageStore;
pub use jobs::MemoryJobStore;
pub use keys::MemoryKeyStore;
pub use ledger::MemoryLedger;
pub use nudge::MemoryNudge;
pub use queue::MemoryQueue;
pub use secrets::MemorySecretStore;
pub use state::MemoryStateStore;
pub use upstream::MemoryUpstream;
pub use webhooks::{
    MemoryTransport, MemoryWebhookQueue, MemoryWebhookSecrets, MemoryWebhookStates, SentWebhook,
    unused_webhook_ports,
};

use std::sync::Mutex;

/// Locks a mutex, recovering the data if a panicking test poisoned it.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

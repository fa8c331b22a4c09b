//! Webhooks: signed task events (`task.started`, `task.succeeded`, `task.failed`,
//! `task.cancelled`) delivered at least once through a queue of their own, apart from the
//! pacing path. The producers (worker, API) only queue an event ([`notify`]); the delivery
//! function ([`Deliverer`]) signs it (Standard Webhooks), checks where it may go and POSTs
//! it, retrying on a schedule that spans more than a day.

mod address;
mod deliver;
mod event;
mod notify;
mod signing;
mod state;
mod target;

pub use address::{AddressClass, allowed, classify};
pub use deliver::{Deliverer, DelivererPorts, DeliveryReport};
pub use event::{EventType, WebhookMessage};
pub use notify::{WebhookPorts, notify};
pub use signing::{BadSecret, SECRET_BYTES, WebhookSecret};
pub use state::{DeliveryState, DeliveryStatus};
pub use target::{BadUrl, MAX_URL_BYTES, Target, WebhookUrl};

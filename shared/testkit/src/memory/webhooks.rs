//! The webhook ports in memory: a queue whose retries wait on the injected clock, the
//! delivery states, the per-key secrets, and a transport that resolves from a table and
//! records what it was asked to send (or answers as scripted).

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use naiq_core::domain::TaskId;
use naiq_core::ports::*;
use naiq_core::webhooks::{DeliveryState, WebhookMessage, WebhookSecret};

use super::lock;

struct Held {
    receipt: u64,
    message: WebhookMessage,
    receives: u32,
    visible_at: DateTime<Utc>,
}

/// The webhook queue: a message being handled is hidden for `VISIBILITY` (as SQS's
/// visibility timeout), and a retry for the wait it was given, on the injected clock.
pub struct MemoryWebhookQueue {
    clock: Arc<dyn Clock>,
    held: Mutex<(u64, Vec<Held>)>,
    /// Messages moved to the dead-letter queue.
    pub dead: Mutex<Vec<WebhookMessage>>,
}

const VISIBILITY: Duration = Duration::seconds(60);

impl MemoryWebhookQueue {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            held: Mutex::new((0, Vec::new())),
            dead: Mutex::new(Vec::new()),
        }
    }

    /// Messages still queued (visible or not).
    pub fn len(&self) -> usize {
        lock(&self.held).1.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every queued message, for tests to look at.
    pub fn messages(&self) -> Vec<WebhookMessage> {
        lock(&self.held)
            .1
            .iter()
            .map(|h| h.message.clone())
            .collect()
    }

    fn take(&self, delivery: &WebhookDelivery) -> PortResult<Held> {
        let mut held = lock(&self.held);
        let pos = held
            .1
            .iter()
            .position(|h| h.receipt.to_string() == delivery.receipt)
            .ok_or_else(|| PortError::backend("webhook queue", "unknown receipt"))?;
        Ok(held.1.remove(pos))
    }
}

#[async_trait]
impl WebhookQueue for MemoryWebhookQueue {
    async fn send(&self, message: &WebhookMessage) -> PortResult<()> {
        let now = self.clock.now();
        let mut held = lock(&self.held);
        held.0 += 1;
        let receipt = held.0;
        held.1.push(Held {
            receipt,
            message: message.clone(),
            receives: 0,
            visible_at: now,
        });
        Ok(())
    }

    async fn receive(&self, max: u32) -> PortResult<Vec<WebhookDelivery>> {
        let now = self.clock.now();
        let mut held = lock(&self.held);
        let mut out = Vec::new();
        let mut next = held.0;
        for h in held.1.iter_mut() {
            if out.len() as u32 >= max {
                break;
            }
            if h.visible_at <= now {
                next += 1;
                h.receipt = next;
                h.receives += 1;
                h.visible_at = now + VISIBILITY;
                out.push(WebhookDelivery {
                    receipt: h.receipt.to_string(),
                    message: h.message.clone(),
                    receive_count: h.receives,
                });
            }
        }
        held.0 = next;
        Ok(out)
    }

    async fn ack(&self, delivery: &WebhookDelivery) -> PortResult<()> {
        self.take(delivery).map(|_| ())
    }

    async fn retry_after(&self, delivery: &WebhookDelivery, seconds: u32) -> PortResult<()> {
        let now = self.clock.now();
        let mut held = lock(&self.held);
        let h = held
            .1
            .iter_mut()
            .find(|h| h.receipt.to_string() == delivery.receipt)
            .ok_or_else(|| PortError::backend("webhook queue", "unknown receipt"))?;
        h.visible_at = now + Duration::seconds(i64::from(seconds));
        Ok(())
    }

    async fn dead_letter(&self, delivery: &WebhookDelivery) -> PortResult<()> {
        let h = self.take(delivery)?;
        lock(&self.dead).push(h.message);
        Ok(())
    }
}

/// Delivery states by task, one per event.
#[derive(Default)]
pub struct MemoryWebhookStates {
    states: Mutex<HashMap<String, Vec<DeliveryState>>>,
}

#[async_trait]
impl WebhookStateStore for MemoryWebhookStates {
    async fn record_delivery(&self, task_id: &TaskId, state: &DeliveryState) -> PortResult<()> {
        let mut all = lock(&self.states);
        let list = all.entry(task_id.to_string()).or_default();
        list.retain(|s| s.event != state.event);
        list.push(state.clone());
        Ok(())
    }

    async fn deliveries(&self, task_id: &TaskId) -> PortResult<Vec<DeliveryState>> {
        let mut list = lock(&self.states)
            .get(&task_id.to_string())
            .cloned()
            .unwrap_or_default();
        list.sort_by_key(|s| s.event.as_str());
        Ok(list)
    }
}

/// Signing secrets by key id.
#[derive(Default)]
pub struct MemoryWebhookSecrets {
    secrets: Mutex<HashMap<String, WebhookSecret>>,
}

#[async_trait]
impl WebhookSecretStore for MemoryWebhookSecrets {
    async fn put_secret(&self, key_id: &str, secret: &WebhookSecret) -> PortResult<()> {
        lock(&self.secrets).insert(key_id.to_string(), secret.clone());
        Ok(())
    }

    async fn secret(&self, key_id: &str) -> PortResult<Option<WebhookSecret>> {
        Ok(lock(&self.secrets).get(key_id).cloned())
    }
}

/// One POST the transport was asked to make.
#[derive(Debug, Clone)]
pub struct SentWebhook {
    pub url: String,
    pub address: std::net::SocketAddr,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl SentWebhook {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Resolves names from a table; answers 200 unless answers are scripted.
#[derive(Default)]
pub struct MemoryTransport {
    pub names: Mutex<HashMap<String, Vec<IpAddr>>>,
    pub answers: Mutex<VecDeque<Result<u16, TransportError>>>,
    pub sent: Mutex<Vec<SentWebhook>>,
}

impl MemoryTransport {
    pub fn with_name(self, host: &str, ips: &[&str]) -> Self {
        lock(&self.names).insert(
            host.to_string(),
            ips.iter()
                .map(|i| i.parse().expect("an IP address"))
                .collect(),
        );
        self
    }

    pub fn script(&self, answers: impl IntoIterator<Item = Result<u16, TransportError>>) {
        lock(&self.answers).extend(answers);
    }

    pub fn sent(&self) -> Vec<SentWebhook> {
        lock(&self.sent).clone()
    }
}

#[async_trait]
impl WebhookTransport for MemoryTransport {
    async fn resolve(&self, host: &str, _port: u16) -> Result<Vec<IpAddr>, TransportError> {
        lock(&self.names)
            .get(host)
            .cloned()
            .ok_or_else(|| TransportError::Resolve(format!("{host}: unknown name")))
    }

    async fn post(&self, request: WebhookRequest<'_>) -> Result<u16, TransportError> {
        lock(&self.sent).push(SentWebhook {
            url: request.url.as_str().to_string(),
            address: request.address,
            headers: request.headers.clone(),
            body: request.body.to_vec(),
        });
        lock(&self.answers).pop_front().unwrap_or(Ok(200))
    }
}

/// Webhook ports in memory for tests that do not look at webhooks: events are queued
/// into a queue nobody drains.
pub fn unused_webhook_ports() -> naiq_core::webhooks::WebhookPorts {
    let clock = Arc::new(crate::ManualClock::new(chrono::DateTime::<Utc>::UNIX_EPOCH));
    naiq_core::webhooks::WebhookPorts {
        queue: Arc::new(MemoryWebhookQueue::new(clock)),
        states: Arc::new(MemoryWebhookStates::default()),
        nudge: Arc::new(super::MemoryNudge::default()),
    }
}

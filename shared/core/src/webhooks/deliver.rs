//! The delivery function's use case: drain the webhook queue, and for each event resolve
//! the receiver's host, refuse any address that is not public (unless the local stack
//! allows private ones), POST the signed event to the address checked, and record the
//! outcome. A failed attempt hides the message for the schedule's next wait (so retries
//! span a day and more); after the last one it goes to the dead-letter queue.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;

use super::address;
use super::state::{DeliveryState, DeliveryStatus};
use super::target::{Target, WebhookUrl};
use crate::config::WebhookSettings;
use crate::ports::{
    Clock, ImageStore, PortError, WebhookDelivery, WebhookQueue, WebhookRequest,
    WebhookSecretStore, WebhookStateStore, WebhookTransport,
};

/// The ports the delivery function needs.
#[derive(Clone)]
pub struct DelivererPorts {
    pub queue: Arc<dyn WebhookQueue>,
    pub states: Arc<dyn WebhookStateStore>,
    pub secrets: Arc<dyn WebhookSecretStore>,
    pub transport: Arc<dyn WebhookTransport>,
    pub images: Arc<dyn ImageStore>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct DeliveryReport {
    pub delivered: u32,
    pub retrying: u32,
    pub dead: u32,
    /// Messages a backend error kept from being handled (they come back by themselves).
    pub errors: u32,
}

/// Messages taken per receive.
const BATCH: u32 = 10;

pub struct Deliverer {
    ports: DelivererPorts,
    clock: Arc<dyn Clock>,
    settings: WebhookSettings,
    image_url_ttl: u64,
}

/// Why an attempt did not deliver.
enum Failure {
    /// Worth another attempt later: the receiver was down, slow or said no.
    Retry { status: Option<u16>, error: String },
    /// Never deliverable as it stands: the URL or its addresses are refused.
    Refused(String),
}

impl Deliverer {
    pub fn new(
        ports: DelivererPorts,
        clock: Arc<dyn Clock>,
        settings: WebhookSettings,
        image_url_ttl: u64,
    ) -> Self {
        Self {
            ports,
            clock,
            settings,
            image_url_ttl,
        }
    }

    /// Delivers until the queue has nothing visible, or `deadline` is too near for
    /// another attempt.
    pub async fn drain(&self, deadline: DateTime<Utc>) -> Result<DeliveryReport, PortError> {
        let mut report = DeliveryReport::default();
        let attempt_budget = Duration::seconds(self.settings.timeout_seconds as i64 + 2);
        loop {
            if self.clock.now() + attempt_budget > deadline {
                return Ok(report);
            }
            let batch = self.ports.queue.receive(BATCH).await?;
            if batch.is_empty() {
                return Ok(report);
            }
            for delivery in &batch {
                if self.clock.now() + attempt_budget > deadline {
                    // Not tried: it comes back after its visibility timeout.
                    return Ok(report);
                }
                match self.handle(delivery).await {
                    Ok(DeliveryStatus::Delivered) => report.delivered += 1,
                    Ok(DeliveryStatus::Dead) => report.dead += 1,
                    Ok(_) => report.retrying += 1,
                    Err(e) => {
                        tracing::error!(task_id = %delivery.message.task_id, webhook_id = %delivery.message.id, error = %e, "could not handle a webhook event; it comes back later");
                        report.errors += 1;
                    }
                }
            }
        }
    }

    /// One attempt at one event, and what follows from it.
    pub async fn handle(&self, delivery: &WebhookDelivery) -> Result<DeliveryStatus, PortError> {
        let m = &delivery.message;
        let attempt = delivery.receive_count.max(1);
        let outcome = self.attempt(delivery).await?;
        let now = self.clock.now();
        let mut state = DeliveryState {
            event: m.event,
            webhook_id: m.id.clone(),
            state: DeliveryStatus::Delivered,
            attempts: attempt,
            last_status: None,
            last_error: None,
            next_attempt_at: None,
            updated_at: Some(rfc3339(now)),
        };
        match outcome {
            Ok(status) => {
                state.last_status = Some(status);
                tracing::info!(task_id = %m.task_id, webhook_id = %m.id, event = m.event.as_str(), status, attempt, "webhook delivered");
                self.ports
                    .states
                    .record_delivery(&m.task_id, &state)
                    .await?;
                self.ports.queue.ack(delivery).await?;
            }
            Err(Failure::Refused(error)) => {
                crate::metrics::webhook_delivery_failed();
                tracing::warn!(task_id = %m.task_id, webhook_id = %m.id, error = %error, "webhook refused; not retried");
                state.state = DeliveryStatus::Dead;
                state.last_error = Some(error);
                self.ports
                    .states
                    .record_delivery(&m.task_id, &state)
                    .await?;
                self.ports.queue.dead_letter(delivery).await?;
            }
            Err(Failure::Retry { status, error }) => {
                crate::metrics::webhook_delivery_failed();
                state.last_status = status;
                state.last_error = Some(error.clone());
                match self.settings.retry_seconds.get(attempt as usize - 1) {
                    Some(&wait) => {
                        let next = now + Duration::seconds(i64::from(wait));
                        tracing::info!(task_id = %m.task_id, webhook_id = %m.id, error = %error, attempt, next_attempt_at = %next, "webhook attempt failed; will retry");
                        state.state = DeliveryStatus::Retrying;
                        state.next_attempt_at = Some(rfc3339(next));
                        self.ports
                            .states
                            .record_delivery(&m.task_id, &state)
                            .await?;
                        self.ports.queue.retry_after(delivery, wait).await?;
                    }
                    None => {
                        tracing::warn!(task_id = %m.task_id, webhook_id = %m.id, error = %error, attempt, "webhook retries spent; dead-lettered");
                        state.state = DeliveryStatus::Dead;
                        self.ports
                            .states
                            .record_delivery(&m.task_id, &state)
                            .await?;
                        self.ports.queue.dead_letter(delivery).await?;
                    }
                }
            }
        }
        Ok(state.state)
    }

    async fn attempt(&self, delivery: &WebhookDelivery) -> Result<Result<u16, Failure>, PortError> {
        let m = &delivery.message;
        let allow_private = self.settings.allow_private;
        let url = match WebhookUrl::parse(&m.url, allow_private) {
            Ok(u) => u,
            Err(e) => return Ok(Err(Failure::Refused(e.0))),
        };
        let Some(secret) = self.ports.secrets.secret(&m.owner).await? else {
            return Ok(Err(Failure::Retry {
                status: None,
                error: "the API key has no webhook secret (naiq keys create or rotate gives one)"
                    .into(),
            }));
        };
        let port = url.port();
        let addresses: Vec<IpAddr> = match url.target() {
            Target::Ip(ip) => vec![ip],
            Target::Name(host) => match self.ports.transport.resolve(&host, port).await {
                Ok(a) if !a.is_empty() => a,
                Ok(_) => {
                    return Ok(Err(Failure::Retry {
                        status: None,
                        error: format!("{host} has no address"),
                    }));
                }
                Err(e) => {
                    return Ok(Err(Failure::Retry {
                        status: None,
                        error: e.to_string(),
                    }));
                }
            },
        };
        // Every address must pass: a name with one private address among public ones
        // could be steered there.
        for ip in &addresses {
            if let Err(class) = address::allowed(*ip, allow_private) {
                return Ok(Err(Failure::Refused(format!(
                    "{} resolves to a {} address ({ip}); webhooks go to public addresses only",
                    url.host(),
                    class.as_str()
                ))));
            }
        }
        let mut urls = Vec::with_capacity(m.image_keys.len());
        for key in &m.image_keys {
            urls.push(self.ports.images.url(key, self.image_url_ttl).await?);
        }
        let body = m.body(&urls);
        let timestamp = self.clock.now().timestamp();
        let request = WebhookRequest {
            url: &url,
            address: SocketAddr::new(addresses[0], port),
            headers: vec![
                ("content-type", "application/json".into()),
                ("webhook-id", m.id.clone()),
                ("webhook-timestamp", timestamp.to_string()),
                ("webhook-signature", secret.sign(&m.id, timestamp, &body)),
            ],
            body: &body,
            timeout_ms: self.settings.timeout_seconds * 1000,
        };
        Ok(match self.ports.transport.post(request).await {
            Ok(status) if (200..300).contains(&status) => Ok(status),
            Ok(status) => Err(Failure::Retry {
                status: Some(status),
                error: format!("the receiver answered {status}"),
            }),
            Err(e) => Err(Failure::Retry {
                status: None,
                error: e.to_string(),
            }),
        })
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

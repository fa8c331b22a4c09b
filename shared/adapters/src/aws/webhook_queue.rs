//! The webhook queue on SQS: a standard queue (events need no order, and a standard queue
//! has no per-group head-of-line blocking: one receiver's long retry holds no other) with
//! a dead-letter queue of its own. A retry is a visibility change to the schedule's wait;
//! the last failure sends the message to the dead-letter queue itself (the redrive policy
//! stays as the backstop for a message that keeps crashing the delivery function).

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::MessageSystemAttributeName;

use super::describe;
use naiq_core::ports::*;
use naiq_core::webhooks::WebhookMessage;

/// The webhook queue and its dead-letter queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookQueues {
    pub queue: String,
    pub dead_letter: String,
}

pub struct SqsWebhookQueue {
    client: Client,
    queues: WebhookQueues,
}

impl SqsWebhookQueue {
    pub fn new(client: Client, queues: WebhookQueues) -> Self {
        Self { client, queues }
    }
}

fn backend<E: std::error::Error>(err: E) -> PortError {
    PortError::backend("SQS", describe(&err))
}

#[async_trait]
impl WebhookQueue for SqsWebhookQueue {
    async fn send(&self, message: &WebhookMessage) -> PortResult<()> {
        let body = serde_json::to_string(message).expect("a webhook message serialises");
        self.client
            .send_message()
            .queue_url(&self.queues.queue)
            .message_body(body)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn receive(&self, max: u32) -> PortResult<Vec<WebhookDelivery>> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.queues.queue)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(backend)?;
        let mut deliveries = Vec::new();
        for m in out.messages.unwrap_or_default() {
            let receipt = m.receipt_handle.clone().unwrap_or_default();
            let receive_count = m
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|v| v.parse().ok())
                .unwrap_or(1);
            let body = m.body.unwrap_or_default();
            match serde_json::from_str::<WebhookMessage>(&body) {
                Ok(message) => deliveries.push(WebhookDelivery {
                    receipt,
                    message,
                    receive_count,
                }),
                Err(e) => {
                    // Never deliverable: straight to the dead-letter queue, kept for a look.
                    tracing::error!(error = %e, "unreadable webhook message; dead-lettered");
                    self.client
                        .send_message()
                        .queue_url(&self.queues.dead_letter)
                        .message_body(body)
                        .send()
                        .await
                        .map_err(backend)?;
                    self.delete(&receipt).await?;
                }
            }
        }
        Ok(deliveries)
    }

    async fn ack(&self, delivery: &WebhookDelivery) -> PortResult<()> {
        self.delete(&delivery.receipt).await
    }

    async fn retry_after(&self, delivery: &WebhookDelivery, seconds: u32) -> PortResult<()> {
        self.client
            .change_message_visibility()
            .queue_url(&self.queues.queue)
            .receipt_handle(&delivery.receipt)
            .visibility_timeout(seconds.min(43_200) as i32)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn dead_letter(&self, delivery: &WebhookDelivery) -> PortResult<()> {
        let body = serde_json::to_string(&delivery.message).expect("a webhook message serialises");
        self.client
            .send_message()
            .queue_url(&self.queues.dead_letter)
            .message_body(body)
            .send()
            .await
            .map_err(backend)?;
        self.delete(&delivery.receipt).await
    }
}

impl SqsWebhookQueue {
    async fn delete(&self, receipt: &str) -> PortResult<()> {
        self.client
            .delete_message()
            .queue_url(&self.queues.queue)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}

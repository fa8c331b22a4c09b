//! SQS adapter: one FIFO queue per lane, one message group per key (owner) inside it, so
//! each key's jobs are first in, first out and a key with a message in flight delivers no
//! other (the worker holds every key's head and picks whose turn it is).

use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};

use super::describe;
use naiq_core::domain::Lane;
use naiq_core::ports::*;

/// The message group of a message without an owner (queued before fair turns).
pub const MESSAGE_GROUP: &str = "jobs";

/// The message group of a message: its owner's id when SQS accepts it as one (1–128
/// printable ASCII characters; key ids are 16 hex digits), a digest of it otherwise.
pub fn message_group(message: &QueueMessage) -> String {
    let Some(owner) = message.owner.as_deref() else {
        return MESSAGE_GROUP.to_string();
    };
    let valid = (1..=128).contains(&owner.len()) && owner.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        owner.to_string()
    } else {
        use blake2::Digest as _;
        let digest = blake2::Blake2b256::digest(owner.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Queue URLs, one per lane.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LaneQueues {
    pub test: String,
    pub high: String,
    pub normal: String,
    pub low: String,
    /// Where a message lands after `MAX_RECEIVE_COUNT` receives.
    pub dead_letter: String,
}

impl LaneQueues {
    pub fn url(&self, lane: Lane) -> &str {
        match lane {
            Lane::Test => &self.test,
            Lane::High => &self.high,
            Lane::Normal => &self.normal,
            Lane::Low => &self.low,
        }
    }
}

pub struct SqsQueue {
    client: Client,
    queues: LaneQueues,
}

/// One received message, before its body is read.
struct RawMessage {
    receipt: String,
    body: String,
    receive_count: u32,
}

impl SqsQueue {
    pub fn new(client: Client, queues: LaneQueues) -> Self {
        Self { client, queues }
    }
}

fn backend<E: std::error::Error>(err: E) -> PortError {
    PortError::backend("SQS", describe(&err))
}

impl SqsQueue {
    /// Receives at most one message from a queue, without waiting.
    async fn receive_one(&self, url: &str) -> PortResult<Option<RawMessage>> {
        let out = self
            .client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(1)
            .wait_time_seconds(0)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(backend)?;
        let Some(msg) = out.messages.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        let receive_count = msg
            .attributes
            .as_ref()
            .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        Ok(Some(RawMessage {
            receipt: msg
                .receipt_handle
                .ok_or_else(|| PortError::Corrupt("SQS message without a receipt handle".into()))?,
            body: msg.body.unwrap_or_default(),
            receive_count,
        }))
    }
}

#[async_trait]
impl JobQueue for SqsQueue {
    async fn send(&self, lane: Lane, message: &QueueMessage) -> PortResult<()> {
        let body = serde_json::to_string(message).expect("queue message serialises");
        self.client
            .send_message()
            .queue_url(self.queues.url(lane))
            .message_body(body)
            .message_group_id(message_group(message))
            // A retried submit of the same task is delivered once.
            .message_deduplication_id(message.task_id.as_str())
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn receive(&self, lanes: &[Lane]) -> PortResult<Option<Delivery>> {
        for lane in Lane::ALL.into_iter().filter(|l| lanes.contains(l)) {
            let Some(raw) = self.receive_one(self.queues.url(lane)).await? else {
                continue;
            };
            match serde_json::from_str::<QueueMessage>(&raw.body) {
                Ok(message) => {
                    return Ok(Some(Delivery {
                        lane,
                        receipt: raw.receipt,
                        message,
                        receive_count: raw.receive_count,
                        dead_letter: false,
                    }));
                }
                Err(e) => {
                    // Not ours and unreadable: leave it to the redrive policy (it lands in
                    // the dead-letter queue after maxReceiveCount receives).
                    tracing::error!(lane = lane.as_str(), error = %e, "unreadable queue message");
                    continue;
                }
            }
        }
        Ok(None)
    }

    async fn receive_dead_letter(&self) -> PortResult<Option<Delivery>> {
        let Some(raw) = self.receive_one(&self.queues.dead_letter).await? else {
            return Ok(None);
        };
        // An unreadable dead letter carries the nil task id: it is deleted, no job matches.
        let message = serde_json::from_str::<QueueMessage>(&raw.body).unwrap_or(QueueMessage {
            task_id: naiq_core::domain::TaskId::from_random_bytes([0; 16]),
            credentials: None,
            owner: None,
        });
        Ok(Some(Delivery {
            lane: Lane::Low,
            receipt: raw.receipt,
            message,
            receive_count: raw.receive_count,
            dead_letter: true,
        }))
    }

    async fn ack(&self, delivery: &Delivery) -> PortResult<()> {
        let url = if delivery.dead_letter {
            self.queues.dead_letter.as_str()
        } else {
            self.queues.url(delivery.lane)
        };
        self.client
            .delete_message()
            .queue_url(url)
            .receipt_handle(&delivery.receipt)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn keep_hidden(&self, delivery: &Delivery, seconds: u32) -> PortResult<()> {
        self.client
            .change_message_visibility()
            .queue_url(self.queues.url(delivery.lane))
            .receipt_handle(&delivery.receipt)
            .visibility_timeout(seconds as i32)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn backlog(&self) -> PortResult<u64> {
        let mut total = 0u64;
        for lane in Lane::ALL {
            let out = self
                .client
                .get_queue_attributes()
                .queue_url(self.queues.url(lane))
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
                .send()
                .await
                .map_err(backend)?;
            let attributes = out.attributes.unwrap_or_default();
            for name in [
                QueueAttributeName::ApproximateNumberOfMessages,
                QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
                QueueAttributeName::ApproximateNumberOfMessagesDelayed,
            ] {
                // A count SQS leaves out is no evidence of an empty queue.
                let count = attributes
                    .get(&name)
                    .and_then(|v| v.parse::<u64>().ok())
                    .ok_or_else(|| {
                        PortError::Corrupt(format!("SQS gave no {} for a lane", name.as_str()))
                    })?;
                total += count;
            }
        }
        Ok(total)
    }

    async fn release(&self, delivery: &Delivery) -> PortResult<()> {
        self.client
            .change_message_visibility()
            .queue_url(self.queues.url(delivery.lane))
            .receipt_handle(&delivery.receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}

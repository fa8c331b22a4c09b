//! The events a job's webhook receives, and the queue message that carries one to the
//! delivery function: its `webhook-id` (stable across retries and across a producer
//! sending it twice, so a receiver can drop duplicates), the task's status fields as
//! `GET /task_status/{id}` shows them (never a credential or a secret), where to send it,
//! and whose secret signs it.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::job_status;
use crate::domain::{Job, Status, TaskId};

/// What happened to a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum EventType {
    #[serde(rename = "task.started")]
    Started,
    #[serde(rename = "task.succeeded")]
    Succeeded,
    #[serde(rename = "task.failed")]
    Failed,
    #[serde(rename = "task.cancelled")]
    Cancelled,
}

impl EventType {
    pub const ALL: [EventType; 4] = [
        EventType::Started,
        EventType::Succeeded,
        EventType::Failed,
        EventType::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Started => "task.started",
            EventType::Succeeded => "task.succeeded",
            EventType::Failed => "task.failed",
            EventType::Cancelled => "task.cancelled",
        }
    }

    /// The event a job in its final state ends with; none while it is unfinished.
    pub fn terminal(status: Status) -> Option<EventType> {
        match status {
            Status::Success => Some(EventType::Succeeded),
            Status::Failure => Some(EventType::Failed),
            Status::Revoked => Some(EventType::Cancelled),
            _ => None,
        }
    }

    /// The events a job has had so far, in order.
    pub fn so_far(job: &Job) -> Vec<EventType> {
        let mut v = Vec::new();
        if job.started_at().is_some() {
            v.push(EventType::Started);
        }
        v.extend(Self::terminal(job.status()));
        v
    }
}

/// One event on its way to a receiver.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookMessage {
    /// The `webhook-id`: the same on every attempt.
    pub id: String,
    pub event: EventType,
    pub task_id: TaskId,
    /// The API key id whose secret signs it.
    pub owner: String,
    pub url: String,
    pub occurred_at: DateTime<Utc>,
    /// The task's status fields at the time of the event (image URLs are added at
    /// delivery, fresh, from `image_keys`).
    pub data: Value,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_keys: Vec<String>,
}

impl WebhookMessage {
    /// The message for `event` of `job`; none when the job asked for no webhook.
    pub fn for_job(job: &Job, event: EventType, now: DateTime<Utc>) -> Option<Self> {
        let url = job.params().webhook_url.clone()?;
        let data = serde_json::to_value(job_status(job, Vec::new())).unwrap_or(Value::Null);
        Some(Self {
            id: format!("msg_{}_{}", job.task_id(), event.as_str().replace('.', "_")),
            event,
            task_id: job.task_id().clone(),
            owner: job.owner().to_string(),
            url,
            occurred_at: now,
            data,
            image_keys: if event == EventType::Succeeded {
                job.image_keys().to_vec()
            } else {
                Vec::new()
            },
        })
    }

    /// The body sent: `{"type", "timestamp", "data"}`, the shape the Standard Webhooks
    /// specification recommends, with `image_urls` filled in.
    pub fn body(&self, image_urls: &[String]) -> Vec<u8> {
        let mut data = self.data.clone();
        if let Value::Object(map) = &mut data
            && !image_urls.is_empty()
        {
            map.insert("image_url".into(), Value::String(image_urls[0].clone()));
            map.insert(
                "image_urls".into(),
                Value::Array(image_urls.iter().cloned().map(Value::String).collect()),
            );
        }
        serde_json::to_vec(&serde_json::json!({
            "type": self.event.as_str(),
            "timestamp": self.occurred_at.to_rfc3339_opts(SecondsFormat::Millis, true),
            "data": data,
        }))
        .expect("JSON serialises")
    }
}

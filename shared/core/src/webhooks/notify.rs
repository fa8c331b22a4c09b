//! The one call the producers make when a job starts, finishes or is cancelled: queue the
//! event for the delivery function and nudge it. Nothing here waits on a receiver, and a
//! failure is logged, never passed on: a webhook must not fail (or delay) a job.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::event::{EventType, WebhookMessage};
use crate::domain::Job;
use crate::ports::{WebhookQueue, WebhookStateStore, WorkerNudge};

/// What the API and the worker need to emit events (and the API to show their state).
#[derive(Clone)]
pub struct WebhookPorts {
    pub queue: Arc<dyn WebhookQueue>,
    pub states: Arc<dyn WebhookStateStore>,
    /// Wakes the delivery function (an asynchronous invoke on AWS).
    pub nudge: Arc<dyn WorkerNudge>,
}

/// Queues `event` of `job` if the job asked for webhooks.
pub async fn notify(ports: &WebhookPorts, job: &Job, event: EventType, now: DateTime<Utc>) {
    let Some(message) = WebhookMessage::for_job(job, event, now) else {
        return;
    };
    if let Err(e) = ports.queue.send(&message).await {
        tracing::error!(task_id = %job.task_id(), event = event.as_str(), error = %e, "could not queue the webhook event; the job goes on");
        return;
    }
    tracing::debug!(task_id = %job.task_id(), event = event.as_str(), webhook_id = %message.id, "webhook event queued");
    if let Err(e) = ports.nudge.nudge().await {
        // The delivery function's schedule picks it up anyway.
        tracing::warn!(task_id = %job.task_id(), error = %e, "could not nudge the webhook delivery");
    }
}

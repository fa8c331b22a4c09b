//! The names of the AWS resources the functions use (from `template.yaml`'s environment,
//! or from the local provisioner), read once at start. Every error names the variable.

use naiq_core::config::{ConfigError, Env};

use crate::aws::sqs::LaneQueues;
use crate::aws::webhook_queue::WebhookQueues;

/// Every resource variable the functions read (a test checks the template gives them).
pub const RESOURCE_VARIABLES: &[&str] = &[
    "JOBS_TABLE",
    "KEYS_TABLE",
    "STATE_TABLE",
    "QUEUE_URL_TEST",
    "QUEUE_URL_HIGH",
    "QUEUE_URL_NORMAL",
    "QUEUE_URL_LOW",
    "DEAD_LETTER_QUEUE_URL",
    "IMAGES_BUCKET",
    "NOVELAI_SECRET_ID",
    "WEBHOOK_QUEUE_URL",
    "WEBHOOK_DEAD_LETTER_QUEUE_URL",
];

/// Names of the AWS resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    pub jobs_table: String,
    pub keys_table: String,
    pub state_table: String,
    pub queues: LaneQueues,
    pub images_bucket: String,
    pub secret_id: String,
    /// The worker function the API nudges after a submit; none: rely on the schedule.
    pub worker_function: Option<String>,
    /// The webhook queue and its dead-letter queue.
    pub webhook_queues: WebhookQueues,
    /// The webhook delivery function the worker and the API nudge after queueing an
    /// event; none: rely on its schedule.
    pub webhooks_function: Option<String>,
}

impl Resources {
    /// The resources from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&|k| std::env::var(k).ok())
    }

    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let env = Env(lookup);
        Ok(Self {
            jobs_table: env.required("JOBS_TABLE")?,
            keys_table: env.required("KEYS_TABLE")?,
            state_table: env.required("STATE_TABLE")?,
            queues: LaneQueues {
                test: env.required("QUEUE_URL_TEST")?,
                high: env.required("QUEUE_URL_HIGH")?,
                normal: env.required("QUEUE_URL_NORMAL")?,
                low: env.required("QUEUE_URL_LOW")?,
                dead_letter: env.required("DEAD_LETTER_QUEUE_URL")?,
            },
            images_bucket: env.required("IMAGES_BUCKET")?,
            secret_id: env.required("NOVELAI_SECRET_ID")?,
            worker_function: env.get("WORKER_FUNCTION_NAME"),
            webhook_queues: WebhookQueues {
                queue: env.required("WEBHOOK_QUEUE_URL")?,
                dead_letter: env.required("WEBHOOK_DEAD_LETTER_QUEUE_URL")?,
            },
            webhooks_function: env.get("WEBHOOKS_FUNCTION_NAME"),
        })
    }

    /// The resources as `NAME=value` environment lines (what the functions read).
    pub fn to_env(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![
            ("JOBS_TABLE", self.jobs_table.clone()),
            ("KEYS_TABLE", self.keys_table.clone()),
            ("STATE_TABLE", self.state_table.clone()),
            ("QUEUE_URL_TEST", self.queues.test.clone()),
            ("QUEUE_URL_HIGH", self.queues.high.clone()),
            ("QUEUE_URL_NORMAL", self.queues.normal.clone()),
            ("QUEUE_URL_LOW", self.queues.low.clone()),
            ("DEAD_LETTER_QUEUE_URL", self.queues.dead_letter.clone()),
            ("IMAGES_BUCKET", self.images_bucket.clone()),
            ("NOVELAI_SECRET_ID", self.secret_id.clone()),
            ("WEBHOOK_QUEUE_URL", self.webhook_queues.queue.clone()),
            (
                "WEBHOOK_DEAD_LETTER_QUEUE_URL",
                self.webhook_queues.dead_letter.clone(),
            ),
        ];
        if let Some(f) = &self.worker_function {
            v.push(("WORKER_FUNCTION_NAME", f.clone()));
        }
        if let Some(f) = &self.webhooks_function {
            v.push(("WEBHOOKS_FUNCTION_NAME", f.clone()));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_required() {
        let err = Resources::from_lookup(&|_| None).unwrap_err();
        assert_eq!(err.variable, "JOBS_TABLE");
    }

    #[test]
    fn resources_round_trip_through_their_environment() {
        let r = Resources {
            jobs_table: "j".into(),
            keys_table: "k".into(),
            state_table: "s".into(),
            queues: LaneQueues {
                test: "qt".into(),
                high: "qh".into(),
                normal: "qn".into(),
                low: "ql".into(),
                dead_letter: "qd".into(),
            },
            images_bucket: "b".into(),
            secret_id: "sec".into(),
            worker_function: Some("w".into()),
            webhook_queues: WebhookQueues {
                queue: "wq".into(),
                dead_letter: "wd".into(),
            },
            webhooks_function: Some("h".into()),
        };
        let env = r.to_env();
        let lookup = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        assert_eq!(Resources::from_lookup(&lookup).unwrap(), r);
        for name in RESOURCE_VARIABLES {
            assert!(env.iter().any(|(n, _)| n == name), "{name}");
        }
    }
}

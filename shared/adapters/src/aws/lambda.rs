//! The worker nudge: an asynchronous (`Event`) invoke of the worker function.

use async_trait::async_trait;
use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::describe;
use naiq_core::ports::*;

pub struct LambdaNudge {
    client: Client,
    function: String,
}

impl LambdaNudge {
    pub fn new(client: Client, function: impl Into<String>) -> Self {
        Self {
            client,
            function: function.into(),
        }
    }
}

#[async_trait]
impl WorkerNudge for LambdaNudge {
    async fn nudge(&self) -> PortResult<()> {
        self.client
            .invoke()
            .function_name(&self.function)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(r#"{"source":"naiq.nudge"}"#))
            .send()
            .await
            .map_err(|e| PortError::backend("Lambda", describe(&e)))?;
        Ok(())
    }
}

/// For deployments without a worker to nudge (the schedule alone drains the queue).
pub struct NoNudge;

#[async_trait]
impl WorkerNudge for NoNudge {
    async fn nudge(&self) -> PortResult<()> {
        Ok(())
    }
}

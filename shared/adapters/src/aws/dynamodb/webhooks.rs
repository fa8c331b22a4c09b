//! The state table's webhook items: one per task with each event's delivery state as its
//! own attribute (so recording one event's state never touches another's, nor the job,
//! which lives in the jobs table under the worker's conditional writes), and one per API
//! key with its signing secret (`whsec_…`; never in the jobs table, never logged).

use async_trait::async_trait;
use chrono::Utc;

use naiq_core::domain::TaskId;
use naiq_core::ports::*;
use naiq_core::webhooks::{DeliveryState, EventType, WebhookSecret};

use super::*;

/// How long a task's delivery states are kept (DynamoDB's TTL removes them).
const KEEP_SECONDS: i64 = 30 * 86_400;

fn deliveries_item(task_id: &TaskId) -> String {
    format!("webhooks#{task_id}")
}

fn secret_item(key_id: &str) -> String {
    format!("webhook-secret#{key_id}")
}

fn attribute(event: EventType) -> String {
    format!("ev_{}", event.as_str().replace('.', "_"))
}

#[async_trait]
impl WebhookStateStore for DynamoStateStore {
    async fn record_delivery(&self, task_id: &TaskId, state: &DeliveryState) -> PortResult<()> {
        let json = serde_json::to_string(state).expect("a delivery state serialises");
        self.client()
            .update_item()
            .table_name(self.table())
            .key(schema::STATE_KEY, s(deliveries_item(task_id)))
            .update_expression("SET #ev = :v, #ttl = :ttl")
            .expression_attribute_names("#ev", attribute(state.event))
            .expression_attribute_names("#ttl", schema::STATE_TTL)
            .expression_attribute_values(":v", s(json))
            .expression_attribute_values(":ttl", n(Utc::now().timestamp() + KEEP_SECONDS))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn deliveries(&self, task_id: &TaskId) -> PortResult<Vec<DeliveryState>> {
        let Some(item) = self.get(&deliveries_item(task_id)).await? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for event in EventType::ALL {
            if let Some(v) = opt_s(&item, &attribute(event)) {
                out.push(
                    serde_json::from_str(v)
                        .map_err(|e| PortError::Corrupt(format!("webhook delivery: {e}")))?,
                );
            }
        }
        Ok(out)
    }
}

#[async_trait]
impl WebhookSecretStore for DynamoStateStore {
    async fn put_secret(&self, key_id: &str, secret: &WebhookSecret) -> PortResult<()> {
        let mut item = Item::new();
        item.insert(schema::STATE_KEY.into(), s(secret_item(key_id)));
        item.insert("secret".into(), s(secret.expose()));
        self.client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn secret(&self, key_id: &str) -> PortResult<Option<WebhookSecret>> {
        let Some(item) = self.get(&secret_item(key_id)).await? else {
            return Ok(None);
        };
        let text = get_s(&item, "secret")?;
        WebhookSecret::parse(text)
            .map(Some)
            .map_err(|_| PortError::Corrupt("webhook secret".into()))
    }
}

//! Idempotency records in the state table (`idem#<scope>` items, deleted by the table's
//! TTL a day later): a claim is one conditional put, so two racing requests with one key
//! can never both queue a job.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use naiq_core::ports::{Claim, IdempotencyStore, PortError, PortResult};

use super::state::DynamoStateStore;
use super::*;

fn name(key: &str) -> String {
    format!("idem#{key}")
}

#[async_trait]
impl IdempotencyStore for DynamoStateStore {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_after: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> PortResult<Claim> {
        let mut item = Item::new();
        item.insert(schema::STATE_KEY.into(), s(name(key)));
        item.insert("fingerprint".into(), s(fingerprint));
        item.insert("stale_after_ms".into(), n(stale_after.timestamp_millis()));
        item.insert("expires_ms".into(), n(expires.timestamp_millis()));
        item.insert(schema::STATE_TTL.into(), n(expires.timestamp()));
        let res = self
            .client()
            .put_item()
            .table_name(self.table())
            .set_item(Some(item))
            // Free, expired (TTL deletes lazily), or a claim in progress gone stale.
            .condition_expression(
                "attribute_not_exists(#k) OR expires_ms <= :now \
                 OR (attribute_not_exists(#r) AND stale_after_ms <= :now)",
            )
            .expression_attribute_names("#k", schema::STATE_KEY)
            .expression_attribute_names("#r", "response")
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .send()
            .await;
        match res {
            Ok(_) => return Ok(Claim::New),
            Err(e) if is_conditional_failure(&e) => {}
            Err(e) => return Err(backend(e)),
        }
        let Some(held) = self.get(&name(key)).await? else {
            // Deleted between the two calls: it is free now; claim it again.
            return Box::pin(self.claim(key, fingerprint, now, stale_after, expires)).await;
        };
        let fingerprint = get_s(&held, "fingerprint")?.to_string();
        Ok(match opt_s(&held, "response") {
            Some(response) => Claim::Done {
                fingerprint,
                response: response.to_string(),
            },
            None => Claim::InProgress { fingerprint },
        })
    }

    async fn complete(&self, key: &str, response: &str) -> PortResult<()> {
        self.client()
            .update_item()
            .table_name(self.table())
            .key(schema::STATE_KEY, s(name(key)))
            .update_expression("SET #r = :r")
            .condition_expression("attribute_exists(#k)")
            .expression_attribute_names("#k", schema::STATE_KEY)
            .expression_attribute_names("#r", "response")
            .expression_attribute_values(":r", s(response))
            .send()
            .await
            .map_err(|e| {
                if is_conditional_failure(&e) {
                    PortError::Conflict(format!("idempotency key {key} is gone"))
                } else {
                    backend(e)
                }
            })?;
        Ok(())
    }

    async fn release(&self, key: &str) -> PortResult<()> {
        self.client()
            .delete_item()
            .table_name(self.table())
            .key(schema::STATE_KEY, s(name(key)))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }
}

//! The keys table: API keys by hash.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;

use naiq_core::domain::ApiKeyRecord;
use naiq_core::ports::*;

use super::*;

pub struct DynamoKeyStore {
    client: Client,
    table: String,
}

impl DynamoKeyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl KeyStore for DynamoKeyStore {
    async fn insert(&self, record: &ApiKeyRecord) -> PortResult<()> {
        let mut item = Item::new();
        item.insert(schema::KEYS_KEY.into(), s(&record.key_hash));
        item.insert("key_id".into(), s(&record.key_id));
        item.insert("name".into(), s(&record.name));
        item.insert("created_at".into(), ts(record.created_at));
        item.insert(
            "lanes".into(),
            AttributeValue::L(record.lanes.iter().map(|l| s(l.as_str())).collect()),
        );
        item.insert("allow_test".into(), AttributeValue::Bool(record.allow_test));
        item.insert("disabled".into(), AttributeValue::Bool(record.disabled));
        if let Some(url) = &record.webhook_url {
            item.insert("webhook_url".into(), s(url));
        }
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", schema::KEYS_KEY)
            .send()
            .await
            .map_err(|e| {
                if is_conditional_failure(&e) {
                    PortError::Conflict("key exists".into())
                } else {
                    backend(e)
                }
            })?;
        Ok(())
    }

    async fn find(&self, key_hash: &str) -> PortResult<Option<ApiKeyRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(schema::KEYS_KEY, s(key_hash))
            .send()
            .await
            .map_err(backend)?;
        let Some(item) = out.item else {
            return Ok(None);
        };
        let bool_of = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_bool().ok())
                .copied()
                .unwrap_or(false)
        };
        Ok(Some(ApiKeyRecord {
            key_hash: get_s(&item, schema::KEYS_KEY)?.to_string(),
            key_id: get_s(&item, "key_id")?.to_string(),
            name: get_s(&item, "name")?.to_string(),
            created_at: get_ts(&item, "created_at")?,
            lanes: item
                .get("lanes")
                .and_then(|v| v.as_l().ok())
                .map(|l| {
                    l.iter()
                        .filter_map(|v| v.as_s().ok().and_then(|s| s.parse().ok()))
                        .collect()
                })
                .unwrap_or_default(),
            allow_test: bool_of("allow_test"),
            disabled: bool_of("disabled"),
            webhook_url: opt_s(&item, "webhook_url").map(str::to_string),
        }))
    }
}

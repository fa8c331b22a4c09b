//! The keys table: API keys by hash, and by public id through `key-id-index`.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use naiq_core::domain::{ApiKeyRecord, KeyLimits};
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

fn opt_n(item: &mut Item, name: &str, v: Option<impl ToString>) {
    if let Some(v) = v {
        item.insert(name.into(), n(v));
    }
}

fn to_item(record: &ApiKeyRecord) -> Item {
    let mut item = Item::new();
    item.insert(schema::KEYS_KEY.into(), s(&record.key_hash));
    item.insert(schema::KEY_ID_INDEX_HASH.into(), s(&record.key_id));
    item.insert("name".into(), s(&record.name));
    item.insert("created_at".into(), ts(record.created_at));
    item.insert(
        "lanes".into(),
        AttributeValue::L(record.lanes.iter().map(|l| s(l.as_str())).collect()),
    );
    item.insert("allow_test".into(), AttributeValue::Bool(record.allow_test));
    item.insert("disabled".into(), AttributeValue::Bool(record.disabled));
    if let Some(t) = record.expires_at {
        item.insert("expires_at".into(), ts(t));
    }
    if let Some(t) = record.revoked_at {
        item.insert("revoked_at".into(), ts(t));
    }
    if let Some(r) = &record.revoked_reason {
        item.insert("revoked_reason".into(), s(r));
    }
    if let Some(url) = &record.webhook_url {
        item.insert("webhook_url".into(), s(url));
    }
    let l = &record.limits;
    opt_n(&mut item, "max_waiting", l.max_waiting);
    opt_n(&mut item, "jobs_per_day", l.jobs_per_day);
    opt_n(&mut item, "max_area", l.max_area);
    opt_n(&mut item, "max_samples", l.max_samples);
    opt_n(&mut item, "anlas_per_day", l.anlas_per_day);
    if let Some(models) = &l.models {
        item.insert(
            "models".into(),
            AttributeValue::L(models.iter().map(s).collect()),
        );
    }
    item
}

fn from_item(item: &Item) -> PortResult<ApiKeyRecord> {
    let bool_of = |name: &str| {
        item.get(name)
            .and_then(|v| v.as_bool().ok())
            .copied()
            .unwrap_or(false)
    };
    let num = |name: &str| -> PortResult<Option<u64>> {
        item.get(name)
            .map(|v| {
                v.as_n()
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| PortError::Corrupt(format!("attribute {name} not a number")))
            })
            .transpose()
    };
    let small = |name: &str| -> PortResult<Option<u32>> {
        num(name)?
            .map(|v| u32::try_from(v).map_err(|_| PortError::Corrupt(format!("attribute {name}"))))
            .transpose()
    };
    let strings = |name: &str| -> Option<Vec<String>> {
        item.get(name).and_then(|v| v.as_l().ok()).map(|l| {
            l.iter()
                .filter_map(|v| v.as_s().ok().cloned())
                .collect::<Vec<_>>()
        })
    };
    Ok(ApiKeyRecord {
        key_hash: get_s(item, schema::KEYS_KEY)?.to_string(),
        key_id: get_s(item, schema::KEY_ID_INDEX_HASH)?.to_string(),
        name: get_s(item, "name")?.to_string(),
        created_at: get_ts(item, "created_at")?,
        lanes: strings("lanes")
            .unwrap_or_default()
            .iter()
            .filter_map(|l| l.parse().ok())
            .collect(),
        allow_test: bool_of("allow_test"),
        disabled: bool_of("disabled"),
        expires_at: opt_ts(item, "expires_at")?,
        revoked_at: opt_ts(item, "revoked_at")?,
        revoked_reason: opt_s(item, "revoked_reason").map(str::to_string),
        webhook_url: opt_s(item, "webhook_url").map(str::to_string),
        limits: KeyLimits {
            max_waiting: small("max_waiting")?,
            jobs_per_day: small("jobs_per_day")?,
            models: strings("models"),
            max_area: num("max_area")?,
            max_samples: small("max_samples")?,
            anlas_per_day: small("anlas_per_day")?,
        },
    })
}

#[async_trait]
impl KeyStore for DynamoKeyStore {
    async fn insert(&self, record: &ApiKeyRecord) -> PortResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)))
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
        out.item.as_ref().map(from_item).transpose()
    }

    async fn find_by_id(&self, key_id: &str) -> PortResult<Option<ApiKeyRecord>> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(schema::KEY_ID_INDEX)
            .key_condition_expression("#i = :i")
            .expression_attribute_names("#i", schema::KEY_ID_INDEX_HASH)
            .expression_attribute_values(":i", s(key_id))
            .send()
            .await
            .map_err(backend)?;
        out.items().first().map(from_item).transpose()
    }

    async fn list(&self) -> PortResult<Vec<ApiKeyRecord>> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .scan()
                .table_name(&self.table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(backend)?;
            for item in out.items() {
                keys.push(from_item(item)?);
            }
            start = out.last_evaluated_key;
            if start.is_none() {
                return Ok(keys);
            }
        }
    }

    async fn update(&self, record: &ApiKeyRecord) -> PortResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)))
            .condition_expression("attribute_exists(#k)")
            .expression_attribute_names("#k", schema::KEYS_KEY)
            .send()
            .await
            .map_err(|e| {
                if is_conditional_failure(&e) {
                    PortError::Conflict("no such key".into())
                } else {
                    backend(e)
                }
            })?;
        Ok(())
    }

    async fn rotate(&self, old_hash: &str, new: &ApiKeyRecord) -> PortResult<()> {
        let build = |e: aws_sdk_dynamodb::error::BuildError| PortError::backend("DynamoDB", e);
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(to_item(new)))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", schema::KEYS_KEY)
            .build()
            .map_err(build)?;
        let delete = Delete::builder()
            .table_name(&self.table)
            .key(schema::KEYS_KEY, s(old_hash))
            .condition_expression("attribute_exists(#k)")
            .expression_attribute_names("#k", schema::KEYS_KEY)
            .build()
            .map_err(build)?;
        self.client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put).build())
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .send()
            .await
            .map_err(|e| {
                let cancelled = e
                    .as_service_error()
                    .is_some_and(|e| e.is_transaction_canceled_exception());
                if cancelled {
                    PortError::Conflict("the key changed meanwhile".into())
                } else {
                    backend(e)
                }
            })?;
        Ok(())
    }
}

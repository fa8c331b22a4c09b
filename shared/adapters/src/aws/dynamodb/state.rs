//! The state table: the drain lease, the versioned pacing state, call statistics and the
//! account cache, each one item.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use naiq_core::domain::account::AccountInfo;
use naiq_core::domain::pacing::PacingState;
use naiq_core::ports::*;

use super::*;

pub struct DynamoStateStore {
    client: Client,
    table: String,
}

impl DynamoStateStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    const PACING: &'static str = "pacing";
    const STATS: &'static str = "call-stats";
    const ACCOUNT: &'static str = "account";

    pub(super) fn client(&self) -> &Client {
        &self.client
    }

    pub(super) fn table(&self) -> &str {
        &self.table
    }

    pub(super) async fn get(&self, name: &str) -> PortResult<Option<Item>> {
        Ok(self
            .client
            .get_item()
            .table_name(&self.table)
            .key(schema::STATE_KEY, s(name))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?
            .item)
    }
}

/// The key of the pacing state's item (for a read batched with other items).
pub(super) fn pacing_key() -> Item {
    Item::from([(schema::STATE_KEY.to_string(), s(DynamoStateStore::PACING))])
}

/// The pacing state and its version in `item` (version 0, the default state, when the
/// item does not exist yet).
pub(super) fn pacing_of(item: Option<&Item>) -> PortResult<(PacingState, u64)> {
    let Some(item) = item else {
        return Ok((PacingState::default(), 0));
    };
    let state = serde_json::from_str(get_s(item, "state")?)
        .map_err(|e| PortError::Corrupt(format!("pacing state: {e}")))?;
    Ok((state, num(item, "version").unwrap_or(0)))
}

fn num(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

#[async_trait]
impl LeaseStore for DynamoStateStore {
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> PortResult<bool> {
        let mut item = Item::new();
        item.insert(schema::STATE_KEY.into(), s(format!("lease#{name}")));
        item.insert("holder".into(), s(holder));
        item.insert("lease_until_ms".into(), n(until.timestamp_millis()));
        item.insert(schema::STATE_TTL.into(), n(until.timestamp() + 86_400));
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(
                "attribute_not_exists(#k) OR lease_until_ms <= :now OR holder = :h",
            )
            .expression_attribute_names("#k", schema::STATE_KEY)
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .expression_attribute_values(":h", s(holder))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if is_conditional_failure(&e) => Ok(false),
            Err(e) => Err(backend(e)),
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> PortResult<()> {
        let res = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(schema::STATE_KEY, s(format!("lease#{name}")))
            .condition_expression("holder = :h")
            .expression_attribute_values(":h", s(holder))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Ok(()),
            Err(e) => Err(backend(e)),
        }
    }
}

#[async_trait]
impl PacingStore for DynamoStateStore {
    async fn load_pacing(&self) -> PortResult<(PacingState, u64)> {
        pacing_of(self.get(Self::PACING).await?.as_ref())
    }

    async fn save_pacing(&self, state: &PacingState, expected: u64) -> PortResult<()> {
        let mut item = Item::new();
        item.insert(schema::STATE_KEY.into(), s(Self::PACING));
        item.insert(
            "state".into(),
            s(serde_json::to_string(state).expect("pacing state serialises")),
        );
        item.insert("version".into(), n(expected + 1));
        let req = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item));
        let req = if expected == 0 {
            req.condition_expression("attribute_not_exists(#k)")
                .expression_attribute_names("#k", schema::STATE_KEY)
        } else {
            req.condition_expression("version = :v")
                .expression_attribute_values(":v", n(expected))
        };
        match req.send().await {
            Ok(_) => Ok(()),
            Err(e) if is_conditional_failure(&e) => Err(PortError::Conflict(format!(
                "pacing state is no longer at version {expected}"
            ))),
            Err(e) => Err(backend(e)),
        }
    }
}

#[async_trait]
impl CallStats for DynamoStateStore {
    async fn record_call_duration(&self, millis: u64) -> PortResult<()> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(schema::STATE_KEY, s(Self::STATS))
            .update_expression("ADD total_ms :ms, calls :one")
            .expression_attribute_values(":ms", n(millis))
            .expression_attribute_values(":one", n(1))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn mean_call_seconds(&self) -> PortResult<Option<f64>> {
        let Some(item) = self.get(Self::STATS).await? else {
            return Ok(None);
        };
        Ok(match (num(&item, "total_ms"), num(&item, "calls")) {
            (Some(total), Some(calls)) if calls > 0 => Some(total as f64 / calls as f64 / 1000.0),
            _ => None,
        })
    }
}

#[async_trait]
impl AccountCache for DynamoStateStore {
    async fn save_account(&self, account: &AccountInfo) -> PortResult<()> {
        let mut item = Item::new();
        item.insert(schema::STATE_KEY.into(), s(Self::ACCOUNT));
        item.insert(
            "account".into(),
            s(serde_json::to_string(account).expect("account serialises")),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn load_account(&self) -> PortResult<Option<AccountInfo>> {
        let Some(item) = self.get(Self::ACCOUNT).await? else {
            return Ok(None);
        };
        serde_json::from_str(get_s(&item, "account")?)
            .map(Some)
            .map_err(|e| PortError::Corrupt(format!("account: {e}")))
    }
}

//! The Anlas ledger in the state table: one item per key and local day,
//! `ledger#<key id>#<YYYY-MM-DD>`, with `committed` (held + spent), `spent` and `jobs`.
//! Each change is one `UpdateItem` with `ADD`; a hold's limits are its condition
//! (DynamoDB conditions cannot add, so the budget check compares `committed` with the
//! budget less the amount), so two concurrent holds can never both pass a budget.

use async_trait::async_trait;
use chrono::NaiveDate;

use naiq_core::ports::*;

use super::state::DynamoStateStore;
use super::*;

/// Days a ledger item is kept after its day (DynamoDB's TTL then deletes it).
const KEEP_DAYS: i64 = 3;

fn name(key_id: &str, day: NaiveDate) -> String {
    format!("ledger#{key_id}#{day}")
}

fn expiry(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        .timestamp()
        + (KEEP_DAYS + 1) * 86_400
}

fn num(item: &Item, name: &str) -> i64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn day_of(item: Option<&Item>) -> LedgerDay {
    let Some(item) = item else {
        return LedgerDay::default();
    };
    let committed = num(item, "committed").max(0) as u64;
    let spent = num(item, "spent").max(0) as u64;
    LedgerDay {
        held: committed.saturating_sub(spent),
        spent,
        jobs: num(item, "jobs").max(0) as u64,
    }
}

#[async_trait]
impl Ledger for DynamoStateStore {
    async fn hold(
        &self,
        key_id: &str,
        day: NaiveDate,
        amount: u64,
        limits: HoldLimits,
    ) -> PortResult<Result<LedgerDay, HoldRefused>> {
        if limits.anlas.is_some_and(|budget| amount > budget) {
            return Ok(Err(HoldRefused::Anlas(self.day(key_id, day).await?)));
        }
        if limits.jobs == Some(0) {
            return Ok(Err(HoldRefused::Jobs(self.day(key_id, day).await?)));
        }
        let mut conditions = Vec::new();
        let mut req = self
            .client()
            .update_item()
            .table_name(self.table())
            .key(schema::STATE_KEY, s(name(key_id, day)))
            .update_expression("ADD committed :a, jobs :one SET #ttl = :ttl")
            .expression_attribute_names("#ttl", schema::STATE_TTL)
            .expression_attribute_values(":a", n(amount))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(expiry(day)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew);
        if let Some(budget) = limits.anlas {
            conditions.push("(attribute_not_exists(committed) OR committed <= :room)");
            req = req.expression_attribute_values(":room", n(budget - amount));
        }
        if let Some(jobs) = limits.jobs {
            conditions.push("(attribute_not_exists(jobs) OR jobs < :maxjobs)");
            req = req.expression_attribute_values(":maxjobs", n(jobs));
        }
        if !conditions.is_empty() {
            req = req.condition_expression(conditions.join(" AND "));
        }
        match req.send().await {
            Ok(out) => Ok(Ok(day_of(out.attributes.as_ref()))),
            Err(e) if is_conditional_failure(&e) => {
                // Which limit: read the day as it stands.
                let now = self.day(key_id, day).await?;
                let over_anlas = limits
                    .anlas
                    .is_some_and(|budget| now.held + now.spent + amount > budget);
                Ok(Err(if over_anlas {
                    HoldRefused::Anlas(now)
                } else {
                    HoldRefused::Jobs(now)
                }))
            }
            Err(e) => Err(backend(e)),
        }
    }

    async fn settle(&self, key_id: &str, day: NaiveDate, held: u64, actual: u64) -> PortResult<()> {
        let delta = actual as i64 - held as i64;
        self.client()
            .update_item()
            .table_name(self.table())
            .key(schema::STATE_KEY, s(name(key_id, day)))
            .update_expression("ADD committed :d, spent :a SET #ttl = :ttl")
            .expression_attribute_names("#ttl", schema::STATE_TTL)
            .expression_attribute_values(":d", n(delta))
            .expression_attribute_values(":a", n(actual))
            .expression_attribute_values(":ttl", n(expiry(day)))
            .send()
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn day(&self, key_id: &str, day: NaiveDate) -> PortResult<LedgerDay> {
        Ok(day_of(self.get(&name(key_id, day)).await?.as_ref()))
    }
}

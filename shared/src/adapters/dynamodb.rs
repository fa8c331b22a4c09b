//! DynamoDB adapters: the jobs table (with its queue index), the keys table and the
//! state table (drain lease, per-day call counters).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{AttributeValue, Select};
use chrono::{DateTime, Utc};

use super::aws::describe;
use crate::domain::account::AccountInfo;
use crate::domain::pacing::PacingState;
use crate::domain::{ApiKeyRecord, Job, JobError, Lane, Status, TaskId};
use crate::ports::*;

/// Names the code and `template.yaml` agree on (a test checks the template).
pub mod schema {
    pub const JOBS_KEY: &str = "task_id";
    pub const QUEUE_INDEX: &str = "queue-index";
    pub const QUEUE_INDEX_HASH: &str = "queue";
    pub const QUEUE_INDEX_RANGE: &str = "queue_order";
    /// Sparse: only unfinished jobs carry its hash key, so a key's queue status reads its
    /// few live jobs, not its whole history.
    pub const ACTIVE_INDEX: &str = "active-index";
    pub const ACTIVE_INDEX_HASH: &str = "active_owner";
    pub const ACTIVE_INDEX_RANGE: &str = "created_at";
    /// The one value of the queue index's hash key: only waiting jobs carry it.
    pub const QUEUE_WAITING: &str = "WAITING";
    pub const KEYS_KEY: &str = "key_hash";
    pub const STATE_KEY: &str = "name";
    /// Epoch seconds after which DynamoDB may delete a state item.
    pub const STATE_TTL: &str = "expires_at_epoch";
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn ts(t: DateTime<Utc>) -> AttributeValue {
    s(t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

fn get_s<'a>(item: &'a Item, name: &str) -> PortResult<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| PortError::Corrupt(format!("attribute {name} missing or not a string")))
}

fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

fn get_ts(item: &Item, name: &str) -> PortResult<DateTime<Utc>> {
    parse_ts(get_s(item, name)?, name)
}

fn parse_ts(v: &str, name: &str) -> PortResult<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| PortError::Corrupt(format!("attribute {name}: {e}")))
}

fn opt_ts(item: &Item, name: &str) -> PortResult<Option<DateTime<Utc>>> {
    opt_s(item, name).map(|v| parse_ts(v, name)).transpose()
}

fn is_conditional_failure<E, R>(err: &SdkError<E, R>) -> bool
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    err.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
}

fn backend<E: std::error::Error>(err: E) -> PortError {
    PortError::backend("DynamoDB", describe(&err))
}

pub fn job_to_item(job: &Job) -> Item {
    let mut item = Item::new();
    item.insert(schema::JOBS_KEY.into(), s(job.task_id.as_str()));
    item.insert("owner".into(), s(&job.owner));
    item.insert("status".into(), s(job.status.as_str()));
    item.insert("lane".into(), s(job.lane.as_str()));
    item.insert(
        "params".into(),
        s(serde_json::to_string(&job.params).expect("params serialise")),
    );
    item.insert("created_at".into(), ts(job.created_at));
    if let Some(t) = job.started_at {
        item.insert("started_at".into(), ts(t));
    }
    if let Some(t) = job.finished_at {
        item.insert("finished_at".into(), ts(t));
    }
    item.insert("attempts".into(), n(job.attempts));
    if !job.image_keys.is_empty() {
        item.insert(
            "image_keys".into(),
            AttributeValue::L(job.image_keys.iter().map(s).collect()),
        );
    }
    if let Some(k) = &job.input_image_key {
        item.insert("input_image_key".into(), s(k));
    }
    if let Some(k) = &job.mask_key {
        item.insert("mask_key".into(), s(k));
    }
    if let Some(c) = &job.cost {
        item.insert(
            "cost".into(),
            s(serde_json::to_string(c).expect("cost serialises")),
        );
    }
    if let Some(e) = &job.error {
        item.insert("error_code".into(), s(&e.code));
        item.insert("error_message".into(), s(&e.message));
    }
    if !job.status.is_terminal() {
        item.insert(schema::ACTIVE_INDEX_HASH.into(), s(&job.owner));
    }
    // Only waiting jobs are in the (sparse) queue index.
    if job.status.is_waiting() {
        item.insert(schema::QUEUE_INDEX_HASH.into(), s(schema::QUEUE_WAITING));
        item.insert(schema::QUEUE_INDEX_RANGE.into(), s(job.queue_order()));
    }
    item
}

pub fn item_to_job(item: &Item) -> PortResult<Job> {
    let corrupt = |what: &str| PortError::Corrupt(what.to_string());
    Ok(Job {
        task_id: TaskId::parse(get_s(item, schema::JOBS_KEY)?).ok_or_else(|| corrupt("task_id"))?,
        owner: get_s(item, "owner")?.to_string(),
        status: get_s(item, "status")?
            .parse()
            .map_err(|_| corrupt("status"))?,
        lane: get_s(item, "lane")?
            .parse::<Lane>()
            .map_err(|_| corrupt("lane"))?,
        params: serde_json::from_str(get_s(item, "params")?)
            .map_err(|e| PortError::Corrupt(format!("params: {e}")))?,
        created_at: get_ts(item, "created_at")?,
        started_at: opt_ts(item, "started_at")?,
        finished_at: opt_ts(item, "finished_at")?,
        attempts: item
            .get("attempts")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        image_keys: item
            .get("image_keys")
            .and_then(|v| v.as_l().ok())
            .map(|l| l.iter().filter_map(|v| v.as_s().ok().cloned()).collect())
            .unwrap_or_default(),
        input_image_key: opt_s(item, "input_image_key").map(str::to_string),
        mask_key: opt_s(item, "mask_key").map(str::to_string),
        cost: opt_s(item, "cost").and_then(|c| serde_json::from_str(c).ok()),
        error: match (opt_s(item, "error_code"), opt_s(item, "error_message")) {
            (Some(code), message) => Some(JobError::new(code, message.unwrap_or_default())),
            _ => None,
        },
    })
}

pub struct DynamoJobStore {
    client: Client,
    table: String,
}

impl DynamoJobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn count_waiting(&self, before: Option<&str>) -> PortResult<u64> {
        let mut total = 0u64;
        let mut start: Option<Item> = None;
        loop {
            let mut q = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(schema::QUEUE_INDEX)
                .select(Select::Count)
                .expression_attribute_names("#q", schema::QUEUE_INDEX_HASH)
                .expression_attribute_values(":q", s(schema::QUEUE_WAITING))
                .set_exclusive_start_key(start.take());
            q = match before {
                Some(order) => q
                    .key_condition_expression("#q = :q AND #o < :o")
                    .expression_attribute_names("#o", schema::QUEUE_INDEX_RANGE)
                    .expression_attribute_values(":o", s(order)),
                None => q.key_condition_expression("#q = :q"),
            };
            let out = q.send().await.map_err(backend)?;
            total += out.count().max(0) as u64;
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(total),
            }
        }
    }
}

#[async_trait]
impl JobStore for DynamoJobStore {
    async fn insert(&self, job: &Job) -> PortResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_to_item(job)))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", schema::JOBS_KEY)
            .send()
            .await
            .map_err(|e| {
                if is_conditional_failure(&e) {
                    PortError::Conflict(format!("task {} exists", job.task_id))
                } else {
                    backend(e)
                }
            })?;
        Ok(())
    }

    async fn get(&self, task_id: &TaskId) -> PortResult<Option<Job>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(schema::JOBS_KEY, s(task_id.as_str()))
            .consistent_read(true)
            .send()
            .await
            .map_err(backend)?;
        out.item.as_ref().map(item_to_job).transpose()
    }

    async fn replace(&self, job: &Job, expected: Status) -> PortResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_to_item(job)))
            .condition_expression("#st = :expected")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":expected", s(expected.as_str()))
            .send()
            .await
            .map_err(|e| {
                if is_conditional_failure(&e) {
                    PortError::Conflict(format!("task {} is no longer {expected}", job.task_id))
                } else {
                    backend(e)
                }
            })?;
        Ok(())
    }

    async fn queue_position(&self, job: &Job) -> PortResult<QueuePosition> {
        let ahead = self.count_waiting(Some(&job.queue_order())).await?;
        let total = self.count_waiting(None).await?;
        Ok(QueuePosition {
            position: ahead + 1,
            // The index is eventually consistent: never report fewer than the position.
            total_pending: total.max(ahead + 1),
        })
    }

    async fn total_pending(&self) -> PortResult<u64> {
        self.count_waiting(None).await
    }

    async fn active_for_owner(&self, owner: &str) -> PortResult<Vec<Job>> {
        let mut jobs = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(schema::ACTIVE_INDEX)
                .key_condition_expression("#o = :o")
                .expression_attribute_names("#o", schema::ACTIVE_INDEX_HASH)
                .expression_attribute_values(":o", s(owner))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(backend)?;
            for item in out.items() {
                jobs.push(item_to_job(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(jobs),
            }
        }
    }
}

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
        }))
    }
}

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

    async fn get(&self, name: &str) -> PortResult<Option<Item>> {
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

fn num(item: &Item, name: &str) -> Option<u64> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

#[async_trait]
impl StateStore for DynamoStateStore {
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

    async fn load_pacing(&self) -> PortResult<(PacingState, u64)> {
        let Some(item) = self.get(Self::PACING).await? else {
            return Ok((PacingState::default(), 0));
        };
        let state = serde_json::from_str(get_s(&item, "state")?)
            .map_err(|e| PortError::Corrupt(format!("pacing state: {e}")))?;
        Ok((state, num(&item, "version").unwrap_or(0)))
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::request::{Limits, parse_submit};

    fn job() -> Job {
        let params = parse_submit(br#"{"prompt": "x", "model": "nai-v3"}"#, &Limits::default())
            .unwrap()
            .params;
        Job::new(
            TaskId::from_random_bytes([3; 16]),
            "owner".into(),
            Lane::Normal,
            params,
            Utc.timestamp_millis_opt(1_790_000_000_000).unwrap(),
        )
    }

    #[test]
    fn input_and_mask_keys_round_trip() {
        let mut j = job();
        j.input_image_key = Some(format!("inputs/{}", j.task_id));
        j.mask_key = Some(format!("inputs/{}-mask", j.task_id));
        j.params.inpaint = true;
        let item = job_to_item(&j);
        assert_eq!(
            item.get("mask_key").and_then(|v| v.as_s().ok()),
            j.mask_key.as_ref()
        );
        assert_eq!(item_to_job(&item).unwrap(), j);
    }

    #[test]
    fn items_stored_before_masks_load_without_one() {
        let j = job();
        let item = job_to_item(&j);
        assert!(!item.contains_key("mask_key"));
        let back = item_to_job(&item).unwrap();
        assert_eq!(back.mask_key, None);
        assert!(!back.params.inpaint);
        assert_eq!(back, j);
    }
}

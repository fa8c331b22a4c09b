//! The jobs table, with its sparse queue index (positions) and active index (an owner's
//! unfinished jobs).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::Select;

use naiq_core::domain::{Job, Status, TaskId};
use naiq_core::ports::*;

use super::*;

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
                    PortError::Conflict(format!("task {} exists", job.task_id()))
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
                    PortError::Conflict(format!("task {} is no longer {expected}", job.task_id()))
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

//! The jobs table, with its sparse queue index (an owner's waiting jobs by lane and age),
//! active index (an owner's unfinished jobs) and the queue counters (`turns`), written in
//! the same transaction as the job.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use naiq_core::domain::pacing::PacingState;
use naiq_core::domain::turns::{QueueSnapshot, TurnChange};
use naiq_core::domain::{Job, Status, TaskId};
use naiq_core::ports::*;

use super::*;
use super::{owner_jobs, turns};

pub struct DynamoJobStore {
    client: Client,
    table: String,
    /// The state table, when a status read should take the pacing state in its batch.
    state_table: Option<String>,
}

impl DynamoJobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
            state_table: None,
        }
    }

    /// A status read ([`JobStore::get_for_status`]) takes the pacing state from
    /// `state_table` in the same BatchGetItem as the job and its counters.
    pub fn with_pacing_from(mut self, state_table: impl Into<String>) -> Self {
        self.state_table = Some(state_table.into());
        self
    }

    /// The pacing state's item, read in the counters' batch, when the store was given the
    /// state table.
    fn pacing_item(&self) -> Option<turns::OtherItem<'_>> {
        self.state_table.as_deref().map(|table| turns::OtherItem {
            table,
            key: super::state::pacing_key(),
        })
    }

    /// Writes a job's item on `condition`, and with a change of its lane's counters in the
    /// same transaction. A transaction that collides with another on the counters item is
    /// tried again.
    async fn put_counted(
        &self,
        job: &Job,
        condition: Put,
        change: Option<TurnChange>,
    ) -> Result<(), WriteError> {
        let Some(change) = change else {
            return self.put_plain(condition).await;
        };
        let update = turns::counter_update(&self.table, job, change).map_err(WriteError::Other)?;
        let mut attempt = 0u32;
        loop {
            let out = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(condition.clone()).build())
                .transact_items(TransactWriteItem::builder().update(update.clone()).build())
                .send()
                .await;
            let Err(e) = out else {
                return Ok(());
            };
            let reasons: Vec<String> = e
                .as_service_error()
                .and_then(|se| match se {
                    TransactWriteItemsError::TransactionCanceledException(c) => Some(
                        c.cancellation_reasons()
                            .iter()
                            .map(|r| r.code().unwrap_or_default().to_string())
                            .collect(),
                    ),
                    _ => None,
                })
                .unwrap_or_default();
            let refused = |i: usize| {
                reasons
                    .get(i)
                    .is_some_and(|c| c == "ConditionalCheckFailed")
            };
            if refused(0) {
                return Err(WriteError::Condition);
            }
            if refused(1) {
                return Err(WriteError::StaleMark);
            }
            let conflict = reasons.iter().any(|c| c == "TransactionConflict");
            if conflict && attempt < 5 {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(20 * u64::from(attempt))).await;
                continue;
            }
            return Err(WriteError::Other(backend(e)));
        }
    }

    async fn put_plain(&self, put: Put) -> Result<(), WriteError> {
        self.client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_string))
            .set_expression_attribute_names(put.expression_attribute_names().cloned())
            .set_expression_attribute_values(put.expression_attribute_values().cloned())
            .send()
            .await
            .map_err(|e| {
                if is_conditional_failure(&e) {
                    WriteError::Condition
                } else {
                    WriteError::Other(backend(e))
                }
            })?;
        Ok(())
    }
}

/// Why a conditional write did not happen.
enum WriteError {
    /// The job's own condition.
    Condition,
    /// A new job's entry mark: its owner's counters changed since they were read.
    StaleMark,
    Other(PortError),
}

#[async_trait]
impl JobStore for DynamoJobStore {
    async fn insert(&self, job: &Job) -> PortResult<()> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(job_to_item(job)))
            .condition_expression("attribute_not_exists(#k)")
            .expression_attribute_names("#k", schema::JOBS_KEY)
            .build()
            .map_err(|e| PortError::backend("DynamoDB", format!("job put: {e}")))?;
        match self
            .put_counted(job, put, TurnChange::of_job(None, job))
            .await
        {
            Ok(()) => Ok(()),
            Err(WriteError::Condition) => Err(PortError::Conflict(format!(
                "task {} exists",
                job.task_id()
            ))),
            // Its owner's jobs changed since the submit read the counters: the job is
            // stored without its mark (its position is then counted), which cannot be
            // refused for that.
            Err(WriteError::StaleMark) => self.insert(&job.without_entry_mark()).await,
            Err(WriteError::Other(e)) => Err(e),
        }
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
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(job_to_item(job)))
            .condition_expression("#st = :expected")
            .expression_attribute_names("#st", "status")
            .expression_attribute_values(":expected", s(expected.as_str()))
            .build()
            .map_err(|e| PortError::backend("DynamoDB", format!("job put: {e}")))?;
        match self
            .put_counted(job, put, TurnChange::of_job(Some(expected), job))
            .await
        {
            Ok(()) => Ok(()),
            Err(WriteError::Condition) => Err(PortError::Conflict(format!(
                "task {} is no longer {expected}",
                job.task_id()
            ))),
            // Only a new job's counters are conditional.
            Err(WriteError::StaleMark) => Err(PortError::backend(
                "DynamoDB",
                "a replaced job's counters were refused",
            )),
            Err(WriteError::Other(e)) => Err(e),
        }
    }

    async fn get_with_counters(
        &self,
        task_id: &TaskId,
    ) -> PortResult<(Option<Job>, QueueSnapshot)> {
        let (snapshot, item) =
            turns::read_snapshot_and(&self.client, &self.table, Some(task_id.as_str())).await?;
        Ok((item.as_ref().map(item_to_job).transpose()?, snapshot))
    }

    async fn get_for_status(&self, task_id: &TaskId) -> PortResult<StatusRead> {
        let other = self.pacing_item();
        let with_pacing = other.is_some();
        let (snapshot, item, pacing) =
            turns::read_snapshot_with(&self.client, &self.table, Some(task_id.as_str()), other)
                .await?;
        let job = item.as_ref().map(item_to_job).transpose()?;
        let pacing = if with_pacing {
            Some(super::state::pacing_of(pacing.as_ref())?)
        } else {
            None
        };
        Ok((job, snapshot, pacing))
    }

    async fn snapshot_with_pacing(
        &self,
    ) -> PortResult<(QueueSnapshot, Option<(PacingState, u64)>)> {
        let Some(other) = self.pacing_item() else {
            return Ok((self.queue_snapshot().await?, None));
        };
        let (snapshot, _, pacing) =
            turns::read_snapshot_with(&self.client, &self.table, None, Some(other)).await?;
        Ok((snapshot, Some(super::state::pacing_of(pacing.as_ref())?)))
    }

    async fn own_ahead(&self, job: &Job) -> PortResult<u64> {
        turns::own_ahead(&self.client, &self.table, job).await
    }

    async fn total_pending(&self) -> PortResult<u64> {
        Ok(turns::read_snapshot(&self.client, &self.table)
            .await?
            .total_pending())
    }

    async fn queue_snapshot(&self) -> PortResult<QueueSnapshot> {
        turns::read_snapshot(&self.client, &self.table).await
    }

    async fn waiting_before(
        &self,
        before: chrono::DateTime<chrono::Utc>,
        limit: usize,
    ) -> PortResult<Vec<Job>> {
        // The queue index has one partition per lane and key (`WAITING#<lane>#<owner>`,
        // ordered `rank#created_ms#id`) and keeps only keys; the lane counters name the
        // keys with waiting jobs. Read each such partition up to the cutoff, then each job
        // itself, consistently; within a lane, oldest first.
        let cutoff = before.timestamp_millis().max(0);
        let snapshot = self.queue_snapshot().await?;
        let mut jobs = Vec::new();
        for lane in naiq_core::domain::Lane::ALL {
            let Some(turns) = snapshot.lane(lane) else {
                continue;
            };
            let mut in_lane = Vec::new();
            for (owner, _) in turns.keys.iter().filter(|(_, k)| k.waiting > 0) {
                let mut start: Option<Item> = None;
                loop {
                    let out = self
                        .client
                        .query()
                        .table_name(&self.table)
                        .index_name(schema::QUEUE_INDEX)
                        .key_condition_expression("#q = :q AND #o BETWEEN :lo AND :hi")
                        .expression_attribute_names("#q", schema::QUEUE_INDEX_HASH)
                        .expression_attribute_names("#o", schema::QUEUE_INDEX_RANGE)
                        .expression_attribute_values(
                            ":q",
                            s(super::codec::queue_partition(lane, owner)),
                        )
                        .expression_attribute_values(":lo", s(format!("{}#", lane.rank())))
                        .expression_attribute_values(
                            ":hi",
                            s(format!("{}#{cutoff:013}", lane.rank())),
                        )
                        .limit(limit.min(100) as i32)
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(backend)?;
                    for key in out.items() {
                        let task_id = TaskId::parse(get_s(key, schema::JOBS_KEY)?)
                            .ok_or_else(|| PortError::Corrupt("task_id".into()))?;
                        // The index lags the table: keep only what is still waiting.
                        if let Some(job) = self.get(&task_id).await?
                            && job.status().is_waiting()
                            && job.created_at() < before
                        {
                            in_lane.push(job);
                        }
                    }
                    match out.last_evaluated_key {
                        Some(k) if !k.is_empty() && in_lane.len() < limit => start = Some(k),
                        _ => break,
                    }
                }
            }
            in_lane.sort_by_key(|j| (j.created_at(), j.task_id().as_str().to_string()));
            for job in in_lane {
                if jobs.len() >= limit {
                    return Ok(jobs);
                }
                jobs.push(job);
            }
        }
        Ok(jobs)
    }

    async fn active_for_owner(&self, owner: &str) -> PortResult<Vec<Job>> {
        owner_jobs::active(&self.client, &self.table, owner).await
    }

    async fn list_for_owner(
        &self,
        owner: &str,
        status: Option<Status>,
        limit: usize,
        cursor: Option<&str>,
    ) -> PortResult<JobPage> {
        owner_jobs::page(&self.client, &self.table, owner, status, limit, cursor).await
    }
}

//! The queue counters of the jobs table (`domain::turns`): one small item per lane, keyed
//! `queue-counters#<lane>`, with `waiting` (the lane's waiting jobs), `turn` (the lane's
//! turn counter) and per owner `w#<owner>` (its waiting jobs), `t#<owner>` (its last
//! turn) and `m#<owner>` (its reorders and its starts, packed in one number: see
//! [`ORDER_UNIT`]; one attribute per key, since the item holds every key that ever queued
//! in the lane). Every job write that moves a job into or out of waiting updates its
//! lane's item in the same transaction, so the counters never drift from the jobs; a
//! position reads the four items in one request, whatever the queue length.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::builders::KeysAndAttributesBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, Select, Update};

use naiq_core::domain::turns::{LaneTurns, QueueSnapshot, TurnChange, fresh_turn};
use naiq_core::domain::{Job, Lane};
use naiq_core::ports::{PortError, PortResult};

use super::codec::queue_partition;
use super::{Item, backend, n, s, schema};

const WAITING: &str = "waiting";
const TURN: &str = "turn";
const KEY_WAITING: &str = "w#";
const KEY_TURN: &str = "t#";
const KEY_ORDER: &str = "m#";

/// `m#<owner>` is `reorders * ORDER_UNIT + starts`: a start adds one, a reorder adds a
/// unit, and a new job's condition compares one attribute. A key would need a billion
/// starts in a lane (at 800 calls a day, three thousand years) to overflow into its
/// reorders, and nine billion reorders to leave an `i64`.
const ORDER_UNIT: i64 = 1_000_000_000;

fn order_value(starts: u64, reorders: u64) -> i64 {
    (reorders as i64).saturating_mul(ORDER_UNIT) + starts as i64
}

/// The key of a lane's counters item.
pub(super) fn counters_key(lane: Lane) -> String {
    format!("{}{}", schema::COUNTERS_PREFIX, lane.as_str())
}

/// `#name = :value`, where an absent attribute counts as zero.
fn equals(name: &str, value: &str, is_zero: bool) -> String {
    if is_zero {
        format!("(attribute_not_exists({name}) OR {name} = {value})")
    } else {
        format!("{name} = {value}")
    }
}

/// The update of `job`'s lane counters for one change, as a transaction item. A marked job
/// entering (`TurnChange::Enters`) is counted only while its owner's counters are still
/// those of its mark; the transaction is refused otherwise.
pub(super) fn counter_update(table: &str, job: &Job, change: TurnChange) -> PortResult<Update> {
    let owner = job.owner();
    let b = Update::builder()
        .table_name(table)
        .key(schema::JOBS_KEY, s(counters_key(job.lane())))
        .expression_attribute_names("#lw", WAITING)
        .expression_attribute_names("#w", format!("{KEY_WAITING}{owner}"))
        .expression_attribute_names("#m", format!("{KEY_ORDER}{owner}"));
    let turn_name = format!("{KEY_TURN}{owner}");
    let fresh = n(fresh_turn(job.created_at().timestamp_millis()));
    let b = match change {
        TurnChange::Enters => {
            let mark = job.entry_mark().unwrap_or_default();
            let order = order_value(mark.starts, mark.reorders);
            let condition = format!(
                "{} AND {}",
                equals("#w", ":cw", mark.ahead == 0),
                equals("#m", ":cm", order == 0)
            );
            b.update_expression("ADD #lw :one, #w :one SET #t = if_not_exists(#t, :fresh)")
                .condition_expression(condition)
                .expression_attribute_names("#t", turn_name)
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":fresh", fresh)
                .expression_attribute_values(":cw", n(mark.ahead))
                .expression_attribute_values(":cm", n(order))
        }
        TurnChange::Reenters => b
            .update_expression(
                "ADD #lw :one, #w :one, #m :reorder SET #t = if_not_exists(#t, :fresh)",
            )
            .expression_attribute_names("#t", turn_name)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":reorder", n(ORDER_UNIT))
            .expression_attribute_values(":fresh", fresh),
        TurnChange::Leaves => b
            .update_expression("ADD #lw :minus, #w :minus, #m :reorder")
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":reorder", n(ORDER_UNIT)),
        // The owner's last turn and the lane's counter both become the counter plus one
        // (operands are read before the update).
        TurnChange::Starts => b
            .update_expression(
                "ADD #lw :minus, #w :minus, #m :one \
                 SET #t = if_not_exists(#turn, :zero) + :one, #turn = if_not_exists(#turn, :zero) + :one",
            )
            .expression_attribute_names("#t", turn_name)
            .expression_attribute_names("#turn", TURN)
            .expression_attribute_values(":minus", n(-1))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1)),
    };
    b.build()
        .map_err(|e| PortError::backend("DynamoDB", format!("counter update: {e}")))
}

fn num(v: &AttributeValue) -> i64 {
    v.as_n().ok().and_then(|t| t.parse().ok()).unwrap_or(0)
}

/// One lane's counters from its item.
fn lane_turns(item: &Item) -> LaneTurns {
    let mut lane = LaneTurns {
        waiting: item.get(WAITING).map_or(0, num).max(0) as u64,
        turn: item.get(TURN).map_or(0, num),
        ..LaneTurns::default()
    };
    for (name, value) in item {
        if let Some(owner) = name.strip_prefix(KEY_WAITING) {
            lane.keys.entry(owner.to_string()).or_default().waiting = num(value).max(0) as u64;
        } else if let Some(owner) = name.strip_prefix(KEY_TURN) {
            lane.keys.entry(owner.to_string()).or_default().last_turn = num(value);
        } else if let Some(owner) = name.strip_prefix(KEY_ORDER) {
            let packed = num(value).max(0);
            let key = lane.keys.entry(owner.to_string()).or_default();
            key.starts = (packed % ORDER_UNIT) as u64;
            key.reorders = (packed / ORDER_UNIT) as u64;
        }
    }
    lane
}

/// Every lane's counters, in one (strongly consistent) batch read.
pub(super) async fn read_snapshot(client: &Client, table: &str) -> PortResult<QueueSnapshot> {
    Ok(read_snapshot_and(client, table, None).await?.0)
}

/// The counters and, in the same BatchGetItem, the item keyed `also` (a job); `None`
/// for an item that does not exist.
pub(super) async fn read_snapshot_and(
    client: &Client,
    table: &str,
    also: Option<&str>,
) -> PortResult<(QueueSnapshot, Option<Item>)> {
    let (snapshot, found, _) = read_snapshot_with(client, table, also, None).await?;
    Ok((snapshot, found))
}

/// An item of another table read in the same BatchGetItem as the counters: its table and
/// its key.
pub(super) struct OtherItem<'a> {
    pub table: &'a str,
    pub key: Item,
}

/// The counters, the item keyed `also` (a job) and `other`'s item, all in one
/// BatchGetItem (strongly consistent); `None` for an item that does not exist.
pub(super) async fn read_snapshot_with(
    client: &Client,
    table: &str,
    also: Option<&str>,
    other: Option<OtherItem<'_>>,
) -> PortResult<(QueueSnapshot, Option<Item>, Option<Item>)> {
    let built = |keys: KeysAndAttributesBuilder| {
        keys.build()
            .map_err(|e| PortError::backend("DynamoDB", format!("counter read: {e}")))
    };
    let mut keys = KeysAndAttributes::builder().consistent_read(true);
    for key in Lane::ALL
        .map(counters_key)
        .into_iter()
        .chain(also.map(str::to_string))
    {
        let mut item = Item::new();
        item.insert(schema::JOBS_KEY.into(), s(key));
        keys = keys.keys(item);
    }
    let mut request = HashMap::from([(table.to_string(), built(keys)?)]);
    let other_table = other.as_ref().map(|o| o.table);
    if let Some(o) = other {
        let keys = KeysAndAttributes::builder()
            .consistent_read(true)
            .keys(o.key);
        request.insert(o.table.to_string(), built(keys)?);
    }
    let mut snapshot = QueueSnapshot::default();
    let (mut found, mut other_found) = (None, None);
    // A batch read may hand some keys back unprocessed (throttling): read those again.
    for _ in 0..5 {
        if request.is_empty() {
            break;
        }
        let out = client
            .batch_get_item()
            .set_request_items(Some(std::mem::take(&mut request)))
            .send()
            .await
            .map_err(backend)?;
        let mut responses = out.responses.unwrap_or_default();
        if let Some(item) = other_table
            .and_then(|t| responses.remove(t))
            .and_then(|mut items| items.pop())
        {
            other_found = Some(item);
        }
        for item in responses.remove(table).unwrap_or_default() {
            let key = item.get(schema::JOBS_KEY).and_then(|v| v.as_s().ok());
            if key.is_some() && key.map(String::as_str) == also {
                found = Some(item);
                continue;
            }
            let Some(lane) = key
                .and_then(|k| k.strip_prefix(schema::COUNTERS_PREFIX))
                .and_then(|l| l.parse::<Lane>().ok())
            else {
                continue;
            };
            snapshot.lanes.insert(lane, lane_turns(&item));
        }
        request = out
            .unprocessed_keys
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, k)| !k.keys().is_empty())
            .collect();
    }
    if !request.is_empty() {
        // Still unprocessed after five tries: DynamoDB is throttling this table.
        return Err(PortError::backend(
            "DynamoDB",
            "the counters' read stayed unprocessed (throttled)",
        ));
    }
    Ok((snapshot, found, other_found))
}

/// How many of `job`'s owner's waiting jobs are ahead of it in its lane: a count over the
/// owner's own partition of the queue index (keys only, so one page holds thousands).
pub(super) async fn own_ahead(client: &Client, table: &str, job: &Job) -> PortResult<u64> {
    let mut total = 0u64;
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .query()
            .table_name(table)
            .index_name(schema::QUEUE_INDEX)
            .select(Select::Count)
            .key_condition_expression("#q = :q AND #o < :o")
            .expression_attribute_names("#q", schema::QUEUE_INDEX_HASH)
            .expression_attribute_names("#o", schema::QUEUE_INDEX_RANGE)
            .expression_attribute_values(":q", s(queue_partition(job.lane(), job.owner())))
            .expression_attribute_values(":o", s(job.queue_order()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(backend)?;
        total += out.count().max(0) as u64;
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return Ok(total),
        }
    }
}

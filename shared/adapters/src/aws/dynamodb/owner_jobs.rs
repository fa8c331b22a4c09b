//! An owner's jobs, from the jobs table's indexes: the unfinished ones (the active index)
//! and the pages of all of them, newest first (the owner index), with the opaque cursor
//! a page ends on.

use aws_sdk_dynamodb::Client;

use naiq_core::domain::{Job, Status, TaskId};
use naiq_core::ports::*;

use super::codec::item_to_job;
use super::*;

/// An owner's jobs that are not finished (waiting or started), oldest first.
pub(super) async fn active(client: &Client, table: &str, owner: &str) -> PortResult<Vec<Job>> {
    let mut jobs = Vec::new();
    let mut start: Option<Item> = None;
    loop {
        let out = client
            .query()
            .table_name(table)
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

/// One page of an owner's jobs, newest first, from `cursor`.
pub(super) async fn page(
    client: &Client,
    table: &str,
    owner: &str,
    status: Option<Status>,
    limit: usize,
    cursor: Option<&str>,
) -> PortResult<JobPage> {
    let mut start = cursor.map(decode_cursor).transpose()?;
    let mut jobs = Vec::new();
    loop {
        let mut q = client
            .query()
            .table_name(table)
            .index_name(schema::OWNER_INDEX)
            .key_condition_expression("#o = :o")
            .expression_attribute_names("#o", schema::OWNER_INDEX_HASH)
            .expression_attribute_values(":o", s(owner))
            .scan_index_forward(false)
            .limit((limit - jobs.len()) as i32)
            .set_exclusive_start_key(start.take());
        if let Some(st) = status {
            q = q
                .filter_expression("#s = :s")
                .expression_attribute_names("#s", "status")
                .expression_attribute_values(":s", s(st.as_str()));
        }
        let out = q.send().await.map_err(backend)?;
        for item in out.items() {
            jobs.push(item_to_job(item)?);
        }
        let last = out.last_evaluated_key.filter(|k| !k.is_empty());
        match last {
            Some(k) if jobs.len() < limit => start = Some(k),
            Some(k) => {
                return Ok(JobPage {
                    jobs,
                    next: Some(encode_cursor(&k)),
                });
            }
            None => return Ok(JobPage { jobs, next: None }),
        }
    }
}

/// The cursor of a page: the index key it ended on, as `task_id|owner|created_at`
/// in URL-safe base64, so it stays opaque to clients.
fn encode_cursor(key: &Item) -> String {
    use base64::Engine as _;
    let part = |n: &str| opt_s(key, n).unwrap_or_default().to_string();
    let text = [
        part(schema::JOBS_KEY),
        part(schema::OWNER_INDEX_HASH),
        part(schema::OWNER_INDEX_RANGE),
    ]
    .join("\u{1f}");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

fn decode_cursor(cursor: &str) -> PortResult<Item> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .map_err(|_| PortError::BadCursor)?;
    let text = String::from_utf8(bytes).map_err(|_| PortError::BadCursor)?;
    let parts: Vec<&str> = text.split('\u{1f}').collect();
    let [task_id, owner, created_at] = parts.as_slice() else {
        return Err(PortError::BadCursor);
    };
    if TaskId::parse(task_id).is_none() || parse_ts(created_at, "cursor").is_err() {
        return Err(PortError::BadCursor);
    }
    let mut key = Item::new();
    key.insert(schema::JOBS_KEY.into(), s(*task_id));
    key.insert(schema::OWNER_INDEX_HASH.into(), s(*owner));
    key.insert(schema::OWNER_INDEX_RANGE.into(), s(*created_at));
    Ok(key)
}

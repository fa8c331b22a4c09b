//! A job as a DynamoDB item and back. Only waiting jobs carry the queue index's keys and
//! only unfinished ones the active index's, so both indexes stay sparse.

use aws_sdk_dynamodb::types::AttributeValue;
use naiq_core::domain::{Job, JobError, JobRecord, Lane, TaskId};
use naiq_core::ports::{PortError, PortResult};

use super::{Item, get_s, get_ts, n, opt_s, opt_ts, s, schema, ts};

/// The item a job is stored as.
pub fn job_to_item(job: &Job) -> Item {
    let order = job.queue_order();
    let job = job.to_record();
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
    if !job.attempt_errors.is_empty() {
        item.insert(
            "attempt_errors".into(),
            s(serde_json::to_string(&job.attempt_errors).expect("attempt errors serialise")),
        );
    }
    if let Some(p) = &job.progress {
        item.insert(
            "progress".into(),
            s(serde_json::to_string(p).expect("progress serialises")),
        );
    }
    if let Some(m) = &job.entry_mark {
        item.insert(
            "entry_mark".into(),
            s(serde_json::to_string(m).expect("entry mark serialises")),
        );
    }
    if !job.status.is_terminal() {
        item.insert(schema::ACTIVE_INDEX_HASH.into(), s(&job.owner));
    }
    // Only waiting jobs are in the (sparse) queue index, one partition per lane and owner
    // (an owner's own jobs ahead are counted there).
    if job.status.is_waiting() {
        item.insert(
            schema::QUEUE_INDEX_HASH.into(),
            s(queue_partition(job.lane, &job.owner)),
        );
        item.insert(schema::QUEUE_INDEX_RANGE.into(), s(order));
    }
    item
}

/// The job an item stores; `Corrupt` names the attribute that is wrong.
pub fn item_to_job(item: &Item) -> PortResult<Job> {
    let corrupt = |what: &str| PortError::Corrupt(what.to_string());
    Ok(Job::restore(JobRecord {
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
        // Items written before attempts were kept have none.
        attempt_errors: match opt_s(item, "attempt_errors") {
            Some(v) => serde_json::from_str(v)
                .map_err(|e| PortError::Corrupt(format!("attempt_errors: {e}")))?,
            None => Vec::new(),
        },
        progress: match opt_s(item, "progress") {
            Some(v) => Some(
                serde_json::from_str(v)
                    .map_err(|e| PortError::Corrupt(format!("progress: {e}")))?,
            ),
            None => None,
        },
        // A mark that does not read is no reason to lose the job: its position is then
        // counted.
        entry_mark: opt_s(item, "entry_mark").and_then(|m| serde_json::from_str(m).ok()),
    }))
}

/// The queue index partition of an owner's waiting jobs in a lane.
pub(super) fn queue_partition(lane: Lane, owner: &str) -> String {
    format!("{}#{}#{owner}", schema::QUEUE_WAITING, lane.as_str())
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use chrono::Utc;
    use naiq_core::domain::request::{Limits, parse_submit};

    use super::*;

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
        let mut r = job().to_record();
        r.input_image_key = Some(format!("inputs/{}", r.task_id));
        r.mask_key = Some(format!("inputs/{}-mask", r.task_id));
        r.params.inpaint = true;
        let j = Job::restore(r);
        let item = job_to_item(&j);
        assert_eq!(
            item.get("mask_key")
                .and_then(|v| v.as_s().ok())
                .map(String::as_str),
            j.mask_key()
        );
        assert_eq!(item_to_job(&item).unwrap(), j);
    }

    /// An item's size as DynamoDB counts it: names and values in bytes (numbers by their
    /// digits, which is more than DynamoDB charges), lists with 3 bytes plus 1 an element.
    fn item_bytes(item: &Item) -> usize {
        fn value(v: &AttributeValue) -> usize {
            match v {
                AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                AttributeValue::L(l) => 3 + l.iter().map(|e| 1 + value(e)).sum::<usize>(),
                AttributeValue::M(m) => {
                    3 + m.iter().map(|(k, e)| 1 + k.len() + value(e)).sum::<usize>()
                }
                _ => 1,
            }
        }
        item.iter().map(|(k, v)| k.len() + value(v)).sum()
    }

    #[test]
    fn the_largest_job_submit_accepts_fits_one_item() {
        use naiq_core::domain::request::{MAX_ITEM_BYTES, MAX_STORED_PARAMS_BYTES, stored_bytes};
        let mut r = job().to_record();
        // Settings at the most submit lets through.
        let room = MAX_STORED_PARAMS_BYTES - stored_bytes(&r.params);
        r.params.prompt.push_str(&"a".repeat(room));
        assert_eq!(stored_bytes(&r.params), MAX_STORED_PARAMS_BYTES);
        // And everything else a job can carry at once, each at its longest.
        r.owner = "k".repeat(64);
        r.status = naiq_core::domain::Status::Retry;
        r.started_at = Some(r.created_at);
        r.finished_at = Some(r.created_at);
        r.attempts = 8;
        r.image_keys = (0..8)
            .map(|i| format!("images/{}/{i}.webp", r.task_id))
            .collect();
        r.input_image_key = Some(format!("inputs/{}", r.task_id));
        r.mask_key = Some(format!("inputs/{}-mask", r.task_id));
        r.cost = Some(naiq_core::domain::Cost {
            per_image: u32::MAX,
            billable_images: u32::MAX,
            total: u32::MAX,
            opus_free: false,
            vibe_encodes: u32::MAX,
            surcharges: u32::MAX,
        });
        r.error = Some(JobError::new("x".repeat(64), "é".repeat(10_000)));
        r.attempt_errors = (1..=naiq_core::domain::job::MAX_ATTEMPT_ERRORS as u32)
            .map(|a| {
                naiq_core::domain::AttemptError::new(
                    a,
                    &JobError::new("x".repeat(64), "é".repeat(10_000)),
                    r.created_at,
                )
            })
            .collect();
        r.progress = Some(naiq_core::domain::job::Progress {
            step: u32::MAX,
            steps: u32::MAX,
        });
        let item = job_to_item(&Job::restore(r));
        let size = item_bytes(&item);
        assert!(size <= MAX_ITEM_BYTES, "{size} > {MAX_ITEM_BYTES}");
    }

    #[test]
    fn attempt_errors_round_trip_and_old_items_have_none() {
        let mut j = job();
        j.start(j.created_at()).unwrap();
        j.start(j.created_at()).unwrap();
        j.retry(JobError::new("upstream_busy", "429"), j.created_at())
            .unwrap();
        assert_eq!(j.attempt_errors().len(), 2);
        let item = job_to_item(&j);
        assert_eq!(item_to_job(&item).unwrap(), j);
        let mut old = item.clone();
        old.remove("attempt_errors");
        assert!(item_to_job(&old).unwrap().attempt_errors().is_empty());
    }

    #[test]
    fn progress_round_trips_and_items_without_it_have_none() {
        let mut j = job();
        j.start(j.created_at()).unwrap();
        let p = naiq_core::domain::job::Progress { step: 7, steps: 28 };
        j.set_progress(p).unwrap();
        let item = job_to_item(&j);
        assert_eq!(item_to_job(&item).unwrap().progress(), Some(p));
        let mut old = item.clone();
        old.remove("progress");
        assert_eq!(item_to_job(&old).unwrap().progress(), None);
        let mut bad = item;
        bad.insert("progress".into(), s("{\"step\": \"x\"}"));
        assert!(matches!(item_to_job(&bad), Err(PortError::Corrupt(_))));
    }

    #[test]
    fn items_stored_before_masks_load_without_one() {
        let j = job();
        let item = job_to_item(&j);
        assert!(!item.contains_key("mask_key"));
        let back = item_to_job(&item).unwrap();
        assert_eq!(back.mask_key(), None);
        assert!(!back.params().inpaint);
        assert_eq!(back, j);
    }

    #[test]
    fn director_and_upscale_jobs_round_trip_and_old_items_are_generations() {
        use naiq_core::domain::JobKind;
        use naiq_core::domain::request::{parse_augment, parse_upscale};
        // A generation's stored settings say nothing of their kind (as items did before
        // the other kinds existed), and read back as a generation.
        let item = job_to_item(&job());
        let params = item.get("params").unwrap().as_s().unwrap();
        assert!(!params.contains("\"kind\""), "{params}");
        assert_eq!(item_to_job(&item).unwrap().params().kind, JobKind::Generate);

        let image = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            naiq_testkit::png_of(64, 64),
        );
        let limits = Limits::default();
        for params in [
            parse_augment(
                format!(
                    r#"{{"tool": "emotion", "emotion": "shy", "defry": 1, "image": "{image}"}}"#
                )
                .as_bytes(),
                &limits,
            )
            .unwrap()
            .params,
            parse_upscale(format!(r#"{{"image": "{image}"}}"#).as_bytes(), &limits)
                .unwrap()
                .params,
        ] {
            let kind = params.kind;
            let j = Job::new(
                TaskId::from_random_bytes([4; 16]),
                "owner".into(),
                Lane::Low,
                params,
                Utc.timestamp_millis_opt(1_790_000_000_000).unwrap(),
            );
            let back = item_to_job(&job_to_item(&j)).unwrap();
            assert_eq!(back.params().kind, kind);
            assert_eq!(back, j);
        }
    }
}

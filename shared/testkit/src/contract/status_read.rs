//! A status poll's read (`JobStore::get_for_status`): the job and its lane counters, and,
//! where the store batches it, the pacing state, all as the separate reads give them.

use chrono::{NaiveDate, TimeZone, Utc};
use naiq_core::domain::pacing::PacingState;
use naiq_core::domain::{Lane, TaskId};
use naiq_core::ports::*;

use super::jobs::job;

/// `batched`: whether this store is expected to read the pacing state in the same request
/// (the DynamoDB store given the state table); otherwise it leaves it to `pacing`.
pub async fn status_read(jobs: &dyn JobStore, pacing: &dyn PacingStore, batched: bool) {
    // Before the pacing state was ever written: the default state at version 0.
    let waiting = job(41, Lane::High, 0);
    jobs.insert(&waiting).await.unwrap();
    let (found, counters, state) = jobs.get_for_status(waiting.task_id()).await.unwrap();
    assert_eq!(found.as_ref(), Some(&waiting));
    assert_eq!(counters, jobs.queue_snapshot().await.unwrap());
    assert_eq!(state.is_some(), batched);
    if let Some(state) = state {
        assert_eq!(state, (PacingState::default(), 0));
    }
    // After a write, the state and version the pacing store reads.
    let (_, version) = pacing.load_pacing().await.unwrap();
    let written = PacingState {
        next_allowed_at: Some(Utc.timestamp_opt(1_790_000_100, 0).unwrap()),
        day: NaiveDate::from_ymd_opt(2026, 12, 5),
        day_count: 7,
    };
    pacing.save_pacing(&written, version).await.unwrap();
    let (_, _, state) = jobs.get_for_status(waiting.task_id()).await.unwrap();
    assert_eq!(state.is_some(), batched);
    if let Some(state) = state {
        assert_eq!(state, pacing.load_pacing().await.unwrap());
        assert_eq!(state, (written, version + 1));
    }
    // A job that does not exist reads as none, with the counters and the state all the same.
    let (missing, counters, state) = jobs
        .get_for_status(&TaskId::from_random_bytes([0xEF; 16]))
        .await
        .unwrap();
    assert!(missing.is_none());
    assert_eq!(counters.lane(Lane::High).map(|t| t.waiting), Some(1));
    assert_eq!(state.is_some(), batched);
    // The counters and the state without a job: what a scheduled tick reads.
    let (counters, state) = jobs.snapshot_with_pacing().await.unwrap();
    assert_eq!(counters, jobs.queue_snapshot().await.unwrap());
    assert_eq!(state.is_some(), batched);
    if let Some(state) = state {
        assert_eq!(state, pacing.load_pacing().await.unwrap());
    }
}

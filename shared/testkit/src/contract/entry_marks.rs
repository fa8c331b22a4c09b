//! The jobs table's contract for entry marks (`domain::turns::EntryMark`): a new job's mark
//! is written only against its owner's counters as they still are.

use chrono::Duration;
use naiq_core::domain::turns::QueueSnapshot;
use naiq_core::domain::{Job, Lane, Status};
use naiq_core::ports::*;

use super::jobs::job_of;

/// A new job keeps its entry mark while its owner's counters are still the ones it was
/// marked with, and is stored without it (counted as a reorder) when they changed since:
/// positions from marks then agree with the counted jobs ahead, or are not given.
pub async fn entry_marks(store: &dyn JobStore) {
    let marked = |mut job: Job, snapshot: &QueueSnapshot| {
        job.mark_entry(snapshot.entry_mark(job.lane(), job.owner()));
        job
    };
    let mut stored = Vec::new();
    for n in 0..3u8 {
        let snapshot = store.queue_snapshot().await.unwrap();
        let job = marked(
            job_of("mark-a", 71 + n, Lane::Normal, i64::from(n)),
            &snapshot,
        );
        store.insert(&job).await.unwrap();
        let read = store.get(job.task_id()).await.unwrap().unwrap();
        assert_eq!(read, job, "the mark is kept");
        stored.push(read);
    }
    let before_start = store.queue_snapshot().await.unwrap();
    let by_mark = |s: &QueueSnapshot| {
        stored
            .iter()
            .map(|j| s.own_ahead_by_mark(j))
            .collect::<Vec<_>>()
    };
    assert_eq!(by_mark(&before_start), vec![Some(0), Some(1), Some(2)]);

    // The first starts: the others move up, still from their marks.
    let mut first = stored[0].clone();
    first
        .start(first.created_at() + Duration::seconds(1))
        .unwrap();
    store.replace(&first, Status::Pending).await.unwrap();
    assert_eq!(
        store
            .get(first.task_id())
            .await
            .unwrap()
            .unwrap()
            .entry_mark(),
        None
    );
    let snap = store.queue_snapshot().await.unwrap();
    assert_eq!(snap.lane(Lane::Normal).unwrap().keys["mark-a"].starts, 1);
    assert_eq!(by_mark(&snap)[1..], [Some(0), Some(1)]);
    assert_eq!(store.own_ahead(&stored[2]).await.unwrap(), 1);
    assert_eq!(store.queue_position(&stored[2]).await.unwrap().position, 2);

    // A job marked against the counters before that start: stored without its mark, and
    // the owner's other marks no longer give positions.
    let late = marked(job_of("mark-a", 75, Lane::Normal, 10), &before_start);
    store.insert(&late).await.unwrap();
    let read = store.get(late.task_id()).await.unwrap().unwrap();
    assert_eq!(read.entry_mark(), None);
    assert_eq!(read, late.without_entry_mark());
    let snap = store.queue_snapshot().await.unwrap();
    let key = snap.lane(Lane::Normal).unwrap().keys["mark-a"];
    assert_eq!((key.waiting, key.reorders), (3, 1));
    assert_eq!(by_mark(&snap)[1..], [None, None]);
    assert_eq!(store.queue_position(&stored[2]).await.unwrap().position, 2);
    assert_eq!(store.queue_position(&read).await.unwrap().position, 3);
    // Another owner's marks are untouched.
    let other = marked(job_of("mark-b", 76, Lane::Normal, 11), &snap);
    store.insert(&other).await.unwrap();
    let snap = store.queue_snapshot().await.unwrap();
    assert_eq!(
        snap.own_ahead_by_mark(&store.get(other.task_id()).await.unwrap().unwrap()),
        Some(0)
    );
}

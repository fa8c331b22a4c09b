//! How many of a key's own waiting jobs are ahead of one of them, from the lane counters
//! alone, so that a poll of a key with many jobs waiting needs no count of its jobs.
//!
//! A key's jobs start oldest first. A new job enters behind every waiting job of its key,
//! and is marked with the key's counters it entered against: its waiting jobs then (all
//! ahead of it), its starts and its reorders. While the key's reorders stay the same, no
//! job of the key left from between others and none came back ahead of others, so each
//! start since the mark was one of the jobs ahead: the jobs still ahead are the waiting
//! then less the starts since. Any reorder sends the position back to counting the key's
//! jobs ahead in the store ([`crate::ports::JobStore::own_ahead`]).

use serde::{Deserialize, Serialize};

use super::{KeyTurn, QueueSnapshot};
use crate::domain::{Job, Lane};

/// A key's counters in a lane as a new job of the key entered it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EntryMark {
    /// The key's waiting jobs in the lane, all ahead of the new one.
    pub ahead: u64,
    /// [`KeyTurn::starts`] then.
    pub starts: u64,
    /// [`KeyTurn::reorders`] then.
    pub reorders: u64,
}

impl KeyTurn {
    /// The mark of a job that enters against these counters.
    pub fn entry_mark(&self) -> EntryMark {
        EntryMark {
            ahead: self.waiting,
            starts: self.starts,
            reorders: self.reorders,
        }
    }
}

impl QueueSnapshot {
    /// The mark of a job of `owner` that enters `lane` against these counters.
    pub fn entry_mark(&self, lane: Lane, owner: &str) -> EntryMark {
        self.key(lane, owner).entry_mark()
    }

    /// How many of its owner's waiting jobs are ahead of waiting `job` in its lane, from
    /// its mark; `None` when the job has no mark or its owner's jobs may be out of order
    /// since it entered (then count them in the store).
    pub fn own_ahead_by_mark(&self, job: &Job) -> Option<u64> {
        let mark = job.entry_mark()?;
        let key = self.key(job.lane(), job.owner());
        if key.reorders != mark.reorders || key.starts < mark.starts {
            return None;
        }
        let started_since = key.starts - mark.starts;
        Some(
            mark.ahead
                .saturating_sub(started_since)
                .min(key.waiting.saturating_sub(1)),
        )
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Duration, Utc};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::domain::request::{Limits, parse_submit};
    use crate::domain::turns::{LaneTurns, TurnChange};
    use crate::domain::{JobError, TaskId};

    const OWNERS: [&str; 3] = ["a", "b", "c"];

    /// One lane as a store keeps it: its counters, and every job with the order it waits
    /// in among its owner's jobs (a retried job keeps its old place, the head).
    #[derive(Default)]
    struct Model {
        counters: LaneTurns,
        jobs: Vec<(u64, Job)>,
    }

    impl Model {
        fn write(&mut self, before: Option<crate::domain::Status>, job: &Job) {
            if let Some(change) = TurnChange::of_job(before, job) {
                let created = job.created_at().timestamp_millis();
                self.counters.apply(change, job.owner(), created);
            }
        }

        fn snapshot(&self) -> QueueSnapshot {
            QueueSnapshot {
                lanes: [(Lane::Normal, self.counters.clone())].into(),
            }
        }

        /// The owner's waiting jobs ahead of job `i`, counted.
        fn counted_ahead(&self, i: usize) -> u64 {
            let (order, job) = &self.jobs[i];
            self.jobs
                .iter()
                .filter(|(o, j)| j.owner() == job.owner() && j.status().is_waiting() && o < order)
                .count() as u64
        }

        /// The index of the job of `owner` that starts next: its oldest waiting one.
        fn oldest_waiting(&self, owner: &str) -> Option<usize> {
            (0..self.jobs.len())
                .filter(|&i| {
                    let j = &self.jobs[i].1;
                    j.owner() == owner && j.status().is_waiting()
                })
                .min_by_key(|&i| self.jobs[i].0)
        }

        /// The index of any job of `owner` that waits (or, not `waiting`, runs).
        fn pick(&self, rng: &mut ChaCha8Rng, owner: &str, waiting: bool) -> Option<usize> {
            let found: Vec<usize> = (0..self.jobs.len())
                .filter(|&i| {
                    let j = &self.jobs[i].1;
                    j.owner() == owner
                        && if waiting {
                            j.status().is_waiting()
                        } else {
                            j.status() == crate::domain::Status::Started
                        }
                })
                .collect();
            (!found.is_empty()).then(|| found[rng.random_range(0..found.len())])
        }
    }

    fn new_job(n: u64, owner: &str, at: DateTime<Utc>) -> Job {
        let params = parse_submit(br#"{"prompt": "x"}"#, &Limits::default())
            .unwrap()
            .params;
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&n.to_be_bytes());
        Job::new(
            TaskId::from_random_bytes(id),
            owner.into(),
            Lane::Normal,
            params,
            at,
        )
    }

    #[test]
    fn a_mark_gives_the_counted_jobs_ahead_or_nothing_through_any_history() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut model = Model::default();
        let start = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let (mut by_mark, mut counted) = (0u32, 0u32);
        for step in 0..4_000u64 {
            let now = start + Duration::seconds(step as i64);
            let owner = OWNERS[rng.random_range(0..OWNERS.len())];
            match rng.random_range(0..100) {
                // A new job: marked with the counters it enters against, or (a store found
                // the counters changed since the submit read them) not.
                0..40 => {
                    let mut job = new_job(step, owner, now);
                    if rng.random_bool(0.98) {
                        job.mark_entry(model.snapshot().entry_mark(Lane::Normal, owner));
                    }
                    model.write(None, &job);
                    model.jobs.push((step, job));
                }
                // The owner's oldest waiting job starts: its owner's turn.
                40..85 => {
                    let Some(i) = model.oldest_waiting(owner) else {
                        continue;
                    };
                    let before = model.jobs[i].1.status();
                    model.jobs[i].1.start(now).unwrap();
                    let job = model.jobs[i].1.clone();
                    model.write(Some(before), &job);
                }
                // A started job succeeds, or fails and waits again at its old place.
                85..97 => {
                    let Some(i) = model.pick(&mut rng, owner, false) else {
                        continue;
                    };
                    let retry = rng.random_bool(0.1);
                    let job = &mut model.jobs[i].1;
                    if retry {
                        job.retry(JobError::new("upstream_5xx", "again"), now)
                            .unwrap();
                    } else {
                        job.succeed(vec!["k".into()], now).unwrap();
                    }
                    let job = job.clone();
                    model.write(Some(crate::domain::Status::Started), &job);
                }
                // Any waiting job of the owner is cancelled.
                _ => {
                    let Some(i) = model.pick(&mut rng, owner, true) else {
                        continue;
                    };
                    let before = model.jobs[i].1.status();
                    model.jobs[i].1.revoke(now).unwrap();
                    let job = model.jobs[i].1.clone();
                    model.write(Some(before), &job);
                }
            }
            let snapshot = model.snapshot();
            for i in 0..model.jobs.len() {
                if !model.jobs[i].1.status().is_waiting() {
                    continue;
                }
                counted += 1;
                if let Some(ahead) = snapshot.own_ahead_by_mark(&model.jobs[i].1) {
                    by_mark += 1;
                    assert_eq!(ahead, model.counted_ahead(i), "step {step}, job {i}");
                }
            }
        }
        // Cancels and retries send some positions back to counting, not most.
        assert!(
            by_mark * 2 > counted,
            "{by_mark} of {counted} positions came from marks"
        );
    }

    #[test]
    fn a_job_without_a_mark_or_after_a_reorder_is_counted() {
        let start = DateTime::<Utc>::UNIX_EPOCH + Duration::days(20_000);
        let mut model = Model::default();
        let mut jobs = Vec::new();
        for n in 0..3 {
            let mut job = new_job(n, "a", start);
            job.mark_entry(model.snapshot().entry_mark(Lane::Normal, "a"));
            model.write(None, &job);
            jobs.push(job);
        }
        let snapshot = model.snapshot();
        let ahead: Vec<_> = jobs.iter().map(|j| snapshot.own_ahead_by_mark(j)).collect();
        assert_eq!(ahead, vec![Some(0), Some(1), Some(2)]);
        assert_eq!(
            snapshot.own_ahead_by_mark(&jobs[0].without_entry_mark()),
            None
        );
        // The middle one is cancelled: the last may or may not be behind it any more.
        let mut middle = jobs[1].clone();
        middle.revoke(start).unwrap();
        model.write(Some(crate::domain::Status::Pending), &middle);
        assert_eq!(model.snapshot().own_ahead_by_mark(&jobs[2]), None);
    }
}

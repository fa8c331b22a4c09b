//! Fair turns inside a lane, and the queue position they give.
//!
//! Lanes keep their strict order (a job of a higher lane always starts first). Inside a
//! lane, the keys (owners) with waiting jobs take turns: the worker runs the oldest job of
//! the key whose last turn in that lane is oldest, so a key with a deep backlog delays
//! another key's next job by at most one job per other active key. A key that never had a
//! turn in a lane counts as having had it long ago, in the order its first job came.
//!
//! The stores keep, per lane, a few counters updated atomically with each job's state
//! (the number of waiting jobs, and per key its waiting jobs and its last turn), so a
//! position is arithmetic on one small snapshot, whatever the queue length:
//! [`QueueSnapshot::position`]. How many of a key's own jobs are ahead of one of them
//! comes from the counters too while the key's jobs stay in order ([`EntryMark`]).

mod entry_mark;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use entry_mark::EntryMark;

use super::{Job, Lane, Status};

/// The turn value a key gets when its first job enters a lane: below every real turn
/// (turns count up from 1), ordered by the first job's submission time in milliseconds.
pub fn fresh_turn(created_ms: i64) -> i64 {
    FRESH_BASE + created_ms.max(0)
}

/// Far below the epoch milliseconds of any submission, so fresh turns stay negative.
const FRESH_BASE: i64 = -10_000_000_000_000;

/// One key inside one lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct KeyTurn {
    /// The key's waiting jobs in the lane.
    pub waiting: u64,
    /// When the key last had a turn in the lane (a lane-wide counter; see [`fresh_turn`]
    /// for a key that never had one). Lower goes first.
    pub last_turn: i64,
    /// How many of the key's jobs ever started in the lane.
    #[serde(default)]
    pub starts: u64,
    /// How many changes may have put the key's waiting jobs out of the order they entered
    /// in, or taken one from between others: a waiting job leaving without running, a job
    /// back for a retry (at the head of the key's jobs), a job entering unmarked
    /// ([`TurnChange::Reenters`]).
    #[serde(default)]
    pub reorders: u64,
}

/// One lane's counters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct LaneTurns {
    /// All waiting jobs in the lane.
    pub waiting: u64,
    /// The lane's turn counter: how many jobs started in it (the last turn given).
    pub turn: i64,
    /// Every key that ever queued in the lane (a key with no waiting job keeps its last
    /// turn, so coming back does not put it ahead of keys served since).
    pub keys: BTreeMap<String, KeyTurn>,
}

impl LaneTurns {
    /// How many keys have waiting jobs in the lane: the heads a worker can receive from it
    /// (one per key, each key being one FIFO group).
    pub fn keys_waiting(&self) -> usize {
        self.keys.values().filter(|k| k.waiting > 0).count()
    }

    /// The turn order key of `owner`: its last turn, then its id (a stable tie-break).
    fn order<'a>(&self, owner: &'a str) -> (i64, &'a str) {
        (
            self.keys.get(owner).map_or(i64::MIN, |k| k.last_turn),
            owner,
        )
    }
}

/// How one write of a job changes its lane's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TurnChange {
    /// A new job starts waiting behind all its owner's waiting jobs, marked with the
    /// owner's counters it entered against ([`EntryMark`]; a store writes it only while
    /// the counters are still those): one more waiting for the lane and the owner; an
    /// owner new to the lane gets [`fresh_turn`] of the job's submission time.
    Enters,
    /// A job starts waiting where its owner's jobs may not be in order: one back for a
    /// retry (at the head of its owner's jobs), or a new one without a mark. As
    /// [`TurnChange::Enters`], and one more reorder for the owner.
    Reenters,
    /// It stops waiting without running (cancelled, failed): one fewer, and one more
    /// reorder for the owner (it may have been between two of them).
    Leaves,
    /// It is sent: one fewer, one more start for the owner, and the owner's last turn
    /// becomes the lane's next turn.
    Starts,
}

impl TurnChange {
    /// The change of a write from `before` (none: a new job) to `after`; a new job enters
    /// in order only if `marked` ([`EntryMark`]).
    pub fn of(before: Option<Status>, after: Status, marked: bool) -> Option<TurnChange> {
        let was = before.is_some_and(Status::is_waiting);
        match (was, after.is_waiting()) {
            (false, true) if before.is_none() && marked => Some(TurnChange::Enters),
            (false, true) => Some(TurnChange::Reenters),
            (true, false) if after == Status::Started => Some(TurnChange::Starts),
            (true, false) => Some(TurnChange::Leaves),
            _ => None,
        }
    }

    /// The change of writing `job` over a job that was `before` (none: a new job).
    pub fn of_job(before: Option<Status>, job: &Job) -> Option<TurnChange> {
        Self::of(before, job.status(), job.entry_mark().is_some())
    }
}

impl LaneTurns {
    /// Applies one job's change (the in-memory store; DynamoDB does the same in one
    /// update expression).
    pub fn apply(&mut self, change: TurnChange, owner: &str, created_ms: i64) {
        let key = self
            .keys
            .entry(owner.to_string())
            .or_insert_with(|| KeyTurn {
                last_turn: fresh_turn(created_ms),
                ..KeyTurn::default()
            });
        match change {
            TurnChange::Enters | TurnChange::Reenters => {
                self.waiting += 1;
                key.waiting += 1;
                if change == TurnChange::Reenters {
                    key.reorders += 1;
                }
            }
            TurnChange::Leaves => {
                self.waiting = self.waiting.saturating_sub(1);
                key.waiting = key.waiting.saturating_sub(1);
                key.reorders += 1;
            }
            TurnChange::Starts => {
                self.waiting = self.waiting.saturating_sub(1);
                key.waiting = key.waiting.saturating_sub(1);
                key.starts += 1;
                self.turn += 1;
                key.last_turn = self.turn;
            }
        }
    }
}

/// The counters of every lane, read at once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct QueueSnapshot {
    pub lanes: BTreeMap<Lane, LaneTurns>,
}

/// Where a waiting job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueuePosition {
    /// 1 = next to start.
    pub position: u64,
    /// All waiting jobs.
    pub total_pending: u64,
}

impl QueueSnapshot {
    pub fn lane(&self, lane: Lane) -> Option<&LaneTurns> {
        self.lanes.get(&lane)
    }

    /// `owner`'s waiting jobs in `lane`.
    pub fn waiting_of(&self, lane: Lane, owner: &str) -> u64 {
        self.key(lane, owner).waiting
    }

    /// `owner`'s counters in `lane` (all zero for a key the lane never saw).
    fn key(&self, lane: Lane, owner: &str) -> KeyTurn {
        self.lane(lane)
            .and_then(|l| l.keys.get(owner))
            .copied()
            .unwrap_or_default()
    }

    /// All waiting jobs, every lane.
    pub fn total_pending(&self) -> u64 {
        self.lanes.values().map(|l| l.waiting).sum()
    }

    /// The position of a waiting job of `owner` in `lane` that has `own_ahead` of the same
    /// owner's waiting jobs ahead of it in that lane.
    ///
    /// Ahead of it: every waiting job of a higher lane; its own `own_ahead`; and of each
    /// other key with waiting jobs in the lane, as many as that key gets turns first: the
    /// job runs on its owner's turn number `own_ahead + 1`, so a key before its owner in
    /// the turn order gets `own_ahead + 1` turns first and a key after it `own_ahead`,
    /// each bounded by that key's waiting jobs.
    pub fn position(&self, lane: Lane, owner: &str, own_ahead: u64) -> QueuePosition {
        let higher: u64 = Lane::ALL
            .into_iter()
            .filter(|l| *l < lane)
            .filter_map(|l| self.lane(l))
            .map(|l| l.waiting)
            .sum();
        let mut ahead = higher + own_ahead;
        if let Some(turns) = self.lane(lane) {
            let mine = turns.order(owner);
            for (other, key) in &turns.keys {
                if other == owner || key.waiting == 0 {
                    continue;
                }
                let turns_first = if turns.order(other) < mine {
                    own_ahead + 1
                } else {
                    own_ahead
                };
                ahead += key.waiting.min(turns_first);
            }
        }
        let position = ahead + 1;
        QueuePosition {
            position,
            // Counters and indexes may lag a moment: never fewer than the position.
            total_pending: self.total_pending().max(position),
        }
    }

    /// The position of a job of `owner` that enters `lane` now, from counters read just
    /// before it entered: the counters with it counted, and every waiting job its owner
    /// already has in the lane ahead of it (they are older). A submit answers this
    /// without reading the owner's jobs ahead; a job entering while another of the same
    /// owner enters at once may see that one ahead of it too, as a poll a moment later
    /// would not.
    pub fn position_on_entry(&self, lane: Lane, owner: &str, created_ms: i64) -> QueuePosition {
        let own_ahead = self.waiting_of(lane, owner);
        let mut after = self.clone();
        after
            .lanes
            .entry(lane)
            .or_default()
            .apply(TurnChange::Enters, owner, created_ms);
        after.position(lane, owner, own_ahead)
    }

    /// Whose turn it is in `lane` among `candidates` (keys whose next job the worker
    /// holds): the one whose last turn is oldest.
    pub fn next_turn<'a>(
        &self,
        lane: Lane,
        candidates: impl IntoIterator<Item = &'a str>,
    ) -> Option<&'a str> {
        let empty = LaneTurns::default();
        let turns = self.lane(lane).unwrap_or(&empty);
        candidates.into_iter().min_by(|a, b| {
            // A key unknown to the counters (they lag, or were lost) counts as fresh.
            let order = |o: &'a str| (turns.keys.get(o).map_or(i64::MIN, |k| k.last_turn), o);
            order(a).cmp(&order(b))
        })
    }
}

#[cfg(test)]
mod tests;

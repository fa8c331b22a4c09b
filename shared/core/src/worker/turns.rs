//! Fair turns inside a lane: the worker receives every key's next job and runs the one of
//! the key whose last turn is oldest (`domain::turns`).
//!
//! Each key's messages are one FIFO group of its lane queue, and a group with a message in
//! flight delivers nothing more. So receiving until a lane gives nothing yields the head
//! of every key with waiting jobs; the worker holds them (in flight: no receive count is
//! added while held) and picks one. The rest stay held for the next pick: only the chosen
//! key's group delivers its next job. Held heads are released when the drain ends, so
//! each invocation receives a waiting head once (well below `MAX_RECEIVE_COUNT` while a
//! round of turns fits in a few invocations).
//!
//! A turn receives only what the lane counters say waits: from a lane, as many heads as it
//! has keys with waiting jobs, less those held. With one key waiting that is one receive
//! a job, where receiving every lane until it gives nothing took four. A job a stopped
//! worker left `STARTED` is counted nowhere as waiting, so every lane is still received
//! until it gives nothing when the counted receives find nothing, at a drain's first turn,
//! and every [`FULL_PASS_SECONDS`] (its message is back after its visibility timeout).

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};

use super::Worker;
use super::heartbeat::VISIBILITY_TIMEOUT_SECONDS;
use crate::domain::Lane;
use crate::domain::turns::{LaneTurns, QueueSnapshot};
use crate::ports::{Delivery, PortError};

/// At most this many keys' heads are held per lane; more keys than that wait for a later
/// pick (they keep their turn order).
const MAX_HELD_PER_LANE: usize = 1000;

/// How often a drain receives from every lane until it gives nothing, whatever the
/// counters say: a message of a job left `STARTED` is visible again this long after its
/// worker stopped hiding it.
pub(super) const FULL_PASS_SECONDS: i64 = VISIBILITY_TIMEOUT_SECONDS as i64;

/// The heads the drain holds, per lane, and when it last received every lane until it
/// gave nothing.
#[derive(Default)]
pub(super) struct HeldHeads {
    lanes: BTreeMap<Lane, Vec<Delivery>>,
    last_full_pass: Option<DateTime<Utc>>,
}

/// How far a pick receives from each lane.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Receive {
    /// A head per key the counters say has waiting jobs.
    Counted,
    /// Until the lane gives nothing.
    UntilEmpty,
}

impl Worker {
    /// The next job to run among `lanes`: lanes in order; inside the first lane with a
    /// job, the head of the key whose turn it is, by `snapshot` (the counters this turn
    /// read). Receives what the counters say waits, and every lane until it gives nothing
    /// when that finds nothing or a full pass is due.
    pub(super) async fn next_turn(
        &self,
        lanes: &[Lane],
        held: &mut HeldHeads,
        snapshot: &QueueSnapshot,
    ) -> Result<Option<Delivery>, PortError> {
        let now = self.clock.now();
        let every_lane = lanes.len() == Lane::ALL.len();
        let full_pass_due = every_lane
            && held
                .last_full_pass
                .is_none_or(|t| now - t >= Duration::seconds(FULL_PASS_SECONDS));
        if !full_pass_due
            && let Some(d) = self.pick(lanes, held, snapshot, Receive::Counted).await?
        {
            return Ok(Some(d));
        }
        if every_lane {
            held.last_full_pass = Some(now);
        }
        self.pick(lanes, held, snapshot, Receive::UntilEmpty).await
    }

    async fn pick(
        &self,
        lanes: &[Lane],
        held: &mut HeldHeads,
        snapshot: &QueueSnapshot,
        receive: Receive,
    ) -> Result<Option<Delivery>, PortError> {
        for lane in Lane::ALL.into_iter().filter(|l| lanes.contains(l)) {
            let heads = held.lanes.entry(lane).or_default();
            let wanted = match receive {
                Receive::Counted => snapshot.lane(lane).map_or(0, LaneTurns::keys_waiting),
                Receive::UntilEmpty => MAX_HELD_PER_LANE,
            };
            while heads.len() < wanted.min(MAX_HELD_PER_LANE) {
                let Some(d) = self.ports.queue.receive(&[lane]).await? else {
                    break;
                };
                // A held head that came back after its visibility timeout: keep the new
                // receipt.
                heads.retain(|h| h.message.task_id != d.message.task_id);
                heads.push(d);
            }
            let i = match heads.len() {
                0 => continue,
                1 => 0,
                _ => {
                    let owner = snapshot
                        .next_turn(lane, heads.iter().map(|d| d.message.group()))
                        .map(str::to_string);
                    heads
                        .iter()
                        .position(|d| Some(d.message.group()) == owner.as_deref())
                        .unwrap_or(0)
                }
            };
            let chosen = heads.remove(i);
            // The heads left waiting stay hidden while the chosen job runs: without this
            // each would show again after the short visibility timeout and be received
            // once more, spending its receive budget.
            for h in heads.iter() {
                if let Err(e) = self
                    .ports
                    .queue
                    .keep_hidden(h, super::heartbeat::VISIBILITY_TIMEOUT_SECONDS)
                    .await
                {
                    tracing::warn!(task_id = %h.message.task_id, error = %e, "could not keep a held job hidden; it may be received again");
                }
            }
            tracing::debug!(task_id = %chosen.message.task_id, lane = lane.as_str(), keys_waiting = heads.len() + 1, "next turn");
            return Ok(Some(chosen));
        }
        Ok(None)
    }

    /// Makes every held head visible again, for the next drain.
    pub(super) async fn release_held(&self, held: &mut HeldHeads) {
        for d in std::mem::take(&mut held.lanes).into_values().flatten() {
            if let Err(e) = self.ports.queue.release(&d).await {
                tracing::warn!(task_id = %d.message.task_id, error = %e, "could not release a held job; it comes back after its visibility timeout");
            }
        }
    }
}

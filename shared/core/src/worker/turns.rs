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

use std::collections::BTreeMap;

use super::Worker;
use crate::domain::Lane;
use crate::ports::{Delivery, PortError};

/// At most this many keys' heads are held per lane; more keys than that wait for a later
/// pick (they keep their turn order).
const MAX_HELD_PER_LANE: usize = 1000;

/// The heads the drain holds, per lane.
#[derive(Default)]
pub(super) struct HeldHeads {
    lanes: BTreeMap<Lane, Vec<Delivery>>,
}

impl Worker {
    /// The next job to run among `lanes`: lanes in order; inside the first lane with a
    /// job, the head of the key whose turn it is.
    pub(super) async fn next_turn(
        &self,
        lanes: &[Lane],
        held: &mut HeldHeads,
    ) -> Result<Option<Delivery>, PortError> {
        for lane in Lane::ALL.into_iter().filter(|l| lanes.contains(l)) {
            let heads = held.lanes.entry(lane).or_default();
            while heads.len() < MAX_HELD_PER_LANE {
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
                    let snapshot = self.ports.jobs.queue_snapshot().await?;
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

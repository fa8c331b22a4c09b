//! The lane queues in memory, with at-least-once delivery, one FIFO group per key inside
//! a lane, and a dead-letter queue.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use naiq_core::domain::{Lane, TaskId};
use naiq_core::ports::{
    Delivery, JobQueue, MAX_RECEIVE_COUNT, PortError, PortResult, QueueMessage,
};

use super::lock;

/// Lane queues with at-least-once semantics: a received message stays in flight until it
/// is acked or released.
#[derive(Default)]
pub struct MemoryQueue {
    inner: Mutex<QueueState>,
    next_receipt: AtomicU64,
}

#[derive(Default)]
struct QueueState {
    lanes: BTreeMap<Lane, VecDeque<(QueueMessage, u32)>>,
    in_flight: HashMap<String, (Lane, QueueMessage, u32)>,
    dead: VecDeque<QueueMessage>,
    /// Every `keep_hidden` call: the receipt and the seconds asked for.
    kept_hidden: Vec<(String, u32)>,
}

impl QueueState {
    /// The message in flight under `receipt` visible again, at the front of its lane (its
    /// group's head again), its receives counted: a release, or its visibility timeout run
    /// out.
    fn make_visible(&mut self, receipt: &str) {
        if let Some((lane, message, count)) = self.in_flight.remove(receipt) {
            self.lanes
                .entry(lane)
                .or_default()
                .push_front((message, count));
        }
    }
}

impl MemoryQueue {
    /// Messages waiting or in flight in a lane.
    pub fn len(&self, lane: Lane) -> usize {
        let s = lock(&self.inner);
        s.lanes.get(&lane).map_or(0, VecDeque::len)
            + s.in_flight.values().filter(|(l, _, _)| *l == lane).count()
    }

    pub fn is_empty(&self) -> bool {
        Lane::ALL.iter().all(|l| self.len(*l) == 0)
    }

    /// What a crashed worker leaves behind once the visibility timeout runs out: every
    /// message in flight is visible again, at the front of its lane, its receives counted.
    pub fn expire_in_flight(&self) {
        self.expire_where(|_| true);
    }

    /// What the visibility timeout running out does to one message in flight, as
    /// [`MemoryQueue::expire_in_flight`] to all.
    pub fn expire(&self, task_id: &TaskId) {
        self.expire_where(|m| &m.task_id == task_id);
    }

    fn expire_where(&self, which: impl Fn(&QueueMessage) -> bool) {
        let mut s = lock(&self.inner);
        let receipts: Vec<String> = s
            .in_flight
            .iter()
            .filter(|(_, (_, m, _))| which(m))
            .map(|(r, _)| r.clone())
            .collect();
        for receipt in receipts {
            s.make_visible(&receipt);
        }
    }

    /// Deletes every message of every lane (as SQS does when the retention runs out).
    pub fn lose_all(&self) {
        let mut s = lock(&self.inner);
        s.lanes.clear();
        s.in_flight.clear();
    }

    /// Every heartbeat so far: the seconds each `keep_hidden` asked for.
    pub fn kept_hidden(&self) -> Vec<u32> {
        lock(&self.inner)
            .kept_hidden
            .iter()
            .map(|(_, s)| *s)
            .collect()
    }
}

#[async_trait]
impl JobQueue for MemoryQueue {
    async fn send(&self, lane: Lane, message: &QueueMessage) -> PortResult<()> {
        lock(&self.inner)
            .lanes
            .entry(lane)
            .or_default()
            .push_back((message.clone(), 0));
        Ok(())
    }

    async fn receive(&self, lanes: &[Lane]) -> PortResult<Option<Delivery>> {
        let mut s = lock(&self.inner);
        for lane in Lane::ALL.into_iter().filter(|l| lanes.contains(l)) {
            // FIFO per group: a group with a message in flight is blocked, as in SQS.
            let busy: HashSet<String> = s
                .in_flight
                .values()
                .filter(|(l, _, _)| *l == lane)
                .map(|(_, m, _)| m.group().to_string())
                .collect();
            let Some(queue) = s.lanes.get_mut(&lane) else {
                continue;
            };
            let mut seen = HashSet::new();
            let mut found = None;
            let mut dead = Vec::new();
            for (i, (message, count)) in queue.iter().enumerate() {
                let group = message.group();
                // Only a group's head can be delivered.
                if busy.contains(group) || !seen.insert(group.to_string()) {
                    continue;
                }
                if *count >= MAX_RECEIVE_COUNT {
                    // The redrive policy: past the receive limit it moves to the dead
                    // letters, and the group's next message becomes its head.
                    dead.push(i);
                    seen.remove(group);
                    continue;
                }
                found = Some(i);
                break;
            }
            let mut taken = None;
            let mut moved = Vec::new();
            // Remove from the back so earlier indexes stay valid.
            let mut remove: Vec<usize> = dead.iter().copied().chain(found).collect();
            remove.sort_unstable();
            for i in remove.into_iter().rev() {
                let item = queue.remove(i).expect("index in range");
                if Some(i) == found {
                    taken = Some(item);
                } else {
                    moved.push(item.0);
                }
            }
            s.dead.extend(moved.into_iter().rev());
            if let Some((message, count)) = taken {
                let receipt = format!("r{}", self.next_receipt.fetch_add(1, Ordering::Relaxed));
                s.in_flight
                    .insert(receipt.clone(), (lane, message.clone(), count + 1));
                return Ok(Some(Delivery {
                    lane,
                    receipt,
                    message,
                    receive_count: count + 1,
                    dead_letter: false,
                }));
            }
        }
        Ok(None)
    }

    async fn receive_dead_letter(&self) -> PortResult<Option<Delivery>> {
        Ok(lock(&self.inner).dead.pop_front().map(|message| Delivery {
            lane: Lane::Low,
            receipt: "dead-letter".into(),
            message,
            receive_count: 0,
            dead_letter: true,
        }))
    }

    async fn ack(&self, delivery: &Delivery) -> PortResult<()> {
        lock(&self.inner).in_flight.remove(&delivery.receipt);
        Ok(())
    }

    async fn keep_hidden(&self, delivery: &Delivery, seconds: u32) -> PortResult<()> {
        let mut s = lock(&self.inner);
        if !s.in_flight.contains_key(&delivery.receipt) {
            // SQS refuses a receipt whose message is gone or visible again.
            return Err(PortError::backend(
                "queue",
                format!("receipt {} is not in flight", delivery.receipt),
            ));
        }
        s.kept_hidden.push((delivery.receipt.clone(), seconds));
        Ok(())
    }

    async fn backlog(&self) -> PortResult<u64> {
        let s = lock(&self.inner);
        Ok((s.lanes.values().map(VecDeque::len).sum::<usize>() + s.in_flight.len()) as u64)
    }

    async fn release(&self, delivery: &Delivery) -> PortResult<()> {
        lock(&self.inner).make_visible(&delivery.receipt);
        Ok(())
    }
}

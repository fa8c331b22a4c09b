//! In-memory adapters of every port, for unit tests and simulations.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::domain::account::AccountInfo;
use crate::domain::pacing::PacingState;
use crate::domain::{ApiKeyRecord, Credentials, Job, Lane, Status, TaskId};
use crate::ports::*;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
pub struct MemoryJobStore {
    jobs: Mutex<HashMap<TaskId, Job>>,
}

#[async_trait]
impl JobStore for MemoryJobStore {
    async fn insert(&self, job: &Job) -> PortResult<()> {
        let mut jobs = lock(&self.jobs);
        if jobs.contains_key(&job.task_id) {
            return Err(PortError::Conflict(format!("task {} exists", job.task_id)));
        }
        jobs.insert(job.task_id.clone(), job.clone());
        Ok(())
    }

    async fn get(&self, task_id: &TaskId) -> PortResult<Option<Job>> {
        Ok(lock(&self.jobs).get(task_id).cloned())
    }

    async fn replace(&self, job: &Job, expected: Status) -> PortResult<()> {
        let mut jobs = lock(&self.jobs);
        match jobs.get(&job.task_id) {
            Some(stored) if stored.status == expected => {
                jobs.insert(job.task_id.clone(), job.clone());
                Ok(())
            }
            Some(stored) => Err(PortError::Conflict(format!(
                "task {} is {}, not {expected}",
                job.task_id, stored.status
            ))),
            None => Err(PortError::Conflict(format!(
                "task {} does not exist",
                job.task_id
            ))),
        }
    }

    async fn queue_position(&self, job: &Job) -> PortResult<QueuePosition> {
        let jobs = lock(&self.jobs);
        let mine = job.queue_order();
        let waiting: Vec<String> = jobs
            .values()
            .filter(|j| j.status.is_waiting())
            .map(Job::queue_order)
            .collect();
        Ok(QueuePosition {
            position: waiting.iter().filter(|o| **o < mine).count() as u64 + 1,
            total_pending: waiting.len() as u64,
        })
    }

    async fn total_pending(&self) -> PortResult<u64> {
        Ok(lock(&self.jobs)
            .values()
            .filter(|j| j.status.is_waiting())
            .count() as u64)
    }

    async fn active_for_owner(&self, owner: &str) -> PortResult<Vec<Job>> {
        let mut jobs: Vec<Job> = lock(&self.jobs)
            .values()
            .filter(|j| j.owner == owner && !j.status.is_terminal())
            .cloned()
            .collect();
        jobs.sort_by(|a, b| (a.created_at, &a.task_id).cmp(&(b.created_at, &b.task_id)));
        Ok(jobs)
    }
}

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
            // FIFO: a lane with a message in flight is blocked, as one SQS message group is.
            if s.in_flight.values().any(|(l, _, _)| *l == lane) {
                continue;
            }
            // The redrive policy: past the receive limit a message moves to the dead letters.
            while s
                .lanes
                .get(&lane)
                .and_then(|q| q.front())
                .is_some_and(|(_, count)| *count >= crate::adapters::provision::MAX_RECEIVE_COUNT)
            {
                let (message, _) = s
                    .lanes
                    .get_mut(&lane)
                    .and_then(VecDeque::pop_front)
                    .expect("front");
                s.dead.push_back(message);
            }
            if let Some((message, count)) = s.lanes.get_mut(&lane).and_then(VecDeque::pop_front) {
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

    async fn release(&self, delivery: &Delivery) -> PortResult<()> {
        let mut s = lock(&self.inner);
        if let Some((lane, message, count)) = s.in_flight.remove(&delivery.receipt) {
            s.lanes
                .entry(lane)
                .or_default()
                .push_front((message, count));
        }
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryImageStore {
    objects: Mutex<HashMap<String, (Vec<u8>, String)>>,
}

#[async_trait]
impl ImageStore for MemoryImageStore {
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> PortResult<()> {
        lock(&self.objects).insert(key.to_string(), (bytes, content_type.to_string()));
        Ok(())
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        Ok(lock(&self.objects).get(key).map(|(b, _)| b.clone()))
    }

    async fn url(&self, key: &str, ttl_seconds: u64) -> PortResult<String> {
        Ok(format!("memory://images/{key}?ttl={ttl_seconds}"))
    }
}

#[derive(Default)]
pub struct MemorySecretStore {
    value: Mutex<Option<Credentials>>,
}

impl MemorySecretStore {
    pub fn with(credentials: Credentials) -> Self {
        Self {
            value: Mutex::new(Some(credentials)),
        }
    }
}

#[async_trait]
impl SecretStore for MemorySecretStore {
    async fn get(&self) -> PortResult<Option<Credentials>> {
        Ok(lock(&self.value).clone())
    }

    async fn put(&self, credentials: &Credentials) -> PortResult<()> {
        *lock(&self.value) = Some(credentials.clone());
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryKeyStore {
    keys: Mutex<HashMap<String, ApiKeyRecord>>,
}

#[async_trait]
impl KeyStore for MemoryKeyStore {
    async fn insert(&self, record: &ApiKeyRecord) -> PortResult<()> {
        let mut keys = lock(&self.keys);
        if keys.contains_key(&record.key_hash) {
            return Err(PortError::Conflict("key exists".into()));
        }
        keys.insert(record.key_hash.clone(), record.clone());
        Ok(())
    }

    async fn find(&self, key_hash: &str) -> PortResult<Option<ApiKeyRecord>> {
        Ok(lock(&self.keys).get(key_hash).cloned())
    }
}

#[derive(Default)]
pub struct MemoryStateStore {
    leases: Mutex<HashMap<String, (String, DateTime<Utc>)>>,
    pacing: Mutex<(PacingState, u64)>,
    durations: Mutex<(u64, u64)>,
    account: Mutex<Option<AccountInfo>>,
}

#[async_trait]
impl StateStore for MemoryStateStore {
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> PortResult<bool> {
        let mut leases = lock(&self.leases);
        match leases.get(name) {
            Some((h, expires)) if h != holder && *expires > now => Ok(false),
            _ => {
                leases.insert(name.to_string(), (holder.to_string(), until));
                Ok(true)
            }
        }
    }

    async fn release_lease(&self, name: &str, holder: &str) -> PortResult<()> {
        let mut leases = lock(&self.leases);
        if leases.get(name).is_some_and(|(h, _)| h == holder) {
            leases.remove(name);
        }
        Ok(())
    }

    async fn load_pacing(&self) -> PortResult<(PacingState, u64)> {
        Ok(lock(&self.pacing).clone())
    }

    async fn save_pacing(&self, state: &PacingState, expected: u64) -> PortResult<()> {
        let mut stored = lock(&self.pacing);
        if stored.1 != expected {
            return Err(PortError::Conflict(format!(
                "pacing state is at version {}, not {expected}",
                stored.1
            )));
        }
        *stored = (state.clone(), expected + 1);
        Ok(())
    }

    async fn record_call_duration(&self, millis: u64) -> PortResult<()> {
        let mut d = lock(&self.durations);
        d.0 += millis;
        d.1 += 1;
        Ok(())
    }

    async fn save_account(&self, account: &AccountInfo) -> PortResult<()> {
        *lock(&self.account) = Some(account.clone());
        Ok(())
    }

    async fn load_account(&self) -> PortResult<Option<AccountInfo>> {
        Ok(lock(&self.account).clone())
    }

    async fn mean_call_seconds(&self) -> PortResult<Option<f64>> {
        let d = lock(&self.durations);
        Ok((d.1 > 0).then(|| d.0 as f64 / d.1 as f64 / 1000.0))
    }
}

/// Counts nudges; the worker is driven by the test instead.
#[derive(Default)]
pub struct MemoryNudge {
    pub count: AtomicU64,
}

#[async_trait]
impl WorkerNudge for MemoryNudge {
    async fn nudge(&self) -> PortResult<()> {
        self.count.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// A NovelAI stand-in: answers with real PNGs of the requested size, or with the failures
/// queued by the test; records every body it was sent.
pub struct MemoryUpstream {
    failures: Mutex<VecDeque<UpstreamError>>,
    pub calls: Mutex<Vec<serde_json::Value>>,
    in_flight: std::sync::atomic::AtomicBool,
    /// Set if two calls ever overlapped.
    pub overlapped: std::sync::atomic::AtomicBool,
    /// When each call started, by `clock` (when given).
    pub started_at: Mutex<Vec<DateTime<Utc>>>,
    /// What `subscription` answers (Opus with 10,000 Anlas unless a test changes it).
    pub account: Mutex<AccountInfo>,
    clock: Option<std::sync::Arc<dyn crate::domain::Clock>>,
}

impl Default for MemoryUpstream {
    fn default() -> Self {
        Self {
            failures: Mutex::default(),
            calls: Mutex::default(),
            in_flight: Default::default(),
            overlapped: Default::default(),
            started_at: Mutex::default(),
            account: Mutex::new(AccountInfo {
                tier: 3,
                active: true,
                anlas: 10_000,
                checked_at: DateTime::<Utc>::UNIX_EPOCH,
            }),
            clock: None,
        }
    }
}

impl MemoryUpstream {
    /// Records each call's start time by this clock.
    pub fn with_clock(clock: std::sync::Arc<dyn crate::domain::Clock>) -> Self {
        Self {
            clock: Some(clock),
            ..Self::default()
        }
    }

    /// The next call answers with this error.
    pub fn fail_next(&self, error: UpstreamError) {
        lock(&self.failures).push_back(error);
    }

    pub fn call_count(&self) -> usize {
        lock(&self.calls).len()
    }
}

/// A small valid PNG (solid grey) of the given size.
pub fn png_of(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("png header");
        w.write_image_data(&vec![128u8; (width * height) as usize])
            .expect("png data");
    }
    out
}

#[async_trait]
impl Upstream for MemoryUpstream {
    async fn generate(
        &self,
        _credentials: &Credentials,
        body: &serde_json::Value,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        if self.in_flight.swap(true, Ordering::SeqCst) {
            self.overlapped.store(true, Ordering::SeqCst);
        }
        lock(&self.calls).push(body.clone());
        if let Some(c) = &self.clock {
            lock(&self.started_at).push(c.now());
        }
        let result = match lock(&self.failures).pop_front() {
            Some(e) => Err(e),
            None => {
                let p = &body["parameters"];
                let (w, h) = (
                    p["width"].as_u64().unwrap_or(64) as u32,
                    p["height"].as_u64().unwrap_or(64) as u32,
                );
                let n = p["n_samples"].as_u64().unwrap_or(1) as usize;
                Ok((0..n)
                    .map(|_| GeneratedImage {
                        png: png_of(w, h),
                        width: w,
                        height: h,
                    })
                    .collect())
            }
        };
        self.in_flight.store(false, Ordering::SeqCst);
        result
    }

    async fn subscription(&self, _credentials: &Credentials) -> Result<AccountInfo, UpstreamError> {
        Ok(lock(&self.account).clone())
    }
}

impl MemoryImageStore {
    /// How many objects are stored.
    pub fn object_count(&self) -> usize {
        lock(&self.objects).len()
    }

    /// The stored bytes of an object (for tests).
    pub fn get_sync(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.objects).get(key).map(|(b, _)| b.clone())
    }
}

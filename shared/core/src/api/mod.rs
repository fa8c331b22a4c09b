//! The HTTP API's use cases: authenticate, submit, report status, cancel. They take and
//! return plain values and [`ApiError`]s; the API function maps them to HTTP.

mod error;
mod idempotency;
mod limits;
mod queue;
pub mod responses;
mod status;
mod submit;
mod tasks;
mod usage;
mod vibes;

use std::sync::{Arc, Mutex};

use chrono::{DateTime, SecondsFormat, Utc};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

pub use error::ApiError;
pub use idempotency::{IDEMPOTENCY_TTL, Idempotent};
pub use limits::{Hold, LimitHit};
pub use responses::*;
pub use status::job_status;
pub use submit::SubmitRoute;
pub use tasks::{DEFAULT_PAGE, MAX_PAGE, TaskQuery};
pub use usage::{UsageLimits, UsageResponse};

use crate::config::Settings;
use crate::domain::pacing::PacingState;
use crate::domain::pricing::anlas_cost;
use crate::domain::request::Limits;
use crate::domain::turns::{QueuePosition, QueueSnapshot};
use crate::domain::{ApiKey, ApiKeyRecord, Cost, GenerationParams, Job, KeyUnusable, Lane};
use crate::ports::{
    AccountCache, CallStats, Clock, IdempotencyStore, ImageStore, JobQueue, JobStore, KeyStore,
    Ledger, PacingStore, WorkerNudge,
};

/// The ports the API needs.
#[derive(Clone)]
pub struct ApiPorts {
    pub jobs: Arc<dyn JobStore>,
    pub queue: Arc<dyn JobQueue>,
    pub images: Arc<dyn ImageStore>,
    pub keys: Arc<dyn KeyStore>,
    pub pacing: Arc<dyn PacingStore>,
    pub call_stats: Arc<dyn CallStats>,
    pub account: Arc<dyn AccountCache>,
    pub idempotency: Arc<dyn IdempotencyStore>,
    pub nudge: Arc<dyn WorkerNudge>,
    /// The webhook queue, its delivery states and the delivery function's nudge.
    pub webhooks: crate::webhooks::WebhookPorts,
    pub ledger: Arc<dyn Ledger>,
}

pub struct ApiService {
    ports: ApiPorts,
    clock: Arc<dyn Clock>,
    rng: Mutex<ChaCha8Rng>,
    settings: Settings,
    limits: Limits,
}

/// The mean upstream call duration assumed before any call was measured.
pub const DEFAULT_CALL_SECONDS: f64 = 8.0;

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

impl ApiService {
    pub fn new(ports: ApiPorts, clock: Arc<dyn Clock>, rng_seed: u64, settings: Settings) -> Self {
        let mut limits = Limits::for_body(settings.max_body_bytes);
        limits.v5_references = settings.precise_reference_v5;
        Self {
            ports,
            clock,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(rng_seed)),
            settings,
            limits,
        }
    }

    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    fn draw<T>(&self, f: impl FnOnce(&mut ChaCha8Rng) -> T) -> T {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut rng)
    }

    /// Checks `Authorization: Bearer <key>` against the stored hashes.
    pub async fn authenticate(
        &self,
        authorization: Option<&str>,
    ) -> Result<ApiKeyRecord, ApiError> {
        let header = authorization.ok_or(ApiError::Unauthorized(
            "missing API key: send Authorization: Bearer <key>",
        ))?;
        let key = header
            .trim()
            .strip_prefix("Bearer ")
            .or_else(|| header.trim().strip_prefix("bearer "))
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or(ApiError::Unauthorized(
                "malformed Authorization header: send Authorization: Bearer <key>",
            ))?;
        let record = self
            .ports
            .keys
            .find(&ApiKey::from_client(key).hash())
            .await?
            .ok_or(ApiError::Unauthorized("invalid API key"))?;
        match record.usable_at(self.clock.now()) {
            Ok(()) => Ok(record),
            Err(KeyUnusable::Disabled) => Err(ApiError::Unauthorized("invalid API key")),
            Err(KeyUnusable::Revoked) => Err(ApiError::Unauthorized("this API key was revoked")),
            Err(KeyUnusable::Expired) => Err(ApiError::Unauthorized("this API key has expired")),
        }
    }

    /// The day's count in a pacing state read once (a submit shows it with the job's ETA,
    /// from the same read).
    fn rate_limit_info(&self, state: &PacingState) -> RateLimitInfo {
        let pacing = &self.settings.pacing;
        let used = state.count_on(pacing.local_day(self.clock.now()));
        RateLimitInfo {
            daily_limit: pacing.daily_limit,
            requests_today: used,
            remaining: pacing.daily_limit.saturating_sub(used),
        }
    }

    /// Position and ETA of a waiting job, from the lane counters and the pacing state.
    pub(super) async fn estimate(
        &self,
        job: &Job,
        counters: &QueueSnapshot,
        state: &PacingState,
    ) -> Result<QueueInfo, ApiError> {
        let pos = self.ports.jobs.position_in(counters, job).await?;
        self.estimate_at(job, pos, state).await
    }

    /// The ETA of a waiting job at `pos`, walking the pacing rules forward from `state`.
    pub(super) async fn estimate_at(
        &self,
        job: &Job,
        pos: QueuePosition,
        state: &PacingState,
    ) -> Result<QueueInfo, ApiError> {
        let mean = self
            .ports
            .call_stats
            .mean_call_seconds()
            .await?
            .unwrap_or(DEFAULT_CALL_SECONDS);
        let now = self.clock.now();
        let eta = self.settings.pacing.estimate_start(
            state,
            now,
            pos.position.saturating_sub(1),
            mean,
            job.lane() == Lane::Test,
        );
        Ok(QueueInfo {
            position: pos.position,
            total_pending: pos.total_pending,
            estimated_wait: (eta - now).num_seconds().max(0) as u64,
            estimated_start_at: rfc3339(eta.max(now)),
        })
    }

    /// The cost of a job; the Opus free image only with the server-side account known to
    /// grant it for the model (Opus; for V5 while its usage lasts). Per-request
    /// credentials: unknown, so no discount is assumed.
    async fn cost(
        &self,
        params: &GenerationParams,
        server_account: bool,
    ) -> Result<Cost, ApiError> {
        let opus = server_account
            && self
                .ports
                .account
                .load_account()
                .await?
                .is_some_and(|a| a.free_image_for(params.family));
        let mut cost = anlas_cost(params, opus);
        let (encodes, vibes) = self.vibe_cost(params).await?;
        cost.vibe_encodes = encodes;
        cost.add_surcharge(vibes);
        // Precise Reference: 5 per reference and image, the free image included.
        cost.add_surcharge(
            crate::domain::request::references::REFERENCE_ANLAS
                * params.references.len() as u32
                * params.n_samples,
        );
        Ok(cost)
    }
}

//! `GET /usage`: the caller's own day in the Anlas ledger (spent, held, jobs), how many
//! of its jobs wait, and its limits, so a client can see how close it is to a 429.

use serde::Serialize;

use super::{ApiError, ApiService, rfc3339};
use crate::domain::ApiKeyRecord;

/// The caller's limits (null: none beyond the server's).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageLimits {
    /// Most jobs waiting at once.
    pub max_waiting: Option<u32>,
    /// Most jobs submitted per local day.
    pub jobs_per_day: Option<u32>,
    /// Anlas per local day (held and spent together).
    pub anlas_per_day: Option<u32>,
    /// The models the key may use (full NovelAI ids).
    pub models: Option<Vec<String>>,
    /// The largest `width * height`.
    pub max_area: Option<u64>,
    /// The most `n_samples`.
    pub max_samples: Option<u32>,
    /// The priorities the key may use.
    pub lanes: Vec<String>,
    /// The most jobs waiting at once on the whole server (`MAX_QUEUE_DEPTH`).
    pub max_queue_depth: u64,
}

#[derive(Debug, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UsageResponse {
    pub success: bool,
    /// The key's public id (as `naiq keys list` shows it).
    pub key_id: String,
    pub name: String,
    /// The local day (`YYYY-MM-DD` in `PACING_TIMEZONE`) the figures are for.
    pub day: String,
    pub timezone: String,
    /// When the day's budgets start again (the next local midnight).
    pub resets_at: String,
    /// Anlas settled today by finished jobs, at their actual cost.
    pub spent_today: u64,
    /// Anlas held by today's accepted jobs that have not finished.
    pub held: u64,
    /// Jobs submitted today.
    pub jobs_today: u64,
    /// The key's jobs waiting now.
    pub waiting: u64,
    /// Anlas left today (null without a budget).
    pub anlas_remaining: Option<u64>,
    /// Jobs left today (null without a limit).
    pub jobs_remaining: Option<u64>,
    pub limits: UsageLimits,
    /// When the key expires (null: never).
    pub expires_at: Option<String>,
}

impl ApiService {
    /// `GET /usage`.
    pub async fn usage(&self, caller: &ApiKeyRecord) -> Result<UsageResponse, ApiError> {
        let now = self.clock.now();
        let pacing = &self.settings.pacing;
        let day = pacing.local_day(now);
        let ledger = self.ports.ledger.day(&caller.key_id, day).await?;
        let waiting = self
            .ports
            .jobs
            .active_for_owner(&caller.key_id)
            .await?
            .iter()
            .filter(|j| j.status().is_waiting())
            .count() as u64;
        let l = &caller.limits;
        Ok(UsageResponse {
            success: true,
            key_id: caller.key_id.clone(),
            name: caller.name.clone(),
            day: day.to_string(),
            timezone: pacing.timezone.name().to_string(),
            resets_at: rfc3339(pacing.next_local_midnight(now)),
            spent_today: ledger.spent,
            held: ledger.held,
            jobs_today: ledger.jobs,
            waiting,
            anlas_remaining: l
                .anlas_per_day
                .map(|b| u64::from(b).saturating_sub(ledger.held + ledger.spent)),
            jobs_remaining: l
                .jobs_per_day
                .map(|b| u64::from(b).saturating_sub(ledger.jobs)),
            limits: UsageLimits {
                max_waiting: l.max_waiting,
                jobs_per_day: l.jobs_per_day,
                anlas_per_day: l.anlas_per_day,
                models: l.models.clone(),
                max_area: l.max_area,
                max_samples: l.max_samples,
                lanes: caller.lanes.iter().map(|l| l.to_string()).collect(),
                max_queue_depth: self.max_queue_depth(),
            },
            expires_at: caller.expires_at.map(rfc3339),
        })
    }
}

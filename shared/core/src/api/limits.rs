//! The limits a submit must pass before anything is stored: the key's request-shape
//! limits (models, area, `n_samples`), the global bound on waiting jobs
//! (`MAX_QUEUE_DEPTH`), the key's bound on its waiting jobs, and the key's day in the
//! Anlas ledger (jobs and Anlas per day, held in one atomic update). Every route that
//! queues a job calls [`ApiService::admit`]; a job that is then not queued gives its
//! hold back with [`ApiService::release_hold`].
//!
//! A refusal is a 429 with the policy in the IETF RateLimit fields
//! (draft-ietf-httpapi-ratelimit-headers: `RateLimit-Policy: "name";q=…;w=…` and
//! `RateLimit: "name";r=…;t=…`) and `Retry-After`, which never points before the
//! policy's reset.

use chrono::{DateTime, NaiveDate, Utc};

use super::{ApiError, ApiService, DEFAULT_CALL_SECONDS};
use crate::domain::turns::QueueSnapshot;
use crate::domain::{ApiKeyRecord, GenerationParams, Lane};
use crate::ports::{HoldLimits, HoldRefused};

/// Seconds in the longest `Retry-After` naiq gives (a day: the budgets reset daily).
const MAX_RETRY_AFTER: u64 = 86_400;

/// A limit that refused a request, with what the RateLimit fields say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitHit {
    /// The machine code: `queue_full`, `waiting_limit`, `jobs_per_day`, `anlas_per_day`.
    pub code: &'static str,
    /// The limit's name: the policy in the RateLimit fields and `limit` in the body.
    pub policy: &'static str,
    pub message: String,
    /// The policy's quota (`q`), in its unit.
    pub quota: u64,
    /// The policy's window in seconds (`w`); none for a bound on jobs at once.
    pub window_seconds: Option<u64>,
    /// The quota's unit (`qu`), when not requests.
    pub unit: Option<&'static str>,
    /// What is left (`r`): 0, or less than the request needed.
    pub remaining: u64,
    /// Seconds until the quota frees up (`t`), also `Retry-After`.
    pub reset_seconds: u64,
}

/// A structured-field string (RFC 9651): quoted, with `\` and `"` escaped.
fn sf_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl LimitHit {
    /// `RateLimit-Policy`: `"anlas-daily";q=500;qu="anlas";w=86400`.
    pub fn policy_field(&self) -> String {
        let mut v = format!("{};q={}", sf_string(self.policy), self.quota);
        if let Some(unit) = self.unit {
            v.push_str(&format!(";qu={}", sf_string(unit)));
        }
        if let Some(w) = self.window_seconds {
            v.push_str(&format!(";w={w}"));
        }
        v
    }

    /// `RateLimit`: `"anlas-daily";r=0;t=3600`.
    pub fn ratelimit_field(&self) -> String {
        format!(
            "{};r={};t={}",
            sf_string(self.policy),
            self.remaining,
            self.reset_seconds
        )
    }

    /// `Retry-After`, in seconds (at least 1).
    pub fn retry_after(&self) -> u64 {
        self.reset_seconds.clamp(1, MAX_RETRY_AFTER)
    }
}

/// What a submit holds in the ledger, to give back if the job is not queued after all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    pub day: NaiveDate,
    pub amount: u64,
}

impl ApiService {
    /// The limit on waiting jobs in effect: `MAX_QUEUE_DEPTH`, or three days of quota.
    pub fn max_queue_depth(&self) -> u64 {
        self.settings.max_queue_depth()
    }

    fn seconds_until(&self, t: DateTime<Utc>) -> u64 {
        (t - self.clock.now()).num_seconds().max(1) as u64
    }

    /// When `ahead` more jobs will have started, as the pacing estimate walks it.
    async fn after_jobs(&self, ahead: u64) -> Result<u64, ApiError> {
        let (state, _) = self.ports.pacing.load_pacing().await?;
        let mean = self
            .ports
            .call_stats
            .mean_call_seconds()
            .await?
            .unwrap_or(DEFAULT_CALL_SECONDS);
        let now = self.clock.now();
        let eta = self
            .settings
            .pacing
            .estimate_start(&state, now, ahead, mean, false);
        Ok(self.seconds_until(eta))
    }

    /// Checks every limit for a job of `caller` and holds its Anlas; the job may be stored
    /// and queued only after this. The queue's bounds are checked on `counters`, the lane
    /// counters read for this submit.
    pub async fn admit(
        &self,
        caller: &ApiKeyRecord,
        params: &GenerationParams,
        amount: u64,
        counters: &QueueSnapshot,
    ) -> Result<Hold, ApiError> {
        caller
            .limits
            .check_params(params)
            .map_err(|r| ApiError::Forbidden {
                code: r.code,
                field: Some(r.field),
                message: r.message,
            })?;
        let depth = self.max_queue_depth();
        let pending = counters.total_pending();
        if pending >= depth {
            return Err(ApiError::TooManyRequests(Box::new(LimitHit {
                code: "queue_full",
                policy: "queue",
                message: format!(
                    "the queue holds {pending} waiting jobs, its limit (MAX_QUEUE_DEPTH {depth}); \
                     try again later"
                ),
                quota: depth,
                window_seconds: None,
                unit: Some("concurrent-requests"),
                remaining: 0,
                reset_seconds: self.after_jobs(pending + 1 - depth).await?,
            })));
        }
        if let Some(max) = caller.limits.max_waiting {
            // The counters count the key's waiting jobs in every lane; only a refusal
            // reads the jobs themselves, for when the oldest starts.
            let waiting: u64 = Lane::ALL
                .into_iter()
                .map(|lane| counters.waiting_of(lane, &caller.key_id))
                .sum();
            if waiting >= u64::from(max) {
                // The key's oldest waiting job starts first and frees a place.
                let oldest = self
                    .ports
                    .jobs
                    .active_for_owner(&caller.key_id)
                    .await?
                    .into_iter()
                    .find(|j| j.status().is_waiting());
                let reset_seconds = match oldest {
                    Some(job) => {
                        let first = self.ports.jobs.position_in(counters, &job).await?;
                        self.after_jobs(first.position).await?
                    }
                    None => 1,
                };
                return Err(ApiError::TooManyRequests(Box::new(LimitHit {
                    code: "waiting_limit",
                    policy: "waiting",
                    message: format!(
                        "this API key has {waiting} jobs waiting, its limit (max_waiting {max})"
                    ),
                    quota: u64::from(max),
                    window_seconds: None,
                    unit: Some("concurrent-requests"),
                    remaining: 0,
                    reset_seconds,
                })));
            }
        }
        let now = self.clock.now();
        let day = self.settings.pacing.local_day(now);
        let limits = HoldLimits {
            anlas: caller.limits.anlas_per_day.map(u64::from),
            jobs: caller.limits.jobs_per_day.map(u64::from),
        };
        let midnight = self.settings.pacing.next_local_midnight(now);
        match self
            .ports
            .ledger
            .hold(&caller.key_id, day, amount, limits)
            .await?
        {
            Ok(_) => Ok(Hold { day, amount }),
            Err(HoldRefused::Anlas(d)) => {
                let budget = limits.anlas.unwrap_or_default();
                let left = budget.saturating_sub(d.held + d.spent);
                Err(ApiError::TooManyRequests(Box::new(LimitHit {
                    code: "anlas_per_day",
                    policy: "anlas-daily",
                    message: format!(
                        "this job costs {amount} Anlas; this API key has {left} of its \
                         {budget} Anlas per day left ({} spent, {} held)",
                        d.spent, d.held
                    ),
                    quota: budget,
                    window_seconds: Some(86_400),
                    unit: Some("anlas"),
                    remaining: left,
                    reset_seconds: self.seconds_until(midnight),
                })))
            }
            Err(HoldRefused::Jobs(d)) => {
                let max = limits.jobs.unwrap_or_default();
                Err(ApiError::TooManyRequests(Box::new(LimitHit {
                    code: "jobs_per_day",
                    policy: "jobs-daily",
                    message: format!(
                        "this API key submitted {} jobs today, its limit (jobs_per_day {max})",
                        d.jobs
                    ),
                    quota: max,
                    window_seconds: Some(86_400),
                    unit: None,
                    remaining: 0,
                    reset_seconds: self.seconds_until(midnight),
                })))
            }
        }
    }

    /// Gives back the hold of a job cancelled before it ran.
    pub(super) async fn release_job(&self, job: &crate::domain::Job) {
        let hold = Hold {
            day: self.settings.pacing.local_day(job.created_at()),
            amount: job.cost().map_or(0, |c| u64::from(c.total)),
        };
        if let Err(e) = self
            .ports
            .ledger
            .release(job.owner(), hold.day, hold.amount)
            .await
        {
            tracing::warn!(task_id = %job.task_id(), error = %e, "could not release the job's hold");
        }
    }

    /// Gives back a hold whose job was not queued; a failure is logged (the hold then
    /// counts until the day ends).
    pub async fn release_hold(&self, caller: &ApiKeyRecord, hold: Hold) {
        if let Err(e) = self
            .ports
            .ledger
            .release(&caller.key_id, hold.day, hold.amount)
            .await
        {
            tracing::warn!(key_id = %caller.key_id, error = %e, "could not release a hold");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_are_structured_field_lists() {
        let hit = LimitHit {
            code: "anlas_per_day",
            policy: "anlas-daily",
            message: String::new(),
            quota: 500,
            window_seconds: Some(86_400),
            unit: Some("anlas"),
            remaining: 12,
            reset_seconds: 0,
        };
        assert_eq!(
            hit.policy_field(),
            r#""anlas-daily";q=500;qu="anlas";w=86400"#
        );
        assert_eq!(hit.ratelimit_field(), r#""anlas-daily";r=12;t=0"#);
        assert_eq!(hit.retry_after(), 1);
        assert_eq!(sf_string(r#"a"b\"#), r#""a\"b\\""#);
    }
}

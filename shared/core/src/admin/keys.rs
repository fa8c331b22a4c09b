//! Creating, changing, rotating and revoking API keys. Revoking a key also cancels its
//! waiting jobs (`REVOKED`, with the reason as their error) and releases their Anlas
//! holds; a job the worker has already started is left to finish. The worker also
//! refuses a revoked key's job that raced past this (`worker::settle`).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::domain::pacing::PacingConfig;
use crate::domain::{ApiKey, ApiKeyRecord, JobError, KeyLimits, Lane, TaskId};
use crate::ports::{Clock, JobStore, KeyStore, Ledger, PortError};

#[derive(Debug, thiserror::Error)]
pub enum KeyAdminError {
    #[error("no API key has the id {0} (naiq keys list shows them)")]
    NotFound(String),
    #[error("API key {0} is revoked; a revoked key cannot be changed or rotated")]
    Revoked(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

/// The stores the key use cases need.
#[derive(Clone)]
pub struct KeyPorts {
    pub keys: Arc<dyn KeyStore>,
    pub jobs: Arc<dyn JobStore>,
    pub ledger: Arc<dyn Ledger>,
}

/// A change to a key: each `Some` replaces the field (`Some(None)` clears an optional
/// one).
#[derive(Debug, Clone, Default)]
pub struct KeyChange {
    pub name: Option<String>,
    pub lanes: Option<Vec<Lane>>,
    pub allow_test: Option<bool>,
    pub expires_at: Option<Option<DateTime<Utc>>>,
    pub max_waiting: Option<Option<u32>>,
    pub jobs_per_day: Option<Option<u32>>,
    pub models: Option<Option<Vec<String>>>,
    pub max_area: Option<Option<u64>>,
    pub max_samples: Option<Option<u32>>,
    pub anlas_per_day: Option<Option<u32>>,
    /// The key's default webhook URL (already checked by the caller).
    pub webhook_url: Option<Option<String>>,
}

impl KeyChange {
    fn apply(self, r: &mut ApiKeyRecord) {
        if let Some(v) = self.webhook_url {
            r.webhook_url = v;
        }
        let l: &mut KeyLimits = &mut r.limits;
        if let Some(v) = self.name {
            r.name = v;
        }
        if let Some(v) = self.lanes {
            r.lanes = v;
        }
        if let Some(v) = self.allow_test {
            r.allow_test = v;
        }
        if let Some(v) = self.expires_at {
            r.expires_at = v;
        }
        if let Some(v) = self.max_waiting {
            l.max_waiting = v;
        }
        if let Some(v) = self.jobs_per_day {
            l.jobs_per_day = v;
        }
        if let Some(v) = self.models {
            l.models = v;
        }
        if let Some(v) = self.max_area {
            l.max_area = v;
        }
        if let Some(v) = self.max_samples {
            l.max_samples = v;
        }
        if let Some(v) = self.anlas_per_day {
            l.anlas_per_day = v;
        }
    }
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq)]
pub struct Revoked {
    pub key: ApiKeyRecord,
    /// The waiting jobs it cancelled.
    pub cancelled: Vec<TaskId>,
}

pub struct KeyAdmin {
    ports: KeyPorts,
    clock: Arc<dyn Clock>,
    pacing: PacingConfig,
}

impl KeyAdmin {
    pub fn new(ports: KeyPorts, clock: Arc<dyn Clock>, pacing: PacingConfig) -> Self {
        Self {
            ports,
            clock,
            pacing,
        }
    }

    /// Stores a new key made from `random` (32 bytes from the caller's RNG) with `change`
    /// applied; returns the key (shown once) and its record.
    pub async fn create(
        &self,
        name: &str,
        random: [u8; 32],
        change: KeyChange,
    ) -> Result<(ApiKey, ApiKeyRecord), KeyAdminError> {
        let key = ApiKey::from_random_bytes(random);
        let mut record = ApiKeyRecord::new(&key, name, self.clock.now());
        change.apply(&mut record);
        self.ports.keys.insert(&record).await?;
        Ok((key, record))
    }

    /// Every key, oldest first.
    pub async fn list(&self) -> Result<Vec<ApiKeyRecord>, KeyAdminError> {
        let mut keys = self.ports.keys.list().await?;
        keys.sort_by(|a, b| (a.created_at, &a.key_id).cmp(&(b.created_at, &b.key_id)));
        Ok(keys)
    }

    pub async fn show(&self, key_id: &str) -> Result<ApiKeyRecord, KeyAdminError> {
        self.ports
            .keys
            .find_by_id(key_id)
            .await?
            .ok_or_else(|| KeyAdminError::NotFound(key_id.to_string()))
    }

    async fn live(&self, key_id: &str) -> Result<ApiKeyRecord, KeyAdminError> {
        let key = self.show(key_id).await?;
        if key.revoked_at.is_some() {
            return Err(KeyAdminError::Revoked(key_id.to_string()));
        }
        Ok(key)
    }

    pub async fn update(
        &self,
        key_id: &str,
        change: KeyChange,
    ) -> Result<ApiKeyRecord, KeyAdminError> {
        let mut key = self.live(key_id).await?;
        change.apply(&mut key);
        self.ports.keys.update(&key).await?;
        Ok(key)
    }

    /// A new secret for the key: the old one stops working at once; the id, the limits,
    /// the jobs and the ledger stay.
    pub async fn rotate(
        &self,
        key_id: &str,
        random: [u8; 32],
    ) -> Result<(ApiKey, ApiKeyRecord), KeyAdminError> {
        let old = self.live(key_id).await?;
        let key = ApiKey::from_random_bytes(random);
        let mut record = old.clone();
        record.key_hash = key.hash();
        self.ports.keys.rotate(&old.key_hash, &record).await?;
        Ok((key, record))
    }

    /// Revokes the key for good and cancels its waiting jobs.
    pub async fn revoke(&self, key_id: &str, reason: &str) -> Result<Revoked, KeyAdminError> {
        let mut key = self.show(key_id).await?;
        let now = self.clock.now();
        if key.revoked_at.is_none() {
            key.revoked_at = Some(now);
            key.revoked_reason = Some(reason.to_string());
            self.ports.keys.update(&key).await?;
        }
        let reason = key.revoked_reason.clone().unwrap_or_default();
        let mut cancelled = Vec::new();
        for mut job in self.ports.jobs.active_for_owner(&key.key_id).await? {
            let expected = job.status();
            let error = JobError::new("key_revoked", format!("its API key was revoked: {reason}"));
            if job.revoke_because(error, now).is_err() {
                continue; // Started: it finishes.
            }
            match self.ports.jobs.replace(&job, expected).await {
                Ok(()) => {}
                Err(PortError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
            let day = self.pacing.local_day(job.created_at());
            let held = job.cost().map_or(0, |c| u64::from(c.total));
            self.ports.ledger.release(&key.key_id, day, held).await?;
            cancelled.push(job.task_id().clone());
        }
        Ok(Revoked { key, cancelled })
    }
}

//! `Idempotency-Key` on `POST /generate` (and `/augment`, `/upscale`), as the IETF draft has it: the same key with the
//! same body answers the first answer again (the same task, nothing queued twice); the
//! same key with another body is refused (422); a repeat while the first is still being
//! handled is refused (409). Keys are scoped to the API key and kept 24 hours.

use blake2::{Blake2b256, Digest};
use chrono::TimeDelta;

use super::responses::Submitted;
use super::submit::SubmitRoute;
use super::{ApiError, ApiService};
use crate::domain::{ApiKeyRecord, ValidationError};
use crate::ports::Claim;

/// How long a key is remembered.
pub const IDEMPOTENCY_TTL: TimeDelta = TimeDelta::hours(24);

/// How long a request may hold a key before another may take it over (a crashed one).
const IN_PROGRESS_FOR: TimeDelta = TimeDelta::seconds(30);

/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// What an idempotent submit answers: a fresh answer, or the first one again.
#[derive(Debug)]
pub enum Idempotent {
    Fresh(Submitted),
    Replayed(serde_json::Value),
}

fn digest(parts: &[&[u8]]) -> String {
    let mut h = Blake2b256::new();
    for p in parts {
        h.update((p.len() as u64).to_le_bytes());
        h.update(p);
    }
    hex::encode(h.finalize())
}

impl ApiService {
    /// `POST /generate` with an optional `Idempotency-Key`.
    pub async fn submit_idempotent(
        &self,
        caller: &ApiKeyRecord,
        body: &[u8],
        key: Option<&str>,
    ) -> Result<Idempotent, ApiError> {
        self.submit_idempotent_to(SubmitRoute::Generate, caller, body, key)
            .await
    }

    /// A submit of `route` with an optional `Idempotency-Key`. The keys are shared by the
    /// routes: the same key sent to another route is another request (422).
    pub async fn submit_idempotent_to(
        &self,
        route: SubmitRoute,
        caller: &ApiKeyRecord,
        body: &[u8],
        key: Option<&str>,
    ) -> Result<Idempotent, ApiError> {
        let Some(key) = key else {
            return Ok(Idempotent::Fresh(
                self.submit_to(route, caller, body).await?,
            ));
        };
        if key.is_empty()
            || key.len() > MAX_KEY_LEN
            || !key.bytes().all(|b| b.is_ascii_graphic() || b == b' ')
        {
            return Err(ApiError::Invalid(ValidationError::invalid(
                "Idempotency-Key",
                format!("Idempotency-Key must be 1-{MAX_KEY_LEN} printable ASCII characters"),
            )));
        }
        let scoped = format!("{}#{}", caller.key_id, digest(&[key.as_bytes()]));
        // A generation's fingerprint is its body alone, as before the other routes.
        let fingerprint = match route {
            SubmitRoute::Generate => digest(&[body]),
            SubmitRoute::Augment => digest(&[b"augment", body]),
            SubmitRoute::Upscale => digest(&[b"upscale", body]),
        };
        let now = self.clock.now();
        let claim = self
            .ports
            .idempotency
            .claim(
                &scoped,
                &fingerprint,
                now,
                now + IN_PROGRESS_FOR,
                now + IDEMPOTENCY_TTL,
            )
            .await?;
        match claim {
            Claim::Done { fingerprint: f, .. } | Claim::InProgress { fingerprint: f }
                if f != fingerprint =>
            {
                Err(ApiError::IdempotencyKeyReused)
            }
            Claim::InProgress { .. } => Err(ApiError::IdempotencyInProgress),
            Claim::Done { response, .. } => Ok(Idempotent::Replayed(
                serde_json::from_str(&response).map_err(|e| {
                    ApiError::Internal(crate::ports::PortError::Corrupt(e.to_string()))
                })?,
            )),
            Claim::New => match self.submit_to(route, caller, body).await {
                Ok(answer) => {
                    let text = serde_json::to_string(&answer).expect("answers serialise");
                    if let Err(e) = self.ports.idempotency.complete(&scoped, &text).await {
                        // The job is queued: answer it; a retry within the stale time gets 409.
                        tracing::warn!(error = %e, "could not record the idempotent answer");
                    }
                    Ok(Idempotent::Fresh(answer))
                }
                Err(e) => {
                    if let Err(e2) = self.ports.idempotency.release(&scoped).await {
                        tracing::warn!(error = %e2, "could not release the idempotency key");
                    }
                    Err(e)
                }
            },
        }
    }
}

//! Idempotency records in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use naiq_core::ports::{Claim, IdempotencyStore, PortResult};

use super::lock;

#[derive(Debug, Clone)]
struct Record {
    fingerprint: String,
    response: Option<String>,
    stale_after: DateTime<Utc>,
    expires: DateTime<Utc>,
}

#[derive(Default)]
pub struct MemoryIdempotencyStore {
    records: Mutex<HashMap<String, Record>>,
}

#[async_trait]
impl IdempotencyStore for MemoryIdempotencyStore {
    async fn claim(
        &self,
        key: &str,
        fingerprint: &str,
        now: DateTime<Utc>,
        stale_after: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> PortResult<Claim> {
        let mut records = lock(&self.records);
        if let Some(r) = records.get(key).filter(|r| r.expires > now) {
            match &r.response {
                Some(response) => {
                    return Ok(Claim::Done {
                        fingerprint: r.fingerprint.clone(),
                        response: response.clone(),
                    });
                }
                None if r.stale_after > now => {
                    return Ok(Claim::InProgress {
                        fingerprint: r.fingerprint.clone(),
                    });
                }
                None => {}
            }
        }
        records.insert(
            key.to_string(),
            Record {
                fingerprint: fingerprint.to_string(),
                response: None,
                stale_after,
                expires,
            },
        );
        Ok(Claim::New)
    }

    async fn complete(&self, key: &str, response: &str) -> PortResult<()> {
        if let Some(r) = lock(&self.records).get_mut(key) {
            r.response = Some(response.to_string());
        }
        Ok(())
    }

    async fn release(&self, key: &str) -> PortResult<()> {
        lock(&self.records).remove(key);
        Ok(())
    }
}

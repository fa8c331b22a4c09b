//! The key store's contract.

use chrono::{TimeZone, Utc};
use naiq_core::domain::{ApiKey, ApiKeyRecord, Lane};
use naiq_core::ports::*;

pub async fn key_store(keys: &dyn KeyStore) {
    let key = ApiKey::from_random_bytes([9; 32]);
    let mut rec = ApiKeyRecord::new(
        &key,
        "contract",
        Utc.timestamp_opt(1_790_000_000, 0).unwrap(),
    );
    rec.allow_test = true;
    rec.lanes = vec![Lane::Normal, Lane::Low];
    assert_eq!(keys.find(&key.hash()).await.unwrap(), None);
    keys.insert(&rec).await.unwrap();
    assert_eq!(keys.find(&key.hash()).await.unwrap(), Some(rec.clone()));
    assert!(matches!(
        keys.insert(&rec).await,
        Err(PortError::Conflict(_))
    ));
}

//! The key store's contract.

use chrono::{Duration, TimeZone, Utc};
use naiq_core::domain::{ApiKey, ApiKeyRecord, KeyLimits, Lane};
use naiq_core::ports::*;

pub async fn key_store(keys: &dyn KeyStore) {
    let t0 = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let key = ApiKey::from_random_bytes([9; 32]);
    let mut rec = ApiKeyRecord::new(&key, "contract", t0);
    rec.allow_test = true;
    rec.lanes = vec![Lane::Normal, Lane::Low];
    assert_eq!(keys.find(&key.hash()).await.unwrap(), None);
    assert_eq!(keys.find_by_id(&key.id()).await.unwrap(), None);
    assert!(keys.list().await.unwrap().is_empty());
    keys.insert(&rec).await.unwrap();
    assert_eq!(keys.find(&key.hash()).await.unwrap(), Some(rec.clone()));
    assert!(matches!(
        keys.insert(&rec).await,
        Err(PortError::Conflict(_))
    ));

    // Every field round-trips, the limits too.
    rec.expires_at = Some(t0 + Duration::days(30));
    rec.limits = KeyLimits {
        max_waiting: Some(3),
        jobs_per_day: Some(100),
        models: Some(vec![
            "nai-diffusion-3".into(),
            "nai-diffusion-4-5-full".into(),
        ]),
        max_area: Some(1_048_576),
        max_samples: Some(2),
        anlas_per_day: Some(500),
    };
    keys.update(&rec).await.unwrap();
    assert_eq!(keys.find(&key.hash()).await.unwrap(), Some(rec.clone()));
    assert_eq!(keys.find_by_id(&key.id()).await.unwrap(), Some(rec.clone()));
    rec.revoked_at = Some(t0 + Duration::hours(1));
    rec.revoked_reason = Some("left the team".into());
    keys.update(&rec).await.unwrap();
    assert_eq!(keys.find_by_id(&key.id()).await.unwrap(), Some(rec.clone()));

    // An update of a key that is not stored changes nothing.
    let other = ApiKey::from_random_bytes([10; 32]);
    let other_rec = ApiKeyRecord::new(&other, "other", t0);
    assert!(matches!(
        keys.update(&other_rec).await,
        Err(PortError::Conflict(_))
    ));
    assert_eq!(keys.find(&other.hash()).await.unwrap(), None);
    keys.insert(&other_rec).await.unwrap();
    let mut listed: Vec<String> = keys
        .list()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    listed.sort();
    assert_eq!(listed, ["contract", "other"]);

    // Rotation: the same id under a new hash; the old hash stops finding it.
    let fresh = ApiKey::from_random_bytes([11; 32]);
    let mut rotated = rec.clone();
    rotated.key_hash = fresh.hash();
    keys.rotate(&key.hash(), &rotated).await.unwrap();
    assert_eq!(keys.find(&key.hash()).await.unwrap(), None);
    assert_eq!(
        keys.find(&fresh.hash()).await.unwrap(),
        Some(rotated.clone())
    );
    assert_eq!(
        keys.find_by_id(&key.id()).await.unwrap(),
        Some(rotated.clone())
    );
    // A second rotation from the old hash, or onto a hash in use, is refused whole.
    assert!(matches!(
        keys.rotate(&key.hash(), &rotated).await,
        Err(PortError::Conflict(_))
    ));
    let mut clash = rotated.clone();
    clash.key_hash = other.hash();
    assert!(matches!(
        keys.rotate(&fresh.hash(), &clash).await,
        Err(PortError::Conflict(_))
    ));
    assert_eq!(keys.find(&fresh.hash()).await.unwrap(), Some(rotated));
    assert_eq!(keys.find(&other.hash()).await.unwrap(), Some(other_rec));
    assert_eq!(keys.list().await.unwrap().len(), 2);
}

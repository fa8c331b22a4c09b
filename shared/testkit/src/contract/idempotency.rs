//! The idempotency records' contract: one claim per key, the answer kept, stale claims
//! taken over, expired records forgotten, keys independent.

use chrono::{Duration, TimeZone, Utc};
use naiq_core::ports::*;

pub async fn idempotency_store(store: &dyn IdempotencyStore) {
    let t0 = Utc.timestamp_opt(1_790_000_000, 0).unwrap();
    let at = |s: i64| t0 + Duration::seconds(s);
    let claim = |key: &'static str, fp: &'static str, now: i64| async move {
        store
            .claim(key, fp, at(now), at(now + 30), at(now + 86_400))
            .await
            .unwrap()
    };
    assert_eq!(claim("k1", "f1", 0).await, Claim::New);
    assert_eq!(
        claim("k1", "f1", 1).await,
        Claim::InProgress {
            fingerprint: "f1".into()
        }
    );
    assert_eq!(
        claim("k2", "f9", 1).await,
        Claim::New,
        "keys are independent"
    );
    store.complete("k1", r#"{"task_id":"a"}"#).await.unwrap();
    assert_eq!(
        claim("k1", "f2", 2).await,
        Claim::Done {
            fingerprint: "f1".into(),
            response: r#"{"task_id":"a"}"#.into()
        },
        "the first answer is kept, whatever the new body"
    );
    // A claim nobody completed goes stale and can be taken over.
    assert_eq!(claim("k2", "f9", 31).await, Claim::New);
    // A released claim is free at once.
    store.release("k2").await.unwrap();
    assert_eq!(claim("k2", "f8", 32).await, Claim::New);
    // After a day the record is gone.
    assert_eq!(claim("k1", "f2", 86_401).await, Claim::New);
}

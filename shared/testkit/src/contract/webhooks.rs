//! The webhook ports' contracts: the queue (at-least-once, retry hides a message, the
//! dead-letter end), the delivery states (one per event, apart from each other) and the
//! secrets (rotation replaces).

use chrono::{TimeZone, Utc};
use naiq_core::domain::TaskId;
use naiq_core::ports::*;
use naiq_core::webhooks::{
    DeliveryState, DeliveryStatus, EventType, SECRET_BYTES, WebhookMessage, WebhookSecret,
};

fn message(n: u8, event: EventType) -> WebhookMessage {
    let task_id = TaskId::from_random_bytes([n; 16]);
    WebhookMessage {
        id: format!("msg_{task_id}_{}", event.as_str()),
        event,
        task_id,
        owner: "0123456789abcdef".into(),
        url: "https://hooks.example.com/naiq".into(),
        occurred_at: Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
        data: serde_json::json!({"status": "SUCCESS", "seed": 7}),
        image_keys: vec!["images/a/0.png".into()],
    }
}

/// Receives until `want` messages came, for queues that answer a few at a time.
async fn receive_all(queue: &dyn WebhookQueue, want: usize) -> Vec<WebhookDelivery> {
    let mut got = Vec::new();
    for _ in 0..20 {
        got.extend(queue.receive(10).await.unwrap());
        if got.len() >= want {
            break;
        }
    }
    got
}

pub async fn webhook_queue(queue: &dyn WebhookQueue) {
    assert!(queue.receive(10).await.unwrap().is_empty());
    let (a, b) = (
        message(1, EventType::Started),
        message(2, EventType::Succeeded),
    );
    queue.send(&a).await.unwrap();
    queue.send(&b).await.unwrap();
    let got = receive_all(queue, 2).await;
    assert_eq!(got.len(), 2, "both messages");
    let mut bodies: Vec<_> = got.iter().map(|d| d.message.clone()).collect();
    bodies.sort_by(|x, y| x.id.cmp(&y.id));
    assert_eq!(bodies, vec![a.clone(), b.clone()], "messages round-trip");
    assert!(got.iter().all(|d| d.receive_count == 1));
    assert!(
        queue.receive(10).await.unwrap().is_empty(),
        "a received message is hidden"
    );
    let da = got.iter().find(|d| d.message == a).unwrap();
    let db = got.iter().find(|d| d.message == b).unwrap();
    // A retry with no wait comes back at once, counted; one with a wait does not.
    queue.retry_after(da, 0).await.unwrap();
    queue.retry_after(db, 600).await.unwrap();
    let again = receive_all(queue, 1).await;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message, a);
    assert_eq!(again[0].receive_count, 2);
    queue.ack(&again[0]).await.unwrap();
    queue.dead_letter(db).await.unwrap();
    queue.retry_after(db, 0).await.ok();
    assert!(
        queue.receive(10).await.unwrap().is_empty(),
        "acknowledged and dead-lettered messages are gone"
    );
}

pub async fn webhook_states(states: &dyn WebhookStateStore) {
    let task = TaskId::from_random_bytes([9; 16]);
    assert!(states.deliveries(&task).await.unwrap().is_empty());
    let started = DeliveryState {
        event: EventType::Started,
        webhook_id: "msg_a".into(),
        state: DeliveryStatus::Retrying,
        attempts: 1,
        last_status: Some(503),
        last_error: Some("the receiver answered 503".into()),
        next_attempt_at: Some("2026-01-02T03:04:10.000Z".into()),
        updated_at: Some("2026-01-02T03:04:05.000Z".into()),
    };
    states.record_delivery(&task, &started).await.unwrap();
    let succeeded = DeliveryState {
        event: EventType::Succeeded,
        webhook_id: "msg_b".into(),
        state: DeliveryStatus::Delivered,
        attempts: 1,
        last_status: Some(200),
        last_error: None,
        next_attempt_at: None,
        updated_at: Some("2026-01-02T03:04:06.000Z".into()),
    };
    states.record_delivery(&task, &succeeded).await.unwrap();
    let delivered = DeliveryState {
        state: DeliveryStatus::Delivered,
        attempts: 2,
        last_status: Some(204),
        last_error: None,
        next_attempt_at: None,
        ..started.clone()
    };
    states.record_delivery(&task, &delivered).await.unwrap();
    let mut got = states.deliveries(&task).await.unwrap();
    got.sort_by_key(|s| s.event.as_str());
    assert_eq!(got, vec![delivered, succeeded], "one state per event");
    let other = TaskId::from_random_bytes([10; 16]);
    assert!(states.deliveries(&other).await.unwrap().is_empty());
}

pub async fn webhook_secrets(secrets: &dyn WebhookSecretStore) {
    assert_eq!(secrets.secret("0123456789abcdef").await.unwrap(), None);
    let first = WebhookSecret::from_random_bytes([1; SECRET_BYTES]);
    secrets
        .put_secret("0123456789abcdef", &first)
        .await
        .unwrap();
    assert_eq!(
        secrets.secret("0123456789abcdef").await.unwrap(),
        Some(first)
    );
    let rotated = WebhookSecret::from_random_bytes([2; SECRET_BYTES]);
    secrets
        .put_secret("0123456789abcdef", &rotated)
        .await
        .unwrap();
    assert_eq!(
        secrets.secret("0123456789abcdef").await.unwrap(),
        Some(rotated)
    );
    assert_eq!(secrets.secret("fedcba9876543210").await.unwrap(), None);
}

//! The lane queues' contract: lane order, at-least-once delivery, release, dead letters,
//! and one FIFO group per key inside a lane.

use naiq_core::domain::{Credentials, Lane, TaskId};
use naiq_core::ports::*;

pub async fn job_queue(queue: &dyn JobQueue) {
    let msg = |n: u8| QueueMessage {
        task_id: TaskId::from_random_bytes([n; 16]),
        credentials: None,
        owner: None,
    };
    assert!(queue.receive(&Lane::ALL).await.unwrap().is_none());
    queue.send(Lane::Normal, &msg(1)).await.unwrap();
    queue.send(Lane::Normal, &msg(2)).await.unwrap();
    queue.send(Lane::Low, &msg(3)).await.unwrap();
    let with_token = QueueMessage {
        task_id: TaskId::from_random_bytes([4; 16]),
        credentials: Some(Credentials::Token {
            token: "pst-contract".into(),
        }),
        owner: None,
    };
    queue.send(Lane::High, &with_token).await.unwrap();
    assert!(
        queue.receive(&[Lane::Test]).await.unwrap().is_none(),
        "only the lanes asked for"
    );
    let d = queue
        .receive(&[Lane::Low])
        .await
        .unwrap()
        .expect("a lane on its own");
    assert_eq!(d.message, msg(3));
    queue.release(&d).await.unwrap();

    let d = queue
        .receive(&Lane::ALL)
        .await
        .unwrap()
        .expect("high first");
    assert_eq!((d.lane, &d.message), (Lane::High, &with_token));
    assert_eq!(d.receive_count, 1);
    queue.ack(&d).await.unwrap();
    let d = queue
        .receive(&Lane::ALL)
        .await
        .unwrap()
        .expect("then normal, oldest first");
    assert_eq!((d.lane, &d.message), (Lane::Normal, &msg(1)));
    queue.ack(&d).await.unwrap();
    let d = queue
        .receive(&Lane::ALL)
        .await
        .unwrap()
        .expect("normal again");
    assert_eq!(d.message, msg(2));
    queue.release(&d).await.unwrap();
    let again = queue
        .receive(&Lane::ALL)
        .await
        .unwrap()
        .expect("released message comes back");
    assert_eq!(again.message, msg(2));
    assert_eq!(again.receive_count, 2);
    queue.ack(&again).await.unwrap();
    let d = queue.receive(&Lane::ALL).await.unwrap().expect("low last");
    assert_eq!(
        (d.lane, &d.message, d.receive_count),
        (Lane::Low, &msg(3), 2)
    );
    queue.ack(&d).await.unwrap();
    assert!(queue.receive(&Lane::ALL).await.unwrap().is_none());
}

/// Messages that fail `MAX_RECEIVE_COUNT` deliveries land in the dead-letter queue.
pub async fn dead_letters(queue: &dyn JobQueue) {
    let poison = QueueMessage {
        task_id: TaskId::from_random_bytes([13; 16]),
        credentials: None,
        owner: None,
    };
    assert!(queue.receive_dead_letter().await.unwrap().is_none());
    queue.send(Lane::Normal, &poison).await.unwrap();
    for n in 1..=MAX_RECEIVE_COUNT {
        let d = queue
            .receive(&Lane::ALL)
            .await
            .unwrap()
            .expect("redelivered");
        assert_eq!(d.receive_count, n);
        queue.release(&d).await.unwrap();
    }
    assert!(
        queue.receive(&Lane::ALL).await.unwrap().is_none(),
        "moved on"
    );
    let dead = queue
        .receive_dead_letter()
        .await
        .unwrap()
        .expect("in the dead-letter queue");
    assert!(dead.dead_letter);
    assert_eq!(dead.message, poison);
    queue.ack(&dead).await.unwrap();
    assert!(queue.receive_dead_letter().await.unwrap().is_none());
}

/// The heartbeat keeps a received message hidden; the backlog counts every message of
/// the lanes, visible or in flight.
pub async fn heartbeat_and_backlog(queue: &dyn JobQueue) {
    let msg = |n: u8| QueueMessage {
        task_id: TaskId::from_random_bytes([n; 16]),
        credentials: None,
        owner: None,
    };
    assert_eq!(queue.backlog().await.unwrap(), 0);
    queue.send(Lane::Normal, &msg(1)).await.unwrap();
    queue.send(Lane::Low, &msg(2)).await.unwrap();
    assert_eq!(queue.backlog().await.unwrap(), 2);
    let d = queue
        .receive(&[Lane::Normal])
        .await
        .unwrap()
        .expect("received");
    assert_eq!(queue.backlog().await.unwrap(), 2, "in flight still counts");
    queue.keep_hidden(&d, 120).await.unwrap();
    queue.keep_hidden(&d, 120).await.unwrap();
    assert!(
        queue.receive(&[Lane::Normal]).await.unwrap().is_none(),
        "still hidden after the heartbeat"
    );
    queue.ack(&d).await.unwrap();
    assert_eq!(queue.backlog().await.unwrap(), 1);
    assert!(
        queue.keep_hidden(&d, 120).await.is_err(),
        "a handled message has no visibility to extend"
    );
    let d = queue.receive(&Lane::ALL).await.unwrap().expect("low");
    queue.ack(&d).await.unwrap();
    assert_eq!(queue.backlog().await.unwrap(), 0);
}

/// Inside a lane, each key's messages are one FIFO group: while one of a group is in
/// flight, receiving gives the next group's head, so holding what it receives the worker
/// sees the next job of every key; an acknowledged head lets its group's next through,
/// a released one comes back first.
pub async fn job_queue_groups(queue: &dyn JobQueue) {
    let msg = |n: u8, owner: &str| QueueMessage {
        task_id: TaskId::from_random_bytes([40 + n; 16]),
        credentials: None,
        owner: Some(owner.into()),
    };
    for (n, owner) in [(1, "key-a"), (2, "key-a"), (3, "key-a"), (4, "key-b")] {
        queue.send(Lane::Normal, &msg(n, owner)).await.unwrap();
    }
    let a1 = queue.receive(&Lane::ALL).await.unwrap().expect("a's head");
    assert_eq!(a1.message, msg(1, "key-a"));
    let b1 = queue
        .receive(&Lane::ALL)
        .await
        .unwrap()
        .expect("a is in flight: b's head, not a's second");
    assert_eq!(b1.message, msg(4, "key-b"));
    assert_eq!(b1.message.group(), "key-b");
    assert!(
        queue.receive(&Lane::ALL).await.unwrap().is_none(),
        "every group has its head in flight"
    );
    queue.ack(&a1).await.unwrap();
    let a2 = queue.receive(&Lane::ALL).await.unwrap().expect("a's next");
    assert_eq!(a2.message, msg(2, "key-a"));
    queue.release(&b1).await.unwrap();
    let b1 = queue.receive(&Lane::ALL).await.unwrap().expect("b again");
    assert_eq!((&b1.message, b1.receive_count), (&msg(4, "key-b"), 2));
    queue.release(&a2).await.unwrap();
    let a2 = queue
        .receive(&Lane::ALL)
        .await
        .unwrap()
        .expect("a released head comes back before a's later jobs");
    assert_eq!(a2.message, msg(2, "key-a"));
    for d in [a2, b1] {
        queue.ack(&d).await.unwrap();
    }
    let a3 = queue.receive(&Lane::ALL).await.unwrap().expect("a's last");
    assert_eq!(a3.message, msg(3, "key-a"));
    queue.ack(&a3).await.unwrap();
    assert!(queue.receive(&Lane::ALL).await.unwrap().is_none());
}

//! An AWS endpoint that takes a request and never answers cannot hold a function: every
//! SDK call is bounded (`aws::SdkTimeouts`), and the adapters see a backend error.

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::types::AttributeValue;
use naiq_adapters::aws::dynamodb::DynamoJobStore;
use naiq_adapters::aws::{AwsClients, SdkTimeouts};
use naiq_core::domain::TaskId;
use naiq_core::ports::{JobStore, PortError};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;

/// A server on 127.0.0.1 that accepts connections and reads requests, never answering;
/// it stops when the test's runtime ends.
async fn silent_endpoint() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
            });
        }
    });
    format!("http://{addr}")
}

async fn clients(endpoint: &str, timeouts: SdkTimeouts) -> AwsClients {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"));
    AwsClients::load(loader, timeouts).await
}

#[tokio::test]
async fn a_silent_endpoint_fails_the_call_within_the_operation_timeout() {
    let endpoint = silent_endpoint().await;
    let timeouts = SdkTimeouts {
        connect: Duration::from_millis(500),
        attempt: Duration::from_millis(200),
        operation: Duration::from_millis(700),
    };
    let aws = clients(&endpoint, timeouts).await;
    let started = Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(20),
        aws.dynamodb
            .get_item()
            .table_name("jobs")
            .key("task_id", AttributeValue::S("x".into()))
            .send(),
    )
    .await
    .expect("the SDK call ended by itself");
    let took = started.elapsed();
    assert!(answer.is_err(), "a silent endpoint gave an answer");
    assert!(took < Duration::from_secs(3), "the call took {took:?}");

    // Through a port: a backend error, which the worker and the API handle.
    let store = DynamoJobStore::new(aws.dynamodb.clone(), "jobs");
    let id = TaskId::parse("0b8f5a6e-3c1d-4e2f-9a7b-1c2d3e4f5a6b").expect("a task id");
    let started = Instant::now();
    let read = tokio::time::timeout(Duration::from_secs(20), store.get(&id))
        .await
        .expect("the port call ended by itself");
    assert!(matches!(read, Err(PortError::Backend { .. })), "{read:?}");
    assert!(started.elapsed() < Duration::from_secs(3));
}

#[test]
fn the_default_bounds_leave_room_for_the_largest_request() {
    let t = SdkTimeouts::default();
    // The largest request is an input image put to S3 (tens of MB inside a region).
    assert!(t.attempt >= Duration::from_secs(10));
    assert!(t.operation > t.attempt * 2, "room for a retry");
    // Under API Gateway's 30 s integration limit: a hung call still gets an answer out.
    assert!(t.operation < Duration::from_secs(29));
}

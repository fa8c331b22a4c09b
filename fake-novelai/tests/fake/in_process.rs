//! Driving the fake without a socket (the router), and the life of a spawned one.

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use fake_novelai::{FakeState, router};
use tower::ServiceExt as _;

use crate::bodies::small;
use crate::common::{self, GOOD, config, inject, log, start};

#[tokio::test]
async fn the_router_answers_in_process() {
    let app = router(FakeState::new(&config(0)));
    let health = app
        .clone()
        .oneshot(Request::get("/_fake/health").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let answer = app
        .clone()
        .oneshot(
            Request::post("/ai/generate-image")
                .header("authorization", format!("Bearer {GOOD}"))
                .body(Body::from(small().to_string()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    let zip = axum::body::to_bytes(answer.into_body(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(common::unzip(&zip).unwrap().len(), 1);
    // The same state is behind every clone: the log saw the generation.
    let log = app
        .oneshot(Request::get("/_fake/requests").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let log = axum::body::to_bytes(log.into_body(), usize::MAX)
        .await
        .unwrap();
    let log: serde_json::Value = serde_json::from_slice(&log).unwrap();
    assert_eq!(log[0]["status"], 200);
}

#[tokio::test]
async fn fakes_run_side_by_side_and_stop_when_dropped() {
    let (a, b) = (start(0).await, start(0).await);
    assert_ne!(a.addr(), b.addr());
    assert!(a.addr().ip().is_loopback());
    assert_eq!(a.url(), format!("http://{}", a.addr()));
    inject(&a, "500", 1).await;
    assert_eq!(
        common::generate(&b, GOOD, &small()).await.status,
        200,
        "faults are per fake"
    );

    let url = a.url().to_string();
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let refused = reqwest::Client::new()
            .get(format!("{url}/_fake/health"))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_err();
        if refused {
            break;
        }
        assert!(Instant::now() < deadline, "still serving after drop");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stop_ends_a_hanging_generation_and_waits_for_the_server() {
    let fake = start(0).await;
    inject(&fake, "hang", 1).await;
    let url = fake.url().to_string();
    let hung = tokio::spawn(async move {
        reqwest::Client::new()
            .post(format!("{url}/ai/generate-image"))
            .bearer_auth(GOOD)
            .body(small().to_string())
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    // Stopped once the generation is hanging (its log entry names the fault), however
    // slow the machine.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !log(&fake).await.iter().any(|e| e["fault"] == "hang") {
        assert!(
            Instant::now() < deadline,
            "the generation never started hanging"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let started = Instant::now();
    fake.stop().await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    // The hung call got the fault's final answer, not an hour's wait.
    assert_eq!(hung.await.unwrap().unwrap(), 500);
}

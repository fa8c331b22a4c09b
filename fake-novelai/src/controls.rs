//! The test controls under `/_fake/`:
//!
//! - `GET /_fake/requests`: the request log, oldest first (`[{method, path, received_at,
//!   finished_at, status, body}]`); `DELETE` empties it (204).
//! - `GET /_fake/faults`: the queued faults, next first (`[{kind, count}]`); `POST
//!   {"kind": K, "count": N}` queues N more (N ≥ 1, default 1) and answers the queue;
//!   `DELETE` empties it (204).
//! - `PUT /_fake/config {"latency_ms": N}`: sets the latency, answers `{"latency_ms": N}`.
//! - `GET /_fake/health`: `ok`.
//!
//! These are not logged.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Value, json};

use crate::answer::error;
use crate::faults::{FaultBatch, FaultKind};
use crate::server::FakeState;

pub fn routes() -> Router<FakeState> {
    Router::new()
        .route("/_fake/requests", get(requests).delete(clear_requests))
        .route(
            "/_fake/faults",
            get(list_faults).post(add_faults).delete(clear_faults),
        )
        .route("/_fake/config", put(configure))
        .route("/_fake/health", get(|| async { "ok" }))
}

async fn requests(State(state): State<FakeState>) -> Response {
    axum::Json(state.log().snapshot().await).into_response()
}

async fn clear_requests(State(state): State<FakeState>) -> StatusCode {
    state.log().clear().await;
    StatusCode::NO_CONTENT
}

async fn list_faults(State(state): State<FakeState>) -> Response {
    axum::Json(state.faults().list()).into_response()
}

async fn add_faults(State(state): State<FakeState>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let kind = v["kind"].as_str().and_then(FaultKind::from_name);
    let count = match v.get("count") {
        None => Some(1),
        Some(c) => c.as_u64().filter(|n| *n >= 1),
    };
    let (Some(kind), Some(count)) = (kind, count) else {
        let kinds: Vec<&str> = FaultKind::ALL.iter().map(|k| k.name()).collect();
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "expected {{\"kind\": K, \"count\": N}} with K one of {} and N >= 1",
                kinds.join(", ")
            ),
        );
    };
    state.faults().push(FaultBatch { kind, count });
    axum::Json(state.faults().list()).into_response()
}

async fn clear_faults(State(state): State<FakeState>) -> StatusCode {
    state.faults().clear();
    StatusCode::NO_CONTENT
}

async fn configure(State(state): State<FakeState>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match v.get("latency_ms").and_then(Value::as_u64) {
        Some(ms) => {
            state.set_latency_ms(ms);
            axum::Json(json!({"latency_ms": ms})).into_response()
        }
        None => error(StatusCode::BAD_REQUEST, "expected {\"latency_ms\": N}"),
    }
}

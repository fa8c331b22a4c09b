//! The test controls under `/_fake/`:
//!
//! - `GET /_fake/requests`: the request log, oldest first (`[{method, path, received_at,
//!   finished_at, status, body}]`, generations with `anlas_charged`); `DELETE` empties it
//!   (204). `GET /_fake/requests/counts`: how many requests each route received
//!   (`{"/ai/encode-vibe": 2, …}`), to prove a call was or was not made.
//! - `GET /_fake/faults`: the queued faults, next first (`[{kind, count}]`); `POST
//!   {"kind": K, "count": N}` queues N more (N ≥ 1, default 1) and answers the queue;
//!   `DELETE` empties it (204).
//! - `PUT /_fake/config {"latency_ms": N, "step_delay_ms": D, "medium_step_factor": F,
//!   "fault_rate": R, "fault_kinds": [K…], "fault_seed": S}` (any of them): sets the
//!   latency, the stream route's time per step (D ms, 0 at the start), V5 Full
//!   Medium's step factor (0–10), and the random faults ([`crate::faults::random`]: each
//!   generation fails with probability R, 0–1, with one of the kinds K, all by default,
//!   drawn from seed S); `"noisy_tools": true` fills the Director tools' and upscales'
//!   pictures with random pixels (PNGs deflate cannot shrink: the largest answer of their
//!   size, for measuring a client's memory), `false` back to one colour. Answers what it
//!   set.
//! - `GET /_fake/accounts`, `PUT /_fake/accounts`: every account's tier, Anlas and usage
//!   gauge, and setting them ([`accounts`]).
//! - `GET /_fake/health`: `ok`.
//!
//! These are not logged.

pub mod accounts;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde_json::{Map, Value};

use crate::answer::error;
use crate::faults::{FaultBatch, FaultKind};
use crate::server::FakeState;

pub fn routes() -> Router<FakeState> {
    Router::new()
        .route("/_fake/requests", get(requests).delete(clear_requests))
        .route("/_fake/requests/counts", get(counts))
        .route(
            "/_fake/faults",
            get(list_faults).post(add_faults).delete(clear_faults),
        )
        .route("/_fake/config", put(configure))
        .route("/_fake/accounts", get(accounts::list).put(accounts::update))
        .route("/_fake/health", get(|| async { "ok" }))
}

async fn requests(State(state): State<FakeState>) -> Response {
    axum::Json(state.log().snapshot().await).into_response()
}

async fn counts(State(state): State<FakeState>) -> Response {
    let mut counts = std::collections::BTreeMap::<String, u64>::new();
    for r in state.log().snapshot().await {
        *counts.entry(r.path).or_default() += 1;
    }
    axum::Json(counts).into_response()
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

/// Whether a Medium step factor is one the fake takes: a number from 0 to 10.
pub fn valid_medium_step_factor(factor: f64) -> bool {
    (0.0..=10.0).contains(&factor)
}

/// The longest stream step the fake takes (a minute: 50 steps of it is already longer
/// than any client waits).
pub const MAX_STEP_DELAY_MS: u64 = 60_000;

/// The message of a bad `PUT /_fake/config`.
pub const CONFIG_USAGE: &str = "expected {\"latency_ms\": N}, {\"step_delay_ms\": D} and/or {\"medium_step_factor\": F} (F from 0 to 10), {\"fault_rate\": R} (R from 0 to 1), {\"fault_kinds\": [K, ...]} (at least one fault kind), {\"fault_seed\": S}, {\"noisy_tools\": true|false}";

async fn configure(State(state): State<FakeState>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(fields) = v.as_object().filter(|o| !o.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, CONFIG_USAGE);
    };
    let latency = fields.get("latency_ms").map(Value::as_u64);
    let step_delay = fields
        .get("step_delay_ms")
        .map(|d| d.as_u64().filter(|d| *d <= MAX_STEP_DELAY_MS));
    let factor = fields
        .get("medium_step_factor")
        .map(|f| f.as_f64().filter(|f| valid_medium_step_factor(*f)));
    let rate = fields
        .get("fault_rate")
        .map(|r| r.as_f64().filter(|r| (0.0..=1.0).contains(r)));
    let kinds = fields.get("fault_kinds").map(|k| {
        let names = k.as_array()?;
        let kinds: Option<Vec<FaultKind>> = names
            .iter()
            .map(|n| n.as_str().and_then(FaultKind::from_name))
            .collect();
        kinds.filter(|k| !k.is_empty())
    });
    let seed = fields.get("fault_seed").map(Value::as_u64);
    let noisy = fields.get("noisy_tools").map(Value::as_bool);
    let known = [
        noisy.is_some(),
        latency.is_some(),
        step_delay.is_some(),
        factor.is_some(),
        rate.is_some(),
        kinds.is_some(),
        seed.is_some(),
    ]
    .into_iter()
    .filter(|k| *k)
    .count();
    let invalid = latency == Some(None)
        || step_delay == Some(None)
        || factor == Some(None)
        || rate == Some(None)
        || matches!(kinds, Some(None))
        || seed == Some(None)
        || noisy == Some(None);
    if known != fields.len() || invalid {
        return error(StatusCode::BAD_REQUEST, CONFIG_USAGE);
    }
    let mut set = Map::new();
    if let Some(Some(ms)) = latency {
        state.set_latency_ms(ms);
        set.insert("latency_ms".into(), ms.into());
    }
    if let Some(Some(ms)) = step_delay {
        state.set_step_delay_ms(ms);
        set.insert("step_delay_ms".into(), ms.into());
    }
    if let Some(Some(f)) = factor {
        state.set_medium_step_factor(f);
        set.insert("medium_step_factor".into(), f.into());
    }
    if let Some(Some(n)) = noisy {
        state.set_noisy_tools(n);
        set.insert("noisy_tools".into(), n.into());
    }
    let (rate, kinds, seed) = (rate.flatten(), kinds.flatten(), seed.flatten());
    if let Some(r) = rate {
        set.insert("fault_rate".into(), r.into());
    }
    if let Some(k) = &kinds {
        let names: Vec<Value> = k.iter().map(|k| k.name().into()).collect();
        set.insert("fault_kinds".into(), names.into());
    }
    if let Some(s) = seed {
        set.insert("fault_seed".into(), s.into());
    }
    state.random_faults().configure(rate, kinds, seed);
    axum::Json(Value::Object(set)).into_response()
}

//! The account routes beside `/user/subscription`, on the image host as NovelAI serves
//! them since 2026:
//!
//! - `GET /user/priority`: `{maxPriorityActions, nextRefillAt, taskPriority}`;
//! - `GET /user/information`: `{emailVerified, emailVerificationLetterSent, banStatus,
//!   banMessage, trialActivated, trialActionsLeft, trialImagesLeft, accountCreatedAt}`;
//! - `GET /user/data`: all of it at once, `{priority, subscription, keystore, settings,
//!   information}`, `subscription` as `GET /user/subscription` answers it.
//!
//! 401 without a valid token. NovelAI's documented field names; the values are the fake's
//! minimal choice (no keystore, empty client settings, a verified email, no trial, no
//! ban, priority refilled a day from now in unix milliseconds).

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::accounts::Plan;
use crate::answer::{bearer, unauthorized};
use crate::server::FakeState;
use crate::subscription::subscription_json;

pub const DATA_PATH: &str = "/user/data";
pub const PRIORITY_PATH: &str = "/user/priority";
pub const INFORMATION_PATH: &str = "/user/information";

/// `GET /user/priority` of a plan.
pub fn priority_json(plan: Plan, now_ms: i64) -> Value {
    let paid = plan.tier > 0;
    json!({
        "maxPriorityActions": if paid { 1000 } else { 0 },
        "nextRefillAt": now_ms + 24 * 3600 * 1000,
        "taskPriority": if paid { 10 } else { 1 },
    })
}

/// `GET /user/information`: every account was created when the fake started.
pub fn information_json(created_at: i64) -> Value {
    json!({
        "emailVerified": true,
        "emailVerificationLetterSent": true,
        "banStatus": "none",
        "banMessage": null,
        "trialActivated": false,
        "trialActionsLeft": 0,
        "trialImagesLeft": 0,
        "accountCreatedAt": created_at,
    })
}

/// Which of the routes.
#[derive(Clone, Copy)]
enum Part {
    Data,
    Priority,
    Information,
}

async fn answer(state: &FakeState, headers: &HeaderMap, part: Part) -> Response {
    let path = match part {
        Part::Data => DATA_PATH,
        Part::Priority => PRIORITY_PATH,
        Part::Information => INFORMATION_PATH,
    };
    let entry = state.log().start("GET", path, Value::Null).await;
    let response = match bearer(headers).and_then(|t| state.accounts().by_token(t)) {
        None => unauthorized(),
        Some(account) => {
            let plan = state.accounts().plan(account);
            let now_ms = chrono::Utc::now().timestamp_millis();
            let created_at = state.started_at();
            let body = match part {
                Part::Priority => priority_json(plan, now_ms),
                Part::Information => information_json(created_at),
                Part::Data => json!({
                    "priority": priority_json(plan, now_ms),
                    "subscription": subscription_json(plan, state.expires_at()),
                    "keystore": {"keystore": null, "changeIndex": 0},
                    "settings": "{}",
                    "information": information_json(created_at),
                }),
            };
            axum::Json(body).into_response()
        }
    };
    state.log().finish(entry, response.status().as_u16()).await;
    response
}

pub async fn data(State(state): State<FakeState>, headers: HeaderMap) -> Response {
    answer(&state, &headers, Part::Data).await
}

pub async fn priority(State(state): State<FakeState>, headers: HeaderMap) -> Response {
    answer(&state, &headers, Part::Priority).await
}

pub async fn information(State(state): State<FakeState>, headers: HeaderMap) -> Response {
    answer(&state, &headers, Part::Information).await
}

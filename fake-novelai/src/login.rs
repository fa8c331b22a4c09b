//! `POST /user/login {"key": <access key>}`: 201 `{"accessToken"}` for the access key of a
//! configured account (see [`crate::access_key`]), 401 "Incorrect access key." for any
//! other key, 400 for a body without a string `key`. Other fields (`email`, `recaptcha`)
//! are ignored, as NovelAI ignores them. The key is never logged.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::answer::error;
use crate::request_log::redacted_body;
use crate::server::FakeState;

pub const PATH: &str = "/user/login";

pub async fn handler(State(state): State<FakeState>, body: Bytes) -> Response {
    let entry = state.log().start("POST", PATH, redacted_body(&body)).await;
    let key = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("key")?.as_str().map(str::to_string));
    let response = match key {
        None => error(
            StatusCode::BAD_REQUEST,
            "A validation error occurred. key must be a string",
        ),
        Some(key) => match state.accounts().login(&key) {
            None => error(StatusCode::UNAUTHORIZED, "Incorrect access key."),
            Some(token) => (
                StatusCode::CREATED,
                axum::Json(json!({"accessToken": token})),
            )
                .into_response(),
        },
    };
    state.log().finish(entry, response.status().as_u16()).await;
    response
}

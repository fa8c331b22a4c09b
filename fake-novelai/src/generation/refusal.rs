//! How NovelAI refuses a generation body: 400 for what its validation catches, 500 for
//! what gets past it and breaks the generation.

use axum::http::StatusCode;
use axum::response::Response;

use crate::answer::error;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// 400 `"A validation error occurred. <detail>"`.
    Invalid(String),
    /// 400 `"Validation error: model <id> doesn't exist"` (NovelAI's own wording).
    NoSuchModel(String),
    /// 500 "Internal Server Error": NovelAI's answer to a V4+ body without a usable
    /// `v4_prompt`, to `sm: true` on V4+, and to malformed character captions (an empty
    /// `centers`, uneven `char_captions`). The detail is for the fake's tests only.
    Broken(String),
}

impl Refusal {
    pub fn invalid(detail: impl Into<String>) -> Self {
        Refusal::Invalid(detail.into())
    }

    pub fn broken(detail: impl Into<String>) -> Self {
        Refusal::Broken(detail.into())
    }

    pub fn response(&self) -> Response {
        match self {
            Refusal::Invalid(detail) => error(
                StatusCode::BAD_REQUEST,
                &format!("A validation error occurred. {detail}"),
            ),
            Refusal::NoSuchModel(id) => error(
                StatusCode::BAD_REQUEST,
                &format!("Validation error: model {id} doesn't exist"),
            ),
            Refusal::Broken(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
        }
    }
}

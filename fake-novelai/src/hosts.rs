//! NovelAI's two hosts. Since 2024 everything an image client needs is served on the
//! image host (`image.novelai.net`), which is what the fake is: every route answers
//! whatever the `Host` header says, with one exception that mimics the move.
//!
//! The old api host (`api.novelai.net`) answers `GET /user/subscription` and
//! `GET /user/data` with 400 [`MOVED_MESSAGE`] (NovelAI's live answer, 2026). A request to
//! the fake whose `Host` header starts with `api.novelai.net` gets that answer for those
//! two paths, so a client still pointed at the api host for them finds out here.

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

use crate::answer::error;
use crate::server::FakeState;

/// The old api host, as a `Host` header starts.
pub const API_HOST: &str = "api.novelai.net";

/// The paths the api host refuses since they moved to the image host.
pub const MOVED_PATHS: &[&str] = &["/user/subscription", "/user/data"];

/// The api host's answer to them.
pub const MOVED_MESSAGE: &str =
    "Please refresh NovelAI.net. If using a third-party tool, update to the image URL.";

/// Whether a `Host` header names the api host (any case, any port).
pub fn is_api_host(host: &str) -> bool {
    host.get(..API_HOST.len())
        .is_some_and(|h| h.eq_ignore_ascii_case(API_HOST))
}

/// Middleware: the api host's 400 for the moved paths (logged like any NovelAI call),
/// everything else passed on.
pub async fn refuse_moved(
    State(state): State<FakeState>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let path = request.uri().path();
    if is_api_host(host) && MOVED_PATHS.contains(&path) {
        let (method, path) = (request.method().to_string(), path.to_string());
        let status = StatusCode::BAD_REQUEST;
        state
            .log()
            .record(&method, &path, Value::Null, status.as_u16())
            .await;
        return error(status, MOVED_MESSAGE);
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_host_is_told_by_its_prefix() {
        for api in [
            "api.novelai.net",
            "API.NovelAI.net:443",
            "api.novelai.net:8089",
        ] {
            assert!(is_api_host(api), "{api}");
        }
        for other in [
            "image.novelai.net",
            "127.0.0.1:8089",
            "api.novelai",
            "",
            "ápi",
        ] {
            assert!(!is_api_host(other), "{other}");
        }
    }
}

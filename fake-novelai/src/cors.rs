//! NovelAI's CORS headers: every answer (errors too) carries
//! `Access-Control-Allow-Origin: *`, `Access-Control-Allow-Headers: Authorization,
//! Content-Type` and `Access-Control-Allow-Methods` naming the request's method (POST on
//! POST routes, GET on GET routes), as NovelAI's live answers do.
//!
//! A preflight (`OPTIONS` with `Access-Control-Request-Method`) is answered 204 with the
//! same headers, the requested method, and the website's two extra headers
//! (`x-correlation-id`, `x-initiated-at`) allowed too: the fake's own choice, since
//! NovelAI's preflight answer was not captured but the website sends those headers. The
//! extra headers are accepted and ignored on every route.

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// `Access-Control-Allow-Headers` on answers.
pub const ALLOW_HEADERS: &str = "Authorization, Content-Type";
/// `Access-Control-Allow-Headers` on a preflight.
pub const PREFLIGHT_ALLOW_HEADERS: &str =
    "Authorization, Content-Type, x-correlation-id, x-initiated-at";

fn add(headers: &mut HeaderMap, allow_headers: &'static str, method: &str) {
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(allow_headers),
    );
    if let Ok(method) = HeaderValue::from_str(method) {
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, method);
    }
}

/// Middleware: answers preflights, adds the CORS headers to everything else.
pub async fn cors(request: Request, next: Next) -> Response {
    let requested = request
        .headers()
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|m| m.to_str().ok())
        .map(str::to_string);
    if request.method() == Method::OPTIONS
        && let Some(method) = requested
    {
        let mut response = StatusCode::NO_CONTENT.into_response();
        add(response.headers_mut(), PREFLIGHT_ALLOW_HEADERS, &method);
        return response;
    }
    let method = request.method().to_string();
    let mut response = next.run(request).await;
    add(response.headers_mut(), ALLOW_HEADERS, &method);
    response
}

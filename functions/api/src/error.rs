//! The one place where errors become HTTP: the status of each use-case error, and the JSON
//! body every error answers with (`{"success": false, "code", "message", "field", "error"}`).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use naiq_core::api::ApiError;
use serde::Serialize;

/// Everything a request can fail with: a use case's error, or one of HTTP's own.
#[derive(Debug)]
pub enum HttpError {
    Api(ApiError),
    /// The body is larger than the configured limit (bytes).
    TooLarge(usize),
    /// No route has this path.
    NoRoute(String),
    /// The route exists, but not for this method; `allow` lists the methods it takes.
    MethodNotAllowed {
        allow: &'static str,
    },
}

impl From<ApiError> for HttpError {
    fn from(e: ApiError) -> Self {
        HttpError::Api(e)
    }
}

/// The JSON error body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// Always false.
    pub success: bool,
    /// The stable machine code (`invalid_parameter`, `missing_parameter`, `malformed_json`,
    /// `too_large`, `unauthorized`, `priority_not_allowed`, `test_requests_not_allowed`,
    /// `test_requests_disabled`, `not_found`, `method_not_allowed`,
    /// `conflict`, `idempotency_key_reused`, `idempotency_in_progress`, `internal_error`,
    /// `unavailable`, `model_not_allowed`, `area_not_allowed`, `n_samples_not_allowed`, and
    /// with 429 `queue_full`, `waiting_limit`, `jobs_per_day`, `anlas_per_day`).
    pub code: &'a str,
    pub message: String,
    /// The request field at fault (`characters[1].prompt`, `Idempotency-Key`), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
    /// With 429: the limit that refused (`queue`, `waiting`, `jobs-daily`, `anlas-daily`,
    /// the policy the `RateLimit` header names) and its quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota: Option<u64>,
    /// The seed service's error field (the same text as `message`).
    pub error: String,
}

/// The HTTP status of a use case's error.
fn status_of(e: &ApiError) -> StatusCode {
    match e {
        ApiError::Invalid(v) if v.code == "too_large" => StatusCode::PAYLOAD_TOO_LARGE,
        ApiError::Invalid(_) => StatusCode::BAD_REQUEST,
        ApiError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden { .. } => StatusCode::FORBIDDEN,
        ApiError::NotFound(_) => StatusCode::NOT_FOUND,
        ApiError::Conflict(_) | ApiError::IdempotencyInProgress => StatusCode::CONFLICT,
        ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let (status, code, field, message) = match &self {
            HttpError::Api(e) => (status_of(e), e.code(), e.field(), e.to_string()),
            HttpError::TooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                Some("body"),
                format!("request body is larger than {limit} bytes"),
            ),
            HttpError::NoRoute(path) => (
                StatusCode::NOT_FOUND,
                "not_found",
                None,
                format!("no route {path}"),
            ),
            HttpError::MethodNotAllowed { .. } => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                None,
                "method not allowed on this route".to_string(),
            ),
        };
        match &self {
            HttpError::Api(ApiError::Internal(e)) => tracing::error!(error = %e, "request failed"),
            _ => tracing::info!(status = status.as_u16(), code, "request rejected"),
        }
        let hit = match &self {
            HttpError::Api(ApiError::TooManyRequests(hit)) => Some(hit.as_ref()),
            _ => None,
        };
        let body = ErrorBody {
            success: false,
            code,
            error: message.clone(),
            message,
            field,
            limit: hit.map(|h| h.policy),
            quota: hit.map(|h| h.quota),
        };
        let mut response = (status, Json(body)).into_response();
        let headers = response.headers_mut();
        if let HttpError::MethodNotAllowed { allow } = self {
            headers.insert(header::ALLOW, HeaderValue::from_static(allow));
        }
        // When to try again: soon for a busy backend or a key still being handled.
        let retry_after = match status {
            StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => Some("5"),
            StatusCode::CONFLICT if code == "idempotency_in_progress" => Some("1"),
            _ => None,
        };
        if let Some(hit) = hit {
            // A limit says when it frees up, in the RateLimit fields and in Retry-After.
            for (name, value) in [
                ("ratelimit-policy", hit.policy_field()),
                ("ratelimit", hit.ratelimit_field()),
            ] {
                if let Ok(v) = HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            }
            headers.insert(header::RETRY_AFTER, HeaderValue::from(hit.retry_after()));
        } else if let Some(seconds) = retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        response
    }
}

//! The handlers: each parses its input, calls a use case and answers JSON. Each carries its
//! OpenAPI operation (`utoipa::path`): the success answer and its headers here, the error
//! answers each route can give in `openapi`'s table.

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, http};
use naiq_core::api::{
    ApiError, ApiService, CancelResponse, Idempotent, QueueStatusResponse, RateLimitStatusResponse,
    StatusResponse, SubmitRoute, Submitted, TaskList, TaskQuery, UsageResponse,
};
use naiq_core::domain::ValidationError;
use serde::Serialize;

use crate::caller::Caller;
use crate::error::HttpError;
use crate::openapi::{AugmentBody, GenerateBody, TasksQuery, UpscaleBody};
use crate::routes::Body;

type Service = Arc<ApiService>;

/// A task id from the path; one that cannot be read is a task that does not exist.
fn task_id(path: Result<Path<String>, PathRejection>) -> String {
    path.map(|Path(id)| id).unwrap_or_default()
}

fn ok<T: Serialize>(value: T) -> Response {
    Json(value).into_response()
}

/// `GET /health`'s answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
    #[schema(example = "naiq")]
    pub service: &'static str,
    pub version: &'static str,
}

/// Liveness; needs no key.
#[utoipa::path(get, path = "/health", operation_id = "health", security(()),
    responses((status = 200, description = "The function is up", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health {
        status: "ok",
        service: "naiq",
        version: naiq_core::VERSION,
    })
}

/// `Idempotency-Key`: a retried submit with the same key answers the first answer.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Submits a job (or, with `dry_run`, answers what would be sent and its cost).
#[utoipa::path(post, path = "/generate", operation_id = "generate",
    request_body = GenerateBody,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255,
        pattern = r"^[\x20-\x7E]+$",
        description = "Makes a retry safe: the same key with the same body answers the first \
            answer again (scoped to the API key, kept 24 hours)")),
    responses((status = 200, description = "Queued (or a dry run's answer)", body = Submitted,
        headers(("Idempotent-Replayed" = String,
            description = "`true` when this is the first answer to this Idempotency-Key again")))))]
pub async fn generate(
    State(service): State<Service>,
    Caller(caller): Caller,
    headers: http::HeaderMap,
    Body(body): Body,
) -> Result<Response, HttpError> {
    submit(&service, SubmitRoute::Generate, &caller, &headers, &body).await
}

/// Queues one of NovelAI's Director tools on an image: a task like a generation's, in the
/// same queue, answered as `POST /generate` answers.
#[utoipa::path(post, path = "/augment", operation_id = "augment",
    request_body = AugmentBody,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255,
        pattern = r"^[\x20-\x7E]+$",
        description = "Makes a retry safe, as for `POST /generate`")),
    responses((status = 200, description = "Queued", body = Submitted,
        headers(("Idempotent-Replayed" = String,
            description = "`true` when this is the first answer to this Idempotency-Key again")))))]
pub async fn augment(
    State(service): State<Service>,
    Caller(caller): Caller,
    headers: http::HeaderMap,
    Body(body): Body,
) -> Result<Response, HttpError> {
    submit(&service, SubmitRoute::Augment, &caller, &headers, &body).await
}

/// Queues a 2x upscale of an image: a task like a generation's, in the same queue,
/// answered as `POST /generate` answers.
#[utoipa::path(post, path = "/upscale", operation_id = "upscale",
    request_body = UpscaleBody,
    params(("Idempotency-Key" = String, Header, min_length = 1, max_length = 255,
        pattern = r"^[\x20-\x7E]+$",
        description = "Makes a retry safe, as for `POST /generate`")),
    responses((status = 200, description = "Queued", body = Submitted,
        headers(("Idempotent-Replayed" = String,
            description = "`true` when this is the first answer to this Idempotency-Key again")))))]
pub async fn upscale(
    State(service): State<Service>,
    Caller(caller): Caller,
    headers: http::HeaderMap,
    Body(body): Body,
) -> Result<Response, HttpError> {
    submit(&service, SubmitRoute::Upscale, &caller, &headers, &body).await
}

/// A submit of any route, with its `Idempotency-Key`.
async fn submit(
    service: &ApiService,
    route: SubmitRoute,
    caller: &naiq_core::domain::ApiKeyRecord,
    headers: &http::HeaderMap,
    body: &[u8],
) -> Result<Response, HttpError> {
    let key = match headers.get(IDEMPOTENCY_KEY).map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => {
            return Err(HttpError::Api(ApiError::Invalid(ValidationError::invalid(
                "Idempotency-Key",
                "Idempotency-Key must be printable ASCII",
            ))));
        }
    };
    Ok(
        match service
            .submit_idempotent_to(route, caller, body, key)
            .await?
        {
            Idempotent::Fresh(answer) => ok(answer),
            Idempotent::Replayed(first) => {
                let mut response = ok(first);
                response
                    .headers_mut()
                    .insert("idempotent-replayed", HeaderValue::from_static("true"));
                response
            }
        },
    )
}

/// A task's status, its result and what it was generated with.
#[utoipa::path(get, path = "/task_status/{task_id}", operation_id = "task_status",
    params(("task_id" = String, Path, description = "The id `POST /generate` answered")),
    responses((status = 200, description = "The task", body = StatusResponse,
        headers(("Retry-After" = u64,
            description = "For an unfinished task: seconds until polling can show a change")))))]
pub async fn task_status(
    State(service): State<Service>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, HttpError> {
    let status = service.task_status(&caller, &task_id(path)).await?;
    let poll_after = status.poll_after_seconds;
    let mut response = ok(status);
    if let Some(seconds) = poll_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
    }
    Ok(response)
}

/// Cancels a job that has not been sent to NovelAI yet.
#[utoipa::path(post, path = "/cancel_task/{task_id}", operation_id = "cancel_task",
    params(("task_id" = String, Path, description = "The id `POST /generate` answered")),
    responses((status = 200, description = "Cancelled (now REVOKED)", body = CancelResponse)))]
pub async fn cancel_task(
    State(service): State<Service>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, HttpError> {
    Ok(ok(service.cancel(&caller, &task_id(path)).await?))
}

/// The caller's own waiting tasks and their positions.
#[utoipa::path(get, path = "/queue_status", operation_id = "queue_status",
    responses((status = 200, description = "The caller's queue", body = QueueStatusResponse)))]
pub async fn queue_status(
    State(service): State<Service>,
    Caller(caller): Caller,
) -> Result<Response, HttpError> {
    Ok(ok(service.queue_status(&caller).await?))
}

/// The caller's own tasks, newest first, a page at a time.
#[utoipa::path(get, path = "/tasks", operation_id = "tasks", params(TasksQuery),
    responses((status = 200, description = "A page of tasks", body = TaskList)))]
pub async fn tasks(
    State(service): State<Service>,
    Caller(caller): Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, HttpError> {
    let Ok(Query(mut q)) = query else {
        return Err(HttpError::Api(ApiError::Invalid(
            ValidationError::malformed("the query string could not be read"),
        )));
    };
    let query = TaskQuery {
        status: q.remove("status"),
        limit: q.remove("limit"),
        cursor: q.remove("cursor"),
        include_urls: q.remove("include_urls"),
    };
    Ok(ok(service.list_tasks(&caller, &query).await?))
}

/// The day's quota, the windows and the pacing.
#[utoipa::path(get, path = "/rate_limit_status", operation_id = "rate_limit_status",
    responses((status = 200, description = "The pacing state", body = RateLimitStatusResponse)))]
pub async fn rate_limit_status(
    State(service): State<Service>,
    Caller(_): Caller,
) -> Result<Response, HttpError> {
    Ok(ok(RateLimitStatusResponse {
        success: true,
        rate_limit_info: service.rate_limit_status().await?,
    }))
}

/// The caller's own spend today in the Anlas ledger, its held amounts, and its limits.
#[utoipa::path(get, path = "/usage", operation_id = "usage",
    responses((status = 200, description = "The caller's usage and limits", body = UsageResponse)))]
pub async fn usage(
    State(service): State<Service>,
    Caller(caller): Caller,
) -> Result<Response, HttpError> {
    Ok(ok(service.usage(&caller).await?))
}

//! The router: one route per operation, each handler parsing its input, calling a use case
//! and answering JSON. Unknown paths and methods answer JSON too (404; 405 with `Allow`),
//! and the body limit is a layer, checked before a handler reads the body.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use std::collections::HashMap;

use axum::extract::Query;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::map_response;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any, get, post};
use axum::{Json, http};
use lambda_http::RequestExt;
use naiq_core::api::{ApiService, Idempotent, TaskQuery};
use serde_json::{Value, json};
use tower::util::MapRequest;

use crate::caller::Caller;
use crate::error::HttpError;

type Service = Arc<ApiService>;

/// The API as one service: paths normalised, then routed.
pub type App = MapRequest<Router, fn(lambda_http::Request) -> lambda_http::Request>;

/// The API over the service: the router behind the path normalisation (which must run
/// before routing, so it wraps the router rather than being one of its layers).
pub fn app(service: Service) -> App {
    MapRequest::new(
        router(service),
        route_path::<lambda_http::Body> as fn(lambda_http::Request) -> lambda_http::Request,
    )
}

/// The API's router over the service.
fn router(service: Service) -> Router {
    let limit = service.settings().max_body_bytes;
    Router::new()
        .route("/health", any(health))
        .route("/generate", only("POST", post(generate)))
        .route("/task_status/{task_id}", only("GET", get(task_status)))
        .route("/cancel_task/{task_id}", only("POST", post(cancel_task)))
        .route("/queue_status", only("GET", get(queue_status)))
        .route("/rate_limit_status", only("GET", get(rate_limit_status)))
        .route("/tasks", only("GET", get(tasks)))
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(limit))
        .layer(map_response(no_store))
        .with_state(service)
}

/// A route that answers 405 with `Allow: <allow>` to any other method.
fn only(allow: &'static str, route: MethodRouter<Service>) -> MethodRouter<Service> {
    route.fallback(move || async move { HttpError::MethodNotAllowed { allow } })
}

async fn no_route(uri: Uri) -> HttpError {
    HttpError::NoRoute(uri.path().to_string())
}

/// Routes on the path API Gateway received (without a stage prefix), with empty segments
/// dropped, so `/task_status/<id>/` finds its route as before.
fn route_path<B>(mut req: http::Request<B>) -> http::Request<B> {
    let raw = match req.raw_http_path() {
        "" => req.uri().path().to_string(),
        raw => raw.to_string(),
    };
    let segments: Vec<&str> = raw.split('/').filter(|s| !s.is_empty()).collect();
    let path = format!("/{}", segments.join("/"));
    if path != req.uri().path() {
        let mut parts = req.uri().clone().into_parts();
        let query = req
            .uri()
            .query()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        parts.path_and_query = format!("{path}{query}").parse().ok();
        if let Ok(uri) = Uri::from_parts(parts) {
            *req.uri_mut() = uri;
        }
    }
    req
}

/// No answer of the API may be cached: statuses change, URLs expire.
async fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The request body, bounded by the layer's limit; too large is a JSON 413.
struct Body(Bytes);

impl FromRequest<Service> for Body {
    type Rejection = HttpError;

    async fn from_request(req: Request, service: &Service) -> Result<Self, HttpError> {
        match Bytes::from_request(req, service).await {
            Ok(bytes) => Ok(Body(bytes)),
            Err(e) if e.status() == http::StatusCode::PAYLOAD_TOO_LARGE => {
                Err(HttpError::TooLarge(service.settings().max_body_bytes))
            }
            Err(e) => Err(HttpError::Api(naiq_core::api::ApiError::Invalid(
                naiq_core::domain::ValidationError::malformed(format!(
                    "the request body could not be read: {e}"
                )),
            ))),
        }
    }
}

/// A task id from the path; one that cannot be read is a task that does not exist.
fn task_id(path: Result<Path<String>, PathRejection>) -> String {
    path.map(|Path(id)| id).unwrap_or_default()
}

fn ok<T: serde::Serialize>(value: T) -> Response {
    Json(value).into_response()
}

async fn health() -> Json<Value> {
    Json(json!({"status": "ok", "service": "naiq", "version": naiq_core::VERSION}))
}

/// `Idempotency-Key`: a retried submit with the same key answers the first answer.
const IDEMPOTENCY_KEY: &str = "idempotency-key";

async fn generate(
    State(service): State<Service>,
    Caller(caller): Caller,
    headers: http::HeaderMap,
    Body(body): Body,
) -> Result<Response, HttpError> {
    let key = match headers.get(IDEMPOTENCY_KEY).map(|v| v.to_str()) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(_)) => {
            return Err(HttpError::Api(naiq_core::api::ApiError::Invalid(
                naiq_core::domain::ValidationError::invalid(
                    "Idempotency-Key",
                    "Idempotency-Key must be printable ASCII",
                ),
            )));
        }
    };
    Ok(
        match service.submit_idempotent(&caller, &body, key).await? {
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

async fn task_status(
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

async fn cancel_task(
    State(service): State<Service>,
    Caller(caller): Caller,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, HttpError> {
    Ok(ok(service.cancel(&caller, &task_id(path)).await?))
}

async fn queue_status(
    State(service): State<Service>,
    Caller(caller): Caller,
) -> Result<Response, HttpError> {
    Ok(ok(service.queue_status(&caller).await?))
}

async fn tasks(
    State(service): State<Service>,
    Caller(caller): Caller,
    query: Result<Query<HashMap<String, String>>, QueryRejection>,
) -> Result<Response, HttpError> {
    let Ok(Query(mut q)) = query else {
        return Err(HttpError::Api(naiq_core::api::ApiError::Invalid(
            naiq_core::domain::ValidationError::malformed("the query string could not be read"),
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

async fn rate_limit_status(
    State(service): State<Service>,
    Caller(_): Caller,
) -> Result<Response, HttpError> {
    Ok(ok(json!({
        "success": true,
        "rate_limit_info": service.rate_limit_status().await?,
    })))
}

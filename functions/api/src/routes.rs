//! The router: one route per operation (the handlers are in `handlers`, the OpenAPI
//! document in `openapi`). Unknown paths and methods answer JSON too (404; 405 with `Allow`),
//! and the body limit is a layer, checked before a handler reads the body.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Request};
use axum::http;
use axum::http::{HeaderValue, Uri, header};
use axum::middleware::map_response;
use axum::response::Response;
use axum::routing::{MethodRouter, any, get, post};
use lambda_http::RequestExt;
use naiq_core::api::ApiService;
use tower::util::MapRequest;

use crate::error::HttpError;
use crate::handlers::*;
use crate::openapi::openapi_json;

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
pub(crate) fn router(service: Service) -> Router {
    let limit = service.settings().max_body_bytes;
    ROUTES
        .iter()
        .fold(Router::new(), |router, (method, path)| {
            router.route(path, handler(method, path))
        })
        .fallback(no_route)
        .layer(DefaultBodyLimit::max(limit))
        .layer(map_response(no_store))
        .with_state(service)
}

/// Every route, as (method, path): the router is built from this list, and a test holds
/// it, `template.yaml` and the OpenAPI document to the same routes.
pub const ROUTES: &[(&str, &str)] = &[
    ("POST", "/generate"),
    ("POST", "/augment"),
    ("POST", "/upscale"),
    ("GET", "/task_status/{task_id}"),
    ("POST", "/cancel_task/{task_id}"),
    ("GET", "/queue_status"),
    ("GET", "/rate_limit_status"),
    ("GET", "/tasks"),
    ("GET", "/usage"),
    ("GET", "/health"),
    ("GET", "/openapi.json"),
];

/// The handler of a route of [`ROUTES`], answering 405 to other methods.
fn handler(method: &'static str, path: &str) -> MethodRouter<Service> {
    let route = match (method, path) {
        ("POST", "/generate") => post(generate),
        ("POST", "/augment") => post(augment),
        ("POST", "/upscale") => post(upscale),
        ("GET", "/task_status/{task_id}") => get(task_status),
        ("POST", "/cancel_task/{task_id}") => post(cancel_task),
        ("GET", "/queue_status") => get(queue_status),
        ("GET", "/rate_limit_status") => get(rate_limit_status),
        ("GET", "/tasks") => get(tasks),
        ("GET", "/usage") => get(usage),
        // Liveness answers any method, as before.
        ("GET", "/health") => return any(health),
        ("GET", "/openapi.json") => get(openapi_json),
        _ => unreachable!("no handler for {method} {path}"),
    };
    only(method, route)
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
pub struct Body(pub Bytes);

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

//! Routing, and the mapping of results and errors to HTTP responses (the one place).

use lambda_http::http::{Method, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use naiq::app::{ApiError, ApiService};
use serde_json::{Value, json};

fn json_response(status: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::Text(body.to_string()))
        .expect("static response parts are valid")
}

/// Answers one request; every outcome, error or not, is a JSON response.
pub async fn handle(
    service: &ApiService,
    req: Request,
) -> Result<Response<Body>, std::convert::Infallible> {
    Ok(match dispatch(service, &req).await {
        Ok(body) => json_response(200, &body),
        Err(err) => {
            match &err {
                ApiError::Internal(e) => tracing::error!(error = %e, "request failed"),
                other => {
                    tracing::info!(status = other.status(), error = %other, "request rejected")
                }
            }
            json_response(
                err.status(),
                &serde_json::to_value(err.body()).expect("error body"),
            )
        }
    })
}

async fn dispatch(service: &ApiService, req: &Request) -> Result<Value, ApiError> {
    let path = req.raw_http_path();
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method();
    if segs == ["health"] {
        return Ok(json!({"status": "ok", "service": "naiq", "version": naiq::VERSION}));
    }
    let allowed = match segs.as_slice() {
        ["generate"] => Method::POST,
        ["task_status", _] => Method::GET,
        _ => return Err(ApiError::NotFound(format!("no route {path}"))),
    };
    if method != allowed {
        return Err(ApiError::MethodNotAllowed(
            "method not allowed on this route",
        ));
    }
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = service.authenticate(authorization).await?;
    let value = match segs.as_slice() {
        ["generate"] => serde_json::to_value(service.submit(&caller, req.body().as_ref()).await?),
        ["task_status", id] => serde_json::to_value(service.task_status(&caller, id).await?),
        _ => unreachable!("routes matched above"),
    };
    Ok(value.expect("responses serialise"))
}

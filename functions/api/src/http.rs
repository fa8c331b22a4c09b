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
    let path = match req.raw_http_path() {
        "" => req.uri().path(),
        raw => raw,
    };
    let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method();
    if segs == ["health"] {
        return Ok(json!({"status": "ok", "service": "naiq", "version": naiq::VERSION}));
    }
    let allowed = match segs.as_slice() {
        ["generate"] | ["cancel_task", _] => Method::POST,
        ["task_status", _] | ["queue_status"] | ["rate_limit_status"] => Method::GET,
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
        ["cancel_task", id] => serde_json::to_value(service.cancel(&caller, id).await?),
        ["queue_status"] => serde_json::to_value(service.queue_status(&caller).await?),
        ["rate_limit_status"] => serde_json::to_value(json!({
            "success": true,
            "rate_limit_info": service.rate_limit_status().await?,
        })),
        _ => unreachable!("routes matched above"),
    };
    Ok(value.expect("responses serialise"))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use lambda_http::http::Request as HttpRequest;
    use naiq::adapters::memory::*;
    use naiq::app::api::ApiPorts;
    use naiq::config::Settings;
    use naiq::domain::{ApiKey, ApiKeyRecord, SystemClock};
    use naiq::ports::KeyStore;
    use serde_json::Value;

    use super::*;

    /// The key in the sample events (`events/*.json`).
    const EVENT_KEY: &str = "naiq_example-key-for-the-sample-events-only-0000";

    struct Harness {
        service: ApiService,
        queue: Arc<MemoryQueue>,
    }

    async fn harness() -> Harness {
        let keys = Arc::new(MemoryKeyStore::default());
        for key in [EVENT_KEY, "naiq_other"] {
            let key = ApiKey::from_client(key);
            keys.insert(&ApiKeyRecord::new(&key, "test", chrono::Utc::now()))
                .await
                .unwrap();
        }
        let queue = Arc::new(MemoryQueue::default());
        let service = ApiService::new(
            ApiPorts {
                jobs: Arc::new(MemoryJobStore::default()),
                queue: queue.clone(),
                images: Arc::new(MemoryImageStore::default()),
                keys,
                state: Arc::new(MemoryStateStore::default()),
                nudge: Arc::new(MemoryNudge::default()),
            },
            Arc::new(SystemClock),
            1,
            Settings::default(),
        );
        Harness { service, queue }
    }

    fn event(name: &str) -> Request {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    async fn call(h: &Harness, req: Request) -> (u16, Value) {
        let resp = handle(&h.service, req).await.unwrap();
        let status = resp.status().as_u16();
        assert_eq!(resp.headers()[header::CONTENT_TYPE], "application/json");
        let body: Value = match resp.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("not a text body: {other:?}"),
        };
        (status, body)
    }

    fn request(method: &str, path: &str, key: Option<&str>, body: &str) -> Request {
        let mut b = HttpRequest::builder()
            .method(method)
            .uri(format!("https://api.example{path}"));
        if let Some(k) = key {
            b = b.header("authorization", format!("Bearer {k}"));
        }
        b.body(Body::Text(body.to_string())).unwrap()
    }

    #[tokio::test]
    async fn the_sample_events_work() {
        let h = harness().await;
        let (status, body) = call(&h, event("health.json")).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
        let (status, body) = call(&h, event("generate.json")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["success"], true);
        assert_eq!(body["queue_info"]["position"], 1);
        let (status, body) = call(&h, event("task_status.json")).await;
        assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
        let id = {
            let (_, b) = call(&h, event("generate.json")).await;
            b["task_id"].as_str().unwrap().to_string()
        };
        let (status, body) = call(
            &h,
            request("GET", &format!("/task_status/{id}"), Some(EVENT_KEY), ""),
        )
        .await;
        assert_eq!(status, 200);
        for field in [
            "task_id",
            "status",
            "done",
            "success",
            "image_url",
            "image_urls",
            "queue_info",
            "error",
            "created_at",
            "started_at",
            "finished_at",
        ] {
            assert!(
                body.get(field).is_some(),
                "task_status lacks {field}: {body}"
            );
        }
        assert_eq!(body["status"], "PENDING");
        assert_eq!(body["queue_info"]["position"], 2);
    }

    #[tokio::test]
    async fn errors_are_json_with_a_code_and_the_field() {
        let h = harness().await;
        let k = Some(EVENT_KEY);
        let big = format!("{{\"prompt\": \"{}\"}}", "x".repeat(6 * 1024 * 1024));
        let cases: Vec<(Request, u16, &str, Option<&str>)> = vec![
            (
                request("POST", "/generate", k, r#"{"model": "nai-v3"}"#),
                400,
                "missing_parameter",
                Some("prompt"),
            ),
            (
                request(
                    "POST",
                    "/generate",
                    k,
                    r#"{"prompt": "x", "model": "sdxl"}"#,
                ),
                400,
                "invalid_parameter",
                Some("model"),
            ),
            (
                request("POST", "/generate", k, r#"{"prompt": "x", "steps": 0}"#),
                400,
                "invalid_parameter",
                Some("steps"),
            ),
            (
                request("POST", "/generate", k, r#"{"prompt": "x", "steps": 51}"#),
                400,
                "invalid_parameter",
                Some("steps"),
            ),
            (
                request(
                    "POST",
                    "/generate",
                    k,
                    r#"{"prompt": "x", "width": 800, "height": 1216}"#,
                ),
                400,
                "invalid_parameter",
                Some("width"),
            ),
            (
                request("POST", "/generate", k, r#"{"prompt": "x""#),
                400,
                "malformed_json",
                None,
            ),
            (
                request("POST", "/generate", k, &big),
                413,
                "too_large",
                Some("body"),
            ),
            (
                request("POST", "/generate", None, r#"{"prompt": "x"}"#),
                401,
                "unauthorized",
                None,
            ),
            (
                request(
                    "POST",
                    "/generate",
                    Some("naiq_wrong"),
                    r#"{"prompt": "x"}"#,
                ),
                401,
                "unauthorized",
                None,
            ),
            (
                request("GET", "/generate", k, ""),
                405,
                "method_not_allowed",
                None,
            ),
            (request("GET", "/nowhere", k, ""), 404, "not_found", None),
        ];
        for (req, status, code, field) in cases {
            let what = format!("{} {}", req.method(), req.uri().path());
            let (got, body) = call(&h, req).await;
            assert_eq!(got, status, "{what}: {body}");
            assert_eq!(body["code"], code, "{what}: {body}");
            assert_eq!(body["field"].as_str(), field, "{what}: {body}");
            assert_eq!(body["success"], false);
            assert!(!body["message"].as_str().unwrap().is_empty());
        }
        assert!(h.queue.is_empty(), "nothing was queued");
    }

    #[tokio::test]
    async fn another_keys_task_answers_404() {
        let h = harness().await;
        let (_, b) = call(
            &h,
            request("POST", "/generate", Some(EVENT_KEY), r#"{"prompt": "x"}"#),
        )
        .await;
        let path = format!("/task_status/{}", b["task_id"].as_str().unwrap());
        let (status, _) = call(&h, request("GET", &path, Some("naiq_other"), "")).await;
        assert_eq!(status, 404);
        let (status, _) = call(&h, request("GET", &path, Some(EVENT_KEY), "")).await;
        assert_eq!(status, 200);
    }
}

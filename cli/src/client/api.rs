//! The HTTP side of `naiq` as a client: a thin typed wrapper over the API's routes that
//! honours the server's hints (`Retry-After`, `poll_after_seconds`) and turns JSON error
//! bodies into errors that name the code and the field.

use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use reqwest::{Method, StatusCode};
use serde_json::Value;

/// How often a transient answer (429, 503, a dropped connection) is tried again before
/// the command gives up.
const MAX_TRANSIENT_TRIES: u32 = 6;
/// The longest wait a `Retry-After` may impose on one retry.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A naiq API error as the server reported it.
#[derive(Debug, thiserror::Error)]
#[error("{status}: {code}: {message}{}", field.as_deref().map(|f| format!(" (field {f})")).unwrap_or_default())]
pub struct ApiFailure {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub field: Option<String>,
}

/// One answer: the JSON body and the server's hint for when to ask again.
pub struct Answer {
    pub body: Value,
    pub retry_after: Option<Duration>,
}

pub struct ApiClient {
    base: String,
    key: String,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: &str, key: &str) -> Result<Self> {
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            anyhow::bail!("NAIQ_API_URL must be an http(s) URL, not {base:?}");
        }
        Ok(Self {
            base,
            key: key.to_string(),
            http: reqwest::Client::builder()
                .user_agent(concat!("naiq-cli/", env!("CARGO_PKG_VERSION")))
                .timeout(Duration::from_secs(60))
                .build()?,
        })
    }

    /// `POST /generate` with an `Idempotency-Key`, so a submit retried after a lost
    /// answer or a 429/503 is the same job, never a second one.
    pub async fn submit(&self, body: &Value, idempotency_key: &str) -> Result<Answer> {
        self.send(Method::POST, "/generate", Some(body), Some(idempotency_key))
            .await
    }

    pub async fn status(&self, task_id: &str) -> Result<Answer> {
        self.send(
            Method::GET,
            &format!("/task_status/{}", encode(task_id)),
            None,
            None,
        )
        .await
    }

    pub async fn cancel(&self, task_id: &str) -> Result<Answer> {
        self.send(
            Method::POST,
            &format!("/cancel_task/{}", encode(task_id)),
            None,
            None,
        )
        .await
    }

    /// One page of `GET /tasks`.
    pub async fn tasks(
        &self,
        status: Option<&str>,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Answer> {
        let mut query = format!("/tasks?limit={limit}");
        if let Some(s) = status {
            query.push_str(&format!("&status={}", encode(s)));
        }
        if let Some(c) = cursor {
            query.push_str(&format!("&cursor={}", encode(c)));
        }
        self.send(Method::GET, &query, None, None).await
    }

    /// The bytes behind an image URL (presigned: no API key is sent with it) and its
    /// content type.
    pub async fn download(&self, url: &str) -> Result<(Vec<u8>, Option<String>)> {
        let response = self
            .http
            .get(url)
            .send()
            .await
            .context("downloading an image")?;
        if !response.status().is_success() {
            anyhow::bail!("downloading an image: HTTP {}", response.status());
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        Ok((response.bytes().await?.to_vec(), content_type))
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        idempotency_key: Option<&str>,
    ) -> Result<Answer> {
        let url = format!("{}{path}", self.base);
        let mut tries = 0;
        loop {
            tries += 1;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .bearer_auth(&self.key);
            if let Some(body) = body {
                request = request.json(body);
            }
            if let Some(k) = idempotency_key {
                request = request.header("Idempotency-Key", k);
            }
            let response = match request.send().await {
                Ok(r) => r,
                Err(e) if tries < MAX_TRANSIENT_TRIES && (e.is_connect() || e.is_timeout()) => {
                    tokio::time::sleep(backoff(tries)).await;
                    continue;
                }
                Err(e) => return Err(anyhow!(e).context(format!("{method} {path}"))),
            };
            let status = response.status();
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let text = response.text().await.unwrap_or_default();
            let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let transient = matches!(
                status,
                StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
            ) || (status == StatusCode::CONFLICT
                && body["code"] == "idempotency_in_progress");
            if transient && tries < MAX_TRANSIENT_TRIES {
                let wait = retry_after
                    .unwrap_or_else(|| backoff(tries))
                    .min(MAX_RETRY_AFTER);
                tokio::time::sleep(wait).await;
                continue;
            }
            if !status.is_success() {
                return Err(failure(status, &body, &text).into());
            }
            return Ok(Answer { body, retry_after });
        }
    }
}

/// The error body's code, message and field (api-conventions: `{success: false, error,
/// code, field}`), or the raw text when the body is not JSON.
fn failure(status: StatusCode, body: &Value, text: &str) -> ApiFailure {
    let pick = |k: &str| body.get(k).and_then(Value::as_str).map(str::to_string);
    ApiFailure {
        status: status.as_u16(),
        code: pick("code").unwrap_or_else(|| "http_error".into()),
        message: pick("error")
            .or_else(|| pick("message"))
            .unwrap_or_else(|| text.chars().take(200).collect()),
        field: pick("field"),
    }
}

fn backoff(tries: u32) -> Duration {
    Duration::from_millis(500 * 2u64.pow(tries.min(6)))
}

/// Percent-encodes one path or query component (task ids and cursors are opaque).
fn encode(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    for b in component.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_are_percent_encoded() {
        assert_eq!(encode("abc-_.~"), "abc-_.~");
        assert_eq!(encode("a/b c&d=é"), "a%2Fb%20c%26d%3D%C3%A9");
    }

    #[test]
    fn an_error_body_names_code_and_field() {
        let body = serde_json::json!({"success": false, "error": "too long", "code": "invalid_request", "field": "prompt"});
        let f = failure(StatusCode::BAD_REQUEST, &body, "");
        assert_eq!(
            f.to_string(),
            "400: invalid_request: too long (field prompt)"
        );
        let f = failure(
            StatusCode::BAD_GATEWAY,
            &Value::Null,
            "<html>bad gateway</html>",
        );
        assert_eq!(f.code, "http_error");
        assert!(f.message.contains("bad gateway"));
    }
}

//! HTTP client for NovelAI's image host.

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::archive::decode_images;
use crate::domain::Credentials;
use crate::ports::{GeneratedImage, Upstream, UpstreamError};

pub struct NovelAiClient {
    http: reqwest::Client,
    image_url: String,
}

impl NovelAiClient {
    /// `image_url` is the image host (`https://image.novelai.net`, or a fake's address).
    pub fn new(image_url: &str, timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .user_agent(format!("naiq/{}", crate::VERSION))
            .timeout(timeout)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .expect("HTTP client");
        Self {
            http,
            image_url: image_url.trim_end_matches('/').to_string(),
        }
    }
}

/// Reads NovelAI's error body (`{"statusCode": …, "message": …}`), falling back to the text.
fn error_message(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("error"))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.chars().take(200).collect())
}

#[async_trait]
impl Upstream for NovelAiClient {
    async fn generate(
        &self,
        credentials: &Credentials,
        body: &Value,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        let token = match credentials {
            Credentials::Token { token } => token,
            Credentials::Login { .. } => {
                return Err(UpstreamError::Status {
                    status: 401,
                    message:
                        "email/password login is not available yet; configure a persistent token"
                            .into(),
                });
            }
        };
        let resp = self
            .http
            .post(format!("{}/ai/generate-image", self.image_url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            // Without the URL: it is ours, and errors should not carry request details.
            .map_err(|e| UpstreamError::Network(e.without_url().to_string()))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| UpstreamError::Network(e.without_url().to_string()))?;
        if !status.is_success() {
            return Err(UpstreamError::Status {
                status: status.as_u16(),
                message: error_message(&String::from_utf8_lossy(&bytes)),
            });
        }
        decode_images(&bytes)
    }
}

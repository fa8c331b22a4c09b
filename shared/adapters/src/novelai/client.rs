//! HTTP client for NovelAI: generation (whole, or streamed with step previews), Director
//! tools, upscaling, login and subscription, all on the image host. Email/password
//! credentials are turned into an access key (Argon2id), logged in once and the token
//! reused; a 401 leads to one fresh login and one retry.

use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;

use naiq_core::domain::Credentials;
use naiq_core::domain::account::AccountInfo;
use naiq_core::novelai::access_key as auth;
use naiq_core::novelai::encode::MAX_ENCODING_BYTES;
use naiq_core::novelai::stream_answer::{STREAM_PATH, StreamAnswer, stream_body};
use naiq_core::novelai::{AugmentRequest, EncodeVibeRequest, ImageRequest, UpscaleRequest};
use naiq_core::ports::{GeneratedImage, PreviewSink, Upstream, UpstreamError};

use super::account::{Account, TokenCache};
use super::{answer_body, network};

mod director;

/// NovelAI's path of a whole (not streamed) generation.
const GENERATE_PATH: &str = "/ai/generate-image";

pub struct NovelAiClient {
    http: reqwest::Client,
    image_url: String,
    account: Account,
    tokens: TokenCache,
}

impl NovelAiClient {
    /// `image_url` is NovelAI's image host (`https://image.novelai.net`), which serves the
    /// account routes too since 2026 (the old account host answers 400 for them); tests and
    /// the local stack give a fake's address.
    pub fn new(image_url: &str, timeout: Duration) -> Self {
        // One client for both: building one loads and parses the system's root
        // certificates (a few milliseconds of the worker's start).
        let http = super::http_client(timeout);
        Self {
            account: Account::with_client(http.clone(), image_url),
            http,
            image_url: image_url.trim_end_matches('/').to_string(),
            tokens: TokenCache::new(),
        }
    }

    /// The bearer token for these credentials. A login tries the email lower-cased first
    /// (as the web client sends it), then as typed.
    async fn token(&self, credentials: &Credentials) -> Result<String, UpstreamError> {
        let Credentials::Login { email, password } = credentials else {
            return self
                .tokens
                .token_for(&self.account, credentials, Utc::now())
                .await;
        };
        let normal = Credentials::Login {
            email: auth::normalise_email(email),
            password: password.clone(),
        };
        match self
            .tokens
            .token_for(&self.account, &normal, Utc::now())
            .await
        {
            Err(UpstreamError::Status { status: 401, .. }) if normal != *credentials => {
                self.tokens
                    .token_for(&self.account, credentials, Utc::now())
                    .await
            }
            other => other,
        }
    }

    async fn forget(&self, credentials: &Credentials) {
        if let Credentials::Login { email, password } = credentials {
            let normal = Credentials::Login {
                email: auth::normalise_email(email),
                password: password.clone(),
            };
            self.tokens.invalidate(&normal).await;
            self.tokens.invalidate(credentials).await;
        }
    }

    /// Makes one call with the credentials' token. A login token NovelAI refuses (revoked,
    /// or the password changed) is dropped, and the call is not made again here: each call
    /// is one paced slot counted in the day's quota, so a second one would go out unpaced
    /// and uncounted. The worker's next attempt, in a slot of its own, logs in afresh.
    /// Every route shares it.
    async fn with_login<T, F, Fut>(
        &self,
        credentials: &Credentials,
        call: F,
    ) -> Result<T, UpstreamError>
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = Result<T, UpstreamError>>,
    {
        let token = self.token(credentials).await?;
        match call(token).await {
            Err(UpstreamError::Status {
                status: 401,
                message,
            }) if matches!(credentials, Credentials::Login { .. }) => {
                tracing::info!("NovelAI refused the login token; the next attempt logs in again");
                self.forget(credentials).await;
                Err(UpstreamError::LoginRefused(message))
            }
            other => other,
        }
    }

    /// The stream route: reads the body chunk by chunk as it arrives (under the client's
    /// one timeout for the whole call, as a plain generation), handing each step's preview
    /// to `previews` before reading on.
    async fn post_stream(
        &self,
        token: &str,
        body: &ImageRequest,
        previews: &dyn PreviewSink,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        let mut resp = self
            .http
            .post(format!("{}{STREAM_PATH}", self.image_url))
            .bearer_auth(token)
            .json(&stream_body(body))
            .send()
            .await
            .map_err(network)?;
        if !resp.status().is_success() {
            // An error answer is a plain JSON body, as on the generation route.
            let status = resp.status().as_u16();
            return Err(match answer_body(resp, |_| false).await {
                Err(e) => e,
                Ok(_) => UpstreamError::Status {
                    status,
                    message: String::new(),
                },
            });
        }
        let mut answer = StreamAnswer::new(body);
        while let Some(chunk) = resp.chunk().await.map_err(network)? {
            for preview in answer.feed(&chunk)? {
                previews.preview(preview).await;
            }
        }
        answer.finish()
    }

    async fn post_encode(
        &self,
        token: &str,
        body: &EncodeVibeRequest,
    ) -> Result<Vec<u8>, UpstreamError> {
        let resp = self
            .http
            .post(format!("{}/ai/encode-vibe", self.image_url))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .map_err(network)?;
        let bytes = answer_body(resp, |status| (200..300).contains(&status)).await?;
        if bytes.is_empty() || bytes.len() > MAX_ENCODING_BYTES {
            return Err(UpstreamError::BadResponse(format!(
                "a vibe encoding of {} bytes",
                bytes.len()
            )));
        }
        Ok(bytes.to_vec())
    }
}

#[async_trait]
impl Upstream for NovelAiClient {
    async fn generate(
        &self,
        credentials: &Credentials,
        body: &ImageRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        self.with_login(credentials, |token| async move {
            self.post_images(&token, GENERATE_PATH, body).await
        })
        .await
    }

    async fn generate_stream(
        &self,
        credentials: &Credentials,
        body: &ImageRequest,
        previews: &dyn PreviewSink,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        self.with_login(credentials, |token| async move {
            self.post_stream(&token, body, previews).await
        })
        .await
    }

    async fn encode_vibe(
        &self,
        credentials: &Credentials,
        body: &EncodeVibeRequest,
    ) -> Result<Vec<u8>, UpstreamError> {
        self.with_login(credentials, |token| async move {
            self.post_encode(&token, body).await
        })
        .await
    }

    async fn augment(
        &self,
        credentials: &Credentials,
        body: &AugmentRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        self.images_from(credentials, director::AUGMENT_PATH, body)
            .await
    }

    async fn upscale(
        &self,
        credentials: &Credentials,
        body: &UpscaleRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        self.images_from(credentials, director::UPSCALE_PATH, body)
            .await
    }

    async fn subscription(&self, credentials: &Credentials) -> Result<AccountInfo, UpstreamError> {
        let token = self.token(credentials).await?;
        let sub = self.account.subscription(&token).await?;
        Ok(AccountInfo {
            tier: sub.tier,
            active: sub.active,
            anlas: sub.anlas,
            v5_usage: sub.v5_usage,
            checked_at: Utc::now(),
        })
    }
}

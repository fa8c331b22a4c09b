//! The NovelAI image API, as the worker and the CLI need it.

use async_trait::async_trait;

use super::previews::PreviewSink;
use crate::domain::Credentials;
use crate::domain::account::AccountInfo;
use crate::domain::request::ImageFormat;
use crate::novelai::{AugmentRequest, EncodeVibeRequest, ImageRequest, UpscaleRequest};

/// A NovelAI generation failure, classified for retry decisions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum UpstreamError {
    /// NovelAI answered with an error status.
    #[error("NovelAI answered {status}: {message}")]
    Status { status: u16, message: String },
    /// No answer: connection refused, reset, or timed out.
    #[error("NovelAI could not be reached: {0}")]
    Network(String),
    /// A 200 whose body is not the expected zip of PNGs.
    #[error("NovelAI sent an unreadable result: {0}")]
    BadResponse(String),
    /// An image stream that broke off: cut inside a frame, a frame that does not parse,
    /// an `error` event, or no final image. Retried like a network failure (see
    /// `novelai::stream_answer`).
    #[error("NovelAI's image stream broke off: {0}")]
    Stream(String),
    /// NovelAI refused the token of a login (email and password) that naiq had kept: it was
    /// revoked, or the password changed. The token is dropped and the call is not made again
    /// within the attempt (every call is one paced, counted slot); the next attempt logs in
    /// afresh. Credentials that no longer log in fail there, with a plain 401.
    #[error("NovelAI refused the login token: {0}")]
    LoginRefused(String),
}

impl UpstreamError {
    /// The job error code for this failure.
    pub fn code(&self) -> &'static str {
        match self {
            UpstreamError::Status { status: 400, .. } => "upstream_invalid_request",
            UpstreamError::Status {
                status: 401 | 403, ..
            }
            | UpstreamError::LoginRefused(_) => "upstream_auth_failed",
            UpstreamError::Status { status: 402, .. } => "insufficient_anlas",
            UpstreamError::Status { status: 429, .. } => "upstream_busy",
            UpstreamError::Status { .. } => "upstream_error",
            UpstreamError::Network(_) => "upstream_unreachable",
            UpstreamError::BadResponse(_) => "upstream_bad_response",
            UpstreamError::Stream(_) => "upstream_stream_failed",
        }
    }

    /// Whether another attempt may succeed (429, 5xx, network, a broken stream, a refused
    /// login token: the next attempt logs in again).
    pub fn is_retryable(&self) -> bool {
        match self {
            UpstreamError::Status { status, .. } => *status == 429 || *status >= 500,
            UpstreamError::Network(_)
            | UpstreamError::Stream(_)
            | UpstreamError::LoginRefused(_) => true,
            UpstreamError::BadResponse(_) => false,
        }
    }
}

/// One image NovelAI returned, in the format the request asked for.
///
/// Its bytes are a reference-counted view: an image stored uncompressed in NovelAI's zip
/// is a slice of the answer's body, and the answer object and the image's own object are
/// written from that one buffer (the largest upscale is 36 MiB; a second copy is what would
/// not fit the worker's memory).
#[derive(Clone, PartialEq, Eq)]
pub struct GeneratedImage {
    pub bytes: bytes::Bytes,
    pub format: ImageFormat,
    pub width: u32,
    pub height: u32,
}

impl std::fmt::Debug for GeneratedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "GeneratedImage({}x{} {}, {} bytes)",
            self.width,
            self.height,
            self.format.as_str(),
            self.bytes.len()
        )
    }
}

/// The NovelAI image API.
#[async_trait]
pub trait Upstream: Send + Sync {
    /// Sends one generation request (as built by `novelai::body`) and returns the images.
    async fn generate(
        &self,
        credentials: &Credentials,
        request: &ImageRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError>;
    /// Like [`Upstream::generate`], through the stream endpoint
    /// (`/ai/generate-image-stream`, `novelai::stream_answer`): hands `previews` each step's
    /// JPEG as it arrives, then returns the final images. Only for the families that
    /// stream (`stream_answer::streams`).
    async fn generate_stream(
        &self,
        credentials: &Credentials,
        request: &ImageRequest,
        previews: &dyn PreviewSink,
    ) -> Result<Vec<GeneratedImage>, UpstreamError>;
    /// Encodes one vibe image (`/ai/encode-vibe`): NovelAI's opaque encoding.
    async fn encode_vibe(
        &self,
        credentials: &Credentials,
        request: &EncodeVibeRequest,
    ) -> Result<Vec<u8>, UpstreamError>;
    /// Runs one Director tool (`/ai/augment-image`) and returns its images (three for
    /// background removal, one otherwise).
    async fn augment(
        &self,
        credentials: &Credentials,
        request: &AugmentRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError>;
    /// Upscales one image 2× (`/ai/upscale`).
    async fn upscale(
        &self,
        credentials: &Credentials,
        request: &UpscaleRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError>;
    /// Logs in if need be and reads the account's subscription.
    async fn subscription(&self, credentials: &Credentials) -> Result<AccountInfo, UpstreamError>;
}

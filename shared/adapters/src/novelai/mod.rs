//! The HTTP client for NovelAI (reqwest with rustls): generation on the image host, login
//! and subscription on the account host. What goes on the wire is built by the core
//! (`naiq_core::novelai`).

pub mod account;
pub mod client;

pub use client::NovelAiClient;

use naiq_core::novelai::error_message;
use naiq_core::ports::UpstreamError;

/// The HTTP client every NovelAI call uses: rustls, an honest `User-Agent`
/// (`naiq/<version>`), the call timeout and a 10 s connect timeout.
pub fn http_client(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(format!("naiq/{}", naiq_core::VERSION))
        .timeout(timeout)
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// A transport failure, without the URL: errors carry no request details.
pub(crate) fn network(e: reqwest::Error) -> UpstreamError {
    UpstreamError::Network(e.without_url().to_string())
}

/// The largest answer body read: the largest upscale (3072×4096) as an RGBA PNG of noise
/// is 48 MiB. A body past it is refused, not held.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024 * 1024;

/// Reads an answer's body; a status `accepted` does not allow becomes
/// `UpstreamError::Status` with NovelAI's message.
///
/// Into one buffer of the announced length as the chunks arrive: gathering the chunks and
/// joining them (as `Response::bytes` does) would hold the largest upscale twice.
pub(crate) async fn answer_body(
    mut resp: reqwest::Response,
    accepted: impl Fn(u16) -> bool,
) -> Result<bytes::Bytes, UpstreamError> {
    let status = resp.status().as_u16();
    let announced = resp.content_length().unwrap_or(0) as usize;
    let mut all = Vec::with_capacity(announced.min(MAX_ANSWER_BYTES));
    while let Some(chunk) = resp.chunk().await.map_err(network)? {
        if all.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(UpstreamError::BadResponse(format!(
                "an answer of more than {} MiB",
                MAX_ANSWER_BYTES >> 20
            )));
        }
        all.extend_from_slice(&chunk);
    }
    let bytes = bytes::Bytes::from(all);
    if !accepted(status) {
        return Err(UpstreamError::Status {
            status,
            message: error_message(&String::from_utf8_lossy(&bytes)),
        });
    }
    Ok(bytes)
}

//! The NovelAI image API: request bodies per model family, the HTTP client, and the zip
//! of PNGs it answers with.

pub mod account;
pub mod archive;
pub mod auth;
pub mod body;
pub mod client;
pub mod cost;

pub use client::NovelAiClient;

/// The HTTP client every NovelAI call uses: rustls, an honest `User-Agent`
/// (`naiq/<version>`), the call timeout and a 10 s connect timeout.
pub fn http_client(timeout: std::time::Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .user_agent(format!("naiq/{}", crate::VERSION))
        .timeout(timeout)
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// Reads NovelAI's error body (`{"statusCode": …, "message": …}`; some answers use
/// `error`), falling back to the start of the text.
pub(crate) fn error_message(text: &str) -> String {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("error"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.chars().take(200).collect())
}

/// A transport failure, without the URL: errors carry no request details.
pub(crate) fn network(e: reqwest::Error) -> crate::ports::UpstreamError {
    crate::ports::UpstreamError::Network(e.without_url().to_string())
}

/// Reads an answer's body; a status `accepted` does not allow becomes
/// `UpstreamError::Status` with NovelAI's message.
pub(crate) async fn answer_body(
    resp: reqwest::Response,
    accepted: impl Fn(u16) -> bool,
) -> Result<bytes::Bytes, crate::ports::UpstreamError> {
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await.map_err(network)?;
    if !accepted(status) {
        return Err(crate::ports::UpstreamError::Status {
            status,
            message: error_message(&String::from_utf8_lossy(&bytes)),
        });
    }
    Ok(bytes)
}

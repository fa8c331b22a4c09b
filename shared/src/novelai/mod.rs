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

//! The NovelAI image API as pure code: the request bodies per model family, the zip of
//! images it answers with, the access-key derivation of email/password logins, the
//! subscription it describes an account with, and the frames of its image stream
//! (`stream`). The HTTP client is in `naiq-adapters`.

pub mod access_key;
pub mod archive;
pub mod body;
pub mod director;
pub mod encode;
pub mod request;
pub mod scrub;
pub mod stream;
pub mod stream_answer;
pub mod subscription;

pub use director::{AugmentRequest, UpscaleRequest};
pub use encode::EncodeVibeRequest;
pub use request::{Action, ImageRequest};
pub use scrub::scrub;

/// Reads NovelAI's error body (`{"statusCode": …, "message": …}`; some answers use
/// `error`), falling back to the start of the text; at most 500 characters, scrubbed of
/// anything credential-like.
pub fn error_message(text: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| {
            v.get("message")
                .or_else(|| v.get("error"))
                .and_then(serde_json::Value::as_str)
                .map(str::to_string)
        })
        .unwrap_or_else(|| text.chars().take(200).collect());
    scrub(&message.chars().take(500).collect::<String>())
}

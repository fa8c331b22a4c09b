//! `POST /ai/encode-vibe`: what the website sends to turn a vibe image into the encoding
//! V4 and V4.5 generations take (`image`, `information_extracted`, `model`; nothing else).

use serde::Serialize;

use super::request::JsNumber;

/// Largest encoding accepted from NovelAI (one is about 49 KB).
pub const MAX_ENCODING_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EncodeVibeRequest {
    /// The image, base64.
    pub image: String,
    pub information_extracted: JsNumber,
    /// The generation model the encoding is for.
    pub model: String,
}

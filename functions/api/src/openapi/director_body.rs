//! The bodies of `POST /augment` and `POST /upscale`, described for the document. A test
//! checks that they name exactly the fields `naiq_core::domain::request::AUGMENT_FIELDS`
//! and `UPSCALE_FIELDS` list.

#![allow(dead_code)] // Only read by utoipa's derives.

use naiq_core::domain::director::{DirectorTool, Emotion};

use super::body::PriorityName;

/// The body of `POST /augment`: one of NovelAI's seven Director tools on an image. Any
/// other field is refused (400, `field` names it).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"tool": "emotion", "emotion": "happy", "prompt": "smiling", "defry": 0,
    "image": "iVBORw0KGgo…"}))]
pub struct AugmentBody {
    /// The tool. `bg-removal` answers three images (masked, generated, blend), the others
    /// one.
    tool: DirectorTool,
    /// PNG, JPEG or WebP, base64 or a data URL; at least 64x64, at most 4096x4096. Sent at
    /// its own size, scaled down (keeping its shape) to at most 3,143,728 pixels.
    image: String,
    /// `colorize` and `emotion` only: what to add (for `emotion`, after the emotion).
    #[schema(max_length = 8000)]
    prompt: Option<String>,
    /// `colorize` and `emotion` only: how far from the image to go, 0–5 (default 0).
    #[schema(minimum = 0, maximum = 5)]
    defry: Option<u8>,
    /// Required for `emotion`, refused for the other tools.
    emotion: Option<Emotion>,
    /// The lane; a key may use only the lanes it was given.
    priority: Option<PriorityName>,
    /// The test lane (the key must allow it and `ALLOW_TEST_REQUESTS` be on).
    is_test_request: Option<bool>,
    /// Where to POST the task's events, as for `POST /generate`.
    #[schema(max_length = 2048, example = "https://hooks.example.com/naiq")]
    webhook_url: Option<String>,
}

/// The body of `POST /upscale`: an image made twice as wide and twice as high. Any other
/// field is refused (400, `field` names it).
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"image": "iVBORw0KGgo…"}))]
pub struct UpscaleBody {
    /// PNG, JPEG or WebP, base64 or a data URL; at least 64x64, at most 3,145,728 pixels
    /// (1536x2048).
    image: String,
    /// The lane; a key may use only the lanes it was given.
    priority: Option<PriorityName>,
    /// The test lane (the key must allow it and `ALLOW_TEST_REQUESTS` be on).
    is_test_request: Option<bool>,
    /// Where to POST the task's events, as for `POST /generate`.
    #[schema(max_length = 2048, example = "https://hooks.example.com/naiq")]
    webhook_url: Option<String>,
}

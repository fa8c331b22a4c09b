//! The request shapes the handlers read by hand (the `POST /generate` body is validated
//! field by field in `naiq-core`; `GET /tasks` reads its query as strings), described for
//! the document. A test checks that [`GenerateBody`] names exactly the fields
//! `naiq_core::domain::request::KNOWN_FIELDS` lists.

#![allow(dead_code)] // Only read by utoipa's derives.

use naiq_core::domain::Status;

/// The body of `POST /generate`: only `prompt` is required. Unknown fields are ignored with
/// a warning.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[schema(example = json!({"prompt": "1girl, cat ears", "model": "nai-v3", "resolution": "portrait"}))]
pub struct GenerateBody {
    /// What to draw.
    #[schema(max_length = 8000)]
    prompt: String,
    /// Undesired content (not for V5 Full Medium).
    #[schema(max_length = 8000)]
    negative_prompt: Option<String>,
    /// A NovelAI model id or an alias (`nai-v5`, `nai-v4.5`, `nai-v3`, …); the default is
    /// `nai-diffusion-5-curated`.
    #[schema(example = "nai-v4.5")]
    model: Option<String>,
    /// `k_euler`, `k_euler_ancestral`, `k_dpmpp_2m`, `k_dpmpp_2s_ancestral`, `k_dpmpp_sde`,
    /// … (`ddim` only for V3).
    sampler: Option<String>,
    /// Sampling steps (default 28 for V3, 23 for V4 and later, 14 for V5 Full Medium).
    #[schema(minimum = 1, maximum = 50)]
    steps: Option<u32>,
    /// Prompt guidance, 0–10; a number outside is brought into range (with a warning).
    scale: Option<f64>,
    /// CFG rescale (not for V5 Full Medium).
    #[schema(minimum = 0.0, maximum = 1.0)]
    cfg_rescale: Option<f64>,
    /// `native` (V3 only), `karras`, `exponential` or `polyexponential`.
    noise_schedule: Option<String>,
    /// SMEA (V3 only).
    sm: Option<bool>,
    /// SMEA DYN (V3 only, with `sm`).
    sm_dyn: Option<bool>,
    /// `portrait`, `landscape`, `square`, or a sized variant (`small_…`, `large_…`,
    /// `wallpaper_…`); instead of `width` and `height`.
    #[schema(example = "large_portrait")]
    resolution: Option<String>,
    /// With `height`: a multiple of 64; the area at most 3,145,728 pixels.
    #[schema(minimum = 64, maximum = 4096, multiple_of = 64)]
    width: Option<u32>,
    /// With `width`: a multiple of 64.
    #[schema(minimum = 64, maximum = 4096, multiple_of = 64)]
    height: Option<u32>,
    /// Without it, naiq draws one and records it on the task.
    #[schema(minimum = 0, maximum = 4294967295_u64)]
    seed: Option<u64>,
    /// Images per request, within NovelAI's limit for the size.
    #[schema(minimum = 1, maximum = 8)]
    n_samples: Option<u32>,
    /// Character prompts (V4 and later; at most 6, V5: 32).
    #[schema(max_items = 32)]
    characters: Option<Vec<CharacterBody>>,
    /// Image-to-image input: PNG, JPEG or WebP, base64 or a data URL.
    image: Option<String>,
    /// Inpainting mask (with `image`): PNG, JPEG or WebP, base64 or a data URL; white =
    /// repaint.
    mask: Option<String>,
    /// Image-to-image strength (only with `image`; default 0.7).
    #[schema(minimum = 0.01, maximum = 0.99)]
    strength: Option<f64>,
    /// Image-to-image noise (only with `image`; default 0).
    #[schema(minimum = 0.0, maximum = 0.99)]
    noise: Option<f64>,
    /// The image format NovelAI answers with.
    image_format: Option<ImageFormatName>,
    /// Vibe transfer (V3, V4, V4.5; not with a mask or with references), up to 16. V4 and
    /// V4.5 vibes are encoded once per image, model and information extracted and the
    /// encoding kept: `cost.vibe_encodes` says how many encodes (2 Anlas each) the job
    /// still needs, and each vibe beyond four adds 2 Anlas.
    #[schema(max_items = 16)]
    vibes: Option<Vec<VibeBody>>,
    /// Precise Reference (V4.5; V5 Full/Curated with `PRECISE_REFERENCE_V5`; not with
    /// vibes), up to 16. Each image is letter-boxed on black to 1024x1536, 1536x1024 or
    /// 1472x1472 (the nearest shape); 5 Anlas per reference and image.
    #[schema(max_items = 16)]
    references: Option<Vec<ReferenceBody>>,
    /// The lane; a key may use only the lanes it was given.
    priority: Option<PriorityName>,
    /// The test lane (the key must allow it and `ALLOW_TEST_REQUESTS` be on).
    is_test_request: Option<bool>,
    /// Per-request NovelAI credentials: `token` (with `token`) or `login` (with `email` and
    /// `password`). Never stored, logged or returned.
    auth_type: Option<AuthType>,
    /// A persistent NovelAI token (`pst-…`), with `auth_type` `token`.
    #[schema(write_only)]
    token: Option<String>,
    /// With `auth_type` `login`.
    #[schema(write_only)]
    email: Option<String>,
    /// With `auth_type` `login`.
    #[schema(write_only)]
    password: Option<String>,
    /// Answer with the exact upstream body and its cost; queue nothing.
    dry_run: Option<bool>,
    /// Where to POST the task's events (`task.started`, `task.succeeded`, `task.failed`,
    /// `task.cancelled`), signed per Standard Webhooks with the key's `whsec_` secret;
    /// the key's default when absent. https with a host name (no IP address; the host
    /// must resolve to public addresses only).
    #[schema(max_length = 2048, example = "https://hooks.example.com/naiq")]
    webhook_url: Option<String>,
}

/// One vibe.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct VibeBody {
    /// PNG, JPEG or WebP, base64 or a data URL.
    image: String,
    /// How strongly the vibe shows (default 0.6).
    #[schema(minimum = 0.0, maximum = 1.0)]
    strength: Option<f64>,
    /// How much of the image is taken in (default 1; 0.7 on V4.5 Full), kept to 0.01.
    #[schema(minimum = 0.0, maximum = 1.0)]
    information_extracted: Option<f64>,
}

/// One Precise Reference.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct ReferenceBody {
    /// PNG, JPEG or WebP, base64 or a data URL.
    image: String,
    /// What the reference carries over (default `character`).
    #[serde(rename = "type")]
    kind: Option<ReferenceType>,
    /// Default 1.
    #[schema(minimum = 0.0, maximum = 1.0)]
    strength: Option<f64>,
    /// Default 1 (sent as `1 - fidelity`).
    #[schema(minimum = 0.0, maximum = 1.0)]
    fidelity: Option<f64>,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
pub enum ReferenceType {
    #[serde(rename = "character")]
    Character,
    #[serde(rename = "style")]
    Style,
    #[serde(rename = "character&style")]
    CharacterAndStyle,
}

/// One character prompt.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct CharacterBody {
    #[schema(max_length = 8000)]
    prompt: String,
    /// The character's own undesired content.
    #[schema(max_length = 8000)]
    uc: Option<String>,
    position: Option<Position>,
}

/// A grid cell `A1`–`E5` (column is x, row is y), or (V5) free coordinates.
#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum Position {
    /// A cell: column A–E, row 1–5 (`C3` is the centre).
    #[schema(example = "C3")]
    Cell(String),
    Point(Point),
}

/// A point on the image, 0–1 from the top left.
#[derive(serde::Deserialize, utoipa::ToSchema)]
pub struct Point {
    #[schema(minimum = 0.0, maximum = 1.0)]
    x: f64,
    #[schema(minimum = 0.0, maximum = 1.0)]
    y: f64,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormatName {
    Png,
    Webp,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PriorityName {
    High,
    Normal,
    Low,
}

#[derive(serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthType {
    Token,
    Login,
}

/// `GET /tasks`'s query string.
#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TasksQuery {
    /// Only tasks in this state.
    status: Option<Status>,
    /// Tasks per page (default 20).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    #[param(max_length = 2048)]
    cursor: Option<String>,
    /// Presigned image URLs in each task (each is signed work).
    include_urls: Option<bool>,
}

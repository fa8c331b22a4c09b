//! Validation of the `POST /generate` body (the seed service's fields). Every rejection
//! names the field it is about.
//!
//! One file per concern: `fields` (typed reads), `sampling` (model, steps, scale, sampler,
//! noise schedule, SMEA), `size`, `characters`, `images` (inputs and masks), `credentials`.

mod characters;
mod credentials;
mod director;
mod error;
mod fields;
mod images;
mod letterbox;
mod prompts;
pub mod references;
mod sampling;
mod size;
mod stored;
pub mod vibes;

#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use director::{AUGMENT_FIELDS, UPSCALE_FIELDS, parse_augment, parse_upscale};
pub use error::{ValidationError, Warning};
pub use letterbox::letterbox;
pub use references::Reference;
pub use stored::{ITEM_RESERVE_BYTES, MAX_ITEM_BYTES, MAX_STORED_PARAMS_BYTES, stored_bytes};
pub use vibes::{Vibe, VibeImage};

use super::credentials::Credentials;
use super::director::JobKind;
use super::job::Lane;
use super::models::{self, Family};
use fields::Fields;
use sampling::Sampling;

/// Limits that come from configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest prompt text (prompt, negative prompt, a character's prompt or uc), in
    /// characters.
    pub max_prompt_chars: usize,
    /// Longest prompt text in bytes of UTF-8: 8,000 characters of any script in the Basic
    /// Multilingual Plane (CJK is 3 bytes a character), 6,000 emoji.
    pub max_prompt_bytes: usize,
    /// Largest decoded input image, in bytes.
    pub max_image_bytes: usize,
    /// Precise Reference on V5 Full/Curated (`PRECISE_REFERENCE_V5`, off by default).
    pub v5_references: bool,
}

impl Limits {
    /// The limits under a body limit of `max_body_bytes`: an image's base64 grows by 4/3,
    /// with room left for the rest of the body.
    pub fn for_body(max_body_bytes: usize) -> Self {
        Self {
            max_image_bytes: (max_body_bytes / 4 * 3).saturating_sub(4096),
            ..Self::default()
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_prompt_chars: 8_000,
            max_prompt_bytes: 24_000,
            max_image_bytes: 3_500_000,
            v5_references: false,
        }
    }
}

/// Image-to-image settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Img2Img {
    pub strength: f64,
    pub noise: f64,
}

/// One character prompt (V4/V4.5): sent as a `characterPrompts` entry and as a
/// `char_captions` entry of both `v4_prompt` and `v4_negative_prompt`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Character {
    pub prompt: String,
    /// The character's own undesired content (may be empty).
    #[serde(default)]
    pub uc: String,
    /// Grid cell, column A–E and row 1–5 (`C3` is the centre), upper case; `None` (and no
    /// `center`) leaves the placement to the AI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
    /// Free coordinates (V5), when given instead of a cell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub center: Option<Center>,
}

impl Character {
    /// Whether the client placed this character (a cell or coordinates).
    pub fn is_placed(&self) -> bool {
        self.position.is_some() || self.center.is_some()
    }

    /// Where the character is centred: its coordinates, its grid cell, or the middle (C3)
    /// when the AI places it.
    pub fn center(&self) -> Center {
        self.center
            .or_else(|| {
                let (x, y) = models::grid_center(self.position.as_deref()?)?;
                Some(Center { x, y })
            })
            .unwrap_or(Center { x: 0.5, y: 0.5 })
    }
}

/// A point on the image, 0–1 from the top left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Center {
    pub x: f64,
    pub y: f64,
}

/// The file format NovelAI is asked to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageFormat {
    /// What the seed's clients expect (and naiq's default).
    #[default]
    Png,
    /// Lossless WebP, the website's own choice.
    Webp,
}

impl ImageFormat {
    /// Every format an answer can come in.
    pub const ALL: [ImageFormat; 2] = [ImageFormat::Png, ImageFormat::Webp];

    pub fn as_str(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Webp => "image/webp",
        }
    }
}

/// The generation settings of one job, validated and with defaults applied. Stored on the
/// job; holds no credential and no image bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GenerationParams {
    pub model: String,
    pub family: Family,
    pub prompt: String,
    pub negative_prompt: String,
    pub width: u32,
    pub height: u32,
    pub steps: u32,
    pub scale: f64,
    pub sampler: String,
    pub noise_schedule: String,
    /// The seed sent upstream (drawn at submit when the client gave none).
    pub seed: u32,
    pub n_samples: u32,
    pub sm: bool,
    pub sm_dyn: bool,
    pub cfg_rescale: f64,
    pub img2img: Option<Img2Img>,
    /// Inpainting with a mask (`infill` with the model's inpainting variant; `model` stays
    /// the base model). Needs `img2img`. Absent (false) in jobs stored before it existed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub inpaint: bool,
    /// Character prompts (V4/V4.5 only, at most [`models::MAX_CHARACTERS`]); absent in
    /// jobs stored before they existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub characters: Vec<Character>,
    /// The format asked of NovelAI (PNG unless the request says webp; PNG in jobs stored
    /// before it existed).
    #[serde(default)]
    pub image_format: ImageFormat,
    /// Where the job's webhook events go (the request's `webhook_url`, else the key's
    /// default), checked at submit and again before each delivery. Never sent upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// Vibe transfer (V3, V4, V4.5); absent in jobs stored before it existed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vibes: Vec<Vibe>,
    /// Precise Reference (V4.5; V5 behind a switch); the images are job inputs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<Reference>,
    /// What the job asks of NovelAI: a generation (absent in jobs stored before the other
    /// kinds existed), a Director tool or an upscale.
    #[serde(default, skip_serializing_if = "JobKind::is_generate")]
    pub kind: JobKind,
}

/// An accepted `POST /generate` body.
#[derive(Debug, Clone)]
pub struct SubmitRequest {
    /// Settings; `seed` is `None` when the client let naiq choose.
    pub params: GenerationParams,
    pub seed_given: bool,
    pub lane: Lane,
    pub is_test_request: bool,
    /// Decoded input image for image-to-image, with its media type.
    pub image: Option<InputImage>,
    /// The inpainting mask: a black/white PNG at the target size, white = repaint, snapped
    /// to 8x8 cells. Only with `image`.
    pub mask: Option<InputImage>,
    /// The vibes' images to store (one per distinct image), by hash.
    pub vibe_images: Vec<VibeImage>,
    /// The references' images, fitted, in order.
    pub reference_images: Vec<InputImage>,
    /// Per-request NovelAI credentials: never stored, never logged.
    pub credentials: Option<Credentials>,
    /// Answer with the upstream body and the cost; queue nothing.
    pub dry_run: bool,
    /// Values brought into range, to tell the client.
    pub warnings: Vec<Warning>,
}

#[derive(Clone, PartialEq, Eq)]
pub struct InputImage {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

impl std::fmt::Debug for InputImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "InputImage({}, {} bytes)",
            self.content_type,
            self.bytes.len()
        )
    }
}

/// Every field `POST /generate` reads.
pub const KNOWN_FIELDS: &[&str] = &[
    "prompt",
    "negative_prompt",
    "model",
    "sampler",
    "steps",
    "scale",
    "cfg_rescale",
    "noise_schedule",
    "sm",
    "sm_dyn",
    "resolution",
    "width",
    "height",
    "seed",
    "n_samples",
    "characters",
    "image",
    "mask",
    "strength",
    "noise",
    "image_format",
    "vibes",
    "references",
    "priority",
    "is_test_request",
    "auth_type",
    "token",
    "email",
    "password",
    "dry_run",
    "webhook_url",
];

/// `priority`: the lane asked for (normal when absent).
fn lane(f: &Fields<'_>) -> Result<Lane, ValidationError> {
    Ok(match f.string("priority")? {
        None => Lane::Normal,
        Some(p) => match p.trim().to_ascii_lowercase().as_str() {
            "high" => Lane::High,
            "normal" => Lane::Normal,
            "low" => Lane::Low,
            _ => {
                return Err(ValidationError::invalid(
                    "priority",
                    "priority must be high, normal or low",
                ));
            }
        },
    })
}

/// Parses and validates a `POST /generate` body.
pub fn parse_submit(body: &[u8], limits: &Limits) -> Result<SubmitRequest, ValidationError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ValidationError::malformed(format!("request body is not valid JSON: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ValidationError::malformed(
            "request body must be a JSON object",
        ));
    };
    validate(&Fields::new(&map), limits)
}

fn validate(f: &Fields<'_>, limits: &Limits) -> Result<SubmitRequest, ValidationError> {
    let mut warnings = Vec::new();
    let (prompt, negative_prompt) = prompts::prompts(f, limits)?;
    let Sampling {
        model,
        steps,
        scale,
        cfg_rescale,
        sampler,
        noise_schedule,
        sm,
        sm_dyn,
    } = sampling::sampling(f, &mut warnings)?;
    let family = model.family;
    let characters = characters::characters(f, model, limits)?;
    if model.medium && !negative_prompt.is_empty() {
        return Err(ValidationError::invalid(
            "negative_prompt",
            format!("{} takes no negative prompt; leave it out", model.id),
        ));
    }
    let image_format = match f.string("image_format")? {
        None => ImageFormat::Png,
        Some(v) => match v.trim().to_ascii_lowercase().as_str() {
            "png" => ImageFormat::Png,
            "webp" => ImageFormat::Webp,
            _ => {
                return Err(ValidationError::invalid(
                    "image_format",
                    "image_format must be png or webp",
                ));
            }
        },
    };

    // Inputs are read as far as their headers: without a size in the request, the job
    // takes the image's own (on NovelAI's 64-pixel grid).
    let probed = images::probe_field(f, "image", limits)?;
    // A mask makes it inpainting: it needs the image and a model with an inpainting variant.
    let probed_mask = match f.get("mask") {
        None => None,
        Some(_) => {
            if probed.is_none() {
                return Err(ValidationError::invalid(
                    "mask",
                    "mask needs an image to inpaint",
                ));
            }
            if models::inpainting_model(model.id).is_none() {
                return Err(ValidationError::invalid(
                    "mask",
                    format!("inpainting is not available for {}", model.id),
                ));
            }
            images::probe_field(f, "mask", limits)?
        }
    };
    let (vibes, vibe_images) = vibes::vibes(f, model, probed_mask.is_some(), limits)?;
    let size_given = ["width", "height", "resolution"]
        .iter()
        .any(|k| f.get(k).is_some());
    let (width, height) = match &probed {
        Some(img) if !size_given => size::grid_size(img.width, img.height),
        _ => size::size(f)?,
    };
    let n_samples = f.integer("n_samples", 1, 8)?.map_or(1, |n| n as u32);
    let max = models::max_samples(width, height);
    if n_samples > max {
        return Err(ValidationError::invalid(
            "n_samples",
            format!("n_samples must be at most {max} at {width}x{height}"),
        ));
    }

    let seed = f.integer("seed", 0, i64::from(u32::MAX))?;

    let img2img = match &probed {
        None => {
            for field in ["strength", "noise"] {
                if f.get(field).is_some() {
                    return Err(ValidationError::invalid(
                        field,
                        format!("{field} needs an image"),
                    ));
                }
            }
            None
        }
        Some(_) => Some(Img2Img {
            strength: f.number("strength", 0.01, 0.99)?.unwrap_or(0.7),
            noise: f.number("noise", 0.0, 0.99)?.unwrap_or(0.0),
        }),
    };

    let lane = lane(f)?;
    let is_test_request = f.boolean("is_test_request")?.unwrap_or(false);
    let credentials = credentials::credentials(f)?;
    let dry_run = f.boolean("dry_run")?.unwrap_or(false);
    // Bounded here; whether it may be used (https, no IP literal) is the submit's check,
    // which knows the configuration.
    let webhook_url = f
        .text("webhook_url", crate::webhooks::MAX_URL_BYTES)?
        .map(str::to_string);
    // The seed service ignored fields it did not know; naiq does too, but says so, so a
    // typo (`vibe` for `vibes`) is visible. The value is not echoed: it may be a secret.
    for name in f.map.keys().filter(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
        warnings.push(Warning {
            field: name.clone(),
            given: Value::Null,
            sent: Value::Null,
            message: format!("unknown field {name:?}; ignored"),
        });
    }

    // Each reference is decoded and fitted on its own (header-bounded like every input).
    let (references, reference_images) = references::references(f, model, limits)?;
    let params = GenerationParams {
        model: model.id.to_string(),
        family,
        prompt: prompt.to_string(),
        negative_prompt: negative_prompt.to_string(),
        width,
        height,
        steps,
        scale,
        sampler: sampler.to_string(),
        noise_schedule,
        seed: seed.unwrap_or(0) as u32,
        n_samples,
        sm,
        sm_dyn,
        cfg_rescale,
        img2img,
        inpaint: probed_mask.is_some(),
        characters,
        image_format,
        webhook_url,
        vibes,
        references,
        kind: JobKind::Generate,
    };
    // What the job will store must fit its item; checked before any pixel is decoded.
    stored::check(&params)?;
    // Decoded one at a time: each is fitted and its full-size pixels dropped first.
    let image = probed.map(|img| img.fit_image(width, height)).transpose()?;
    let mask = probed_mask.map(|m| m.fit_mask(width, height)).transpose()?;

    Ok(SubmitRequest {
        params,
        seed_given: seed.is_some(),
        lane: if is_test_request { Lane::Test } else { lane },
        is_test_request,
        image,
        mask,
        vibe_images,
        reference_images,
        credentials,
        dry_run,
        warnings,
    })
}

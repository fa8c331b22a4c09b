//! Validation of the `POST /generate` body (the seed service's fields). Every rejection
//! names the field it is about.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::credentials::Credentials;
use super::job::Lane;
use super::models::{self, Family};

/// A rejected request: a stable code, the field, and a message for people.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub code: &'static str,
    pub field: Option<String>,
    pub message: String,
}

impl ValidationError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self {
            code: "invalid_parameter",
            field: Some(field.to_string()),
            message: message.into(),
        }
    }

    pub fn missing(field: &str) -> Self {
        Self {
            code: "missing_parameter",
            field: Some(field.to_string()),
            message: format!("{field} is required"),
        }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self {
            code: "malformed_json",
            field: None,
            message: message.into(),
        }
    }
}

/// Limits that come from configuration.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest prompt or negative prompt, in characters.
    pub max_prompt_chars: usize,
    /// Largest decoded input image, in bytes.
    pub max_image_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_prompt_chars: 8_000,
            max_image_bytes: 3_500_000,
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Character {
    pub prompt: String,
    /// The character's own undesired content (may be empty).
    #[serde(default)]
    pub uc: String,
    /// Grid cell, column A–E and row 1–5 (`C3` is the centre), upper case; `None` leaves
    /// the placement to the AI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<String>,
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
    /// Per-request NovelAI credentials: never stored, never logged.
    pub credentials: Option<Credentials>,
    /// Answer with the upstream body and the cost; queue nothing.
    pub dry_run: bool,
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

/// The fields of one JSON object; `prefix` (such as `characters[1].`) is put before the
/// names errors report, so nested fields are named in full.
struct Fields<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
}

impl<'a> Fields<'a> {
    fn new(map: &'a Map<String, Value>) -> Self {
        Self {
            map,
            prefix: String::new(),
        }
    }

    /// The full name of a field, as errors report it.
    fn path(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The value of a field, treating JSON `null` as absent.
    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }

    fn string(&self, name: &str) -> Result<Option<&'a str>, ValidationError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(_) => {
                let name = self.path(name);
                Err(ValidationError::invalid(
                    &name,
                    format!("{name} must be a string"),
                ))
            }
        }
    }

    fn boolean(&self, name: &str) -> Result<Option<bool>, ValidationError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => {
                let name = self.path(name);
                Err(ValidationError::invalid(
                    &name,
                    format!("{name} must be true or false"),
                ))
            }
        }
    }

    /// An integer in `[min, max]`; integral floats (`28.0`) are accepted.
    fn integer(&self, name: &str, min: i64, max: i64) -> Result<Option<i64>, ValidationError> {
        let path = self.path(name);
        let err =
            || ValidationError::invalid(&path, format!("{path} must be an integer {min}-{max}"));
        let Some(v) = self.get(name) else {
            return Ok(None);
        };
        let n = match v {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && f.abs() < 1e15)
                        .map(|f| f as i64)
                })
                .ok_or_else(err)?,
            _ => return Err(err()),
        };
        if n < min || n > max {
            return Err(err());
        }
        Ok(Some(n))
    }

    fn number(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>, ValidationError> {
        let path = self.path(name);
        let err =
            || ValidationError::invalid(&path, format!("{path} must be a number {min}-{max}"));
        match self.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => {
                let f = n.as_f64().ok_or_else(err)?;
                if !(min..=max).contains(&f) {
                    return Err(err());
                }
                Ok(Some(f))
            }
            Some(_) => Err(err()),
        }
    }
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
    let prompt = f
        .string("prompt")?
        .ok_or_else(|| ValidationError::missing("prompt"))?;
    if prompt.trim().is_empty() {
        return Err(ValidationError::invalid(
            "prompt",
            "prompt must not be empty",
        ));
    }
    let too_long = |field: &str| {
        ValidationError::invalid(
            field,
            format!(
                "{field} must be at most {} characters",
                limits.max_prompt_chars
            ),
        )
    };
    if prompt.chars().count() > limits.max_prompt_chars {
        return Err(too_long("prompt"));
    }
    let negative_prompt = f.string("negative_prompt")?.unwrap_or("");
    if negative_prompt.chars().count() > limits.max_prompt_chars {
        return Err(too_long("negative_prompt"));
    }

    let model = match f.string("model")? {
        None => models::resolve_model(models::DEFAULT_MODEL).expect("default model is known"),
        Some(name) => models::resolve_model(name).ok_or_else(|| {
            ValidationError::invalid(
                "model",
                format!("unknown model {name:?}; use a NovelAI model id or an alias such as nai-v3, nai-v4, nai-v4.5"),
            )
        })?,
    };
    let family = model.family;
    let defaults = family.defaults();

    let steps = f
        .integer("steps", 1, 50)?
        .map_or(defaults.steps, |n| n as u32);
    let scale = f.number("scale", 0.0, 10.0)?.unwrap_or(defaults.scale);
    let cfg_rescale = f.number("cfg_rescale", 0.0, 1.0)?.unwrap_or(0.0);

    // Per family: V3 names DDIM ddim_v3, V4+ has none, nai_smea(_dyn) is V3's
    // k_euler_ancestral with SMEA.
    let choice = match f.string("sampler")? {
        None => models::SamplerChoice {
            sampler: defaults.sampler,
            sm: false,
            sm_dyn: false,
        },
        Some(s) => models::resolve_sampler(family, s).map_err(|message| {
            ValidationError::invalid("sampler", format!("{message} (model {})", model.id))
        })?,
    };
    let sampler = choice.sampler;
    let noise_schedule = match f.string("noise_schedule")? {
        None => family.default_noise_schedule(sampler).to_string(),
        Some(s) => {
            let s = s.trim().to_ascii_lowercase();
            let allowed = family.noise_schedules(sampler);
            if !allowed.contains(&s.as_str()) {
                return Err(ValidationError::invalid(
                    "noise_schedule",
                    format!(
                        "noise_schedule {s:?} is not available for {} with {sampler}; one of {}",
                        model.id,
                        allowed.join(", ")
                    ),
                ));
            }
            s
        }
    };

    let sm_given = f.boolean("sm")?;
    let sm_dyn_given = f.boolean("sm_dyn")?;
    if choice.sm && sm_given == Some(false) {
        return Err(ValidationError::invalid(
            "sm",
            "the nai_smea samplers turn SMEA on; leave sm out or set it true",
        ));
    }
    if choice.sm_dyn && sm_dyn_given == Some(false) {
        return Err(ValidationError::invalid(
            "sm_dyn",
            "nai_smea_dyn turns SMEA DYN on; leave sm_dyn out or set it true",
        ));
    }
    let sm = choice.sm || sm_given.unwrap_or(false);
    let sm_dyn = choice.sm_dyn || sm_dyn_given.unwrap_or(false);
    if (sm || sm_dyn) && family != Family::V3 {
        return Err(ValidationError::invalid(
            if sm { "sm" } else { "sm_dyn" },
            "SMEA is only available for V3 models",
        ));
    }
    if sm_dyn && !sm {
        return Err(ValidationError::invalid(
            "sm_dyn",
            "sm_dyn (SMEA DYN) needs sm (SMEA) on as well",
        ));
    }
    if sm && sampler == "ddim_v3" {
        return Err(ValidationError::invalid(
            "sm",
            "SMEA does not work with the DDIM sampler",
        ));
    }

    let characters = characters(f, family, model.id, limits)?;

    // An input image is decoded first: without a size in the request, the job takes the
    // image's own (rounded to NovelAI's 64-pixel grid).
    let decoded = match f.string("image")? {
        None => None,
        Some(b64) => Some(decode_image(b64, limits, "image")?),
    };
    // A mask makes it inpainting: it needs the image and a model with an inpainting variant.
    let decoded_mask = match f.string("mask")? {
        None => None,
        Some(b64) => {
            if decoded.is_none() {
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
            Some(decode_image(b64, limits, "mask")?)
        }
    };
    let size_given = ["width", "height", "resolution"]
        .iter()
        .any(|k| f.get(k).is_some());
    let (width, height) = match &decoded {
        Some(img) if !size_given => grid_size(img.width(), img.height()),
        _ => size(f)?,
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

    let image = decoded
        .map(|img| fit_image(&img, width, height))
        .transpose()?;
    let mask = decoded_mask
        .map(|m| fit_mask(&m, width, height))
        .transpose()?;
    let img2img = match &image {
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

    let lane = match f.string("priority")? {
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
    };
    let is_test_request = f.boolean("is_test_request")?.unwrap_or(false);
    let credentials = credentials(f)?;
    let dry_run = f.boolean("dry_run")?.unwrap_or(false);

    Ok(SubmitRequest {
        params: GenerationParams {
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
            inpaint: mask.is_some(),
            characters,
        },
        seed_given: seed.is_some(),
        lane: if is_test_request { Lane::Test } else { lane },
        is_test_request,
        image,
        mask,
        credentials,
        dry_run,
    })
}

/// The optional `characters` list: `[{prompt, uc?, position?}]`, V4/V4.5 only. An empty
/// list is the same as none.
fn characters(
    f: &Fields<'_>,
    family: Family,
    model_id: &str,
    limits: &Limits,
) -> Result<Vec<Character>, ValidationError> {
    let items = match f.get("characters") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ValidationError::invalid(
                "characters",
                "characters must be a list of {prompt, uc, position} objects",
            ));
        }
    };
    if items.is_empty() {
        return Ok(Vec::new());
    }
    if !family.supports_characters() {
        return Err(ValidationError::invalid(
            "characters",
            format!("character prompts need a V4 or V4.5 model, not {model_id}"),
        ));
    }
    if items.len() > models::MAX_CHARACTERS {
        return Err(ValidationError::invalid(
            "characters",
            format!("at most {} characters", models::MAX_CHARACTERS),
        ));
    }
    let mut characters = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(ValidationError::invalid(
                &format!("characters[{i}]"),
                format!("characters[{i}] must be an object with a prompt"),
            ));
        };
        let c = Fields {
            map,
            prefix: format!("characters[{i}]."),
        };
        let too_long = |name: &str| {
            let name = c.path(name);
            ValidationError::invalid(
                &name,
                format!(
                    "{name} must be at most {} characters",
                    limits.max_prompt_chars
                ),
            )
        };
        let prompt = c
            .string("prompt")?
            .ok_or_else(|| ValidationError::missing(&c.path("prompt")))?;
        if prompt.trim().is_empty() {
            let name = c.path("prompt");
            return Err(ValidationError::invalid(
                &name,
                format!("{name} must not be empty"),
            ));
        }
        if prompt.chars().count() > limits.max_prompt_chars {
            return Err(too_long("prompt"));
        }
        let uc = c.string("uc")?.unwrap_or("");
        if uc.chars().count() > limits.max_prompt_chars {
            return Err(too_long("uc"));
        }
        let position = match c.string("position")? {
            None => None,
            Some(p) => {
                let cell = p.trim().to_ascii_uppercase();
                if models::grid_center(&cell).is_none() {
                    let name = c.path("position");
                    return Err(ValidationError::invalid(
                        &name,
                        format!("{name} must be a column A-E and a row 1-5, such as C3"),
                    ));
                }
                Some(cell)
            }
        };
        characters.push(Character {
            prompt: prompt.to_string(),
            uc: uc.to_string(),
            position,
        });
    }
    Ok(characters)
}

fn size(f: &Fields<'_>) -> Result<(u32, u32), ValidationError> {
    let dim = |name: &str| -> Result<Option<u32>, ValidationError> {
        let Some(n) = f.integer(name, 64, 4096)? else {
            return Ok(None);
        };
        if n % 64 != 0 {
            return Err(ValidationError::invalid(
                name,
                format!("{name} must be a multiple of 64"),
            ));
        }
        Ok(Some(n as u32))
    };
    let (w, h) = (dim("width")?, dim("height")?);
    let (width, height) = match (w, h) {
        (Some(w), Some(h)) => (w, h),
        (Some(_), None) => return Err(ValidationError::missing("height")),
        (None, Some(_)) => return Err(ValidationError::missing("width")),
        (None, None) => match f.string("resolution")? {
            None => (832, 1216),
            Some(name) => models::resolve_resolution(name).ok_or_else(|| {
                ValidationError::invalid(
                    "resolution",
                    format!("unknown resolution {name:?}; use portrait, landscape, square or a sized variant such as large_portrait"),
                )
            })?,
        },
    };
    if u64::from(width) * u64::from(height) > models::MAX_AREA {
        return Err(ValidationError::invalid(
            if w.is_some() { "width" } else { "resolution" },
            format!(
                "{width}x{height} is larger than {} pixels",
                models::MAX_AREA
            ),
        ));
    }
    Ok((width, height))
}

/// Standard alphabet, padding optional (clients differ).
const LENIENT_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Largest input image side accepted before decoding (a guard against decompression bombs).
const MAX_INPUT_SIDE: u32 = 8192;

fn too_large(field: &str, limits: &Limits) -> ValidationError {
    ValidationError {
        code: "too_large",
        field: Some(field.into()),
        message: format!("{field} must be at most {} bytes", limits.max_image_bytes),
    }
}

/// Decodes and checks an input image or mask (PNG, JPEG or WebP, base64, a data URL
/// allowed); errors name `field`.
fn decode_image(
    b64: &str,
    limits: &Limits,
    field: &str,
) -> Result<image::DynamicImage, ValidationError> {
    // Accept data URLs as browsers produce them.
    let data = match b64.split_once(',') {
        Some((head, data)) if head.starts_with("data:") => data,
        _ => b64,
    };
    let data: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if data.len() / 4 * 3 > limits.max_image_bytes + 3 {
        return Err(too_large(field, limits));
    }
    let bytes = LENIENT_BASE64
        .decode(data.as_bytes())
        .map_err(|_| ValidationError::invalid(field, format!("{field} must be base64")))?;
    if bytes.len() > limits.max_image_bytes {
        return Err(too_large(field, limits));
    }
    let format = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        image::ImageFormat::Png
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        image::ImageFormat::Jpeg
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        image::ImageFormat::WebP
    } else {
        return Err(ValidationError::invalid(
            field,
            format!("{field} must be a PNG, JPEG or WebP"),
        ));
    };
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(&bytes), format);
    let mut guard = image::Limits::default();
    guard.max_image_width = Some(MAX_INPUT_SIDE);
    guard.max_image_height = Some(MAX_INPUT_SIDE);
    guard.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(guard);
    let img = reader.decode().map_err(|e| {
        ValidationError::invalid(field, format!("{field} could not be decoded: {e}"))
    })?;
    if img.width() < 64 || img.height() < 64 {
        return Err(ValidationError::invalid(
            field,
            format!("{field} must be at least 64x64 pixels"),
        ));
    }
    Ok(img)
}

/// An image's size on NovelAI's grid: multiples of 64, scaled down to the largest area.
fn grid_size(w: u32, h: u32) -> (u32, u32) {
    let area = f64::from(w) * f64::from(h);
    let scale = (models::MAX_AREA as f64 / area).sqrt().min(1.0);
    let snap = |v: u32| (((f64::from(v) * scale) / 64.0).floor() as u32).max(1) * 64;
    (snap(w), snap(h))
}

/// The image as RGBA at the target size (resized only when it differs).
fn rgba_at(img: &image::DynamicImage, width: u32, height: u32) -> image::RgbaImage {
    let rgba = img.to_rgba8();
    if (rgba.width(), rgba.height()) == (width, height) {
        rgba
    } else {
        image::imageops::resize(&rgba, width, height, image::imageops::FilterType::Triangle)
    }
}

/// The input as NovelAI takes it: a PNG at the target size (resized when it differs).
fn fit_image(
    img: &image::DynamicImage,
    width: u32,
    height: u32,
) -> Result<InputImage, ValidationError> {
    let fitted = rgba_at(img, width, height);
    let mut png = Vec::new();
    fitted
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| {
            ValidationError::invalid("image", format!("image could not be re-encoded: {e}"))
        })?;
    Ok(InputImage {
        bytes: png,
        content_type: "image/png",
    })
}

/// Side of the cells an inpainting mask is snapped to (NovelAI works on an 8x coarser
/// latent grid; ComfyUI's NovelAI node snaps masks the same way).
const MASK_CELL: u32 = 8;

/// The mask as NovelAI takes it: a black/white grayscale PNG at the target size, white =
/// repaint. A pixel is white when its luminance, with transparency counted as black, is
/// over 50%; then every 8x8 cell with any white pixel becomes all white.
fn fit_mask(
    img: &image::DynamicImage,
    width: u32,
    height: u32,
) -> Result<InputImage, ValidationError> {
    let rgba = rgba_at(img, width, height);
    let luma = image::DynamicImage::ImageRgba8(rgba).to_luma_alpha8();
    // Composited over black: l * a / 255 > 127.5.
    let white = |x: u32, y: u32| {
        let image::LumaA([l, a]) = *luma.get_pixel(x, y);
        2 * u32::from(l) * u32::from(a) > 255 * 255
    };
    let (cols, rows) = (width.div_ceil(MASK_CELL), height.div_ceil(MASK_CELL));
    let mut cells = vec![false; (cols * rows) as usize];
    for y in 0..height {
        for x in 0..width {
            if white(x, y) {
                cells[((y / MASK_CELL) * cols + x / MASK_CELL) as usize] = true;
            }
        }
    }
    let mask = image::GrayImage::from_fn(width, height, |x, y| {
        let on = cells[((y / MASK_CELL) * cols + x / MASK_CELL) as usize];
        image::Luma([if on { 255 } else { 0 }])
    });
    let mut png = Vec::new();
    mask.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| {
            ValidationError::invalid("mask", format!("mask could not be re-encoded: {e}"))
        })?;
    Ok(InputImage {
        bytes: png,
        content_type: "image/png",
    })
}

fn credentials(f: &Fields<'_>) -> Result<Option<Credentials>, ValidationError> {
    let Some(kind) = f.string("auth_type")? else {
        for field in ["token", "email", "password"] {
            if f.get(field).is_some() {
                return Err(ValidationError::missing("auth_type"));
            }
        }
        return Ok(None);
    };
    let required = |name: &str| -> Result<String, ValidationError> {
        match f.string(name)? {
            Some(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            _ => Err(ValidationError::missing(name)),
        }
    };
    match kind {
        "token" => Ok(Some(Credentials::Token {
            token: required("token")?,
        })),
        "login" => Ok(Some(Credentials::Login {
            email: required("email")?,
            password: f
                .string("password")?
                .filter(|p| !p.is_empty())
                .ok_or_else(|| ValidationError::missing("password"))?
                .to_string(),
        })),
        _ => Err(ValidationError::invalid(
            "auth_type",
            "auth_type must be token or login",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: Value) -> Result<SubmitRequest, ValidationError> {
        parse_submit(v.to_string().as_bytes(), &Limits::default())
    }

    fn field_of(v: Value) -> String {
        parse(v).unwrap_err().field.unwrap_or_default()
    }

    #[test]
    fn the_seed_body_is_accepted_with_v3_defaults() {
        let r = parse(
            json!({"prompt": "1girl, cat ears", "model": "nai-v3", "resolution": "portrait"}),
        )
        .unwrap();
        let p = &r.params;
        assert_eq!(p.model, "nai-diffusion-3");
        assert_eq!((p.width, p.height), (832, 1216));
        assert_eq!((p.steps, p.scale, p.sampler.as_str()), (28, 5.0, "k_euler"));
        assert_eq!(p.n_samples, 1);
        assert!(!r.seed_given);
        assert_eq!(r.lane, Lane::Normal);
        assert!(r.credentials.is_none() && r.image.is_none());
    }

    #[test]
    fn every_bad_field_is_named() {
        let base = || json!({"prompt": "x"});
        let with = |k: &str, v: Value| {
            let mut b = base();
            b[k] = v;
            b
        };
        assert_eq!(field_of(json!({})), "prompt");
        assert_eq!(field_of(json!({"prompt": "  "})), "prompt");
        assert_eq!(field_of(json!({"prompt": 5})), "prompt");
        assert_eq!(field_of(with("model", json!("dall-e"))), "model");
        assert_eq!(field_of(with("steps", json!(0))), "steps");
        assert_eq!(field_of(with("steps", json!(51))), "steps");
        assert_eq!(field_of(with("steps", json!(2.5))), "steps");
        assert_eq!(field_of(with("steps", json!("28"))), "steps");
        assert_eq!(field_of(with("scale", json!(11))), "scale");
        assert_eq!(field_of(with("sampler", json!("euler_magic"))), "sampler");
        assert_eq!(field_of(with("resolution", json!("huge"))), "resolution");
        assert_eq!(
            field_of(json!({"prompt": "x", "width": 830, "height": 1216})),
            "width"
        );
        assert_eq!(field_of(json!({"prompt": "x", "width": 832})), "height");
        assert_eq!(
            field_of(json!({"prompt": "x", "width": 4096, "height": 4096})),
            "width"
        );
        assert_eq!(field_of(with("seed", json!(-1))), "seed");
        assert_eq!(field_of(with("seed", json!(4_294_967_296u64))), "seed");
        assert_eq!(field_of(with("n_samples", json!(9))), "n_samples");
        assert_eq!(
            field_of(json!({"prompt": "x", "n_samples": 8, "resolution": "portrait"})),
            "n_samples"
        );
        assert_eq!(field_of(with("priority", json!("urgent"))), "priority");
        assert_eq!(
            field_of(with("is_test_request", json!("yes"))),
            "is_test_request"
        );
        assert_eq!(field_of(with("strength", json!(0.5))), "strength");
        assert_eq!(field_of(with("image", json!("not base64!"))), "image");
        assert_eq!(field_of(with("image", json!("aGVsbG8gd29ybGQ="))), "image");
        assert_eq!(field_of(with("auth_type", json!("magic"))), "auth_type");
        assert_eq!(field_of(with("auth_type", json!("token"))), "token");
        assert_eq!(
            field_of(json!({"prompt": "x", "auth_type": "login", "email": "a@b.c"})),
            "password"
        );
        assert_eq!(field_of(with("token", json!("pst-x"))), "auth_type");
        assert_eq!(field_of(with("sm", json!(true))), "sm");
        assert_eq!(
            field_of(json!({"prompt": "x", "model": "nai-v4", "noise_schedule": "native"})),
            "noise_schedule"
        );
    }

    #[test]
    fn malformed_bodies_are_malformed() {
        let e = parse_submit(b"{\"prompt\": ", &Limits::default()).unwrap_err();
        assert_eq!((e.code, e.field), ("malformed_json", None));
        let e = parse_submit(b"[1,2]", &Limits::default()).unwrap_err();
        assert_eq!(e.code, "malformed_json");
    }

    fn encoded(img: &image::DynamicImage, format: image::ImageFormat) -> String {
        let mut out = Vec::new();
        img.write_to(&mut std::io::Cursor::new(&mut out), format)
            .unwrap();
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    fn picture(w: u32, h: u32) -> image::DynamicImage {
        image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
        }))
    }

    fn decoded_size(img: &InputImage) -> (u32, u32) {
        let d = image::load_from_memory(&img.bytes).unwrap();
        (d.width(), d.height())
    }

    #[test]
    fn images_are_decoded_checked_and_fitted_to_the_target_size() {
        // A PNG data URL, with the size given: resized to it, sent as PNG.
        let b64 = encoded(&picture(300, 200), image::ImageFormat::Png);
        let r = parse(
            json!({"prompt": "x", "image": format!("data:image/png;base64,{b64}"),
            "strength": 0.5, "resolution": "small_landscape"}),
        )
        .unwrap();
        let img = r.image.unwrap();
        assert_eq!(img.content_type, "image/png");
        assert!(img.bytes.starts_with(b"\x89PNG"));
        assert_eq!(decoded_size(&img), (768, 512));
        assert_eq!((r.params.width, r.params.height), (768, 512));
        assert_eq!(
            r.params.img2img,
            Some(Img2Img {
                strength: 0.5,
                noise: 0.0
            })
        );

        // A JPEG without a size: the job takes the image's own, on the 64-pixel grid.
        let b64 = encoded(&picture(1000, 700), image::ImageFormat::Jpeg);
        let r = parse(json!({"prompt": "x", "image": b64})).unwrap();
        assert_eq!((r.params.width, r.params.height), (960, 640));
        assert_eq!(decoded_size(&r.image.unwrap()), (960, 640));
        // Too large for NovelAI: scaled down to fit the largest area.
        let b64 = encoded(&picture(4000, 3000), image::ImageFormat::Png);
        let r = parse(json!({"prompt": "x", "image": b64})).unwrap();
        assert!(u64::from(r.params.width) * u64::from(r.params.height) <= models::MAX_AREA);
        assert_eq!((r.params.width % 64, r.params.height % 64), (0, 0));
    }

    #[test]
    fn bad_images_are_rejected_naming_the_field() {
        let png = encoded(&picture(128, 128), image::ImageFormat::Png);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&png)
            .unwrap();
        let truncated = base64::engine::general_purpose::STANDARD.encode(&bytes[..bytes.len() / 2]);
        for bad in [
            truncated,
            "aGVsbG8gd29ybGQ=".into(),
            "not base64!".into(),
            encoded(&picture(32, 32), image::ImageFormat::Png),
        ] {
            let e = parse(json!({"prompt": "x", "image": bad})).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("image"), "{e:?}");
        }
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 100]);
        let limits = Limits {
            max_image_bytes: 50,
            ..Limits::default()
        };
        let e = parse_submit(
            json!({"prompt": "x", "image": big}).to_string().as_bytes(),
            &limits,
        )
        .unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("too_large", Some("image")));
    }

    fn rgba_b64(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 4]) -> String {
        let img = image::RgbaImage::from_fn(w, h, |x, y| image::Rgba(f(x, y)));
        encoded(
            &image::DynamicImage::ImageRgba8(img),
            image::ImageFormat::Png,
        )
    }

    /// The mask as naiq sends it: (width, height) and a pixel lookup (true = white).
    fn mask_of(r: &SubmitRequest) -> image::GrayImage {
        let m = r.mask.as_ref().expect("a mask");
        assert_eq!(m.content_type, "image/png");
        assert!(m.bytes.starts_with(b"\x89PNG"));
        image::load_from_memory(&m.bytes).unwrap().to_luma8()
    }

    #[test]
    fn masks_need_an_image_and_an_inpainting_model() {
        let png = encoded(&picture(128, 128), image::ImageFormat::Png);
        let e = parse(json!({"prompt": "x", "mask": png})).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_deref()),
            ("invalid_parameter", Some("mask"))
        );
        for model in ["nai-v1", "nai-v2", "safe-diffusion", "nai-diffusion-furry"] {
            let e = parse(json!({"prompt": "x", "model": model, "image": png, "mask": png}))
                .unwrap_err();
            assert_eq!(e.field.as_deref(), Some("mask"), "{model}");
            assert!(
                e.message.starts_with("inpainting is not available for "),
                "{}",
                e.message
            );
        }
        let e = parse(json!({"prompt": "x", "model": "nai-v2", "image": png, "mask": png}))
            .unwrap_err();
        assert_eq!(e.message, "inpainting is not available for nai-diffusion-2");
        // Decoded with the image's checks, errors naming the mask.
        for bad in [
            json!("not base64!"),
            json!("aGVsbG8gd29ybGQ="),
            json!(encoded(&picture(32, 32), image::ImageFormat::Png)),
            json!(5),
        ] {
            let e = parse(json!({"prompt": "x", "image": png, "mask": bad})).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("mask"), "{e:?}");
        }
        let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 100_000]);
        let limits = Limits {
            max_image_bytes: 50_000,
            ..Limits::default()
        };
        let e = parse_submit(
            json!({"prompt": "x", "image": png, "mask": big})
                .to_string()
                .as_bytes(),
            &limits,
        )
        .unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("too_large", Some("mask")));
        // Without a mask: plain image-to-image.
        let r = parse(json!({"prompt": "x", "image": png})).unwrap();
        assert!(!r.params.inpaint && r.mask.is_none());
    }

    #[test]
    fn masks_are_thresholded_and_snapped_to_8x8_cells() {
        let png = encoded(&picture(128, 128), image::ImageFormat::Png);
        let mask = rgba_b64(128, 128, |x, y| match (x, y) {
            (13, 21) => [255, 255, 255, 255], // one white pixel: its cell (1,2) turns white
            (50, 50) => [200, 200, 200, 255], // light grey: white (cell (6,6))
            (80, 80) => [100, 100, 100, 255], // dark grey: black
            (100, 100) => [255, 255, 255, 100], // white but mostly transparent: black
            (120, 5) => [255, 255, 255, 0],   // fully transparent: black
            _ => [0, 0, 0, 255],
        });
        let r = parse(json!({"prompt": "x", "model": "nai-v4.5", "image": png,
            "mask": format!("data:image/png;base64,{mask}"), "strength": 0.6}))
        .unwrap();
        assert!(r.params.inpaint);
        assert_eq!(r.params.model, "nai-diffusion-4-5-full");
        assert_eq!(
            r.params.img2img,
            Some(Img2Img {
                strength: 0.6,
                noise: 0.0
            })
        );
        let m = mask_of(&r);
        assert_eq!(m.dimensions(), (128, 128));
        let at = |x: u32, y: u32| m.get_pixel(x, y).0[0];
        assert!(
            m.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255),
            "black or white"
        );
        for (x, y) in [(8, 16), (15, 23), (13, 21), (8, 23), (15, 16)] {
            assert_eq!(at(x, y), 255, "({x},{y}) in the white pixel's cell");
        }
        for (x, y) in [(7, 21), (16, 21), (13, 15), (13, 24)] {
            assert_eq!(at(x, y), 0, "({x},{y}) just outside the cell");
        }
        assert_eq!((at(48, 48), at(55, 55)), (255, 255));
        assert_eq!((at(80, 80), at(100, 100), at(120, 5)), (0, 0, 0));
        let white = m.pixels().filter(|p| p.0[0] == 255).count();
        assert_eq!(white, 2 * 64, "two white cells");
    }

    #[test]
    fn masks_are_fitted_to_the_target_size() {
        // The size given: image and mask both resized to it.
        let png = encoded(&picture(300, 200), image::ImageFormat::Png);
        let mask = rgba_b64(150, 100, |x, _| {
            if x < 75 {
                [255, 255, 255, 255]
            } else {
                [0, 0, 0, 255]
            }
        });
        let r = parse(
            json!({"prompt": "x", "model": "nai-v3", "image": png, "mask": mask,
            "resolution": "small_landscape"}),
        )
        .unwrap();
        assert_eq!((r.params.width, r.params.height), (768, 512));
        assert_eq!(decoded_size(r.image.as_ref().unwrap()), (768, 512));
        let m = mask_of(&r);
        assert_eq!(m.dimensions(), (768, 512));
        assert_eq!(m.get_pixel(100, 300).0[0], 255, "left half: repaint");
        assert_eq!(m.get_pixel(700, 300).0[0], 0, "right half: keep");
        // No size given: the mask takes the image's grid size, whatever its own.
        let png = encoded(&picture(1000, 700), image::ImageFormat::Jpeg);
        let mask = rgba_b64(64, 64, |_, _| [255, 255, 255, 255]);
        let r =
            parse(json!({"prompt": "x", "model": "nai-v3", "image": png, "mask": mask})).unwrap();
        let m = mask_of(&r);
        assert_eq!(m.dimensions(), (960, 640));
        assert!(m.pixels().all(|p| p.0[0] == 255));
    }

    #[test]
    fn test_requests_take_the_test_lane_and_credentials_parse() {
        let r = parse(
            json!({"prompt": "x", "is_test_request": true, "priority": "low",
            "auth_type": "token", "token": "pst-abc"}),
        )
        .unwrap();
        assert_eq!(r.lane, Lane::Test);
        assert_eq!(
            r.credentials,
            Some(Credentials::Token {
                token: "pst-abc".into()
            })
        );
        let r = parse(json!({"prompt": "x", "seed": 42, "model": "nai-v3", "sampler": "ddim"}))
            .unwrap();
        assert!(r.seed_given);
        assert_eq!(r.params.seed, 42);
        assert_eq!(r.params.sampler, "ddim_v3");
    }

    fn code_and_field(v: Value) -> (&'static str, String) {
        let e = parse(v).unwrap_err();
        (e.code, e.field.unwrap_or_default())
    }

    #[test]
    fn characters_are_parsed_for_v4_models() {
        let r = parse(
            json!({"prompt": "2girls", "model": "nai-v4.5", "characters": [
                {"prompt": "girl, red hair", "uc": "bad hands", "position": " c3 "},
                {"prompt": "girl, blue hair", "position": null},
            ]}),
        )
        .unwrap();
        assert_eq!(
            r.params.characters,
            vec![
                Character {
                    prompt: "girl, red hair".into(),
                    uc: "bad hands".into(),
                    position: Some("C3".into()),
                },
                Character {
                    prompt: "girl, blue hair".into(),
                    uc: String::new(),
                    position: None,
                },
            ]
        );
        let six: Vec<Value> = (0..6).map(|i| json!({"prompt": format!("c{i}")})).collect();
        let r = parse(json!({"prompt": "x", "model": "nai-v4", "characters": six})).unwrap();
        assert_eq!(r.params.characters.len(), 6);
        // No list, null and [] all mean no characters, on every model.
        for model in ["nai-v3", "nai-v1", "nai-v4.5"] {
            for chars in [json!(null), json!([])] {
                let r = parse(json!({"prompt": "x", "model": model, "characters": chars})).unwrap();
                assert!(r.params.characters.is_empty());
            }
        }
    }

    #[test]
    fn bad_characters_are_named_by_index() {
        let with =
            |model: &str, chars: Value| json!({"prompt": "x", "model": model, "characters": chars});
        let one = |c: Value| with("nai-v4.5", json!([{"prompt": "ok"}, c]));
        assert_eq!(
            code_and_field(with("nai-v3", json!([{"prompt": "a"}]))),
            ("invalid_parameter", "characters".into())
        );
        assert_eq!(
            code_and_field(with("nai-v2", json!([{"prompt": "a"}]))),
            ("invalid_parameter", "characters".into())
        );
        let seven: Vec<Value> = (0..7).map(|i| json!({"prompt": format!("c{i}")})).collect();
        assert_eq!(field_of(with("nai-v4", json!(seven))), "characters");
        assert_eq!(
            field_of(with("nai-v4", json!({"prompt": "a"}))),
            "characters"
        );
        assert_eq!(field_of(with("nai-v4", json!(["a"]))), "characters[0]");
        assert_eq!(
            code_and_field(one(json!({"uc": "x"}))),
            ("missing_parameter", "characters[1].prompt".into())
        );
        assert_eq!(
            field_of(one(json!({"prompt": "  "}))),
            "characters[1].prompt"
        );
        assert_eq!(field_of(one(json!({"prompt": 5}))), "characters[1].prompt");
        assert_eq!(
            field_of(one(json!({"prompt": "a", "uc": 1}))),
            "characters[1].uc"
        );
        for bad in ["F3", "C6", "C0", "3C", "C", "", "CC3", "middle"] {
            assert_eq!(
                field_of(one(json!({"prompt": "a", "position": bad}))),
                "characters[1].position",
                "{bad}"
            );
        }
        assert_eq!(
            field_of(one(json!({"prompt": "a", "position": 33}))),
            "characters[1].position"
        );
        let long = "x".repeat(Limits::default().max_prompt_chars + 1);
        assert_eq!(
            field_of(one(json!({"prompt": long}))),
            "characters[1].prompt"
        );
        assert_eq!(
            field_of(one(json!({"prompt": "a", "uc": long}))),
            "characters[1].uc"
        );
        let e = parse(one(json!({"prompt": "a", "position": "Z9"}))).unwrap_err();
        assert!(
            e.message.contains("characters[1].position"),
            "{}",
            e.message
        );
    }

    #[test]
    fn stored_params_stay_compatible() {
        let r = parse(json!({"prompt": "x", "model": "nai-v3", "seed": 3})).unwrap();
        let stored = serde_json::to_value(&r.params).unwrap();
        assert!(
            stored.get("characters").is_none(),
            "no key when there are none"
        );
        // A job stored before characters existed.
        let old = json!({"model": "nai-diffusion-3", "family": "v3", "prompt": "x",
            "negative_prompt": "", "width": 832, "height": 1216, "steps": 28, "scale": 5.0,
            "sampler": "k_euler", "noise_schedule": "native", "seed": 3, "n_samples": 1,
            "sm": false, "sm_dyn": false, "cfg_rescale": 0.0, "img2img": null});
        let params: GenerationParams = serde_json::from_value(old).unwrap();
        assert_eq!(params, r.params);
        let r = parse(json!({"prompt": "x", "characters": [{"prompt": "a", "position": "B2"}, {"prompt": "b"}]}))
            .unwrap();
        let text = serde_json::to_string(&r.params).unwrap();
        let back: GenerationParams = serde_json::from_str(&text).unwrap();
        assert_eq!(back, r.params);
        // Inpainting is stored as a flag, only when set.
        assert!(
            stored.get("inpaint").is_none(),
            "no key when not inpainting"
        );
        let png = encoded(&picture(64, 64), image::ImageFormat::Png);
        let r = parse(json!({"prompt": "x", "image": png, "mask": png})).unwrap();
        let stored = serde_json::to_value(&r.params).unwrap();
        assert_eq!(stored["inpaint"], true);
        let back: GenerationParams = serde_json::from_value(stored).unwrap();
        assert_eq!(back, r.params);
    }

    #[test]
    fn samplers_follow_the_model() {
        let p = |v: Value| parse(v).unwrap().params;
        let q = p(json!({"prompt": "x", "model": "nai-v3", "sampler": "nai_smea"}));
        assert_eq!(
            (q.sampler.as_str(), q.sm, q.sm_dyn),
            ("k_euler_ancestral", true, false)
        );
        let q = p(json!({"prompt": "x", "model": "nai-v3", "sampler": "NAI_SMEA_DYN", "sm": true}));
        assert_eq!(
            (q.sampler.as_str(), q.sm, q.sm_dyn),
            ("k_euler_ancestral", true, true)
        );
        let q = p(json!({"prompt": "x", "model": "nai-v3", "sampler": "nai_smea", "sm_dyn": true}));
        assert_eq!((q.sm, q.sm_dyn), (true, true));
        assert_eq!(
            p(json!({"prompt": "x", "model": "nai-v1", "sampler": "ddim_v3"})).sampler,
            "ddim"
        );
        let q = p(json!({"prompt": "x", "model": "nai-v3", "sm": true, "sm_dyn": true}));
        assert_eq!((q.sm, q.sm_dyn), (true, true));

        let with = |model: &str, extra: Value| {
            let mut b = json!({"prompt": "x", "model": model});
            for (k, v) in extra.as_object().unwrap() {
                b[k] = v.clone();
            }
            b
        };
        for model in ["nai-v4", "nai-v4.5"] {
            for s in ["ddim", "ddim_v3", "nai_smea", "nai_smea_dyn"] {
                assert_eq!(
                    field_of(with(model, json!({"sampler": s}))),
                    "sampler",
                    "{model} {s}"
                );
            }
        }
        assert_eq!(
            field_of(with("nai-v2", json!({"sampler": "nai_smea"}))),
            "sampler"
        );
        assert_eq!(
            field_of(with("nai-v3", json!({"sampler": "nai_smea", "sm": false}))),
            "sm"
        );
        assert_eq!(
            field_of(with(
                "nai-v3",
                json!({"sampler": "nai_smea_dyn", "sm_dyn": false})
            )),
            "sm_dyn"
        );
        assert_eq!(field_of(with("nai-v3", json!({"sm_dyn": true}))), "sm_dyn");
        assert_eq!(field_of(with("nai-v4", json!({"sm_dyn": true}))), "sm_dyn");
        assert_eq!(
            field_of(with("nai-v3", json!({"sampler": "ddim", "sm": true}))),
            "sm"
        );
    }

    #[test]
    fn noise_schedules_follow_the_model_and_sampler() {
        let p = |v: Value| parse(v).unwrap().params;
        assert_eq!(
            p(json!({"prompt": "x", "model": "nai-v3"})).noise_schedule,
            "native"
        );
        assert_eq!(
            p(json!({"prompt": "x", "model": "nai-v4"})).noise_schedule,
            "karras"
        );
        for model in ["nai-v3", "nai-v4", "nai-v4.5"] {
            let q = p(json!({"prompt": "x", "model": model, "sampler": "k_dpm_2"}));
            assert_eq!(q.noise_schedule, "exponential", "{model}");
            let q = p(json!({"prompt": "x", "model": model, "sampler": "k_dpm_2",
                "noise_schedule": "polyexponential"}));
            assert_eq!(q.noise_schedule, "polyexponential", "{model}");
            for bad in ["karras", "native"] {
                assert_eq!(
                    field_of(json!({"prompt": "x", "model": model, "sampler": "k_dpm_2",
                        "noise_schedule": bad})),
                    "noise_schedule",
                    "{model} {bad}"
                );
            }
        }
        assert_eq!(
            p(json!({"prompt": "x", "model": "nai-v4.5", "noise_schedule": " Exponential "}))
                .noise_schedule,
            "exponential"
        );
        assert_eq!(
            field_of(json!({"prompt": "x", "model": "nai-v4.5", "noise_schedule": "native"})),
            "noise_schedule"
        );
        assert_eq!(
            field_of(json!({"prompt": "x", "noise_schedule": "linear"})),
            "noise_schedule"
        );
        assert_eq!(
            field_of(json!({"prompt": "x", "noise_schedule": 3})),
            "noise_schedule"
        );
    }
}

//! Checks a `POST /ai/generate-image` body against NovelAI's rules (see [`crate::rules`])
//! and reads what the fake needs to answer it.
//!
//! The order: what NovelAI's validation refuses (400) is found first; what it lets through
//! but breaks on (500, see [`Refusal::Broken`]) only after. Unknown parameters are
//! ignored, as NovelAI ignores them.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::Value;

use super::characters;
use super::refusal::Refusal;
use crate::rules::limits::{
    self, INPAINT_STRENGTH, MAX_PIXELS, MAX_SAMPLES, MAX_SEED, NOISE, SCALE, STRENGTH,
};
use crate::rules::models::{self, Family, Model};
use crate::rules::samplers;

/// What a body asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Generate,
    Img2Img,
    Infill,
}

impl Action {
    /// The request type NovelAI writes in the images' metadata.
    pub fn request_type(self) -> &'static str {
        match self {
            Action::Generate => "PromptGenerateRequest",
            Action::Img2Img => "Img2ImgRequest",
            Action::Infill => "NativeInfillingRequest",
        }
    }
}

/// The images' file format (`parameters.image_format`, `png` when left out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageFormat {
    Png,
    Webp,
}

impl ImageFormat {
    /// The file extension of the zip's entries.
    pub fn extension(self) -> &'static str {
        match self {
            ImageFormat::Png => "png",
            ImageFormat::Webp => "webp",
        }
    }
}

/// `image_format`: `png` or `webp` (NovelAI's enumeration), `png` when absent or null.
fn image_format(p: &Value) -> Result<ImageFormat, Refusal> {
    match p.get("image_format").filter(|f| !f.is_null()) {
        None => Ok(ImageFormat::Png),
        Some(f) => match f.as_str() {
            Some("png") => Ok(ImageFormat::Png),
            Some("webp") => Ok(ImageFormat::Webp),
            _ => Err(Refusal::invalid("image_format must be png or webp")),
        },
    }
}

/// A body that passed: what the images are made of.
#[derive(Clone, Debug)]
pub struct Generation {
    pub model: &'static Model,
    pub action: Action,
    pub prompt: String,
    pub negative_prompt: String,
    pub width: u32,
    pub height: u32,
    pub steps: u32,
    pub n_samples: u32,
    /// Sample `i` uses `seed + i`.
    pub seed: u64,
    /// The sampler run (`ddim` on V4+ runs `k_euler_ancestral`).
    pub sampler: &'static str,
    pub format: ImageFormat,
    pub parameters: Value,
    /// Anlas on top of the images: vibes beyond four, Precise References.
    pub extra_anlas: u64,
}

/// Standard base64, padding optional (what NovelAI's clients send).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Whether a field holds a base64 PNG (its header is read, not its pixels).
fn is_base64_png(v: &Value) -> bool {
    let Some(bytes) = v.as_str().and_then(|s| BASE64.decode(s).ok()) else {
        return false;
    };
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_ignore_text_chunk(true);
    decoder.read_info().is_ok()
}

/// A field that is absent or `null`.
fn absent(p: &Value, name: &str) -> bool {
    p.get(name).is_none_or(Value::is_null)
}

/// An optional number in a range: `Ok` when absent, null or in range.
fn optional_in(p: &Value, name: &str, ok: impl Fn(f64) -> bool) -> Result<(), Refusal> {
    if absent(p, name) || p[name].as_f64().is_some_and(ok) {
        Ok(())
    } else {
        Err(Refusal::invalid(format!("{name} out of range")))
    }
}

fn side(p: &Value, name: &str) -> Result<u32, Refusal> {
    p[name]
        .as_u64()
        .filter(|n| limits::valid_side(*n) && *n <= MAX_PIXELS / limits::SIZE_STEP)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| Refusal::invalid(format!("{name} must be a multiple of 64, at least 64")))
}

/// The action, after checking the model takes it.
fn action(v: &Value, model: &Model) -> Result<Action, Refusal> {
    match v["action"].as_str() {
        Some("generate") => Ok(Action::Generate),
        Some("img2img") => Ok(Action::Img2Img),
        Some("infill") if model.inpainting => Ok(Action::Infill),
        Some("infill") => Err(Refusal::invalid(format!(
            "infill needs an inpainting model, not {}",
            model.id
        ))),
        _ => Err(Refusal::invalid(
            "action must be generate, img2img or infill",
        )),
    }
}

/// `sm`/`sm_dyn` (SMEA): V3 only, and not with DDIM. `Ok(true)` when SMEA is on a V4+
/// model, which NovelAI lets through and answers 500 for.
fn smea(p: &Value, family: Family, sampler: &str) -> Result<bool, Refusal> {
    let mut broken = false;
    for name in ["sm", "sm_dyn"] {
        match p.get(name) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) if family == Family::V3 => {
                if sampler.starts_with("ddim") {
                    return Err(Refusal::invalid(format!("{name} does not work with DDIM")));
                }
            }
            Some(Value::Bool(true)) if family.has_v4_prompt() => broken = true,
            Some(Value::Bool(true)) => {
                return Err(Refusal::invalid(format!("{name} is for V3 models only")));
            }
            Some(_) => return Err(Refusal::invalid(format!("{name} must be a boolean"))),
        }
    }
    Ok(broken)
}

fn params_version(p: &Value, family: Family) -> Result<(), Refusal> {
    let allowed = family.params_versions();
    let ok = match p.get("params_version").filter(|v| !v.is_null()) {
        None => family.params_version_optional(),
        Some(v) => v.as_u64().is_some_and(|n| allowed.contains(&n)),
    };
    if ok {
        Ok(())
    } else {
        let list: Vec<String> = allowed.iter().map(u64::to_string).collect();
        Err(Refusal::invalid(format!(
            "params_version must be {} for this model",
            list.join(" or ")
        )))
    }
}

/// Checks a body; what NovelAI would refuse comes back as a [`Refusal`].
pub fn validate(body: &[u8]) -> Result<Generation, Refusal> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| Refusal::invalid("the body is not JSON"))?;
    let id = v["model"]
        .as_str()
        .ok_or_else(|| Refusal::invalid("model must be a string"))?;
    let model = models::find(id).ok_or_else(|| Refusal::NoSuchModel(id.to_string()))?;
    let family = model.family;
    let p = &v["parameters"];
    if !p.is_object() {
        return Err(Refusal::invalid("parameters must be an object"));
    }
    let prompt = match v["input"].as_str().filter(|s| !s.trim().is_empty()) {
        Some(prompt) => prompt,
        None if family == Family::V3 && p.get("v4_prompt").is_some() => {
            return Err(Refusal::invalid(
                "input: V3 models take the prompt in input, not v4_prompt",
            ));
        }
        None => return Err(Refusal::invalid("input must be a non-empty string")),
    };
    let action = action(&v, model)?;

    let (width, height) = (side(p, "width")?, side(p, "height")?);
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Refusal::invalid(format!(
            "{width}x{height} is over {MAX_PIXELS} pixels"
        )));
    }
    let Some(steps) = p["steps"]
        .as_u64()
        .filter(|s| limits::steps_allowed(model, *s))
    else {
        return Err(Refusal::invalid(if model.medium {
            format!("steps must be {} on {}", limits::MEDIUM_STEPS, model.id)
        } else {
            "steps must be 1 to 50".to_string()
        }));
    };
    if !p["scale"].as_f64().is_some_and(|s| SCALE.contains(&s)) {
        return Err(Refusal::invalid("scale must be 0 to 10"));
    }
    let n_samples = p["n_samples"]
        .as_u64()
        .filter(|n| (1..=MAX_SAMPLES).contains(n))
        .ok_or_else(|| Refusal::invalid("n_samples must be 1 to 8"))?;
    let max = limits::max_samples(width.into(), height.into());
    if n_samples > max {
        return Err(Refusal::invalid(format!(
            "n_samples: at most {max} at {width}x{height}"
        )));
    }
    let seed = match p.get("seed").filter(|s| !s.is_null()) {
        None => 0,
        Some(s) => s
            .as_u64()
            .filter(|s| *s <= MAX_SEED)
            .ok_or_else(|| Refusal::invalid("seed must be an integer 0 to 4294967295"))?,
    };

    let name = p["sampler"]
        .as_str()
        .ok_or_else(|| Refusal::invalid("sampler must be a string"))?;
    let sampler = samplers::sampler_for(model, name).map_err(Refusal::Invalid)?;
    if let Some(schedule) = p.get("noise_schedule").filter(|s| !s.is_null()) {
        let ok = schedule
            .as_str()
            .is_some_and(|s| samplers::schedule_allowed(family, sampler, s));
        if !ok {
            return Err(Refusal::invalid(format!(
                "noise_schedule {schedule} is not available for {} with {sampler}",
                model.id
            )));
        }
    }
    optional_in(p, "cfg_rescale", |c| limits::cfg_rescale_allowed(model, c))?;
    let smea_on_v4 = smea(p, family, sampler)?;
    params_version(p, family)?;
    let format = image_format(p)?;

    if matches!(action, Action::Img2Img | Action::Infill) && !is_base64_png(&p["image"]) {
        return Err(Refusal::invalid("image must be a base64 PNG"));
    }
    if action == Action::Infill && !is_base64_png(&p["mask"]) {
        return Err(Refusal::invalid("mask must be a base64 PNG"));
    }
    if action == Action::Img2Img
        && !p["strength"]
            .as_f64()
            .is_some_and(|s| STRENGTH.contains(&s))
    {
        return Err(Refusal::invalid("strength must be 0.01 to 0.99"));
    }
    if action != Action::Generate {
        optional_in(p, "strength", |s| STRENGTH.contains(&s))?;
        optional_in(p, "noise", |n| NOISE.contains(&n))?;
    }
    optional_in(p, "inpaintImg2ImgStrength", |s| {
        INPAINT_STRENGTH.contains(&s)
    })?;

    // What passes NovelAI's validation but breaks the generation.
    if family.has_v4_prompt() {
        characters::check(family, p)?;
    }
    if smea_on_v4 {
        return Err(Refusal::broken("sm/sm_dyn true on a V4+ model"));
    }
    let extra_anlas =
        crate::vibes::check(model, p)? + crate::references::check(model, p, n_samples)?;

    let negative_prompt = p["v4_negative_prompt"]["caption"]["base_caption"]
        .as_str()
        .or_else(|| p["negative_prompt"].as_str())
        .unwrap_or_default();
    Ok(Generation {
        model,
        action,
        prompt: prompt.to_string(),
        negative_prompt: negative_prompt.to_string(),
        width,
        height,
        // At most 50 (checked above).
        steps: steps as u32,
        n_samples: n_samples as u32,
        seed,
        sampler,
        format,
        parameters: p.clone(),
        extra_anlas,
    })
}

//! Validation of the `POST /augment` (a Director tool) and `POST /upscale` bodies. Both
//! become a [`SubmitRequest`] of their job kind, so they are admitted, priced, stored and
//! queued as a generation is. Unlike `POST /generate`, whose seed service ignored unknown
//! fields, these routes are new: any field they do not read is refused, naming it.
//!
//! The image is bounded as every input is (bytes, then the pixels its header claims)
//! before it is decoded; it is then sent as a PNG at the size NovelAI takes.

use serde_json::Value;

use super::fields::Fields;
use super::{
    GenerationParams, ImageFormat, Limits, SubmitRequest, ValidationError, images, lane, prompts,
};
use crate::domain::director::{
    Augment, DirectorTool, Emotion, JobKind, MAX_DEFRY, MAX_SOURCE_PIXELS, UPSCALE_MODEL,
    augment_size,
};
use crate::domain::job::Lane;
use crate::domain::models::Family;

/// Every field `POST /augment` reads.
pub const AUGMENT_FIELDS: &[&str] = &[
    "tool",
    "image",
    "prompt",
    "defry",
    "emotion",
    "priority",
    "is_test_request",
    "webhook_url",
];

/// Every field `POST /upscale` reads.
pub const UPSCALE_FIELDS: &[&str] = &["image", "priority", "is_test_request", "webhook_url"];

/// Steps a Director tool is priced at (as V3).
pub const AUGMENT_PRICE_STEPS: u32 = 28;

fn object(body: &[u8]) -> Result<serde_json::Map<String, Value>, ValidationError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ValidationError::malformed(format!("request body is not valid JSON: {e}")))?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(ValidationError::malformed(
            "request body must be a JSON object",
        )),
    }
}

/// Refuses the first field the route does not read.
fn only_known(f: &Fields<'_>, known: &[&str], route: &str) -> Result<(), ValidationError> {
    match f.map.keys().find(|k| !known.contains(&k.as_str())) {
        None => Ok(()),
        Some(name) => Err(ValidationError::invalid(
            name,
            format!(
                "{route} takes no field {name:?} (it takes {})",
                known.join(", ")
            ),
        )),
    }
}

/// What every job of these routes shares: the lane, the test flag, the webhook URL.
struct Common {
    lane: Lane,
    is_test_request: bool,
    webhook_url: Option<String>,
}

fn common(f: &Fields<'_>) -> Result<Common, ValidationError> {
    let lane = lane(f)?;
    let is_test_request = f.boolean("is_test_request")?.unwrap_or(false);
    let webhook_url = f
        .text("webhook_url", crate::webhooks::MAX_URL_BYTES)?
        .map(str::to_string);
    Ok(Common {
        lane: if is_test_request { Lane::Test } else { lane },
        is_test_request,
        webhook_url,
    })
}

/// The settings of a job that is not a generation: its kind, the source's size, the
/// number of images it answers with, and the prompt (Director tools that take one).
fn params(
    kind: JobKind,
    model: &str,
    family: Family,
    (width, height): (u32, u32),
    n_samples: u32,
    prompt: String,
    webhook_url: Option<String>,
) -> GenerationParams {
    GenerationParams {
        model: model.to_string(),
        family,
        prompt,
        negative_prompt: String::new(),
        width,
        height,
        steps: match kind {
            JobKind::Augment(_) => AUGMENT_PRICE_STEPS,
            _ => 0,
        },
        scale: 0.0,
        sampler: String::new(),
        noise_schedule: String::new(),
        seed: 0,
        n_samples,
        sm: false,
        sm_dyn: false,
        cfg_rescale: 0.0,
        img2img: None,
        inpaint: false,
        characters: Vec::new(),
        image_format: ImageFormat::Png,
        webhook_url,
        vibes: Vec::new(),
        references: Vec::new(),
        kind,
    }
}

fn request(params: GenerationParams, c: Common, image: super::InputImage) -> SubmitRequest {
    SubmitRequest {
        params,
        seed_given: false,
        lane: c.lane,
        is_test_request: c.is_test_request,
        image: Some(image),
        mask: None,
        vibe_images: Vec::new(),
        reference_images: Vec::new(),
        credentials: None,
        dry_run: false,
        warnings: Vec::new(),
    }
}

/// Parses and validates a `POST /augment` body.
pub fn parse_augment(body: &[u8], limits: &Limits) -> Result<SubmitRequest, ValidationError> {
    let map = object(body)?;
    let f = Fields::new(&map);
    only_known(&f, AUGMENT_FIELDS, "POST /augment")?;
    let names = || {
        DirectorTool::ALL
            .iter()
            .map(|t| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let tool = match f.string("tool")? {
        None => return Err(ValidationError::missing("tool")),
        Some(t) => DirectorTool::parse(t.trim()).ok_or_else(|| {
            ValidationError::invalid("tool", format!("tool must be one of {}", names()))
        })?,
    };
    let takes = tool.takes_prompt();
    for field in ["prompt", "defry"] {
        if !takes && f.get(field).is_some() {
            return Err(ValidationError::invalid(
                field,
                format!(
                    "{} takes no {field} (only colorize and emotion do)",
                    tool.as_str()
                ),
            ));
        }
    }
    let prompt = prompts::prompt_text(&f, "prompt", limits)?
        .unwrap_or("")
        .to_string();
    // The website always sends defry with the tools that take it.
    let defry = takes
        .then(|| f.integer("defry", 0, i64::from(MAX_DEFRY)))
        .transpose()?
        .map(|d| d.unwrap_or(0) as u8);
    let emotion = match (tool, f.string("emotion")?) {
        (DirectorTool::Emotion, None) => return Err(ValidationError::missing("emotion")),
        (DirectorTool::Emotion, Some(e)) => Some(
            Emotion::parse(e.trim().to_ascii_lowercase().as_str()).ok_or_else(|| {
                let all: Vec<_> = Emotion::ALL.iter().map(|e| e.as_str()).collect();
                ValidationError::invalid(
                    "emotion",
                    format!("emotion must be one of {}", all.join(", ")),
                )
            })?,
        ),
        (_, Some(_)) => {
            return Err(ValidationError::invalid(
                "emotion",
                format!(
                    "{} takes no emotion (only the emotion tool does)",
                    tool.as_str()
                ),
            ));
        }
        (_, None) => None,
    };
    let c = common(&f)?;
    let probed = images::probe_field(&f, "image", limits)?
        .ok_or_else(|| ValidationError::missing("image"))?;
    let size = augment_size(probed.width, probed.height);
    let kind = JobKind::Augment(Augment {
        tool,
        emotion,
        defry,
    });
    let params = params(
        kind,
        tool.as_str(),
        // Priced as V3, and free on Opus as V3 is (no V5 usage limit).
        Family::V3,
        size,
        tool.images(),
        prompt,
        c.webhook_url.clone(),
    );
    let image = probed.fit_image(size.0, size.1)?;
    Ok(request(params, c, image))
}

/// Parses and validates a `POST /upscale` body.
pub fn parse_upscale(body: &[u8], limits: &Limits) -> Result<SubmitRequest, ValidationError> {
    let map = object(body)?;
    let f = Fields::new(&map);
    only_known(&f, UPSCALE_FIELDS, "POST /upscale")?;
    let c = common(&f)?;
    let probed = images::probe_field(&f, "image", limits)?
        .ok_or_else(|| ValidationError::missing("image"))?;
    let (width, height) = (probed.width, probed.height);
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_SOURCE_PIXELS {
        return Err(ValidationError::invalid(
            "image",
            format!(
                "image is {width}x{height} ({pixels} pixels); NovelAI upscales at most \
                 {MAX_SOURCE_PIXELS} pixels (1536x2048)"
            ),
        ));
    }
    let params = params(
        JobKind::Upscale,
        UPSCALE_MODEL,
        Family::V5,
        (width, height),
        1,
        String::new(),
        c.webhook_url.clone(),
    );
    let image = probed.fit_image(width, height)?;
    Ok(request(params, c, image))
}

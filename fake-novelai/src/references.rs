//! Precise Reference in a generation, as NovelAI checks it (handbook:
//! `novelai-api-2026.md` §6, §4.4): V4.5 models (the V5 family is refused, as NovelAI's
//! website had it through October 2026; never Medium); not with vibes; at most 16; each
//! `director_reference_images` entry a base64 PNG of exactly 1024x1536, 1536x1024 or
//! 1472x1472 (400 otherwise); the other `director_reference_*` lists one entry per image;
//! 5 Anlas per reference and sample, the free sample kept.

use base64::Engine as _;
use serde_json::Value;

use crate::generation::Refusal;
use crate::rules::models::{Family, Model};

pub const MAX_REFERENCES: usize = 16;
pub const REFERENCE_ANLAS: u64 = 5;
pub const SIZES: [(u32, u32); 3] = [(1024, 1536), (1536, 1024), (1472, 1472)];

const LISTS: [&str; 4] = [
    "director_reference_descriptions",
    "director_reference_information_extracted",
    "director_reference_strength_values",
    "director_reference_secondary_strength_values",
];

/// A base64 PNG's size, from its header.
fn png_size(v: &Value) -> Option<(u32, u32)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?)
        .ok()?;
    let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    decoder.set_ignore_text_chunk(true);
    let reader = decoder.read_info().ok()?;
    let info = reader.info();
    Some((info.width, info.height))
}

/// Checks a generation's references; answers the Anlas they add.
pub fn check(model: &Model, p: &Value, n_samples: u64) -> Result<u64, Refusal> {
    let images = match p.get("director_reference_images") {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Array(a)) if a.is_empty() => return Ok(0),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(Refusal::invalid(
                "director_reference_images must be an array",
            ));
        }
    };
    if model.family != Family::V45 {
        return Err(Refusal::invalid(format!(
            "Precise Reference is not available for {}",
            model.id
        )));
    }
    if p["reference_image_multiple"]
        .as_array()
        .is_some_and(|a| !a.is_empty())
    {
        return Err(Refusal::invalid(
            "Precise Reference cannot be used with vibe transfer",
        ));
    }
    if images.len() > MAX_REFERENCES {
        return Err(Refusal::invalid(format!(
            "at most {MAX_REFERENCES} references"
        )));
    }
    for list in LISTS {
        if p[list].as_array().is_none_or(|a| a.len() != images.len()) {
            return Err(Refusal::invalid(format!(
                "{list} must hold one entry per reference image"
            )));
        }
    }
    for (i, image) in images.iter().enumerate() {
        match png_size(image) {
            Some(size) if SIZES.contains(&size) => {}
            Some((w, h)) => {
                return Err(Refusal::invalid(format!(
                    "director_reference_images[{i}] is {w}x{h}; it must be 1024x1536, \
                     1536x1024 or 1472x1472"
                )));
            }
            None => {
                return Err(Refusal::invalid(format!(
                    "director_reference_images[{i}] must be a base64 PNG"
                )));
            }
        }
    }
    Ok(images.len() as u64 * REFERENCE_ANLAS * n_samples)
}

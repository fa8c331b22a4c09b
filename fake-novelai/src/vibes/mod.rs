//! Vibe transfer as NovelAI serves it (handbook: `novelai-api-2026.md` §5, §4.4):
//!
//! - `POST /ai/encode-vibe {image, information_extracted, model}` ([`encode`]): V4/V4.5
//!   models only (400 otherwise), 2 Anlas, 200 `application/binary` with a
//!   `<8 chars>.vibe40` attachment of opaque bytes (48,916 of them, like a V4.5 encoding).
//! - In a generation ([`check`]): V4/V4.5 take `reference_image_multiple` as encodings and
//!   break (500) on anything else, such as a raw image or another model's encoding; V3
//!   takes base64 PNGs with `reference_information_extracted_multiple`; at most 16; V5
//!   and legacy models are refused with 400 (what NovelAI does with them is not known; the
//!   fake chooses to refuse). Each vibe beyond four costs 2 Anlas on V4/V4.5.

pub mod encode;

use base64::Engine as _;
use serde_json::Value;

use crate::generation::Refusal;
use crate::rules::models::{Family, Model};

/// The first bytes of every encoding the fake makes.
pub const MAGIC: &[u8] = b"FAKE-NAI-VIBE40\0";

/// Most vibes in one generation.
pub const MAX_VIBES: usize = 16;

/// Vibes included in a generation's price; each further one costs [`EXTRA_VIBE_ANLAS`].
pub const FREE_VIBES: usize = 4;
pub const EXTRA_VIBE_ANLAS: u64 = 2;

/// The models `/ai/encode-vibe` encodes for.
pub fn encodable(model: &Model) -> bool {
    matches!(model.family, Family::V4 | Family::V45) && !model.inpainting
}

fn decode(v: &Value) -> Option<Vec<u8>> {
    let s = v.as_str()?;
    base64::engine::general_purpose::STANDARD.decode(s).ok()
}

/// The model an encoding was made for, if it is one of the fake's.
pub fn encoding_model(bytes: &[u8]) -> Option<&str> {
    let rest = bytes.strip_prefix(MAGIC)?;
    let len = usize::from(*rest.first()?);
    std::str::from_utf8(rest.get(1..1 + len)?).ok()
}

/// Checks a generation's vibes; answers the Anlas they add.
pub fn check(model: &Model, p: &Value) -> Result<u64, Refusal> {
    let images = match p.get("reference_image_multiple") {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Array(a)) if a.is_empty() => return Ok(0),
        Some(Value::Array(a)) => a,
        Some(_) => {
            return Err(Refusal::invalid(
                "reference_image_multiple must be an array",
            ));
        }
    };
    if !matches!(model.family, Family::V3 | Family::V4 | Family::V45) {
        return Err(Refusal::invalid(format!(
            "vibe transfer is not available for {}",
            model.id
        )));
    }
    if images.len() > MAX_VIBES {
        return Err(Refusal::invalid(format!("at most {MAX_VIBES} vibes")));
    }
    let strengths = p["reference_strength_multiple"].as_array();
    if strengths.is_none_or(|s| {
        s.len() != images.len()
            || !s
                .iter()
                .all(|x| x.as_f64().is_some_and(|f| (-1.0..=1.0).contains(&f)))
    }) {
        return Err(Refusal::invalid(
            "reference_strength_multiple must hold one strength (-1 to 1) per vibe",
        ));
    }
    if model.family == Family::V3 {
        let ie = p["reference_information_extracted_multiple"].as_array();
        if ie.is_none_or(|ie| ie.len() != images.len()) {
            return Err(Refusal::invalid(
                "reference_information_extracted_multiple must hold one value per vibe",
            ));
        }
        for image in images {
            let png = decode(image).filter(|b| b.starts_with(b"\x89PNG\r\n\x1a\n"));
            if png.is_none() {
                return Err(Refusal::invalid(
                    "reference_image_multiple: V3 takes PNG images",
                ));
            }
        }
        return Ok(0);
    }
    for image in images {
        let made_for = decode(image);
        let for_model = made_for.as_deref().and_then(encoding_model);
        if for_model != Some(model.id) {
            // A raw image, or another model's encoding: NovelAI's generation breaks.
            return Err(Refusal::broken(
                "reference_image_multiple holds something other than this model's encoding",
            ));
        }
    }
    Ok(images.len().saturating_sub(FREE_VIBES) as u64 * EXTRA_VIBE_ANLAS)
}

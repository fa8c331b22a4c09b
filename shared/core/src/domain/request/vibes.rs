//! Vibe transfer: `vibes: [{image, strength, information_extracted}]`, up to
//! [`MAX_VIBES`], on the models that take it. V4 and V4.5 take encodings, which the worker
//! gets from `/ai/encode-vibe` once per (image, model, information extracted) and keeps in
//! the image store; V3 takes the raw image, fitted to 448x448 as the website sends it.
//! Never with inpainting, never with Precise Reference (the website keeps them apart).

use blake2::{Blake2b256, Digest};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::Fields;
use super::images::{png_of, probe};
use super::letterbox::letterbox;
use super::{InputImage, Limits, ValidationError};
use crate::domain::models::{Family, Model};

/// Most vibes one request may carry (the website's limit).
pub const MAX_VIBES: usize = 16;

/// Vibes included in the price; each one beyond costs [`EXTRA_VIBE_ANLAS`] (V4/V4.5).
pub const FREE_VIBES: usize = 4;
pub const EXTRA_VIBE_ANLAS: u32 = 2;

/// What one `/ai/encode-vibe` call costs.
pub const ENCODE_ANLAS: u32 = 2;

/// Side of the square a V3 vibe image is sent at.
pub const V3_VIBE_SIDE: u32 = 448;

/// One vibe of a job. The image is in the store under its hash (see
/// `objects::vibe_source_key`), so the job itself holds no image bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vibe {
    /// BLAKE2b-256 of the image as given (its decoded base64), first 32 hex digits.
    pub hash: String,
    pub strength: f64,
    /// Kept to 0.01: part of the encoding's cache key.
    pub information_extracted: f64,
}

impl Vibe {
    /// The information extracted as it appears in cache keys and is sent (`0.70`).
    pub fn ie_key(&self) -> String {
        format!("{:.2}", self.information_extracted)
    }
}

/// Whether a family's vibes are encoded (V4/V4.5) rather than sent raw (V3).
pub fn encoded(family: Family) -> bool {
    matches!(family, Family::V4 | Family::V45)
}

/// A vibe's image to store: the original for encoding, or V3's fitted PNG.
#[derive(Debug, Clone)]
pub struct VibeImage {
    pub hash: String,
    pub image: InputImage,
}

fn hash_of(bytes: &[u8]) -> String {
    let digest = Blake2b256::digest(bytes);
    hex::encode(&digest[..16])
}

/// The optional `vibes` list. `inpaint`: the request has a mask.
pub(super) fn vibes(
    f: &Fields<'_>,
    model: &Model,
    inpaint: bool,
    limits: &Limits,
) -> Result<(Vec<Vibe>, Vec<VibeImage>), ValidationError> {
    let items = f.list("vibes", "{image, strength, information_extracted}")?;
    if items.is_empty() {
        return Ok(Default::default());
    }
    if !matches!(model.family, Family::V3 | Family::V4 | Family::V45) {
        return Err(ValidationError::invalid(
            "vibes",
            format!(
                "vibe transfer is available on V3, V4 and V4.5 models, not {}",
                model.id
            ),
        ));
    }
    if inpaint {
        return Err(ValidationError::invalid(
            "vibes",
            "vibes cannot be used with inpainting (mask)",
        ));
    }
    if f.get("references")
        .is_some_and(|r| r.as_array().is_none_or(|a| !a.is_empty()))
    {
        return Err(ValidationError::invalid(
            "vibes",
            "vibes and references cannot be used together",
        ));
    }
    if items.len() > MAX_VIBES {
        return Err(ValidationError::invalid(
            "vibes",
            format!("at most {MAX_VIBES} vibes"),
        ));
    }
    let default_ie = if model.id == "nai-diffusion-4-5-full" {
        0.7
    } else {
        1.0
    };
    let mut vibes = Vec::with_capacity(items.len());
    let mut images: Vec<VibeImage> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(ValidationError::invalid(
                &format!("vibes[{i}]"),
                format!("vibes[{i}] must be an object with an image"),
            ));
        };
        let v = Fields {
            map,
            prefix: format!("vibes[{i}]."),
        };
        let field = v.path("image");
        let b64 = match v.get("image") {
            None => return Err(ValidationError::missing(&field)),
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(ValidationError::invalid(
                    &field,
                    format!("{field} must be a string"),
                ));
            }
        };
        let strength = v.number("strength", 0.0, 1.0)?.unwrap_or(0.6);
        let ie = v
            .number("information_extracted", 0.0, 1.0)?
            .unwrap_or(default_ie);
        let probed = probe(b64, limits, field)?;
        let (bytes, content_type) = probed.encoded();
        let hash = hash_of(bytes);
        vibes.push(Vibe {
            hash: hash.clone(),
            strength,
            information_extracted: (ie * 100.0).round() / 100.0,
        });
        if images.iter().any(|img| img.hash == hash) {
            continue;
        }
        let image = if encoded(model.family) {
            InputImage {
                bytes: bytes.to_vec(),
                content_type,
            }
        } else {
            let field = probed.field().to_string();
            let fitted = letterbox(&probed.decode()?, V3_VIBE_SIDE, V3_VIBE_SIDE);
            InputImage {
                bytes: png_of(&image::DynamicImage::ImageRgb8(fitted), &field)?,
                content_type: "image/png",
            }
        };
        images.push(VibeImage { hash, image });
    }
    Ok((vibes, images))
}

/// The Anlas vibes add to a request: `encodes` calls to `/ai/encode-vibe` still needed,
/// and the surcharge for each vibe beyond [`FREE_VIBES`] (V4/V4.5).
pub fn vibe_surcharge(family: Family, vibes: usize, encodes: usize) -> u32 {
    if !encoded(family) {
        return 0;
    }
    let extra = vibes.saturating_sub(FREE_VIBES) as u32 * EXTRA_VIBE_ANLAS;
    extra + encodes as u32 * ENCODE_ANLAS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_surcharge_follows_the_website() {
        // H_(n): 1→0, 4→0, 5→2, 8→8, 16→24.
        for (n, want) in [(1, 0), (4, 0), (5, 2), (8, 8), (16, 24)] {
            assert_eq!(vibe_surcharge(Family::V45, n, 0), want, "{n} vibes");
        }
        assert_eq!(vibe_surcharge(Family::V45, 2, 2), 4);
        assert_eq!(vibe_surcharge(Family::V3, 8, 0), 0);
    }
}

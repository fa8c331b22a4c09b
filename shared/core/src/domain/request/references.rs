//! Precise Reference (Character Reference): `references: [{image, type, strength,
//! fidelity}]`, up to [`MAX_REFERENCES`], on V4.5 (and V5 Full/Curated when
//! `PRECISE_REFERENCE_V5` is on: the facts conflict, NovelAI's website had it off through
//! October 2026). Each image is fitted as the website does: letter-boxed on black into
//! the allowed size nearest its shape (1024x1536, 1536x1024 or 1472x1472). 5 Anlas per
//! reference and image.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields::Fields;
use super::images::{png_of, probe};
use super::letterbox::letterbox;
use super::{InputImage, Limits, ValidationError};
use crate::domain::models::{Family, Model};

/// Most references one request may carry.
pub const MAX_REFERENCES: usize = 16;

/// Anlas per reference and image.
pub const REFERENCE_ANLAS: u32 = 5;

/// The sizes a reference image is sent at (portrait, landscape, square).
pub const REFERENCE_SIZES: [(u32, u32); 3] = [(1024, 1536), (1536, 1024), (1472, 1472)];

/// What a reference carries over.
pub const REFERENCE_TYPES: [&str; 3] = ["character", "style", "character&style"];

/// One reference of a job; its image is a job input (`objects::reference_key`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reference {
    /// `character`, `style` or `character&style`.
    pub kind: String,
    pub strength: f64,
    /// Sent as `1 - fidelity` (`director_reference_secondary_strength_values`).
    pub fidelity: f64,
}

/// The allowed size nearest the image's aspect ratio.
pub fn reference_size(width: u32, height: u32) -> (u32, u32) {
    let aspect = (f64::from(width) / f64::from(height.max(1))).ln();
    REFERENCE_SIZES
        .into_iter()
        .min_by(|a, b| {
            let d = |(w, h): (u32, u32)| (aspect - (f64::from(w) / f64::from(h)).ln()).abs();
            d(*a).total_cmp(&d(*b))
        })
        .expect("three sizes")
}

/// Whether a model takes Precise Reference; `v5` = the V5 switch is on.
fn takes_references(model: &Model, v5: bool) -> bool {
    match model.family {
        Family::V45 => true,
        Family::V5 => v5 && !model.medium,
        _ => false,
    }
}

/// The optional `references` list, with each image fitted.
pub(super) fn references(
    f: &Fields<'_>,
    model: &Model,
    limits: &Limits,
) -> Result<(Vec<Reference>, Vec<InputImage>), ValidationError> {
    let items = f.list("references", "{image, type, strength, fidelity}")?;
    if items.is_empty() {
        return Ok(Default::default());
    }
    if !takes_references(model, limits.v5_references) {
        return Err(ValidationError::invalid(
            "references",
            format!("Precise Reference is not available for {}", model.id),
        ));
    }
    if items.len() > MAX_REFERENCES {
        return Err(ValidationError::invalid(
            "references",
            format!("at most {MAX_REFERENCES} references"),
        ));
    }
    let mut refs = Vec::with_capacity(items.len());
    let mut images = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Value::Object(map) = item else {
            return Err(ValidationError::invalid(
                &format!("references[{i}]"),
                format!("references[{i}] must be an object with an image"),
            ));
        };
        let r = Fields {
            map,
            prefix: format!("references[{i}]."),
        };
        let kind = match r.string("type")? {
            None => "character",
            Some(t) => REFERENCE_TYPES
                .into_iter()
                .find(|k| *k == t.trim())
                .ok_or_else(|| {
                    let name = r.path("type");
                    ValidationError::invalid(
                        &name,
                        format!("{name} must be character, style or character&style"),
                    )
                })?,
        };
        let strength = r.number("strength", 0.0, 1.0)?.unwrap_or(1.0);
        let fidelity = r.number("fidelity", 0.0, 1.0)?.unwrap_or(1.0);
        let field = r.path("image");
        let b64 = match r.get("image") {
            None => return Err(ValidationError::missing(&field)),
            Some(Value::String(s)) => s,
            Some(_) => {
                return Err(ValidationError::invalid(
                    &field,
                    format!("{field} must be a string"),
                ));
            }
        };
        let probed = probe(b64, limits, field.clone())?;
        let (w, h) = reference_size(probed.width, probed.height);
        let fitted = letterbox(&probed.decode()?, w, h);
        images.push(InputImage {
            bytes: png_of(&image::DynamicImage::ImageRgb8(fitted), &field)?,
            content_type: "image/png",
        });
        refs.push(Reference {
            kind: kind.to_string(),
            strength,
            fidelity,
        });
    }
    Ok((refs, images))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shape_gets_the_nearest_allowed_size() {
        assert_eq!(reference_size(832, 1216), (1024, 1536));
        assert_eq!(reference_size(1216, 832), (1536, 1024));
        assert_eq!(reference_size(500, 520), (1472, 1472));
        assert_eq!(reference_size(64, 4096), (1024, 1536));
    }
}

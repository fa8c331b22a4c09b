//! The image size: `width`/`height`, a named `resolution`, or an input image's own size
//! on NovelAI's 64-pixel grid, within the largest area NovelAI generates.

use super::ValidationError;
use super::fields::Fields;
use crate::domain::models;

/// The size asked for (`width` and `height`, or `resolution`; portrait by default).
pub(super) fn size(f: &Fields<'_>) -> Result<(u32, u32), ValidationError> {
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

/// An image's size on NovelAI's grid: multiples of 64, scaled down to the largest area.
pub(super) fn grid_size(w: u32, h: u32) -> (u32, u32) {
    let area = f64::from(w) * f64::from(h);
    let scale = (models::MAX_AREA as f64 / area).sqrt().min(1.0);
    let snap = |v: u32| (((f64::from(v) * scale) / 64.0).floor() as u32).max(1) * 64;
    (snap(w), snap(h))
}

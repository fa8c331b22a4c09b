//! The image size: `width`/`height`, a named `resolution`, or an input image's own size
//! on NovelAI's 64-pixel grid, within the largest area NovelAI generates.

use super::ValidationError;
use super::fields::Fields;
use crate::domain::models::{self, MAX_AREA, MAX_SIDE, SIDE_STEP};

/// The size asked for (`width` and `height`, or `resolution`; portrait by default).
pub(super) fn size(f: &Fields<'_>) -> Result<(u32, u32), ValidationError> {
    let dim = |name: &str| -> Result<Option<u32>, ValidationError> {
        let Some(n) = f.integer(name, i64::from(SIDE_STEP), i64::from(MAX_SIDE))? else {
            return Ok(None);
        };
        if n % i64::from(SIDE_STEP) != 0 {
            return Err(ValidationError::invalid(
                name,
                format!("{name} must be a multiple of {SIDE_STEP}"),
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
    if u64::from(width) * u64::from(height) > MAX_AREA {
        return Err(ValidationError::invalid(
            if w.is_some() { "width" } else { "resolution" },
            format!("{width}x{height} is larger than {MAX_AREA} pixels"),
        ));
    }
    Ok((width, height))
}

/// An image's size on NovelAI's grid: multiples of 64, scaled down (keeping the aspect) to
/// fit the largest area and the longest side. A side that would round below 64 is 64, so
/// an extreme aspect is stretched rather than refused; the result is always a size that
/// [`size`] accepts.
pub(super) fn grid_size(w: u32, h: u32) -> (u32, u32) {
    let (wf, hf) = (f64::from(w.max(1)), f64::from(h.max(1)));
    let side = f64::from(MAX_SIDE);
    let scale = (MAX_AREA as f64 / (wf * hf))
        .sqrt()
        .min(side / wf)
        .min(side / hf)
        .min(1.0);
    let snap = |v: f64| {
        let cells = (v * scale / f64::from(SIDE_STEP)).floor() as u32;
        cells.clamp(1, MAX_SIDE / SIDE_STEP) * SIDE_STEP
    };
    (snap(wf), snap(hf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_sizes_stay_within_novelai_limits_whatever_the_image() {
        let sides = [
            1,
            63,
            64,
            65,
            100,
            127,
            128,
            700,
            1000,
            1023,
            1024,
            1025,
            1728,
            1773,
            1774,
            2048,
            3000,
            3072,
            4095,
            4096,
            4097,
            8192,
            16_384,
            65_535,
            262_144,
            1 << 20,
            u32::MAX,
        ];
        for w in sides {
            for h in sides {
                let (gw, gh) = grid_size(w, h);
                for side in [gw, gh] {
                    assert!(
                        (SIDE_STEP..=MAX_SIDE).contains(&side) && side % SIDE_STEP == 0,
                        "{w}x{h} -> {gw}x{gh}"
                    );
                }
                assert!(
                    u64::from(gw) * u64::from(gh) <= MAX_AREA,
                    "{w}x{h} -> {gw}x{gh}"
                );
                // Never larger than the image, once it is at least one cell.
                if w >= SIDE_STEP && h >= SIDE_STEP {
                    assert!(gw <= w && gh <= h, "{w}x{h} -> {gw}x{gh}");
                }
            }
        }
        assert_eq!(grid_size(1000, 700), (960, 640));
        assert_eq!(grid_size(4096, 4096), (1728, 1728));
        // Very wide: the side is capped, the height kept at one cell.
        assert_eq!(grid_size(8192, 64), (4096, 64));
        assert_eq!(grid_size(64, 262_144), (64, 4096));
    }

    #[test]
    fn a_very_wide_image_without_a_size_gets_an_allowed_width() {
        use base64::Engine as _;
        let png = naiq_testkit::png_of(8192, 64);
        let body = serde_json::json!({
            "prompt": "x",
            "image": base64::engine::general_purpose::STANDARD.encode(png),
        });
        let r =
            super::super::parse_submit(body.to_string().as_bytes(), &Default::default()).unwrap();
        assert_eq!((r.params.width, r.params.height), (4096, 64));
    }
}

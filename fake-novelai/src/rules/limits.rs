//! Size, sample-count and range limits of a generation (NovelAI's documented limits unless
//! a rule says otherwise).

use super::models::Model;

/// Width and height are multiples of this, and at least this.
pub const SIZE_STEP: u64 = 64;

/// The largest image area NovelAI generates: 3,145,728 pixels (1024×3072, 1536×2048).
/// Older client code used 3,047,424; the website and live answers allow 3,145,728.
pub const MAX_PIXELS: u64 = 3_145_728;

/// The most samples one request may ask for, whatever the size.
pub const MAX_SAMPLES: u64 = 8;

/// Steps: 1–50; V5 Full Medium runs a fixed 14.
pub const STEPS: std::ops::RangeInclusive<u64> = 1..=50;
pub const MEDIUM_STEPS: u64 = 14;

/// Prompt guidance (`scale`): 0–10.
pub const SCALE: std::ops::RangeInclusive<f64> = 0.0..=10.0;

/// `cfg_rescale`: 0–1 (Medium has none: 0 or left out).
pub const CFG_RESCALE: std::ops::RangeInclusive<f64> = 0.0..=1.0;

/// Image-to-image `strength`: 0.01–0.99.
pub const STRENGTH: std::ops::RangeInclusive<f64> = 0.01..=0.99;

/// `inpaintImg2ImgStrength` (the inpainting strength, which also scales the price): 0–1
/// (the website sends 1 unless a partial-strength inpaint asks less; other values are
/// refused by the fake's own strictness).
pub const INPAINT_STRENGTH: std::ops::RangeInclusive<f64> = 0.0..=1.0;

/// Image-to-image `noise`: 0–0.99.
pub const NOISE: std::ops::RangeInclusive<f64> = 0.0..=0.99;

/// A seed is an unsigned 32-bit integer (0 lets the server pick); sample `i` uses
/// `seed + i`.
pub const MAX_SEED: u64 = u32::MAX as u64;

/// A character's centre: x and y in [0, 1] (V4/V4.5 snap them to a 5×5 grid, V5 places
/// them freely; the fake takes any point in the square).
pub const CENTER: std::ops::RangeInclusive<f64> = 0.0..=1.0;

/// Whether a width or height is one NovelAI generates: a multiple of 64, at least 64.
pub fn valid_side(side: u64) -> bool {
    side >= SIZE_STEP && side.is_multiple_of(SIZE_STEP)
}

/// The most samples one request may ask for at this size: 8 up to 360,448 pixels, 6 up to
/// 409,600, 4 above (the website's table and NovelAI's documentation: Small ≤ 6,
/// Normal/Large ≤ 4). Older client code shrank it further above 1,310,720 pixels.
pub fn max_samples(width: u64, height: u64) -> u64 {
    match width.saturating_mul(height) {
        a if a <= 360_448 => 8,
        a if a <= 409_600 => 6,
        _ => 4,
    }
}

/// The steps a model runs: 1–50, or exactly 14 at Medium effort (the website fixes them).
pub fn steps_allowed(model: &Model, steps: u64) -> bool {
    if model.medium {
        steps == MEDIUM_STEPS
    } else {
        STEPS.contains(&steps)
    }
}

/// The `cfg_rescale` a model takes: 0–1, or only 0 at Medium effort (no CFG rescale).
pub fn cfg_rescale_allowed(model: &Model, value: f64) -> bool {
    if model.medium {
        value == 0.0
    } else {
        CFG_RESCALE.contains(&value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::models::find;

    #[test]
    fn sides_are_multiples_of_64() {
        for ok in [64, 512, 832, 1216, 3072] {
            assert!(valid_side(ok), "{ok}");
        }
        for bad in [0, 1, 63, 100, 832 + 32] {
            assert!(!valid_side(bad), "{bad}");
        }
    }

    #[test]
    fn sample_limits_shrink_with_area() {
        assert_eq!(max_samples(512, 640), 8);
        assert_eq!(max_samples(640, 640), 6);
        assert_eq!(max_samples(512, 768), 6);
        assert_eq!(max_samples(832, 1216), 4);
        assert_eq!(max_samples(1472, 1472), 4);
        assert_eq!(max_samples(1024, 3072), 4);
        assert_eq!(max_samples(u64::MAX, u64::MAX), 4);
    }

    #[test]
    fn medium_has_fixed_steps_and_no_cfg_rescale() {
        let full = find("nai-diffusion-5-full").unwrap();
        let medium = find("nai-diffusion-5-full-medium").unwrap();
        assert!(steps_allowed(full, 1) && steps_allowed(full, 50));
        assert!(!steps_allowed(full, 0) && !steps_allowed(full, 51));
        assert!(steps_allowed(medium, 14) && !steps_allowed(medium, 23));
        assert!(cfg_rescale_allowed(full, 0.7) && !cfg_rescale_allowed(full, 1.5));
        assert!(cfg_rescale_allowed(medium, 0.0) && !cfg_rescale_allowed(medium, 0.2));
    }
}

//! The Anlas price of a generation, as the website's quote function computes it (and
//! NovelAI charges):
//!
//! ```text
//! r    = width * height
//! base = ceil(2.951823174884865e-6 * r + 5.753298233447344e-7 * r * steps)
//! k    = infill ? (inpaintImg2ImgStrength ?? 1) : img2img ? strength : 1
//! per  = max(ceil(base * smea * (V5 ? 1.5 : 1) * k), 2)    smea: 1.4 / 1.2 / 1, V3 only
//! per > 140: the request is invalid (400)
//! total = per * (n_samples - free samples)
//! ```
//!
//! The base is rounded up first and the product once more: `ceil(raw * 1.5)` would be
//! wrong (1024×1024 at 29 steps is 21 → 32 Anlas, not 31). The arithmetic is done in
//! `f64`, in the website's order, so its rounding matches the website's. `r` is the plain
//! area (the website's 2026 function; the older handbook floors it at 65,536 pixels,
//! which only matters below 256×256, where the minimum of 2 usually rules anyway). V1/V2
//! models are priced with the same formula (NovelAI used cost tables for them).
//!
//! ×1.5 applies to the V5 family's model ids, inpainting and Medium included. V5
//! Curated inpaints with the V4.5 Curated inpainting id, so that is priced (and free) as
//! V4.5: the server sees only the id.
//!
//! V5 Full at Medium effort: ⚠ two price sets conflict. October 2026 clients charge 17 at
//! 832×1216 (a factor of about 0.94 on the per-step part); the November website charges
//! 15 ("about 42 % less" than High, as NovelAI's documentation says). The fake prices
//! Medium at its fixed 14 steps with the per-step part scaled by a factor,
//! [`DEFAULT_MEDIUM_STEP_FACTOR`] = 0.8 (15 Anlas at 832×1216), changeable per fake
//! (`PUT /_fake/config {"medium_step_factor": F}`; 0.95 gives October's 17).
//!
//! The Opus free sample: one sample per request is free for an active Opus (tier 3)
//! when `width * height <= 1,048,576` and `steps <= 28`, and, on the V5 family, only
//! while its usage gauge is not negative.

use crate::generation::{Action, Generation};
use crate::rules::Family;
use crate::rules::limits::MEDIUM_STEPS;

/// Anlas per pixel.
pub const PER_PIXEL: f64 = 2.951823174884865e-6;
/// Anlas per pixel and step.
pub const PER_PIXEL_STEP: f64 = 5.753298233447344e-7;
/// The V5 family's surcharge on the rounded base.
pub const V5_FACTOR: f64 = 1.5;
/// No image costs less.
pub const MIN_PRICE: u64 = 2;
/// An image priced above this makes the request invalid.
pub const MAX_PRICE: u64 = 140;
/// The factor on Medium's per-step part unless a fake is told otherwise.
pub const DEFAULT_MEDIUM_STEP_FACTOR: f64 = 0.8;
/// The Opus free sample's largest area…
pub const FREE_MAX_PIXELS: u64 = 1_048_576;
/// …and most steps.
pub const FREE_MAX_STEPS: u32 = 28;
/// The tier whose free sample it is (Opus).
pub const FREE_TIER: u8 = 3;

/// The base price: the area and steps part, rounded up.
pub fn base(width: u32, height: u32, steps: f64) -> f64 {
    let r = f64::from(width) * f64::from(height);
    (PER_PIXEL * r + PER_PIXEL_STEP * r * steps).ceil()
}

/// SMEA's factor (V3 only): 1.4 with `sm_dyn`, 1.2 with `sm`, also when named by the
/// website's `nai_smea_dyn` / `nai_smea` samplers.
fn smea(g: &Generation) -> f64 {
    if g.model.family != Family::V3 {
        return 1.0;
    }
    let on = |name: &str| g.parameters[name].as_bool() == Some(true);
    match g.sampler {
        "nai_smea_dyn" => 1.4,
        "nai_smea" => 1.2,
        _ if on("sm") && on("sm_dyn") => 1.4,
        _ if on("sm") => 1.2,
        _ => 1.0,
    }
}

/// The strength factor: the inpainting strength for infill, the strength for img2img.
fn strength(g: &Generation) -> f64 {
    let p = &g.parameters;
    match g.action {
        Action::Generate => 1.0,
        Action::Img2Img => p["strength"].as_f64().unwrap_or(1.0),
        Action::Infill => p["inpaintImg2ImgStrength"].as_f64().unwrap_or(1.0),
    }
}

/// Whether the model draws on Opus's usage gauge: the V5 family.
pub fn usage_limited(g: &Generation) -> bool {
    g.model.family == Family::V5
}

/// The price of one image of this generation (before the free sample).
pub fn per_image(g: &Generation, medium_step_factor: f64) -> u64 {
    let steps = if g.model.medium {
        MEDIUM_STEPS as f64 * medium_step_factor
    } else {
        f64::from(g.steps)
    };
    let family = if usage_limited(g) { V5_FACTOR } else { 1.0 };
    let price = (base(g.width, g.height, steps) * smea(g) * family * strength(g)).ceil();
    // A price is at most a few hundred; the cast cannot truncate.
    (price.max(0.0) as u64).max(MIN_PRICE)
}

/// Who asks, as far as the free sample cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscriber {
    pub tier: u8,
    pub active: bool,
    /// The usage gauge is negative (exhausted): V5 images are billed.
    pub usage_negative: bool,
}

/// What a generation costs an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    pub per_image: u64,
    pub samples: u32,
    /// 0 or 1: the Opus free sample.
    pub free: u32,
    /// Whether the free sample draws on the usage gauge (V5).
    pub usage_limited: bool,
    /// Surcharges (vibes beyond four, Precise References), never free.
    pub extra: u64,
}

impl Quote {
    /// The Anlas charged.
    pub fn anlas(&self) -> u64 {
        self.per_image * u64::from(self.samples - self.free) + self.extra
    }
}

/// The quote of a generation for a subscriber.
pub fn quote(g: &Generation, who: Subscriber, medium_step_factor: f64) -> Quote {
    let limited = usage_limited(g);
    let free = who.tier >= FREE_TIER
        && who.active
        && u64::from(g.width) * u64::from(g.height) <= FREE_MAX_PIXELS
        && g.steps <= FREE_MAX_STEPS
        && !(limited && who.usage_negative);
    Quote {
        per_image: per_image(g, medium_step_factor),
        samples: g.n_samples,
        free: u32::from(free && g.n_samples > 0),
        usage_limited: limited,
        extra: g.extra_anlas,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generation::validate;
    use serde_json::{Value, json};

    fn body(model: &str, width: u32, height: u32, steps: u32, n: u32) -> Value {
        json!({
            "input": "1girl", "model": model, "action": "generate",
            "parameters": {
                "params_version": 4, "width": width, "height": height, "scale": 5,
                "sampler": "k_euler_ancestral", "steps": steps, "n_samples": n, "seed": 1,
                "v4_prompt": {"caption": {"base_caption": "1girl", "char_captions": []},
                              "use_coords": false, "use_order": true},
                "v4_negative_prompt": {"caption": {"base_caption": "", "char_captions": []},
                                       "legacy_uc": false},
            }
        })
    }

    fn priced(b: &Value) -> u64 {
        per_image(
            &validate(b.to_string().as_bytes()).unwrap(),
            DEFAULT_MEDIUM_STEP_FACTOR,
        )
    }

    fn v5(width: u32, height: u32, steps: u32) -> u64 {
        priced(&body("nai-diffusion-5-full", width, height, steps, 1))
    }

    #[test]
    fn v5_prices_are_the_websites() {
        for (w, h, steps, anlas) in [
            (832, 1216, 23, 26),
            (832, 1216, 28, 30),
            (1024, 1024, 23, 26),
            (1024, 1024, 28, 30),
            (1024, 1024, 29, 32),
            (1024, 1024, 50, 51),
            (1024, 1536, 23, 39),
            (1024, 1536, 28, 45),
            (512, 512, 28, 8),
            (512, 512, 50, 14),
            (1536, 1536, 37, 87),
            (1600, 1600, 28, 74),
            (1088, 1024, 28, 33),
            (1536, 2048, 50, 150),
        ] {
            assert_eq!(v5(w, h, steps), anlas, "{w}x{h} @{steps}");
        }
        assert!(v5(1536, 2048, 50) > MAX_PRICE);
        let curated = body("nai-diffusion-5-curated", 832, 1216, 23, 1);
        assert_eq!(priced(&curated), 26, "Curated is priced as Full");
        let inpaint = body("nai-diffusion-5-full-inpainting", 832, 1216, 23, 1);
        assert_eq!(priced(&inpaint), 26);
    }

    #[test]
    fn v45_and_v3_prices_have_no_surcharge_but_smea() {
        let v45 = |w, h, steps| priced(&body("nai-diffusion-4-5-full", w, h, steps, 1));
        assert_eq!(v45(832, 1216, 23), 17);
        assert_eq!(v45(832, 1216, 28), 20);
        assert_eq!(v45(1024, 1024, 29), 21);
        assert_eq!(v45(1536, 1536, 37), 58);
        assert_eq!(v45(64, 64, 1), MIN_PRICE);
        let mut v3 = body("nai-diffusion-3", 832, 1216, 28, 1);
        v3["parameters"]["sampler"] = json!("k_euler");
        v3["parameters"]["params_version"] = json!(1);
        assert_eq!(priced(&v3), 20);
        v3["parameters"]["sm"] = json!(true);
        assert_eq!(priced(&v3), 24, "20 x 1.2");
        v3["parameters"]["sm_dyn"] = json!(true);
        assert_eq!(priced(&v3), 28, "20 x 1.4");
        v3["parameters"]["sm"] = json!(false);
        v3["parameters"]["sampler"] = json!("nai_smea");
        assert_eq!(priced(&v3), 24);
    }

    #[test]
    fn strength_scales_img2img_and_the_inpainting_strength_infill() {
        let png = {
            use base64::Engine as _;
            let mut out = Vec::new();
            let mut enc = png::Encoder::new(&mut out, 8, 8);
            enc.set_color(png::ColorType::Rgba);
            enc.write_header()
                .unwrap()
                .write_image_data(&[0; 256])
                .unwrap();
            base64::engine::general_purpose::STANDARD.encode(out)
        };
        let mut b = body("nai-diffusion-5-full", 1024, 1024, 29, 1);
        b["action"] = json!("img2img");
        b["parameters"]["image"] = json!(png);
        for (strength, anlas) in [(0.01, 2), (0.3, 10), (0.7, 23)] {
            b["parameters"]["strength"] = json!(strength);
            assert_eq!(priced(&b), anlas, "strength {strength}");
        }
        b["action"] = json!("infill");
        b["model"] = json!("nai-diffusion-5-full-inpainting");
        b["parameters"]["mask"] = json!(png);
        assert_eq!(priced(&b), 32, "infill without inpaintImg2ImgStrength: 1");
        b["parameters"]["inpaintImg2ImgStrength"] = json!(0.3);
        assert_eq!(priced(&b), 10);
    }

    #[test]
    fn medium_uses_its_step_factor() {
        let g = |w, h| {
            validate(
                body("nai-diffusion-5-full-medium", w, h, 14, 1)
                    .to_string()
                    .as_bytes(),
            )
            .unwrap()
        };
        assert_eq!(per_image(&g(832, 1216), DEFAULT_MEDIUM_STEP_FACTOR), 15);
        assert_eq!(per_image(&g(1024, 1024), DEFAULT_MEDIUM_STEP_FACTOR), 15);
        // October 2026's prices come back with a factor of 0.95.
        assert_eq!(per_image(&g(832, 1216), 0.95), 17);
        assert_eq!(per_image(&g(1024, 1024), 0.95), 18);
        assert_eq!(per_image(&g(832, 1216), 1.0), 18, "as High at 14 steps");
    }

    #[test]
    fn opus_gets_one_free_sample_within_the_limits() {
        let opus = Subscriber {
            tier: 3,
            active: true,
            usage_negative: false,
        };
        let q = |model: &str, w, h, steps, n, who| {
            let g = validate(body(model, w, h, steps, n).to_string().as_bytes()).unwrap();
            quote(&g, who, DEFAULT_MEDIUM_STEP_FACTOR).anlas()
        };
        let full = "nai-diffusion-5-full";
        assert_eq!(q(full, 1024, 1024, 28, 1, opus), 0);
        assert_eq!(q(full, 1216, 832, 28, 1, opus), 0);
        assert_eq!(q(full, 1088, 960, 28, 1, opus), 0);
        assert_eq!(q(full, 1088, 1024, 28, 1, opus), 33);
        assert_eq!(q(full, 1024, 1024, 28, 2, opus), 30);
        assert_eq!(q(full, 1024, 1024, 28, 3, opus), 60);
        for (n, anlas) in [(1, 32), (2, 64), (3, 96), (4, 128)] {
            assert_eq!(q(full, 1024, 1024, 29, n, opus), anlas, "@29 n{n}");
        }
        let exhausted = Subscriber {
            usage_negative: true,
            ..opus
        };
        assert_eq!(q(full, 832, 1216, 23, 1, exhausted), 26);
        let medium = "nai-diffusion-5-full-medium";
        assert_eq!(q(medium, 832, 1216, 14, 1, exhausted), 15);
        assert_eq!(q(medium, 832, 1216, 14, 1, opus), 0);
        // The gauge is V5's: V4.5 stays free.
        assert_eq!(q("nai-diffusion-4-5-full", 832, 1216, 23, 1, exhausted), 0);
        let scroll = Subscriber { tier: 2, ..opus };
        assert_eq!(q(full, 832, 1216, 23, 1, scroll), 26);
        let lapsed = Subscriber {
            active: false,
            ..opus
        };
        assert_eq!(q(full, 832, 1216, 23, 1, lapsed), 26);
    }
}

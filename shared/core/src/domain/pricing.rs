//! What a generation costs in Anlas: the website's quote function, one formula for every
//! family, V5 priced ×1.5 on a rounded base:
//!
//! ```text
//! r     = w*h
//! base  = ceil(2.951823174884865e-6*r + 5.753298233447344e-7*r*steps)
//!         (V5 Full Medium: steps fixed at 14, the per-step part × MEDIUM_STEP_FACTOR)
//! mult  = 1.4 if sm && sm_dyn, 1.2 if sm, else 1            (V3 only)
//! v5    = 1.5 for V5 models, else 1
//! s     = strength for image-to-image (sent as inpaintImg2ImgStrength when inpainting), else 1
//! per   = max(ceil(base*mult*v5*s), 2)       (ceil the base first, then once more)
//! valid = per <= 140                          (over it the website calls the request invalid)
//! free  = free image && steps <= 28 && r <= 1048576   → billable = n_samples - 1
//! total = per * billable
//! ```
//!
//! "Free image" is the Opus subscription's one free sample per request; for V5 it holds only
//! while the account's V5 usage is not exhausted (`AccountInfo::free_image_for`). Legacy
//! (V1/V2) models are priced from tables on the website; naiq applies the same formula to
//! them, so their figure is an estimate.

use serde::Serialize;

use crate::domain::GenerationParams;
use crate::domain::director::{DirectorTool, JobKind};
use crate::domain::models::{self, Family};

/// Anlas per image above which the website treats a request as invalid (it shows -3).
pub const MAX_PER_IMAGE: u32 = 140;

/// Largest area (pixels) an Opus subscription generates for free (1024×1024).
const OPUS_FREE_MAX_AREA: u64 = 1_048_576;

/// Most steps an Opus subscription generates for free.
const OPUS_FREE_MAX_STEPS: u32 = 28;

/// What V5 costs relative to the same image on V4.5 (applied to the rounded base).
const V5_FACTOR: f64 = 1.5;

/// V5 Full Medium's factor on the per-step part of the base. NovelAI has not published it,
/// and clients disagree: in October 2026 832×1216 cost 17 (a factor of about 0.94), since
/// late November the website quotes 15, about 42% below V5 High as NovelAI's documentation
/// says. 0.8 reproduces the newer quote (15 at 832×1216, 15 at 1024×1024); change it here
/// when NovelAI's figure is known.
pub const MEDIUM_STEP_FACTOR: f64 = 0.8;

const AREA_COEFFICIENT: f64 = 2.951823174884865e-6;
const STEP_COEFFICIENT: f64 = 5.753298233447344e-7;

/// The price of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Cost {
    /// Anlas per image.
    pub per_image: u32,
    /// Images paid for: `n_samples`, less the one Opus gets free.
    pub billable_images: u32,
    /// `per_image * billable_images + surcharges`.
    pub total: u32,
    /// Whether one image of this request is free (Opus; for V5, while its usage lasts).
    pub opus_free: bool,
    /// Vibe encodings still to be made (`/ai/encode-vibe`, 2 Anlas each): 0 when every
    /// vibe's encoding is already stored.
    #[serde(default)]
    pub vibe_encodes: u32,
    /// What comes on top of the images: vibe encodes, vibes beyond four, Precise
    /// References (5 per reference and image).
    #[serde(default)]
    pub surcharges: u32,
}

impl Cost {
    /// Adds `anlas` of surcharges to the total.
    pub fn add_surcharge(&mut self, anlas: u32) {
        self.surcharges += anlas;
        self.total += anlas;
    }
}

/// The Anlas a request costs; `free_image` = the account grants its one free sample for
/// this model (see `AccountInfo::free_image_for`).
pub fn anlas_cost(params: &GenerationParams, free_image: bool) -> Cost {
    match params.kind {
        JobKind::Generate => generation_cost(params, free_image),
        // Priced as V3 at 28 steps at the image's size (the settings say so), free on
        // Opus up to 1 MP; background removal is three images and 5 more, never free.
        JobKind::Augment(a) if a.tool == DirectorTool::BgRemoval => {
            let mut cost = generation_cost(params, false);
            cost.add_surcharge(BG_REMOVAL_SURCHARGE);
            cost
        }
        JobKind::Augment(_) => generation_cost(params, free_image),
        JobKind::Upscale => {
            let per_image = upscale_price(u64::from(params.width) * u64::from(params.height));
            Cost {
                per_image,
                billable_images: 1,
                total: per_image,
                ..Cost::default()
            }
        }
    }
}

/// What background removal costs on top of its three images.
pub const BG_REMOVAL_SURCHARGE: u32 = 5;

/// An upscale's price by the source's pixels: 1 Anlas up to 1,048,576, 2 up to 1,747,627,
/// 3 up to 2,446,678, 4 up to 3,145,728 (the largest accepted); no Opus discount.
pub fn upscale_price(pixels: u64) -> u32 {
    match pixels {
        0..=1_048_576 => 1,
        1_048_577..=1_747_627 => 2,
        1_747_628..=2_446_678 => 3,
        _ => 4,
    }
}

/// A generation's price (also a Director tool's, whose settings are V3 at 28 steps).
fn generation_cost(params: &GenerationParams, free_image: bool) -> Cost {
    let r = u64::from(params.width) * u64::from(params.height);
    let rf = r as f64;
    let medium = models::resolve_model(&params.model).is_some_and(|m| m.medium);
    let (steps, step_factor) = if medium {
        (models::MEDIUM_STEPS, MEDIUM_STEP_FACTOR)
    } else {
        (params.steps, 1.0)
    };
    let base =
        (AREA_COEFFICIENT * rf + STEP_COEFFICIENT * rf * f64::from(steps) * step_factor).ceil();
    let mult = match (params.family, params.sm, params.sm_dyn) {
        (Family::V3 | Family::Legacy, true, true) => 1.4,
        (Family::V3 | Family::Legacy, true, false) => 1.2,
        _ => 1.0,
    };
    let v5 = if params.family.is_v5() {
        V5_FACTOR
    } else {
        1.0
    };
    // Inpainting: the website prices by inpaintImg2ImgStrength, which naiq sends equal to
    // the strength, so both cases scale by the strength.
    let s = params.img2img.map_or(1.0, |i| i.strength);
    let per_image = ((base * mult * v5 * s).ceil() as u32).max(2);
    let opus_free = free_image && steps <= OPUS_FREE_MAX_STEPS && r <= OPUS_FREE_MAX_AREA;
    let billable_images = if opus_free {
        params.n_samples.saturating_sub(1)
    } else {
        params.n_samples
    };
    Cost {
        per_image,
        billable_images,
        total: per_image * billable_images,
        opus_free,
        ..Cost::default()
    }
}

/// Whether the website would accept a request at this price per image (at most 140).
pub fn is_valid(per_image: u32) -> bool {
    per_image <= MAX_PER_IMAGE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::models::Family;
    use crate::domain::request::Img2Img;

    fn params(width: u32, height: u32, steps: u32) -> GenerationParams {
        GenerationParams {
            model: "nai-diffusion-4-5-full".into(),
            family: Family::V45,
            prompt: "x".into(),
            negative_prompt: String::new(),
            width,
            height,
            steps,
            scale: 5.0,
            sampler: "k_euler_ancestral".into(),
            noise_schedule: "karras".into(),
            seed: 1,
            n_samples: 1,
            sm: false,
            sm_dyn: false,
            cfg_rescale: 0.0,
            img2img: None,
            inpaint: false,
            characters: Vec::new(),
            image_format: Default::default(),
            webhook_url: None,
            vibes: Vec::new(),
            references: Vec::new(),
            kind: Default::default(),
        }
    }

    fn v5(model: &str, width: u32, height: u32, steps: u32) -> GenerationParams {
        GenerationParams {
            model: model.into(),
            family: Family::V5,
            ..params(width, height, steps)
        }
    }

    fn v5_per(width: u32, height: u32, steps: u32) -> u32 {
        anlas_cost(&v5("nai-diffusion-5-full", width, height, steps), false).per_image
    }

    /// Every row of the website's V5 (High) price table, one image, not free.
    #[test]
    fn v5_prices_every_row_of_the_table() {
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
        ] {
            assert_eq!(v5_per(w, h, steps), anlas, "{w}x{h} @{steps}");
            assert!(is_valid(anlas));
        }
        // The V4.5 column of the same table.
        for (w, h, steps, anlas) in [
            (832, 1216, 23, 17),
            (832, 1216, 28, 20),
            (1024, 1024, 23, 17),
            (1024, 1024, 28, 20),
            (1024, 1024, 29, 21),
            (1024, 1024, 50, 34),
            (1024, 1536, 23, 26),
            (1024, 1536, 28, 30),
            (1536, 1536, 37, 58),
        ] {
            assert_eq!(per(w, h, steps), anlas, "V4.5 {w}x{h} @{steps}");
        }
        // 1536×2048 @50 is over 140 per image: the website calls it invalid.
        assert!(!is_valid(v5_per(1536, 2048, 50)));
        // Curated costs what Full costs.
        assert_eq!(
            anlas_cost(&v5("nai-diffusion-5-curated", 832, 1216, 23), false).per_image,
            26
        );
    }

    /// Ceil the base, then ×1.5, then ceil once more: 1024²@29 is 32, not ceil(20.59×1.5)=31.
    #[test]
    fn v5_rounds_the_base_before_the_factor() {
        let r = 1024.0 * 1024.0;
        let raw: f64 = AREA_COEFFICIENT * r + STEP_COEFFICIENT * r * 29.0;
        assert_eq!((raw * 1.5).ceil() as u32, 31, "the wrong rounding");
        assert_eq!(v5_per(1024, 1024, 29), 32);
    }

    #[test]
    fn v5_img2img_scales_by_strength() {
        for (strength, anlas) in [(0.01, 2), (0.3, 10), (0.7, 23)] {
            let mut p = v5("nai-diffusion-5-full", 1024, 1024, 29);
            p.img2img = Some(Img2Img {
                strength,
                noise: 0.0,
            });
            assert_eq!(
                anlas_cost(&p, false).per_image,
                anlas,
                "strength {strength}"
            );
        }
    }

    /// The Opus boundaries of the V5 table: free up to 1,048,576 pixels and 28 steps.
    #[test]
    fn v5_opus_boundaries() {
        let total = |w, h, steps, n| {
            let mut p = v5("nai-diffusion-5-full", w, h, steps);
            p.n_samples = n;
            anlas_cost(&p, true).total
        };
        assert_eq!(total(1024, 1024, 28, 1), 0);
        assert_eq!(total(1216, 832, 28, 1), 0);
        assert_eq!(total(1088, 960, 28, 1), 0);
        assert_eq!(total(1088, 1024, 28, 1), 33);
        assert_eq!(total(1024, 1024, 28, 2), 30);
        assert_eq!(total(1024, 1024, 28, 3), 60);
        for (n, anlas) in [(1, 32), (2, 64), (3, 96), (4, 128)] {
            assert_eq!(total(1024, 1024, 29, n), anlas, "@29 n={n}");
        }
    }

    /// Medium: always 14 steps, the per-step part scaled by its named factor.
    #[test]
    fn v5_medium_has_its_own_factor() {
        let medium =
            |w, h| anlas_cost(&v5("nai-diffusion-5-full-medium", w, h, 14), false).per_image;
        assert_eq!(MEDIUM_STEP_FACTOR, 0.8);
        assert_eq!(medium(832, 1216), 15, "the website's November quote");
        assert_eq!(medium(1024, 1024), 15);
        assert!(medium(832, 1216) < v5_per(832, 1216, 14));
        // The steps a Medium job carries do not change its price: it always runs 14.
        let mut p = v5("nai-diffusion-5-full-medium", 832, 1216, 28);
        p.steps = 28;
        assert_eq!(anlas_cost(&p, false).per_image, 15);
    }

    fn per(width: u32, height: u32, steps: u32) -> u32 {
        anlas_cost(&params(width, height, steps), false).per_image
    }

    #[test]
    fn the_handbook_checks() {
        assert_eq!(per(832, 1216, 23), 17);
        assert_eq!(per(832, 1216, 28), 20);
        assert_eq!(per(1024, 1024, 28), 20);
        assert_eq!(per(512, 768, 28), 8);
        assert_eq!(per(1024, 1536, 28), 30);
        assert_eq!(per(1472, 1472, 28), 42);
        assert_eq!(per(1088, 1920, 28), 40);
    }

    #[test]
    fn without_opus_every_image_is_paid() {
        let mut p = params(832, 1216, 28);
        p.n_samples = 4;
        assert_eq!(
            anlas_cost(&p, false),
            Cost {
                per_image: 20,
                billable_images: 4,
                total: 80,
                opus_free: false,
                ..Cost::default()
            }
        );
    }

    #[test]
    fn opus_gets_one_normal_image_free() {
        let p = params(832, 1216, 28);
        assert_eq!(
            anlas_cost(&p, true),
            Cost {
                per_image: 20,
                billable_images: 0,
                total: 0,
                opus_free: true,
                ..Cost::default()
            }
        );
        let mut p = params(832, 1216, 28);
        p.n_samples = 4;
        let c = anlas_cost(&p, true);
        assert_eq!((c.billable_images, c.total, c.opus_free), (3, 60, true));
        // 23 steps and 1024×1024 (exactly 1,048,576 px) are still free.
        assert!(anlas_cost(&params(832, 1216, 23), true).opus_free);
        assert_eq!(anlas_cost(&params(1024, 1024, 28), true).total, 0);
    }

    #[test]
    fn opus_pays_above_28_steps_or_1024x1024() {
        let c = anlas_cost(&params(832, 1216, 29), true);
        assert!(!c.opus_free);
        assert_eq!((c.billable_images, c.total), (1, c.per_image));
        let c = anlas_cost(&params(1024, 1536, 28), true);
        assert_eq!((c.opus_free, c.total), (false, 30));
        // 1024×1088 is one row of 64 over the free area.
        assert!(!anlas_cost(&params(1024, 1088, 28), true).opus_free);
    }

    #[test]
    fn smea_multiplies_the_base() {
        let mut p = params(832, 1216, 28);
        p.family = Family::V3;
        p.sm = true;
        assert_eq!(anlas_cost(&p, false).per_image, 24); // ceil(20 × 1.2)
        p.sm_dyn = true;
        assert_eq!(anlas_cost(&p, false).per_image, 28); // ceil(20 × 1.4)
        p.sm = false;
        assert_eq!(anlas_cost(&p, false).per_image, 20, "sm_dyn alone: ×1");
        let mut p = params(832, 1216, 23);
        p.family = Family::V3;
        p.sm = true;
        assert_eq!(anlas_cost(&p, false).per_image, 21); // ceil(17 × 1.2 = 20.4)
        p.sm_dyn = true;
        assert_eq!(anlas_cost(&p, false).per_image, 24); // ceil(17 × 1.4 = 23.8)
    }

    #[test]
    fn img2img_scales_by_strength() {
        let mut p = params(832, 1216, 28);
        p.img2img = Some(Img2Img {
            strength: 0.7,
            noise: 0.0,
        });
        assert_eq!(anlas_cost(&p, false).per_image, 14); // ceil(20 × 0.7)
        p.img2img = Some(Img2Img {
            strength: 0.45,
            noise: 0.0,
        });
        assert_eq!(anlas_cost(&p, false).per_image, 9); // ceil(20 × 0.45)
        p.family = Family::V3;
        p.sm = true;
        p.sm_dyn = true;
        assert_eq!(anlas_cost(&p, false).per_image, 13); // ceil(20 × 1.4 × 0.45 = 12.6)
        p.img2img = Some(Img2Img {
            strength: 0.01,
            noise: 0.0,
        });
        assert_eq!(anlas_cost(&p, false).per_image, 2, "never below 2");
    }

    #[test]
    fn inpainting_scales_by_its_inpaint_strength() {
        let mut p = params(832, 1216, 28);
        p.img2img = Some(Img2Img {
            strength: 0.6,
            noise: 0.0,
        });
        p.inpaint = true;
        assert_eq!(anlas_cost(&p, false).per_image, 12); // ceil(20 × 0.6)
        // The strength naiq sends as inpaintImg2ImgStrength is the one priced.
        let body = crate::novelai::body::build(&p, Some("AAAA"), Some("BBBB")).to_json();
        assert_eq!(body["action"], "infill");
        assert_eq!(body["parameters"]["inpaintImg2ImgStrength"], 0.6);
        p.img2img = Some(Img2Img {
            strength: 0.99,
            noise: 0.0,
        });
        assert_eq!(anlas_cost(&p, false).per_image, 20); // ceil(19.8)
        p.n_samples = 2;
        let c = anlas_cost(&p, true);
        assert_eq!((c.per_image, c.billable_images, c.total), (20, 1, 20));
    }

    #[test]
    fn small_images_cost_at_least_the_floor() {
        // Below 65,536 px the area counts as 65,536: base = ceil(0.193 + 1.056) = 2.
        assert_eq!(per(64, 64, 28), 2);
        assert_eq!(per(256, 256, 28), 2);
        assert_eq!(per(64, 64, 1), 2);
    }

    #[test]
    fn validity_stops_at_140() {
        assert!(is_valid(2));
        assert!(is_valid(140));
        assert!(!is_valid(141));
        // The largest request naiq accepts (1024×3072, 50 steps, SMEA DYN) is at the limit.
        let mut p = params(1024, 3072, 50);
        assert_eq!(anlas_cost(&p, false).per_image, 100);
        p.family = Family::V3;
        p.sm = true;
        p.sm_dyn = true;
        let c = anlas_cost(&p, false);
        assert_eq!(c.per_image, 140);
        assert!(is_valid(c.per_image));
        assert!(!is_valid(per(1024, 3072, 50) * 2));
    }

    #[test]
    fn cost_serialises_with_its_field_names() {
        let c = anlas_cost(&params(832, 1216, 28), true);
        assert_eq!(
            serde_json::to_value(c).unwrap(),
            serde_json::json!({"per_image": 20, "billable_images": 0, "total": 0, "opus_free": true,
                               "vibe_encodes": 0, "surcharges": 0})
        );
    }
}

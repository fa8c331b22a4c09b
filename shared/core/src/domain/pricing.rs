//! What a generation costs in Anlas (one formula for V3, V4 and V4.5, the website's
//! quote function):
//!
//! ```text
//! r     = max(w*h, 65536)
//! base  = ceil(2.951823174884865e-6*r + 5.753298233447344e-7*r*steps)
//! mult  = 1.4 if sm && sm_dyn, 1.2 if sm, else 1
//! s     = strength for image-to-image (sent as inpaintImg2ImgStrength when inpainting), else 1
//! per   = max(ceil(base*mult*s), 2)            (per > 140: the website calls it invalid)
//! free  = opus && steps <= 28 && r <= 1048576  → billable = n_samples - 1
//! total = per * billable
//! ```
//!
//! Legacy (V1/V2) models are priced from tables on the website; naiq applies the same
//! formula to them, so their figure is an estimate. Vibe transfer and character
//! references, which add to the price, are not offered by naiq.

use serde::Serialize;

use crate::domain::GenerationParams;

/// Anlas per image above which the website treats a request as invalid (it shows -3).
pub const MAX_PER_IMAGE: u32 = 140;

/// Largest area (pixels) an Opus subscription generates for free (1024×1024).
const OPUS_FREE_MAX_AREA: u64 = 1_048_576;

/// Most steps an Opus subscription generates for free.
const OPUS_FREE_MAX_STEPS: u32 = 28;

/// The price of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Cost {
    /// Anlas per image.
    pub per_image: u32,
    /// Images paid for: `n_samples`, less the one Opus gets free.
    pub billable_images: u32,
    /// `per_image * billable_images`.
    pub total: u32,
    /// Whether an Opus subscription gets one image of this request free.
    pub opus_free: bool,
}

/// The Anlas a request costs; `opus` = the account has an active Opus (tier 3)
/// subscription.
pub fn anlas_cost(params: &GenerationParams, opus: bool) -> Cost {
    let r = (u64::from(params.width) * u64::from(params.height)).max(65_536);
    let rf = r as f64;
    let steps = f64::from(params.steps);
    let base = (2.951823174884865e-6 * rf + 5.753298233447344e-7 * rf * steps).ceil();
    let mult = if params.sm && params.sm_dyn {
        1.4
    } else if params.sm {
        1.2
    } else {
        1.0
    };
    // Inpainting: the website prices by inpaintImg2ImgStrength, which naiq sends equal to
    // the strength, so both cases scale by the strength.
    let s = params.img2img.map_or(1.0, |i| i.strength);
    let per_image = ((base * mult * s).ceil() as u32).max(2);
    let opus_free = opus && params.steps <= OPUS_FREE_MAX_STEPS && r <= OPUS_FREE_MAX_AREA;
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
        }
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
                opus_free: false
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
                opus_free: true
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
            serde_json::json!({"per_image": 20, "billable_images": 0, "total": 0, "opus_free": true})
        );
    }
}

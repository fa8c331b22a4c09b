//! `POST /ai/generate-image` bodies, per model family, with the fields and values the
//! website sends today (the captures they are checked against are in
//! `tests/fixtures/website/2026/`, compared field by field in `tests/website_bodies.rs`).
//!
//! Every family gets the website's `params_version` 4 form; V3 and legacy models carry
//! `sm`/`sm_dyn`, V4 and later `v4_prompt`, `v4_negative_prompt` and `characterPrompts`,
//! V5 also `straight_alpha` (and no `skip_cfg_above_sigma`).
//!
//! - Image-to-image sends `action` `img2img` with `color_correct: false`; with a mask,
//!   inpainting sends `infill` to the model's inpainting model with `mask` (V5:
//!   `add_original_image` false, as the website does) and the strength as
//!   `inpaintImg2ImgStrength` and `img2img`.
//!
//! Presets are metadata naiq leaves at "none" (`ucPresetId`, `qualityPresetId` and their
//! `tag_hint_*` numbers): it appends no quality tags and no undesired-content preset, so
//! the prompts go out exactly as given. The image format is PNG unless the job asks WebP.

use super::request::{
    Action, Caption, Center, CharCaption, CharacterPrompt, FamilyParameters, ImageInput,
    ImageRequest, InpaintStrength, JsNumber, Null, Parameters, ReferenceDescription,
    ReferenceParameters, V3Parameters, V4NegativePrompt, V4Parameters, V4Prompt, VibeParameters,
};
use crate::domain::GenerationParams;
use crate::domain::models::{self, Family};
use crate::domain::request::Character;

/// The website's preset name for "no preset", and its number in `tag_hint_*`.
const PRESET_NONE: &str = "none";
const TAG_HINT_NONE: u32 = 0;

fn center(c: &Character) -> Center {
    let p = c.center();
    Center {
        x: JsNumber(p.x),
        y: JsNumber(p.y),
    }
}

/// The V4-and-later fields: `v4_prompt`, `v4_negative_prompt` and the V5 extras.
fn v4_parameters(params: &GenerationParams) -> V4Parameters {
    let use_coords = params.characters.iter().any(Character::is_placed);
    let captions = |text: fn(&Character) -> &str| -> Vec<CharCaption> {
        params
            .characters
            .iter()
            .map(|c| CharCaption {
                char_caption: text(c).to_string(),
                centers: vec![center(c)],
            })
            .collect()
    };
    let v5 = params.family.is_v5();
    V4Parameters {
        auto_smea: false,
        skip_cfg_above_sigma: (!v5).then_some(Null),
        use_coords,
        legacy_uc: false,
        normalize_reference_strength_multiple: true,
        inpaint_img2img_strength: JsNumber(1.0),
        straight_alpha: v5.then_some(true),
        v4_prompt: V4Prompt {
            caption: Caption {
                base_caption: params.prompt.clone(),
                char_captions: captions(|c| &c.prompt),
            },
            use_coords,
            use_order: true,
        },
        v4_negative_prompt: V4NegativePrompt {
            caption: Caption {
                base_caption: params.negative_prompt.clone(),
                char_captions: captions(|c| &c.uc),
            },
            legacy_uc: false,
        },
    }
}

/// Builds the upstream request. `image_b64` is the input image for image-to-image,
/// `mask_b64` the mask for inpainting (used when the params ask for inpainting).
pub fn build(
    params: &GenerationParams,
    image_b64: Option<&str>,
    mask_b64: Option<&str>,
) -> ImageRequest {
    let mut family = match params.family {
        Family::Legacy | Family::V3 => FamilyParameters::V3(V3Parameters {
            sm: params.sm,
            sm_dyn: params.sm_dyn,
            skip_cfg_above_sigma: Null,
        }),
        Family::V4 | Family::V45 | Family::V5 => {
            FamilyParameters::V4(Box::new(v4_parameters(params)))
        }
    };
    let mut add_original_image = true;
    let (action, image) = match (params.img2img, image_b64) {
        (Some(i2i), Some(image)) => {
            let mask = mask_b64.filter(|_| params.inpaint);
            let strength = JsNumber(i2i.strength);
            let mut input = ImageInput {
                image: image.to_string(),
                strength,
                noise: JsNumber(i2i.noise),
                extra_noise_seed: params.seed.saturating_sub(1),
                mask: mask.map(str::to_string),
                color_correct: None,
                img2img: None,
            };
            if mask.is_some() {
                // The strength is the inpainting strength (and the price's factor).
                if let FamilyParameters::V4(v4) = &mut family {
                    v4.inpaint_img2img_strength = strength;
                }
                input.img2img = (i2i.strength < 1.0).then_some(InpaintStrength {
                    strength,
                    color_correct: true,
                });
                add_original_image = !params.family.is_v5();
                (Action::Infill, Some(input))
            } else {
                input.color_correct = Some(false);
                (Action::Img2img, Some(input))
            }
        }
        _ => (Action::Generate, None),
    };
    // Infill goes to the model's inpainting model; the job keeps the base model id.
    let model = match action {
        Action::Infill => models::inpainting_model(&params.model).unwrap_or(params.model.as_str()),
        _ => params.model.as_str(),
    };
    let medium = models::resolve_model(&params.model).is_some_and(|m| m.medium);
    // Euler-ancestral switches: the website sends them with that sampler only.
    let ancestral = (params.sampler == "k_euler_ancestral").then_some(());
    ImageRequest {
        input: params.prompt.clone(),
        model: model.to_string(),
        action,
        parameters: Parameters {
            params_version: 4,
            width: params.width,
            height: params.height,
            scale: JsNumber(params.scale),
            sampler: params.sampler.clone(),
            steps: params.steps,
            n_samples: params.n_samples,
            uc_preset_id: PRESET_NONE,
            quality_preset_id: PRESET_NONE,
            dynamic_thresholding: false,
            controlnet_strength: 1,
            legacy: false,
            add_original_image,
            cfg_rescale: (!medium).then_some(JsNumber(params.cfg_rescale)),
            noise_schedule: params.noise_schedule.clone(),
            legacy_v3_extend: false,
            seed: params.seed,
            tag_hint_qt: TAG_HINT_NONE,
            tag_hint_uc_preset: TAG_HINT_NONE,
            character_prompts: params
                .characters
                .iter()
                .map(|c| CharacterPrompt {
                    prompt: c.prompt.clone(),
                    uc: c.uc.clone(),
                    center: center(c),
                    enabled: true,
                })
                .collect(),
            negative_prompt: params.negative_prompt.clone(),
            deliberate_euler_ancestral_bug: ancestral.map(|()| false),
            prefer_brownian: ancestral.map(|()| true),
            image_format: params.image_format.as_str(),
            family,
            image,
            vibes: None,
            references: None,
        },
        use_new_shared_trial: true,
    }
}

/// Adds the job's vibes to `request`: `images` holds, in the order of `params.vibes`,
/// each vibe's encoding (V4/V4.5) or fitted PNG (V3), base64.
pub fn attach_vibes(request: &mut ImageRequest, params: &GenerationParams, images: Vec<String>) {
    if params.vibes.is_empty() {
        return;
    }
    let raw = !crate::domain::request::vibes::encoded(params.family);
    request.parameters.vibes = Some(VibeParameters {
        reference_image_multiple: images,
        reference_strength_multiple: params.vibes.iter().map(|v| JsNumber(v.strength)).collect(),
        reference_information_extracted_multiple: raw.then(|| {
            params
                .vibes
                .iter()
                .map(|v| JsNumber(v.information_extracted))
                .collect()
        }),
    });
}

/// Adds the job's Precise References to `request`: `images` holds each reference's fitted
/// PNG, base64, in the order of `params.references`.
pub fn attach_references(
    request: &mut ImageRequest,
    params: &GenerationParams,
    images: Vec<String>,
) {
    if params.references.is_empty() {
        return;
    }
    let refs = &params.references;
    request.parameters.references = Some(ReferenceParameters {
        director_reference_images: images,
        director_reference_descriptions: refs
            .iter()
            .map(|r| ReferenceDescription {
                caption: Caption {
                    base_caption: r.kind.clone(),
                    char_captions: Vec::new(),
                },
                legacy_uc: false,
            })
            .collect(),
        director_reference_information_extracted: refs.iter().map(|_| JsNumber(1.0)).collect(),
        director_reference_strength_values: refs.iter().map(|r| JsNumber(r.strength)).collect(),
        director_reference_secondary_strength_values: refs
            .iter()
            .map(|r| JsNumber(((1.0 - r.fidelity) * 1000.0).round() / 1000.0))
            .collect(),
    });
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::request::{Limits, parse_submit};

    /// The request as it goes on the wire.
    fn wire(p: &GenerationParams, image: Option<&str>, mask: Option<&str>) -> Value {
        build(p, image, mask).to_json()
    }

    fn params(body: Value) -> GenerationParams {
        parse_submit(body.to_string().as_bytes(), &Limits::default())
            .unwrap()
            .params
    }

    #[test]
    fn v3_body_has_smea_and_params_version_4() {
        let mut p = params(json!({"prompt": "1girl", "model": "nai-v3", "seed": 7, "sm": true}));
        p.seed = 7;
        let b = wire(&p, None, None);
        assert_eq!(b["model"], "nai-diffusion-3");
        assert_eq!(b["action"], "generate");
        assert_eq!(b["input"], "1girl");
        assert_eq!(b["parameters"]["params_version"], 4);
        assert_eq!(b["parameters"]["sm"], true);
        assert_eq!(b["parameters"]["skip_cfg_above_sigma"], Value::Null);
        assert_eq!(b["use_new_shared_trial"], true);
        assert_eq!(b["parameters"]["width"], 832);
        assert_eq!(b["parameters"]["seed"], 7);
        assert!(b["parameters"].get("v4_prompt").is_none());
    }

    #[test]
    fn v4_body_carries_v4_prompts() {
        let p =
            params(json!({"prompt": "1girl", "negative_prompt": "lowres", "model": "nai-v4.5"}));
        let b = wire(&p, None, None);
        assert_eq!(b["parameters"]["params_version"], 4);
        assert_eq!(
            b["parameters"]["v4_prompt"]["caption"]["base_caption"],
            "1girl"
        );
        assert_eq!(b["parameters"]["skip_cfg_above_sigma"], Value::Null);
        assert!(b["parameters"].get("straight_alpha").is_none());
        assert_eq!(
            b["parameters"]["v4_negative_prompt"]["caption"]["base_caption"],
            "lowres"
        );
        assert_eq!(b["parameters"]["noise_schedule"], "karras");
        assert!(b["parameters"].get("sm").is_none());
    }

    #[test]
    fn numbers_are_written_as_the_website_writes_them() {
        let p =
            params(json!({"prompt": "x", "model": "nai-v4.5", "scale": 5, "cfg_rescale": 0.25}));
        let b = wire(&p, None, None);
        assert!(b["parameters"]["scale"].is_u64(), "5, not 5.0");
        assert!(b["parameters"]["cfg_rescale"].is_f64());
        assert_eq!(b["parameters"]["cfg_rescale"], 0.25);
        assert_eq!(b["parameters"]["ucPresetId"], "none");
        assert_eq!(b["parameters"]["tag_hint_uc_preset"], 0);
        assert_eq!(b["parameters"]["qualityPresetId"], "none");
        assert_eq!(b["parameters"]["tag_hint_qt"], 0);
        assert!(
            b["parameters"].get("ucPreset").is_none(),
            "the 2025 keys are gone"
        );
        assert!(b["parameters"].get("qualityToggle").is_none());
        let p = params(json!({"prompt": "x", "model": "nai-v3", "scale": 5.5}));
        assert_eq!(wire(&p, None, None)["parameters"]["scale"], 5.5);
    }

    #[test]
    fn characters_fill_all_three_lists_in_order() {
        let p = params(
            json!({"prompt": "2girls", "model": "nai-v4.5", "characters": [
                {"prompt": "girl, red hair", "uc": "bad hands", "position": "a1"},
                {"prompt": "girl, blue hair"},
            ]}),
        );
        let b = wire(&p, None, None);
        let q = &b["parameters"];
        assert_eq!(q["use_coords"], true);
        assert_eq!(q["v4_prompt"]["use_coords"], true);
        assert_eq!(
            q["characterPrompts"],
            json!([
                {"prompt": "girl, red hair", "uc": "bad hands", "center": {"x": 0.1, "y": 0.1}, "enabled": true},
                {"prompt": "girl, blue hair", "uc": "", "center": {"x": 0.5, "y": 0.5}, "enabled": true},
            ])
        );
        assert_eq!(
            q["v4_prompt"]["caption"]["char_captions"],
            json!([
                {"char_caption": "girl, red hair", "centers": [{"x": 0.1, "y": 0.1}]},
                {"char_caption": "girl, blue hair", "centers": [{"x": 0.5, "y": 0.5}]},
            ])
        );
        assert_eq!(
            q["v4_negative_prompt"]["caption"]["char_captions"],
            json!([
                {"char_caption": "bad hands", "centers": [{"x": 0.1, "y": 0.1}]},
                {"char_caption": "", "centers": [{"x": 0.5, "y": 0.5}]},
            ])
        );
    }

    #[test]
    fn characters_without_positions_leave_placement_to_the_ai() {
        let p = params(json!({"prompt": "x", "model": "nai-v4", "characters": [
            {"prompt": "a"}, {"prompt": "b"}, {"prompt": "c"},
        ]}));
        let q = &wire(&p, None, None)["parameters"];
        assert_eq!(q["use_coords"], false);
        assert_eq!(q["v4_prompt"]["use_coords"], false);
        for list in [
            &q["v4_prompt"]["caption"]["char_captions"],
            &q["v4_negative_prompt"]["caption"]["char_captions"],
        ] {
            let list = list.as_array().unwrap();
            assert_eq!(list.len(), 3);
            for c in list {
                assert_eq!(c["centers"], json!([{"x": 0.5, "y": 0.5}]), "never empty");
            }
        }
        assert_eq!(q["characterPrompts"].as_array().unwrap().len(), 3);
    }

    #[test]
    fn no_characters_sends_empty_lists() {
        let q = &wire(&params(json!({"prompt": "x"})), None, None)["parameters"];
        assert_eq!(q["characterPrompts"], json!([]));
        assert_eq!(q["v4_prompt"]["caption"]["char_captions"], json!([]));
        assert_eq!(
            q["v4_negative_prompt"]["caption"]["char_captions"],
            json!([])
        );
        assert_eq!(q["use_coords"], false);
    }

    #[test]
    fn smea_aliases_become_k_euler_ancestral_with_sm() {
        let p = params(json!({"prompt": "x", "model": "nai-v3", "sampler": "nai_smea_dyn"}));
        let q = &wire(&p, None, None)["parameters"];
        assert_eq!(q["sampler"], "k_euler_ancestral");
        assert_eq!(
            (q["sm"].as_bool(), q["sm_dyn"].as_bool()),
            (Some(true), Some(true))
        );
    }

    #[test]
    fn img2img_sends_the_image_and_elides_it_in_logs() {
        let png = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            naiq_testkit::png_of(64, 64),
        );
        let p =
            params(json!({"prompt": "x", "image": png, "strength": 0.4, "noise": 0.1, "seed": 9}));
        let b = wire(&p, Some("AAAA"), None);
        assert_eq!(b["action"], "img2img");
        assert_eq!(b["parameters"]["strength"], 0.4);
        assert_eq!(b["parameters"]["extra_noise_seed"], 8, "the seed less one");
        assert_eq!(b["parameters"]["color_correct"], false);
        assert_eq!(
            build(&p, Some("AAAA"), None).redacted().to_json()["parameters"]["image"],
            "<4 base64 characters>"
        );
    }

    fn png_b64() -> String {
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            naiq_testkit::png_of(64, 64),
        )
    }

    #[test]
    fn inpainting_sends_infill_with_the_mask_to_the_inpainting_model() {
        let png = png_b64();
        let p = params(
            json!({"prompt": "x", "model": "nai-v4.5", "image": png, "mask": png,
            "strength": 0.6, "noise": 0.1, "seed": 9}),
        );
        assert!(p.inpaint);
        assert_eq!(
            p.model, "nai-diffusion-4-5-full",
            "the job keeps the base model"
        );
        let b = wire(&p, Some("AAAA"), Some("BBBB"));
        assert_eq!(b["action"], "infill");
        assert_eq!(b["model"], "nai-diffusion-4-5-full-inpainting");
        let q = &b["parameters"];
        assert_eq!(q["image"], "AAAA");
        assert_eq!(q["mask"], "BBBB");
        assert_eq!(q["add_original_image"], true);
        assert_eq!(q["strength"], 0.6);
        assert_eq!(q["noise"], 0.1);
        assert_eq!(q["extra_noise_seed"], 8);
        assert_eq!(q["inpaintImg2ImgStrength"], 0.6);
        assert_eq!(
            q["img2img"],
            json!({"strength": 0.6, "color_correct": true})
        );
        assert!(q.get("color_correct").is_none(), "img2img only");
        assert_eq!(
            build(&p, Some("AAAA"), Some("BBBB")).redacted().to_json()["parameters"]["mask"],
            "<4 base64 characters>"
        );

        // V3: the inpainting id, add_original_image true, no inpaintImg2ImgStrength.
        let p = params(json!({"prompt": "x", "model": "nai-v3", "image": png, "mask": png}));
        let b = wire(&p, Some("AAAA"), Some("BBBB"));
        assert_eq!(b["action"], "infill");
        assert_eq!(b["model"], "nai-diffusion-3-inpainting");
        assert_eq!(b["parameters"]["mask"], "BBBB");
        assert_eq!(b["parameters"]["add_original_image"], true);
        assert_eq!(b["parameters"]["params_version"], 4);
        assert!(b["parameters"].get("inpaintImg2ImgStrength").is_none());
        for (alias, id) in [
            ("nai-v3-furry", "nai-diffusion-furry-3-inpainting"),
            ("nai-v4", "nai-diffusion-4-full-inpainting"),
            ("nai-v4-curated", "nai-diffusion-4-curated-inpainting"),
            ("nai-v4.5-curated", "nai-diffusion-4-5-curated-inpainting"),
            ("nai-v5", "nai-diffusion-5-full-inpainting"),
            ("nai-v5-curated", "nai-diffusion-4-5-curated-inpainting"),
            ("nai-v5-medium", "nai-diffusion-5-full-medium-inpainting"),
        ] {
            let p = params(json!({"prompt": "x", "model": alias, "image": png, "mask": png}));
            assert_eq!(wire(&p, Some("A"), Some("B"))["model"], id, "{alias}");
        }
    }

    #[test]
    fn without_a_mask_image_to_image_stays_img2img() {
        let png = png_b64();
        let p = params(json!({"prompt": "x", "model": "nai-v3", "image": png}));
        assert!(!p.inpaint);
        let b = wire(&p, Some("AAAA"), None);
        assert_eq!(b["action"], "img2img");
        assert_eq!(b["model"], "nai-diffusion-3");
        assert!(b["parameters"].get("mask").is_none());
        assert_eq!(b["parameters"]["add_original_image"], true);
        let p = params(json!({"prompt": "x", "model": "nai-v4.5", "image": png}));
        let b = wire(&p, Some("AAAA"), None);
        assert_eq!(b["parameters"]["inpaintImg2ImgStrength"], 1);
    }

    #[test]
    fn v5_bodies_carry_straight_alpha_free_centres_and_the_asked_format() {
        let p = params(
            json!({"prompt": "2girls", "model": "nai-v5", "characters": [
                {"prompt": "girl, red hair", "uc": "blue hair", "position": {"x": 0.3, "y": 0.5}},
                {"prompt": "girl, black hair", "position": {"x": 0.7, "y": 0.5}},
            ]}),
        );
        let b = wire(&p, None, None);
        let q = &b["parameters"];
        assert_eq!(b["model"], "nai-diffusion-5-full");
        assert_eq!(
            (q["params_version"].clone(), q["straight_alpha"].clone()),
            (json!(4), json!(true))
        );
        assert!(
            q.get("skip_cfg_above_sigma").is_none(),
            "V5 has no Variety+"
        );
        assert_eq!(
            (q["scale"].clone(), q["noise_schedule"].clone()),
            (json!(7), json!("karras"))
        );
        assert_eq!(q["image_format"], "png");
        assert_eq!(q["use_coords"], true);
        assert_eq!(
            q["v4_negative_prompt"]["caption"]["char_captions"],
            json!([{"char_caption": "blue hair", "centers": [{"x": 0.3, "y": 0.5}]},
                   {"char_caption": "", "centers": [{"x": 0.7, "y": 0.5}]}])
        );
        let w = params(json!({"prompt": "x", "model": "nai-v5", "image_format": "webp"}));
        assert_eq!(wire(&w, None, None)["parameters"]["image_format"], "webp");
        // Medium: 14 steps, no cfg_rescale key at all.
        let m = params(json!({"prompt": "x", "model": "nai-v5-medium"}));
        let q = wire(&m, None, None)["parameters"].clone();
        assert_eq!(q["steps"], 14);
        assert!(q.get("cfg_rescale").is_none());
        // V5 infill: the inpainting model, add_original_image false (as the website sends).
        let png = png_b64();
        let i = params(json!({"prompt": "x", "model": "nai-v5", "image": png, "mask": png}));
        let b = wire(&i, Some("A"), Some("B"));
        assert_eq!(b["model"], "nai-diffusion-5-full-inpainting");
        assert_eq!(b["parameters"]["add_original_image"], false);
    }
}

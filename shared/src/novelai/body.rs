//! `POST /ai/generate-image` bodies, per model family, with the fields and values the
//! website sends (handbook: novelai-api.md §3; the captures they are checked against are in
//! `tests/fixtures/website/`, compared field by field in `tests/website_bodies.rs`).
//!
//! - V3 and legacy models: the `params_version` 1 form (`sm`/`sm_dyn`, `uncond_scale`,
//!   `noise_schedule` as validated, `native` by default).
//! - V4 and V4.5: the `params_version` 3 form of the 2025 website (`v4_prompt`,
//!   `v4_negative_prompt`, `characterPrompts`, `use_coords`, `legacy_uc`, `autoSmea`, …).
//!
//! - Image-to-image sends `action` `img2img`; with a mask, inpainting sends `infill` to the
//!   model's inpainting variant with `mask` and `add_original_image: true` (V4+ also
//!   `inpaintImg2ImgStrength` = the strength), as the website's `inpaint_v3.json` capture.
//!
//! `ucPreset`/`qualityToggle` are metadata only (§3.3): naiq appends no quality tags and no
//! undesired-content preset, so it sends what the website sends for "no preset"
//! (`ucPreset` 3) with the quality toggle off; the prompts go out exactly as given.

use serde_json::{Map, Value, json};

use crate::domain::GenerationParams;
use crate::domain::models::{self, Family};
use crate::domain::request::Character;

/// `ucPreset` for "None" (no undesired-content preset text added), on every family.
const UC_PRESET_NONE: u32 = 3;

/// A number as JavaScript's `JSON.stringify` writes it: integral values without a
/// fraction (`5`, not `5.0`), as in the website's bodies.
fn num(f: f64) -> Value {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        json!(f as i64)
    } else {
        json!(f)
    }
}

/// Where a character is centred: its grid cell, or the middle (C3) when the AI places it.
fn center(c: &Character) -> Value {
    let (x, y) = c
        .position
        .as_deref()
        .and_then(models::grid_center)
        .unwrap_or((0.5, 0.5));
    json!({"x": num(x), "y": num(y)})
}

/// Builds the upstream body. `image_b64` is the input image for image-to-image, `mask_b64`
/// the mask for inpainting (used when the params ask for inpainting).
pub fn build(params: &GenerationParams, image_b64: Option<&str>, mask_b64: Option<&str>) -> Value {
    let mut p = Map::new();
    let mut put = |key: &str, value: Value| {
        p.insert(key.to_string(), value);
    };
    put("width", json!(params.width));
    put("height", json!(params.height));
    put("scale", num(params.scale));
    put("sampler", json!(params.sampler));
    put("steps", json!(params.steps));
    put("n_samples", json!(params.n_samples));
    put("seed", json!(params.seed));
    put("ucPreset", json!(UC_PRESET_NONE));
    put("qualityToggle", json!(false));
    put("dynamic_thresholding", json!(false));
    put("controlnet_strength", json!(1));
    put("legacy", json!(false));
    put("cfg_rescale", num(params.cfg_rescale));
    put("noise_schedule", json!(params.noise_schedule));
    put("legacy_v3_extend", json!(false));
    put("negative_prompt", json!(params.negative_prompt));
    match params.family {
        Family::Legacy | Family::V3 => {
            put("params_version", json!(1));
            put("sm", json!(params.sm));
            put("sm_dyn", json!(params.sm_dyn));
            put("uncond_scale", json!(1));
            put("add_original_image", json!(false));
            // The empty vibe lists of the April 2024 schema ("no vibe transfer").
            put("reference_image_multiple", json!([]));
            put("reference_information_extracted_multiple", json!([]));
            put("reference_strength_multiple", json!([]));
        }
        Family::V4 | Family::V45 => {
            let use_coords = params.characters.iter().any(|c| c.position.is_some());
            let character_prompts: Vec<Value> = params
                .characters
                .iter()
                .map(|c| json!({"prompt": c.prompt, "uc": c.uc, "center": center(c), "enabled": true}))
                .collect();
            let captions: Vec<Value> = params
                .characters
                .iter()
                .map(|c| json!({"char_caption": c.prompt, "centers": [center(c)]}))
                .collect();
            let negative_captions: Vec<Value> = params
                .characters
                .iter()
                .map(|c| json!({"char_caption": c.uc, "centers": [center(c)]}))
                .collect();
            put("params_version", json!(3));
            put("add_original_image", json!(true));
            put("autoSmea", json!(false));
            put("skip_cfg_above_sigma", Value::Null);
            put("use_coords", json!(use_coords));
            put("legacy_uc", json!(false));
            put("normalize_reference_strength_multiple", json!(true));
            put("inpaintImg2ImgStrength", json!(1));
            // Euler-ancestral switches: the website sends them with that sampler only.
            if params.sampler == "k_euler_ancestral" {
                put("deliberate_euler_ancestral_bug", json!(false));
                put("prefer_brownian", json!(true));
            }
            put("characterPrompts", Value::Array(character_prompts));
            put(
                "v4_prompt",
                json!({
                    "caption": {"base_caption": params.prompt, "char_captions": captions},
                    "use_coords": use_coords,
                    "use_order": true,
                }),
            );
            put(
                "v4_negative_prompt",
                json!({
                    "caption": {
                        "base_caption": params.negative_prompt,
                        "char_captions": negative_captions,
                    },
                    "legacy_uc": false,
                }),
            );
        }
    }
    let action = match (params.img2img, image_b64) {
        (Some(i2i), Some(image)) => {
            put("image", json!(image));
            put("strength", num(i2i.strength));
            put("noise", num(i2i.noise));
            put("extra_noise_seed", json!(params.seed));
            match mask_b64.filter(|_| params.inpaint) {
                // Inpainting: the website's infill body (inpaint_v3.json) sends the mask
                // and add_original_image true; V4+ take the strength as
                // inpaintImg2ImgStrength as well.
                Some(mask) => {
                    put("mask", json!(mask));
                    put("add_original_image", json!(true));
                    if params.family.is_v4() {
                        put("inpaintImg2ImgStrength", num(i2i.strength));
                    }
                    "infill"
                }
                None => "img2img",
            }
        }
        _ => "generate",
    };
    // Infill goes to the model's inpainting variant; the job keeps the base model id.
    let model = match action {
        "infill" => models::inpainting_model(&params.model).unwrap_or(params.model.as_str()),
        _ => params.model.as_str(),
    };
    json!({
        "input": params.prompt,
        "model": model,
        "action": action,
        "parameters": p,
    })
}

/// The body with image bytes elided, for logs and dry runs.
pub fn redact_images(body: &Value) -> Value {
    let mut b = body.clone();
    if let Some(params) = b.get_mut("parameters").and_then(Value::as_object_mut) {
        for field in ["image", "mask"] {
            if let Some(Value::String(s)) = params.get(field) {
                let note = format!("<{} base64 characters>", s.len());
                params.insert(field.into(), Value::String(note));
            }
        }
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::request::{Limits, parse_submit};

    fn params(body: Value) -> GenerationParams {
        parse_submit(body.to_string().as_bytes(), &Limits::default())
            .unwrap()
            .params
    }

    #[test]
    fn v3_body_has_smea_and_params_version_1() {
        let mut p = params(json!({"prompt": "1girl", "model": "nai-v3", "seed": 7, "sm": true}));
        p.seed = 7;
        let b = build(&p, None, None);
        assert_eq!(b["model"], "nai-diffusion-3");
        assert_eq!(b["action"], "generate");
        assert_eq!(b["input"], "1girl");
        assert_eq!(b["parameters"]["params_version"], 1);
        assert_eq!(b["parameters"]["sm"], true);
        assert_eq!(b["parameters"]["width"], 832);
        assert_eq!(b["parameters"]["seed"], 7);
        assert!(b["parameters"].get("v4_prompt").is_none());
    }

    #[test]
    fn v4_body_carries_v4_prompts() {
        let p =
            params(json!({"prompt": "1girl", "negative_prompt": "lowres", "model": "nai-v4.5"}));
        let b = build(&p, None, None);
        assert_eq!(b["parameters"]["params_version"], 3);
        assert_eq!(
            b["parameters"]["v4_prompt"]["caption"]["base_caption"],
            "1girl"
        );
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
        let b = build(&p, None, None);
        assert!(b["parameters"]["scale"].is_u64(), "5, not 5.0");
        assert!(b["parameters"]["cfg_rescale"].is_f64());
        assert_eq!(b["parameters"]["cfg_rescale"], 0.25);
        assert_eq!(b["parameters"]["ucPreset"], 3);
        assert_eq!(b["parameters"]["qualityToggle"], false);
        let p = params(json!({"prompt": "x", "model": "nai-v3", "scale": 5.5}));
        assert_eq!(build(&p, None, None)["parameters"]["scale"], 5.5);
    }

    #[test]
    fn characters_fill_all_three_lists_in_order() {
        let p = params(
            json!({"prompt": "2girls", "model": "nai-v4.5", "characters": [
                {"prompt": "girl, red hair", "uc": "bad hands", "position": "a1"},
                {"prompt": "girl, blue hair"},
            ]}),
        );
        let b = build(&p, None, None);
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
        let q = &build(&p, None, None)["parameters"];
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
        let q = &build(&params(json!({"prompt": "x"})), None, None)["parameters"];
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
        let q = &build(&p, None, None)["parameters"];
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
            crate::adapters::memory::png_of(64, 64),
        );
        let p =
            params(json!({"prompt": "x", "image": png, "strength": 0.4, "noise": 0.1, "seed": 9}));
        let b = build(&p, Some("AAAA"), None);
        assert_eq!(b["action"], "img2img");
        assert_eq!(b["parameters"]["strength"], 0.4);
        assert_eq!(b["parameters"]["extra_noise_seed"], 9);
        assert_eq!(
            redact_images(&b)["parameters"]["image"],
            "<4 base64 characters>"
        );
    }

    fn png_b64() -> String {
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            crate::adapters::memory::png_of(64, 64),
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
        let b = build(&p, Some("AAAA"), Some("BBBB"));
        assert_eq!(b["action"], "infill");
        assert_eq!(b["model"], "nai-diffusion-4-5-full-inpainting");
        let q = &b["parameters"];
        assert_eq!(q["image"], "AAAA");
        assert_eq!(q["mask"], "BBBB");
        assert_eq!(q["add_original_image"], true);
        assert_eq!(q["strength"], 0.6);
        assert_eq!(q["noise"], 0.1);
        assert_eq!(q["extra_noise_seed"], 9);
        assert_eq!(q["inpaintImg2ImgStrength"], 0.6);
        assert_eq!(
            redact_images(&b)["parameters"]["mask"],
            "<4 base64 characters>"
        );

        // V3: the inpainting id, add_original_image true, no inpaintImg2ImgStrength.
        let p = params(json!({"prompt": "x", "model": "nai-v3", "image": png, "mask": png}));
        let b = build(&p, Some("AAAA"), Some("BBBB"));
        assert_eq!(b["action"], "infill");
        assert_eq!(b["model"], "nai-diffusion-3-inpainting");
        assert_eq!(b["parameters"]["mask"], "BBBB");
        assert_eq!(b["parameters"]["add_original_image"], true);
        assert_eq!(b["parameters"]["params_version"], 1);
        assert!(b["parameters"].get("inpaintImg2ImgStrength").is_none());
        for (alias, id) in [
            ("nai-v3-furry", "nai-diffusion-furry-3-inpainting"),
            ("nai-v4", "nai-diffusion-4-full-inpainting"),
            ("nai-v4-curated", "nai-diffusion-4-curated-inpainting"),
            ("nai-v4.5-curated", "nai-diffusion-4-5-curated-inpainting"),
        ] {
            let p = params(json!({"prompt": "x", "model": alias, "image": png, "mask": png}));
            assert_eq!(build(&p, Some("A"), Some("B"))["model"], id, "{alias}");
        }
    }

    #[test]
    fn without_a_mask_image_to_image_stays_img2img() {
        let png = png_b64();
        let p = params(json!({"prompt": "x", "model": "nai-v3", "image": png}));
        assert!(!p.inpaint);
        let b = build(&p, Some("AAAA"), None);
        assert_eq!(b["action"], "img2img");
        assert_eq!(b["model"], "nai-diffusion-3");
        assert!(b["parameters"].get("mask").is_none());
        assert_eq!(b["parameters"]["add_original_image"], false);
        let p = params(json!({"prompt": "x", "model": "nai-v4.5", "image": png}));
        let b = build(&p, Some("AAAA"), None);
        assert_eq!(b["parameters"]["inpaintImg2ImgStrength"], 1);
    }
}

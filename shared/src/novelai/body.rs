//! `POST /ai/generate-image` bodies, per model family, with the values the website sends
//! (handbook: novelai-api.md §3).

use serde_json::{Value, json};

use crate::domain::GenerationParams;
use crate::domain::models::Family;

/// Builds the upstream body. `image_b64` is the input image for image-to-image.
pub fn build(params: &GenerationParams, image_b64: Option<&str>) -> Value {
    let mut p = json!({
        "width": params.width,
        "height": params.height,
        "scale": params.scale,
        "sampler": params.sampler,
        "steps": params.steps,
        "n_samples": params.n_samples,
        "seed": params.seed,
        "ucPreset": 0,
        "qualityToggle": false,
        "dynamic_thresholding": false,
        "controlnet_strength": 1,
        "legacy": false,
        "add_original_image": true,
        "cfg_rescale": params.cfg_rescale,
        "noise_schedule": params.noise_schedule,
        "legacy_v3_extend": false,
        "skip_cfg_above_sigma": null,
        "negative_prompt": params.negative_prompt,
        "reference_image_multiple": [],
        "reference_information_extracted_multiple": [],
        "reference_strength_multiple": [],
    });
    let obj = p.as_object_mut().expect("object");
    match params.family {
        Family::Legacy | Family::V3 => {
            obj.insert("params_version".into(), json!(1));
            obj.insert("sm".into(), json!(params.sm));
            obj.insert("sm_dyn".into(), json!(params.sm_dyn));
            obj.insert("uncond_scale".into(), json!(1));
        }
        Family::V4 | Family::V45 => {
            obj.insert("params_version".into(), json!(3));
            obj.insert("autoSmea".into(), json!(false));
            obj.insert("deliberate_euler_ancestral_bug".into(), json!(false));
            obj.insert("prefer_brownian".into(), json!(true));
            obj.insert("use_coords".into(), json!(false));
            obj.insert("legacy_uc".into(), json!(false));
            obj.insert("inpaintImg2ImgStrength".into(), json!(1));
            obj.insert("characterPrompts".into(), json!([]));
            obj.insert(
                "v4_prompt".into(),
                json!({
                    "caption": {"base_caption": params.prompt, "char_captions": []},
                    "use_coords": false,
                    "use_order": true,
                }),
            );
            obj.insert(
                "v4_negative_prompt".into(),
                json!({
                    "caption": {"base_caption": params.negative_prompt, "char_captions": []},
                    "legacy_uc": false,
                }),
            );
        }
    }
    let action = match (params.img2img, image_b64) {
        (Some(i2i), Some(image)) => {
            obj.insert("image".into(), json!(image));
            obj.insert("strength".into(), json!(i2i.strength));
            obj.insert("noise".into(), json!(i2i.noise));
            obj.insert("extra_noise_seed".into(), json!(params.seed));
            "img2img"
        }
        _ => "generate",
    };
    json!({
        "input": params.prompt,
        "model": params.model,
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
        let b = build(&p, None);
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
        let b = build(&p, None);
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
    fn img2img_sends_the_image_and_elides_it_in_logs() {
        let png = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            b"\x89PNG\r\n\x1a\nxx",
        );
        let p =
            params(json!({"prompt": "x", "image": png, "strength": 0.4, "noise": 0.1, "seed": 9}));
        let b = build(&p, Some("AAAA"));
        assert_eq!(b["action"], "img2img");
        assert_eq!(b["parameters"]["strength"], 0.4);
        assert_eq!(b["parameters"]["extra_noise_seed"], 9);
        assert_eq!(
            redact_images(&b)["parameters"]["image"],
            "<4 base64 characters>"
        );
    }
}

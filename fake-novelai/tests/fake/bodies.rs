//! Generation bodies as NovelAI's website sends them, per family, built here from
//! NovelAI's documented captures (not from any client's builder).

use base64::Engine as _;
use serde_json::{Value, json};

/// A plain RGBA PNG of this size, as base64 (an img2img input or an infill mask).
pub fn png_b64(width: u32, height: u32) -> String {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgba);
        let mut writer = enc.write_header().unwrap();
        writer
            .write_image_data(&vec![200; (width * height * 4) as usize])
            .unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// A V1/V2/V3 text-to-image body (`params_version` 1, SMEA off, the native schedule).
pub fn v3(model: &str, width: u32, height: u32, n: u32) -> Value {
    json!({
        "input": "1girl, cat ears",
        "model": model,
        "action": "generate",
        "parameters": {
            "params_version": 1, "width": width, "height": height, "scale": 5,
            "sampler": "k_euler", "steps": 28, "n_samples": n, "seed": 42,
            "ucPreset": 0, "qualityToggle": true, "sm": false, "sm_dyn": false,
            "dynamic_thresholding": false, "controlnet_strength": 1, "legacy": false,
            "add_original_image": false, "uncond_scale": 1, "cfg_rescale": 0,
            "noise_schedule": "native", "legacy_v3_extend": false,
            "reference_image_multiple": [], "reference_information_extracted_multiple": [],
            "reference_strength_multiple": [], "negative_prompt": "lowres"
        }
    })
}

/// The V3 body at 64×64, one sample: the cheapest valid generation.
pub fn small() -> Value {
    v3("nai-diffusion-3", 64, 64, 1)
}

/// A V4/V4.5 text-to-image body (`params_version` 3, `v4_prompt`).
pub fn v4(model: &str, width: u32, height: u32, n: u32) -> Value {
    json!({
        "input": "1girl, cat ears, very aesthetic, masterpiece",
        "model": model,
        "action": "generate",
        "parameters": {
            "params_version": 3, "width": width, "height": height, "scale": 5,
            "sampler": "k_euler_ancestral", "steps": 23, "n_samples": n, "seed": 7,
            "ucPreset": 0, "qualityToggle": true, "autoSmea": false,
            "dynamic_thresholding": false, "controlnet_strength": 1, "legacy": false,
            "add_original_image": true, "cfg_rescale": 0, "noise_schedule": "karras",
            "legacy_v3_extend": false, "skip_cfg_above_sigma": null, "use_coords": false,
            "legacy_uc": false, "normalize_reference_strength_multiple": true,
            "inpaintImg2ImgStrength": 1, "deliberate_euler_ancestral_bug": false,
            "prefer_brownian": true, "characterPrompts": [],
            "v4_prompt": {
                "caption": {"base_caption": "1girl, cat ears, very aesthetic, masterpiece",
                            "char_captions": []},
                "use_coords": false, "use_order": true
            },
            "v4_negative_prompt": {
                "caption": {"base_caption": "lowres", "char_captions": []},
                "legacy_uc": false
            },
            "negative_prompt": "lowres"
        }
    })
}

/// A V5 text-to-image body as the 2026 website sends it (`params_version` 4, preset ids,
/// `straight_alpha`, `use_new_shared_trial`).
pub fn v5(model: &str, width: u32, height: u32, n: u32) -> Value {
    let medium = model.contains("-medium");
    let mut b = v4(model, width, height, n);
    let p = b["parameters"].as_object_mut().unwrap();
    for gone in ["ucPreset", "qualityToggle", "skip_cfg_above_sigma"] {
        p.remove(gone);
    }
    p.insert("params_version".into(), json!(4));
    p.insert("scale".into(), json!(7));
    p.insert("steps".into(), json!(if medium { 14 } else { 23 }));
    p.insert("ucPresetId".into(), json!("heavy"));
    p.insert("qualityPresetId".into(), json!("standard"));
    p.insert("straight_alpha".into(), json!(true));
    p.insert("tag_hint_qt".into(), json!(1));
    p.insert("tag_hint_uc_preset".into(), json!(2));
    p.insert("image_format".into(), json!("png"));
    if medium {
        p.remove("cfg_rescale");
    }
    b["use_new_shared_trial"] = json!(true);
    b
}

/// The website body of any model id, by its family.
pub fn for_model(model: &str, width: u32, height: u32, n: u32) -> Value {
    if model.starts_with("nai-diffusion-5") {
        v5(model, width, height, n)
    } else if model.starts_with("nai-diffusion-4") {
        v4(model, width, height, n)
    } else {
        v3(model, width, height, n)
    }
}

/// The body as image-to-image with an input image at its size.
pub fn img2img(mut b: Value) -> Value {
    let (w, h) = size(&b);
    b["action"] = json!("img2img");
    let p = &mut b["parameters"];
    p["image"] = json!(png_b64(w, h));
    p["strength"] = json!(0.7);
    p["noise"] = json!(0);
    p["extra_noise_seed"] = p["seed"].clone();
    b
}

/// The body as inpainting: `infill` to `inpainting_model`, with an image and a mask.
pub fn infill(b: Value, inpainting_model: &str) -> Value {
    let (w, h) = size(&b);
    let mut b = img2img(b);
    b["action"] = json!("infill");
    b["model"] = json!(inpainting_model);
    b["parameters"]["mask"] = json!(png_b64(w, h));
    b["parameters"]["add_original_image"] = json!(false);
    b
}

fn size(b: &Value) -> (u32, u32) {
    let p = &b["parameters"];
    (
        p["width"].as_u64().unwrap() as u32,
        p["height"].as_u64().unwrap() as u32,
    )
}

/// The V4+ body with these characters (prompt, uc, centre) in all three lists.
pub fn with_characters(
    mut b: Value,
    chars: &[(&str, &str, (f64, f64))],
    use_coords: bool,
) -> Value {
    let center = |(x, y): (f64, f64)| json!({"x": x, "y": y});
    let p = &mut b["parameters"];
    p["use_coords"] = json!(use_coords);
    p["v4_prompt"]["use_coords"] = json!(use_coords);
    p["characterPrompts"] = chars
        .iter()
        .map(|(prompt, uc, c)| json!({"prompt": prompt, "uc": uc, "center": center(*c), "enabled": true}))
        .collect();
    p["v4_prompt"]["caption"]["char_captions"] = chars
        .iter()
        .map(|(prompt, _, c)| json!({"char_caption": prompt, "centers": [center(*c)]}))
        .collect();
    p["v4_negative_prompt"]["caption"]["char_captions"] = chars
        .iter()
        .map(|(_, uc, c)| json!({"char_caption": uc, "centers": [center(*c)]}))
        .collect();
    b
}

/// A copy with the value at a JSON pointer replaced.
pub fn with(b: &Value, pointer: &str, value: Value) -> Value {
    let mut b = b.clone();
    *b.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("{pointer}")) = value;
    b
}

/// A copy with a parameter set (added or replaced).
pub fn param(b: &Value, name: &str, value: Value) -> Value {
    let mut b = b.clone();
    b["parameters"][name] = value;
    b
}

/// A copy without a parameter.
pub fn without(b: &Value, name: &str) -> Value {
    let mut b = b.clone();
    b["parameters"].as_object_mut().unwrap().remove(name);
    b
}

/// The body as naiq's 2026 client sends it for any family: `params_version` 4, the
/// preset ids as strings ("none") and the tag hints as ints (0), `straight_alpha` on V5,
/// this `image_format`, and `use_new_shared_trial` at the top level.
pub fn as_2026(mut b: Value, image_format: &str) -> Value {
    let v5 = b["model"].as_str().unwrap().starts_with("nai-diffusion-5");
    let p = b["parameters"].as_object_mut().unwrap();
    for gone in ["ucPreset", "qualityToggle"] {
        p.remove(gone);
    }
    p.insert("params_version".into(), json!(4));
    p.insert("ucPresetId".into(), json!("none"));
    p.insert("qualityPresetId".into(), json!("none"));
    p.insert("tag_hint_qt".into(), json!(0));
    p.insert("tag_hint_uc_preset".into(), json!(0));
    p.insert("image_format".into(), json!(image_format));
    if v5 {
        p.insert("straight_alpha".into(), json!(true));
    }
    b["use_new_shared_trial"] = json!(true);
    b
}

/// naiq's 2026 image-to-image: `extra_noise_seed` = seed − 1, `color_correct: false`.
pub fn img2img_2026(b: Value) -> Value {
    let mut b = img2img(b);
    let p = &mut b["parameters"];
    p["extra_noise_seed"] = json!(p["seed"].as_u64().unwrap() - 1);
    p["color_correct"] = json!(false);
    b
}

/// naiq's 2026 inpainting: the mask, `img2img: {strength, color_correct: true}`, and on
/// V5 `add_original_image: false`.
pub fn infill_2026(b: Value, inpainting_model: &str) -> Value {
    let v5 = b["model"].as_str().unwrap().starts_with("nai-diffusion-5");
    let mut b = infill(b, inpainting_model);
    let p = &mut b["parameters"];
    p["extra_noise_seed"] = json!(p["seed"].as_u64().unwrap() - 1);
    p["img2img"] = json!({"strength": p["strength"], "color_correct": true});
    if v5 {
        p["add_original_image"] = json!(false);
    }
    b
}

//! The metadata NovelAI writes into every image: `Title` "AI generated image",
//! `Description` (the prompt), `Software` "NovelAI", `Source` (the model family and hash,
//! see [`crate::rules::models::source`]), `Generation time`, and `Comment`, the JSON of
//! the settings the server understood.
//!
//! `Comment` holds what NovelAI echoes, not the body: known settings are copied, keys it
//! does not understand are left out (the website's `ucPresetId`, `qualityPresetId`,
//! `params_version`, `use_new_shared_trial`, any unknown key), as are images and vibe
//! data. The server adds `prompt`, `uc`, the sample's `seed`, the `sampler` it ran, the
//! `request_type` (`PromptGenerateRequest`, `Img2ImgRequest`, `NativeInfillingRequest`)
//! and, on V4 and later, `uncond_scale: 0`, `v4_prompt` as understood (`caption`,
//! `use_coords`, `use_order`) and `v4_negative_prompt` with `use_coords` and `use_order`
//! false.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::validate::Generation;
use crate::rules::models;

/// Settings NovelAI echoes in `Comment` when the body has them.
const ECHOED: &[&str] = &[
    "steps",
    "height",
    "width",
    "scale",
    "cfg_rescale",
    "n_samples",
    "noise_schedule",
    "legacy",
    "legacy_v3_extend",
    "legacy_uc",
    "dynamic_thresholding",
    "controlnet_strength",
    "skip_cfg_above_sigma",
    "deliberate_euler_ancestral_bug",
    "prefer_brownian",
    "sm",
    "sm_dyn",
    "add_original_image",
    "strength",
    "noise",
    "extra_noise_seed",
    "color_correct",
    "reference_strength_multiple",
    "reference_information_extracted_multiple",
];

/// One image's text fields, in NovelAI's order: (keyword, text).
pub fn fields(
    g: &Generation,
    sample: u32,
    generation_time: Duration,
) -> Vec<(&'static str, String)> {
    vec![
        ("Title", "AI generated image".into()),
        ("Description", g.prompt.clone()),
        ("Software", "NovelAI".into()),
        ("Source", models::source(g.model)),
        (
            "Generation time",
            format!("{:.2}s", generation_time.as_secs_f64()),
        ),
        ("Comment", comment(g, sample).to_string()),
    ]
}

/// A prompt's caption as understood: `base_caption` and the `char_captions` (checked by
/// the validation to be `[{char_caption, centers}]`).
fn caption(prompt: &Value) -> Value {
    let c = &prompt["caption"];
    json!({
        "base_caption": c["base_caption"],
        "char_captions": c.get("char_captions").filter(|v| v.is_array()).cloned().unwrap_or(json!([])),
    })
}

/// The `Comment` JSON of one sample.
pub fn comment(g: &Generation, sample: u32) -> Value {
    let p = &g.parameters;
    let mut c = Map::new();
    c.insert("prompt".into(), json!(g.prompt));
    for key in ECHOED {
        if let Some(v) = p.get(*key) {
            c.insert((*key).into(), v.clone());
        }
    }
    c.insert("seed".into(), json!(g.seed + u64::from(sample)));
    c.insert("sampler".into(), json!(g.sampler));
    if g.model.family.has_v4_prompt() {
        let positive = &p["v4_prompt"];
        let negative = &p["v4_negative_prompt"];
        c.insert("uncond_scale".into(), json!(0.0));
        c.insert(
            "v4_prompt".into(),
            json!({
                "caption": caption(positive),
                "use_coords": positive["use_coords"].as_bool().unwrap_or(false),
                "use_order": positive["use_order"].as_bool().unwrap_or(true),
            }),
        );
        c.insert(
            "v4_negative_prompt".into(),
            json!({
                "caption": caption(negative),
                "use_coords": false,
                "use_order": false,
                "legacy_uc": negative["legacy_uc"].as_bool().unwrap_or(false),
            }),
        );
    } else {
        let uncond = p["uncond_scale"].as_f64().unwrap_or(1.0);
        c.insert("uncond_scale".into(), json!(uncond));
    }
    c.insert("uc".into(), json!(g.negative_prompt));
    c.insert("request_type".into(), json!(g.action.request_type()));
    Value::Object(c)
}

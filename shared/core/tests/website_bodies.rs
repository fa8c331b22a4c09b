//! naiq's `POST /ai/generate-image` bodies against the website's, field by field.
//!
//! For every capture in `tests/fixtures/website/` (sources in its README) the test builds
//! the `POST /generate` request with the capture's settings, runs it through
//! `parse_submit` and `body::build`, flattens both bodies to `path = value` leaves and
//! checks that
//! - every leaf of the capture is in ours with the same value and JSON type (`5` is not
//!   `5.0`), unless the case lists it as differing or as not sent, with the reason;
//! - every leaf we send that the capture lacks is listed as extra, with the reason;
//! - every listed path really differs, is really missing, or is really extra (no stale
//!   entries).
//!
//! Paths: `parameters.v4_prompt.caption.char_captions[0].centers[0].x`; in the lists
//! `[*]` stands for any index.

use std::collections::BTreeMap;

use base64::Engine as _;
use naiq_core::domain::models;
use naiq_core::domain::request::{Limits, parse_submit};
use naiq_core::novelai::body;
use serde_json::{Value, json};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/website");

/// The image naiq is given for image-to-image cases (a small real PNG: input images are
/// decoded); the capture's own image is shortened in the fixture.
fn input_png_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode(naiq_testkit::png_of(64, 64))
}

/// The mask naiq is given for inpainting cases (a real PNG: masks are decoded, thresholded
/// and snapped); the capture's own mask is shortened in the fixture.
fn input_mask_b64() -> String {
    base64::engine::general_purpose::STANDARD.encode(naiq_testkit::png_of(64, 64))
}

/// A path with the reason it is listed.
type Listed = &'static [(&'static str, &'static str)];

struct Case {
    fixture: &'static str,
    /// Leaves in both bodies with different values.
    differ: Listed,
    /// Leaves of the capture naiq does not send.
    missing: Listed,
    /// Leaves naiq sends that the capture lacks.
    extra: Listed,
}

// Reasons shared by several cases.
const UC_PRESET: &str = "metadata only (§3.3): naiq adds no undesired-content preset text, so it \
     sends 3 (\"None\"); the capture's preset text is in its negative_prompt, which naiq sends \
     verbatim";
const QUALITY_TOGGLE: &str = "metadata only (§3.3): naiq appends no quality tags, so it sends \
     false; the capture's tags are in its prompt, which naiq sends verbatim";
const IMAGE: &str = "the input image (the fixture's is shortened; the test uploads its own)";
const MASK: &str = "the inpainting mask (the fixture's is shortened; the test uploads its own, \
     which naiq thresholds and snaps to 8x8 cells)";
const CENTERS: &str = "the capture leaves placement to the AI with centres (0,0); naiq centres a \
     character without a position at (0.5,0.5) (C3, the website's default cell and NekoAI's \
     value), never (0,0)";
const OLD_VIBE: &str = "pre-April-2024 single-vibe fields (the website sent its slider values \
     even without a vibe image); replaced by the *_multiple lists, and naiq has no vibe transfer";
const VIBE_LISTS_V3: &str = "the empty vibe lists of the April 2024 schema, which the website \
     sends V3 since (see v3_text2image_2024-12.json)";
const VIBE_LISTS_V4: &str = "empty vibe lists: the 2025 website (v45_curated_text2image.json) no \
     longer sends them when no vibe is used, so naiq follows that form";
const FORM_2025: &str = "the 2025 website form (v45_curated_text2image.json, NekoAI's nai4 and \
     nai4.5 payloads), which it sends to V4 models as well";
const INPAINT_STRENGTH: &str = "in NekoAI's 2025 V4.5 payloads and the handbook's V4 list (§3.3); \
     1 has no effect outside inpainting";

const CASES: &[Case] = &[
    Case {
        fixture: "v3_text2image.json",
        differ: &[
            ("parameters.ucPreset", UC_PRESET),
            ("parameters.qualityToggle", QUALITY_TOGGLE),
        ],
        missing: &[
            ("parameters.reference_information_extracted", OLD_VIBE),
            ("parameters.reference_strength", OLD_VIBE),
        ],
        extra: &[
            ("parameters.reference_image_multiple", VIBE_LISTS_V3),
            (
                "parameters.reference_information_extracted_multiple",
                VIBE_LISTS_V3,
            ),
            ("parameters.reference_strength_multiple", VIBE_LISTS_V3),
        ],
    },
    Case {
        fixture: "v3_img2img.json",
        differ: &[
            ("parameters.ucPreset", UC_PRESET),
            ("parameters.qualityToggle", QUALITY_TOGGLE),
            ("parameters.image", IMAGE),
        ],
        missing: &[
            ("parameters.reference_information_extracted", OLD_VIBE),
            ("parameters.reference_strength", OLD_VIBE),
        ],
        extra: &[
            ("parameters.reference_image_multiple", VIBE_LISTS_V3),
            (
                "parameters.reference_information_extracted_multiple",
                VIBE_LISTS_V3,
            ),
            ("parameters.reference_strength_multiple", VIBE_LISTS_V3),
        ],
    },
    // The website's later V3 form (params_version 3, as for V4 but with sm/sm_dyn). naiq
    // keeps the params_version 1 form of the handbook (§3.3) and of the first capture;
    // NovelAI took both in the captures.
    Case {
        fixture: "v3_text2image_2024-12.json",
        differ: &[
            ("parameters.ucPreset", UC_PRESET),
            ("parameters.qualityToggle", QUALITY_TOGGLE),
            (
                "parameters.params_version",
                "naiq sends V3 the params_version 1 form (handbook §3.3, v3_text2image.json); \
                 this capture is the website's late-2024 V3 form",
            ),
            (
                "parameters.add_original_image",
                "only used by inpainting: naiq sends true for infill (as inpaint_v3.json \
                 does) and otherwise keeps the params_version 1 capture's false",
            ),
        ],
        missing: &[
            (
                "parameters.skip_cfg_above_sigma",
                "late-2024 form only; null = Variety+ off, the same as leaving it out",
            ),
            (
                "parameters.characterPrompts",
                "late-2024 form only; V3 takes no character prompts (always [] here)",
            ),
            (
                "parameters.deliberate_euler_ancestral_bug",
                "late-2024 form only, not in the params_version 1 form",
            ),
            (
                "parameters.prefer_brownian",
                "late-2024 form only, not in the params_version 1 form",
            ),
        ],
        extra: &[(
            "parameters.uncond_scale",
            "part of the params_version 1 form (v3_text2image.json), always 1",
        )],
    },
    // The website's V3 inpainting body (late-2024, params_version 3 form, like
    // v3_text2image_2024-12.json): infill to nai-diffusion-3-inpainting with image, mask,
    // strength, noise, extra_noise_seed and add_original_image true. No
    // inpaintImg2ImgStrength for V3, and naiq sends none there either.
    Case {
        fixture: "inpaint_v3.json",
        differ: &[
            ("parameters.ucPreset", UC_PRESET),
            ("parameters.qualityToggle", QUALITY_TOGGLE),
            ("parameters.image", IMAGE),
            ("parameters.mask", MASK),
            (
                "parameters.params_version",
                "naiq sends V3 the params_version 1 form (handbook §3.3, v3_text2image.json, \
                 v3_img2img.json); this capture is the website's late-2024 V3 form",
            ),
        ],
        missing: &[
            (
                "parameters.skip_cfg_above_sigma",
                "late-2024 form only; null = Variety+ off, the same as leaving it out",
            ),
            (
                "parameters.use_coords",
                "late-2024 form only; V3 takes no character prompts, so there is nothing to \
                 place",
            ),
            (
                "parameters.characterPrompts[*].prompt",
                "website state: V3 takes no character prompts (naiq rejects characters for \
                 V3); the capture carries the V4 character panel along, unused",
            ),
            (
                "parameters.characterPrompts[*].uc",
                "same as parameters.characterPrompts[*].prompt",
            ),
            (
                "parameters.characterPrompts[*].center.x",
                "same as parameters.characterPrompts[*].prompt",
            ),
            (
                "parameters.characterPrompts[*].center.y",
                "same as parameters.characterPrompts[*].prompt",
            ),
            (
                "parameters.deliberate_euler_ancestral_bug",
                "late-2024 form only, not in the params_version 1 form",
            ),
            (
                "parameters.prefer_brownian",
                "late-2024 form only, not in the params_version 1 form",
            ),
        ],
        extra: &[(
            "parameters.uncond_scale",
            "part of the params_version 1 form (v3_text2image.json), always 1",
        )],
    },
    Case {
        fixture: "v4_curated_text2image.json",
        differ: &[
            ("parameters.ucPreset", UC_PRESET),
            ("parameters.qualityToggle", QUALITY_TOGGLE),
            (
                "parameters.use_coords",
                "the capture sets use_coords with every character at the AI's choice (0,0) \
                 (2024-12 website); the 2025 capture sends false for that, and naiq sets it \
                 only when some character has a position",
            ),
            (
                "parameters.v4_prompt.use_coords",
                "same as parameters.use_coords",
            ),
            ("parameters.characterPrompts[*].center.x", CENTERS),
            ("parameters.characterPrompts[*].center.y", CENTERS),
            (
                "parameters.v4_prompt.caption.char_captions[*].centers[*].x",
                CENTERS,
            ),
            (
                "parameters.v4_prompt.caption.char_captions[*].centers[*].y",
                CENTERS,
            ),
            (
                "parameters.v4_negative_prompt.caption.char_captions[*].centers[*].x",
                CENTERS,
            ),
            (
                "parameters.v4_negative_prompt.caption.char_captions[*].centers[*].y",
                CENTERS,
            ),
        ],
        missing: &[
            ("parameters.reference_image_multiple", VIBE_LISTS_V4),
            (
                "parameters.reference_information_extracted_multiple",
                VIBE_LISTS_V4,
            ),
            ("parameters.reference_strength_multiple", VIBE_LISTS_V4),
        ],
        extra: &[
            ("parameters.autoSmea", FORM_2025),
            ("parameters.skip_cfg_above_sigma", FORM_2025),
            ("parameters.legacy_uc", FORM_2025),
            (
                "parameters.normalize_reference_strength_multiple",
                FORM_2025,
            ),
            ("parameters.characterPrompts[*].enabled", FORM_2025),
            ("parameters.v4_negative_prompt.legacy_uc", FORM_2025),
            ("parameters.inpaintImg2ImgStrength", INPAINT_STRENGTH),
        ],
    },
    Case {
        fixture: "v4_curated_img2img.json",
        differ: &[
            ("parameters.ucPreset", UC_PRESET),
            ("parameters.qualityToggle", QUALITY_TOGGLE),
            ("parameters.image", IMAGE),
            (
                "parameters.use_coords",
                "as in v4_curated_text2image.json: naiq sets it only when a character has a \
                 position",
            ),
            (
                "parameters.v4_prompt.use_coords",
                "same as parameters.use_coords",
            ),
            ("parameters.characterPrompts[*].center.x", CENTERS),
            ("parameters.characterPrompts[*].center.y", CENTERS),
            (
                "parameters.v4_prompt.caption.char_captions[*].centers[*].x",
                CENTERS,
            ),
            (
                "parameters.v4_prompt.caption.char_captions[*].centers[*].y",
                CENTERS,
            ),
            (
                "parameters.v4_negative_prompt.caption.char_captions[*].centers[*].x",
                CENTERS,
            ),
            (
                "parameters.v4_negative_prompt.caption.char_captions[*].centers[*].y",
                CENTERS,
            ),
        ],
        missing: &[
            ("parameters.reference_image_multiple", VIBE_LISTS_V4),
            (
                "parameters.reference_information_extracted_multiple",
                VIBE_LISTS_V4,
            ),
            ("parameters.reference_strength_multiple", VIBE_LISTS_V4),
        ],
        extra: &[
            ("parameters.autoSmea", FORM_2025),
            ("parameters.skip_cfg_above_sigma", FORM_2025),
            ("parameters.legacy_uc", FORM_2025),
            (
                "parameters.normalize_reference_strength_multiple",
                FORM_2025,
            ),
            ("parameters.characterPrompts[*].enabled", FORM_2025),
            ("parameters.v4_negative_prompt.legacy_uc", FORM_2025),
            ("parameters.inpaintImg2ImgStrength", INPAINT_STRENGTH),
        ],
    },
    // Placed characters (A1 and E5) with their own UC, and a sampler other than Euler
    // ancestral (so no deliberate_euler_ancestral_bug/prefer_brownian).
    Case {
        fixture: "v4_full_characters_positions.json",
        differ: &[
            ("parameters.ucPreset", UC_PRESET),
            ("parameters.qualityToggle", QUALITY_TOGGLE),
        ],
        missing: &[],
        extra: &[("parameters.inpaintImg2ImgStrength", INPAINT_STRENGTH)],
    },
    Case {
        fixture: "v45_curated_text2image.json",
        differ: &[
            ("parameters.ucPreset", UC_PRESET),
            ("parameters.qualityToggle", QUALITY_TOGGLE),
            (
                "input",
                "the capture's input and v4_prompt base_caption are different texts (website \
                 state); naiq sends its one prompt as both, and the test gives it the \
                 base_caption",
            ),
            ("parameters.characterPrompts[*].center.x", CENTERS),
            ("parameters.characterPrompts[*].center.y", CENTERS),
            (
                "parameters.v4_prompt.caption.char_captions[*].centers[*].x",
                CENTERS,
            ),
            (
                "parameters.v4_prompt.caption.char_captions[*].centers[*].y",
                CENTERS,
            ),
            (
                "parameters.v4_negative_prompt.caption.char_captions[*].centers[*].x",
                CENTERS,
            ),
            (
                "parameters.v4_negative_prompt.caption.char_captions[*].centers[*].y",
                CENTERS,
            ),
        ],
        missing: &[],
        extra: &[("parameters.inpaintImg2ImgStrength", INPAINT_STRENGTH)],
    },
    Case {
        fixture: "v45_full_text2image.json",
        differ: &[
            ("parameters.qualityToggle", QUALITY_TOGGLE),
            (
                "parameters.skip_cfg_above_sigma",
                "Variety+ is on in that payload (58); naiq does not offer Variety+ and sends \
                 null (off), as the 2025 browser capture does",
            ),
        ],
        missing: &[],
        extra: &[],
    },
];

fn load(fixture: &str) -> Value {
    let path = format!("{FIXTURES}/{fixture}");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The grid cell of a character centre, when it is one.
fn cell(center: &Value) -> Option<String> {
    const GRID: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];
    let index = |v: &Value| GRID.iter().position(|g| Some(*g) == v.as_f64());
    let (x, y) = (index(&center["x"])?, index(&center["y"])?);
    Some(format!("{}{}", (b'A' + x as u8) as char, y + 1))
}

/// The `POST /generate` body with the capture's settings.
fn request_for(capture: &Value) -> Value {
    let p = &capture["parameters"];
    let prompt = p["v4_prompt"]["caption"]["base_caption"]
        .as_str()
        .or(capture["input"].as_str())
        .expect("a prompt");
    // An infill capture names the inpainting variant; naiq is asked for the base model.
    let model = capture["model"].as_str().expect("a model");
    let model = models::MODELS
        .iter()
        .find(|m| models::inpainting_model(m.id) == Some(model))
        .map_or(model, |m| m.id);
    let family = models::resolve_model(model).expect("a known model").family;
    let mut req = json!({
        "prompt": prompt,
        "negative_prompt": p["negative_prompt"],
        "model": model,
    });
    for key in [
        "width",
        "height",
        "scale",
        "sampler",
        "steps",
        "n_samples",
        "seed",
        "cfg_rescale",
        "noise_schedule",
        "sm",
        "sm_dyn",
    ] {
        if let Some(v) = p.get(key) {
            req[key] = v.clone();
        }
    }
    if capture["action"] == "img2img" || capture["action"] == "infill" {
        req["image"] = json!(input_png_b64());
        req["strength"] = p["strength"].clone();
        req["noise"] = p["noise"].clone();
    }
    if capture["action"] == "infill" {
        req["mask"] = json!(input_mask_b64());
    }
    let placed = p["use_coords"] == true;
    // Character prompts only where the family takes them (a V3 capture may carry the
    // website's unused character panel).
    if let Some(chars) = p["characterPrompts"]
        .as_array()
        .filter(|c| !c.is_empty() && family.supports_characters())
    {
        let chars: Vec<Value> = chars
            .iter()
            .map(|c| {
                let mut ch = json!({"prompt": c["prompt"], "uc": c["uc"]});
                if let Some(cell) = cell(&c["center"]).filter(|_| placed) {
                    ch["position"] = json!(cell);
                }
                ch
            })
            .collect();
        req["characters"] = Value::Array(chars);
    }
    req
}

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&path, v, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        leaf => {
            out.insert(prefix.to_string(), leaf.clone());
        }
    }
}

/// The path with every index replaced by `*`.
fn generalise(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_index = false;
    for ch in path.chars() {
        match ch {
            '[' => {
                in_index = true;
                out.push_str("[*");
            }
            ']' => {
                in_index = false;
                out.push(']');
            }
            _ if in_index => {}
            _ => out.push(ch),
        }
    }
    out
}

fn listed(list: Listed, path: &str) -> bool {
    let general = generalise(path);
    list.iter().any(|(p, _)| *p == path || *p == general)
}

fn compare(case: &Case) -> Vec<String> {
    let capture = load(case.fixture);
    let req = request_for(&capture);
    let submit = parse_submit(req.to_string().as_bytes(), &Limits::default())
        .unwrap_or_else(|e| panic!("{}: request {req} rejected: {e:?}", case.fixture));
    let image = submit.image.as_ref().map(|_| input_png_b64());
    let mask = submit.mask.as_ref().map(|_| input_mask_b64());
    let ours = body::build(&submit.params, image.as_deref(), mask.as_deref()).to_json();

    let (mut theirs_flat, mut ours_flat) = (BTreeMap::new(), BTreeMap::new());
    flatten("", &capture, &mut theirs_flat);
    flatten("", &ours, &mut ours_flat);

    let mut problems = Vec::new();
    let mut used: Vec<&str> = Vec::new();
    for (path, theirs) in &theirs_flat {
        match ours_flat.get(path) {
            None if listed(case.missing, path) => used.push(path),
            None => problems.push(format!("{path}: the website sends {theirs}, naiq nothing")),
            Some(mine) if listed(case.differ, path) => {
                if mine == theirs {
                    problems.push(format!("{path}: listed as differing but both are {mine}"));
                }
                used.push(path);
            }
            Some(mine) if mine != theirs => {
                problems.push(format!("{path}: the website sends {theirs}, naiq {mine}"))
            }
            Some(_) => {
                if listed(case.missing, path) || listed(case.extra, path) {
                    problems.push(format!("{path}: listed, but both send the same"));
                }
            }
        }
    }
    for (path, mine) in &ours_flat {
        if theirs_flat.contains_key(path) {
            continue;
        }
        if listed(case.extra, path) {
            used.push(path);
        } else {
            problems.push(format!("{path}: naiq sends {mine}, the website nothing"));
        }
    }
    for (pattern, reason) in case.differ.iter().chain(case.missing).chain(case.extra) {
        assert!(!reason.trim().is_empty(), "{pattern}: no reason");
        if !used
            .iter()
            .any(|p| p == pattern || generalise(p) == *pattern)
        {
            problems.push(format!("{pattern}: listed but never seen"));
        }
    }
    problems
        .into_iter()
        .map(|p| format!("{}: {p}", case.fixture))
        .collect()
}

#[test]
fn bodies_match_the_website_captures_field_by_field() {
    let problems: Vec<String> = CASES.iter().flat_map(compare).collect();
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn every_fixture_has_a_case_and_every_family_is_covered() {
    let mut files: Vec<String> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    files.sort();
    let mut cases: Vec<String> = CASES.iter().map(|c| c.fixture.to_string()).collect();
    cases.sort();
    assert_eq!(files, cases);

    let families: Vec<(String, String)> = CASES
        .iter()
        .map(|c| {
            let capture = load(c.fixture);
            let req = request_for(&capture);
            let p = parse_submit(req.to_string().as_bytes(), &Limits::default())
                .unwrap()
                .params;
            let family = serde_json::to_value(p.family).unwrap();
            let action = capture["action"].as_str().unwrap().to_string();
            (family.as_str().unwrap().to_string(), action)
        })
        .collect();
    for want in [
        ("v3", "generate"),
        ("v3", "img2img"),
        ("v3", "infill"),
        ("v4", "generate"),
        ("v4", "img2img"),
        ("v45", "generate"),
    ] {
        assert!(
            families
                .iter()
                .any(|(f, a)| (f.as_str(), a.as_str()) == want),
            "no case for {want:?}"
        );
    }
}

/// The comparison itself catches differences (guards the test against passing vacuously).
#[test]
fn the_comparison_notices_a_changed_field() {
    let case = Case {
        fixture: "v45_full_text2image.json",
        differ: &[("parameters.qualityToggle", QUALITY_TOGGLE)],
        missing: &[],
        extra: &[("parameters.not_sent", "never sent")],
    };
    let problems = compare(&case);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("parameters.skip_cfg_above_sigma")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("parameters.not_sent: listed but never seen")),
        "{problems:?}"
    );
}

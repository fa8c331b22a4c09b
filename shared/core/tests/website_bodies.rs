//! naiq's `POST /ai/generate-image` bodies against the website's, field by field.
//!
//! For every capture in `tests/fixtures/website/` (the website's 2026 bodies for V3, V4.5
//! and V5; sources in its README) the test builds
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
const UC_PRESET_ID: &str = "metadata: naiq adds no undesired-content preset text, so it names \
     the preset \"none\"; the capture's preset text is in its negative_prompt, which naiq \
     sends verbatim";
const QUALITY_PRESET_ID: &str = "metadata: naiq appends no quality tags, so it names the preset \
     \"none\"; the capture's tags are in its prompt, which naiq sends verbatim";
const TAG_HINT_QT: &str = "the quality preset's number: 0 (none) for naiq's \"none\"";
const TAG_HINT_UC: &str = "the undesired-content preset's number: 0 (none) for naiq's \"none\"";
const IMAGE_FORMAT: &str = "naiq asks for PNG by default (the seed's clients expect PNG URLs); \
     a job may ask for image_format webp, the website's choice";
const IMAGE: &str = "the input image (the fixture's is elided; the test uploads its own)";
const MASK: &str = "the inpainting mask (the fixture's is elided; the test uploads its own, \
     which naiq thresholds and snaps to 8x8 cells)";
const NO_FORMAT: &str = "the capture asked for a JSON answer (Accept: application/json) and sent \
     no image_format; naiq asks for a ZIP of PNGs";
const INPAINT_STRENGTH: &str = "naiq's strength is the inpainting strength (and what the price \
     scales by); the website sent full-strength inpainting (1) with the img2img strength 0.7";
const INPAINT_IMG2IMG: &str = "partial-strength inpainting: the website mirrors \
     inpaintImg2ImgStrength in img2img {strength, color_correct: true}";

const CASES: &[Case] = &[
    Case {
        fixture: "c12-v3-txt2img-webclient.json",
        differ: &[
            ("parameters.ucPresetId", UC_PRESET_ID),
            ("parameters.qualityPresetId", QUALITY_PRESET_ID),
            ("parameters.tag_hint_qt", TAG_HINT_QT),
            ("parameters.tag_hint_uc_preset", TAG_HINT_UC),
            ("parameters.image_format", IMAGE_FORMAT),
        ],
        missing: &[],
        extra: &[],
    },
    Case {
        fixture: "c02-v45full-txt2img-webclient.json",
        differ: &[
            ("parameters.ucPresetId", UC_PRESET_ID),
            ("parameters.qualityPresetId", QUALITY_PRESET_ID),
            ("parameters.tag_hint_qt", TAG_HINT_QT),
            ("parameters.tag_hint_uc_preset", TAG_HINT_UC),
            ("parameters.image_format", IMAGE_FORMAT),
        ],
        missing: &[],
        extra: &[],
    },
    Case {
        fixture: "c09-v45full-accept-json.json",
        differ: &[
            ("parameters.ucPresetId", UC_PRESET_ID),
            ("parameters.qualityPresetId", QUALITY_PRESET_ID),
            ("parameters.tag_hint_qt", TAG_HINT_QT),
            ("parameters.tag_hint_uc_preset", TAG_HINT_UC),
        ],
        missing: &[],
        extra: &[("parameters.image_format", NO_FORMAT)],
    },
    Case {
        fixture: "c06-v45full-img2img.json",
        differ: &[
            ("parameters.ucPresetId", UC_PRESET_ID),
            ("parameters.qualityPresetId", QUALITY_PRESET_ID),
            ("parameters.tag_hint_qt", TAG_HINT_QT),
            ("parameters.tag_hint_uc_preset", TAG_HINT_UC),
            ("parameters.image_format", IMAGE_FORMAT),
            ("parameters.image", IMAGE),
        ],
        missing: &[],
        extra: &[],
    },
    Case {
        fixture: "c03-v5full-txt2img-webclient.json",
        differ: &[
            ("parameters.ucPresetId", UC_PRESET_ID),
            ("parameters.qualityPresetId", QUALITY_PRESET_ID),
            ("parameters.tag_hint_qt", TAG_HINT_QT),
            ("parameters.tag_hint_uc_preset", TAG_HINT_UC),
            ("parameters.image_format", IMAGE_FORMAT),
        ],
        missing: &[],
        extra: &[],
    },
    // Two characters at free coordinates (0.3, 0.5) and (0.7, 0.5), one with its own UC.
    Case {
        fixture: "c04-v5full-multichar-coords.json",
        differ: &[
            ("parameters.ucPresetId", UC_PRESET_ID),
            ("parameters.qualityPresetId", QUALITY_PRESET_ID),
            ("parameters.tag_hint_qt", TAG_HINT_QT),
            ("parameters.tag_hint_uc_preset", TAG_HINT_UC),
            ("parameters.image_format", IMAGE_FORMAT),
        ],
        missing: &[],
        extra: &[],
    },
    Case {
        fixture: "c17-v5full-inpaint.json",
        differ: &[
            ("parameters.ucPresetId", UC_PRESET_ID),
            ("parameters.qualityPresetId", QUALITY_PRESET_ID),
            ("parameters.tag_hint_qt", TAG_HINT_QT),
            ("parameters.tag_hint_uc_preset", TAG_HINT_UC),
            ("parameters.image_format", IMAGE_FORMAT),
            ("parameters.image", IMAGE),
            ("parameters.mask", MASK),
            ("parameters.inpaintImg2ImgStrength", INPAINT_STRENGTH),
        ],
        missing: &[],
        extra: &[
            ("parameters.img2img.strength", INPAINT_IMG2IMG),
            ("parameters.img2img.color_correct", INPAINT_IMG2IMG),
        ],
    },
    // V5 Curated inpainting as the website's code builds it: NovelAI refused the capture's
    // own model id (400 "doesn't exist"); the website inpaints V5 Curated with V4.5
    // Curated's inpainting model, and so does naiq.
    Case {
        fixture: "c16-v5curated-inpaint-own-id.json",
        differ: &[
            (
                "model",
                "nai-diffusion-5-curated-inpainting does not exist upstream (the capture's \
                 400); naiq sends nai-diffusion-4-5-curated-inpainting",
            ),
            ("parameters.ucPresetId", UC_PRESET_ID),
            ("parameters.qualityPresetId", QUALITY_PRESET_ID),
            ("parameters.tag_hint_qt", TAG_HINT_QT),
            ("parameters.tag_hint_uc_preset", TAG_HINT_UC),
            ("parameters.image_format", IMAGE_FORMAT),
            ("parameters.image", IMAGE),
            ("parameters.mask", MASK),
            ("parameters.inpaintImg2ImgStrength", INPAINT_STRENGTH),
        ],
        missing: &[],
        extra: &[
            ("parameters.img2img.strength", INPAINT_IMG2IMG),
            ("parameters.img2img.color_correct", INPAINT_IMG2IMG),
        ],
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
    // An inpainting id with no base model naiq maps to it (V5 Curated's own): its base.
    let model = if models::resolve_model(model).is_none() {
        model.trim_end_matches("-inpainting")
    } else {
        model
    };
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
        if key == "cfg_rescale" && p[key] == 0 {
            continue;
        }
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
                if placed && family.free_positions() {
                    ch["position"] = c["center"].clone();
                } else if let Some(cell) = cell(&c["center"]).filter(|_| placed) {
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
        ("v45", "generate"),
        ("v45", "img2img"),
        ("v5", "generate"),
        ("v5", "infill"),
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
        fixture: "c03-v5full-txt2img-webclient.json",
        differ: &[("parameters.ucPresetId", UC_PRESET_ID)],
        missing: &[],
        extra: &[("parameters.not_sent", "never sent")],
    };
    let problems = compare(&case);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("parameters.qualityPresetId")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.contains("parameters.not_sent: listed but never seen")),
        "{problems:?}"
    );
}

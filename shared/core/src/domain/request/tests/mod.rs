//! Request validation's unit tests: every field named, images and masks fitted, characters, samplers.

use base64::Engine as _;

use super::*;
use serde_json::json;

fn parse(v: Value) -> Result<SubmitRequest, ValidationError> {
    parse_submit(v.to_string().as_bytes(), &Limits::default())
}

fn field_of(v: Value) -> String {
    parse(v).unwrap_err().field.unwrap_or_default()
}

#[test]
fn the_seed_body_is_accepted_with_v3_defaults() {
    let r =
        parse(json!({"prompt": "1girl, cat ears", "model": "nai-v3", "resolution": "portrait"}))
            .unwrap();
    let p = &r.params;
    assert_eq!(p.model, "nai-diffusion-3");
    assert_eq!((p.width, p.height), (832, 1216));
    assert_eq!((p.steps, p.scale, p.sampler.as_str()), (28, 5.0, "k_euler"));
    assert_eq!(p.n_samples, 1);
    assert!(!r.seed_given);
    assert_eq!(r.lane, Lane::Normal);
    assert!(r.credentials.is_none() && r.image.is_none());
}

#[test]
fn every_bad_field_is_named() {
    let base = || json!({"prompt": "x"});
    let with = |k: &str, v: Value| {
        let mut b = base();
        b[k] = v;
        b
    };
    assert_eq!(field_of(json!({})), "prompt");
    assert_eq!(field_of(json!({"prompt": "  "})), "prompt");
    assert_eq!(field_of(json!({"prompt": 5})), "prompt");
    assert_eq!(field_of(with("model", json!("dall-e"))), "model");
    assert_eq!(field_of(with("steps", json!(0))), "steps");
    assert_eq!(field_of(with("steps", json!(51))), "steps");
    assert_eq!(field_of(with("steps", json!(2.5))), "steps");
    assert_eq!(field_of(with("steps", json!("28"))), "steps");
    assert_eq!(field_of(with("scale", json!("11"))), "scale");
    assert_eq!(field_of(with("sampler", json!("euler_magic"))), "sampler");
    assert_eq!(field_of(with("resolution", json!("huge"))), "resolution");
    assert_eq!(
        field_of(json!({"prompt": "x", "width": 830, "height": 1216})),
        "width"
    );
    assert_eq!(field_of(json!({"prompt": "x", "width": 832})), "height");
    assert_eq!(
        field_of(json!({"prompt": "x", "width": 4096, "height": 4096})),
        "width"
    );
    assert_eq!(field_of(with("seed", json!(-1))), "seed");
    assert_eq!(field_of(with("seed", json!(4_294_967_296u64))), "seed");
    assert_eq!(field_of(with("n_samples", json!(9))), "n_samples");
    assert_eq!(
        field_of(json!({"prompt": "x", "n_samples": 8, "resolution": "portrait"})),
        "n_samples"
    );
    assert_eq!(field_of(with("priority", json!("urgent"))), "priority");
    assert_eq!(
        field_of(with("is_test_request", json!("yes"))),
        "is_test_request"
    );
    assert_eq!(field_of(with("strength", json!(0.5))), "strength");
    assert_eq!(field_of(with("image", json!("not base64!"))), "image");
    assert_eq!(field_of(with("image", json!("aGVsbG8gd29ybGQ="))), "image");
    assert_eq!(field_of(with("auth_type", json!("magic"))), "auth_type");
    assert_eq!(field_of(with("auth_type", json!("token"))), "token");
    assert_eq!(
        field_of(json!({"prompt": "x", "auth_type": "login", "email": "a@b.c"})),
        "password"
    );
    assert_eq!(field_of(with("token", json!("pst-x"))), "auth_type");
    assert_eq!(field_of(with("sm", json!(true))), "sm");
    assert_eq!(
        field_of(json!({"prompt": "x", "model": "nai-v4", "noise_schedule": "native"})),
        "noise_schedule"
    );
}

#[test]
fn malformed_bodies_are_malformed() {
    let e = parse_submit(b"{\"prompt\": ", &Limits::default()).unwrap_err();
    assert_eq!((e.code, e.field), ("malformed_json", None));
    let e = parse_submit(b"[1,2]", &Limits::default()).unwrap_err();
    assert_eq!(e.code, "malformed_json");
}

fn encoded(img: &image::DynamicImage, format: image::ImageFormat) -> String {
    let mut out = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut out), format)
        .unwrap();
    base64::engine::general_purpose::STANDARD.encode(out)
}

fn picture(w: u32, h: u32) -> image::DynamicImage {
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    }))
}

fn decoded_size(img: &InputImage) -> (u32, u32) {
    let d = image::load_from_memory(&img.bytes).unwrap();
    (d.width(), d.height())
}

#[test]
fn images_are_decoded_checked_and_fitted_to_the_target_size() {
    // A PNG data URL, with the size given: resized to it, sent as PNG.
    let b64 = encoded(&picture(300, 200), image::ImageFormat::Png);
    let r = parse(
        json!({"prompt": "x", "image": format!("data:image/png;base64,{b64}"),
        "strength": 0.5, "resolution": "small_landscape"}),
    )
    .unwrap();
    let img = r.image.unwrap();
    assert_eq!(img.content_type, "image/png");
    assert!(img.bytes.starts_with(b"\x89PNG"));
    assert_eq!(decoded_size(&img), (768, 512));
    assert_eq!((r.params.width, r.params.height), (768, 512));
    assert_eq!(
        r.params.img2img,
        Some(Img2Img {
            strength: 0.5,
            noise: 0.0
        })
    );

    // A JPEG without a size: the job takes the image's own, on the 64-pixel grid.
    let b64 = encoded(&picture(1000, 700), image::ImageFormat::Jpeg);
    let r = parse(json!({"prompt": "x", "image": b64})).unwrap();
    assert_eq!((r.params.width, r.params.height), (960, 640));
    assert_eq!(decoded_size(&r.image.unwrap()), (960, 640));
    // Too large for NovelAI: scaled down to fit the largest area.
    let b64 = encoded(&picture(4000, 3000), image::ImageFormat::Png);
    let r = parse(json!({"prompt": "x", "image": b64})).unwrap();
    assert!(u64::from(r.params.width) * u64::from(r.params.height) <= models::MAX_AREA);
    assert_eq!((r.params.width % 64, r.params.height % 64), (0, 0));
}

#[test]
fn bad_images_are_rejected_naming_the_field() {
    let png = encoded(&picture(128, 128), image::ImageFormat::Png);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&png)
        .unwrap();
    let truncated = base64::engine::general_purpose::STANDARD.encode(&bytes[..bytes.len() / 2]);
    for bad in [
        truncated,
        "aGVsbG8gd29ybGQ=".into(),
        "not base64!".into(),
        encoded(&picture(32, 32), image::ImageFormat::Png),
    ] {
        let e = parse(json!({"prompt": "x", "image": bad})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("image"), "{e:?}");
    }
    let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 100]);
    let limits = Limits {
        max_image_bytes: 50,
        ..Limits::default()
    };
    let e = parse_submit(
        json!({"prompt": "x", "image": big}).to_string().as_bytes(),
        &limits,
    )
    .unwrap_err();
    assert_eq!((e.code, e.field.as_deref()), ("too_large", Some("image")));
}

fn rgba_b64(w: u32, h: u32, f: impl Fn(u32, u32) -> [u8; 4]) -> String {
    let img = image::RgbaImage::from_fn(w, h, |x, y| image::Rgba(f(x, y)));
    encoded(
        &image::DynamicImage::ImageRgba8(img),
        image::ImageFormat::Png,
    )
}

/// The mask as naiq sends it: (width, height) and a pixel lookup (true = white).
fn mask_of(r: &SubmitRequest) -> image::GrayImage {
    let m = r.mask.as_ref().expect("a mask");
    assert_eq!(m.content_type, "image/png");
    assert!(m.bytes.starts_with(b"\x89PNG"));
    image::load_from_memory(&m.bytes).unwrap().to_luma8()
}

#[test]
fn masks_need_an_image_and_an_inpainting_model() {
    let png = encoded(&picture(128, 128), image::ImageFormat::Png);
    let e = parse(json!({"prompt": "x", "mask": png})).unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        ("invalid_parameter", Some("mask"))
    );
    for model in ["nai-v1", "nai-v2", "safe-diffusion", "nai-diffusion-furry"] {
        let e =
            parse(json!({"prompt": "x", "model": model, "image": png, "mask": png})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("mask"), "{model}");
        assert!(
            e.message.starts_with("inpainting is not available for "),
            "{}",
            e.message
        );
    }
    let e =
        parse(json!({"prompt": "x", "model": "nai-v2", "image": png, "mask": png})).unwrap_err();
    assert_eq!(e.message, "inpainting is not available for nai-diffusion-2");
    // Decoded with the image's checks, errors naming the mask.
    for bad in [
        json!("not base64!"),
        json!("aGVsbG8gd29ybGQ="),
        json!(encoded(&picture(32, 32), image::ImageFormat::Png)),
        json!(5),
    ] {
        let e = parse(json!({"prompt": "x", "image": png, "mask": bad})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("mask"), "{e:?}");
    }
    let big = base64::engine::general_purpose::STANDARD.encode(vec![0u8; 100_000]);
    let limits = Limits {
        max_image_bytes: 50_000,
        ..Limits::default()
    };
    let e = parse_submit(
        json!({"prompt": "x", "image": png, "mask": big})
            .to_string()
            .as_bytes(),
        &limits,
    )
    .unwrap_err();
    assert_eq!((e.code, e.field.as_deref()), ("too_large", Some("mask")));
    // Without a mask: plain image-to-image.
    let r = parse(json!({"prompt": "x", "image": png})).unwrap();
    assert!(!r.params.inpaint && r.mask.is_none());
}

#[test]
fn masks_are_thresholded_and_snapped_to_8x8_cells() {
    let png = encoded(&picture(128, 128), image::ImageFormat::Png);
    let mask = rgba_b64(128, 128, |x, y| match (x, y) {
        (13, 21) => [255, 255, 255, 255], // one white pixel: its cell (1,2) turns white
        (50, 50) => [200, 200, 200, 255], // light grey: white (cell (6,6))
        (80, 80) => [100, 100, 100, 255], // dark grey: black
        (100, 100) => [255, 255, 255, 100], // white but mostly transparent: black
        (120, 5) => [255, 255, 255, 0],   // fully transparent: black
        _ => [0, 0, 0, 255],
    });
    let r = parse(json!({"prompt": "x", "model": "nai-v4.5", "image": png,
        "mask": format!("data:image/png;base64,{mask}"), "strength": 0.6}))
    .unwrap();
    assert!(r.params.inpaint);
    assert_eq!(r.params.model, "nai-diffusion-4-5-full");
    assert_eq!(
        r.params.img2img,
        Some(Img2Img {
            strength: 0.6,
            noise: 0.0
        })
    );
    let m = mask_of(&r);
    assert_eq!(m.dimensions(), (128, 128));
    let at = |x: u32, y: u32| m.get_pixel(x, y).0[0];
    assert!(
        m.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255),
        "black or white"
    );
    for (x, y) in [(8, 16), (15, 23), (13, 21), (8, 23), (15, 16)] {
        assert_eq!(at(x, y), 255, "({x},{y}) in the white pixel's cell");
    }
    for (x, y) in [(7, 21), (16, 21), (13, 15), (13, 24)] {
        assert_eq!(at(x, y), 0, "({x},{y}) just outside the cell");
    }
    assert_eq!((at(48, 48), at(55, 55)), (255, 255));
    assert_eq!((at(80, 80), at(100, 100), at(120, 5)), (0, 0, 0));
    let white = m.pixels().filter(|p| p.0[0] == 255).count();
    assert_eq!(white, 2 * 64, "two white cells");
}

#[test]
fn masks_are_fitted_to_the_target_size() {
    // The size given: image and mask both resized to it.
    let png = encoded(&picture(300, 200), image::ImageFormat::Png);
    let mask = rgba_b64(150, 100, |x, _| {
        if x < 75 {
            [255, 255, 255, 255]
        } else {
            [0, 0, 0, 255]
        }
    });
    let r = parse(
        json!({"prompt": "x", "model": "nai-v3", "image": png, "mask": mask,
        "resolution": "small_landscape"}),
    )
    .unwrap();
    assert_eq!((r.params.width, r.params.height), (768, 512));
    assert_eq!(decoded_size(r.image.as_ref().unwrap()), (768, 512));
    let m = mask_of(&r);
    assert_eq!(m.dimensions(), (768, 512));
    assert_eq!(m.get_pixel(100, 300).0[0], 255, "left half: repaint");
    assert_eq!(m.get_pixel(700, 300).0[0], 0, "right half: keep");
    // No size given: the mask takes the image's grid size, whatever its own.
    let png = encoded(&picture(1000, 700), image::ImageFormat::Jpeg);
    let mask = rgba_b64(64, 64, |_, _| [255, 255, 255, 255]);
    let r = parse(json!({"prompt": "x", "model": "nai-v3", "image": png, "mask": mask})).unwrap();
    let m = mask_of(&r);
    assert_eq!(m.dimensions(), (960, 640));
    assert!(m.pixels().all(|p| p.0[0] == 255));
}

#[test]
fn test_requests_take_the_test_lane_and_credentials_parse() {
    let r = parse(
        json!({"prompt": "x", "is_test_request": true, "priority": "low",
        "auth_type": "token", "token": "pst-abc"}),
    )
    .unwrap();
    assert_eq!(r.lane, Lane::Test);
    assert_eq!(
        r.credentials,
        Some(Credentials::Token {
            token: "pst-abc".into()
        })
    );
    let r =
        parse(json!({"prompt": "x", "seed": 42, "model": "nai-v3", "sampler": "ddim"})).unwrap();
    assert!(r.seed_given);
    assert_eq!(r.params.seed, 42);
    assert_eq!(r.params.sampler, "ddim_v3");
}

fn code_and_field(v: Value) -> (&'static str, String) {
    let e = parse(v).unwrap_err();
    (e.code, e.field.unwrap_or_default())
}

#[test]
fn characters_are_parsed_for_v4_models() {
    let r = parse(
        json!({"prompt": "2girls", "model": "nai-v4.5", "characters": [
            {"prompt": "girl, red hair", "uc": "bad hands", "position": " c3 "},
            {"prompt": "girl, blue hair", "position": null},
        ]}),
    )
    .unwrap();
    assert_eq!(
        r.params.characters,
        vec![
            Character {
                prompt: "girl, red hair".into(),
                uc: "bad hands".into(),
                position: Some("C3".into()),
                center: None,
            },
            Character {
                prompt: "girl, blue hair".into(),
                uc: String::new(),
                position: None,
                center: None,
            },
        ]
    );
    let six: Vec<Value> = (0..6).map(|i| json!({"prompt": format!("c{i}")})).collect();
    let r = parse(json!({"prompt": "x", "model": "nai-v4", "characters": six})).unwrap();
    assert_eq!(r.params.characters.len(), 6);
    // No list, null and [] all mean no characters, on every model.
    for model in ["nai-v3", "nai-v1", "nai-v4.5"] {
        for chars in [json!(null), json!([])] {
            let r = parse(json!({"prompt": "x", "model": model, "characters": chars})).unwrap();
            assert!(r.params.characters.is_empty());
        }
    }
}

#[test]
fn bad_characters_are_named_by_index() {
    let with =
        |model: &str, chars: Value| json!({"prompt": "x", "model": model, "characters": chars});
    let one = |c: Value| with("nai-v4.5", json!([{"prompt": "ok"}, c]));
    assert_eq!(
        code_and_field(with("nai-v3", json!([{"prompt": "a"}]))),
        ("invalid_parameter", "characters".into())
    );
    assert_eq!(
        code_and_field(with("nai-v2", json!([{"prompt": "a"}]))),
        ("invalid_parameter", "characters".into())
    );
    let seven: Vec<Value> = (0..7).map(|i| json!({"prompt": format!("c{i}")})).collect();
    assert_eq!(field_of(with("nai-v4", json!(seven))), "characters");
    assert_eq!(
        field_of(with("nai-v4", json!({"prompt": "a"}))),
        "characters"
    );
    assert_eq!(field_of(with("nai-v4", json!(["a"]))), "characters[0]");
    assert_eq!(
        code_and_field(one(json!({"uc": "x"}))),
        ("missing_parameter", "characters[1].prompt".into())
    );
    assert_eq!(
        field_of(one(json!({"prompt": "  "}))),
        "characters[1].prompt"
    );
    assert_eq!(field_of(one(json!({"prompt": 5}))), "characters[1].prompt");
    assert_eq!(
        field_of(one(json!({"prompt": "a", "uc": 1}))),
        "characters[1].uc"
    );
    for bad in ["F3", "C6", "C0", "3C", "C", "", "CC3", "middle"] {
        assert_eq!(
            field_of(one(json!({"prompt": "a", "position": bad}))),
            "characters[1].position",
            "{bad}"
        );
    }
    assert_eq!(
        field_of(one(json!({"prompt": "a", "position": 33}))),
        "characters[1].position"
    );
    let long = "x".repeat(Limits::default().max_prompt_chars + 1);
    assert_eq!(
        field_of(one(json!({"prompt": long}))),
        "characters[1].prompt"
    );
    assert_eq!(
        field_of(one(json!({"prompt": "a", "uc": long}))),
        "characters[1].uc"
    );
    let e = parse(one(json!({"prompt": "a", "position": "Z9"}))).unwrap_err();
    assert!(
        e.message.contains("characters[1].position"),
        "{}",
        e.message
    );
}

#[test]
fn stored_params_stay_compatible() {
    let r = parse(json!({"prompt": "x", "model": "nai-v3", "seed": 3})).unwrap();
    let stored = serde_json::to_value(&r.params).unwrap();
    assert!(
        stored.get("characters").is_none(),
        "no key when there are none"
    );
    // A job stored before characters existed.
    let old = json!({"model": "nai-diffusion-3", "family": "v3", "prompt": "x",
        "negative_prompt": "", "width": 832, "height": 1216, "steps": 28, "scale": 5.0,
        "sampler": "k_euler", "noise_schedule": "native", "seed": 3, "n_samples": 1,
        "sm": false, "sm_dyn": false, "cfg_rescale": 0.0, "img2img": null});
    let params: GenerationParams = serde_json::from_value(old).unwrap();
    assert_eq!(params, r.params);
    let r = parse(
        json!({"prompt": "x", "characters": [{"prompt": "a", "position": "B2"}, {"prompt": "b"}]}),
    )
    .unwrap();
    let text = serde_json::to_string(&r.params).unwrap();
    let back: GenerationParams = serde_json::from_str(&text).unwrap();
    assert_eq!(back, r.params);
    // Inpainting is stored as a flag, only when set.
    assert!(
        stored.get("inpaint").is_none(),
        "no key when not inpainting"
    );
    let png = encoded(&picture(64, 64), image::ImageFormat::Png);
    let r = parse(json!({"prompt": "x", "image": png, "mask": png})).unwrap();
    let stored = serde_json::to_value(&r.params).unwrap();
    assert_eq!(stored["inpaint"], true);
    let back: GenerationParams = serde_json::from_value(stored).unwrap();
    assert_eq!(back, r.params);
}

#[test]
fn samplers_follow_the_model() {
    let p = |v: Value| parse(v).unwrap().params;
    let q = p(json!({"prompt": "x", "model": "nai-v3", "sampler": "nai_smea"}));
    assert_eq!(
        (q.sampler.as_str(), q.sm, q.sm_dyn),
        ("k_euler_ancestral", true, false)
    );
    let q = p(json!({"prompt": "x", "model": "nai-v3", "sampler": "NAI_SMEA_DYN", "sm": true}));
    assert_eq!(
        (q.sampler.as_str(), q.sm, q.sm_dyn),
        ("k_euler_ancestral", true, true)
    );
    let q = p(json!({"prompt": "x", "model": "nai-v3", "sampler": "nai_smea", "sm_dyn": true}));
    assert_eq!((q.sm, q.sm_dyn), (true, true));
    assert_eq!(
        p(json!({"prompt": "x", "model": "nai-v1", "sampler": "ddim_v3"})).sampler,
        "ddim"
    );
    let q = p(json!({"prompt": "x", "model": "nai-v3", "sm": true, "sm_dyn": true}));
    assert_eq!((q.sm, q.sm_dyn), (true, true));

    let with = |model: &str, extra: Value| {
        let mut b = json!({"prompt": "x", "model": model});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for model in ["nai-v4", "nai-v4.5"] {
        for s in ["ddim", "ddim_v3", "nai_smea", "nai_smea_dyn"] {
            assert_eq!(
                field_of(with(model, json!({"sampler": s}))),
                "sampler",
                "{model} {s}"
            );
        }
    }
    assert_eq!(
        field_of(with("nai-v2", json!({"sampler": "nai_smea"}))),
        "sampler"
    );
    assert_eq!(
        field_of(with("nai-v3", json!({"sampler": "nai_smea", "sm": false}))),
        "sm"
    );
    assert_eq!(
        field_of(with(
            "nai-v3",
            json!({"sampler": "nai_smea_dyn", "sm_dyn": false})
        )),
        "sm_dyn"
    );
    assert_eq!(field_of(with("nai-v3", json!({"sm_dyn": true}))), "sm_dyn");
    assert_eq!(field_of(with("nai-v4", json!({"sm_dyn": true}))), "sm_dyn");
    assert_eq!(
        field_of(with("nai-v3", json!({"sampler": "ddim", "sm": true}))),
        "sm"
    );
}

#[test]
fn noise_schedules_follow_the_model_and_sampler() {
    let p = |v: Value| parse(v).unwrap().params;
    assert_eq!(
        p(json!({"prompt": "x", "model": "nai-v3"})).noise_schedule,
        "native"
    );
    assert_eq!(
        p(json!({"prompt": "x", "model": "nai-v4"})).noise_schedule,
        "karras"
    );
    for model in ["nai-v3", "nai-v4", "nai-v4.5"] {
        let q = p(json!({"prompt": "x", "model": model, "sampler": "k_dpm_2"}));
        assert_eq!(q.noise_schedule, "exponential", "{model}");
        let q = p(json!({"prompt": "x", "model": model, "sampler": "k_dpm_2",
            "noise_schedule": "polyexponential"}));
        assert_eq!(q.noise_schedule, "polyexponential", "{model}");
        for bad in ["karras", "native"] {
            assert_eq!(
                field_of(json!({"prompt": "x", "model": model, "sampler": "k_dpm_2",
                    "noise_schedule": bad})),
                "noise_schedule",
                "{model} {bad}"
            );
        }
    }
    assert_eq!(
        p(json!({"prompt": "x", "model": "nai-v4.5", "noise_schedule": " Exponential "}))
            .noise_schedule,
        "exponential"
    );
    assert_eq!(
        field_of(json!({"prompt": "x", "model": "nai-v4.5", "noise_schedule": "native"})),
        "noise_schedule"
    );
    assert_eq!(
        field_of(json!({"prompt": "x", "noise_schedule": "linear"})),
        "noise_schedule"
    );
    assert_eq!(
        field_of(json!({"prompt": "x", "noise_schedule": 3})),
        "noise_schedule"
    );
}

#[test]
fn v5_models_follow_their_rules() {
    // The default model is the website's, V5 Curated, with V5's defaults.
    let r = parse(json!({"prompt": "x"})).unwrap();
    assert_eq!(r.params.model, "nai-diffusion-5-curated");
    assert_eq!(
        (
            r.params.steps,
            r.params.scale,
            r.params.noise_schedule.as_str()
        ),
        (23, 7.0, "karras")
    );
    // Karras only, no SMEA.
    assert_eq!(
        code_and_field(json!({"prompt": "x", "model": "nai-v5", "noise_schedule": "exponential"})),
        ("invalid_parameter", "noise_schedule".to_string())
    );
    assert_eq!(
        code_and_field(json!({"prompt": "x", "model": "nai-v5", "sm": true})).1,
        "sm"
    );
    // Medium: 14 steps whatever the default, its one sampler, no UC, no CFG rescale.
    let m = parse(json!({"prompt": "x", "model": "nai-v5-medium"})).unwrap();
    assert_eq!(
        (m.params.steps, m.params.sampler.as_str()),
        (14, "k_euler_ancestral")
    );
    assert!(parse(json!({"prompt": "x", "model": "nai-v5-medium", "steps": 14})).is_ok());
    for (extra, field) in [
        (json!({"steps": 28}), "steps"),
        (json!({"sampler": "k_euler"}), "sampler"),
        (json!({"negative_prompt": "lowres"}), "negative_prompt"),
        (json!({"cfg_rescale": 0.2}), "cfg_rescale"),
        (
            json!({"characters": [{"prompt": "girl", "uc": "hat"}]}),
            "characters[0].uc",
        ),
    ] {
        let mut body = json!({"prompt": "x", "model": "nai-v5-medium"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        assert_eq!(code_and_field(body).1, field);
    }
}

#[test]
fn v5_characters_take_free_positions_and_v4_keeps_the_grid() {
    let r = parse(
        json!({"prompt": "2girls", "model": "nai-v5", "characters": [
            {"prompt": "girl, red hair", "position": {"x": 0.3, "y": 0.5004}},
            {"prompt": "girl, black hair", "position": "E5"},
        ]}),
    )
    .unwrap();
    let c = &r.params.characters;
    assert_eq!(
        c[0].center,
        Some(Center { x: 0.3, y: 0.5 }),
        "kept to 0.001"
    );
    assert_eq!(c[1].center(), Center { x: 0.9, y: 0.9 });
    assert_eq!(
        code_and_field(json!({"prompt": "x", "model": "nai-v4.5", "characters": [
            {"prompt": "girl", "position": {"x": 0.3, "y": 0.5}}]})),
        ("invalid_parameter", "characters[0].position".to_string())
    );
    assert_eq!(
        code_and_field(json!({"prompt": "x", "model": "nai-v5", "characters": [
            {"prompt": "girl", "position": {"x": 1.3, "y": 0.5}}]})),
        ("invalid_parameter", "characters[0].position.x".to_string())
    );
    let many: Vec<Value> = (0..32)
        .map(|i| json!({"prompt": format!("c{i}")}))
        .collect();
    assert!(parse(json!({"prompt": "x", "model": "nai-v5", "characters": many})).is_ok());
    let too_many: Vec<Value> = (0..33)
        .map(|i| json!({"prompt": format!("c{i}")}))
        .collect();
    assert_eq!(
        code_and_field(json!({"prompt": "x", "model": "nai-v5", "characters": too_many})).1,
        "characters"
    );
}

#[test]
fn prompts_in_any_script_are_kept_as_given_and_the_format_is_png_unless_asked() {
    let prompt = "一只可爱的猫咪，高清照片 🐱 кошка";
    let r = parse(
        json!({"prompt": prompt, "negative_prompt": "模糊", "characters": [
        {"prompt": "女孩", "uc": "帽子"}]}),
    )
    .unwrap();
    assert_eq!(r.params.prompt, prompt);
    assert_eq!(r.params.negative_prompt, "模糊");
    assert_eq!(r.params.characters[0].uc, "帽子");
    assert_eq!(r.params.image_format, ImageFormat::Png);
    let w = parse(json!({"prompt": "x", "image_format": "WebP"})).unwrap();
    assert_eq!(w.params.image_format, ImageFormat::Webp);
    assert_eq!(
        code_and_field(json!({"prompt": "x", "image_format": "gif"})).1,
        "image_format"
    );
}

#[test]
fn a_scale_the_seed_accepted_is_brought_into_range_with_a_warning() {
    // The seed README's own first example sends scale 11.
    let r = parse(json!({"prompt": "一只可爱的猫咪，高清照片", "model": "nai-v3", "scale": 11}))
        .unwrap();
    assert_eq!(r.params.scale, 10.0);
    assert_eq!(r.warnings.len(), 1);
    let w = serde_json::to_value(&r.warnings[0]).unwrap();
    assert_eq!(
        (w["field"].clone(), w["given"].clone(), w["sent"].clone()),
        (json!("scale"), json!(11), json!(10.0))
    );
    let r = parse(json!({"prompt": "x", "scale": 5.5})).unwrap();
    assert!(r.warnings.is_empty());
    assert_eq!(r.params.scale, 5.5);
}

#[test]
fn unknown_fields_are_named_in_warnings_without_their_values() {
    let r = parse(json!({"prompt": "x", "vibe": [1], "passwrd": "hunter2"})).unwrap();
    let fields: Vec<&str> = r.warnings.iter().map(|w| w.field.as_str()).collect();
    assert_eq!(fields, ["passwrd", "vibe"]);
    let text = serde_json::to_string(&r.warnings).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(
        parse(json!({"prompt": "x", "model": "nai-v3"}))
            .unwrap()
            .warnings
            .is_empty()
    );
}

#[test]
fn every_string_field_has_a_byte_limit_and_its_error_does_not_quote_it() {
    let huge = "a".repeat(1 << 20);
    let small_png = encoded(&picture(128, 128), image::ImageFormat::Png);
    let v4 = |c: Value| json!({"prompt": "x", "model": "nai-v4.5", "characters": [c]});
    let cases = [
        ("prompt", json!({"prompt": huge})),
        (
            "negative_prompt",
            json!({"prompt": "x", "negative_prompt": huge}),
        ),
        ("model", json!({"prompt": "x", "model": huge})),
        ("resolution", json!({"prompt": "x", "resolution": huge})),
        ("sampler", json!({"prompt": "x", "sampler": huge})),
        (
            "noise_schedule",
            json!({"prompt": "x", "noise_schedule": huge}),
        ),
        ("image_format", json!({"prompt": "x", "image_format": huge})),
        ("priority", json!({"prompt": "x", "priority": huge})),
        ("auth_type", json!({"prompt": "x", "auth_type": huge})),
        (
            "token",
            json!({"prompt": "x", "auth_type": "token", "token": huge}),
        ),
        (
            "email",
            json!({"prompt": "x", "auth_type": "login", "email": huge, "password": "p"}),
        ),
        (
            "password",
            json!({"prompt": "x", "auth_type": "login", "email": "a@b.c", "password": huge}),
        ),
        ("image", json!({"prompt": "x", "image": huge})),
        (
            "mask",
            json!({"prompt": "x", "model": "nai-v4.5", "image": small_png, "mask": huge}),
        ),
        ("characters[0].prompt", v4(json!({"prompt": huge}))),
        ("characters[0].uc", v4(json!({"prompt": "a", "uc": huge}))),
        (
            "characters[0].position",
            v4(json!({"prompt": "a", "position": huge})),
        ),
    ];
    let limits = Limits::for_body(5 * 1024 * 1024);
    for (field, body) in cases {
        let e = parse_submit(body.to_string().as_bytes(), &limits).unwrap_err();
        assert_eq!(e.field.as_deref(), Some(field), "{field}: {}", e.code);
        assert!(
            ["invalid_parameter", "too_large"].contains(&e.code),
            "{field}: {}",
            e.code
        );
        assert!(e.message.len() < 300, "{field}: {} bytes", e.message.len());
    }
    // Prompts are held to bytes as well as characters: 8,000 emoji are 32,000 bytes.
    let e = parse(json!({"prompt": "😀".repeat(8_000)})).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("prompt"));
    assert!(parse(json!({"prompt": "猫".repeat(8_000)})).is_ok());
    // Credentials at their longest still parse.
    assert!(parse(json!({"prompt": "x", "auth_type": "token", "token": "t".repeat(2048)})).is_ok());
    assert_eq!(
        field_of(json!({"prompt": "x", "auth_type": "token", "token": "t".repeat(2049)})),
        "token"
    );
}
mod director;
mod power;

//! NovelAI's rules per family, the accepting side: the bodies the website sends pass for
//! every model, and so do the variants NovelAI is documented to take.

use serde_json::{Value, json};

use crate::bodies::{
    as_2026, for_model, img2img, img2img_2026, infill, infill_2026, param, v3, v4, v5,
    with_characters, without,
};
use crate::common::{GOOD, generate, images, start};

/// Every model id NovelAI serves for generation, and the id its infill goes to.
const MODELS: &[(&str, Option<&str>)] = &[
    ("nai-diffusion", None),
    ("safe-diffusion", None),
    ("nai-diffusion-furry", None),
    ("nai-diffusion-2", None),
    ("nai-diffusion-3", Some("nai-diffusion-3-inpainting")),
    (
        "nai-diffusion-furry-3",
        Some("nai-diffusion-furry-3-inpainting"),
    ),
    (
        "nai-diffusion-4-curated-preview",
        Some("nai-diffusion-4-curated-inpainting"),
    ),
    (
        "nai-diffusion-4-full",
        Some("nai-diffusion-4-full-inpainting"),
    ),
    (
        "nai-diffusion-4-5-curated",
        Some("nai-diffusion-4-5-curated-inpainting"),
    ),
    (
        "nai-diffusion-4-5-full",
        Some("nai-diffusion-4-5-full-inpainting"),
    ),
    (
        "nai-diffusion-5-full",
        Some("nai-diffusion-5-full-inpainting"),
    ),
    (
        "nai-diffusion-5-curated",
        Some("nai-diffusion-4-5-curated-inpainting"),
    ),
    (
        "nai-diffusion-5-full-medium",
        Some("nai-diffusion-5-full-medium-inpainting"),
    ),
];

#[tokio::test]
async fn the_websites_bodies_pass_for_every_model() {
    let fake = start(0).await;
    for (model, inpainting) in MODELS {
        let base = for_model(model, 512, 768, 1);
        let mut cases = vec![
            ("generate", base.clone()),
            ("img2img", img2img(base.clone())),
            ("4 samples", for_model(model, 512, 512, 4)),
        ];
        if let Some(inpainting) = inpainting {
            cases.push(("infill", infill(base.clone(), inpainting)));
        }
        for (what, body) in cases {
            let answer = generate(&fake, GOOD, &body).await;
            assert_eq!(
                answer.status,
                200,
                "{model} {what}: {}",
                String::from_utf8_lossy(&answer.bytes)
            );
            let pngs = images(&answer);
            let n = body["parameters"]["n_samples"].as_u64().unwrap() as usize;
            assert_eq!(pngs.len(), n, "{model} {what}");
            let w = body["parameters"]["width"].as_u64().unwrap() as u32;
            assert_eq!(pngs[0].width, w, "{model} {what}");
            let request_type = match body["action"].as_str().unwrap() {
                "generate" => "PromptGenerateRequest",
                "img2img" => "Img2ImgRequest",
                _ => "NativeInfillingRequest",
            };
            let comment = pngs[0].comment();
            assert_eq!(comment["request_type"], request_type, "{model} {what}");
            assert!(comment.get("image").is_none() && comment.get("mask").is_none());
        }
    }
}

#[tokio::test]
async fn characters_placed_and_left_to_the_ai() {
    let fake = start(0).await;
    let two = [
        ("girl, red hair", "bad hands", (0.1, 0.1)),
        ("girl, blue hair", "", (0.5, 0.5)),
    ];
    for model in [
        "nai-diffusion-4-full",
        "nai-diffusion-4-5-full",
        "nai-diffusion-5-full",
    ] {
        for (chars, coords) in [(&two[..], true), (&two[..], false)] {
            let b = with_characters(for_model(model, 512, 512, 1), chars, coords);
            assert_eq!(generate(&fake, GOOD, &b).await.status, 200, "{model}\n{b}");
        }
        // "AI's choice" at (0, 0), as some captures show.
        let b = with_characters(
            for_model(model, 512, 512, 1),
            &[("a", "", (0.0, 0.0))],
            false,
        );
        assert_eq!(generate(&fake, GOOD, &b).await.status, 200, "{model}");
    }
    let six: Vec<_> = (0..6).map(|_| ("girl", "", (0.3, 0.7))).collect();
    let b = with_characters(v4("nai-diffusion-4-5-full", 512, 512, 1), &six, true);
    assert_eq!(generate(&fake, GOOD, &b).await.status, 200, "6 on V4.5");
    // V5 places up to 32 characters anywhere.
    let many: Vec<_> = (0..32)
        .map(|i| ("girl", "", (f64::from(i) / 31.0, 0.123)))
        .collect();
    let b = with_characters(v5("nai-diffusion-5-full", 512, 512, 1), &many, true);
    assert_eq!(generate(&fake, GOOD, &b).await.status, 200, "32 on V5");
}

#[tokio::test]
async fn v3_extras_and_what_newer_versions_of_the_website_send() {
    let fake = start(0).await;
    let v3b = v3("nai-diffusion-3", 512, 512, 1);
    let v45 = v4("nai-diffusion-4-5-full", 512, 512, 1);
    let ok: Vec<(&str, Value)> = vec![
        (
            "V3 SMEA",
            param(&param(&v3b, "sm", json!(true)), "sm_dyn", json!(true)),
        ),
        (
            "V3 nai_smea_dyn",
            param(&v3b, "sampler", json!("nai_smea_dyn")),
        ),
        ("V3 ddim_v3", param(&v3b, "sampler", json!("ddim_v3"))),
        ("V3 without params_version", without(&v3b, "params_version")),
        (
            "V3 params_version 4 (the 2026 website)",
            param(&v3b, "params_version", json!(4)),
        ),
        (
            "V3 k_dpm_2 exponential",
            param(
                &param(&v3b, "sampler", json!("k_dpm_2")),
                "noise_schedule",
                json!("exponential"),
            ),
        ),
        (
            "V2 ddim",
            param(
                &v3("nai-diffusion-2", 512, 512, 1),
                "sampler",
                json!("ddim"),
            ),
        ),
        (
            "V4.5 params_version 4",
            param(&v45, "params_version", json!(4)),
        ),
        (
            "V5 params_version 3",
            param(
                &v5("nai-diffusion-5-full", 512, 512, 1),
                "params_version",
                json!(3),
            ),
        ),
        ("V4.5 sm false", param(&v45, "sm", json!(false))),
        (
            "V4.5 without noise_schedule",
            without(&v45, "noise_schedule"),
        ),
        (
            "V4.5 unknown parameters",
            param(&v45, "some_future_flag", json!({"a": [1]})),
        ),
        ("V4.5 seed 0 (server picks)", param(&v45, "seed", json!(0))),
        (
            "V4.5 largest seed",
            param(&v45, "seed", json!(4_294_967_295u64)),
        ),
        (
            "V4.5 1024x3072",
            param(&param(&v45, "width", json!(1024)), "height", json!(3072)),
        ),
        (
            "V4.5 4 samples at 1472x1472",
            param(
                &param(&param(&v45, "width", json!(1472)), "height", json!(1472)),
                "n_samples",
                json!(4),
            ),
        ),
    ];
    for (name, b) in ok {
        let answer = generate(&fake, GOOD, &b).await;
        assert_eq!(
            answer.status,
            200,
            "{name}: {}",
            String::from_utf8_lossy(&answer.bytes)
        );
    }
    // DDIM on V4+ is run as Euler ancestral.
    let answer = generate(&fake, GOOD, &param(&v45, "sampler", json!("ddim"))).await;
    assert_eq!(images(&answer)[0].comment()["sampler"], "k_euler_ancestral");
}

#[tokio::test]
async fn naiqs_2026_bodies_pass_for_every_model_in_both_formats() {
    let fake = start(0).await;
    for (model, inpainting) in MODELS {
        for format in ["png", "webp"] {
            let base = as_2026(for_model(model, 256, 256, 1), format);
            let mut cases = vec![
                ("generate", base.clone()),
                ("img2img", img2img_2026(base.clone())),
            ];
            if let Some(inpainting) = inpainting {
                cases.push(("infill", infill_2026(base.clone(), inpainting)));
            }
            for (what, body) in cases {
                let answer = generate(&fake, GOOD, &body).await;
                assert_eq!(
                    answer.status,
                    200,
                    "{model} {what} {format}: {}",
                    String::from_utf8_lossy(&answer.bytes)
                );
                let names = crate::common::unzip(&answer.bytes).unwrap();
                assert_eq!(names[0].0, format!("image_0.{format}"), "{model} {what}");
            }
        }
    }
}

#[tokio::test]
async fn keys_novelai_does_not_use_are_ignored_never_refused() {
    let fake = start(0).await;
    let ignored = [
        ("ucPreset", json!(3)),
        ("ucPreset", json!("heavy")),
        ("qualityToggle", json!(false)),
        ("uncond_scale", json!(1.0)),
        ("uncond_scale", json!("one")),
        ("params_version_extra", json!(9)),
        ("tag_hint_transparent_background", json!(true)),
        ("upscaled_enhance", json!(false)),
        ("skip_cfg_above_sigma", json!(null)),
        ("stream", json!("msgpack")),
        ("img2img", json!({"strength": 0.5, "color_correct": true})),
        (
            "some_future_flag",
            json!({"nested": [1, 2, {"deep": null}]}),
        ),
    ];
    for model in [
        "nai-diffusion-3",
        "nai-diffusion-4-5-full",
        "nai-diffusion-5-full",
        "nai-diffusion-5-full-medium",
    ] {
        let base = as_2026(for_model(model, 64, 64, 1), "png");
        for (key, value) in &ignored {
            let answer = generate(&fake, GOOD, &param(&base, key, value.clone())).await;
            assert_eq!(
                answer.status,
                200,
                "{model} {key}={value}: {}",
                String::from_utf8_lossy(&answer.bytes)
            );
        }
        // All at once, and at the top level too.
        let mut b = base.clone();
        for (key, value) in &ignored {
            b["parameters"][*key] = value.clone();
        }
        b["recaptcha_token"] = json!("");
        b["something_new"] = json!(1);
        let c = images(&generate(&fake, GOOD, &b).await)[0].comment();
        for (key, _) in &ignored {
            if *key != "uncond_scale" && *key != "skip_cfg_above_sigma" {
                assert!(c.get(*key).is_none(), "{model}: {key} echoed");
            }
        }
    }
}

#[tokio::test]
async fn long_prompts_are_taken_on_every_v5_model() {
    let fake = start(0).await;
    // Far over V5 Full's 1471 and Curated's 703 tokens.
    let long = "masterpiece, very aesthetic, 1girl, ".repeat(2_000);
    for model in [
        "nai-diffusion-5-full",
        "nai-diffusion-5-curated",
        "nai-diffusion-5-full-medium",
    ] {
        let mut b = as_2026(v5(model, 64, 64, 1), "png");
        b["input"] = json!(long);
        b["parameters"]["v4_prompt"]["caption"]["base_caption"] = json!(long);
        b["parameters"]["v4_negative_prompt"]["caption"]["base_caption"] = json!(long);
        let png = &images(&generate(&fake, GOOD, &b).await)[0];
        assert_eq!(png.text("Description"), Some(long.as_str()), "{model}");
    }
}

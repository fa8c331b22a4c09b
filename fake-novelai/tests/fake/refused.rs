//! NovelAI's rules per family, the refusing side: the bodies NovelAI refuses get its
//! answer (400, or 500 where NovelAI lets them through and breaks).

use serde_json::{Value, json};

use crate::bodies::{self, img2img, infill, param, v3, v4, v5, with, with_characters, without};
use crate::common::{GOOD, generate, start};

/// The bodies NovelAI refuses, each with the status and message start it answers.
fn refused() -> Vec<(&'static str, Value, u16, &'static str)> {
    const INVALID: &str = "A validation error occurred.";
    const BROKEN: &str = "Internal Server Error";
    let v3b = v3("nai-diffusion-3", 512, 512, 1);
    let v45 = v4("nai-diffusion-4-5-full", 512, 512, 1);
    let v5b = v5("nai-diffusion-5-full", 512, 512, 1);
    let medium = v5("nai-diffusion-5-full-medium", 512, 512, 1);
    let i2i = img2img(v45.clone());
    let inf = infill(v45.clone(), "nai-diffusion-4-5-full-inpainting");
    let cap = json!({"char_caption": "girl", "centers": [{"x": 0.5, "y": 0.5}]});
    let seven: Vec<_> = (0..7).map(|_| ("girl", "", (0.5, 0.5))).collect();
    let thirty_three: Vec<_> = (0..33).map(|_| ("girl", "", (0.5, 0.5))).collect();
    vec![
        (
            "unknown model",
            with(&v3b, "/model", json!("nai-diffusion-9")),
            400,
            "Validation error: model nai-diffusion-9 doesn't exist",
        ),
        (
            "V5 Curated's own inpainting id",
            infill(
                v5("nai-diffusion-5-curated", 512, 512, 1),
                "nai-diffusion-5-curated-inpainting",
            ),
            400,
            "Validation error: model nai-diffusion-5-curated-inpainting doesn't exist",
        ),
        (
            "an id in capitals",
            with(&v3b, "/model", json!("NAI-DIFFUSION-3")),
            400,
            "Validation error: model",
        ),
        (
            "a V2 inpainting id",
            with(&v3b, "/model", json!("nai-diffusion-2-inpainting")),
            400,
            "Validation error: model",
        ),
        (
            "model not a string",
            with(&v3b, "/model", json!(3)),
            400,
            INVALID,
        ),
        (
            "infill to the base model",
            with(&inf, "/model", json!("nai-diffusion-4-5-full")),
            400,
            INVALID,
        ),
        (
            "infill to V5 Full's base id",
            with(
                &infill(v5b.clone(), "nai-diffusion-5-full-inpainting"),
                "/model",
                json!("nai-diffusion-5-full"),
            ),
            400,
            INVALID,
        ),
        (
            "infill to V5 Curated's base id",
            infill(
                v5("nai-diffusion-5-curated", 512, 512, 1),
                "nai-diffusion-5-curated",
            ),
            400,
            INVALID,
        ),
        (
            "a Curated Medium id",
            with(&v5b, "/model", json!("nai-diffusion-5-curated-medium")),
            400,
            "Validation error: model nai-diffusion-5-curated-medium doesn't exist",
        ),
        (
            "infill on a V3 base model",
            infill(v3b.clone(), "nai-diffusion-3"),
            400,
            INVALID,
        ),
        ("infill without a mask", without(&inf, "mask"), 400, INVALID),
        (
            "infill mask not a PNG",
            param(&inf, "mask", json!("aGVsbG8=")),
            400,
            INVALID,
        ),
        (
            "unknown action",
            with(&v3b, "/action", json!("upscale")),
            400,
            INVALID,
        ),
        (
            "no parameters",
            with(&v3b, "/parameters", json!(null)),
            400,
            INVALID,
        ),
        (
            "empty input",
            with(&v3b, "/input", json!("  ")),
            400,
            INVALID,
        ),
        (
            "V3 v4_prompt only",
            param(
                &with(&v3b, "/input", json!("")),
                "v4_prompt",
                v45["parameters"]["v4_prompt"].clone(),
            ),
            400,
            INVALID,
        ),
        (
            "width not a multiple of 64",
            param(&v3b, "width", json!(100)),
            400,
            INVALID,
        ),
        ("width 0", param(&v3b, "width", json!(0)), 400, INVALID),
        (
            "width as a string",
            param(&v3b, "width", json!("512")),
            400,
            INVALID,
        ),
        (
            "over the pixel cap",
            param(&param(&v3b, "width", json!(2048)), "height", json!(2048)),
            400,
            INVALID,
        ),
        ("steps 0", param(&v3b, "steps", json!(0)), 400, INVALID),
        ("steps 51", param(&v3b, "steps", json!(51)), 400, INVALID),
        ("steps 2.5", param(&v3b, "steps", json!(2.5)), 400, INVALID),
        ("scale 11", param(&v3b, "scale", json!(11)), 400, INVALID),
        (
            "scale negative",
            param(&v3b, "scale", json!(-1)),
            400,
            INVALID,
        ),
        (
            "cfg_rescale 1.5",
            param(&v45, "cfg_rescale", json!(1.5)),
            400,
            INVALID,
        ),
        (
            "n_samples 0",
            param(&v3b, "n_samples", json!(0)),
            400,
            INVALID,
        ),
        (
            "n_samples 9",
            param(&v3b, "n_samples", json!(9)),
            400,
            INVALID,
        ),
        (
            "n_samples over the size limit",
            param(
                &param(&param(&v3b, "width", json!(832)), "height", json!(1216)),
                "n_samples",
                json!(5),
            ),
            400,
            INVALID,
        ),
        (
            "7 samples at 640x640",
            param(
                &param(&param(&v3b, "width", json!(640)), "height", json!(640)),
                "n_samples",
                json!(7),
            ),
            400,
            INVALID,
        ),
        (
            "seed over 32 bits",
            param(&v3b, "seed", json!(4_294_967_296u64)),
            400,
            INVALID,
        ),
        (
            "seed negative",
            param(&v3b, "seed", json!(-1)),
            400,
            INVALID,
        ),
        (
            "unknown sampler",
            param(&v3b, "sampler", json!("k_magic")),
            400,
            INVALID,
        ),
        ("sampler missing", without(&v3b, "sampler"), 400, INVALID),
        (
            "V2 ddim_v3",
            param(
                &v3("nai-diffusion-2", 512, 512, 1),
                "sampler",
                json!("ddim_v3"),
            ),
            400,
            INVALID,
        ),
        (
            "V2 nai_smea",
            param(
                &v3("nai-diffusion-2", 512, 512, 1),
                "sampler",
                json!("nai_smea"),
            ),
            400,
            INVALID,
        ),
        (
            "V2 sm",
            param(&v3("nai-diffusion-2", 512, 512, 1), "sm", json!(true)),
            400,
            INVALID,
        ),
        (
            "V3 SMEA with DDIM",
            param(&param(&v3b, "sm", json!(true)), "sampler", json!("ddim_v3")),
            400,
            INVALID,
        ),
        (
            "V3 sm not a boolean",
            param(&v3b, "sm", json!("yes")),
            400,
            INVALID,
        ),
        (
            "V3 k_dpm_2 native",
            param(
                &param(&v3b, "sampler", json!("k_dpm_2")),
                "noise_schedule",
                json!("native"),
            ),
            400,
            INVALID,
        ),
        (
            "V3 unknown schedule",
            param(&v3b, "noise_schedule", json!("linear")),
            400,
            INVALID,
        ),
        (
            "V3 params_version 3",
            param(&v3b, "params_version", json!(3)),
            400,
            INVALID,
        ),
        (
            "V4 native schedule",
            param(&v45, "noise_schedule", json!("native")),
            400,
            INVALID,
        ),
        (
            "V4 ddim_v3",
            param(&v45, "sampler", json!("ddim_v3")),
            400,
            INVALID,
        ),
        (
            "V4 k_lms",
            param(&v45, "sampler", json!("k_lms")),
            400,
            INVALID,
        ),
        (
            "V4 nai_smea",
            param(&v45, "sampler", json!("nai_smea")),
            400,
            INVALID,
        ),
        (
            "V4 without params_version",
            without(&v45, "params_version"),
            400,
            INVALID,
        ),
        (
            "V4 params_version 1",
            param(&v45, "params_version", json!(1)),
            400,
            INVALID,
        ),
        (
            "V4 without v4_negative_prompt",
            without(&v45, "v4_negative_prompt"),
            400,
            INVALID,
        ),
        (
            "char_captions not an array",
            with(
                &v45,
                "/parameters/v4_prompt/caption/char_captions",
                json!("girl"),
            ),
            400,
            INVALID,
        ),
        (
            "centre outside the square",
            with_characters(v45.clone(), &[("girl", "", (1.5, 0.5))], true),
            400,
            INVALID,
        ),
        (
            "7 characters on V4.5",
            with_characters(v45.clone(), &seven, true),
            400,
            INVALID,
        ),
        (
            "33 characters on V5",
            with_characters(v5b.clone(), &thirty_three, true),
            400,
            INVALID,
        ),
        (
            "Medium at 23 steps",
            param(&medium, "steps", json!(23)),
            400,
            INVALID,
        ),
        (
            "Medium with k_euler",
            param(&medium, "sampler", json!("k_euler")),
            400,
            INVALID,
        ),
        (
            "Medium with CFG rescale",
            param(&medium, "cfg_rescale", json!(0.2)),
            400,
            INVALID,
        ),
        (
            "img2img image not base64",
            param(&i2i, "image", json!("not base64!")),
            400,
            INVALID,
        ),
        (
            "img2img image not a PNG",
            param(&i2i, "image", json!("/9j/4AAQSkZJRgABAQ==")),
            400,
            INVALID,
        ),
        (
            "img2img without image",
            without(&i2i, "image"),
            400,
            INVALID,
        ),
        (
            "img2img strength 1",
            param(&i2i, "strength", json!(1.0)),
            400,
            INVALID,
        ),
        (
            "img2img strength 0",
            param(&i2i, "strength", json!(0.0)),
            400,
            INVALID,
        ),
        (
            "img2img strength 0.001",
            param(&i2i, "strength", json!(0.001)),
            400,
            INVALID,
        ),
        (
            "img2img without strength",
            without(&i2i, "strength"),
            400,
            INVALID,
        ),
        (
            "img2img noise 1",
            param(&i2i, "noise", json!(1.0)),
            400,
            INVALID,
        ),
        (
            "infill noise 1",
            param(&inf, "noise", json!(1.0)),
            400,
            INVALID,
        ),
        (
            "infill on a generation model",
            with(&i2i, "/action", json!("infill")),
            400,
            INVALID,
        ),
        // What passes validation and breaks the generation.
        (
            "V4 without v4_prompt",
            without(&v45, "v4_prompt"),
            500,
            BROKEN,
        ),
        (
            "V5 without v4_prompt",
            without(&v5b, "v4_prompt"),
            500,
            BROKEN,
        ),
        (
            "V4 base_caption not a string",
            with(
                &v45,
                "/parameters/v4_prompt/caption/base_caption",
                json!(null),
            ),
            500,
            BROKEN,
        ),
        ("V4 with sm", param(&v45, "sm", json!(true)), 500, BROKEN),
        ("V5 with sm", param(&v5b, "sm", json!(true)), 500, BROKEN),
        (
            "V5 Medium without v4_prompt",
            without(&medium, "v4_prompt"),
            500,
            BROKEN,
        ),
        (
            "V5 with sm_dyn",
            param(&v5b, "sm_dyn", json!(true)),
            500,
            BROKEN,
        ),
        (
            "uneven char_captions",
            with(
                &v45,
                "/parameters/v4_prompt/caption/char_captions",
                json!([cap]),
            ),
            500,
            BROKEN,
        ),
        (
            "char_caption without centers",
            with_characters(v45.clone(), &[("girl", "", (0.5, 0.5))], true)
                .pipe(|b| {
                    with(
                        &b,
                        "/parameters/v4_prompt/caption/char_captions/0/centers",
                        json!([]),
                    )
                })
                .pipe(|b| {
                    with(
                        &b,
                        "/parameters/v4_negative_prompt/caption/char_captions/0/centers",
                        json!([]),
                    )
                }),
            500,
            BROKEN,
        ),
        (
            "characterPrompts uneven",
            with(
                &with_characters(v45.clone(), &[("girl", "", (0.5, 0.5))], true),
                "/parameters/characterPrompts",
                json!([]),
            ),
            500,
            BROKEN,
        ),
    ]
}

trait Pipe: Sized {
    fn pipe(self, f: impl FnOnce(Self) -> Self) -> Self {
        f(self)
    }
}

impl Pipe for Value {}

#[tokio::test]
async fn bodies_novelai_refuses_get_its_answer() {
    let fake = start(0).await;
    for (name, body, status, message) in refused() {
        let answer = generate(&fake, GOOD, &body).await;
        assert_eq!(
            answer.status,
            status,
            "{name}: {}",
            String::from_utf8_lossy(&answer.bytes)
        );
        let got = answer.message();
        assert!(got.starts_with(message), "{name}: {got}");
    }
    // None of them took a fault or the lock: the next generation is fine.
    assert_eq!(generate(&fake, GOOD, &bodies::small()).await.status, 200);
}

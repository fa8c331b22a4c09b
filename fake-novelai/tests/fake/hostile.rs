//! Realistic hostile input: the fake answers NovelAI's 400 (or takes it) and never falls
//! over.

use serde_json::json;

use crate::bodies::{img2img, param, small, v3, v4};
use crate::common::{self, GOOD, generate, generate_raw, images, start};

#[tokio::test]
async fn malformed_bodies_are_400() {
    let fake = start(0).await;
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let deep_params = format!(
        r#"{{"input": "x", "model": "nai-diffusion-3", "action": "generate", "parameters": {deep}}}"#
    );
    let texts: Vec<String> = vec![
        "not json".into(),
        String::new(),
        "{".into(),
        "null".into(),
        "[]".into(),
        r#""a string""#.into(),
        r#"{"input": "x"}"#.into(),
        r#"{"input": "x", "model": "nai-diffusion-3", "action": "generate", "parameters": []}"#.into(),
        r#"{"input": "x", "model": "nai-diffusion-3", "action": "generate", "parameters": {"width": 64, "height": 64, "steps": 0, "scale": 5, "sampler": "k_euler", "n_samples": 1}}"#.into(),
        deep_params,
        small().to_string().replace('}', ""),
    ];
    for text in &texts {
        let answer = generate_raw(&fake, GOOD, text.clone()).await;
        assert_eq!(answer.status, 400, "{text:.80}");
        assert!(
            answer.message().starts_with("A validation error occurred."),
            "{text:.80}"
        );
    }
    // Not UTF-8 at all.
    let answer = generate_raw(&fake, GOOD, vec![0xff, 0xfe, 0x00, 0x7b]).await;
    assert_eq!(answer.status, 400);
    // Every one was logged, the bytes as text.
    let log = common::log(&fake).await;
    assert_eq!(log.len(), texts.len() + 1);
    assert_eq!(log[0]["body"], "not json");
}

#[tokio::test]
async fn oversized_values_are_400() {
    let fake = start(0).await;
    let b = small();
    for (name, value) in [
        ("width", json!(1e300)),
        ("width", json!(18_446_744_073_709_551_615u64)),
        ("height", json!(4_294_967_296u64)),
        ("height", json!(64.5)),
        ("n_samples", json!(1e20)),
        ("n_samples", json!(-1)),
        ("steps", json!(18_446_744_073_709_551_615u64)),
        ("scale", json!(1e308)),
        ("seed", json!(1e30)),
        ("seed", json!(42.5)),
        ("cfg_rescale", json!("0.5")),
        ("sampler", json!(["k_euler"])),
        ("noise_schedule", json!(5)),
        ("params_version", json!(1e10)),
    ] {
        let answer = generate(&fake, GOOD, &param(&b, name, value.clone())).await;
        assert_eq!(answer.status, 400, "{name} = {value}");
        assert_eq!(answer.json()["statusCode"], 400);
    }
    // 64 columns, and a height over the pixel cap on its own.
    let tall = param(&param(&b, "width", json!(64)), "height", json!(49_216));
    assert_eq!(generate(&fake, GOOD, &tall).await.status, 400);
}

#[tokio::test]
async fn odd_prompts_are_taken_and_kept_verbatim() {
    let fake = start(0).await;
    let long = "masterpiece, ".repeat(16_000);
    for prompt in [
        "一只可爱的猫咪，高清照片",
        "cat 🐱 with \"quotes\", back\\slash and\nnewlines\ttabs",
        "nul \u{0} and bell \u{7} characters",
        "\u{202e}right-to-left override",
        long.as_str(),
    ] {
        for mut body in [small(), v4("nai-diffusion-4-5-full", 64, 64, 1)] {
            body["input"] = json!(prompt);
            if body["parameters"].get("v4_prompt").is_some() {
                body["parameters"]["v4_prompt"]["caption"]["base_caption"] = json!(prompt);
            }
            let answer = generate(&fake, GOOD, &body).await;
            let png = &images(&answer)[0];
            assert_eq!(png.text("Description"), Some(prompt), "{prompt:.40}");
            assert_eq!(png.comment()["prompt"], prompt);
        }
    }
}

#[tokio::test]
async fn large_image_to_image_bodies_are_read() {
    let fake = start(0).await;
    // A 1024x1536 input of noise-like pixels: a base64 PNG of several megabytes, over the
    // 2 MB a default web framework reads.
    let mut body = img2img(v3("nai-diffusion-3", 1024, 1536, 1));
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 1024, 1536);
        enc.set_color(png::ColorType::Rgba);
        enc.set_compression(png::Compression::NoCompression);
        let mut writer = enc.write_header().unwrap();
        let pixels: Vec<u8> = (0..1024u32 * 1536 * 4)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        writer.write_image_data(&pixels).unwrap();
    }
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&out);
    assert!(b64.len() > 6 * 1024 * 1024, "{}", b64.len());
    body["parameters"]["image"] = json!(b64);
    let answer = generate(&fake, GOOD, &body).await;
    let png = &images(&answer)[0];
    assert_eq!((png.width, png.height), (1024, 1536));
    assert!(
        png.comment().get("image").is_none(),
        "the input is not echoed"
    );
}

#[tokio::test]
async fn hostile_logins_are_refused_without_a_trace() {
    let fake = start(0).await;
    let huge = "k".repeat(1024 * 1024);
    for key in [huge.as_str(), "ключ-🔑", "", "\u{0}"] {
        let body = json!({"key": key}).to_string();
        let answer = common::send(&fake, reqwest::Method::POST, "/user/login", &body).await;
        assert_eq!(answer.status, 401, "{key:.20}");
    }
    let text = serde_json::to_string(&common::log(&fake).await).unwrap();
    assert!(
        !text.contains("kkkk") && !text.contains("ключ"),
        "{text:.200}"
    );
    // A bearer header that is not text at all.
    let answer = common::http()
        .post(format!("{}/ai/generate-image", fake.url()))
        .header(
            "authorization",
            reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe").unwrap(),
        )
        .body(small().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 401);
}

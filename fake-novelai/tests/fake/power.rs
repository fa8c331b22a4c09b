//! Vibe encodes, Precise Reference, Director tools and upscale, as a client drives them.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::common::*;

fn png(w: u32, h: u32) -> String {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        let mut wr = enc.write_header().unwrap();
        wr.write_image_data(&vec![90; (w * h * 3) as usize])
            .unwrap();
    }
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// The PNGs of a tool's answer: a zip of stored entries.
fn stored_pngs(answer: &Answer) -> Vec<Png> {
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.bytes)
    );
    unzip(&answer.bytes)
        .expect("a zip")
        .into_iter()
        .map(|(name, method, bytes)| {
            assert_eq!(method, zip::CompressionMethod::Stored, "{name}");
            decode_png(&name, &bytes)
        })
        .collect()
}

async fn post(fake: &fake_novelai::RunningFake, path: &str, body: &Value) -> Answer {
    let resp = http()
        .post(format!("{}{path}", fake.url()))
        .bearer_auth(GOOD)
        .json(body)
        .send()
        .await
        .unwrap();
    read(resp).await
}

#[tokio::test]
async fn an_encoding_is_opaque_per_model_and_only_its_model_takes_it() {
    let fake = start(0).await;
    let enc = post(
        &fake,
        "/ai/encode-vibe",
        &json!({"image": png(64, 64), "model": "nai-diffusion-4-5-full", "information_extracted": 1}),
    )
    .await;
    assert_eq!(enc.status, 200);
    assert_eq!(enc.header("content-type"), Some("application/binary"));
    assert!(
        enc.header("content-disposition")
            .unwrap()
            .ends_with(".vibe40")
    );
    assert_eq!(enc.bytes.len(), 48_916);
    let v5 = post(
        &fake,
        "/ai/encode-vibe",
        &json!({"image": png(64, 64), "model": "nai-diffusion-5-full", "information_extracted": 1}),
    )
    .await;
    assert_eq!(v5.status, 400);
    let counts: Value = http()
        .get(format!("{}/_fake/requests/counts", fake.url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(counts["/ai/encode-vibe"], 2);
}

#[tokio::test]
async fn director_tools_answer_stored_pngs_and_upscale_doubles() {
    let fake = start(0).await;
    for tool in [
        "lineart",
        "sketch",
        "declutter",
        "declutter-keep-bubbles",
        "bg-removal",
    ] {
        let a = post(
            &fake,
            "/ai/augment-image",
            &json!({"req_type": tool, "width": 128, "height": 64, "image": png(128, 64)}),
        )
        .await;
        let imgs = stored_pngs(&a);
        assert_eq!(
            imgs.len(),
            if tool == "bg-removal" { 3 } else { 1 },
            "{tool}"
        );
        assert!(imgs.iter().all(|i| (i.width, i.height) == (128, 64)));
        assert_eq!(imgs[0].comment()["req_type"], tool);
    }
    for (tool, prompt) in [("colorize", "red hair"), ("emotion", "happy;;")] {
        let a = post(
            &fake,
            "/ai/augment-image",
            &json!({"req_type": tool, "prompt": prompt, "defry": 0, "width": 64, "height": 64,
                    "image": png(64, 64)}),
        )
        .await;
        assert_eq!(stored_pngs(&a).len(), 1, "{tool}");
    }
    let up = post(
        &fake,
        "/ai/upscale",
        &json!({"image": png(96, 64), "model": "nai-diffusion-5-curated", "declared_blur_sigma": 0}),
    )
    .await;
    let imgs = stored_pngs(&up);
    assert_eq!((imgs[0].width, imgs[0].height), (192, 128));
}

#[tokio::test]
async fn noisy_tools_answer_pngs_deflate_cannot_shrink_and_can_be_turned_off() {
    let fake = start(0).await;
    let configure = |body: &'static str| send(&fake, reqwest::Method::PUT, "/_fake/config", body);
    let body =
        json!({"image": png(96, 64), "model": "nai-diffusion-5-curated", "declared_blur_sigma": 0});
    let flat = post(&fake, "/ai/upscale", &body).await;
    let set = configure(r#"{"noisy_tools": true}"#).await;
    assert_eq!(set.json()["noisy_tools"], true);
    let noisy = post(&fake, "/ai/upscale", &body).await;
    let raw = 192 * 128 * 3;
    assert!(flat.bytes.len() < raw / 10, "{}", flat.bytes.len());
    assert!(noisy.bytes.len() > raw, "{}", noisy.bytes.len());
    assert_eq!(
        stored_pngs(&noisy)
            .iter()
            .map(|p| (p.width, p.height))
            .collect::<Vec<_>>(),
        [(192, 128)]
    );
    let cut = post(
        &fake,
        "/ai/augment-image",
        &json!({"req_type": "bg-removal", "width": 64, "height": 64, "image": png(64, 64)}),
    )
    .await;
    assert!(cut.bytes.len() > 3 * 64 * 64 * 4, "{}", cut.bytes.len());
    for bad in [r#"{"noisy_tools": 1}"#, r#"{"noisy_tools": "yes"}"#] {
        assert_eq!(configure(bad).await.status, 400, "{bad}");
    }
    configure(r#"{"noisy_tools": false}"#).await;
    let again = post(&fake, "/ai/upscale", &body).await;
    assert!(again.bytes.len() < raw / 10, "{}", again.bytes.len());
}

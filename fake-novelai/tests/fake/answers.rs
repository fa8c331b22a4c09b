//! How generations are answered: the zip or JSON form, PNG or WebP, and the metadata
//! (`Source`, `Comment`) in the images.

use serde_json::{Value, json};

use crate::bodies::{as_2026, img2img_2026, infill_2026, v3, v4, v5, with_characters};
use crate::common::{
    self, GOOD, decode_png, decode_webp, generate, generate_json, images, json_images, start,
    webp_images,
};

#[tokio::test]
async fn accept_json_answers_the_images_in_json() {
    let fake = start(0).await;
    let body = v5("nai-diffusion-5-full", 512, 512, 3);
    let list = json_images(&generate_json(&fake, GOOD, &body).await);
    assert_eq!(list.len(), 3);
    for (i, (index, seed, bytes)) in list.iter().enumerate() {
        assert_eq!((*index, *seed), (i as u64, 7 + i as u64));
        let png = decode_png("json", bytes);
        assert_eq!((png.width, png.height), (512, 512));
        assert_eq!(png.comment()["seed"], 7 + i as u64);
    }
    // WebP in JSON too.
    let body = as_2026(v5("nai-diffusion-5-full", 512, 768, 1), "webp");
    let list = json_images(&generate_json(&fake, GOOD, &body).await);
    assert_eq!(decode_webp("json", &list[0].2).height, 768);
    // Without the header: the zip.
    assert_eq!(
        images(&generate(&fake, GOOD, &v5("nai-diffusion-5-full", 64, 64, 1)).await).len(),
        1
    );
}

#[tokio::test]
async fn webp_answers_are_lossless_webps_with_exif_metadata() {
    let fake = start(0).await;
    let body = as_2026(v5("nai-diffusion-5-full", 832, 1216, 2), "webp");
    let webps = webp_images(&generate(&fake, GOOD, &body).await);
    assert_eq!(webps.len(), 2);
    for (i, w) in webps.iter().enumerate() {
        assert_eq!((w.width, w.height, w.lossy), (832, 1216, false));
        assert_eq!(w.metadata["Source"], "NovelAI Diffusion V5 657484A5");
        assert_eq!(w.metadata["Software"], "NovelAI");
        assert_eq!(w.metadata["Title"], "AI generated image");
        let c = w.comment();
        assert_eq!(c["seed"], 7 + i as u64);
        assert_eq!(c["request_type"], "PromptGenerateRequest");
    }
    let bad = generate(
        &fake,
        GOOD,
        &as_2026(v5("nai-diffusion-5-full", 64, 64, 1), "jpeg"),
    )
    .await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn source_names_the_model_family_and_hash() {
    let fake = start(0).await;
    for (model, source) in [
        ("nai-diffusion-5-full", "NovelAI Diffusion V5 657484A5"),
        ("nai-diffusion-5-curated", "NovelAI Diffusion V5 DB276663"),
        (
            "nai-diffusion-5-full-medium",
            "NovelAI Diffusion V5 93F4BD30",
        ),
    ] {
        let png = &images(&generate(&fake, GOOD, &v5(model, 64, 64, 1)).await)[0];
        assert_eq!(png.text("Source"), Some(source), "{model}");
    }
    let png = &images(&generate(&fake, GOOD, &v3("nai-diffusion-3", 64, 64, 1)).await)[0];
    assert_eq!(png.text("Source"), Some("Stable Diffusion XL C1E1DE52"));
    let png = &images(&generate(&fake, GOOD, &v4("nai-diffusion-4-5-full", 64, 64, 1)).await)[0];
    assert!(
        png.text("Source")
            .unwrap()
            .starts_with("NovelAI Diffusion V4.5 ")
    );
}

#[tokio::test]
async fn comment_holds_what_the_server_understood() {
    let fake = start(0).await;
    let base = as_2026(v5("nai-diffusion-5-full", 512, 512, 1), "png");
    let chars = [("girl, red hair", "bad hands", (0.2, 0.8))];
    let base = with_characters(base, &chars, true);
    for (body, request_type) in [
        (base.clone(), "PromptGenerateRequest"),
        (img2img_2026(base.clone()), "Img2ImgRequest"),
        (
            infill_2026(base.clone(), "nai-diffusion-5-full-inpainting"),
            "NativeInfillingRequest",
        ),
    ] {
        let c = images(&generate(&fake, GOOD, &body).await)[0].comment();
        assert_eq!(c["request_type"], request_type);
        assert_eq!(c["prompt"], "1girl, cat ears, very aesthetic, masterpiece");
        assert_eq!(c["uc"], "lowres");
        assert_eq!(c["uncond_scale"], 0.0);
        assert_eq!(
            c["v4_prompt"],
            json!({
                "caption": {
                    "base_caption": "1girl, cat ears, very aesthetic, masterpiece",
                    "char_captions": [{"char_caption": "girl, red hair", "centers": [{"x": 0.2, "y": 0.8}]}]
                },
                "use_coords": true,
                "use_order": true
            })
        );
        assert_eq!(
            c["v4_negative_prompt"],
            json!({
                "caption": {
                    "base_caption": "lowres",
                    "char_captions": [{"char_caption": "bad hands", "centers": [{"x": 0.2, "y": 0.8}]}]
                },
                "use_coords": false,
                "use_order": false,
                "legacy_uc": false
            })
        );
        for absent in [
            "ucPresetId",
            "qualityPresetId",
            "params_version",
            "use_new_shared_trial",
            "tag_hint_qt",
            "characterPrompts",
            "image",
            "mask",
            "img2img",
        ] {
            assert!(c.get(absent).is_none(), "{request_type}: {absent} in {c}");
        }
        if request_type != "PromptGenerateRequest" {
            assert_eq!(c["extra_noise_seed"], 6, "seed - 1, as sent");
            assert_eq!(c["strength"], 0.7);
        }
    }
}

#[tokio::test]
async fn chinese_prompts_are_stored_as_utf8_in_every_field() {
    let fake = start(0).await;
    let cat = "一只可爱的猫咪，高清照片";
    let mut body = as_2026(v5("nai-diffusion-5-full", 512, 512, 1), "png");
    body["input"] = json!(cat);
    body["parameters"]["v4_prompt"]["caption"]["base_caption"] = json!(cat);
    body["parameters"]["v4_negative_prompt"]["caption"]["base_caption"] = json!(cat);
    body["parameters"]["negative_prompt"] = json!(cat);
    let body = with_characters(body, &[(cat, cat, (0.5, 0.5))], false);
    let answer = generate(&fake, GOOD, &body).await;
    let png = &images(&answer)[0];
    assert_eq!(png.text("Description"), Some(cat));
    assert!(
        png.utf8.iter().any(|(k, _)| k == "Comment"),
        "Comment as iTXt"
    );
    let c = png.comment();
    assert_eq!(
        (c["prompt"].as_str(), c["uc"].as_str()),
        (Some(cat), Some(cat))
    );
    assert_eq!(
        c["v4_prompt"]["caption"]["char_captions"][0]["char_caption"],
        cat
    );
    assert_eq!(
        c["v4_negative_prompt"]["caption"]["char_captions"][0]["char_caption"],
        cat
    );
    // As WebP, in JSON: the same text through the escaped EXIF comment.
    let mut webp = body.clone();
    webp["parameters"]["image_format"] = json!("webp");
    let list = json_images(&generate_json(&fake, GOOD, &webp).await);
    let w = decode_webp("cat", &list[0].2);
    assert_eq!(w.metadata["Description"], cat);
    assert_eq!(
        w.comment()["v4_prompt"]["caption"]["char_captions"][0]["char_caption"],
        cat
    );
    let statuses: Vec<Value> = common::log(&fake)
        .await
        .iter()
        .map(|e| e["status"].clone())
        .collect();
    assert_eq!(statuses, [200, 200], "never a 500");
}

//! `POST /augment` and `POST /upscale` bodies: every refusal names its field, hostile
//! images are refused before they are decoded, and the prices are the handbook's.

use base64::Engine as _;
use naiq_testkit::{png_claiming, png_of};
use serde_json::{Value, json};

use super::super::{Limits, SubmitRequest, ValidationError, parse_augment, parse_upscale};
use crate::domain::Lane;
use crate::domain::director::{DirectorTool, Emotion, JobKind};
use crate::domain::pricing::anlas_cost;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn augment(v: Value) -> Result<SubmitRequest, ValidationError> {
    parse_augment(v.to_string().as_bytes(), &Limits::default())
}

fn upscale(v: Value) -> Result<SubmitRequest, ValidationError> {
    parse_upscale(v.to_string().as_bytes(), &Limits::default())
}

/// The (code, field) of a refusal.
fn refused(r: Result<SubmitRequest, ValidationError>) -> (&'static str, String) {
    let e = r.unwrap_err();
    (e.code, e.field.unwrap_or_default())
}

fn small() -> String {
    b64(&png_of(64, 96))
}

#[test]
fn every_tool_is_accepted_with_its_image_size_and_image_count() {
    for tool in DirectorTool::ALL {
        let mut body = json!({"tool": tool.as_str(), "image": b64(&png_of(832, 1216))});
        if tool == DirectorTool::Emotion {
            body["emotion"] = json!("happy");
        }
        let r = augment(body).unwrap();
        let p = &r.params;
        assert_eq!((p.width, p.height), (832, 1216), "{tool:?}");
        assert_eq!(p.n_samples, tool.images(), "{tool:?}");
        let JobKind::Augment(a) = p.kind else {
            panic!("{tool:?} is an augment job")
        };
        assert_eq!(a.tool, tool);
        assert_eq!(a.defry, tool.takes_prompt().then_some(0));
        assert_eq!(r.lane, Lane::Normal);
        let image = r.image.expect("the source is stored");
        assert_eq!(image.content_type, "image/png");
        assert!(r.credentials.is_none() && !r.dry_run);
    }
}

#[test]
fn emotion_is_required_validated_and_kept_with_the_prompt() {
    let image = small();
    let r = augment(
        json!({"tool": "emotion", "image": image, "emotion": " Surprised ",
        "prompt": "目を見開く", "defry": 5, "priority": "low"}),
    )
    .unwrap();
    let JobKind::Augment(a) = r.params.kind else {
        panic!()
    };
    assert_eq!((a.emotion, a.defry), (Some(Emotion::Surprised), Some(5)));
    assert_eq!(r.params.prompt, "目を見開く");
    assert_eq!(r.lane, Lane::Low);
    assert_eq!(
        refused(augment(json!({"tool": "emotion", "image": image}))),
        ("missing_parameter", "emotion".into())
    );
    assert_eq!(
        refused(augment(
            json!({"tool": "emotion", "image": image, "emotion": "joyful"})
        )),
        ("invalid_parameter", "emotion".into())
    );
    assert_eq!(
        refused(augment(
            json!({"tool": "emotion", "image": image, "emotion": 3})
        )),
        ("invalid_parameter", "emotion".into())
    );
    assert_eq!(
        refused(augment(
            json!({"tool": "lineart", "image": image, "emotion": "happy"})
        )),
        ("invalid_parameter", "emotion".into())
    );
}

#[test]
fn each_refusal_names_its_field() {
    let image = small();
    for (body, code, field) in [
        (json!({"image": image}), "missing_parameter", "tool"),
        (
            json!({"tool": "inpaint", "image": image}),
            "invalid_parameter",
            "tool",
        ),
        (
            json!({"tool": ["lineart"], "image": image}),
            "invalid_parameter",
            "tool",
        ),
        (json!({"tool": "sketch"}), "missing_parameter", "image"),
        (
            json!({"tool": "colorize", "image": image, "defry": 6}),
            "invalid_parameter",
            "defry",
        ),
        (
            json!({"tool": "colorize", "image": image, "defry": -1}),
            "invalid_parameter",
            "defry",
        ),
        (
            json!({"tool": "colorize", "image": image, "defry": 2.5}),
            "invalid_parameter",
            "defry",
        ),
        (
            json!({"tool": "lineart", "image": image, "prompt": "x"}),
            "invalid_parameter",
            "prompt",
        ),
        (
            json!({"tool": "bg-removal", "image": image, "defry": 0}),
            "invalid_parameter",
            "defry",
        ),
        (
            json!({"tool": "colorize", "image": image, "prompt": "x".repeat(8_001)}),
            "invalid_parameter",
            "prompt",
        ),
        (
            json!({"tool": "sketch", "image": image, "seed": 1}),
            "invalid_parameter",
            "seed",
        ),
        (
            json!({"tool": "sketch", "image": image, "dry_run": true}),
            "invalid_parameter",
            "dry_run",
        ),
        (
            json!({"tool": "sketch", "image": image, "auth_type": "token"}),
            "invalid_parameter",
            "auth_type",
        ),
        (
            json!({"tool": "sketch", "image": image, "priority": "urgent"}),
            "invalid_parameter",
            "priority",
        ),
        (
            json!({"tool": "sketch", "image": image, "is_test_request": "yes"}),
            "invalid_parameter",
            "is_test_request",
        ),
        (
            json!({"tool": "sketch", "image": image, "webhook_url": "x".repeat(3000)}),
            "invalid_parameter",
            "webhook_url",
        ),
        (
            json!({"tool": "sketch", "image": "not base64!"}),
            "invalid_parameter",
            "image",
        ),
        (
            json!({"tool": "sketch", "image": b64(b"GIF89a not an image")}),
            "invalid_parameter",
            "image",
        ),
        (
            json!({"tool": "sketch", "image": b64(&png_of(32, 32))}),
            "invalid_parameter",
            "image",
        ),
    ] {
        assert_eq!(
            refused(augment(body.clone())),
            (code, field.to_string()),
            "{body:.200}"
        );
    }
    for (body, code, field) in [
        (json!({}), "missing_parameter", "image"),
        (
            json!({"image": image, "tool": "lineart"}),
            "invalid_parameter",
            "tool",
        ),
        (
            json!({"image": image, "scale": 4}),
            "invalid_parameter",
            "scale",
        ),
        (json!({"image": 7}), "invalid_parameter", "image"),
    ] {
        assert_eq!(
            refused(upscale(body.clone())),
            (code, field.to_string()),
            "{body}"
        );
    }
    let e = augment(json!([1])).unwrap_err();
    assert_eq!((e.code, e.field), ("malformed_json", None));
}

#[test]
fn hostile_images_are_refused_from_their_bytes_or_header_before_decoding() {
    // More base64 than the byte limit allows: refused before it is decoded.
    let huge = "A".repeat(6_000_000);
    assert_eq!(
        refused(augment(json!({"tool": "sketch", "image": huge}))),
        ("too_large", "image".into())
    );
    assert_eq!(
        refused(upscale(json!({"image": huge}))),
        ("too_large", "image".into())
    );
    // A header claiming 65,536 x 65,536 (the data is absent): refused from the header.
    let claiming = b64(&png_claiming(65_536, 65_536, false));
    assert_eq!(
        refused(augment(json!({"tool": "declutter", "image": claiming}))),
        ("too_large", "image".into())
    );
    assert_eq!(
        refused(upscale(json!({"image": claiming}))),
        ("too_large", "image".into())
    );
    // Within the input limit but over what NovelAI upscales: refused from the header too.
    let e = upscale(json!({"image": b64(&png_claiming(2048, 2048, false))})).unwrap_err();
    assert_eq!(
        (e.code, e.field.as_deref()),
        ("invalid_parameter", Some("image"))
    );
    assert!(e.message.contains("3145728"), "{}", e.message);
    // A real PNG with a header that lies about its data.
    let mut broken = png_of(256, 256);
    broken.truncate(broken.len() - 20);
    assert_eq!(
        refused(augment(json!({"tool": "sketch", "image": b64(&broken)}))),
        ("invalid_parameter", "image".into())
    );
}

#[test]
fn large_images_are_scaled_for_the_tools_and_a_data_url_is_taken() {
    let data_url = format!("data:image/png;base64,{}", b64(&png_of(2048, 2048)));
    let r = augment(json!({"tool": "lineart", "image": data_url})).unwrap();
    let (w, h) = (r.params.width, r.params.height);
    assert!(u64::from(w) * u64::from(h) <= 3_145_728 - 2_000, "{w}x{h}");
    assert_eq!(w, h);
    let png = r.image.unwrap().bytes;
    let dims = image::ImageReader::with_format(std::io::Cursor::new(png), image::ImageFormat::Png)
        .into_dimensions()
        .unwrap();
    assert_eq!(dims, (w, h), "the image sent is the size the body names");

    // Upscale takes the image as it is, up to 1536x2048.
    let r = upscale(json!({"image": b64(&png_of(1536, 2048)), "is_test_request": true})).unwrap();
    assert_eq!((r.params.width, r.params.height), (1536, 2048));
    assert_eq!(r.params.kind, JobKind::Upscale);
    assert_eq!(r.lane, Lane::Test);
}

fn tool_cost(tool: &str, w: u32, h: u32, opus: bool) -> (u32, bool) {
    let mut body = json!({"tool": tool, "image": b64(&png_of(w, h))});
    if tool == "emotion" {
        body["emotion"] = json!("neutral");
    }
    let c = anlas_cost(&augment(body).unwrap().params, opus);
    (c.total, c.opus_free)
}

#[test]
fn director_tools_cost_as_v3_at_28_steps_free_on_opus_but_background_removal() {
    // The website's figure: background removal at 832x1216 is 65 (3 x 20 + 5), Opus or not.
    assert_eq!(tool_cost("bg-removal", 832, 1216, true), (65, false));
    assert_eq!(tool_cost("bg-removal", 832, 1216, false), (65, false));
    for tool in DirectorTool::ALL
        .iter()
        .filter(|t| **t != DirectorTool::BgRemoval)
    {
        // 832x1216 @28 as V3 is 20; free on Opus up to 1 MP.
        assert_eq!(tool_cost(tool.as_str(), 832, 1216, false), (20, false));
        assert_eq!(tool_cost(tool.as_str(), 832, 1216, true), (0, true));
        assert_eq!(tool_cost(tool.as_str(), 1024, 1024, true), (0, true));
        // Over 1 MP, Opus pays: 1088x1024 (1,114,112 pixels) is 22 at 28 steps.
        assert_eq!(tool_cost(tool.as_str(), 1088, 1024, true), (22, false));
    }
    assert_eq!(tool_cost("sketch", 1024, 1024, false), (20, false));
}

#[test]
fn upscale_costs_one_to_four_by_the_source_pixels_with_no_opus_discount() {
    for (w, h, anlas) in [
        (64, 64, 1),
        (1024, 1024, 1), // 1,048,576
        (1024, 1025, 2),
        (1216, 1437, 2), // 1,747,392
        (1280, 1366, 3), // 1,748,480
        (1536, 1592, 3), // 2,445,312
        (1536, 1593, 4), // 2,446,848
        (1536, 2048, 4), // 3,145,728
    ] {
        let r = upscale(json!({"image": b64(&png_of(w, h))})).unwrap();
        let c = anlas_cost(&r.params, true);
        assert_eq!((c.total, c.opus_free), (anlas, false), "{w}x{h}");
    }
    use crate::domain::pricing::upscale_price;
    assert_eq!(
        [
            upscale_price(1_048_576),
            upscale_price(1_048_577),
            upscale_price(1_747_627),
            upscale_price(1_747_628),
            upscale_price(2_446_678),
            upscale_price(2_446_679),
            upscale_price(3_145_728)
        ],
        [1, 2, 2, 3, 3, 4, 4]
    );
}

//! Vibes and Precise References: where they are taken, what is stored, what is fitted.

use super::*;

fn b64_png(w: u32, h: u32) -> String {
    base64::engine::general_purpose::STANDARD.encode(naiq_testkit::png_of(w, h))
}

#[test]
fn vibes_are_refused_where_the_model_or_the_request_does_not_take_them() {
    let vibes = json!([{"image": b64_png(64, 64)}]);
    for model in ["nai-v5", "nai-v5-medium", "nai-diffusion-2"] {
        let e = parse(json!({"prompt": "x", "model": model, "vibes": vibes})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("vibes"), "{model}: {e:?}");
    }
    let img = b64_png(128, 128);
    let e = parse(
        json!({"prompt": "x", "model": "nai-v4.5", "image": img, "mask": img,
                         "vibes": vibes}),
    )
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("vibes"), "{e:?}");
    let e = parse(json!({"prompt": "x", "model": "nai-v4.5", "vibes": vibes,
                         "references": [{"image": img}]}))
    .unwrap_err();
    assert_eq!(e.field.as_deref(), Some("vibes"), "{e:?}");
    let many: Vec<Value> = (0..17).map(|_| json!({"image": b64_png(64, 64)})).collect();
    assert_eq!(
        field_of(json!({"prompt": "x", "model": "nai-v4.5", "vibes": many})),
        "vibes"
    );
    assert_eq!(
        field_of(json!({"prompt": "x", "model": "nai-v4.5", "vibes": [{"image": "nope"}]})),
        "vibes[0].image"
    );
    assert_eq!(
        field_of(json!({"prompt": "x", "model": "nai-v4.5",
                        "vibes": [{"image": b64_png(64, 64), "strength": 2}]})),
        "vibes[0].strength"
    );
}

#[test]
fn one_image_twice_is_stored_once_and_v3_gets_448_pixels() {
    let img = b64_png(100, 64);
    let r = parse(json!({"prompt": "x", "model": "nai-v4.5",
                         "vibes": [{"image": img, "information_extracted": 0.333},
                                   {"image": img, "strength": 0.2}]}))
    .unwrap();
    assert_eq!(r.params.vibes.len(), 2);
    assert_eq!(r.params.vibes[0].hash, r.params.vibes[1].hash);
    assert_eq!(r.params.vibes[0].ie_key(), "0.33");
    assert_eq!(r.vibe_images.len(), 1);
    let r = parse(json!({"prompt": "x", "model": "nai-v3", "vibes": [{"image": img}]})).unwrap();
    let png = &r.vibe_images[0].image.bytes;
    let decoded = image::load_from_memory(png).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (448, 448));
}

#[test]
fn references_are_fitted_to_an_allowed_size_on_v45_only() {
    let r = parse(json!({"prompt": "x", "model": "nai-v4.5",
                         "references": [{"image": b64_png(300, 200), "type": "style", "fidelity": 0.25}]}))
    .unwrap();
    assert_eq!(r.params.references[0].kind, "style");
    let fitted = image::load_from_memory(&r.reference_images[0].bytes).unwrap();
    assert_eq!((fitted.width(), fitted.height()), (1536, 1024));
    for model in ["nai-v5", "nai-v4", "nai-v3"] {
        let e = parse(json!({"prompt": "x", "model": model,
                             "references": [{"image": b64_png(64, 64)}]}))
        .unwrap_err();
        assert_eq!(e.field.as_deref(), Some("references"), "{model}");
    }
    let on = Limits {
        v5_references: true,
        ..Limits::default()
    };
    let body =
        json!({"prompt": "x", "model": "nai-v5", "references": [{"image": b64_png(64, 64)}]});
    assert!(parse_submit(body.to_string().as_bytes(), &on).is_ok());
    assert_eq!(
        field_of(json!({"prompt": "x", "model": "nai-v4.5",
                        "references": [{"image": b64_png(64, 64), "type": "hat"}]})),
        "references[0].type"
    );
}

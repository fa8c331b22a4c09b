//! Director tools and upscale as NovelAI serves them (handbook: `novelai-api-2026.md` §8,
//! §4.4, §10.13–14):
//!
//! - `POST /ai/augment-image {req_type, prompt?, defry?, width, height, image}`
//!   ([`augment`]): seven `req_type`s; `colorize` and `emotion` take `prompt` and `defry`
//!   (0–5), `emotion`'s prompt is `"<emotion>;;<extra>"` with one of 24 emotions; the
//!   image a base64 PNG of `width`x`height`, at most 3,145,728 pixels. 200 with a zip of
//!   one *stored* PNG (`bg-removal`: three, RGBA) at that size, `Comment`
//!   `{"req_type", …}`. Priced like V3 at 28 steps, free for Opus up to 1,048,576 pixels;
//!   `bg-removal` costs three times that plus 5 and is never free.
//! - `POST /ai/upscale {image, model, declared_blur_sigma}` ([`upscale`]): a base64 PNG
//!   of at most 3,145,728 pixels, answered at twice its size (a zip, or JSON with
//!   `Accept: application/json`); 1/2/3/4 Anlas by the source's pixels, no Opus discount.
//!
//! Both hold the account's concurrency lock like a generation (429 while another runs).

pub mod augment;
pub(crate) mod output;
pub mod upscale;

use base64::Engine as _;
use serde_json::Value;

/// Most pixels either tool takes.
pub const MAX_PIXELS: u64 = 3_145_728;

/// A base64 PNG's bytes and size, from its header.
pub fn png_input(v: &Value) -> Option<(Vec<u8>, u32, u32)> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?)
        .ok()?;
    let (w, h) = {
        let mut decoder = png::Decoder::new(std::io::Cursor::new(&bytes[..]));
        decoder.set_ignore_text_chunk(true);
        let reader = decoder.read_info().ok()?;
        (reader.info().width, reader.info().height)
    };
    Some((bytes, w, h))
}

/// A body as logged: `field` (an image) only by its length.
pub fn logged(body: &[u8], field: &str) -> Value {
    let mut v = crate::request_log::body_value(body);
    if let Some(image) = v.get_mut(field)
        && let Some(s) = image.as_str()
    {
        *image = Value::String(format!("<{} base64 characters>", s.len()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::augment::{Augment, validate};
    use base64::Engine as _;
    use serde_json::json;

    fn png(w: u32, h: u32) -> String {
        let bytes = super::output::png(w, h, false, 1, super::output::Fill::Flat, &[]).unwrap();
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    #[test]
    fn background_removal_is_three_times_plus_five_and_never_free() {
        let a = |t: &'static str| Augment {
            req_type: t,
            width: 832,
            height: 1216,
            prompt: None,
            defry: None,
        };
        assert_eq!(a("bg-removal").price(3, true), 65);
        assert_eq!(a("lineart").price(3, true), 0);
        assert_eq!(a("lineart").price(1, true), 20);
        assert_eq!(a("bg-removal").images(), 3);
    }

    #[test]
    fn a_comment_in_any_script_is_written() {
        let text = [("Comment", r#"{"prompt":"青い目, é"}"#.to_string())];
        let png = super::output::png(64, 64, false, 1, super::output::Fill::Flat, &text).unwrap();
        let info = png::Decoder::new(std::io::Cursor::new(png))
            .read_info()
            .unwrap()
            .info()
            .clone();
        assert_eq!(info.utf8_text[0].get_text().unwrap(), text[0].1);
    }

    #[test]
    fn a_noise_fill_is_a_png_deflate_cannot_shrink() {
        use super::output::{Fill, png};
        let flat = png(256, 256, false, 3, Fill::Flat, &[]).unwrap();
        let noisy = png(256, 256, false, 3, Fill::Noise, &[]).unwrap();
        assert!(flat.len() < 10_000, "{}", flat.len());
        assert!(noisy.len() >= 256 * 256 * 3, "{}", noisy.len());
        assert_eq!(noisy, png(256, 256, false, 3, Fill::Noise, &[]).unwrap());
    }

    #[test]
    fn emotions_and_prompts_are_checked() {
        let body = |v: serde_json::Value| v.to_string().into_bytes();
        let ok = json!({"req_type": "emotion", "prompt": "happy;;smile", "defry": 0,
                        "width": 64, "height": 64, "image": png(64, 64)});
        assert!(validate(&body(ok)).is_ok());
        let bad = json!({"req_type": "emotion", "prompt": "grumpy;;", "defry": 0,
                         "width": 64, "height": 64, "image": png(64, 64)});
        assert!(validate(&body(bad)).is_err());
        let prompt_on_lineart = json!({"req_type": "lineart", "prompt": "x",
                                       "width": 64, "height": 64, "image": png(64, 64)});
        assert!(validate(&body(prompt_on_lineart)).is_err());
        let wrong_size = json!({"req_type": "sketch", "width": 128, "height": 64,
                                "image": png(64, 64)});
        assert!(validate(&body(wrong_size)).is_err());
    }
}

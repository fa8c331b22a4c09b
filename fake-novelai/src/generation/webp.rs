//! The WebPs of a generation (`image_format: "webp"`): lossless (VP8L) RGBA at the
//! requested size, as NovelAI sends them, with the metadata (see [`super::metadata`]) in
//! an EXIF `UserComment` holding one JSON object, `{"Title", "Description", "Software",
//! "Source", "Generation time", "Comment"}` (`Comment` itself a JSON string).
//!
//! The EXIF block is a minimal little-endian TIFF: IFD0 points to an Exif IFD whose one
//! entry is the `UserComment` (character code `ASCII`). The JSON is written with every
//! non-ASCII character escaped (`\uXXXX`), so the bytes are ASCII as the code says and
//! any JSON reader gets the UTF-8 text back.

use std::fmt::Write as _;
use std::time::Duration;

use image_webp::{ColorType, EncodingError, WebPEncoder};
use serde_json::{Map, Value};

use super::metadata;
use super::pixels::pixels;
use super::validate::Generation;

/// EXIF tags: the Exif IFD pointer and `UserComment`.
const EXIF_IFD_POINTER: u16 = 0x8769;
const USER_COMMENT: u16 = 0x9286;
/// TIFF field types: LONG and UNDEFINED.
const LONG: u16 = 4;
const UNDEFINED: u16 = 7;
/// `UserComment`'s character code for ASCII text.
pub const ASCII_CODE: &[u8; 8] = b"ASCII\0\0\0";

/// JSON text with every non-ASCII character as a `\uXXXX` escape (two for characters
/// beyond the BMP). Non-ASCII characters only occur inside JSON strings, where the
/// escapes mean the same text.
pub fn ascii_json(v: &Value) -> String {
    let text = v.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                // Writing to a String cannot fail.
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

fn entry(out: &mut Vec<u8>, tag: u16, kind: u16, count: u32, value: u32) {
    out.extend(tag.to_le_bytes());
    out.extend(kind.to_le_bytes());
    out.extend(count.to_le_bytes());
    out.extend(value.to_le_bytes());
}

/// A TIFF block with one `UserComment`.
pub fn exif_user_comment(text: &str) -> Vec<u8> {
    // Header (8), IFD0 (2 + 12 + 4), Exif IFD (2 + 12 + 4), then the comment.
    const EXIF_IFD: u32 = 8 + 18;
    const COMMENT: u32 = EXIF_IFD + 18;
    let count = u32::try_from(ASCII_CODE.len() + text.len()).unwrap_or(u32::MAX);
    let mut out = b"II\x2a\x00".to_vec();
    out.extend(8u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    entry(&mut out, EXIF_IFD_POINTER, LONG, 1, EXIF_IFD);
    out.extend(0u32.to_le_bytes());
    out.extend(1u16.to_le_bytes());
    entry(&mut out, USER_COMMENT, UNDEFINED, count, COMMENT);
    out.extend(0u32.to_le_bytes());
    out.extend(ASCII_CODE);
    out.extend(text.as_bytes());
    out
}

/// Sample `sample`'s WebP; its colours depend on its seed.
pub fn webp_of(
    g: &Generation,
    sample: u32,
    generation_time: Duration,
) -> Result<Vec<u8>, EncodingError> {
    let fields: Map<String, Value> = metadata::fields(g, sample, generation_time)
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v)))
        .collect();
    let mut out = Vec::new();
    let mut enc = WebPEncoder::new(&mut out);
    enc.set_exif_metadata(exif_user_comment(&ascii_json(&Value::Object(fields))));
    let seed = g.seed + u64::from(sample);
    enc.encode(
        &pixels(g.width, g.height, seed),
        g.width,
        g.height,
        ColorType::Rgba8,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_is_escaped_to_ascii_and_means_the_same() {
        let v = json!({"prompt": "一只猫 🐱, café", "n": 1});
        let text = ascii_json(&v);
        assert!(text.is_ascii(), "{text}");
        assert!(
            text.contains("\\u4e00") && text.contains("\\ud83d\\udc31"),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn the_exif_block_points_to_its_user_comment() {
        let exif = exif_user_comment("{}");
        assert_eq!(&exif[..4], b"II\x2a\x00");
        // IFD0's entry points to the Exif IFD at 26, whose entry points to the comment.
        assert_eq!(u16::from_le_bytes([exif[10], exif[11]]), EXIF_IFD_POINTER);
        assert_eq!(u32::from_le_bytes(exif[18..22].try_into().unwrap()), 26);
        assert_eq!(u16::from_le_bytes([exif[28], exif[29]]), USER_COMMENT);
        assert_eq!(u32::from_le_bytes(exif[32..36].try_into().unwrap()), 10);
        assert_eq!(u32::from_le_bytes(exif[36..40].try_into().unwrap()), 44);
        assert_eq!(&exif[44..], b"ASCII\0\0\0{}");
    }
}

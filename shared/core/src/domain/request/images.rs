//! Input images and inpainting masks: bounded before anything is decoded (bytes on the
//! wire, then the size in the image's header), decoded one at a time, then fitted to the
//! job's size as NovelAI takes them.
//!
//! What an input may cost in memory, on a 256 MB Lambda: at most [`MAX_INPUT_PIXELS`]
//! pixels and [`MAX_DECODED_BYTES`] decoded (4096x4096 at 8 bits per channel and four
//! channels: 64 MiB). The image is resized in its own colour type into a buffer of the
//! job's size (at most NovelAI's 3,145,728 pixels: 12 MiB as RGBA), and the mask is decoded
//! only after the image is fitted and dropped. So one request holds at most one decoded
//! input, its fitted copy and the body: under 100 MiB, with room for the runtime (about
//! 30 MiB) and the encoded PNGs. `cargo bench -p naiq-core --bench submit_images` measures it.

use base64::Engine as _;
use image::ImageDecoder as _;

use super::fields::Fields;
use super::{InputImage, Limits, ValidationError};

/// Standard alphabet, padding optional (clients differ).
const LENIENT_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Most pixels an input image or mask may have: 4096x4096. NovelAI generates at most
/// 3,145,728 pixels, so a larger input is only ever scaled down; this leaves clients room
/// for a camera-sized photo while one decoded input stays at 64 MiB.
pub const MAX_INPUT_PIXELS: u64 = 16_777_216;

/// Most bytes an input may decode to: [`MAX_INPUT_PIXELS`] at four 8-bit channels, so a
/// 16-bit image may have half as many pixels.
pub const MAX_DECODED_BYTES: u64 = MAX_INPUT_PIXELS * 4;

/// Smallest side of an input.
const MIN_INPUT_SIDE: u32 = 64;

fn too_large(field: &str, message: String) -> ValidationError {
    ValidationError {
        code: "too_large",
        field: Some(field.into()),
        message,
    }
}

/// An input whose header was read and checked; its pixels are not decoded yet.
pub(super) struct Probed {
    field: String,
    bytes: Vec<u8>,
    format: image::ImageFormat,
    pub(super) width: u32,
    pub(super) height: u32,
}

fn reader(bytes: &[u8], format: image::ImageFormat) -> image::ImageReader<std::io::Cursor<&[u8]>> {
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(bytes), format);
    // A second guard inside the decoders, above what the header check lets through.
    let mut guard = image::Limits::default();
    guard.max_alloc = Some(2 * MAX_DECODED_BYTES);
    reader.limits(guard);
    reader
}

/// The input image or mask in `field`, if given, read as far as its header and checked.
pub(super) fn probe_field(
    f: &Fields<'_>,
    field: &'static str,
    limits: &Limits,
) -> Result<Option<Probed>, ValidationError> {
    match f.get(field) {
        None => Ok(None),
        Some(serde_json::Value::String(b64)) => probe(b64, limits, field.to_string()).map(Some),
        Some(_) => Err(ValidationError::invalid(
            field,
            format!("{field} must be a string"),
        )),
    }
}

/// Reads an input image or mask (PNG, JPEG or WebP, base64, a data URL allowed) as far as
/// its header, and checks its size; errors name `field`.
pub(super) fn probe(b64: &str, limits: &Limits, field: String) -> Result<Probed, ValidationError> {
    let field = field.as_str();
    let too_many_bytes = || {
        too_large(
            field,
            format!("{field} must be at most {} bytes", limits.max_image_bytes),
        )
    };
    // The text is bounded before it is copied: base64 of the largest image, with room for
    // a data URL's head and line breaks every 64 characters.
    let max_text = limits.max_image_bytes.div_ceil(3) * 4 / 32 * 33 + 256;
    if b64.len() > max_text {
        return Err(too_many_bytes());
    }
    // Accept data URLs as browsers produce them.
    let data = match b64.split_once(',') {
        Some((head, data)) if head.starts_with("data:") => data,
        _ => b64,
    };
    let data: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if data.len() / 4 * 3 > limits.max_image_bytes + 3 {
        return Err(too_many_bytes());
    }
    let bytes = LENIENT_BASE64
        .decode(data.as_bytes())
        .map_err(|_| ValidationError::invalid(field, format!("{field} must be base64")))?;
    if bytes.len() > limits.max_image_bytes {
        return Err(too_many_bytes());
    }
    let format = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        image::ImageFormat::Png
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        image::ImageFormat::Jpeg
    } else if bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        image::ImageFormat::WebP
    } else {
        return Err(ValidationError::invalid(
            field,
            format!("{field} must be a PNG, JPEG or WebP"),
        ));
    };
    let unreadable = |e: image::ImageError| {
        ValidationError::invalid(field, format!("{field} could not be decoded: {e}"))
    };
    let (width, height, color, decoded_bytes) = {
        let decoder = reader(&bytes, format).into_decoder().map_err(unreadable)?;
        let (w, h) = decoder.dimensions();
        (w, h, decoder.color_type(), decoder.total_bytes())
    };
    let pixels = u64::from(width) * u64::from(height);
    if pixels > MAX_INPUT_PIXELS {
        return Err(too_large(
            field,
            format!(
                "{field} is {width}x{height} ({pixels} pixels); at most {MAX_INPUT_PIXELS} \
                 pixels (4096x4096) are accepted"
            ),
        ));
    }
    if decoded_bytes > MAX_DECODED_BYTES {
        return Err(too_large(
            field,
            format!(
                "{field} is {width}x{height} in {color:?}, which decodes to {decoded_bytes} \
                 bytes; at most {MAX_DECODED_BYTES} (4096x4096 at 8 bits per channel)"
            ),
        ));
    }
    if width < MIN_INPUT_SIDE || height < MIN_INPUT_SIDE {
        return Err(ValidationError::invalid(
            field,
            format!("{field} must be at least {MIN_INPUT_SIDE}x{MIN_INPUT_SIDE} pixels"),
        ));
    }
    Ok(Probed {
        field: field.to_string(),
        bytes,
        format,
        width,
        height,
    })
}

impl Probed {
    /// Decodes the pixels and fits them to `width`x`height` as RGBA. The decoded input is
    /// resized in its own colour type (no full-size RGBA copy, no floating-point buffer) and
    /// dropped before this returns.
    fn rgba_at(self, width: u32, height: u32) -> Result<image::RgbaImage, ValidationError> {
        let img = self.decode()?;
        if (img.width(), img.height()) == (width, height) {
            Ok(img.into_rgba8())
        } else {
            // Area-averaging when scaling down, linear when scaling up; the output is the
            // only new buffer.
            Ok(img.thumbnail_exact(width, height).into_rgba8())
        }
    }

    /// Decodes the pixels (bounded by the header check) and drops the encoded bytes.
    pub(super) fn decode(self) -> Result<image::DynamicImage, ValidationError> {
        let field = self.field.as_str();
        let unreadable = |e: image::ImageError| {
            ValidationError::invalid(field, format!("{field} could not be decoded: {e}"))
        };
        let decoder = reader(&self.bytes, self.format)
            .into_decoder()
            .map_err(unreadable)?;
        image::DynamicImage::from_decoder(decoder).map_err(unreadable)
    }

    /// The field this input came in, as errors name it.
    pub(super) fn field(&self) -> &str {
        &self.field
    }

    /// The encoded bytes as given (PNG, JPEG or WebP), and their media type.
    pub(super) fn encoded(&self) -> (&[u8], &'static str) {
        let content_type = match self.format {
            image::ImageFormat::Jpeg => "image/jpeg",
            image::ImageFormat::WebP => "image/webp",
            _ => "image/png",
        };
        (&self.bytes, content_type)
    }

    /// The input as NovelAI takes it: a PNG at the target size (resized when it differs).
    pub(super) fn fit_image(self, width: u32, height: u32) -> Result<InputImage, ValidationError> {
        let field = self.field.clone();
        let field = field.as_str();
        let fitted = self.rgba_at(width, height)?;
        Ok(InputImage {
            bytes: png_of(&image::DynamicImage::ImageRgba8(fitted), field)?,
            content_type: "image/png",
        })
    }

    /// The mask as NovelAI takes it: a black/white grayscale PNG at the target size, white
    /// = repaint. A pixel is white when its luminance, with transparency counted as black,
    /// is over 50%; then every 8x8 cell with any white pixel becomes all white.
    pub(super) fn fit_mask(self, width: u32, height: u32) -> Result<InputImage, ValidationError> {
        let field = self.field.clone();
        let field = field.as_str();
        let rgba = self.rgba_at(width, height)?;
        let luma = image::DynamicImage::ImageRgba8(rgba).into_luma_alpha8();
        // Composited over black: l * a / 255 > 127.5.
        let white = |x: u32, y: u32| {
            let image::LumaA([l, a]) = *luma.get_pixel(x, y);
            2 * u32::from(l) * u32::from(a) > 255 * 255
        };
        let (cols, rows) = (width.div_ceil(MASK_CELL), height.div_ceil(MASK_CELL));
        let mut cells = vec![false; (cols * rows) as usize];
        for y in 0..height {
            for x in 0..width {
                if white(x, y) {
                    cells[((y / MASK_CELL) * cols + x / MASK_CELL) as usize] = true;
                }
            }
        }
        let mask = image::GrayImage::from_fn(width, height, |x, y| {
            let on = cells[((y / MASK_CELL) * cols + x / MASK_CELL) as usize];
            image::Luma([if on { 255 } else { 0 }])
        });
        Ok(InputImage {
            bytes: png_of(&image::DynamicImage::ImageLuma8(mask), field)?,
            content_type: "image/png",
        })
    }
}

/// Side of the cells an inpainting mask is snapped to (NovelAI works on an 8x coarser
/// latent grid; ComfyUI's NovelAI node snaps masks the same way).
const MASK_CELL: u32 = 8;

pub(super) fn png_of(img: &image::DynamicImage, field: &str) -> Result<Vec<u8>, ValidationError> {
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| {
            ValidationError::invalid(field, format!("{field} could not be re-encoded: {e}"))
        })?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use naiq_testkit::{png_claiming, png_of};
    use serde_json::json;

    use super::super::{Limits, ValidationError, parse_submit};

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Submits `png` as the image (or, with a small image, as the mask).
    fn submit(field: &str, png: &[u8]) -> Result<(), ValidationError> {
        let small = b64(&png_of(128, 128));
        let body = match field {
            "image" => json!({"prompt": "x", "image": b64(png)}),
            _ => json!({"prompt": "x", "model": "nai-v4.5", "image": small, "mask": b64(png)}),
        };
        parse_submit(body.to_string().as_bytes(), &Limits::default()).map(|_| ())
    }

    #[test]
    fn inputs_over_the_pixel_limit_are_refused_from_their_header() {
        for field in ["image", "mask"] {
            // The header alone says too many: refused without decoding (the data is absent).
            for (w, h, deep) in [
                (4097, 4096, false),
                (8192, 8192, false),
                (262_145, 64, false),
                (4096, 4096, true),
            ] {
                let e = submit(field, &png_claiming(w, h, deep)).unwrap_err();
                assert_eq!(
                    (e.code, e.field.as_deref()),
                    ("too_large", Some(field)),
                    "{w}x{h} deep={deep}: {e:?}"
                );
                assert!(e.message.contains(&format!("{w}x{h}")), "{}", e.message);
            }
            // At the limit, the header passes and decoding is tried (and fails here).
            for (w, h, deep) in [
                (4096, 4096, false),
                (2896, 2896, true),
                (262_144, 64, false),
            ] {
                let e = submit(field, &png_claiming(w, h, deep)).unwrap_err();
                assert_eq!(
                    (e.code, e.field.as_deref()),
                    ("invalid_parameter", Some(field)),
                    "{w}x{h} deep={deep}: {e:?}"
                );
                assert!(e.message.contains("could not be decoded"), "{}", e.message);
            }
        }
    }

    #[test]
    fn an_8192_single_colour_png_is_refused_before_it_is_decoded() {
        let png = png_of(8192, 8192);
        assert!(png.len() < 1_000_000, "small on the wire: {}", png.len());
        let started = std::time::Instant::now();
        let e = submit("image", &png).unwrap_err();
        assert_eq!((e.code, e.field.as_deref()), ("too_large", Some("image")));
        // Decoding it took about a second and 700 MB; reading the header takes nothing.
        assert!(
            started.elapsed() < std::time::Duration::from_millis(500),
            "{:?}",
            started.elapsed()
        );
    }
}

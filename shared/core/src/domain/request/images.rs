//! Input images and inpainting masks: decoded with bounds (bytes before decoding, sides and
//! allocation while decoding), then fitted to the job's size as NovelAI takes them.

use base64::Engine as _;

use super::{InputImage, Limits, ValidationError};

/// Standard alphabet, padding optional (clients differ).
const LENIENT_BASE64: base64::engine::GeneralPurpose = base64::engine::GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    base64::engine::GeneralPurposeConfig::new()
        .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
);

/// Largest input image side accepted before decoding (a guard against decompression bombs).
const MAX_INPUT_SIDE: u32 = 8192;

fn too_large(field: &str, limits: &Limits) -> ValidationError {
    ValidationError {
        code: "too_large",
        field: Some(field.into()),
        message: format!("{field} must be at most {} bytes", limits.max_image_bytes),
    }
}

/// Decodes and checks an input image or mask (PNG, JPEG or WebP, base64, a data URL
/// allowed); errors name `field`.
pub(super) fn decode_image(
    b64: &str,
    limits: &Limits,
    field: &str,
) -> Result<image::DynamicImage, ValidationError> {
    // Accept data URLs as browsers produce them.
    let data = match b64.split_once(',') {
        Some((head, data)) if head.starts_with("data:") => data,
        _ => b64,
    };
    let data: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    if data.len() / 4 * 3 > limits.max_image_bytes + 3 {
        return Err(too_large(field, limits));
    }
    let bytes = LENIENT_BASE64
        .decode(data.as_bytes())
        .map_err(|_| ValidationError::invalid(field, format!("{field} must be base64")))?;
    if bytes.len() > limits.max_image_bytes {
        return Err(too_large(field, limits));
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
    let mut reader = image::ImageReader::with_format(std::io::Cursor::new(&bytes), format);
    let mut guard = image::Limits::default();
    guard.max_image_width = Some(MAX_INPUT_SIDE);
    guard.max_image_height = Some(MAX_INPUT_SIDE);
    guard.max_alloc = Some(512 * 1024 * 1024);
    reader.limits(guard);
    let img = reader.decode().map_err(|e| {
        ValidationError::invalid(field, format!("{field} could not be decoded: {e}"))
    })?;
    if img.width() < 64 || img.height() < 64 {
        return Err(ValidationError::invalid(
            field,
            format!("{field} must be at least 64x64 pixels"),
        ));
    }
    Ok(img)
}

/// The image as RGBA at the target size (resized only when it differs).
fn rgba_at(img: &image::DynamicImage, width: u32, height: u32) -> image::RgbaImage {
    let rgba = img.to_rgba8();
    if (rgba.width(), rgba.height()) == (width, height) {
        rgba
    } else {
        image::imageops::resize(&rgba, width, height, image::imageops::FilterType::Triangle)
    }
}

/// The input as NovelAI takes it: a PNG at the target size (resized when it differs).
pub(super) fn fit_image(
    img: &image::DynamicImage,
    width: u32,
    height: u32,
) -> Result<InputImage, ValidationError> {
    let fitted = rgba_at(img, width, height);
    let mut png = Vec::new();
    fitted
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| {
            ValidationError::invalid("image", format!("image could not be re-encoded: {e}"))
        })?;
    Ok(InputImage {
        bytes: png,
        content_type: "image/png",
    })
}

/// Side of the cells an inpainting mask is snapped to (NovelAI works on an 8x coarser
/// latent grid; ComfyUI's NovelAI node snaps masks the same way).
const MASK_CELL: u32 = 8;

/// The mask as NovelAI takes it: a black/white grayscale PNG at the target size, white =
/// repaint. A pixel is white when its luminance, with transparency counted as black, is
/// over 50%; then every 8x8 cell with any white pixel becomes all white.
pub(super) fn fit_mask(
    img: &image::DynamicImage,
    width: u32,
    height: u32,
) -> Result<InputImage, ValidationError> {
    let rgba = rgba_at(img, width, height);
    let luma = image::DynamicImage::ImageRgba8(rgba).to_luma_alpha8();
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
    let mut png = Vec::new();
    mask.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|e| {
            ValidationError::invalid("mask", format!("mask could not be re-encoded: {e}"))
        })?;
    Ok(InputImage {
        bytes: png,
        content_type: "image/png",
    })
}

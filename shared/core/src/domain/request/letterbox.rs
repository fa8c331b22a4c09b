//! Fitting an image into a fixed canvas as NovelAI's website does for Precise Reference
//! (and naiq for V3 vibes): scaled to fit inside, centred, on black, with transparency
//! composited over black.

use image::{DynamicImage, Rgb, RgbImage, imageops};

/// `img` scaled (Lanczos) to fit inside `width`x`height`, centred on a black canvas of
/// exactly that size; transparent pixels become black.
pub fn letterbox(img: &DynamicImage, width: u32, height: u32) -> RgbImage {
    let (w, h) = (img.width().max(1), img.height().max(1));
    // The largest size with the image's aspect ratio that fits the canvas.
    let scale = f64::min(
        f64::from(width) / f64::from(w),
        f64::from(height) / f64::from(h),
    );
    let fw = ((f64::from(w) * scale).round() as u32).clamp(1, width);
    let fh = ((f64::from(h) * scale).round() as u32).clamp(1, height);
    let rgba = img.to_rgba8();
    let resized = if (fw, fh) == (w, h) {
        rgba
    } else {
        imageops::resize(&rgba, fw, fh, imageops::FilterType::Lanczos3)
    };
    let mut canvas = RgbImage::from_pixel(width, height, Rgb([0, 0, 0]));
    let (ox, oy) = ((width - fw) / 2, (height - fh) / 2);
    for (x, y, p) in resized.enumerate_pixels() {
        let a = u32::from(p[3]);
        let over_black = |c: u8| ((u32::from(c) * a + 127) / 255) as u8;
        canvas.put_pixel(
            ox + x,
            oy + y,
            Rgb([over_black(p[0]), over_black(p[1]), over_black(p[2])]),
        );
    }
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wide_image_is_centred_between_black_bars() {
        let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(200, 100, Rgb([255, 255, 255])));
        let out = letterbox(&img, 100, 100);
        assert_eq!(out.dimensions(), (100, 100));
        assert_eq!(out.get_pixel(50, 10), &Rgb([0, 0, 0]), "top bar");
        assert_eq!(out.get_pixel(50, 90), &Rgb([0, 0, 0]), "bottom bar");
        assert_eq!(out.get_pixel(50, 50), &Rgb([255, 255, 255]), "the image");
    }

    #[test]
    fn transparency_becomes_black() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            64,
            64,
            image::Rgba([255, 255, 255, 0]),
        ));
        let out = letterbox(&img, 64, 64);
        assert!(out.pixels().all(|p| *p == Rgb([0, 0, 0])));
    }
}

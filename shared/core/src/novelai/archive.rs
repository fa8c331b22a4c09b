//! Reading the zip NovelAI answers with (`image_0.png`, `image_1.png`, …, or
//! `image_0.webp`, … when WebP was asked for).

use std::io::{Cursor, Read};

use bytes::Bytes;

use crate::domain::request::ImageFormat;
use crate::ports::{GeneratedImage, UpstreamError};

/// Largest uncompressed entry accepted (a 1920×1088 RGBA PNG is well under this).
const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;

/// The index and format of an entry named `image_<i>.png` or `image_<i>.webp`.
fn entry_of(name: &str) -> Option<(u32, ImageFormat)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let format = match ext {
        "png" => ImageFormat::Png,
        "webp" => ImageFormat::Webp,
        _ => return None,
    };
    Some((stem.strip_prefix("image_")?.parse().ok()?, format))
}

/// Decodes and checks every image of a result zip, in sample order.
///
/// An entry stored uncompressed (the Director tools and upscale answer so) is a slice of
/// `zip_bytes`, checked against its CRC, not a copy: the largest upscale is 36 MiB, and a
/// copy of it next to the body is what would not fit the worker's memory. A deflated entry
/// (a generation's) is inflated into a buffer of its own.
pub fn decode_images(zip_bytes: &Bytes) -> Result<Vec<GeneratedImage>, UpstreamError> {
    let bad = |m: String| UpstreamError::BadResponse(m);
    let mut archive = zip::ZipArchive::new(Cursor::new(zip_bytes.as_ref()))
        .map_err(|e| bad(format!("not a zip archive: {e}")))?;
    let mut entries: Vec<(u32, ImageFormat, String)> = archive
        .file_names()
        .filter_map(Result::ok)
        .filter_map(|n| entry_of(&n).map(|(i, f)| (i, f, n.to_string())))
        .collect();
    // image_10.png sorts after image_9.png.
    entries.sort_by_key(|(i, _, _)| *i);
    let mut images = Vec::new();
    for (_, format, name) in &entries {
        let mut entry = archive
            .by_name(name)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        if entry.size() > MAX_ENTRY_BYTES {
            return Err(bad(format!("{name} is too large")));
        }
        let bytes = match (entry.compression(), entry.data_start()) {
            (zip::CompressionMethod::Stored, Some(start)) => {
                stored_slice(zip_bytes, start, entry.size(), entry.crc32())
                    .map_err(|e| bad(format!("{name}: {e}")))?
            }
            _ => {
                let mut bytes = Vec::with_capacity(entry.size() as usize);
                entry
                    .by_ref()
                    .take(MAX_ENTRY_BYTES)
                    .read_to_end(&mut bytes)
                    .map_err(|e| bad(format!("{name}: {e}")))?;
                Bytes::from(bytes)
            }
        };
        let checked = match format {
            ImageFormat::Png => check_png(&bytes),
            ImageFormat::Webp => check_webp(&bytes),
        };
        let (width, height) = checked.map_err(|e| bad(format!("{name}: {e}")))?;
        images.push(GeneratedImage {
            bytes,
            format: *format,
            width,
            height,
        });
    }
    if images.is_empty() {
        return Err(bad("the archive holds no PNG or WebP image".into()));
    }
    Ok(images)
}

/// The bytes of a stored entry, `size` of them from `start`, if they lie inside the zip
/// and match the entry's CRC.
fn stored_slice(zip_bytes: &Bytes, start: u64, size: u64, crc: u32) -> Result<Bytes, String> {
    let end = start
        .checked_add(size)
        .filter(|end| *end <= zip_bytes.len() as u64)
        .ok_or("the entry runs past the archive's end")?;
    let bytes = zip_bytes.slice(start as usize..end as usize);
    if crc32fast::hash(&bytes) != crc {
        return Err("its CRC does not match".into());
    }
    Ok(bytes)
}

/// Decodes a WebP fully (so truncation or corruption is caught) and returns its size.
pub fn check_webp(bytes: &[u8]) -> Result<(u32, u32), String> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), image::ImageFormat::WebP);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_ENTRY_BYTES);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| format!("not a WebP: {e}"))?;
    Ok((img.width(), img.height()))
}

/// Decodes a PNG fully (so truncation or corruption is caught) and returns its size.
///
/// Row by row, into one row's buffer: a whole frame would take the worker's memory up by
/// the image's raw size (36 MiB for the largest upscale, 3072×4096 RGB) only to be dropped.
pub fn check_png(bytes: &[u8]) -> Result<(u32, u32), String> {
    let decoder = png::Decoder::new(Cursor::new(bytes));
    let mut reader = decoder.read_info().map_err(|e| format!("not a PNG: {e}"))?;
    let (width, height) = (reader.info().width, reader.info().height);
    let mut rows: u64 = 0;
    while reader
        .next_row()
        .map_err(|e| format!("corrupt PNG: {e}"))?
        .is_some()
    {
        rows += 1;
    }
    if rows < u64::from(height) {
        return Err(format!("corrupt PNG: {rows} of {height} rows"));
    }
    Ok((width, height))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn zip_of(entries: &[(&str, Vec<u8>)]) -> Bytes {
        zip_with(entries, zip::CompressionMethod::Deflated)
    }

    fn zip_with(entries: &[(&str, Vec<u8>)], method: zip::CompressionMethod) -> Bytes {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        for (name, bytes) in entries {
            let options = zip::write::SimpleFileOptions::default().compression_method(method);
            zip.start_file(*name, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        out.into_inner().into()
    }

    fn encoded(w: u32, h: u32, format: image::ImageFormat) -> Vec<u8> {
        let img = image::RgbaImage::from_pixel(w, h, image::Rgba([10, 20, 30, 255]));
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    #[test]
    fn png_and_webp_entries_are_read_in_sample_order_with_their_format() {
        let zip = zip_of(&[
            ("image_10.webp", encoded(64, 128, image::ImageFormat::WebP)),
            ("image_9.png", encoded(64, 64, image::ImageFormat::Png)),
            ("notes.txt", b"ignored".to_vec()),
        ]);
        let images = decode_images(&zip).unwrap();
        let got: Vec<(ImageFormat, u32, u32)> = images
            .iter()
            .map(|i| (i.format, i.width, i.height))
            .collect();
        assert_eq!(
            got,
            [(ImageFormat::Png, 64, 64), (ImageFormat::Webp, 64, 128)]
        );
    }

    #[test]
    fn a_broken_webp_or_an_empty_archive_is_a_bad_response() {
        let mut webp = encoded(64, 64, image::ImageFormat::WebP);
        webp.truncate(webp.len() / 2);
        let err = decode_images(&zip_of(&[("image_0.webp", webp)])).unwrap_err();
        assert!(matches!(err, UpstreamError::BadResponse(m) if m.contains("image_0.webp")));
        let err = decode_images(&zip_of(&[("readme.md", b"x".to_vec())])).unwrap_err();
        assert!(matches!(err, UpstreamError::BadResponse(m) if m.contains("no PNG or WebP")));
    }

    #[test]
    fn a_stored_entry_is_a_view_of_the_body_checked_against_its_crc() {
        let png = noisy_png(64, 48);
        let zip = zip_with(
            &[("image_0.png", png.clone()), ("image_1.png", png.clone())],
            zip::CompressionMethod::Stored,
        );
        let images = decode_images(&zip).unwrap();
        assert_eq!(images.len(), 2);
        let body = zip.as_ptr_range();
        for image in &images {
            assert_eq!(image.bytes, png);
            // Not a copy: the image's bytes lie inside the body's buffer.
            assert!(body.contains(&image.bytes.as_ptr()));
        }
        // One byte of the second entry's pixels changed: its CRC no longer matches.
        let mut bent = zip.to_vec();
        let at = bent.len() / 2 + png.len() / 2;
        bent[at] ^= 0x01;
        let err = decode_images(&bent.into()).unwrap_err();
        assert!(
            matches!(&err, UpstreamError::BadResponse(m) if m.contains("CRC")),
            "{err}"
        );
    }

    /// A PNG of random pixels (deflate cannot shrink it, so a cut lands in its pixels).
    fn noisy_png(w: u32, h: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut state = 0x9E37_79B9_7F4A_7C15_u64;
        let data: Vec<u8> = (0..w * h * 3)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        let mut writer = enc.write_header().unwrap();
        writer.write_image_data(&data).unwrap();
        writer.finish().unwrap();
        out
    }

    #[test]
    fn a_png_is_read_to_its_last_row_and_a_cut_or_flipped_one_is_refused() {
        let png = noisy_png(96, 80);
        assert_eq!(check_png(&png), Ok((96, 80)));
        for cut in [png.len() / 3, png.len() * 2 / 3, png.len() - 20] {
            let err = check_png(&png[..cut]).unwrap_err();
            assert!(err.contains("corrupt PNG"), "cut at {cut}: {err}");
        }
        let mut flipped = png.clone();
        let middle = flipped.len() / 2;
        flipped[middle] ^= 0xFF;
        assert!(check_png(&flipped).is_err());
    }
}

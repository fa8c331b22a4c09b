//! Reading the zip NovelAI answers with (`image_0.png`, `image_1.png`, …).

use std::io::{Cursor, Read};

use crate::ports::{GeneratedImage, UpstreamError};

/// Largest uncompressed entry accepted (a 1920×1088 RGBA PNG is well under this).
const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;

/// Decodes and checks every image of a result zip, in sample order.
pub fn decode_images(zip_bytes: &[u8]) -> Result<Vec<GeneratedImage>, UpstreamError> {
    let bad = |m: String| UpstreamError::BadResponse(m);
    let mut archive = zip::ZipArchive::new(Cursor::new(zip_bytes))
        .map_err(|e| bad(format!("not a zip archive: {e}")))?;
    let mut names: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .map(|n| n.to_string())
        .collect();
    // image_10.png sorts after image_9.png.
    names.sort_by_key(|n| {
        n.trim_start_matches("image_")
            .trim_end_matches(".png")
            .parse::<u32>()
            .unwrap_or(u32::MAX)
    });
    let mut images = Vec::new();
    for name in names.iter().filter(|n| n.ends_with(".png")) {
        let mut entry = archive
            .by_name(name)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        if entry.size() > MAX_ENTRY_BYTES {
            return Err(bad(format!("{name} is too large")));
        }
        let mut png = Vec::with_capacity(entry.size() as usize);
        entry
            .by_ref()
            .take(MAX_ENTRY_BYTES)
            .read_to_end(&mut png)
            .map_err(|e| bad(format!("{name}: {e}")))?;
        let (width, height) = check_png(&png).map_err(|e| bad(format!("{name}: {e}")))?;
        images.push(GeneratedImage { png, width, height });
    }
    if images.is_empty() {
        return Err(bad("the archive holds no PNG image".into()));
    }
    Ok(images)
}

/// Decodes a PNG fully (so truncation or corruption is caught) and returns its size.
pub fn check_png(bytes: &[u8]) -> Result<(u32, u32), String> {
    let decoder = png::Decoder::new(Cursor::new(bytes));
    let mut reader = decoder.read_info().map_err(|e| format!("not a PNG: {e}"))?;
    let size = reader
        .output_buffer_size()
        .ok_or_else(|| "PNG too large".to_string())?;
    let mut buf = vec![0; size];
    let info = reader
        .next_frame(&mut buf)
        .map_err(|e| format!("corrupt PNG: {e}"))?;
    Ok((info.width, info.height))
}

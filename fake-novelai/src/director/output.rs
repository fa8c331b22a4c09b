//! The images the tools answer with: plain PNGs at a size, with a text chunk or two, in a
//! zip whose entries are stored (not deflated), as NovelAI sends augment answers.

use std::io::Write;

/// What a tool's picture is filled with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// One colour: a tiny PNG, which keeps tests fast.
    Flat,
    /// Random pixels drawn from the seed: a PNG deflate cannot shrink, the largest answer an
    /// image of that size can be (what a client's memory must be sized for).
    Noise,
}

/// An RGB (or, with `alpha`, RGBA) PNG filled from `seed` as `fill` says, with tEXt chunks.
pub fn png(
    width: u32,
    height: u32,
    alpha: bool,
    seed: u64,
    fill: Fill,
    text: &[(&str, String)],
) -> Result<Vec<u8>, String> {
    let channels: usize = if alpha { 4 } else { 3 };
    let colour = [
        (seed.wrapping_mul(37) % 200) as u8 + 30,
        (seed.wrapping_mul(91) % 200) as u8 + 30,
        (seed.wrapping_mul(53) % 200) as u8 + 30,
        200,
    ];
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(if alpha {
            png::ColorType::Rgba
        } else {
            png::ColorType::Rgb
        });
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        for (keyword, value) in text {
            // tEXt holds Latin-1 only: a prompt in another script goes in an iTXt chunk
            // (UTF-8) rather than failing the request.
            if value.chars().all(|c| u32::from(c) <= 0xFF) {
                enc.add_text_chunk((*keyword).to_string(), value.clone())
            } else {
                enc.add_itxt_chunk((*keyword).to_string(), value.clone())
            }
            .map_err(|e| e.to_string())?;
        }
        let mut writer = enc.write_header().map_err(|e| e.to_string())?;
        let data: Vec<u8> = match fill {
            Fill::Flat => {
                let row: Vec<u8> = (0..width as usize)
                    .flat_map(|_| colour[..channels].iter().copied())
                    .collect();
                (0..height).flat_map(|_| row.iter().copied()).collect()
            }
            Fill::Noise => noise(width as usize * height as usize * channels, seed),
        };
        writer.write_image_data(&data).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// `len` bytes of xorshift64* noise from `seed` (never the all-zero state).
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// A zip of stored entries `image_0.png`, `image_1.png`, ….
pub fn stored_zip(images: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (i, bytes) in images.iter().enumerate() {
        zip.start_file(format!("image_{i}.png"), options)
            .map_err(|e| e.to_string())?;
        zip.write_all(bytes).map_err(|e| e.to_string())?;
    }
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

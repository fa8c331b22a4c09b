//! The PNGs of a generation: RGBA at the requested size, with NovelAI's text metadata (see
//! [`super::metadata`]).
//!
//! Text that Latin-1 can hold goes in `tEXt` chunks, as NovelAI writes it; other text (a
//! Chinese prompt, an emoji) goes in an `iTXt` chunk, UTF-8, as PNG requires, so any
//! prompt is stored whole and never fails the generation.

use std::time::Duration;

use super::metadata;
use super::pixels::pixels;
use super::validate::Generation;

fn latin1(text: &str) -> bool {
    text.chars().all(|c| u32::from(c) <= 0xFF)
}

fn add_text(
    enc: &mut png::Encoder<'_, &mut Vec<u8>>,
    keyword: &str,
    text: String,
) -> Result<(), png::EncodingError> {
    if latin1(&text) {
        enc.add_text_chunk(keyword.into(), text)
    } else {
        enc.add_itxt_chunk(keyword.into(), text)
    }
}

/// Sample `sample`'s PNG; its colours depend on its seed.
pub fn png_of(
    g: &Generation,
    sample: u32,
    generation_time: Duration,
) -> Result<Vec<u8>, png::EncodingError> {
    let seed = g.seed + u64::from(sample);
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, g.width, g.height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        for (keyword, text) in metadata::fields(g, sample, generation_time) {
            add_text(&mut enc, keyword, text)?;
        }
        let mut writer = enc.write_header()?;
        writer.write_image_data(&pixels(g.width, g.height, seed))?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_is_told_apart() {
        assert!(latin1("1girl, café, ÿ"));
        assert!(!latin1("一只猫"));
        assert!(!latin1("cat 🐱"));
        assert!(!latin1("€"));
    }
}

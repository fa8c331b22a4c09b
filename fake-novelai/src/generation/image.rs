//! The PNGs of a generation: RGBA at the requested size, with NovelAI's text metadata —
//! `Title` "AI generated image", `Description` (the prompt), `Software` "NovelAI",
//! `Source` (the model's name), `Generation time`, and `Comment` (JSON of the settings
//! used, with the sample's seed and the request type).
//!
//! Text that Latin-1 can hold goes in `tEXt` chunks, as NovelAI writes it; other text (a
//! Chinese prompt, an emoji) goes in an `iTXt` chunk, UTF-8, as PNG requires.

use std::time::Duration;

use serde_json::{Value, json};

use super::validate::Generation;

/// Parameters that hold images or vibe data: left out of the `Comment` metadata.
const BULKY: &[&str] = &[
    "image",
    "mask",
    "reference_image_multiple",
    "director_reference_images",
];

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

/// The `Comment` JSON of one sample: what was run, with the sample's own seed.
pub fn comment(g: &Generation, sample: u32) -> Value {
    let mut comment = g.parameters.clone();
    if let Some(c) = comment.as_object_mut() {
        for field in BULKY {
            c.remove(*field);
        }
        c.insert("prompt".into(), json!(g.prompt));
        c.insert("uc".into(), json!(g.negative_prompt));
        c.insert("seed".into(), json!(g.seed + u64::from(sample)));
        c.insert("sampler".into(), json!(g.sampler));
        c.insert("request_type".into(), json!(g.action.request_type()));
    }
    comment
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
        add_text(&mut enc, "Title", "AI generated image".into())?;
        add_text(&mut enc, "Description", g.prompt.clone())?;
        add_text(&mut enc, "Software", "NovelAI".into())?;
        add_text(
            &mut enc,
            "Source",
            format!("{} (fake {})", g.model.family.label(), g.model.id),
        )?;
        add_text(
            &mut enc,
            "Generation time",
            format!("{:.2}s", generation_time.as_secs_f64()),
        )?;
        add_text(&mut enc, "Comment", comment(g, sample).to_string())?;
        let mut writer = enc.write_header()?;
        writer.write_image_data(&pixels(g.width, g.height, seed))?;
    }
    Ok(out)
}

/// A gradient tinted by the seed, opaque.
fn pixels(width: u32, height: u32, seed: u64) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let tint = [
        (seed % 200) as u8,
        (seed / 7 % 200) as u8,
        (seed / 49 % 200) as u8,
    ];
    let mut data = vec![0u8; w * h * 4];
    for (y, row) in data.chunks_exact_mut(w * 4).enumerate() {
        let shade = (y * 255 / h) as u8;
        for (x, p) in row.chunks_exact_mut(4).enumerate() {
            p[0] = tint[0].wrapping_add(shade / 2);
            p[1] = tint[1].wrapping_add((x * 255 / w) as u8 / 2);
            p[2] = tint[2];
            p[3] = 255;
        }
    }
    data
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

    #[test]
    fn pixels_are_opaque_and_depend_on_the_seed() {
        let a = pixels(64, 64, 1);
        assert_eq!(a.len(), 64 * 64 * 4);
        assert!(a.chunks_exact(4).all(|p| p[3] == 255));
        assert_ne!(a, pixels(64, 64, 2));
    }
}

//! Small real images for tests.

/// A small valid PNG (solid grey) of the given size.
pub fn png_of(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().expect("png header");
        w.write_image_data(&vec![128u8; (width * height) as usize])
            .expect("png data");
    }
    out
}

/// A PNG whose header claims `width`x`height` (8-bit RGBA, or 16-bit with `deep`) but whose
/// pixel data stops at once: it cannot be decoded, so only a check of its header can tell
/// its size. A few dozen bytes, whatever it claims.
pub fn png_claiming(width: u32, height: u32, deep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(if deep {
            png::BitDepth::Sixteen
        } else {
            png::BitDepth::Eight
        });
        let mut w = enc.write_header().expect("png header");
        // An empty zlib stream: far less data than the header promises.
        w.write_chunk(
            png::chunk::IDAT,
            &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
        )
        .expect("png chunk");
    }
    out
}

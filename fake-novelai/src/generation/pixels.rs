//! The fake's pictures: a gradient tinted by the sample's seed, opaque RGBA, so that every
//! sample differs and none is mistaken for a real one.

/// RGBA rows of a `width`×`height` picture for this seed.
pub fn pixels(width: u32, height: u32, seed: u64) -> Vec<u8> {
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
    fn pixels_are_opaque_and_depend_on_the_seed() {
        let a = pixels(64, 64, 1);
        assert_eq!(a.len(), 64 * 64 * 4);
        assert!(a.chunks_exact(4).all(|p| p[3] == 255));
        assert_ne!(a, pixels(64, 64, 2));
    }
}

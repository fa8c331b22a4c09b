//! Sizes NovelAI takes: the resolution presets, the largest area, how many samples fit,
//! and the 5×5 grid V4 characters are placed on.

/// The coordinates of the 5×5 position grid's columns and rows.
const GRID: [f64; 5] = [0.1, 0.3, 0.5, 0.7, 0.9];

/// The centre of a character position cell: column letter A–E → x, row digit 1–5 → y
/// (`C3` = (0.5, 0.5)). Case-sensitive: callers normalise to upper case.
pub fn grid_center(cell: &str) -> Option<(f64, f64)> {
    let &[column, row] = cell.as_bytes() else {
        return None;
    };
    let x = GRID.get(usize::from(column.checked_sub(b'A')?))?;
    let y = GRID.get(usize::from(row.checked_sub(b'1')?))?;
    Some((*x, *y))
}

/// Resolution presets: (name, width, height). `portrait`, `landscape` and `square` are the
/// normal sizes; sized variants are `<size>_<orientation>` (and `<orientation>_<size>`).
pub const RESOLUTIONS: &[(&str, u32, u32)] = &[
    ("small_portrait", 512, 768),
    ("small_landscape", 768, 512),
    ("small_square", 640, 640),
    ("normal_portrait", 832, 1216),
    ("normal_landscape", 1216, 832),
    ("normal_square", 1024, 1024),
    ("large_portrait", 1024, 1536),
    ("large_landscape", 1536, 1024),
    ("large_square", 1472, 1472),
    ("wallpaper_portrait", 1088, 1920),
    ("wallpaper_landscape", 1920, 1088),
];

/// Looks up a resolution preset by any of its accepted names.
pub fn resolve_resolution(name: &str) -> Option<(u32, u32)> {
    let name = name.trim().to_ascii_lowercase().replace('-', "_");
    let canonical = match name.as_str() {
        "portrait" | "landscape" | "square" => format!("normal_{name}"),
        other => match other.split_once('_') {
            Some((a, b)) if ["portrait", "landscape", "square"].contains(&a) => format!("{b}_{a}"),
            _ => other.to_string(),
        },
    };
    RESOLUTIONS
        .iter()
        .find(|(n, _, _)| *n == canonical)
        .map(|&(_, w, h)| (w, h))
}

/// Largest image area NovelAI generates (1024×3072).
pub const MAX_AREA: u64 = 3_145_728;

/// Longest side naiq asks NovelAI for (a `width` or `height` in a request, or an input
/// image's side on the grid), and the grid it is a multiple of.
pub const MAX_SIDE: u32 = 4096;
pub const SIDE_STEP: u32 = 64;

/// The most samples one request may ask for at this size.
pub fn max_samples(width: u32, height: u32) -> u32 {
    match u64::from(width) * u64::from(height) {
        a if a <= 360_448 => 8,
        a if a <= 409_600 => 6,
        a if a <= 1_310_720 => 4,
        a if a <= 1_572_864 => 2,
        _ => 1,
    }
}

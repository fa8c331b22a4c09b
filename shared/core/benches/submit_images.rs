//! Peak memory and time of `parse_submit` on the image bodies that cost the most: the
//! largest image and mask the API accepts, and an 8192x8192 single-colour PNG (small on the
//! wire, huge decoded) that it must refuse before decoding. Run with
//! `cargo bench -p naiq-core --bench submit_images` (release profile).
//!
//! Each case runs in a fresh child process (this same binary, with `NAIQ_BENCH_CASE` set)
//! so that its peak resident set (`VmHWM` of `/proc/self/status`, Linux only) is its own.
//! The bodies are written to files first; the child reads one, notes its peak so far, then
//! parses it once.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use base64::Engine as _;
use naiq_core::config::Settings;
use naiq_core::domain::request::{Limits, parse_submit};

const CASE_VAR: &str = "NAIQ_BENCH_CASE";

struct Case {
    name: &'static str,
    /// The body, as a client would send it.
    body: fn() -> Vec<u8>,
    /// Whether the API must accept it.
    accepted: bool,
}

const CASES: &[Case] = &[
    Case {
        name: "largest-image-and-mask",
        body: largest_image_and_mask,
        accepted: true,
    },
    Case {
        name: "8192x8192-single-colour",
        body: single_colour_8192,
        accepted: false,
    },
];

/// The image limits the API runs with under the default settings.
fn limits() -> Limits {
    Limits::for_body(Settings::default().max_body_bytes)
}

fn png_b64(img: image::RgbaImage) -> String {
    let mut out = Vec::new();
    image::DynamicImage::ImageRgba8(img)
        .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
        .expect("PNG encodes");
    base64::engine::general_purpose::STANDARD.encode(out)
}

/// A 4096x4096 RGBA picture and a mask of the same size (the most pixels an input may
/// have), compressible enough to fit the body limit.
fn largest_image_and_mask() -> Vec<u8> {
    let side = 4096;
    let image = image::RgbaImage::from_fn(side, side, |x, y| {
        image::Rgba([
            (x % 256) as u8,
            (y % 256) as u8,
            ((x / 16) % 256) as u8,
            255,
        ])
    });
    let mask = image::RgbaImage::from_fn(side, side, |x, y| {
        let inside = (1024..3072).contains(&x) && (1024..3072).contains(&y);
        image::Rgba(if inside { [255; 4] } else { [0, 0, 0, 255] })
    });
    serde_json::json!({
        "prompt": "1girl, cat ears",
        "model": "nai-v4.5",
        "image": png_b64(image),
        "mask": png_b64(mask),
    })
    .to_string()
    .into_bytes()
}

/// One colour over 8192x8192 pixels: a few hundred kilobytes that decode to 256 MiB.
fn single_colour_8192() -> Vec<u8> {
    let image = image::RgbaImage::from_pixel(8192, 8192, image::Rgba([200, 120, 40, 255]));
    serde_json::json!({"prompt": "1girl", "image": png_b64(image)})
        .to_string()
        .into_bytes()
}

/// The peak resident set of this process so far, in MiB.
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status");
    kib / 1024.0
}

/// In the child: parse one body and print `peak_before peak_after millis outcome`.
fn run_case(path: &Path) {
    let body = std::fs::read(path).expect("body file");
    let before = peak_rss_mib();
    let start = Instant::now();
    let result = parse_submit(black_box(&body), &limits());
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let after = peak_rss_mib();
    let outcome = match &result {
        Ok(r) => format!("accepted {}x{}", r.params.width, r.params.height),
        Err(e) => format!(
            "refused {} {}: {}",
            e.code,
            e.field.as_deref().unwrap_or("-"),
            e.message
        ),
    };
    black_box(result.ok());
    println!("{before:.1} {after:.1} {ms:.1} {outcome}");
}

fn main() {
    if let Ok(path) = std::env::var(CASE_VAR) {
        run_case(Path::new(&path));
        return;
    }
    let dir = std::env::temp_dir().join(format!("naiq-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let me = std::env::current_exe().expect("own path");
    for case in CASES {
        let path: PathBuf = dir.join(format!("{}.json", case.name));
        let body = (case.body)();
        std::fs::write(&path, &body).expect("body written");
        let out = Command::new(&me)
            .env(CASE_VAR, &path)
            .output()
            .expect("child runs");
        assert!(out.status.success(), "{}: child failed: {out:?}", case.name);
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let mut parts = line.splitn(4, ' ');
        let (before, after, ms, outcome) = (
            parts.next().unwrap_or("?"),
            parts.next().unwrap_or("?"),
            parts.next().unwrap_or("?"),
            parts.next().unwrap_or("?"),
        );
        println!(
            "{}: body {:.2} MB; parse_submit {ms} ms, peak RSS {after} MiB \
             ({before} MiB before parsing); {outcome}",
            case.name,
            body.len() as f64 / 1e6,
        );
        let accepted = outcome.starts_with("accepted");
        if accepted != case.accepted {
            println!(
                "  !! expected it to be {}",
                if case.accepted { "accepted" } else { "refused" }
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

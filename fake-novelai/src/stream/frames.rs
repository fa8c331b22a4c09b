//! The stream's events on the wire: MessagePack frames (`[u32 big-endian length][map]`,
//! images as bin) or server-sent events (`event: <type>\ndata: <json>\n\n`, images as
//! base64), and the small JPEG previews of the steps.

use base64::Engine as _;
use serde_json::json;

/// The two forms `parameters.stream` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    Msgpack,
    Sse,
}

impl Form {
    pub fn content_type(self) -> &'static str {
        match self {
            Form::Msgpack => "application/msgpack",
            Form::Sse => "text/event-stream",
        }
    }
}

/// One event of the stream.
pub enum Event<'a> {
    Intermediate {
        sample: u32,
        step: u32,
        gen_id: u64,
        sigma: f64,
        jpeg: &'a [u8],
    },
    Final {
        sample: u32,
        gen_id: u64,
        image: &'a [u8],
    },
    Error {
        message: &'a str,
    },
}

/// Writes into a `Vec`, which cannot fail.
fn ok<T, E: std::fmt::Debug>(r: Result<T, E>) {
    r.expect("writing to a Vec cannot fail");
}

fn msgpack(event: &Event<'_>) -> Vec<u8> {
    use rmp::encode::{write_bin, write_f64, write_map_len, write_str, write_uint};
    let mut map = Vec::new();
    let w = &mut map;
    match event {
        Event::Intermediate {
            sample,
            step,
            gen_id,
            sigma,
            jpeg,
        } => {
            ok(write_map_len(w, 6));
            ok(write_str(w, "event_type"));
            ok(write_str(w, "intermediate"));
            ok(write_str(w, "samp_ix"));
            ok(write_uint(w, (*sample).into()));
            ok(write_str(w, "step_ix"));
            ok(write_uint(w, (*step).into()));
            ok(write_str(w, "gen_id"));
            ok(write_uint(w, *gen_id));
            ok(write_str(w, "sigma"));
            ok(write_f64(w, *sigma));
            ok(write_str(w, "image"));
            ok(write_bin(w, jpeg));
        }
        Event::Final {
            sample,
            gen_id,
            image,
        } => {
            ok(write_map_len(w, 4));
            ok(write_str(w, "event_type"));
            ok(write_str(w, "final"));
            ok(write_str(w, "samp_ix"));
            ok(write_uint(w, (*sample).into()));
            ok(write_str(w, "gen_id"));
            ok(write_uint(w, *gen_id));
            ok(write_str(w, "image"));
            ok(write_bin(w, image));
        }
        Event::Error { message } => {
            ok(write_map_len(w, 2));
            ok(write_str(w, "event_type"));
            ok(write_str(w, "error"));
            ok(write_str(w, "message"));
            ok(write_str(w, message));
        }
    }
    let len = u32::try_from(map.len()).expect("a frame under 4 GiB");
    let mut frame = len.to_be_bytes().to_vec();
    frame.extend(map);
    frame
}

fn sse(event: &Event<'_>) -> Vec<u8> {
    let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
    let (kind, data) = match event {
        Event::Intermediate {
            sample,
            step,
            gen_id,
            sigma,
            jpeg,
        } => (
            "intermediate",
            json!({"event_type": "intermediate", "samp_ix": sample, "step_ix": step,
                   "gen_id": gen_id, "sigma": sigma, "image": b64(jpeg)}),
        ),
        Event::Final {
            sample,
            gen_id,
            image,
        } => (
            "final",
            json!({"event_type": "final", "samp_ix": sample, "gen_id": gen_id,
                   "image": b64(image)}),
        ),
        Event::Error { message } => ("error", json!({"event_type": "error", "message": message})),
    };
    format!("event: {kind}\ndata: {data}\n\n").into_bytes()
}

/// The bytes of one event in `form`.
pub fn encode(form: Form, event: &Event<'_>) -> Vec<u8> {
    match form {
        Form::Msgpack => msgpack(event),
        Form::Sse => sse(event),
    }
}

/// The sigma NovelAI reports at a step: 20000 first, then falling (113.9, 81.9, …).
pub fn sigma(step: u32, steps: u32) -> f64 {
    if step == 0 {
        return 20_000.0;
    }
    let left = f64::from(steps.saturating_sub(step)) / f64::from(steps.max(1));
    (120.0 * left * left).max(0.03)
}

/// A step's preview: a small JPEG (an eighth of the image's size, at least 8×8) whose
/// shade moves from noise-grey towards the sample's colour as the steps go.
pub fn preview_jpeg(width: u32, height: u32, seed: u64, step: u32, steps: u32) -> Vec<u8> {
    let (w, h) = ((width / 8).max(8), (height / 8).max(8));
    let done = f64::from(step + 1) / f64::from(steps.max(1));
    let target = [
        (seed % 251) as f64,
        (seed / 7 % 251) as f64,
        (seed / 13 % 251) as f64,
    ];
    let shade = |t: f64| (128.0 + (t - 128.0) * done).clamp(0.0, 255.0) as u8;
    let pixel = image::Rgb([shade(target[0]), shade(target[1]), shade(target[2])]);
    let img = image::RgbImage::from_pixel(w, h, pixel);
    let mut out = Vec::new();
    let mut encoder =
        image::codecs::jpeg::JpegEncoder::new_with_quality(std::io::Cursor::new(&mut out), 60);
    encoder
        .encode_image(&img)
        .expect("an RGB image of this size encodes");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_msgpack_frame_is_its_length_then_the_map() {
        let frame = encode(Form::Msgpack, &Event::Error { message: "失敗" });
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        assert_eq!(frame[4], 0x82, "a map of two");
    }

    #[test]
    fn an_sse_event_names_its_type_and_carries_json() {
        let text = String::from_utf8(encode(
            Form::Sse,
            &Event::Final {
                sample: 1,
                gen_id: 9,
                image: b"img",
            },
        ))
        .unwrap();
        assert!(text.starts_with("event: final\ndata: {"), "{text}");
        assert!(text.ends_with("}\n\n"), "{text}");
        assert!(text.contains("\"image\":\"aW1n\""), "{text}");
    }

    #[test]
    fn previews_are_small_jpegs_and_sigmas_fall() {
        let jpeg = preview_jpeg(832, 1216, 42, 3, 23);
        assert_eq!(&jpeg[..3], &[0xff, 0xd8, 0xff]);
        assert!(jpeg.len() < 20_000, "{}", jpeg.len());
        assert_eq!(sigma(0, 23), 20_000.0);
        assert!(sigma(1, 23) > sigma(2, 23) && sigma(21, 23) > 0.0);
    }
}

//! A generation through `POST /ai/generate-image-stream`: which jobs go through it, the
//! body it takes, and the answer its events add up to.
//!
//! The website streams V4, V4.5 and V5 text-to-image generations (never V3), and the
//! stream has only been seen answering text-to-image; image-to-image and inpainting keep
//! the plain route until a capture shows the stream serving them (a refused stream would
//! fail every such job).
//!
//! A stream that breaks off (cut inside a frame, a frame that does not parse, an `error`
//! event, a sample without its final image) is [`UpstreamError::Stream`], retried like a
//! network failure. NovelAI charges when the generation starts, so a retry after a stream
//! that broke off late may pay a second time: the same trade the worker already makes
//! for a timed-out or reset call. A final image that is not a whole PNG or WebP is
//! [`UpstreamError::BadResponse`], never retried, as for the zip answer.

use super::archive::{check_png, check_webp};
use super::request::ImageRequest;
use super::stream::{FrameDecoder, StreamEvent};
use crate::domain::models::Family;
use crate::domain::request::{GenerationParams, ImageFormat};
use crate::ports::{GeneratedImage, Preview, UpstreamError};

/// The stream route, on the image host.
pub const STREAM_PATH: &str = "/ai/generate-image-stream";

/// Whether a job generates through the stream (see the module's doc).
pub fn streams(params: &GenerationParams) -> bool {
    matches!(params.family, Family::V4 | Family::V45 | Family::V5)
        && params.img2img.is_none()
        && !params.inpaint
}

/// The stream route's body: the generation's own, plus `parameters.stream: "msgpack"`
/// (the form the website asks for; [`super::stream`] reads it).
pub fn stream_body(request: &ImageRequest) -> serde_json::Value {
    let mut body = request.to_json();
    if let Some(parameters) = body
        .get_mut("parameters")
        .and_then(serde_json::Value::as_object_mut)
    {
        parameters.insert("stream".into(), "msgpack".into());
    }
    body
}

/// Adds up one stream's events: hands back each step's preview, keeps each sample's final
/// image, and says at the end whether every sample got one.
pub struct StreamAnswer {
    decoder: FrameDecoder,
    steps: u32,
    format: ImageFormat,
    finals: Vec<Option<GeneratedImage>>,
}

impl StreamAnswer {
    pub fn new(request: &ImageRequest) -> Self {
        let format = match request.parameters.image_format {
            "webp" => ImageFormat::Webp,
            _ => ImageFormat::Png,
        };
        Self {
            decoder: FrameDecoder::new(),
            steps: request.parameters.steps,
            format,
            finals: vec![None; request.parameters.n_samples.max(1) as usize],
        }
    }

    /// Takes the next chunk of the body; returns the previews it completes, in order.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Preview>, UpstreamError> {
        let events = self
            .decoder
            .feed(chunk)
            .map_err(|e| UpstreamError::Stream(e.to_string()))?;
        let mut previews = Vec::new();
        for event in events {
            match event {
                StreamEvent::Intermediate { sample, step, jpeg } => previews.push(Preview {
                    sample,
                    step: step.saturating_add(1).min(self.steps),
                    steps: self.steps,
                    jpeg,
                }),
                StreamEvent::Final { sample, image } => self.keep_final(sample, image)?,
                StreamEvent::Error { message } => {
                    return Err(UpstreamError::Stream(format!(
                        "NovelAI sent an error event: {}",
                        super::scrub(&message.chars().take(500).collect::<String>())
                    )));
                }
            }
        }
        Ok(previews)
    }

    fn keep_final(&mut self, sample: u32, bytes: Vec<u8>) -> Result<(), UpstreamError> {
        let count = self.finals.len();
        let slot = self.finals.get_mut(sample as usize).ok_or_else(|| {
            UpstreamError::Stream(format!("a final image for sample {sample} of {count}"))
        })?;
        let checked = match self.format {
            ImageFormat::Png => check_png(&bytes),
            ImageFormat::Webp => check_webp(&bytes),
        };
        let (width, height) = checked
            .map_err(|e| UpstreamError::BadResponse(format!("final image {sample}: {e}")))?;
        *slot = Some(GeneratedImage {
            bytes: bytes.into(),
            format: self.format,
            width,
            height,
        });
        Ok(())
    }

    /// The images, once the body has ended: every sample's, in order.
    pub fn finish(self) -> Result<Vec<GeneratedImage>, UpstreamError> {
        self.decoder
            .finish()
            .map_err(|e| UpstreamError::Stream(e.to_string()))?;
        let count = self.finals.len();
        self.finals
            .into_iter()
            .enumerate()
            .map(|(i, image)| {
                image.ok_or_else(|| {
                    UpstreamError::Stream(format!(
                        "the stream ended without the final image of sample {i} of {count}"
                    ))
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut enc = png::Encoder::new(&mut out, width, height);
        enc.set_color(png::ColorType::Rgb);
        let mut writer = enc.write_header().unwrap();
        writer
            .write_image_data(&vec![7; (width * height * 3) as usize])
            .unwrap();
        drop(writer);
        out
    }

    fn frame(event: &str, sample: u32, step: Option<u32>, image: &[u8]) -> Vec<u8> {
        let mut map = Vec::new();
        rmp::encode::write_map_len(&mut map, if step.is_some() { 4 } else { 3 }).unwrap();
        rmp::encode::write_str(&mut map, "event_type").unwrap();
        rmp::encode::write_str(&mut map, event).unwrap();
        rmp::encode::write_str(&mut map, "samp_ix").unwrap();
        rmp::encode::write_uint(&mut map, sample.into()).unwrap();
        if let Some(step) = step {
            rmp::encode::write_str(&mut map, "step_ix").unwrap();
            rmp::encode::write_uint(&mut map, step.into()).unwrap();
        }
        rmp::encode::write_str(&mut map, "image").unwrap();
        rmp::encode::write_bin(&mut map, image).unwrap();
        let mut out = (map.len() as u32).to_be_bytes().to_vec();
        out.extend(map);
        out
    }

    fn params() -> GenerationParams {
        let body = r#"{"prompt": "猫, 1girl", "model": "nai-diffusion-4-5-full"}"#;
        crate::domain::request::parse_submit(
            body.as_bytes(),
            &crate::domain::request::Limits::default(),
        )
        .unwrap()
        .params
    }

    fn request(steps: u32, n_samples: u32) -> ImageRequest {
        let params = GenerationParams {
            steps,
            n_samples,
            ..params()
        };
        crate::novelai::body::build(&params, None, None)
    }

    #[test]
    fn previews_count_steps_from_one_and_finals_are_checked_images() {
        let req = request(4, 2);
        let mut answer = StreamAnswer::new(&req);
        let mut body = Vec::new();
        for sample in 0..2 {
            for step in 0..3 {
                body.extend(frame("intermediate", sample, Some(step), &[0xff, 0xd8]));
            }
            body.extend(frame("final", sample, None, &png(8 + sample, 4)));
        }
        let previews = answer.feed(&body).unwrap();
        let steps: Vec<_> = previews
            .iter()
            .map(|p| (p.sample, p.step, p.steps))
            .collect();
        assert_eq!(
            steps,
            [
                (0, 1, 4),
                (0, 2, 4),
                (0, 3, 4),
                (1, 1, 4),
                (1, 2, 4),
                (1, 3, 4)
            ]
        );
        let images = answer.finish().unwrap();
        assert_eq!(images.len(), 2);
        assert_eq!((images[1].width, images[1].height), (9, 4));
        assert_eq!(images[0].format, ImageFormat::Png);
    }

    #[test]
    fn a_missing_final_or_a_cut_is_a_retryable_stream_error() {
        let req = request(4, 2);
        let mut answer = StreamAnswer::new(&req);
        answer.feed(&frame("final", 0, None, &png(8, 8))).unwrap();
        let err = answer.finish().unwrap_err();
        assert!(matches!(err, UpstreamError::Stream(_)) && err.is_retryable());

        let mut answer = StreamAnswer::new(&req);
        let whole = frame("final", 0, None, &png(8, 8));
        answer.feed(&whole[..whole.len() - 3]).unwrap();
        assert!(matches!(answer.finish(), Err(UpstreamError::Stream(_))));

        let mut answer = StreamAnswer::new(&req);
        let err = answer
            .feed(&frame("final", 5, None, &png(8, 8)))
            .unwrap_err();
        assert!(matches!(err, UpstreamError::Stream(_)));
    }

    #[test]
    fn an_error_event_is_a_stream_error_and_a_broken_final_is_a_bad_response() {
        let req = request(4, 1);
        let mut map = Vec::new();
        rmp::encode::write_map_len(&mut map, 2).unwrap();
        rmp::encode::write_str(&mut map, "event_type").unwrap();
        rmp::encode::write_str(&mut map, "error").unwrap();
        rmp::encode::write_str(&mut map, "message").unwrap();
        rmp::encode::write_str(&mut map, "generation failed").unwrap();
        let mut body = (map.len() as u32).to_be_bytes().to_vec();
        body.extend(map);
        let err = StreamAnswer::new(&req).feed(&body).unwrap_err();
        assert!(matches!(&err, UpstreamError::Stream(m) if m.contains("generation failed")));
        assert_eq!(err.code(), "upstream_stream_failed");

        let mut truncated = png(8, 8);
        truncated.truncate(truncated.len() - 10);
        let err = StreamAnswer::new(&req)
            .feed(&frame("final", 0, None, &truncated))
            .unwrap_err();
        assert!(matches!(err, UpstreamError::BadResponse(_)));
    }

    #[test]
    fn the_body_asks_for_msgpack_and_only_v4_and_later_txt2img_streams() {
        let req = request(23, 1);
        let body = stream_body(&req);
        assert_eq!(body["parameters"]["stream"], "msgpack");
        assert_eq!(body["parameters"]["steps"], 23);
        let mut params = params();
        for (family, expected) in [
            (Family::V3, false),
            (Family::V4, true),
            (Family::V45, true),
            (Family::V5, true),
        ] {
            params.family = family;
            assert_eq!(streams(&params), expected, "{family:?}");
        }
        params.inpaint = true;
        assert!(!streams(&params));
    }
}

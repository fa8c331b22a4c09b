//! `POST /ai/augment-image` (the Director tools) and `POST /ai/upscale`: the bodies the
//! website sends, built from a job's settings and its stored source image. Both answer
//! with a zip of PNGs (an augment's entries stored, not deflated), read by
//! `novelai::archive`.

use serde::Serialize;

use crate::domain::GenerationParams;
use crate::domain::director::{JobKind, UPSCALE_MODEL};

/// A Director tool request, keys in the website's order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AugmentRequest {
    /// The tool (`lineart`, `sketch`, `colorize`, `emotion`, `declutter`,
    /// `declutter-keep-bubbles`, `bg-removal`).
    pub req_type: &'static str,
    pub use_new_shared_trial: bool,
    /// `colorize`: the prompt; `emotion`: `"<emotion>;;<extra prompt>"`; absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    /// 0–5, `colorize` and `emotion` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub defry: Option<u8>,
    /// The image's own size.
    pub width: u32,
    pub height: u32,
    /// The image, a base64 PNG.
    pub image: String,
}

/// An upscale request (always 2×).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UpscaleRequest {
    /// The image, a base64 PNG.
    pub image: String,
    /// An existing image model, as NovelAI requires; the website sends V5 Curated.
    pub model: &'static str,
    pub declared_blur_sigma: u32,
}

fn note(image: &str) -> String {
    format!("<{} base64 characters>", image.len())
}

impl AugmentRequest {
    /// The request for a Director tool job, or `None` for another kind of job.
    pub fn build(params: &GenerationParams, image_b64: String) -> Option<Self> {
        let JobKind::Augment(a) = params.kind else {
            return None;
        };
        let prompt = if let Some(emotion) = a.emotion {
            Some(format!("{};;{}", emotion.as_str(), params.prompt))
        } else if a.tool.takes_prompt() {
            Some(params.prompt.clone())
        } else {
            None
        };
        Some(Self {
            req_type: a.tool.as_str(),
            use_new_shared_trial: true,
            prompt,
            defry: a.defry,
            width: params.width,
            height: params.height,
            image: image_b64,
        })
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an augment request always serialises")
    }

    /// The request with its image elided, for logs and tests.
    pub fn redacted(&self) -> Self {
        Self {
            image: note(&self.image),
            ..self.clone()
        }
    }
}

impl UpscaleRequest {
    /// The request for an upscale job, or `None` for another kind of job.
    pub fn build(params: &GenerationParams, image_b64: String) -> Option<Self> {
        matches!(params.kind, JobKind::Upscale).then_some(Self {
            image: image_b64,
            model: UPSCALE_MODEL,
            declared_blur_sigma: 0,
        })
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an upscale request always serialises")
    }

    /// The request with its image elided, for logs and tests.
    pub fn redacted(&self) -> Self {
        Self {
            image: note(&self.image),
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::request::{Limits, parse_augment, parse_upscale};

    fn png_b64(w: u32, h: u32) -> String {
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            naiq_testkit::png_of(w, h),
        )
    }

    fn augment(body: serde_json::Value) -> serde_json::Value {
        let r = parse_augment(body.to_string().as_bytes(), &Limits::default()).unwrap();
        AugmentRequest::build(&r.params, "AAAA".into())
            .unwrap()
            .to_json()
    }

    #[test]
    fn bodies_are_the_websites_with_keys_in_its_order() {
        let image = png_b64(832, 1216);
        let b = augment(json!({"tool": "lineart", "image": image}));
        assert_eq!(
            b,
            json!({"req_type": "lineart", "use_new_shared_trial": true, "width": 832,
                   "height": 1216, "image": "AAAA"})
        );
        let r = parse_augment(
            json!({"tool": "lineart", "image": image})
                .to_string()
                .as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        let wire = serde_json::to_string(&AugmentRequest::build(&r.params, "AAAA".into())).unwrap();
        assert_eq!(
            wire,
            r#"{"req_type":"lineart","use_new_shared_trial":true,"width":832,"height":1216,"image":"AAAA"}"#
        );
        let b = augment(
            json!({"tool": "emotion", "image": image, "emotion": "Happy",
            "prompt": "猫耳, smiling", "defry": 3}),
        );
        assert_eq!(b["prompt"], "happy;;猫耳, smiling");
        assert_eq!(b["defry"], 3);
        let b = augment(json!({"tool": "emotion", "image": image, "emotion": "sad"}));
        assert_eq!(
            (b["prompt"].as_str(), b["defry"].as_u64()),
            (Some("sad;;"), Some(0))
        );
        let b = augment(json!({"tool": "colorize", "image": image}));
        assert_eq!(
            (b["prompt"].as_str(), b["defry"].as_u64()),
            (Some(""), Some(0))
        );

        let r = parse_upscale(
            json!({"image": png_b64(64, 96)}).to_string().as_bytes(),
            &Limits::default(),
        )
        .unwrap();
        assert!(AugmentRequest::build(&r.params, "x".into()).is_none());
        let up = UpscaleRequest::build(&r.params, "BBBB".into()).unwrap();
        assert_eq!(
            up.to_json(),
            json!({"image": "BBBB", "model": "nai-diffusion-5-curated", "declared_blur_sigma": 0})
        );
        assert_eq!(up.redacted().image, "<4 base64 characters>");
    }
}

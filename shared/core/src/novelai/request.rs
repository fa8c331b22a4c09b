//! The typed `POST /ai/generate-image` request: what the worker hands the upstream port.
//! Field names are NovelAI's (the website's camelCase where it uses it); `body::build` fills
//! them in per model family.

use serde::{Serialize, Serializer};

/// What NovelAI is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Text to image.
    Generate,
    /// Image to image.
    Img2img,
    /// Inpainting (on the model's inpainting variant).
    Infill,
}

/// One generation request.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageRequest {
    /// The prompt.
    pub input: String,
    /// The model id sent (the inpainting variant for `infill`).
    pub model: String,
    pub action: Action,
    pub parameters: Parameters,
}

/// A number as JavaScript's `JSON.stringify` writes it: integral values without a
/// fraction (`5`, not `5.0`), as in the website's bodies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JsNumber(pub f64);

impl Serialize for JsNumber {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let f = self.0;
        if f.is_finite() && f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
            s.serialize_i64(f as i64)
        } else {
            s.serialize_f64(f)
        }
    }
}

/// `parameters`: the fields every family sends, then the family's own, then the input
/// image's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameters {
    pub width: u32,
    pub height: u32,
    pub scale: JsNumber,
    pub sampler: String,
    pub steps: u32,
    pub n_samples: u32,
    pub seed: u32,
    #[serde(rename = "ucPreset")]
    pub uc_preset: u32,
    #[serde(rename = "qualityToggle")]
    pub quality_toggle: bool,
    pub dynamic_thresholding: bool,
    pub controlnet_strength: u32,
    pub legacy: bool,
    pub cfg_rescale: JsNumber,
    pub noise_schedule: String,
    pub legacy_v3_extend: bool,
    pub negative_prompt: String,
    pub params_version: u32,
    pub add_original_image: bool,
    #[serde(flatten)]
    pub family: FamilyParameters,
    #[serde(flatten)]
    pub image: Option<ImageInput>,
}

/// The fields only one family's bodies carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FamilyParameters {
    V3(V3Parameters),
    V4(Box<V4Parameters>),
}

/// V3 and legacy models (`params_version` 1).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct V3Parameters {
    pub sm: bool,
    pub sm_dyn: bool,
    pub uncond_scale: u32,
    /// The empty vibe lists of the April 2024 schema ("no vibe transfer").
    pub reference_image_multiple: Vec<String>,
    pub reference_information_extracted_multiple: Vec<f64>,
    pub reference_strength_multiple: Vec<f64>,
}

/// V4 and V4.5 (`params_version` 3).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct V4Parameters {
    #[serde(rename = "autoSmea")]
    pub auto_smea: bool,
    /// Always sent, as `null`.
    pub skip_cfg_above_sigma: Option<f64>,
    pub use_coords: bool,
    pub legacy_uc: bool,
    pub normalize_reference_strength_multiple: bool,
    #[serde(rename = "inpaintImg2ImgStrength")]
    pub inpaint_img2img_strength: JsNumber,
    /// Sent with `k_euler_ancestral` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliberate_euler_ancestral_bug: Option<bool>,
    /// Sent with `k_euler_ancestral` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefer_brownian: Option<bool>,
    #[serde(rename = "characterPrompts")]
    pub character_prompts: Vec<CharacterPrompt>,
    pub v4_prompt: V4Prompt,
    pub v4_negative_prompt: V4NegativePrompt,
}

/// A point on the image, 0–1 from the top left.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Center {
    pub x: JsNumber,
    pub y: JsNumber,
}

/// A `characterPrompts` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CharacterPrompt {
    pub prompt: String,
    pub uc: String,
    pub center: Center,
    pub enabled: bool,
}

/// A `char_captions` entry of `v4_prompt` or `v4_negative_prompt`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CharCaption {
    pub char_caption: String,
    pub centers: Vec<Center>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Caption {
    pub base_caption: String,
    pub char_captions: Vec<CharCaption>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct V4Prompt {
    pub caption: Caption,
    pub use_coords: bool,
    pub use_order: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct V4NegativePrompt {
    pub caption: Caption,
    pub legacy_uc: bool,
}

/// The input image of image-to-image and inpainting.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageInput {
    /// The PNG, base64.
    pub image: String,
    pub strength: JsNumber,
    pub noise: JsNumber,
    pub extra_noise_seed: u32,
    /// The inpainting mask, base64 (infill only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
}

impl ImageRequest {
    /// The request as JSON, as it goes on the wire.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).expect("an image request always serialises")
    }

    /// The request with image bytes elided, for logs and dry runs.
    pub fn redacted(&self) -> Self {
        let note = |s: &str| format!("<{} base64 characters>", s.len());
        let mut r = self.clone();
        if let Some(input) = &mut r.parameters.image {
            input.image = note(&input.image);
            if let Some(mask) = &mut input.mask {
                *mask = note(mask);
            }
        }
        r
    }
}

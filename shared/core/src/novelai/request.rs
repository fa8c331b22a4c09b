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
    /// The model id sent (the inpainting model for `infill`).
    pub model: String,
    pub action: Action,
    pub parameters: Parameters,
    /// The website sends it on every request (it lets a trial account's shared images
    /// count; for a subscribed account it changes nothing).
    pub use_new_shared_trial: bool,
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

/// JSON `null`, for the keys the website sends as `null`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Null;

/// `parameters` (`params_version` 4, the website's form for every model since V5): the
/// fields every family sends, then the family's own, then the input image's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Parameters {
    pub params_version: u32,
    pub width: u32,
    pub height: u32,
    pub scale: JsNumber,
    pub sampler: String,
    pub steps: u32,
    pub n_samples: u32,
    /// The undesired-content preset, by name (`heavy`, `light`, … `none`).
    #[serde(rename = "ucPresetId")]
    pub uc_preset_id: &'static str,
    /// The quality-tags preset, by name (`standard`, `light`, `none`).
    #[serde(rename = "qualityPresetId")]
    pub quality_preset_id: &'static str,
    pub dynamic_thresholding: bool,
    pub controlnet_strength: u32,
    pub legacy: bool,
    pub add_original_image: bool,
    /// Absent for V5 Full Medium, which has no CFG rescale.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cfg_rescale: Option<JsNumber>,
    pub noise_schedule: String,
    pub legacy_v3_extend: bool,
    pub seed: u32,
    /// The quality preset as a number (0 none, 1 standard, …).
    pub tag_hint_qt: u32,
    /// The undesired-content preset as a number (0 none, 1 standard, 2 heavy, …).
    pub tag_hint_uc_preset: u32,
    #[serde(rename = "characterPrompts")]
    pub character_prompts: Vec<CharacterPrompt>,
    pub negative_prompt: String,
    /// Sent with `k_euler_ancestral` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliberate_euler_ancestral_bug: Option<bool>,
    /// Sent with `k_euler_ancestral` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefer_brownian: Option<bool>,
    /// `png` or `webp`: the format of the images in the answer.
    pub image_format: &'static str,
    #[serde(flatten)]
    pub family: FamilyParameters,
    #[serde(flatten)]
    pub image: Option<ImageInput>,
    #[serde(flatten)]
    pub vibes: Option<VibeParameters>,
    #[serde(flatten)]
    pub references: Option<ReferenceParameters>,
}

/// Precise Reference: one entry per reference in each list.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferenceParameters {
    /// Base64 PNGs at an allowed size, letter-boxed on black.
    pub director_reference_images: Vec<String>,
    pub director_reference_descriptions: Vec<ReferenceDescription>,
    /// The website sends 1.
    pub director_reference_information_extracted: Vec<JsNumber>,
    pub director_reference_strength_values: Vec<JsNumber>,
    /// `1 - fidelity`.
    pub director_reference_secondary_strength_values: Vec<JsNumber>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferenceDescription {
    pub caption: Caption,
    pub legacy_uc: bool,
}

/// Vibe transfer: V4/V4.5 send each vibe's encoding (the information extracted is baked
/// into it); V3 sends the raw image with its information extracted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VibeParameters {
    /// Base64: encodings (V4/V4.5) or 448x448 PNGs (V3).
    pub reference_image_multiple: Vec<String>,
    pub reference_strength_multiple: Vec<JsNumber>,
    /// V3 only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_information_extracted_multiple: Option<Vec<JsNumber>>,
}

/// The fields only one family's bodies carry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum FamilyParameters {
    V3(V3Parameters),
    V4(Box<V4Parameters>),
}

/// V3 and legacy models.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct V3Parameters {
    pub sm: bool,
    pub sm_dyn: bool,
    pub skip_cfg_above_sigma: Null,
}

/// V4, V4.5 and V5.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct V4Parameters {
    #[serde(rename = "autoSmea")]
    pub auto_smea: bool,
    /// Sent as `null` by V4 and V4.5 bodies; V5 has no such setting.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_cfg_above_sigma: Option<Null>,
    pub use_coords: bool,
    pub legacy_uc: bool,
    pub normalize_reference_strength_multiple: bool,
    #[serde(rename = "inpaintImg2ImgStrength")]
    pub inpaint_img2img_strength: JsNumber,
    /// V5 only: the models that can keep transparency get straight (unpremultiplied) alpha.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub straight_alpha: Option<bool>,
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
    /// The website sends the seed less one.
    pub extra_noise_seed: u32,
    /// The inpainting mask, base64 (infill only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mask: Option<String>,
    /// Image-to-image only: `false`, as the website sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub color_correct: Option<bool>,
    /// Inpainting at partial strength: the strength again, with colour correction.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub img2img: Option<InpaintStrength>,
}

/// `img2img` of a partial-strength inpainting.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct InpaintStrength {
    pub strength: JsNumber,
    pub color_correct: bool,
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
        if let Some(refs) = &mut r.parameters.references {
            for v in &mut refs.director_reference_images {
                *v = note(v);
            }
        }
        if let Some(vibes) = &mut r.parameters.vibes {
            for v in &mut vibes.reference_image_multiple {
                *v = note(v);
            }
        }
        r
    }
}

//! What a job asks of NovelAI: an image generation (every job stored before the other
//! kinds existed), one of the Director tools (`/ai/augment-image`) on an image, or a 2×
//! upscale of an image (`/ai/upscale`). All three wait in the same lanes, take the same
//! paced slots and are paid, settled, cancelled and reported the same way; only the call
//! made differs.

use serde::{Deserialize, Serialize};

/// The kind of a job, kept in its settings; absent in stored settings means a generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum JobKind {
    /// `POST /generate` (`/ai/generate-image`).
    #[default]
    Generate,
    /// `POST /augment` (`/ai/augment-image`): the settings' `prompt` is the extra prompt
    /// (empty when none), `width`/`height` the source image's.
    Augment(Augment),
    /// `POST /upscale` (`/ai/upscale`): `width`/`height` are the source image's; the result
    /// is twice as wide and twice as high.
    Upscale,
}

impl JobKind {
    pub fn is_generate(&self) -> bool {
        matches!(self, JobKind::Generate)
    }

    /// The name the API reports a job's kind with.
    pub fn as_str(&self) -> &'static str {
        match self {
            JobKind::Generate => "generate",
            JobKind::Augment(_) => "augment",
            JobKind::Upscale => "upscale",
        }
    }
}

/// A Director tool job's own settings (its prompt is the job's `prompt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Augment {
    pub tool: DirectorTool,
    /// `emotion` only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub emotion: Option<Emotion>,
    /// How strongly the tool departs from the image, 0–5 (`colorize` and `emotion` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defry: Option<u8>,
}

/// Most `defry` a tool takes.
pub const MAX_DEFRY: u8 = 5;

/// Upscaling is always by two.
pub const UPSCALE_FACTOR: u32 = 2;

/// The model the website names in an upscale request (NovelAI wants an existing image
/// model; the website sends this one whatever the image came from).
pub const UPSCALE_MODEL: &str = "nai-diffusion-5-curated";

/// Largest source image, in pixels, for both routes (NovelAI's largest generation).
pub const MAX_SOURCE_PIXELS: u64 = 3_145_728;

/// What the website scales a Director tool's image down to, at most, before sending it.
pub const MAX_AUGMENT_PIXELS: u64 = MAX_SOURCE_PIXELS - 2_000;

/// The seven Director tools, by NovelAI's `req_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum DirectorTool {
    #[serde(rename = "lineart")]
    Lineart,
    #[serde(rename = "sketch")]
    Sketch,
    #[serde(rename = "colorize")]
    Colorize,
    #[serde(rename = "emotion")]
    Emotion,
    #[serde(rename = "declutter")]
    Declutter,
    #[serde(rename = "declutter-keep-bubbles")]
    DeclutterKeepBubbles,
    #[serde(rename = "bg-removal")]
    BgRemoval,
}

impl DirectorTool {
    pub const ALL: [DirectorTool; 7] = [
        DirectorTool::Lineart,
        DirectorTool::Sketch,
        DirectorTool::Colorize,
        DirectorTool::Emotion,
        DirectorTool::Declutter,
        DirectorTool::DeclutterKeepBubbles,
        DirectorTool::BgRemoval,
    ];

    /// NovelAI's `req_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            DirectorTool::Lineart => "lineart",
            DirectorTool::Sketch => "sketch",
            DirectorTool::Colorize => "colorize",
            DirectorTool::Emotion => "emotion",
            DirectorTool::Declutter => "declutter",
            DirectorTool::DeclutterKeepBubbles => "declutter-keep-bubbles",
            DirectorTool::BgRemoval => "bg-removal",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == name)
    }

    /// Whether the tool takes a prompt and `defry` (colorize and emotion).
    pub fn takes_prompt(self) -> bool {
        matches!(self, DirectorTool::Colorize | DirectorTool::Emotion)
    }

    /// How many images NovelAI answers with: background removal gives the masked image,
    /// the generated one and their blend; every other tool one.
    pub fn images(self) -> u32 {
        match self {
            DirectorTool::BgRemoval => 3,
            _ => 1,
        }
    }
}

/// The 24 emotions of the emotion tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Emotion {
    Neutral,
    Happy,
    Sad,
    Angry,
    Scared,
    Surprised,
    Tired,
    Excited,
    Nervous,
    Thinking,
    Confused,
    Shy,
    Disgusted,
    Smug,
    Bored,
    Laughing,
    Irritated,
    Aroused,
    Embarrassed,
    Worried,
    Love,
    Determined,
    Hurt,
    Playful,
}

impl Emotion {
    pub const ALL: [Emotion; 24] = [
        Emotion::Neutral,
        Emotion::Happy,
        Emotion::Sad,
        Emotion::Angry,
        Emotion::Scared,
        Emotion::Surprised,
        Emotion::Tired,
        Emotion::Excited,
        Emotion::Nervous,
        Emotion::Thinking,
        Emotion::Confused,
        Emotion::Shy,
        Emotion::Disgusted,
        Emotion::Smug,
        Emotion::Bored,
        Emotion::Laughing,
        Emotion::Irritated,
        Emotion::Aroused,
        Emotion::Embarrassed,
        Emotion::Worried,
        Emotion::Love,
        Emotion::Determined,
        Emotion::Hurt,
        Emotion::Playful,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Emotion::Neutral => "neutral",
            Emotion::Happy => "happy",
            Emotion::Sad => "sad",
            Emotion::Angry => "angry",
            Emotion::Scared => "scared",
            Emotion::Surprised => "surprised",
            Emotion::Tired => "tired",
            Emotion::Excited => "excited",
            Emotion::Nervous => "nervous",
            Emotion::Thinking => "thinking",
            Emotion::Confused => "confused",
            Emotion::Shy => "shy",
            Emotion::Disgusted => "disgusted",
            Emotion::Smug => "smug",
            Emotion::Bored => "bored",
            Emotion::Laughing => "laughing",
            Emotion::Irritated => "irritated",
            Emotion::Aroused => "aroused",
            Emotion::Embarrassed => "embarrassed",
            Emotion::Worried => "worried",
            Emotion::Love => "love",
            Emotion::Determined => "determined",
            Emotion::Hurt => "hurt",
            Emotion::Playful => "playful",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == name)
    }
}

/// The size a Director tool's image is sent at: its own, or scaled down (keeping its
/// shape) to at most [`MAX_AUGMENT_PIXELS`] as the website does.
pub fn augment_size(width: u32, height: u32) -> (u32, u32) {
    let pixels = u64::from(width) * u64::from(height);
    if pixels <= MAX_AUGMENT_PIXELS {
        return (width, height);
    }
    let factor = (MAX_AUGMENT_PIXELS as f64 / pixels as f64).sqrt();
    let mut w = ((f64::from(width) * factor).floor() as u32).max(1);
    let mut h = ((f64::from(height) * factor).floor() as u32).max(1);
    // Floating point may leave it a row over.
    while u64::from(w) * u64::from(h) > MAX_AUGMENT_PIXELS {
        if w >= h {
            w -= 1;
        } else {
            h -= 1;
        }
    }
    (w, h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_kinds_stored_before_them_are_generations() {
        for t in DirectorTool::ALL {
            assert_eq!(DirectorTool::parse(t.as_str()), Some(t));
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
        }
        for e in Emotion::ALL {
            assert_eq!(Emotion::parse(e.as_str()), Some(e));
        }
        assert_eq!(DirectorTool::parse("Lineart"), None);
        assert_eq!(Emotion::parse("joyful"), None);
        let kind = JobKind::Augment(Augment {
            tool: DirectorTool::Emotion,
            emotion: Some(Emotion::Happy),
            defry: Some(2),
        });
        let json = serde_json::to_value(kind).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"type": "augment", "tool": "emotion", "emotion": "happy", "defry": 2})
        );
        assert_eq!(serde_json::from_value::<JobKind>(json).unwrap(), kind);
        assert_eq!(
            serde_json::from_value::<JobKind>(serde_json::json!({"type": "upscale"})).unwrap(),
            JobKind::Upscale
        );
    }

    #[test]
    fn large_images_are_scaled_under_the_website_limit_keeping_their_shape() {
        assert_eq!(augment_size(832, 1216), (832, 1216));
        // The website's largest image, 3,145,728 pixels, is just over.
        assert_eq!(augment_size(1536, 2048), (1535, 2047));
        for (w, h) in [(2048, 2048), (4096, 4096), (4000, 100), (1536, 2048)] {
            let (sw, sh) = augment_size(w, h);
            assert!(
                u64::from(sw) * u64::from(sh) <= MAX_AUGMENT_PIXELS,
                "{w}x{h}"
            );
            let before = f64::from(w) / f64::from(h);
            let after = f64::from(sw) / f64::from(sh);
            assert!(
                (before - after).abs() / before < 0.01,
                "{w}x{h} → {sw}x{sh}"
            );
        }
    }
}

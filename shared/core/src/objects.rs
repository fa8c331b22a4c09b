//! Where a job's images live in the image store: one naming scheme for the API (inputs)
//! and the worker (results).

use crate::domain::TaskId;
use crate::domain::request::ImageFormat;

/// Object key of a result image; its extension is the image's format.
pub fn image_key(task_id: &TaskId, index: usize, format: ImageFormat) -> String {
    format!("images/{task_id}/{index}.{}", format.as_str())
}

/// Object key of an image-to-image input.
pub fn input_key(task_id: &TaskId) -> String {
    format!("inputs/{task_id}")
}

/// Object key of an inpainting mask, next to its input image.
pub fn mask_key(task_id: &TaskId) -> String {
    format!("inputs/{task_id}-mask")
}

/// Object key of a vibe's image, by its hash: the original (to encode) for V4/V4.5, the
/// fitted 448x448 PNG for V3. Shared by every job that uses the same image.
pub fn vibe_source_key(hash: &str, encoded: bool) -> String {
    if encoded {
        format!("vibes/{hash}/source")
    } else {
        format!("vibes/{hash}/v3-448.png")
    }
}

/// Object key of a vibe's encoding (`/ai/encode-vibe`'s answer) for one model and
/// information extracted (as `Vibe::ie_key` writes it).
pub fn vibe_encoding_key(hash: &str, model: &str, ie_key: &str) -> String {
    format!("vibes/{hash}/{model}/ie-{ie_key}.vibe")
}

/// Object key of a Precise Reference image (fitted), next to the job's other inputs.
pub fn reference_key(task_id: &TaskId, index: usize) -> String {
    format!("inputs/{task_id}-ref-{index}")
}

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

/// Where every object of an upstream answer is kept, one per attempt (see
/// `worker::answer`); the bucket's lifecycle rule for this prefix expires them.
pub const ANSWER_PREFIX: &str = "answers/";

/// Days an answer object is kept: long enough for a crashed job's message to come back
/// and finish from it (minutes; a day outside the windows at worst), short enough that the
/// duplicate of the images costs nothing. `template.yaml`'s rule for [`ANSWER_PREFIX`]
/// says the same (a test checks).
pub const ANSWER_RETENTION_DAYS: u32 = 3;

/// Object key of the answer of one attempt (1 for the first).
pub fn answer_key(task_id: &TaskId, attempt: u32) -> String {
    format!("{ANSWER_PREFIX}{task_id}/{attempt}")
}

/// Where the step previews of running jobs are kept (see `worker::previews`); the
/// bucket's lifecycle rule for this prefix expires them.
pub const PREVIEW_PREFIX: &str = "previews/";

/// Days a preview is kept: it is only shown while its job runs (seconds to minutes), and
/// a day is the shortest expiry S3 offers. `template.yaml`'s rule for [`PREVIEW_PREFIX`]
/// says the same (a test checks).
pub const PREVIEW_RETENTION_DAYS: u32 = 1;

/// Object key of a running job's latest step preview: one per task, overwritten.
pub fn preview_key(task_id: &TaskId) -> String {
    format!("{PREVIEW_PREFIX}{task_id}.jpg")
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

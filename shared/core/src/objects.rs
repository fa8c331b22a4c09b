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

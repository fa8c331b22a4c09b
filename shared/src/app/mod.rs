//! Use cases: what the API and the worker do, written against the ports.

pub mod api;
pub mod compose;
pub mod error;
pub mod worker;

pub use api::ApiService;
pub use error::ApiError;
pub use worker::{DrainReport, Worker};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

/// The local calendar day (in the pacing timezone) that an instant falls on.
pub fn local_day(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

/// Object key of a result image.
pub fn image_key(task_id: &crate::domain::TaskId, index: usize) -> String {
    format!("images/{task_id}/{index}.png")
}

/// Object key of an image-to-image input.
pub fn input_key(task_id: &crate::domain::TaskId) -> String {
    format!("inputs/{task_id}")
}

/// Object key of an inpainting mask, next to its input image.
pub fn mask_key(task_id: &crate::domain::TaskId) -> String {
    format!("inputs/{task_id}-mask")
}

/// A seed for a service's RNG, from the operating system.
pub fn os_seed() -> u64 {
    rand::random()
}

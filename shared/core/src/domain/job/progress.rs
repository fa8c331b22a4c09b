//! How far a running job's generation is: the steps NovelAI has streamed a preview of, out
//! of the steps asked for. Kept on the job only while it is `STARTED` (see
//! `worker::previews`).

use serde::{Deserialize, Serialize};

/// Steps done (1-based) of `steps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Progress {
    /// Steps done so far, from 1.
    pub step: u32,
    /// The steps the generation takes.
    pub steps: u32,
}

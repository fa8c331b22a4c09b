//! Where a streamed generation's step previews go while it runs (the worker's job
//! progress; see `worker::previews`).

use async_trait::async_trait;

/// One step's preview of a running generation.
#[derive(Clone, PartialEq, Eq)]
pub struct Preview {
    /// The sample it belongs to (0 for the first).
    pub sample: u32,
    /// Steps done, 1-based (NovelAI's `step_ix` + 1).
    pub step: u32,
    /// The steps the request asked for.
    pub steps: u32,
    /// A small JPEG.
    pub jpeg: Vec<u8>,
}

impl std::fmt::Debug for Preview {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Preview(sample {}, step {}/{}, {} bytes)",
            self.sample,
            self.step,
            self.steps,
            self.jpeg.len()
        )
    }
}

/// Takes the previews of one generation, in order. It cannot fail: whatever goes wrong
/// with a preview is the sink's to log, never the generation's.
#[async_trait]
pub trait PreviewSink: Send + Sync {
    async fn preview(&self, preview: Preview);
}

/// A sink that drops every preview (for callers that only want the images).
pub struct NoPreviews;

#[async_trait]
impl PreviewSink for NoPreviews {
    async fn preview(&self, _preview: Preview) {}
}

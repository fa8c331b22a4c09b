//! NovelAI's rules for `POST /ai/generate-image`, as the fake states them for itself: the
//! model ids and their families, the samplers and noise schedules each family takes, and
//! the limits on sizes, sample counts, steps and strengths.
//!
//! Every rule says where it comes from: "NovelAI's documented rule" is what public clients,
//! captured requests and live answers agree on; "the fake's own strictness" marks a check
//! that NovelAI has not been seen to make either way, kept so that a client sending
//! something no capture shows finds out here rather than in production.

pub mod limits;
pub mod models;
pub mod samplers;

pub use models::{Family, Model};

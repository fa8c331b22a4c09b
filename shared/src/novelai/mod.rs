//! The NovelAI image API: request bodies per model family, the HTTP client, and the zip
//! of PNGs it answers with.

pub mod archive;
pub mod body;
pub mod client;

pub use client::NovelAiClient;

//! The NovelAI image API: request bodies per model family, the HTTP client, and the zip
//! of PNGs it answers with.

pub mod account;
pub mod archive;
pub mod auth;
pub mod body;
pub mod client;
pub mod cost;

pub use client::NovelAiClient;

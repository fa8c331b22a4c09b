//! naiq's core: everything naiq decides, as pure code.
//!
//! - `domain`: jobs and their transitions, validation, pacing, pricing (no I/O at all);
//! - `ports`: the narrow async traits the use cases reach the world through;
//! - `api` and `worker`: the use cases of the two functions, written against the ports;
//!   `admin`: the operator's (API keys), for the CLI;
//! - `novelai`: NovelAI's protocol (request bodies, the zip it answers with, the access
//!   key, the subscription);
//! - `webhooks`: signed task events, the address rules and their delivery use case;
//! - `config`: the settings, read through an injected lookup and checked once;
//! - `metrics`: what naiq measures, over the `metrics` facade (no I/O, like `tracing`).
//!
//! This crate depends on no AWS SDK, no HTTP client and no async runtime: the adapters
//! (`naiq-adapters`) and the test doubles (`naiq-testkit`) live in their own crates, so a
//! wrong import is a compile error.

pub mod admin;
pub mod api;
pub mod config;
pub mod domain;
pub mod metrics;
pub mod novelai;
pub mod objects;
pub mod ports;
pub mod webhooks;
pub mod worker;

pub use config::Settings;

/// The version sent to NovelAI in the `User-Agent` header (`naiq/<version>`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

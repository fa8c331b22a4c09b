//! naiq core library: the domain (jobs, validation, pacing), the ports it talks through,
//! the adapters behind them (in-memory and AWS), the NovelAI client, and the application
//! services the Lambda functions and the CLI compose.
//!
//! Layout follows the hexagon: `domain` is pure (no I/O, injected clock and RNG), `ports`
//! are narrow async traits, `adapters` implement them, `app` wires domain and ports into
//! use cases, `novelai` speaks the upstream protocol.

pub mod adapters;
pub mod app;
pub mod config;
pub mod contract;
pub mod domain;
pub mod novelai;
pub mod ports;

pub use config::Config;

/// The version sent to NovelAI in the `User-Agent` header (`naiq/<version>`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

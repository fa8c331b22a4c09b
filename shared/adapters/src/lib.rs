//! naiq's adapters: what the core's ports run on in production and on the local emulator.
//!
//! - `aws`: one module per AWS service;
//! - `novelai`: the HTTP client for NovelAI (reqwest with rustls);
//! - `resources`: the names of the AWS resources, from the environment;
//! - `provision`: the local provisioner that creates the template's resources on an emulator;
//! - `runtime`: the system clock, the tokio sleeper and the OS seed;
//! - `logging`: the functions' log subscriber, which never writes what the runtime and the
//!   HTTP stacks log of raw events and wire traffic;
//! - `compose`: each function's ports, wired from the environment;
//! - `faults`: a test-only layer that fails the AWS ports at random (off unless
//!   `NAIQ_FAULTS` is set, and only against a loopback emulator).

pub mod aws;
pub mod cached;
pub mod compose;
pub mod faults;
pub mod logging;
pub mod metrics;
pub mod novelai;
pub mod provision;
pub mod resources;
pub mod runtime;
pub mod webhook_transport;

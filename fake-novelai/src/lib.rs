//! A fake of NovelAI's image API, for tests and the local stack. It answers like NovelAI:
//!
//! - `POST /user/login {"key"}`: 201 `{"accessToken"}` for the access key of a configured
//!   account (derived with NovelAI's recipe, for the email as given and lower-cased), 401
//!   "Incorrect access key." otherwise ([`login`]).
//! - `GET /user/subscription`: the token's account ([`subscription`]); the configured
//!   tokens are one Opus account with 10000 Anlas. `GET /user/data` (with
//!   `/user/priority` and `/user/information`) aggregates it ([`user_data`]).
//! - `POST /ai/generate-image`: a zip of `image_0.png`… (or lossless `image_0.webp`…
//!   with `image_format: "webp"`; or JSON `{"images": [{image, index, seed}]}` with
//!   `Accept: application/json`) at the requested size, with NovelAI's metadata, 401 for a
//!   wrong token, 400 (or 500 where NovelAI breaks) for a body NovelAI refuses, per model
//!   family ([`rules`]), and 429 "Concurrent generation is locked" while another
//!   generation of the same account is in flight ([`generation`]).
//! - Every generation is charged in Anlas as NovelAI prices it, with Opus's free sample
//!   and its V5 usage gauge; 402 "Not enough Anlas" when the balance is short
//!   ([`billing`]).
//!
//! The fake is NovelAI's image host: every route answers on any `Host`, except that a
//! `Host` of `api.novelai.net` gets NovelAI's 400 for the account routes that moved
//! ([`hosts`]). Every answer carries NovelAI's CORS headers ([`cors`]); the website's
//! `x-correlation-id` and `x-initiated-at` headers are accepted and ignored.
//!
//! Test controls under `/_fake/` ([`controls`]): the request log (login keys redacted,
//! each generation's charge), queued faults ([`faults`]), the latency and Medium's price
//! factor, the accounts' balances and usage gauges, a health check. It listens on
//! 127.0.0.1 only.
//!
//! # In another crate's tests
//!
//! Add `fake-novelai = { path = "../fake-novelai" }` to `[dev-dependencies]`, then spawn
//! one fake per test (each on its own free port, stopped when dropped):
//!
//! ```no_run
//! # async fn example() -> std::io::Result<()> {
//! use std::time::Duration;
//! use fake_novelai::{Account, Config};
//!
//! let fake = fake_novelai::spawn(
//!     Config::default()
//!         .with_tokens(["pst-test"]) // accepted as `Authorization: Bearer pst-test`
//!         .with_account(Account::new("test@example.com", "password123").tier(3))
//!         .with_latency(Duration::ZERO),
//! )
//! .await?;
//! let base = fake.url(); // "http://127.0.0.1:<port>": both NovelAI hosts
//! // ... drive the client under test against `base` ...
//! let log: serde_json::Value = reqwest::get(format!("{base}/_fake/requests"))
//!     .await
//!     .unwrap()
//!     .json()
//!     .await
//!     .unwrap();
//! fake.stop().await // or just drop it
//! # }
//! ```
//!
//! Without a socket, [`router`] with a [`FakeState`] answers through `tower`'s `oneshot`.

pub mod access_key;
pub mod accounts;
mod answer;
pub mod billing;
pub mod config;
pub mod controls;
pub mod cors;
pub mod director;
pub mod faults;
pub mod generation;
pub mod hosts;
pub mod login;
pub mod references;
pub mod request_log;
pub mod rules;
mod server;
pub mod stream;
pub mod subscription;
pub mod user_data;
pub mod vibes;

pub use config::{Account, Config, DEFAULT_TOKEN};
pub use server::{FakeState, MAX_BODY_BYTES, RunningFake, router, spawn};

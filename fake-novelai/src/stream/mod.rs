//! `POST /ai/generate-image-stream`: a generation that streams its steps.
//!
//! The same body as `/ai/generate-image` plus `parameters.stream`: `"msgpack"` (what the
//! website asks for) or `"sse"`; anything else is 400. The same checks, faults, price,
//! concurrency lock and charge as the plain route ([`crate::generation::admit`]). The
//! website streams V4, V4.5 and V5 and never V3, and how NovelAI answers a V3 (or
//! legacy) model here is unknown: the fake refuses it with 400 `"A validation error
//! occurred. model <id> does not stream"`, so a client that streams one is caught.
//!
//! Then 200 (`application/msgpack` or `text/event-stream`, `cache-control: no-cache`),
//! and per sample `steps − 1` `intermediate` events (step_ix 0…steps−2, a small JPEG
//! each, [`frames::preview_jpeg`]) then one `final` with the image in the requested
//! format. Each step takes the `step_delay_ms` of `PUT /_fake/config` (0 at the start),
//! after the latency. The lock is held until the last byte is sent.
//!
//! Faults of the stream's own (`stream_truncated`, `stream_dropped`, `stream_error`) play
//! out halfway through the first sample's steps, after the charge: a stream cut inside a
//! frame (ended cleanly, or the connection dropped) keeps the charge, as NovelAI has done
//! the work; an `error` event refunds it, as a generation that fails after the charge is.

pub mod frames;

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::accounts::{AccountId, Charge};
use crate::answer::error;
use crate::faults::{self, FaultKind};
use crate::generation::lock::OwnedHeld;
use crate::generation::{
    Admitted, Generation, ImageFormat, NOT_ENOUGH_ANLAS, Refusal, admit, image, webp,
};
use crate::request_log::{Entry, body_value};
use crate::rules::models::Family;
use crate::server::FakeState;
use frames::{Event, Form};

pub const PATH: &str = "/ai/generate-image-stream";

type Chunk = Result<Bytes, std::io::Error>;

/// The body's chunks as the playing task sends them.
struct Chunks(mpsc::Receiver<Chunk>);

impl futures_core::Stream for Chunks {
    type Item = Chunk;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Chunk>> {
        self.0.poll_recv(cx)
    }
}

/// The route's handler: logs the request, answers it, logs the answer; a stream is logged
/// as finished once its last byte is sent (as a plain generation's answer is), so the log
/// shows how long the account's lock was held.
pub async fn handler(State(state): State<FakeState>, headers: HeaderMap, body: Bytes) -> Response {
    let entry = state.log().start("POST", PATH, body_value(&body)).await;
    match answer(&state, entry, &headers, &body).await {
        Answer::Streaming(response) => response,
        // A refusal, or a fault answered whole (a 500, or a 200 zip missing its image):
        // finished here, whatever its status.
        Answer::Whole(response) => {
            state.log().finish(entry, response.status().as_u16()).await;
            response
        }
    }
}

/// What the route answers: a stream being played (which logs its own end), or an answer
/// complete as it is.
enum Answer {
    Streaming(Response),
    Whole(Response),
}

/// `parameters.stream`.
fn form_of(body: &[u8]) -> Result<Form, Refusal> {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match v["parameters"]["stream"].as_str() {
        Some("msgpack") => Ok(Form::Msgpack),
        Some("sse") => Ok(Form::Sse),
        _ => Err(Refusal::invalid("parameters.stream must be msgpack or sse")),
    }
}

/// The stream route's own rules, after the body's.
fn route_check(g: &Generation, body: &[u8]) -> Result<Form, Refusal> {
    if !matches!(g.model.family, Family::V4 | Family::V45 | Family::V5) {
        return Err(Refusal::invalid(format!(
            "model {} does not stream",
            g.model.id
        )));
    }
    form_of(body)
}

async fn answer(state: &FakeState, entry: Entry, headers: &HeaderMap, body: &[u8]) -> Answer {
    let mut form = Form::Msgpack;
    let check = |g: &Generation| route_check(g, body).map(|f| form = f);
    let Admitted {
        account,
        generation,
        factor,
        stream_fault,
    } = match admit(state, entry, headers, body, check, true).await {
        Ok(admitted) => admitted,
        Err(response) => return Answer::Whole(response),
    };
    let Some(held) = OwnedHeld::try_hold(state, account) else {
        return Answer::Whole(faults::answer(FaultKind::Locked, "", state.stopping()).await);
    };
    let charge = match state.accounts().charge(account, &generation, factor) {
        Ok(charge) => charge,
        Err(_) => {
            state.log().charged(entry, 0).await;
            return Answer::Whole(error(StatusCode::PAYMENT_REQUIRED, NOT_ENOUGH_ANLAS));
        }
    };
    state.log().charged(entry, charge.spent.total()).await;
    let (tx, rx) = mpsc::channel(4);
    let play = Play {
        state: state.clone(),
        entry,
        account,
        charge,
        generation,
        form,
        fault: stream_fault,
        tx,
        _held: held,
    };
    tokio::spawn(play.run());
    Answer::Streaming(
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, form.content_type())
            .header(header::CACHE_CONTROL, "no-cache")
            .body(Body::from_stream(Chunks(rx)))
            .unwrap_or_else(|_| error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")),
    )
}

/// One stream being played out; holds the account's lock until dropped.
struct Play {
    state: FakeState,
    entry: Entry,
    account: AccountId,
    charge: Charge,
    generation: Generation,
    form: Form,
    fault: Option<FaultKind>,
    tx: mpsc::Sender<Chunk>,
    _held: OwnedHeld,
}

/// Why playing stopped early.
struct Stopped;

/// How a stream's playing ended.
enum Played {
    /// Every frame was handed on (a stream fault played out counts: it is the answer).
    Whole,
    /// The client went away before the end.
    ClientGone,
}

impl Play {
    async fn send(&self, bytes: Vec<u8>) -> Result<(), Stopped> {
        // The client gone is no error of the fake's: the charge stays, as NovelAI's would.
        self.tx.send(Ok(bytes.into())).await.map_err(|_| Stopped)
    }

    fn refund(&self) {
        self.state.accounts().refund(self.account, &self.charge);
    }

    /// Plays the stream and logs its end: 200 when the client took every frame, 499 (a
    /// client that closed the request) when it went away first. NovelAI keeps the charge
    /// either way, but the images never reached the client, which the log must not hide.
    async fn run(self) {
        let status = match self.play().await {
            Played::Whole => 200,
            Played::ClientGone => 499,
        };
        self.state.log().finish(self.entry, status).await;
    }

    async fn play(&self) -> Played {
        let latency = self.state.latency();
        tokio::time::sleep(latency).await;
        let g = &self.generation;
        let gen_id = g.seed.wrapping_mul(2_654_435_761) % 10_000_000_000;
        let previews = g.steps.saturating_sub(1);
        let mut elapsed = latency;
        for sample in 0..g.n_samples {
            for step in 0..previews {
                if sample == 0 && step == previews / 2 && self.fault.is_some() {
                    self.play_fault().await;
                    return Played::Whole;
                }
                let delay = self.state.step_delay();
                tokio::time::sleep(delay).await;
                elapsed += delay;
                let seed = g.seed + u64::from(sample);
                let jpeg = frames::preview_jpeg(g.width, g.height, seed, step, g.steps);
                let event = Event::Intermediate {
                    sample,
                    step,
                    gen_id,
                    sigma: frames::sigma(step, g.steps),
                    jpeg: &jpeg,
                };
                if self.send(frames::encode(self.form, &event)).await.is_err() {
                    return Played::ClientGone;
                }
            }
            if previews == 0 && sample == 0 && self.fault.is_some() {
                self.play_fault().await;
                return Played::Whole;
            }
            match final_image(g, sample, elapsed).await {
                Ok(image) => {
                    let event = Event::Final {
                        sample,
                        gen_id,
                        image: &image,
                    };
                    if self.send(frames::encode(self.form, &event)).await.is_err() {
                        return Played::ClientGone;
                    }
                }
                Err(()) => {
                    self.refund();
                    self.state.log().charged(self.entry, 0).await;
                    let event = Event::Error {
                        message: "Internal Server Error",
                    };
                    let _ = self.send(frames::encode(self.form, &event)).await;
                    return Played::Whole;
                }
            }
        }
        Played::Whole
    }

    /// Plays the stream fault out, in place of the next step's preview.
    async fn play_fault(&self) {
        let g = &self.generation;
        let jpeg = frames::preview_jpeg(g.width, g.height, g.seed, 0, g.steps);
        let whole = frames::encode(
            self.form,
            &Event::Intermediate {
                sample: 0,
                step: 0,
                gen_id: 0,
                sigma: 1.0,
                jpeg: &jpeg,
            },
        );
        let half = whole[..whole.len() / 2].to_vec();
        match self.fault {
            Some(FaultKind::StreamTruncated) => {
                let _ = self.send(half).await;
            }
            Some(FaultKind::StreamDropped) => {
                if self.send(half).await.is_ok() {
                    let cut = std::io::Error::new(
                        std::io::ErrorKind::ConnectionAborted,
                        "the fake drops the stream",
                    );
                    let _ = self.tx.send(Err(cut)).await;
                }
            }
            _ => {
                self.refund();
                self.state.log().charged(self.entry, 0).await;
                let event = Event::Error {
                    message: "Image generation failed",
                };
                let _ = self.send(frames::encode(self.form, &event)).await;
            }
        }
    }
}

/// One sample's full image in the requested format (made off the async threads).
async fn final_image(g: &Generation, sample: u32, took: Duration) -> Result<Vec<u8>, ()> {
    let g = g.clone();
    tokio::task::spawn_blocking(move || match g.format {
        ImageFormat::Png => image::png_of(&g, sample, took).map_err(|_| ()),
        ImageFormat::Webp => webp::webp_of(&g, sample, took).map_err(|_| ()),
    })
    .await
    .unwrap_or(Err(()))
}

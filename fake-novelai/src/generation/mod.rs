//! `POST /ai/generate-image`: NovelAI's image generation.
//!
//! In order: a queued or randomly drawn "401" fault; the bearer token (401); the body (400, or 500 for what
//! NovelAI breaks on), its price included (400 when one image costs over 140 Anlas); any
//! other drawn or queued fault; the account's concurrency lock (429 "Concurrent generation is
//! locked": one generation per account at a time); the charge (402 "Not enough Anlas",
//! charging nothing, when the balance is short; see [`crate::billing`]); the latency;
//! then 200 with one image per sample at the requested size, PNG or (with
//! `image_format: "webp"`) lossless WebP, in a zip ([`archive`]) or, with `Accept:
//! application/json`, in JSON ([`json_form`]). A generation that fails after the charge
//! is refunded. The request log notes each charge. The stream route
//! ([`crate::stream`]) makes the same checks ([`admit`]) and takes the same lock.

pub mod archive;
mod characters;
pub mod image;
pub mod json_form;
pub(crate) mod lock;
pub mod metadata;
mod pixels;
mod refusal;
pub mod validate;
pub mod webp;

use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use crate::answer::{bearer, error, unauthorized};
use crate::billing::price::{self, MAX_PRICE};
use crate::faults::{self, FaultKind};
use crate::request_log::{Entry, body_value};
use crate::server::FakeState;
pub use lock::Locks;
pub use refusal::Refusal;
pub use validate::{Action, Generation, ImageFormat, validate};

pub const PATH: &str = "/ai/generate-image";

/// NovelAI's answer when the balance is short.
pub const NOT_ENOUGH_ANLAS: &str = "Not enough Anlas";

/// The route's handler: logs the request, answers it, logs the answer.
pub async fn handler(State(state): State<FakeState>, headers: HeaderMap, body: Bytes) -> Response {
    let entry = state.log().start("POST", PATH, body_value(&body)).await;
    let response = answer(&state, entry, &headers, &body).await;
    state.log().finish(entry, response.status().as_u16()).await;
    response
}

/// A generation that passed the checks every generation route makes (see [`admit`]).
pub(crate) struct Admitted {
    pub account: crate::accounts::AccountId,
    pub generation: Generation,
    pub factor: f64,
    /// A stream fault to play out (only when the route streams).
    pub stream_fault: Option<FaultKind>,
}

/// The checks of every generation route, in the order of this module's doc: a "401"
/// fault, the token, the body (then `route_check`, the route's own rules), the price, any
/// other fault. `Err` is the answer. A drawn or queued stream fault is handed back when
/// `streams`, and answered as on this route otherwise.
pub(crate) async fn admit(
    state: &FakeState,
    entry: Entry,
    headers: &HeaderMap,
    body: &[u8],
    route_check: impl FnOnce(&Generation) -> Result<(), Refusal>,
    streams: bool,
) -> Result<Admitted, Response> {
    // A random fault is drawn once per generation; a queued one waits its turn behind it.
    let drawn = state.random_faults().draw();
    if drawn == Some(FaultKind::Unauthorized) || state.faults().take(true).is_some() {
        state
            .log()
            .faulted(entry, FaultKind::Unauthorized.name())
            .await;
        return Err(unauthorized());
    }
    let Some(account) = bearer(headers).and_then(|t| state.accounts().by_token(t)) else {
        return Err(unauthorized());
    };
    let generation = validate(body).map_err(|refusal| refusal.response())?;
    route_check(&generation).map_err(|refusal| refusal.response())?;
    let factor = state.medium_step_factor();
    let per_image = price::per_image(&generation, factor);
    if per_image > MAX_PRICE {
        return Err(Refusal::invalid(format!(
            "one image costs {per_image} Anlas, over the {MAX_PRICE} a request may"
        ))
        .response());
    }
    let mut stream_fault = None;
    if let Some(kind) = drawn.or_else(|| state.faults().take(false)) {
        state.log().faulted(entry, kind.name()).await;
        if !(streams && kind.is_stream()) {
            return Err(faults::answer(kind, &generation.prompt, state.stopping()).await);
        }
        stream_fault = Some(kind);
    }
    Ok(Admitted {
        account,
        generation,
        factor,
        stream_fault,
    })
}

async fn answer(state: &FakeState, entry: Entry, headers: &HeaderMap, body: &[u8]) -> Response {
    let Admitted {
        account,
        generation,
        factor,
        ..
    } = match admit(state, entry, headers, body, |_| Ok(()), false).await {
        Ok(admitted) => admitted,
        Err(response) => return response,
    };
    let Some(_held) = state.locks().try_hold(account) else {
        return faults::answer(FaultKind::Locked, "", state.stopping()).await;
    };
    let charge = match state.accounts().charge(account, &generation, factor) {
        Ok(charge) => charge,
        Err(_) => {
            state.log().charged(entry, 0).await;
            return error(StatusCode::PAYMENT_REQUIRED, NOT_ENOUGH_ANLAS);
        }
    };
    state.log().charged(entry, charge.spent.total()).await;
    let latency = state.latency();
    tokio::time::sleep(latency).await;
    let as_json = json_form::wanted(headers);
    let seed = generation.seed;
    let made = tokio::task::spawn_blocking(move || {
        let images = images(&generation, latency)?;
        if as_json {
            return Ok(json_form::response(&images, seed));
        }
        let ext = generation.format.extension();
        let entries: Vec<_> = images
            .into_iter()
            .zip(0..)
            .map(|(bytes, i)| (archive::entry_name(i, ext), bytes))
            .collect();
        archive::zip_of(&entries).map(archive::zip_response)
    })
    .await;
    match made {
        Ok(Ok(response)) => response,
        _ => {
            state.accounts().refund(account, &charge);
            state.log().charged(entry, 0).await;
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
        }
    }
}

/// Every sample's image, in the requested format.
pub fn images(g: &Generation, generation_time: Duration) -> Result<Vec<Vec<u8>>, String> {
    (0..g.n_samples)
        .map(|i| match g.format {
            ImageFormat::Png => image::png_of(g, i, generation_time).map_err(|e| e.to_string()),
            ImageFormat::Webp => webp::webp_of(g, i, generation_time).map_err(|e| e.to_string()),
        })
        .collect()
}

//! `POST /ai/encode-vibe`: in order, a queued "401" fault; the bearer token (401); the
//! body (400: a V4/V4.5 model, `information_extracted` 0–1, `image` a base64 PNG, JPEG or
//! WebP); any other queued fault; the account's concurrency lock (429, shared with
//! generations); 2 Anlas (402 when short); the latency; then 200 with the encoding.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use blake2::{Blake2b512, Digest};
use serde_json::Value;

use super::{MAGIC, encodable};
use crate::answer::{bearer, error, unauthorized};
use crate::faults::{self, FaultKind};
use crate::generation::{NOT_ENOUGH_ANLAS, Refusal};
use crate::rules::models;
use crate::server::FakeState;

pub const PATH: &str = "/ai/encode-vibe";

/// What one encode costs.
pub const ENCODE_ANLAS: u64 = 2;

/// The size of a V4.5 Full encoding (information extracted 1), as NovelAI answers it.
pub const ENCODING_BYTES: usize = 48_916;

/// The body as logged: the image only by its length.
fn logged(body: &[u8]) -> Value {
    let mut v = crate::request_log::body_value(body);
    if let Some(image) = v.get_mut("image")
        && let Some(s) = image.as_str()
    {
        *image = Value::String(format!("<{} base64 characters>", s.len()));
    }
    v
}

pub async fn handler(State(state): State<FakeState>, headers: HeaderMap, body: Bytes) -> Response {
    let entry = state.log().start("POST", PATH, logged(&body)).await;
    let response = answer(&state, entry, &headers, &body).await;
    state.log().finish(entry, response.status().as_u16()).await;
    response
}

/// The image's bytes, when it is a base64 PNG, JPEG or WebP.
fn image_bytes(v: &Value) -> Option<Vec<u8>> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str()?)
        .ok()?;
    let known = bytes.starts_with(b"\x89PNG\r\n\x1a\n")
        || bytes.starts_with(&[0xff, 0xd8, 0xff])
        || (bytes.len() >= 12 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP");
    known.then_some(bytes)
}

/// The encoding of an image for a model: the fake's magic, the model, then bytes drawn
/// from the image, the model and the information extracted (the same inputs give the same
/// encoding), padded to [`ENCODING_BYTES`].
pub fn encoding(image: &[u8], model: &str, ie: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(ENCODING_BYTES);
    out.extend_from_slice(MAGIC);
    out.push(model.len() as u8);
    out.extend_from_slice(model.as_bytes());
    let mut seed = Blake2b512::new();
    seed.update(image);
    seed.update(model.as_bytes());
    seed.update(ie.to_bits().to_le_bytes());
    let mut block = seed.finalize().to_vec();
    while out.len() < ENCODING_BYTES {
        out.extend_from_slice(&block);
        block = Blake2b512::digest(&block).to_vec();
    }
    out.truncate(ENCODING_BYTES);
    out
}

fn validate(body: &[u8]) -> Result<(String, f64, Vec<u8>), Refusal> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| Refusal::invalid("the body is not JSON"))?;
    let id = v["model"]
        .as_str()
        .ok_or_else(|| Refusal::invalid("model must be a string"))?;
    let model = models::find(id).ok_or_else(|| Refusal::NoSuchModel(id.to_string()))?;
    if !encodable(model) {
        return Err(Refusal::invalid(format!(
            "vibes cannot be encoded for {}",
            model.id
        )));
    }
    let ie = v["information_extracted"]
        .as_f64()
        .filter(|f| (0.0..=1.0).contains(f))
        .ok_or_else(|| Refusal::invalid("information_extracted must be 0 to 1"))?;
    let image = image_bytes(&v["image"])
        .ok_or_else(|| Refusal::invalid("image must be a base64 PNG, JPEG or WebP"))?;
    Ok((model.id.to_string(), ie, image))
}

async fn answer(
    state: &FakeState,
    entry: crate::request_log::Entry,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if state.faults().take(true).is_some() {
        return unauthorized();
    }
    let Some(account) = bearer(headers).and_then(|t| state.accounts().by_token(t)) else {
        return unauthorized();
    };
    let (model, ie, image) = match validate(body) {
        Ok(found) => found,
        Err(refusal) => return refusal.response(),
    };
    if let Some(kind) = state.faults().take(false) {
        return faults::answer(kind, "", state.stopping()).await;
    }
    let Some(_held) = state.locks().try_hold(account) else {
        return faults::answer(FaultKind::Locked, "", state.stopping()).await;
    };
    if state.accounts().charge_flat(account, ENCODE_ANLAS).is_err() {
        state.log().charged(entry, 0).await;
        return error(StatusCode::PAYMENT_REQUIRED, NOT_ENOUGH_ANLAS);
    }
    state.log().charged(entry, ENCODE_ANLAS).await;
    tokio::time::sleep(state.latency()).await;
    let bytes = encoding(&image, &model, ie);
    let name: String = hex_of(&bytes[bytes.len() - 4..]);
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/binary".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename={name}.vibe40"),
            ),
        ],
        bytes,
    )
        .into_response()
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

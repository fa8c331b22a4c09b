//! `POST /ai/upscale {image, model, declared_blur_sigma}`: the image at twice its size.
//! Same order of checks as augment; 1/2/3/4 Anlas by the source's pixels, no Opus
//! discount.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::{MAX_PIXELS, output, png_input};
use crate::answer::{bearer, error, unauthorized};
use crate::faults::{self, FaultKind};
use crate::generation::archive::zip_response;
use crate::generation::{NOT_ENOUGH_ANLAS, Refusal, json_form};
use crate::request_log::Entry;
use crate::rules::models;
use crate::server::FakeState;

pub const PATH: &str = "/ai/upscale";

/// The price by the source's pixels: 1 up to 1,048,576, 2 up to 1,747,627, 3 up to
/// 2,446,678, 4 up to 3,145,728.
pub fn price(pixels: u64) -> u64 {
    match pixels {
        0..=1_048_576 => 1,
        1_048_577..=1_747_627 => 2,
        1_747_628..=2_446_678 => 3,
        _ => 4,
    }
}

/// Checks an upscale body: the source's size.
pub fn validate(body: &[u8]) -> Result<(u32, u32), Refusal> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| Refusal::invalid("the body is not JSON"))?;
    let id = v["model"]
        .as_str()
        .ok_or_else(|| Refusal::invalid("model must be a string"))?;
    if models::find(id).is_none() {
        return Err(Refusal::NoSuchModel(id.to_string()));
    }
    let Some((_, w, h)) = png_input(&v["image"]) else {
        return Err(Refusal::invalid("image must be a base64 PNG"));
    };
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Refusal::invalid(format!(
            "the image is {w}x{h}, over {MAX_PIXELS} pixels"
        )));
    }
    Ok((w, h))
}

pub async fn handler(State(state): State<FakeState>, headers: HeaderMap, body: Bytes) -> Response {
    let entry = state
        .log()
        .start("POST", PATH, super::logged(&body, "image"))
        .await;
    let response = answer(&state, entry, &headers, &body).await;
    state.log().finish(entry, response.status().as_u16()).await;
    response
}

async fn answer(state: &FakeState, entry: Entry, headers: &HeaderMap, body: &[u8]) -> Response {
    if state.faults().take(true).is_some() {
        return unauthorized();
    }
    let Some(account) = bearer(headers).and_then(|t| state.accounts().by_token(t)) else {
        return unauthorized();
    };
    let (w, h) = match validate(body) {
        Ok(size) => size,
        Err(refusal) => return refusal.response(),
    };
    if let Some(kind) = state.faults().take(false) {
        return faults::answer(kind, "", state.stopping()).await;
    }
    let Some(_held) = state.locks().try_hold(account) else {
        return faults::answer(FaultKind::Locked, "", state.stopping()).await;
    };
    let anlas = price(u64::from(w) * u64::from(h));
    if state.accounts().charge_flat(account, anlas).is_err() {
        state.log().charged(entry, 0).await;
        return error(StatusCode::PAYMENT_REQUIRED, NOT_ENOUGH_ANLAS);
    }
    state.log().charged(entry, anlas).await;
    tokio::time::sleep(state.latency()).await;
    let as_json = json_form::wanted(headers);
    let fill = state.tool_fill();
    let made = tokio::task::spawn_blocking(move || {
        let text = [("Software", "NovelAI".to_string())];
        let png = output::png(w * 2, h * 2, false, 7, fill, &text)?;
        if as_json {
            return Ok(json_form::response(&[png], 0));
        }
        output::stored_zip(&[png]).map(zip_response)
    })
    .await;
    match made {
        Ok(Ok(response)) => response,
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_price_tiers_follow_the_website() {
        assert_eq!(price(832 * 1216), 1);
        assert_eq!(price(1_048_577), 2);
        assert_eq!(price(1_747_627), 2);
        assert_eq!(price(2_446_678), 3);
        assert_eq!(price(1536 * 2048), 4);
    }
}

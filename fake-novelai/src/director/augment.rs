//! `POST /ai/augment-image`: in order, a queued "401" fault; the token (401); the body
//! (400); any other queued fault; the concurrency lock (429); the price (402 when short);
//! the latency; then 200 with the zip.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::{MAX_PIXELS, output, png_input};
use crate::answer::{bearer, error, unauthorized};
use crate::billing::price::{FREE_MAX_PIXELS, FREE_TIER, MIN_PRICE, base};
use crate::faults::{self, FaultKind};
use crate::generation::archive::zip_response;
use crate::generation::{NOT_ENOUGH_ANLAS, Refusal};
use crate::request_log::Entry;
use crate::server::FakeState;

pub const PATH: &str = "/ai/augment-image";

/// The seven tools.
pub const REQ_TYPES: [&str; 7] = [
    "lineart",
    "sketch",
    "colorize",
    "emotion",
    "declutter",
    "declutter-keep-bubbles",
    "bg-removal",
];

/// The emotions `emotion` takes.
pub const EMOTIONS: [&str; 24] = [
    "neutral",
    "happy",
    "sad",
    "angry",
    "scared",
    "surprised",
    "tired",
    "excited",
    "nervous",
    "thinking",
    "confused",
    "shy",
    "disgusted",
    "smug",
    "bored",
    "laughing",
    "irritated",
    "aroused",
    "embarrassed",
    "worried",
    "love",
    "determined",
    "hurt",
    "playful",
];

/// A checked augment request.
#[derive(Debug, Clone, PartialEq)]
pub struct Augment {
    pub req_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub prompt: Option<String>,
    pub defry: Option<u64>,
}

impl Augment {
    /// How many images the answer holds.
    pub fn images(&self) -> usize {
        if self.req_type == "bg-removal" { 3 } else { 1 }
    }

    /// The Anlas it costs an account of `tier` (active): like V3 at 28 steps, free for
    /// Opus up to 1 MP; background removal three times that plus 5, never free.
    pub fn price(&self, tier: u8, active: bool) -> u64 {
        let per = (base(self.width, self.height, 28.0) as u64).max(MIN_PRICE);
        if self.req_type == "bg-removal" {
            return 3 * per + 5;
        }
        let pixels = u64::from(self.width) * u64::from(self.height);
        if tier >= FREE_TIER && active && pixels <= FREE_MAX_PIXELS {
            0
        } else {
            per
        }
    }
}

/// Checks an augment body.
pub fn validate(body: &[u8]) -> Result<Augment, Refusal> {
    let v: Value =
        serde_json::from_slice(body).map_err(|_| Refusal::invalid("the body is not JSON"))?;
    let req_type = v["req_type"]
        .as_str()
        .and_then(|t| REQ_TYPES.into_iter().find(|k| *k == t))
        .ok_or_else(|| Refusal::invalid("req_type is not a known tool"))?;
    let side = |name: &str| {
        v[name]
            .as_u64()
            .filter(|n| (1..=8192).contains(n))
            .map(|n| n as u32)
            .ok_or_else(|| Refusal::invalid(format!("{name} must be a positive integer")))
    };
    let (width, height) = (side("width")?, side("height")?);
    if u64::from(width) * u64::from(height) > MAX_PIXELS {
        return Err(Refusal::invalid(format!(
            "{width}x{height} is over {MAX_PIXELS} pixels"
        )));
    }
    let Some((_, w, h)) = png_input(&v["image"]) else {
        return Err(Refusal::invalid("image must be a base64 PNG"));
    };
    if (w, h) != (width, height) {
        return Err(Refusal::invalid(format!(
            "the image is {w}x{h}, not {width}x{height}"
        )));
    }
    let takes_prompt = matches!(req_type, "colorize" | "emotion");
    let prompt = v["prompt"].as_str().map(str::to_string);
    let defry = match v.get("defry").filter(|d| !d.is_null()) {
        None => None,
        Some(d) => Some(
            d.as_u64()
                .filter(|d| *d <= 5)
                .ok_or_else(|| Refusal::invalid("defry must be 0 to 5"))?,
        ),
    };
    if !takes_prompt && (prompt.is_some() || defry.is_some()) {
        return Err(Refusal::invalid(format!(
            "{req_type} takes no prompt and no defry"
        )));
    }
    if req_type == "emotion" {
        let emotion = prompt
            .as_deref()
            .map(|p| p.split(";;").next().unwrap_or_default().trim())
            .unwrap_or_default();
        if !EMOTIONS.contains(&emotion) {
            return Err(Refusal::invalid(
                "emotion's prompt must start with one of the 24 emotions",
            ));
        }
        if defry.is_none() {
            return Err(Refusal::invalid("emotion needs defry"));
        }
    }
    Ok(Augment {
        req_type,
        width,
        height,
        prompt,
        defry,
    })
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
    let augment = match validate(body) {
        Ok(a) => a,
        Err(refusal) => return refusal.response(),
    };
    if let Some(kind) = state.faults().take(false) {
        return faults::answer(kind, "", state.stopping()).await;
    }
    let Some(_held) = state.locks().try_hold(account) else {
        return faults::answer(FaultKind::Locked, "", state.stopping()).await;
    };
    let plan = state.accounts().plan(account);
    let price = augment.price(state.accounts().tier(account), plan.active());
    if state.accounts().charge_flat(account, price).is_err() {
        state.log().charged(entry, 0).await;
        return error(StatusCode::PAYMENT_REQUIRED, NOT_ENOUGH_ANLAS);
    }
    state.log().charged(entry, price).await;
    tokio::time::sleep(state.latency()).await;
    let fill = state.tool_fill();
    let made = tokio::task::spawn_blocking(move || {
        let mut comment = json!({"req_type": augment.req_type});
        if let Some(p) = &augment.prompt {
            comment["prompt"] = json!(p.split(";;").next().unwrap_or_default());
        }
        if let Some(d) = augment.defry {
            comment["defry"] = json!(d);
        }
        let text = [
            ("Title", "AI augmented image".to_string()),
            ("Software", "NovelAI".to_string()),
            ("Comment", comment.to_string()),
        ];
        let alpha = augment.req_type == "bg-removal";
        let images = (0..augment.images())
            .map(|i| output::png(augment.width, augment.height, alpha, i as u64, fill, &text))
            .collect::<Result<Vec<_>, _>>()?;
        output::stored_zip(&images)
    })
    .await;
    match made {
        Ok(Ok(zip)) => zip_response(zip),
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error"),
    }
}

//! A fake NovelAI for tests and the local stack. It answers like NovelAI:
//!
//! - `POST /user/login {"key"}`: 201 `{"accessToken"}` for the access key of a configured
//!   account (`--account EMAIL:PASSWORD[:TIER[:ANLAS]]`, derived with the real recipe, with
//!   the email as given and lower-cased), 401 "Incorrect access key." otherwise.
//! - `GET /user/subscription`: the token's account (Opus with 10000 Anlas for `--tokens`).
//! - `POST /ai/generate-image`: a zip of `image_0.png`… at the requested size, 401 on a
//!   wrong token, 400 on a body the real API would refuse (per model family), and 429
//!   "Concurrent generation is locked" while another generation is in flight.
//!
//! Test controls: `GET|DELETE /_fake/requests` (the request log; login keys are redacted),
//! `POST|GET|DELETE /_fake/faults` (queued faults for the next generations),
//! `PUT /_fake/config {"latency_ms"}`, `GET /_fake/health`. It listens on 127.0.0.1 only.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{SecondsFormat, Utc};
use clap::Parser;
use naiq::domain::models;
use naiq::novelai::access_key as auth;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

#[derive(Parser, Debug, Clone)]
#[command(name = "fake-novelai", about = "A fake NovelAI API on 127.0.0.1")]
struct Args {
    /// Port to listen on (0 picks a free one; the address is printed on stdout).
    #[arg(long, env = "FAKE_NOVELAI_PORT", default_value_t = 0)]
    port: u16,
    /// Accepted bearer tokens (comma-separated); their subscription is Opus, 10000 Anlas.
    #[arg(
        long,
        env = "FAKE_NOVELAI_TOKENS",
        value_delimiter = ',',
        default_value = "pst-fake-token",
        hide_env_values = true
    )]
    tokens: Vec<String>,
    /// An account that can log in: EMAIL:PASSWORD, EMAIL:PASSWORD:TIER or
    /// EMAIL:PASSWORD:TIER:ANLAS (tier 0-3, default 3 = Opus; Anlas default 10000).
    /// Repeatable; comma-separated in the environment. A password that itself ends in
    /// `:<0-3>` or `:<0-3>:<digits>` needs TIER:ANLAS spelled out.
    #[arg(
        long = "account",
        env = "FAKE_NOVELAI_ACCOUNTS",
        value_delimiter = ',',
        value_parser = parse_account,
        hide_env_values = true
    )]
    accounts: Vec<AccountSpec>,
    /// How long each generation takes, in milliseconds.
    #[arg(long, env = "FAKE_NOVELAI_LATENCY_MS", default_value_t = 200)]
    latency_ms: u64,
}

/// A configured account. `Debug` does not show the password.
#[derive(Clone)]
struct AccountSpec {
    email: String,
    password: String,
    tier: u8,
    anlas: u64,
}

impl fmt::Debug for AccountSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountSpec")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("tier", &self.tier)
            .field("anlas", &self.anlas)
            .finish()
    }
}

fn parse_account(s: &str) -> Result<AccountSpec, String> {
    let usage = "expected EMAIL:PASSWORD[:TIER[:ANLAS]]";
    let (email, rest) = s.split_once(':').ok_or(usage)?;
    let tier = |t: &str| t.parse::<u8>().ok().filter(|t| *t <= 3);
    let parts: Vec<&str> = rest.rsplitn(3, ':').collect();
    let (password, tier, anlas) = match parts.as_slice() {
        [anlas, t, password] if tier(t).is_some() && anlas.parse::<u64>().is_ok() => {
            (*password, tier(t).unwrap(), anlas.parse().unwrap())
        }
        _ => match rest.rsplit_once(':') {
            Some((password, t)) if tier(t).is_some() => (password, tier(t).unwrap(), 10_000),
            _ => (rest, 3, 10_000),
        },
    };
    if email.trim().is_empty() || password.is_empty() {
        return Err(usage.into());
    }
    Ok(AccountSpec {
        email: email.trim().to_string(),
        password: password.to_string(),
        tier,
        anlas,
    })
}

#[derive(Serialize, Clone)]
struct Recorded {
    method: String,
    path: String,
    received_at: String,
    finished_at: Option<String>,
    status: u16,
    body: Value,
}

/// What a logged-in token's account looks like.
#[derive(Clone, Copy)]
struct Plan {
    tier: u8,
    anlas: u64,
}

const OPUS: Plan = Plan {
    tier: 3,
    anlas: 10_000,
};

/// The fault kinds of `POST /_fake/faults`, by their wire names.
const FAULT_KINDS: &[&str] = &[
    "500",
    "429",
    "402",
    "401",
    "hang",
    "corrupt_zip",
    "missing_image",
];

#[derive(Serialize, Clone, Debug)]
struct FaultBatch {
    kind: &'static str,
    count: u64,
}

struct AppState {
    args: Args,
    /// The current latency (`PUT /_fake/config {"latency_ms": N}` changes it).
    latency_ms: AtomicU64,
    busy: AtomicBool,
    log: Mutex<Vec<Recorded>>,
    /// Access key → the account's plan (keys for the email as given and lower-cased).
    keys: HashMap<String, Plan>,
    /// Tokens issued by `/user/login`.
    issued: std::sync::Mutex<HashMap<String, Plan>>,
    issued_count: AtomicU64,
    faults: std::sync::Mutex<VecDeque<FaultBatch>>,
    /// Subscriptions "expire" 30 days after the fake started.
    expires_at: i64,
}

fn now() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        json!({"statusCode": status.as_u16(), "message": message}).to_string(),
    )
        .into_response()
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut keys = HashMap::new();
    for account in &args.accounts {
        let plan = Plan {
            tier: account.tier,
            anlas: account.anlas,
        };
        for email in [account.email.clone(), auth::normalise_email(&account.email)] {
            keys.insert(auth::access_key(&email, &account.password), plan);
        }
    }
    let state = Arc::new(AppState {
        latency_ms: AtomicU64::new(args.latency_ms),
        args: args.clone(),
        busy: AtomicBool::new(false),
        log: Mutex::new(Vec::new()),
        keys,
        issued: std::sync::Mutex::new(HashMap::new()),
        issued_count: AtomicU64::new(0),
        faults: std::sync::Mutex::new(VecDeque::new()),
        expires_at: Utc::now().timestamp() + 30 * 24 * 3600,
    });
    let app = Router::new()
        .route("/ai/generate-image", post(generate))
        .route("/user/login", post(login))
        .route("/user/subscription", get(subscription))
        .route("/_fake/requests", get(requests).delete(clear))
        .route(
            "/_fake/faults",
            get(list_faults).post(add_faults).delete(clear_faults),
        )
        .route("/_fake/health", get(|| async { "ok" }))
        .route("/_fake/config", axum::routing::put(configure))
        .fallback(fallback)
        .with_state(state);
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], args.port))).await?;
    println!(
        "fake NovelAI listening on http://{}",
        listener.local_addr()?
    );
    std::io::stdout().flush()?;
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
}

async fn requests(State(state): State<Arc<AppState>>) -> Response {
    let log = state.log.lock().await;
    axum::Json(log.clone()).into_response()
}

/// Changes the fake's behaviour at run time: `{"latency_ms": N}`.
async fn configure(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let v = parse_body(&body);
    match v.get("latency_ms").and_then(Value::as_u64) {
        Some(ms) => {
            state.latency_ms.store(ms, Ordering::SeqCst);
            axum::Json(json!({"latency_ms": ms})).into_response()
        }
        None => error(StatusCode::BAD_REQUEST, "expected {\"latency_ms\": N}"),
    }
}

async fn clear(State(state): State<Arc<AppState>>) -> StatusCode {
    state.log.lock().await.clear();
    StatusCode::NO_CONTENT
}

fn queued_faults(state: &AppState) -> Value {
    json!(
        state
            .faults
            .lock()
            .unwrap()
            .iter()
            .cloned()
            .collect::<Vec<_>>()
    )
}

/// `GET /_fake/faults`: the queued batches, next first: `[{"kind", "count"}]`.
async fn list_faults(State(state): State<Arc<AppState>>) -> Response {
    axum::Json(queued_faults(&state)).into_response()
}

/// `POST /_fake/faults {"kind": K, "count": N}`: the next N generations (after the queued
/// ones) answer with fault K. Answers the queue.
async fn add_faults(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let kind = v
        .get("kind")
        .and_then(Value::as_str)
        .and_then(|k| FAULT_KINDS.iter().find(|known| **known == k).copied());
    let count = match v.get("count") {
        None => Some(1),
        Some(c) => c.as_u64().filter(|n| *n >= 1),
    };
    let (Some(kind), Some(count)) = (kind, count) else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "expected {{\"kind\": K, \"count\": N}} with K one of {} and N >= 1",
                FAULT_KINDS.join(", ")
            ),
        );
    };
    state
        .faults
        .lock()
        .unwrap()
        .push_back(FaultBatch { kind, count });
    axum::Json(queued_faults(&state)).into_response()
}

async fn clear_faults(State(state): State<Arc<AppState>>) -> StatusCode {
    state.faults.lock().unwrap().clear();
    StatusCode::NO_CONTENT
}

/// Takes one fault off the queue: only a "401" when `only_401`, any other kind otherwise.
fn take_fault(state: &AppState, only_401: bool) -> Option<&'static str> {
    let mut faults = state.faults.lock().unwrap();
    let head = faults.front_mut()?;
    if (head.kind == "401") != only_401 {
        return None;
    }
    let kind = head.kind;
    head.count -= 1;
    if head.count == 0 {
        faults.pop_front();
    }
    Some(kind)
}

async fn fallback(
    State(state): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Response {
    let entry = Recorded {
        method: method.to_string(),
        path: uri.path().to_string(),
        received_at: now(),
        finished_at: Some(now()),
        status: 404,
        body: parse_body(&body),
    };
    state.log.lock().await.push(entry);
    error(StatusCode::NOT_FOUND, "Not Found")
}

fn parse_body(body: &[u8]) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

/// Logs a request as received (status 0, not finished); returns its index.
async fn record_start(state: &AppState, method: &str, path: &str, body: Value) -> usize {
    let mut log = state.log.lock().await;
    log.push(Recorded {
        method: method.into(),
        path: path.into(),
        received_at: now(),
        finished_at: None,
        status: 0,
        body,
    });
    log.len() - 1
}

async fn record_finish(state: &AppState, index: usize, status: StatusCode) {
    let mut log = state.log.lock().await;
    if let Some(entry) = log.get_mut(index) {
        entry.finished_at = Some(now());
        entry.status = status.as_u16();
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The plan of a valid token: a configured one, or one `/user/login` issued.
fn plan_of(state: &AppState, token: Option<&str>) -> Option<Plan> {
    let token = token?;
    if state.args.tokens.iter().any(|ok| ok == token) {
        return Some(OPUS);
    }
    state.issued.lock().unwrap().get(token).copied()
}

/// A login body as recorded: the key is never stored.
fn redacted_login_body(body: &[u8]) -> Value {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(mut map)) => {
            if map.contains_key("key") {
                map.insert("key".into(), json!("<redacted>"));
            }
            Value::Object(map)
        }
        // Anything else might hold a key too: only its size is kept.
        _ if body.is_empty() => Value::Null,
        _ => json!(format!("<{} bytes, not a JSON object>", body.len())),
    }
}

/// A fresh, unguessable-enough token in JWT-like shape.
fn fresh_token(state: &AppState) -> String {
    use std::hash::{BuildHasher, Hasher};
    let n = state.issued_count.fetch_add(1, Ordering::SeqCst);
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or_default();
    let mut hex = String::new();
    for part in 0..2u64 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(n);
        h.write_u64(part);
        h.write_i64(nanos);
        hex.push_str(&format!("{:016x}", h.finish()));
    }
    format!("eyJfake.{hex}")
}

/// `POST /user/login {"key"}`.
async fn login(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    let index = record_start(&state, "POST", "/user/login", redacted_login_body(&body)).await;
    let key = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("key")?.as_str().map(str::to_string));
    let response = match key {
        None => error(
            StatusCode::BAD_REQUEST,
            "A validation error occurred. key must be a string",
        ),
        Some(key) => match state.keys.get(&key) {
            None => error(StatusCode::UNAUTHORIZED, "Incorrect access key."),
            Some(plan) => {
                let token = fresh_token(&state);
                state.issued.lock().unwrap().insert(token.clone(), *plan);
                (
                    StatusCode::CREATED,
                    axum::Json(json!({"accessToken": token})),
                )
                    .into_response()
            }
        },
    };
    record_finish(&state, index, response.status()).await;
    response
}

/// `GET /user/subscription`, shaped like NovelAI's (handbook §1).
async fn subscription(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let index = record_start(&state, "GET", "/user/subscription", Value::Null).await;
    let response = match plan_of(&state, bearer(&headers)) {
        None => error(StatusCode::UNAUTHORIZED, "Unauthorized"),
        Some(plan) => axum::Json(subscription_json(plan, state.expires_at)).into_response(),
    };
    record_finish(&state, index, response.status()).await;
    response
}

fn subscription_json(plan: Plan, expires_at: i64) -> Value {
    let tier = plan.tier;
    let paid = tier > 0;
    let opus = tier == 3;
    // The monthly allowance is "fixed"; Anlas beyond it count as purchased.
    let monthly: u64 = match tier {
        3 => 10_000,
        1 | 2 => 1_000,
        _ => 0,
    };
    let fixed = plan.anlas.min(monthly);
    json!({
        "tier": tier,
        "active": paid,
        "expiresAt": if paid { expires_at } else { 0 },
        "perks": {
            "maxPriorityActions": if paid { 1000 } else { 0 },
            "startPriority": if paid { 10 } else { 1 },
            "moduleTrainingSteps": monthly,
            "unlimitedMaxPriority": opus,
            "voiceGeneration": paid,
            "imageGeneration": paid,
            "unlimitedImageGeneration": opus,
            "unlimitedImageGenerationLimits": if opus {
                json!([{"resolution": 4_194_304, "maxPrompts": 0},
                       {"resolution": 1_048_576, "maxPrompts": 1}])
            } else {
                json!([])
            },
            "contextTokens": if tier >= 2 { 8192 } else { 4096 },
        },
        "paymentProcessorData": null,
        "trainingStepsLeft": {
            "fixedTrainingStepsLeft": fixed,
            "purchasedTrainingSteps": plan.anlas - fixed,
        },
        "accountType": 0,
    })
}

/// Frees the concurrency lock when the generation ends, however it ends.
struct Busy<'a>(&'a AtomicBool);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

async fn generate(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let index = record_start(&state, "POST", "/ai/generate-image", parse_body(&body)).await;
    let response = answer(&state, &headers, &body).await;
    record_finish(&state, index, response.status()).await;
    response
}

async fn answer(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    // A queued "401" answers whatever the token and body.
    if take_fault(state, true).is_some() {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    if plan_of(state, bearer(headers)).is_none() {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let request = match validate(body) {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    if let Some(kind) = take_fault(state, false) {
        return fault(kind, &request).await;
    }
    if state
        .busy
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "Concurrent generation is locked",
        );
    }
    let _busy = Busy(&state.busy);
    tokio::time::sleep(Duration::from_millis(
        state.latency_ms.load(Ordering::SeqCst),
    ))
    .await;
    match tokio::task::spawn_blocking(move || result_zip(&request)).await {
        Ok(Ok(zip)) => zip_response(zip),
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}

fn zip_response(bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "binary/octet-stream")],
        bytes,
    )
        .into_response()
}

/// The answer of an injected fault (it does not take the concurrency lock).
async fn fault(kind: &str, request: &Request) -> Response {
    match kind {
        "500" => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
        "429" => error(
            StatusCode::TOO_MANY_REQUESTS,
            "Concurrent generation is locked",
        ),
        "402" => error(StatusCode::PAYMENT_REQUIRED, "Insufficient Anlas"),
        "hang" => {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        }
        // A local file header followed by junk: no central directory.
        "corrupt_zip" => {
            let mut bytes = b"PK\x03\x04".to_vec();
            bytes.extend(std::iter::repeat_n(0xA5u8, 512));
            zip_response(bytes)
        }
        "missing_image" => {
            let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
            let options = zip::write::SimpleFileOptions::default();
            let made = zip
                .start_file("notes.txt", options)
                .map_err(|e| e.to_string())
                .and_then(|()| {
                    zip.write_all(format!("no image for {:?}", request.prompt).as_bytes())
                        .map_err(|e| e.to_string())
                })
                .and_then(|()| zip.finish().map_err(|e| e.to_string()));
            match made {
                Ok(cursor) => zip_response(cursor.into_inner()),
                Err(_) => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
            }
        }
        _ => error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
    }
}

struct Request {
    prompt: String,
    model: String,
    width: u32,
    height: u32,
    n_samples: u32,
    seed: u64,
    parameters: Value,
}

/// Model families, as far as the request body goes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    /// V1/V2: `params_version` 1.
    Legacy,
    /// `nai-diffusion-3`, `nai-diffusion-furry-3`: `params_version` 1, SMEA, `ddim_v3`.
    V3,
    /// `nai-diffusion-4*` (V4 and V4.5): `params_version` 3, `v4_prompt`.
    V4,
    /// `nai-diffusion-5*`: `params_version` 4, `v4_prompt`.
    V5,
}

impl Family {
    fn of(model: &str) -> Option<Family> {
        let base = model.strip_suffix("-inpainting").unwrap_or(model);
        match base {
            "nai-diffusion" | "safe-diffusion" | "nai-diffusion-furry" | "nai-diffusion-2" => {
                Some(Family::Legacy)
            }
            "nai-diffusion-3" | "nai-diffusion-furry-3" => Some(Family::V3),
            b if b.starts_with("nai-diffusion-4") => Some(Family::V4),
            b if b.starts_with("nai-diffusion-5") => Some(Family::V5),
            _ => None,
        }
    }

    fn params_version(self) -> u64 {
        match self {
            Family::Legacy | Family::V3 => 1,
            Family::V4 => 3,
            Family::V5 => 4,
        }
    }

    fn has_v4_prompt(self) -> bool {
        matches!(self, Family::V4 | Family::V5)
    }
}

/// Decodes standard base64 (padding optional); `None` if it is not base64.
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let data = s.trim_end_matches('=');
    if s.len() - data.len() > 2 || data.len() % 4 == 1 || data.is_empty() {
        return None;
    }
    let mut out = Vec::with_capacity(data.len() / 4 * 3 + 2);
    for chunk in data.as_bytes().chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Checks a body the way NovelAI does (400 "A validation error occurred." + a detail).
fn validate(body: &[u8]) -> Result<Request, String> {
    let invalid = |why: &str| format!("A validation error occurred. {why}");
    let v: Value = serde_json::from_slice(body).map_err(|_| invalid("body is not JSON"))?;
    let model = v["model"].as_str().ok_or_else(|| invalid("model"))?;
    let family = Family::of(model).ok_or_else(|| invalid(&format!("unknown model {model:?}")))?;
    let p = &v["parameters"];
    if !p.is_object() {
        return Err(invalid("parameters"));
    }
    let prompt = match v["input"].as_str().filter(|s| !s.trim().is_empty()) {
        Some(prompt) => prompt,
        None if family == Family::V3 && p.get("v4_prompt").is_some() => {
            return Err(invalid(
                "input: V3 models take the prompt in input, not v4_prompt",
            ));
        }
        None => return Err(invalid("input")),
    };
    let action = v["action"].as_str().unwrap_or_default();
    match action {
        "generate" | "img2img" => {}
        "infill" if model.ends_with("-inpainting") => {}
        "infill" => return Err(invalid("infill needs an inpainting model")),
        _ => return Err(invalid("action")),
    }
    let dim = |name: &str| {
        p[name]
            .as_u64()
            .filter(|n| *n >= 64 && n % 64 == 0 && *n <= 4096)
            .map(|n| n as u32)
            .ok_or_else(|| invalid(name))
    };
    let (width, height) = (dim("width")?, dim("height")?);
    if u64::from(width) * u64::from(height) > models::MAX_AREA {
        return Err(invalid("image too large"));
    }
    p["steps"]
        .as_u64()
        .filter(|s| (1..=50).contains(s))
        .ok_or_else(|| invalid("steps"))?;
    p["scale"]
        .as_f64()
        .filter(|s| (0.0..=10.0).contains(s))
        .ok_or_else(|| invalid("scale"))?;
    let n_samples = p["n_samples"]
        .as_u64()
        .filter(|n| (1..=8).contains(n))
        .ok_or_else(|| invalid("n_samples"))? as u32;
    let max = models::max_samples(width, height);
    if n_samples > max {
        return Err(invalid(&format!(
            "n_samples: at most {max} at {width}x{height}"
        )));
    }

    // Sampler and noise schedule per family.
    let sampler = p["sampler"].as_str().ok_or_else(|| invalid("sampler"))?;
    let smea_sampler = matches!(sampler, "nai_smea" | "nai_smea_dyn");
    if !models::SAMPLERS.contains(&sampler) && !smea_sampler {
        return Err(invalid(&format!("unknown sampler {sampler:?}")));
    }
    if (sampler == "ddim_v3" || smea_sampler) && family != Family::V3 {
        return Err(invalid(&format!("sampler {sampler} is only for V3 models")));
    }
    if sampler == "ddim" && family.has_v4_prompt() {
        return Err(invalid("sampler ddim is not available for V4+ models"));
    }
    if let Some(schedule) = p.get("noise_schedule").filter(|s| !s.is_null()) {
        let schedule = schedule
            .as_str()
            .filter(|s| models::NOISE_SCHEDULES.contains(s))
            .ok_or_else(|| invalid("noise_schedule"))?;
        if schedule == "native" && family.has_v4_prompt() {
            return Err(invalid(
                "noise_schedule native is not available for V4+ models",
            ));
        }
    }
    for smea in ["sm", "sm_dyn"] {
        match p.get(smea) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => {}
            Some(Value::Bool(true)) if family == Family::V3 => {}
            Some(Value::Bool(true)) => {
                return Err(invalid(&format!("{smea} is only for V3 models")));
            }
            Some(_) => return Err(invalid(smea)),
        }
    }

    // params_version and the prompt fields.
    let expected = family.params_version();
    match p.get("params_version").filter(|v| !v.is_null()) {
        None if family.has_v4_prompt() => {
            return Err(invalid(&format!("params_version must be {expected}")));
        }
        None => {}
        Some(version) if version.as_u64() == Some(expected) => {}
        Some(_) => return Err(invalid(&format!("params_version must be {expected}"))),
    }
    if family.has_v4_prompt() {
        check_v4_prompts(p).map_err(|why| invalid(&why))?;
    }

    // Image-to-image and inpainting.
    if matches!(action, "img2img" | "infill") {
        p["image"]
            .as_str()
            .and_then(decode_base64)
            .ok_or_else(|| invalid("image must be base64"))?;
    }
    if action == "infill" {
        p["mask"]
            .as_str()
            .and_then(decode_base64)
            .ok_or_else(|| invalid("mask must be base64"))?;
    }
    if action == "img2img" {
        p["strength"]
            .as_f64()
            .filter(|s| *s > 0.0 && *s < 1.0)
            .ok_or_else(|| invalid("strength must be in (0, 1)"))?;
        if let Some(noise) = p.get("noise").filter(|n| !n.is_null()) {
            noise
                .as_f64()
                .filter(|n| (0.0..1.0).contains(n))
                .ok_or_else(|| invalid("noise must be in [0, 1)"))?;
        }
    }
    Ok(Request {
        prompt: prompt.to_string(),
        model: model.to_string(),
        width,
        height,
        n_samples,
        seed: p["seed"].as_u64().unwrap_or(0),
        parameters: p.clone(),
    })
}

/// `v4_prompt` / `v4_negative_prompt` of V4+ bodies: captions present, character captions
/// well formed and as many in both (NovelAI itself answers a 500 for uneven ones).
fn check_v4_prompts(p: &Value) -> Result<(), String> {
    let positive = &p["v4_prompt"];
    if !positive.is_object() {
        return Err("v4_prompt must be an object".into());
    }
    if !positive["caption"]["base_caption"].is_string() {
        return Err("v4_prompt.caption.base_caption must be a string".into());
    }
    let negative = &p["v4_negative_prompt"];
    if !negative.is_object() {
        return Err("v4_negative_prompt must be an object".into());
    }
    let chars = |which: &str, v: &Value| -> Result<usize, String> {
        let list = match v["caption"].get("char_captions") {
            None | Some(Value::Null) => return Ok(0),
            Some(Value::Array(list)) => list,
            Some(_) => return Err(format!("{which}.caption.char_captions must be an array")),
        };
        for (i, c) in list.iter().enumerate() {
            let centers = c["centers"].as_array();
            let ok = c["char_caption"].is_string()
                && centers.is_some_and(|cs| {
                    !cs.is_empty()
                        && cs.iter().all(|xy| {
                            ["x", "y"]
                                .iter()
                                .all(|k| xy[k].as_f64().is_some_and(|f| (0.0..=1.0).contains(&f)))
                        })
                });
            if !ok {
                return Err(format!(
                    "{which}.caption.char_captions[{i}] needs char_caption and centers [{{x, y}}]"
                ));
            }
        }
        Ok(list.len())
    };
    let (n_pos, n_neg) = (
        chars("v4_prompt", positive)?,
        chars("v4_negative_prompt", negative)?,
    );
    if n_pos != n_neg {
        return Err(format!(
            "char_captions: {n_pos} in v4_prompt but {n_neg} in v4_negative_prompt"
        ));
    }
    if let Some(list) = p.get("characterPrompts").and_then(Value::as_array)
        && list.len() != n_pos
    {
        return Err(format!(
            "characterPrompts: {} entries for {n_pos} char_captions",
            list.len()
        ));
    }
    Ok(())
}

fn result_zip(r: &Request) -> Result<Vec<u8>, String> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for i in 0..r.n_samples {
        let png = image_png(r, i).map_err(|e| e.to_string())?;
        zip.start_file(format!("image_{i}.png"), options)
            .map_err(|e| e.to_string())?;
        zip.write_all(&png).map_err(|e| e.to_string())?;
    }
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

/// An RGBA PNG with NovelAI-like text metadata; its colours depend on the seed.
fn image_png(r: &Request, sample: u32) -> Result<Vec<u8>, png::EncodingError> {
    let seed = r.seed.wrapping_add(u64::from(sample));
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, r.width, r.height);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.set_compression(png::Compression::Fast);
        enc.add_text_chunk("Title".into(), "AI generated image".into())?;
        enc.add_text_chunk("Description".into(), r.prompt.clone())?;
        enc.add_text_chunk("Software".into(), "NovelAI".into())?;
        enc.add_text_chunk("Source".into(), format!("fake NovelAI ({})", r.model))?;
        let mut comment = r.parameters.clone();
        if let Some(c) = comment.as_object_mut() {
            c.remove("image");
            c.insert("prompt".into(), json!(r.prompt));
            c.insert("seed".into(), json!(seed));
        }
        enc.add_text_chunk("Comment".into(), comment.to_string())?;
        let mut writer = enc.write_header()?;
        let (w, h) = (r.width as usize, r.height as usize);
        let mut data = vec![0u8; w * h * 4];
        let tint = [
            (seed % 200) as u8,
            (seed / 7 % 200) as u8,
            (seed / 49 % 200) as u8,
        ];
        for y in 0..h {
            let shade = (y * 255 / h) as u8;
            for x in 0..w {
                let p = (y * w + x) * 4;
                data[p] = tint[0].wrapping_add(shade / 2);
                data[p + 1] = tint[1].wrapping_add((x * 255 / w) as u8 / 2);
                data[p + 2] = tint[2];
                data[p + 3] = 255;
            }
        }
        writer.write_image_data(&data)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_specs_parse_with_optional_tier_and_anlas() {
        let a = parse_account("a@b.c:pw").unwrap();
        assert_eq!(
            (a.email.as_str(), a.password.as_str(), a.tier, a.anlas),
            ("a@b.c", "pw", 3, 10_000)
        );
        let a = parse_account("a@b.c:pw:1").unwrap();
        assert_eq!((a.password.as_str(), a.tier, a.anlas), ("pw", 1, 10_000));
        let a = parse_account("a@b.c:p:w:0:25").unwrap();
        assert_eq!((a.password.as_str(), a.tier, a.anlas), ("p:w", 0, 25));
        // Not a tier: part of the password.
        let a = parse_account("a@b.c:pw:7").unwrap();
        assert_eq!((a.password.as_str(), a.tier), ("pw:7", 3));
        assert!(parse_account("no-colon").is_err());
        assert!(parse_account("a@b.c:").is_err());
        assert!(!format!("{:?}", parse_account("a@b.c:hunter2").unwrap()).contains("hunter2"));
    }

    #[test]
    fn base64_decodes_like_the_standard_alphabet() {
        assert_eq!(
            decode_base64("iVBORw0KGgp4eA==").unwrap(),
            b"\x89PNG\r\n\x1a\nxx"
        );
        assert_eq!(
            decode_base64("iVBORw0KGgp4eA").unwrap(),
            b"\x89PNG\r\n\x1a\nxx"
        );
        assert_eq!(decode_base64("AAAA").unwrap(), [0, 0, 0]);
        assert_eq!(decode_base64("/+8=").unwrap(), [0xff, 0xef]);
        for bad in ["", "A", "not base64!", "AA===", "-_8="] {
            assert!(decode_base64(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn faults_are_taken_in_order() {
        let faults = std::sync::Mutex::new(VecDeque::from([
            FaultBatch {
                kind: "401",
                count: 1,
            },
            FaultBatch {
                kind: "500",
                count: 2,
            },
        ]));
        let state = AppState {
            args: Args::parse_from(["fake-novelai"]),
            latency_ms: AtomicU64::new(0),
            busy: AtomicBool::new(false),
            log: Mutex::new(Vec::new()),
            keys: HashMap::new(),
            issued: std::sync::Mutex::new(HashMap::new()),
            issued_count: AtomicU64::new(0),
            faults,
            expires_at: 0,
        };
        assert_eq!(take_fault(&state, false), None, "a 401 is first");
        assert_eq!(take_fault(&state, true), Some("401"));
        assert_eq!(take_fault(&state, true), None);
        assert_eq!(take_fault(&state, false), Some("500"));
        assert_eq!(take_fault(&state, false), Some("500"));
        assert_eq!(take_fault(&state, false), None);
    }
}

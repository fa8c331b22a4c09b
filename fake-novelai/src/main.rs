//! A fake NovelAI image API for tests and the local stack. It answers like NovelAI:
//! `POST /ai/generate-image` gives a zip of `image_0.png`… at the requested size, 401 on a
//! wrong token, 400 on a malformed body, and 429 "Concurrent generation is locked" while
//! another generation is in flight. Every request is recorded; `GET /_fake/requests`
//! returns them. It listens on 127.0.0.1 only.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{SecondsFormat, Utc};
use clap::Parser;
use serde::Serialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

#[derive(Parser, Debug, Clone)]
#[command(name = "fake-novelai", about = "A fake NovelAI image API on 127.0.0.1")]
struct Args {
    /// Port to listen on (0 picks a free one; the address is printed on stdout).
    #[arg(long, env = "FAKE_NOVELAI_PORT", default_value_t = 0)]
    port: u16,
    /// Accepted bearer tokens (comma-separated).
    #[arg(
        long,
        env = "FAKE_NOVELAI_TOKENS",
        value_delimiter = ',',
        default_value = "pst-fake-token"
    )]
    tokens: Vec<String>,
    /// How long each generation takes, in milliseconds.
    #[arg(long, env = "FAKE_NOVELAI_LATENCY_MS", default_value_t = 200)]
    latency_ms: u64,
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

struct AppState {
    args: Args,
    /// The current latency (`PUT /_fake/config {"latency_ms": N}` changes it).
    latency_ms: std::sync::atomic::AtomicU64,
    busy: AtomicBool,
    log: Mutex<Vec<Recorded>>,
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
    let state = Arc::new(AppState {
        latency_ms: std::sync::atomic::AtomicU64::new(args.latency_ms),
        args: args.clone(),
        busy: AtomicBool::new(false),
        log: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/ai/generate-image", post(generate))
        .route("/_fake/requests", get(requests).delete(clear))
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

/// Frees the concurrency lock when the generation ends, however it ends.
struct Busy<'a>(&'a AtomicBool);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

async fn generate(State(state): State<Arc<AppState>>, headers: HeaderMap, body: Bytes) -> Response {
    let received_at = now();
    let index = {
        let mut log = state.log.lock().await;
        log.push(Recorded {
            method: "POST".into(),
            path: "/ai/generate-image".into(),
            received_at,
            finished_at: None,
            status: 0,
            body: parse_body(&body),
        });
        log.len() - 1
    };
    let response = answer(&state, &headers, &body).await;
    let mut log = state.log.lock().await;
    if let Some(entry) = log.get_mut(index) {
        entry.finished_at = Some(now());
        entry.status = response.status().as_u16();
    }
    response
}

async fn answer(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if !token.is_some_and(|t| state.args.tokens.iter().any(|ok| ok == t)) {
        return error(StatusCode::UNAUTHORIZED, "Unauthorized");
    }
    let request = match validate(body) {
        Ok(r) => r,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
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
        Ok(Ok(zip)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "binary/octet-stream")],
            zip,
        )
            .into_response(),
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

/// Checks a body the way NovelAI does (its message for every invalid body is the same).
fn validate(body: &[u8]) -> Result<Request, String> {
    let invalid = |why: &str| format!("A validation error occurred. {why}");
    let v: Value = serde_json::from_slice(body).map_err(|_| invalid("body is not JSON"))?;
    let prompt = v["input"]
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| invalid("input"))?;
    let model = v["model"]
        .as_str()
        .filter(|m| m.starts_with("nai-diffusion") || *m == "safe-diffusion")
        .ok_or_else(|| invalid("model"))?;
    match v["action"].as_str() {
        Some("generate" | "img2img" | "infill") => {}
        _ => return Err(invalid("action")),
    }
    let p = &v["parameters"];
    if !p.is_object() {
        return Err(invalid("parameters"));
    }
    let dim = |name: &str| {
        p[name]
            .as_u64()
            .filter(|n| *n >= 64 && n % 64 == 0 && *n <= 4096)
            .map(|n| n as u32)
            .ok_or_else(|| invalid(name))
    };
    let (width, height) = (dim("width")?, dim("height")?);
    if u64::from(width) * u64::from(height) > 3_145_728 {
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
    p["sampler"].as_str().ok_or_else(|| invalid("sampler"))?;
    let n_samples = p["n_samples"]
        .as_u64()
        .filter(|n| (1..=8).contains(n))
        .ok_or_else(|| invalid("n_samples"))? as u32;
    if v["action"] == "img2img" && !p["image"].is_string() {
        return Err(invalid("image"));
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

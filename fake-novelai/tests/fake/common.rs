//! Starting a fake, calling it, and reading its answers.

use std::io::{Cursor, Read};
use std::time::Duration;

use fake_novelai::{Config, RunningFake};
use serde_json::{Value, json};

/// The tokens every test fake accepts (one account).
pub const GOOD: &str = "pst-good";
pub const OTHER: &str = "pst-other";

/// A fake with the tokens [`GOOD`] and [`OTHER`] and this latency.
pub async fn start(latency_ms: u64) -> RunningFake {
    start_with(config(latency_ms)).await
}

pub fn config(latency_ms: u64) -> Config {
    Config::default()
        .with_tokens([GOOD, OTHER])
        .with_latency(Duration::from_millis(latency_ms))
}

pub async fn start_with(config: Config) -> RunningFake {
    let fake = fake_novelai::spawn(config).await.expect("the fake starts");
    assert!(
        fake.url().starts_with("http://127.0.0.1:"),
        "{}",
        fake.url()
    );
    fake
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// An answer, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub bytes: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&self.bytes)))
    }

    /// The error body's message, after checking it is NovelAI's `{statusCode, message}`.
    pub fn message(&self) -> String {
        let v = self.json();
        assert_eq!(v["statusCode"], self.status, "{v}");
        v["message"].as_str().unwrap().to_string()
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub async fn read(resp: reqwest::Response) -> Answer {
    Answer {
        status: resp.status().as_u16(),
        headers: resp.headers().clone(),
        bytes: resp.bytes().await.unwrap().to_vec(),
    }
}

/// `POST /ai/generate-image` with a raw body.
pub async fn generate_raw(
    fake: &RunningFake,
    token: &str,
    body: impl Into<reqwest::Body>,
) -> Answer {
    let resp = http()
        .post(format!("{}/ai/generate-image", fake.url()))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    read(resp).await
}

pub async fn generate(fake: &RunningFake, token: &str, body: &Value) -> Answer {
    generate_raw(fake, token, body.to_string()).await
}

pub async fn get(fake: &RunningFake, path: &str, token: Option<&str>) -> Answer {
    let mut req = http().get(format!("{}{path}", fake.url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    read(req.send().await.unwrap()).await
}

pub async fn send(fake: &RunningFake, method: reqwest::Method, path: &str, body: &str) -> Answer {
    let resp = http()
        .request(method, format!("{}{path}", fake.url()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    read(resp).await
}

/// `GET /_fake/requests`.
pub async fn log(fake: &RunningFake) -> Vec<Value> {
    serde_json::from_value(get(fake, "/_fake/requests", None).await.json()).unwrap()
}

/// `POST /_fake/faults {"kind", "count"}`; answers the queue.
pub async fn inject(fake: &RunningFake, kind: &str, count: u64) -> Answer {
    let body = json!({"kind": kind, "count": count}).to_string();
    send(fake, reqwest::Method::POST, "/_fake/faults", &body).await
}

pub async fn queued(fake: &RunningFake) -> Value {
    get(fake, "/_fake/faults", None).await.json()
}

/// One PNG of a result, decoded.
#[derive(Debug)]
pub struct Png {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub color: png::ColorType,
    /// `tEXt` chunks, then `iTXt` chunks: (keyword, text).
    pub latin1: Vec<(String, String)>,
    pub utf8: Vec<(String, String)>,
}

impl Png {
    /// A text field, from whichever chunk holds it.
    pub fn text(&self, keyword: &str) -> Option<&str> {
        self.latin1
            .iter()
            .chain(&self.utf8)
            .find(|(k, _)| k == keyword)
            .map(|(_, v)| v.as_str())
    }

    pub fn comment(&self) -> Value {
        serde_json::from_str(self.text("Comment").expect("a Comment")).unwrap()
    }
}

/// Decodes a PNG fully (pixels too, so corruption shows).
pub fn decode_png(name: &str, bytes: &[u8]) -> Png {
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_ignore_text_chunk(false);
    let mut reader = decoder
        .read_info()
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let info = reader.info();
    Png {
        name: name.to_string(),
        width: frame.width,
        height: frame.height,
        color: frame.color_type,
        latin1: info
            .uncompressed_latin1_text
            .iter()
            .map(|c| (c.keyword.clone(), c.text.clone()))
            .collect(),
        utf8: info
            .utf8_text
            .iter()
            .map(|c| (c.keyword.clone(), c.get_text().unwrap()))
            .collect(),
    }
}

/// The entries of a zip, in order, with their compression.
pub fn unzip(
    bytes: &[u8],
) -> zip::result::ZipResult<Vec<(String, zip::CompressionMethod, Vec<u8>)>> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes))?;
    let mut entries = Vec::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i)?;
        let mut data = Vec::new();
        file.read_to_end(&mut data)?;
        entries.push((file.name()?.to_string(), file.compression(), data));
    }
    Ok(entries)
}

/// A successful answer's images, after checking NovelAI's zip form.
pub fn images(answer: &Answer) -> Vec<Png> {
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.bytes)
    );
    assert_eq!(answer.header("content-type"), Some("binary/octet-stream"));
    assert_eq!(
        answer.header("content-disposition"),
        Some("attachment; filename=images.zip")
    );
    let entries = unzip(&answer.bytes).expect("a zip");
    entries
        .iter()
        .enumerate()
        .map(|(i, (name, method, data))| {
            assert_eq!(name, &format!("image_{i}.png"));
            assert_eq!(*method, zip::CompressionMethod::Deflated, "{name}");
            decode_png(name, data)
        })
        .collect()
}

/// One WebP of a result, decoded.
#[derive(Debug)]
pub struct Webp {
    pub width: u32,
    pub height: u32,
    pub lossy: bool,
    /// The JSON in the EXIF `UserComment`: `{Title, Description, Software, Source, …}`.
    pub metadata: Value,
}

impl Webp {
    pub fn comment(&self) -> Value {
        serde_json::from_str(self.metadata["Comment"].as_str().expect("a Comment")).unwrap()
    }
}

/// Decodes a WebP fully (pixels too) and reads its EXIF `UserComment` JSON.
pub fn decode_webp(name: &str, bytes: &[u8]) -> Webp {
    assert!(
        bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP",
        "{name}"
    );
    let mut decoder =
        image_webp::WebPDecoder::new(Cursor::new(bytes)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let (width, height) = decoder.dimensions();
    let lossy = decoder.is_lossy();
    let mut buf = vec![0; decoder.output_buffer_size().unwrap()];
    decoder
        .read_image(&mut buf)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let exif = decoder.exif_metadata().unwrap().expect("EXIF");
    assert!(exif.starts_with(b"II\x2a\x00"), "a little-endian TIFF");
    let marker = b"ASCII\0\0\0";
    let at = exif
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("a UserComment in ASCII");
    let text = std::str::from_utf8(&exif[at + marker.len()..]).unwrap();
    assert!(text.is_ascii());
    Webp {
        width,
        height,
        lossy,
        metadata: serde_json::from_str(text).unwrap(),
    }
}

/// A successful answer's WebPs, after checking NovelAI's zip form.
pub fn webp_images(answer: &Answer) -> Vec<Webp> {
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.bytes)
    );
    assert_eq!(answer.header("content-type"), Some("binary/octet-stream"));
    unzip(&answer.bytes)
        .expect("a zip")
        .iter()
        .enumerate()
        .map(|(i, (name, method, data))| {
            assert_eq!(name, &format!("image_{i}.webp"));
            assert_eq!(*method, zip::CompressionMethod::Deflated, "{name}");
            decode_webp(name, data)
        })
        .collect()
}

/// `POST /ai/generate-image` with `Accept: application/json`.
pub async fn generate_json(fake: &RunningFake, token: &str, body: &Value) -> Answer {
    let resp = http()
        .post(format!("{}/ai/generate-image", fake.url()))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    read(resp).await
}

/// A JSON answer's images: (index, seed, bytes), after checking its form.
pub fn json_images(answer: &Answer) -> Vec<(u64, u64, Vec<u8>)> {
    use base64::Engine as _;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.bytes)
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let v = answer.json();
    assert_eq!(v.as_object().unwrap().len(), 1, "only images: {v:.200}");
    v["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            assert_eq!(i.as_object().unwrap().len(), 3, "{i:.200}");
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(i["image"].as_str().unwrap())
                .unwrap();
            (
                i["index"].as_u64().unwrap(),
                i["seed"].as_u64().unwrap(),
                bytes,
            )
        })
        .collect()
}

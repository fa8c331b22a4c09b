//! A NovelAI stand-in in memory.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use naiq_core::domain::Credentials;
use naiq_core::domain::account::AccountInfo;
use naiq_core::novelai::stream_answer::stream_body;
use naiq_core::novelai::{AugmentRequest, EncodeVibeRequest, ImageRequest, UpscaleRequest};
use naiq_core::ports::{Clock, GeneratedImage, Preview, PreviewSink, Upstream, UpstreamError};

use super::lock;
use crate::png_of;
use naiq_core::domain::request::ImageFormat;

/// A NovelAI stand-in: answers with real PNGs of the requested size, or with the failures
/// queued by the test; records every body it was sent.
pub struct MemoryUpstream {
    failures: Mutex<VecDeque<UpstreamError>>,
    pub calls: Mutex<Vec<serde_json::Value>>,
    /// Every `/ai/encode-vibe` body (image elided), in order.
    pub encodes: Mutex<Vec<serde_json::Value>>,
    /// Every `/ai/augment-image` and `/ai/upscale` body (image elided), in order, each
    /// with the path it went to as `"path"`.
    pub director_calls: Mutex<Vec<serde_json::Value>>,
    in_flight: std::sync::atomic::AtomicBool,
    /// Set if two calls ever overlapped.
    pub overlapped: std::sync::atomic::AtomicBool,
    /// When each call started, by `clock` (when given).
    pub started_at: Mutex<Vec<DateTime<Utc>>>,
    /// What `subscription` answers (Opus with 10,000 Anlas unless a test changes it).
    pub account: Mutex<AccountInfo>,
    /// How many times `subscription` was called.
    pub subscription_calls: std::sync::atomic::AtomicU64,
    clock: Option<std::sync::Arc<dyn Clock>>,
    /// Streamed generations: the clock moved forward after each step's preview, and by
    /// how much (none: previews come at no time).
    step_time: Mutex<Option<(std::sync::Arc<crate::ManualClock>, chrono::Duration)>>,
    /// Streamed generations that break off after this many previews, in order.
    cuts: Mutex<VecDeque<u32>>,
}

impl Default for MemoryUpstream {
    fn default() -> Self {
        Self {
            failures: Mutex::default(),
            calls: Mutex::default(),
            encodes: Mutex::default(),
            director_calls: Mutex::default(),
            in_flight: Default::default(),
            overlapped: Default::default(),
            started_at: Mutex::default(),
            account: Mutex::new(AccountInfo {
                tier: 3,
                active: true,
                anlas: 10_000,
                v5_usage: None,
                checked_at: DateTime::<Utc>::UNIX_EPOCH,
            }),
            subscription_calls: Default::default(),
            clock: None,
            step_time: Mutex::default(),
            cuts: Mutex::default(),
        }
    }
}

impl MemoryUpstream {
    /// Records each call's start time by this clock.
    pub fn with_clock(clock: std::sync::Arc<dyn Clock>) -> Self {
        Self {
            clock: Some(clock),
            ..Self::default()
        }
    }

    /// The next call answers with this error.
    pub fn fail_next(&self, error: UpstreamError) {
        lock(&self.failures).push_back(error);
    }

    pub fn call_count(&self) -> usize {
        lock(&self.calls).len()
    }

    /// Each streamed step takes `per_step` on `clock`.
    pub fn step_time(&self, clock: std::sync::Arc<crate::ManualClock>, per_step: chrono::Duration) {
        *lock(&self.step_time) = Some((clock, per_step));
    }

    /// The next streamed generation breaks off after `previews` previews
    /// (`UpstreamError::Stream`), as a stream cut mid-way does.
    pub fn cut_next_stream(&self, previews: u32) {
        lock(&self.cuts).push_back(previews);
    }

    fn images_for(request: &ImageRequest) -> Vec<GeneratedImage> {
        let p = &request.parameters;
        let (w, h) = (p.width, p.height);
        let format = match p.image_format {
            "webp" => ImageFormat::Webp,
            _ => ImageFormat::Png,
        };
        (0..p.n_samples as usize)
            .map(|_| GeneratedImage {
                bytes: image_of(w, h, format).into(),
                format,
                width: w,
                height: h,
            })
            .collect()
    }

    /// A stream's previews, one sample after another (steps − 1 each, as NovelAI sends
    /// them), moving the step clock; `Err` where a queued cut stops it.
    async fn stream_previews(
        &self,
        request: &ImageRequest,
        previews: &dyn PreviewSink,
    ) -> Result<(), UpstreamError> {
        let steps = request.parameters.steps;
        let cut = lock(&self.cuts).pop_front();
        let step_time = lock(&self.step_time).clone();
        let mut sent = 0;
        for sample in 0..request.parameters.n_samples {
            for step in 1..steps {
                if cut == Some(sent) {
                    return Err(UpstreamError::Stream(format!(
                        "the stream ended inside a frame after {sent} previews"
                    )));
                }
                if let Some((clock, per_step)) = &step_time {
                    clock.advance(*per_step);
                }
                let jpeg = preview_jpeg(step as u8);
                previews
                    .preview(Preview {
                        sample,
                        step,
                        steps,
                        jpeg,
                    })
                    .await;
                sent += 1;
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Upstream for MemoryUpstream {
    async fn generate(
        &self,
        _credentials: &Credentials,
        request: &ImageRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        if self.in_flight.swap(true, Ordering::SeqCst) {
            self.overlapped.store(true, Ordering::SeqCst);
        }
        lock(&self.calls).push(request.to_json());
        if let Some(c) = &self.clock {
            lock(&self.started_at).push(c.now());
        }
        let result = match lock(&self.failures).pop_front() {
            Some(e) => Err(e),
            None => Ok(Self::images_for(request)),
        };
        self.in_flight.store(false, Ordering::SeqCst);
        result
    }

    async fn generate_stream(
        &self,
        _credentials: &Credentials,
        request: &ImageRequest,
        previews: &dyn PreviewSink,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        if self.in_flight.swap(true, Ordering::SeqCst) {
            self.overlapped.store(true, Ordering::SeqCst);
        }
        lock(&self.calls).push(stream_body(request));
        if let Some(c) = &self.clock {
            lock(&self.started_at).push(c.now());
        }
        let failure = lock(&self.failures).pop_front();
        let result = match failure {
            Some(e) => Err(e),
            None => match self.stream_previews(request, previews).await {
                Ok(()) => Ok(Self::images_for(request)),
                Err(e) => Err(e),
            },
        };
        self.in_flight.store(false, Ordering::SeqCst);
        result
    }

    async fn encode_vibe(
        &self,
        _credentials: &Credentials,
        request: &EncodeVibeRequest,
    ) -> Result<Vec<u8>, UpstreamError> {
        if self.in_flight.swap(true, Ordering::SeqCst) {
            self.overlapped.store(true, Ordering::SeqCst);
        }
        lock(&self.encodes).push(serde_json::json!({
            "model": request.model,
            "information_extracted": request.information_extracted.0,
            "image_chars": request.image.len(),
        }));
        if let Some(c) = &self.clock {
            lock(&self.started_at).push(c.now());
        }
        let result = match lock(&self.failures).pop_front() {
            Some(e) => Err(e),
            None => Ok(format!("vibe:{}:{}", request.model, request.image.len()).into_bytes()),
        };
        self.in_flight.store(false, Ordering::SeqCst);
        result
    }

    async fn augment(
        &self,
        _credentials: &Credentials,
        request: &AugmentRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        let mut body = request.redacted().to_json();
        body["path"] = "/ai/augment-image".into();
        let count = if request.req_type == "bg-removal" {
            3
        } else {
            1
        };
        let (w, h) = (request.width, request.height);
        self.director_call(body, || Ok((count, w, h)))
    }

    async fn upscale(
        &self,
        _credentials: &Credentials,
        request: &UpscaleRequest,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        let mut body = request.redacted().to_json();
        body["path"] = "/ai/upscale".into();
        let image = request.image.clone();
        self.director_call(body, move || {
            let (w, h) = png_size(&image)?;
            Ok((1, 2 * w, 2 * h))
        })
    }

    async fn subscription(&self, _credentials: &Credentials) -> Result<AccountInfo, UpstreamError> {
        self.subscription_calls.fetch_add(1, Ordering::SeqCst);
        Ok(lock(&self.account).clone())
    }
}

/// A small real JPEG, its shade by step, like a step's preview.
fn preview_jpeg(shade: u8) -> Vec<u8> {
    let img = image::RgbImage::from_pixel(16, 24, image::Rgb([shade, 64, 128]));
    let mut out = Vec::new();
    img.write_to(
        &mut std::io::Cursor::new(&mut out),
        image::ImageFormat::Jpeg,
    )
    .expect("jpeg encodes");
    out
}

impl MemoryUpstream {
    /// One Director tool or upscale call: recorded, then the queued failure or `count`
    /// PNGs of the size `answer` works out (an unreadable image is NovelAI's 400).
    fn director_call(
        &self,
        body: serde_json::Value,
        answer: impl FnOnce() -> Result<(usize, u32, u32), UpstreamError>,
    ) -> Result<Vec<GeneratedImage>, UpstreamError> {
        if self.in_flight.swap(true, Ordering::SeqCst) {
            self.overlapped.store(true, Ordering::SeqCst);
        }
        lock(&self.director_calls).push(body);
        if let Some(c) = &self.clock {
            lock(&self.started_at).push(c.now());
        }
        let result = match lock(&self.failures).pop_front() {
            Some(e) => Err(e),
            None => answer().map(|(count, w, h)| {
                (0..count)
                    .map(|_| GeneratedImage {
                        bytes: png_of(w, h).into(),
                        format: ImageFormat::Png,
                        width: w,
                        height: h,
                    })
                    .collect()
            }),
        };
        self.in_flight.store(false, Ordering::SeqCst);
        result
    }
}

/// The size of a base64 PNG, from its header.
fn png_size(b64: &str) -> Result<(u32, u32), UpstreamError> {
    use base64::Engine as _;
    let invalid = |m: &str| UpstreamError::Status {
        status: 400,
        message: format!("image {m}"),
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| invalid("is not base64"))?;
    image::ImageReader::with_format(std::io::Cursor::new(bytes), image::ImageFormat::Png)
        .into_dimensions()
        .map_err(|_| invalid("is not a PNG"))
}

/// A small real image of the size and format asked for.
fn image_of(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    match format {
        ImageFormat::Png => png_of(width, height),
        ImageFormat::Webp => {
            let img =
                image::RgbaImage::from_pixel(width, height, image::Rgba([128, 128, 128, 255]));
            let mut out = Vec::new();
            img.write_to(
                &mut std::io::Cursor::new(&mut out),
                image::ImageFormat::WebP,
            )
            .expect("webp encodes");
            out
        }
    }
}

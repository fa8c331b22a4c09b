//! An attempt is paid at most once: the moment NovelAI answers, the whole answer is made
//! durable with one write, before anything else can fail. The images and the job are
//! written after it, each retried in place; a worker that dies between them leaves the
//! answer, and the redelivered job finishes from it without a new call and without a new
//! slot.
//!
//! That one write is:
//! - for an answer of one image (most jobs), the image itself, under the job's image key
//!   (`objects::image_key`): nothing is left to store but the job, and the image is
//!   written once. A job is `STARTED` with its image stored only after its current
//!   attempt was answered: the attempt's answer is found there;
//! - for an answer of several images, one object per attempt ([`answer_key`]), a small
//!   container of its own: a first line naming the format, a line of JSON listing each
//!   image's format, size and byte length, then the images' bytes one after another.

use bytes::Bytes;
use chrono::Duration;
use serde::{Deserialize, Serialize};

use super::{Outcome, Worker};
use crate::domain::request::ImageFormat;
use crate::domain::{Job, Status};
use crate::objects::{answer_key, image_key};
use crate::ports::{Delivery, GeneratedImage, PortError, PortResult};

const MAGIC: &[u8] = b"naiq-answer 1\n";

/// The content type the answer objects are stored with.
const CONTENT_TYPE: &str = "application/octet-stream";

/// What an answered attempt has in the store.
pub(super) enum Answered {
    /// Its images, in hand or read back from the answer object: still to be stored under
    /// the job's image keys.
    Images(Vec<GeneratedImage>),
    /// A one-image answer, stored as the job's image itself under this key.
    Stored(String),
}

/// How long to wait before each retry of a write that failed (three retries, 7 s in all:
/// a job's budget leaves room, and the answer is already safe if the worker dies).
const WRITE_BACKOFF_SECONDS: [i64; 3] = [1, 2, 4];

#[derive(Serialize, Deserialize)]
struct Header {
    images: Vec<Entry>,
}

#[derive(Serialize, Deserialize)]
struct Entry {
    format: ImageFormat,
    width: u32,
    height: u32,
    bytes: usize,
}

/// The answer object holding `images`, as the parts it is written from: its head (the
/// format line and the header) and each image's own bytes. Not gathered into one buffer:
/// next to the images, a copy of the largest upscale would not fit the worker's memory.
pub fn encode(images: &[GeneratedImage]) -> Vec<Bytes> {
    let header = Header {
        images: images
            .iter()
            .map(|i| Entry {
                format: i.format,
                width: i.width,
                height: i.height,
                bytes: i.bytes.len(),
            })
            .collect(),
    };
    let header = serde_json::to_vec(&header).expect("a header serialises");
    let mut head = Vec::with_capacity(MAGIC.len() + header.len() + 1);
    head.extend_from_slice(MAGIC);
    head.extend_from_slice(&header);
    head.push(b'\n');
    let mut parts = Vec::with_capacity(1 + images.len());
    parts.push(Bytes::from(head));
    parts.extend(images.iter().map(|i| i.bytes.clone()));
    parts
}

/// The images an answer object holds, each a view of `bytes` (no copy); `Corrupt` when
/// it is not one this module wrote (a truncated object has fewer bytes than its header
/// lists).
pub fn decode(bytes: &Bytes) -> PortResult<Vec<GeneratedImage>> {
    let corrupt = |why: &str| PortError::Corrupt(format!("answer object: {why}"));
    if !bytes.starts_with(MAGIC) {
        return Err(corrupt("not an answer"));
    }
    let rest = &bytes[MAGIC.len()..];
    let end = rest
        .iter()
        .position(|b| *b == b'\n')
        .ok_or_else(|| corrupt("no header"))?;
    let header: Header =
        serde_json::from_slice(&rest[..end]).map_err(|e| corrupt(&e.to_string()))?;
    let mut at = MAGIC.len() + end + 1;
    let listed = header
        .images
        .iter()
        .try_fold(0usize, |sum, e| sum.checked_add(e.bytes));
    if listed != Some(bytes.len() - at) || header.images.is_empty() {
        return Err(corrupt("its length does not match its header"));
    }
    Ok(header
        .images
        .into_iter()
        .map(|e| {
            let image = bytes.slice(at..at + e.bytes);
            at += e.bytes;
            GeneratedImage {
                bytes: image,
                format: e.format,
                width: e.width,
                height: e.height,
            }
        })
        .collect())
}

impl Worker {
    /// Retries a write in place: three more times with a growing pause. A conflict is an
    /// answer, not a failure, and is returned at once.
    pub(super) async fn persist<T, F, Fut>(
        &self,
        what: &str,
        job: &Job,
        mut write: F,
    ) -> PortResult<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = PortResult<T>>,
    {
        let mut pauses = WRITE_BACKOFF_SECONDS.iter();
        loop {
            match write().await {
                Ok(v) => return Ok(v),
                Err(e @ PortError::Conflict(_)) => return Err(e),
                Err(e) => match pauses.next() {
                    Some(s) => {
                        tracing::warn!(task_id = %job.task_id(), error = %e, retry_in_s = s, "{what} failed; retrying");
                        self.sleeper
                            .sleep_until(self.clock.now() + Duration::seconds(*s))
                            .await;
                    }
                    None => return Err(e),
                },
            }
        }
    }

    /// Makes the answer of the job's current attempt durable: a one-image answer as the
    /// job's image, several in an answer object. If even the retries fail, the worker goes
    /// on: the images are still in hand, and storing them with the job is as good an
    /// outcome.
    pub(super) async fn save_answer(&self, job: &Job, images: Vec<GeneratedImage>) -> Answered {
        if let [image] = images.as_slice() {
            return match self.store_image(job, 0, image, "storing the answer").await {
                Ok(key) => Answered::Stored(key),
                Err(e) => {
                    tracing::error!(task_id = %job.task_id(), attempt = job.attempts(), error = %e, "could not store the answer's image; trying again with the job");
                    Answered::Images(images)
                }
            };
        }
        let key = answer_key(job.task_id(), job.attempts());
        let parts = encode(&images);
        let saved = self
            .persist("storing the answer", job, || {
                self.ports
                    .images
                    .put_parts(&key, parts.clone(), CONTENT_TYPE)
            })
            .await;
        if let Err(e) = saved {
            tracing::error!(task_id = %job.task_id(), attempt = job.attempts(), error = %e, "could not store the answer; storing its images directly");
        }
        Answered::Images(images)
    }

    /// The stored answer of the job's current attempt, if the worker that made it stopped
    /// before the job was marked done: its answer object, or its one image already stored.
    pub(super) async fn load_answer(&self, job: &Job) -> PortResult<Option<Answered>> {
        if job.status() != Status::Started || job.attempts() == 0 {
            return Ok(None);
        }
        let key = answer_key(job.task_id(), job.attempts());
        if let Some(bytes) = self.ports.images.get(&key).await? {
            match decode(&bytes) {
                Ok(images) => return Ok(Some(Answered::Images(images))),
                // Half-written objects cannot exist (a put is atomic); treat an unreadable
                // one as no answer, and say so.
                Err(e) => {
                    tracing::error!(task_id = %job.task_id(), key = %key, error = %e, "unreadable answer object; the attempt counts as interrupted");
                    return Ok(None);
                }
            }
        }
        for format in ImageFormat::ALL {
            let key = image_key(job.task_id(), 0, format);
            if self.ports.images.exists(&key).await? {
                return Ok(Some(Answered::Stored(key)));
            }
        }
        Ok(None)
    }

    /// Stores the job's image number `index` under its key, retried in place (`what` names
    /// the write in the log); the key.
    async fn store_image(
        &self,
        job: &Job,
        index: usize,
        image: &GeneratedImage,
        what: &str,
    ) -> PortResult<String> {
        let key = image_key(job.task_id(), index, image.format);
        let content_type = image.format.content_type();
        self.persist(what, job, || {
            self.ports
                .images
                .put(&key, image.bytes.clone(), content_type)
        })
        .await?;
        Ok(key)
    }

    /// Stores the images, marks the job done and acknowledges the message, each write
    /// retried in place. An error here leaves the message to come back: the answer is
    /// stored, so the job then finishes from it.
    pub(super) async fn finish_succeeded(
        &self,
        mut job: Job,
        answered: Answered,
        delivery: &Delivery,
    ) -> PortResult<Outcome> {
        let task_id = job.task_id().clone();
        let keys = match answered {
            Answered::Stored(key) => vec![key],
            Answered::Images(images) => {
                let mut keys = Vec::with_capacity(images.len());
                for (i, image) in images.iter().enumerate() {
                    keys.push(self.store_image(&job, i, image, "storing an image").await?);
                }
                keys
            }
        };
        let count = keys.len();
        // Images are stored before the job is marked done.
        job.succeed(keys, self.clock.now())
            .expect("a started job can succeed");
        let marked_done = match self
            .persist("marking the job done", &job, || {
                self.ports.jobs.replace(&job, Status::Started)
            })
            .await
        {
            Ok(()) => true,
            Err(PortError::Conflict(_)) => {
                // Finished (or failed) meanwhile by someone else: nothing more to do.
                tracing::info!(task_id = %task_id, "job changed before it was marked done; leaving it");
                false
            }
            Err(e) => return Err(e),
        };
        if let Err(e) = self
            .persist("acknowledging the message", &job, || {
                self.ports.queue.ack(delivery)
            })
            .await
        {
            // The job is done: a redelivery finds it finished and skips it.
            tracing::warn!(task_id = %task_id, error = %e, "could not delete the message of a finished job");
        }
        tracing::info!(task_id = %task_id, images = count, attempt = job.attempts(), "job succeeded");
        if marked_done {
            let server_account = delivery.message.credentials.is_none();
            let actual = self.actual_cost(&job, server_account).await;
            crate::metrics::job_succeeded();
            if server_account {
                crate::metrics::anlas_spent(actual);
            }
            self.settle(&job, Some(actual)).await;
            self.emit(&job, crate::webhooks::EventType::Succeeded).await;
        }
        Ok(Outcome::Succeeded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(n: u8, format: ImageFormat) -> GeneratedImage {
        GeneratedImage {
            bytes: vec![n; 10 + n as usize].into(),
            format,
            width: 64 * u32::from(n),
            height: 64,
        }
    }

    /// The object the parts make, as the store keeps it.
    fn gathered(images: &[GeneratedImage]) -> Bytes {
        encode(images).concat().into()
    }

    #[test]
    fn the_parts_are_the_head_and_the_images_themselves() {
        let images = vec![image(4, ImageFormat::Png), image(5, ImageFormat::Png)];
        let parts = encode(&images);
        assert_eq!(parts.len(), 3);
        assert!(parts[0].starts_with(MAGIC));
        for (part, image) in parts[1..].iter().zip(&images) {
            // The image's own buffer, not a copy of it.
            assert_eq!(part.as_ptr(), image.bytes.as_ptr());
        }
        let stored = gathered(&images);
        let decoded = decode(&stored).unwrap();
        assert!(stored.as_ptr_range().contains(&decoded[1].bytes.as_ptr()));
    }

    #[test]
    fn an_answer_round_trips_with_formats_and_sizes() {
        let images = vec![image(1, ImageFormat::Png), image(2, ImageFormat::Webp)];
        assert_eq!(decode(&gathered(&images)).unwrap(), images);
    }

    #[test]
    fn a_truncated_or_foreign_object_is_refused() {
        let bytes = gathered(&[image(3, ImageFormat::Png)]);
        assert!(decode(&bytes.slice(..bytes.len() - 1)).is_err());
        assert!(decode(&Bytes::from_static(b"\x89PNG\r\n")).is_err());
        let mut longer = bytes.to_vec();
        longer.push(0);
        assert!(decode(&longer.into()).is_err());
        // Lengths that overflow when added up are refused, not a panic.
        let huge = format!(
            "naiq-answer 1\n{{\"images\":[{e},{e}]}}\nxx",
            e = format!(
                r#"{{"format":"png","width":1,"height":1,"bytes":{}}}"#,
                usize::MAX
            )
        );
        let err = decode(&huge.into_bytes().into()).unwrap_err();
        assert!(err.to_string().contains("length"), "{err}");
    }
}

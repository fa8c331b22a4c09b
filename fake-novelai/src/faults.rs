//! Injected faults (`POST /_fake/faults {"kind", "count"}`): the next generations answer
//! with a fault instead of images, in the order queued.
//!
//! A queued "401" answers the next generation whatever its token and body; every other
//! kind answers the next generation that passes the token and body checks, and none takes
//! the concurrency lock. Faults can also come at random ([`random`]). The request log notes
//! the kind of each fault answered (`fault`).

pub mod random;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;

use crate::answer::{error, unauthorized};
use crate::generation::archive;

/// The fault kinds, by the names `POST /_fake/faults` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FaultKind {
    /// 500 "Internal server error".
    #[serde(rename = "500")]
    ServerError,
    /// 429 "Concurrent generation is locked".
    #[serde(rename = "429")]
    Locked,
    /// 402 "Insufficient Anlas".
    #[serde(rename = "402")]
    PaymentRequired,
    /// 401 "Unauthorized", whatever the token.
    #[serde(rename = "401")]
    Unauthorized,
    /// No answer for an hour (until the client gives up or the fake stops).
    #[serde(rename = "hang")]
    Hang,
    /// 200 with a zip that has a local header and junk, but no central directory.
    #[serde(rename = "corrupt_zip")]
    CorruptZip,
    /// 200 with a well-formed zip that holds no image.
    #[serde(rename = "missing_image")]
    MissingImage,
    /// Stream route: half the previews, then half a frame, then the body ends. The plain
    /// route answers it as "500".
    #[serde(rename = "stream_truncated")]
    StreamTruncated,
    /// Stream route: half the previews, then half a frame, then the connection drops
    /// (no end of the chunked body). The plain route answers it as "500".
    #[serde(rename = "stream_dropped")]
    StreamDropped,
    /// Stream route: half the previews, then an `error` event (the charge refunded). The
    /// plain route answers it as "500".
    #[serde(rename = "stream_error")]
    StreamError,
}

impl FaultKind {
    pub const ALL: [FaultKind; 7] = [
        FaultKind::ServerError,
        FaultKind::Locked,
        FaultKind::PaymentRequired,
        FaultKind::Unauthorized,
        FaultKind::Hang,
        FaultKind::CorruptZip,
        FaultKind::MissingImage,
    ];

    /// The stream route's own kinds. They are not among [`FaultKind::ALL`], the random
    /// faults' default kinds, so turning random faults on does not change what the plain
    /// route answers; name them in `fault_kinds` to draw them.
    pub const STREAM: [FaultKind; 3] = [
        FaultKind::StreamTruncated,
        FaultKind::StreamDropped,
        FaultKind::StreamError,
    ];

    /// Whether only a stream can play it out.
    pub fn is_stream(self) -> bool {
        Self::STREAM.contains(&self)
    }

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::ServerError => "500",
            FaultKind::Locked => "429",
            FaultKind::PaymentRequired => "402",
            FaultKind::Unauthorized => "401",
            FaultKind::Hang => "hang",
            FaultKind::CorruptZip => "corrupt_zip",
            FaultKind::MissingImage => "missing_image",
            FaultKind::StreamTruncated => "stream_truncated",
            FaultKind::StreamDropped => "stream_dropped",
            FaultKind::StreamError => "stream_error",
        }
    }

    pub fn from_name(name: &str) -> Option<FaultKind> {
        Self::ALL
            .into_iter()
            .chain(Self::STREAM)
            .find(|k| k.name() == name)
    }
}

/// `count` more generations answer with `kind`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct FaultBatch {
    pub kind: FaultKind,
    pub count: u64,
}

/// The queue of faults, next first.
#[derive(Default)]
pub struct FaultQueue {
    batches: Mutex<VecDeque<FaultBatch>>,
}

impl FaultQueue {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<FaultBatch>> {
        // A panic elsewhere while holding the lock leaves the queue consistent.
        self.batches.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn push(&self, batch: FaultBatch) {
        self.lock().push_back(batch);
    }

    pub fn list(&self) -> Vec<FaultBatch> {
        self.lock().iter().copied().collect()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Takes one fault off the head of the queue if it is a "401" (`unauthorized`) or, with
    /// `unauthorized` false, if it is of any other kind.
    pub fn take(&self, unauthorized: bool) -> Option<FaultKind> {
        let mut batches = self.lock();
        let head = batches.front_mut()?;
        if (head.kind == FaultKind::Unauthorized) != unauthorized {
            return None;
        }
        let kind = head.kind;
        head.count -= 1;
        if head.count == 0 {
            batches.pop_front();
        }
        Some(kind)
    }
}

/// The answer of a fault. `stopping` ends a "hang" early when the fake stops.
pub async fn answer(kind: FaultKind, prompt: &str, stopping: impl Future<Output = ()>) -> Response {
    let server_error = || error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    match kind {
        FaultKind::ServerError
        | FaultKind::StreamTruncated
        | FaultKind::StreamDropped
        | FaultKind::StreamError => server_error(),
        FaultKind::Locked => error(
            StatusCode::TOO_MANY_REQUESTS,
            "Concurrent generation is locked",
        ),
        FaultKind::PaymentRequired => error(StatusCode::PAYMENT_REQUIRED, "Insufficient Anlas"),
        FaultKind::Unauthorized => unauthorized(),
        FaultKind::Hang => {
            tokio::select! {
                () = tokio::time::sleep(Duration::from_secs(3600)) => {}
                () = stopping => {}
            }
            server_error()
        }
        FaultKind::CorruptZip => {
            let mut bytes = b"PK\x03\x04".to_vec();
            bytes.extend(std::iter::repeat_n(0xA5u8, 512));
            archive::zip_response(bytes)
        }
        FaultKind::MissingImage => {
            let note = format!("no image for {prompt:?}");
            match archive::zip_of(&[("notes.txt".to_string(), note.into_bytes())]) {
                Ok(zip) => archive::zip_response(zip),
                Err(_) => server_error(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_serialise_as_the_wire_names() {
        for kind in FaultKind::ALL.into_iter().chain(FaultKind::STREAM) {
            assert_eq!(FaultKind::from_name(kind.name()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
        }
        assert_eq!(FaultKind::from_name("418"), None);
    }

    #[test]
    fn faults_are_taken_in_order_a_401_only_by_the_401_check() {
        let q = FaultQueue::default();
        q.push(FaultBatch {
            kind: FaultKind::Unauthorized,
            count: 1,
        });
        q.push(FaultBatch {
            kind: FaultKind::ServerError,
            count: 2,
        });
        assert_eq!(q.take(false), None, "a 401 is first");
        assert_eq!(q.take(true), Some(FaultKind::Unauthorized));
        assert_eq!(q.take(true), None);
        assert_eq!(
            q.list(),
            [FaultBatch {
                kind: FaultKind::ServerError,
                count: 2
            }]
        );
        assert_eq!(q.take(false), Some(FaultKind::ServerError));
        assert_eq!(q.take(false), Some(FaultKind::ServerError));
        assert_eq!(q.take(false), None);
        assert!(q.list().is_empty());
    }
}

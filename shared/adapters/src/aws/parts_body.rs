//! A request body made of several buffers sent one after the other: an answer object is
//! written from its head and the images' own buffers (`ImageStore::put_parts`), never
//! gathered into a copy.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// The largest frame handed on: the SDK frames each one for its checksum (aws-chunked),
/// and a frame is copied there, so a 36 MiB image goes out in slices of its buffer.
const MAX_FRAME: usize = 1024 * 1024;

pub(crate) struct PartsBody {
    parts: VecDeque<Bytes>,
    remaining: u64,
}

impl PartsBody {
    pub(crate) fn new(parts: Vec<Bytes>) -> Self {
        let remaining = parts.iter().map(|p| p.len() as u64).sum();
        Self {
            parts: parts.into_iter().filter(|p| !p.is_empty()).collect(),
            remaining,
        }
    }
}

impl Body for PartsBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let Some(part) = self.parts.front_mut() else {
            return Poll::Ready(None);
        };
        let frame = if part.len() > MAX_FRAME {
            part.split_to(MAX_FRAME)
        } else {
            self.parts.pop_front().expect("a front part")
        };
        self.remaining -= frame.len() as u64;
        Poll::Ready(Some(Ok(Frame::data(frame))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(body: PartsBody) -> Vec<Bytes> {
        let mut body = std::pin::pin!(body);
        let waker = std::task::Waker::noop();
        let mut cx = Context::from_waker(waker);
        let mut out = Vec::new();
        while let Poll::Ready(Some(frame)) = body.as_mut().poll_frame(&mut cx) {
            out.push(frame.unwrap().into_data().unwrap());
        }
        out
    }

    #[test]
    fn the_parts_go_out_in_order_as_views_in_frames_of_at_most_a_mebibyte() {
        let big = Bytes::from(vec![7u8; 2 * MAX_FRAME + 5]);
        let body = PartsBody::new(vec![Bytes::from_static(b"head"), Bytes::new(), big.clone()]);
        assert_eq!(body.size_hint().exact(), Some(4 + big.len() as u64));
        let out = frames(body);
        let lengths: Vec<usize> = out.iter().map(Bytes::len).collect();
        assert_eq!(lengths, [4, MAX_FRAME, MAX_FRAME, 5]);
        assert_eq!(out.concat(), [b"head".as_slice(), &big].concat());
        // Views of the image's buffer, not copies.
        assert_eq!(out[1].as_ptr(), big.as_ptr());
    }
}

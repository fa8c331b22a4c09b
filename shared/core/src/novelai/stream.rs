//! `POST /ai/generate-image-stream`'s body in its MessagePack form (`parameters.stream:
//! "msgpack"`, what the website asks for): frames of a big-endian `u32` length then one
//! MessagePack map. An `intermediate` map carries one step's small JPEG preview
//! (`samp_ix`, `step_ix`, `image` as bin); a `final` map one sample's full image in the
//! requested format; an `error` map NovelAI's `message`.
//!
//! [`FrameDecoder`] is incremental: the client feeds it the body's chunks as they arrive
//! and gets the events each completes. Hostile or broken input is an error, never a panic:
//! a frame longer than [`MAX_FRAME_BYTES`] is refused from its length alone (nothing that
//! large is ever buffered), a map that does not parse is `Malformed`, and bytes left over
//! when the body ends are `Truncated`.

use rmp::Marker;

/// The longest frame accepted. A `final` frame holds one full image (about 1 MB as WebP,
/// a few MB as PNG at the largest sizes); 64 MiB leaves ample room and still keeps a
/// hostile length from making the client allocate gigabytes.
pub const MAX_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// The length prefix of a frame.
const LENGTH_BYTES: usize = 4;

/// One event of the stream.
#[derive(Clone, PartialEq, Eq)]
pub enum StreamEvent {
    /// A step's preview of one sample: a small JPEG.
    Intermediate {
        sample: u32,
        step: u32,
        jpeg: Vec<u8>,
    },
    /// One sample's finished image, in the format the request asked for.
    Final { sample: u32, image: Vec<u8> },
    /// NovelAI gave up mid-stream.
    Error { message: String },
}

impl std::fmt::Debug for StreamEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StreamEvent::Intermediate { sample, step, jpeg } => write!(
                f,
                "Intermediate(sample {sample}, step {step}, {} bytes)",
                jpeg.len()
            ),
            StreamEvent::Final { sample, image } => {
                write!(f, "Final(sample {sample}, {} bytes)", image.len())
            }
            StreamEvent::Error { message } => write!(f, "Error({message:?})"),
        }
    }
}

/// Why the stream cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// A frame's length is over [`MAX_FRAME_BYTES`].
    #[error("a stream frame of {0} bytes is over the {MAX_FRAME_BYTES} accepted")]
    TooLong(usize),
    /// The body ended inside a frame.
    #[error("the stream ended inside a frame ({0} bytes left over)")]
    Truncated(usize),
    /// A frame that is not one of NovelAI's event maps.
    #[error("a stream frame is malformed: {0}")]
    Malformed(String),
}

/// Turns the body's chunks into events; see the module's doc.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    pending: Vec<u8>,
}

impl FrameDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next chunk of the body; returns the events it completes, in order. After
    /// an error the decoder is of no further use.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<Vec<StreamEvent>, StreamError> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        let mut start = 0;
        loop {
            let rest = &self.pending[start..];
            let Some(prefix) = rest.get(..LENGTH_BYTES) else {
                break;
            };
            let len = u32::from_be_bytes(prefix.try_into().expect("four bytes")) as usize;
            if len > MAX_FRAME_BYTES {
                return Err(StreamError::TooLong(len));
            }
            let Some(frame) = rest.get(LENGTH_BYTES..LENGTH_BYTES + len) else {
                break;
            };
            events.push(parse_event(frame)?);
            start += LENGTH_BYTES + len;
        }
        self.pending.drain(..start);
        Ok(events)
    }

    /// Says whether the body ended cleanly, between frames.
    pub fn finish(&self) -> Result<(), StreamError> {
        match self.pending.len() {
            0 => Ok(()),
            left => Err(StreamError::Truncated(left)),
        }
    }
}

/// A MessagePack value of an event map, as far as events use them.
enum Value<'a> {
    Int(i64),
    Float,
    Text(&'a str),
    Bytes(&'a [u8]),
    Other,
}

fn malformed(why: impl std::fmt::Display) -> StreamError {
    StreamError::Malformed(why.to_string())
}

/// Takes `len` bytes from the front of `rd`.
fn take<'a>(rd: &mut &'a [u8], len: u32) -> Result<&'a [u8], StreamError> {
    let len = len as usize;
    if len > rd.len() {
        return Err(malformed("a value runs past its frame"));
    }
    let (taken, rest) = rd.split_at(len);
    *rd = rest;
    Ok(taken)
}

fn read_value<'a>(rd: &mut &'a [u8]) -> Result<Value<'a>, StreamError> {
    let marker = Marker::from_u8(*rd.first().ok_or_else(|| malformed("a value is missing"))?);
    Ok(match marker {
        Marker::FixPos(_)
        | Marker::FixNeg(_)
        | Marker::U8
        | Marker::U16
        | Marker::U32
        | Marker::U64
        | Marker::I8
        | Marker::I16
        | Marker::I32
        | Marker::I64 => Value::Int(rmp::decode::read_int(rd).map_err(malformed)?),
        Marker::F32 => {
            rmp::decode::read_f32(rd).map_err(malformed)?;
            Value::Float
        }
        Marker::F64 => {
            rmp::decode::read_f64(rd).map_err(malformed)?;
            Value::Float
        }
        Marker::FixStr(_) | Marker::Str8 | Marker::Str16 | Marker::Str32 => {
            let len = rmp::decode::read_str_len(rd).map_err(malformed)?;
            let bytes = take(rd, len)?;
            Value::Text(std::str::from_utf8(bytes).map_err(malformed)?)
        }
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
            let len = rmp::decode::read_bin_len(rd).map_err(malformed)?;
            Value::Bytes(take(rd, len)?)
        }
        Marker::Null | Marker::True | Marker::False => {
            *rd = &rd[1..];
            Value::Other
        }
        other => return Err(malformed(format!("unexpected value type {other:?}"))),
    })
}

fn parse_event(frame: &[u8]) -> Result<StreamEvent, StreamError> {
    let mut rd = frame;
    let entries = rmp::decode::read_map_len(&mut rd).map_err(malformed)?;
    let (mut kind, mut sample, mut step, mut image, mut message) = (None, None, None, None, None);
    for _ in 0..entries {
        let Value::Text(key) = read_value(&mut rd)? else {
            return Err(malformed("a key is not a string"));
        };
        let value = read_value(&mut rd)?;
        match (key, value) {
            ("event_type", Value::Text(t)) => kind = Some(t),
            ("samp_ix", Value::Int(i)) => sample = Some(index(i, key)?),
            ("step_ix", Value::Int(i)) => step = Some(index(i, key)?),
            ("image", Value::Bytes(b)) => image = Some(b),
            ("message", Value::Text(t)) => message = Some(t),
            ("event_type" | "samp_ix" | "step_ix" | "image" | "message", _) => {
                return Err(malformed(format!("{key} has the wrong type")));
            }
            // gen_id, sigma, and whatever NovelAI adds later.
            _ => {}
        }
    }
    if !rd.is_empty() {
        return Err(malformed("bytes after the map"));
    }
    let missing = |what: &str| malformed(format!("{} event without {what}", kind.unwrap_or("?")));
    match kind {
        Some("intermediate") => Ok(StreamEvent::Intermediate {
            sample: sample.ok_or_else(|| missing("samp_ix"))?,
            step: step.ok_or_else(|| missing("step_ix"))?,
            jpeg: image.ok_or_else(|| missing("image"))?.to_vec(),
        }),
        Some("final") => Ok(StreamEvent::Final {
            sample: sample.ok_or_else(|| missing("samp_ix"))?,
            image: image.ok_or_else(|| missing("image"))?.to_vec(),
        }),
        Some("error") => Ok(StreamEvent::Error {
            message: message.unwrap_or("no message").to_string(),
        }),
        Some(other) => Err(malformed(format!("unknown event_type {other:?}"))),
        None => Err(malformed("no event_type")),
    }
}

fn index(i: i64, key: &str) -> Result<u32, StreamError> {
    u32::try_from(i).map_err(|_| malformed(format!("{key} {i} is out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One frame as NovelAI writes it; `fields` in order, each a string, an int, a float
    /// or bytes.
    enum F<'a> {
        S(&'a str),
        I(i64),
        D(f64),
        B(&'a [u8]),
    }

    fn frame(fields: &[(&str, F<'_>)]) -> Vec<u8> {
        let mut map = Vec::new();
        rmp::encode::write_map_len(&mut map, fields.len() as u32).unwrap();
        for (key, value) in fields {
            rmp::encode::write_str(&mut map, key).unwrap();
            match value {
                F::S(s) => rmp::encode::write_str(&mut map, s).unwrap(),
                F::I(i) => {
                    rmp::encode::write_sint(&mut map, *i).unwrap();
                }
                F::D(d) => rmp::encode::write_f64(&mut map, *d).unwrap(),
                F::B(b) => rmp::encode::write_bin(&mut map, b).unwrap(),
            }
        }
        let mut out = (map.len() as u32).to_be_bytes().to_vec();
        out.extend(map);
        out
    }

    fn intermediate(step: i64, jpeg: &[u8]) -> Vec<u8> {
        frame(&[
            ("event_type", F::S("intermediate")),
            ("samp_ix", F::I(0)),
            ("step_ix", F::I(step)),
            ("gen_id", F::I(8_123_456_789)),
            ("sigma", F::D(113.9)),
            ("image", F::B(jpeg)),
        ])
    }

    fn final_frame(sample: i64, image: &[u8]) -> Vec<u8> {
        frame(&[
            ("event_type", F::S("final")),
            ("samp_ix", F::I(sample)),
            ("gen_id", F::I(8_123_456_789)),
            ("image", F::B(image)),
        ])
    }

    fn whole_stream() -> Vec<u8> {
        let mut body = Vec::new();
        for step in 0..22 {
            body.extend(intermediate(step, &[0xff, 0xd8, 0xff, 0xe0, step as u8]));
        }
        body.extend(final_frame(0, b"RIFF....WEBP"));
        body
    }

    #[test]
    fn a_whole_stream_gives_every_step_then_the_final_image() {
        let mut decoder = FrameDecoder::new();
        let events = decoder.feed(&whole_stream()).unwrap();
        decoder.finish().unwrap();
        assert_eq!(events.len(), 23);
        for (i, event) in events[..22].iter().enumerate() {
            assert_eq!(
                *event,
                StreamEvent::Intermediate {
                    sample: 0,
                    step: i as u32,
                    jpeg: vec![0xff, 0xd8, 0xff, 0xe0, i as u8]
                }
            );
        }
        assert_eq!(
            events[22],
            StreamEvent::Final {
                sample: 0,
                image: b"RIFF....WEBP".to_vec()
            }
        );
    }

    #[test]
    fn chunks_split_anywhere_give_the_same_events() {
        let body = whole_stream();
        let expected = FrameDecoder::new().feed(&body).unwrap();
        for size in [1, 2, 3, 5, 7, 64, 1000] {
            let mut decoder = FrameDecoder::new();
            let mut events = Vec::new();
            for chunk in body.chunks(size) {
                events.extend(decoder.feed(chunk).unwrap());
            }
            decoder.finish().unwrap();
            assert_eq!(events, expected, "chunks of {size}");
        }
    }

    #[test]
    fn an_error_event_carries_its_message() {
        let body = frame(&[
            ("event_type", F::S("error")),
            ("message", F::S("生成に失敗しました")),
        ]);
        assert_eq!(
            FrameDecoder::new().feed(&body).unwrap(),
            vec![StreamEvent::Error {
                message: "生成に失敗しました".into()
            }]
        );
    }

    #[test]
    fn a_body_cut_inside_a_frame_is_truncated() {
        let body = whole_stream();
        for cut in [1, 3, 4, 10, body.len() - 1] {
            let mut decoder = FrameDecoder::new();
            decoder.feed(&body[..cut]).unwrap();
            assert!(
                matches!(decoder.finish(), Err(StreamError::Truncated(_))),
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn a_hostile_length_is_refused_before_anything_is_buffered() {
        let mut decoder = FrameDecoder::new();
        let len = u32::MAX.to_be_bytes();
        assert_eq!(
            decoder.feed(&len),
            Err(StreamError::TooLong(u32::MAX as usize))
        );
        let just_over = (MAX_FRAME_BYTES as u32 + 1).to_be_bytes();
        assert!(matches!(
            FrameDecoder::new().feed(&just_over),
            Err(StreamError::TooLong(_))
        ));
    }

    #[test]
    fn a_value_longer_than_its_frame_is_malformed() {
        // A map whose `image` claims 4 GiB inside a frame of a few bytes.
        let mut map = Vec::new();
        rmp::encode::write_map_len(&mut map, 1).unwrap();
        rmp::encode::write_str(&mut map, "image").unwrap();
        map.extend([0xc6, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        let mut body = (map.len() as u32).to_be_bytes().to_vec();
        body.extend(map);
        assert!(matches!(
            FrameDecoder::new().feed(&body),
            Err(StreamError::Malformed(_))
        ));
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        let mut rng_state = 0x2545_f491_4f6c_dd1d_u64;
        for round in 0..2000 {
            let len = (round % 97) as usize;
            let mut bytes: Vec<u8> = (0..len)
                .map(|_| {
                    rng_state ^= rng_state << 13;
                    rng_state ^= rng_state >> 7;
                    rng_state ^= rng_state << 17;
                    rng_state as u8
                })
                .collect();
            // Half the rounds get a plausible length prefix, so the map parser is reached.
            if round % 2 == 0 && len >= 4 {
                bytes[..4].copy_from_slice(&((len - 4) as u32).to_be_bytes());
            }
            let mut decoder = FrameDecoder::new();
            if decoder.feed(&bytes).is_ok() {
                let _ = decoder.finish();
            }
        }
    }

    #[test]
    fn maps_that_are_not_events_are_malformed() {
        let cases = [
            frame(&[("samp_ix", F::I(0))]),
            frame(&[("event_type", F::S("progress"))]),
            frame(&[("event_type", F::S("intermediate")), ("samp_ix", F::I(0))]),
            frame(&[("event_type", F::S("final")), ("image", F::S("not bytes"))]),
            frame(&[
                ("event_type", F::S("final")),
                ("samp_ix", F::I(-1)),
                ("image", F::B(b"x")),
            ]),
        ];
        for body in cases {
            assert!(
                matches!(
                    FrameDecoder::new().feed(&body),
                    Err(StreamError::Malformed(_))
                ),
                "{body:?}"
            );
        }
        // A frame that is not a map at all, and a map followed by stray bytes.
        let mut stray = final_frame(0, b"x");
        stray.push(0xc0);
        let n = (stray.len() - 4) as u32;
        stray[..4].copy_from_slice(&n.to_be_bytes());
        for body in [vec![0, 0, 0, 1, 0x92], stray] {
            assert!(matches!(
                FrameDecoder::new().feed(&body),
                Err(StreamError::Malformed(_))
            ));
        }
    }
}

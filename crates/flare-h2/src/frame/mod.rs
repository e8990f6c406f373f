//! The frame codec (RFC 9113 section 4 and 6): one module per frame type,
//! usable without a connection.
//!
//! [`Frame::decode`] reads one frame from the front of a buffer, borrowing
//! its payload; the encoders append to a `Vec<u8>`. Padding is stripped on
//! decode; unknown frame types come back as [`Frame::Unknown`] and unknown
//! flags are ignored (RFC 9113 section 4.1: "Flags that have no defined
//! semantics for a particular frame type MUST be ignored").
//!
//! ```
//! use flare_h2::frame::{Frame, Ping};
//!
//! let mut buf = Vec::new();
//! Ping { ack: false, payload: *b"12345678" }.encode(&mut buf);
//! let (frame, used) = Frame::decode(&buf, 16_384).unwrap().unwrap();
//! assert_eq!(used, buf.len());
//! assert_eq!(frame, Frame::Ping(Ping { ack: false, payload: *b"12345678" }));
//! ```

mod continuation;
mod data;
mod goaway;
mod header;
mod headers;
mod ping;
mod priority;
mod push_promise;
mod rst_stream;
mod settings;
mod window_update;

use core::fmt;

pub use continuation::Continuation;
pub use data::Data;
pub use goaway::GoAway;
pub use header::{FrameHeader, FrameType};
pub use headers::Headers;
pub use ping::Ping;
pub use priority::{Priority, PrioritySpec};
pub use push_promise::PushPromise;
pub use rst_stream::RstStream;
pub use settings::{Setting, SettingId, Settings};
pub use window_update::WindowUpdate;

use crate::{ErrorCode, StreamId};

/// The END_STREAM flag (DATA, HEADERS).
pub const FLAG_END_STREAM: u8 = 0x1;
/// The ACK flag (SETTINGS, PING).
pub const FLAG_ACK: u8 = 0x1;
/// The END_HEADERS flag (HEADERS, PUSH_PROMISE, CONTINUATION).
pub const FLAG_END_HEADERS: u8 = 0x4;
/// The PADDED flag (DATA, HEADERS, PUSH_PROMISE).
pub const FLAG_PADDED: u8 = 0x8;
/// The PRIORITY flag (HEADERS).
pub const FLAG_PRIORITY: u8 = 0x20;

/// The smallest value of `SETTINGS_MAX_FRAME_SIZE`, and its initial value.
pub const MIN_MAX_FRAME_SIZE: u32 = 16_384;
/// The largest value of `SETTINGS_MAX_FRAME_SIZE`, 2^24-1.
pub const MAX_MAX_FRAME_SIZE: u32 = 16_777_215;

/// One decoded frame, borrowing from the input buffer.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// DATA (section 6.1).
    Data(Data<'a>),
    /// HEADERS (section 6.2).
    Headers(Headers<'a>),
    /// PRIORITY (section 6.3).
    Priority(Priority),
    /// RST_STREAM (section 6.4).
    RstStream(RstStream),
    /// SETTINGS (section 6.5).
    Settings(Settings<'a>),
    /// PUSH_PROMISE (section 6.6).
    PushPromise(PushPromise<'a>),
    /// PING (section 6.7).
    Ping(Ping),
    /// GOAWAY (section 6.8).
    GoAway(GoAway<'a>),
    /// WINDOW_UPDATE (section 6.9).
    WindowUpdate(WindowUpdate),
    /// CONTINUATION (section 6.10).
    Continuation(Continuation<'a>),
    /// A frame type this crate does not know; to be ignored (section 4.1),
    /// except inside a header block.
    Unknown(Unknown<'a>),
}

/// A frame of an unknown type, kept whole so that it can be ignored or
/// relayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Unknown<'a> {
    /// The frame type octet.
    pub kind: u8,
    /// The flags octet.
    pub flags: u8,
    /// The stream the frame was sent on.
    pub stream_id: StreamId,
    /// The payload.
    pub payload: &'a [u8],
}

impl Unknown<'_> {
    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        FrameHeader::new(
            FrameType::Unknown(self.kind),
            self.flags,
            self.stream_id,
            self.payload.len(),
        )
        .encode(out);
        out.extend_from_slice(self.payload);
    }
}

/// Why a frame could not be decoded. Each maps to an error code and a
/// scope: most frame errors are connection errors; a PRIORITY frame of the
/// wrong length is a stream error (section 6.3).
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// The length field exceeds our `SETTINGS_MAX_FRAME_SIZE` (section 4.2).
    TooLarge {
        /// The frame type.
        kind: FrameType,
        /// The advertised payload length.
        length: u32,
        /// Our limit.
        max: u32,
    },
    /// The payload length is wrong for the frame type (fixed-size frames,
    /// SETTINGS not a multiple of 6, an ACK with a payload, a payload too
    /// short for its mandatory fields).
    BadLength {
        /// The frame type.
        kind: FrameType,
        /// The stream the frame was on.
        stream_id: StreamId,
    },
    /// The pad length is not smaller than the payload (section 6.1).
    BadPadding {
        /// The frame type.
        kind: FrameType,
    },
    /// Stream 0 for a frame that needs a stream, or a stream for a frame
    /// that belongs to the connection.
    BadStreamId {
        /// The frame type.
        kind: FrameType,
        /// The stream id found.
        stream_id: StreamId,
    },
}

impl FrameError {
    /// The error code to send.
    pub fn code(&self) -> ErrorCode {
        match self {
            FrameError::TooLarge { .. } | FrameError::BadLength { .. } => ErrorCode::FrameSizeError,
            FrameError::BadPadding { .. } | FrameError::BadStreamId { .. } => {
                ErrorCode::ProtocolError
            }
        }
    }

    /// `Some(stream)` when the error only affects that stream (a PRIORITY
    /// frame of the wrong length), `None` for a connection error.
    pub fn stream_scope(&self) -> Option<StreamId> {
        match self {
            FrameError::BadLength {
                kind: FrameType::Priority,
                stream_id,
            } => Some(*stream_id),
            _ => None,
        }
    }

    /// A short description of the rule broken.
    pub fn reason(&self) -> &'static str {
        match self {
            FrameError::TooLarge { .. } => "frame larger than SETTINGS_MAX_FRAME_SIZE",
            FrameError::BadLength { .. } => "frame length invalid for its type",
            FrameError::BadPadding { .. } => "padding not shorter than the payload",
            FrameError::BadStreamId { .. } => "frame on the wrong stream",
        }
    }
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.reason())
    }
}

impl std::error::Error for FrameError {}

impl<'a> Frame<'a> {
    /// Decodes the frame at the front of `buf`. `Ok(None)` means more bytes
    /// are needed; `Ok(Some((frame, n)))` means the frame used the first `n`
    /// bytes. A length over `max_frame_size` is rejected as soon as the
    /// 9-byte header is in, before its payload is buffered.
    pub fn decode(
        buf: &'a [u8],
        max_frame_size: u32,
    ) -> Result<Option<(Frame<'a>, usize)>, FrameError> {
        let Some(head) = FrameHeader::decode(buf) else {
            return Ok(None);
        };
        if head.length > max_frame_size {
            return Err(FrameError::TooLarge {
                kind: head.kind,
                length: head.length,
                max: max_frame_size,
            });
        }
        let end = FrameHeader::LEN + head.length as usize;
        let Some(payload) = buf.get(FrameHeader::LEN..end) else {
            return Ok(None);
        };
        Ok(Some((Frame::parse(&head, payload)?, end)))
    }

    /// Parses a payload whose header was already read.
    pub fn parse(head: &FrameHeader, payload: &'a [u8]) -> Result<Frame<'a>, FrameError> {
        Ok(match head.kind {
            FrameType::Data => Frame::Data(Data::parse(head, payload)?),
            FrameType::Headers => Frame::Headers(Headers::parse(head, payload)?),
            FrameType::Priority => Frame::Priority(Priority::parse(head, payload)?),
            FrameType::RstStream => Frame::RstStream(RstStream::parse(head, payload)?),
            FrameType::Settings => Frame::Settings(Settings::parse(head, payload)?),
            FrameType::PushPromise => Frame::PushPromise(PushPromise::parse(head, payload)?),
            FrameType::Ping => Frame::Ping(Ping::parse(head, payload)?),
            FrameType::GoAway => Frame::GoAway(GoAway::parse(head, payload)?),
            FrameType::WindowUpdate => Frame::WindowUpdate(WindowUpdate::parse(head, payload)?),
            FrameType::Continuation => Frame::Continuation(Continuation::parse(head, payload)?),
            FrameType::Unknown(kind) => Frame::Unknown(Unknown {
                kind,
                flags: head.flags,
                stream_id: head.stream_id,
                payload,
            }),
        })
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Frame::Data(f) => f.encode(out),
            Frame::Headers(f) => f.encode(out),
            Frame::Priority(f) => f.encode(out),
            Frame::RstStream(f) => f.encode(out),
            Frame::Settings(f) => f.encode(out),
            Frame::PushPromise(f) => f.encode(out),
            Frame::Ping(f) => f.encode(out),
            Frame::GoAway(f) => f.encode(out),
            Frame::WindowUpdate(f) => f.encode(out),
            Frame::Continuation(f) => f.encode(out),
            Frame::Unknown(f) => f.encode(out),
        }
    }

    /// The stream the frame was sent on (0 for connection frames).
    pub fn stream_id(&self) -> StreamId {
        match self {
            Frame::Data(f) => f.stream_id,
            Frame::Headers(f) => f.stream_id,
            Frame::Priority(f) => f.stream_id,
            Frame::RstStream(f) => f.stream_id,
            Frame::PushPromise(f) => f.stream_id,
            Frame::WindowUpdate(f) => f.stream_id,
            Frame::Continuation(f) => f.stream_id,
            Frame::Unknown(f) => f.stream_id,
            Frame::Settings(_) | Frame::Ping(_) | Frame::GoAway(_) => StreamId::ZERO,
        }
    }
}

/// Frames that need a stream: stream 0 is a PROTOCOL_ERROR.
fn require_stream(head: &FrameHeader) -> Result<(), FrameError> {
    if head.stream_id.is_zero() {
        return Err(FrameError::BadStreamId {
            kind: head.kind,
            stream_id: head.stream_id,
        });
    }
    Ok(())
}

/// Frames that belong to the connection: any stream but 0 is a
/// PROTOCOL_ERROR.
fn require_connection(head: &FrameHeader) -> Result<(), FrameError> {
    if !head.stream_id.is_zero() {
        return Err(FrameError::BadStreamId {
            kind: head.kind,
            stream_id: head.stream_id,
        });
    }
    Ok(())
}

/// Splits off the Pad Length octet and the padding when PADDED is set
/// (section 6.1): returns the rest of the payload and the pad length.
fn strip_padding<'a>(
    head: &FrameHeader,
    payload: &'a [u8],
) -> Result<(&'a [u8], Option<u8>), FrameError> {
    if head.flags & FLAG_PADDED == 0 {
        return Ok((payload, None));
    }
    let Some((&pad, rest)) = payload.split_first() else {
        return Err(FrameError::BadLength {
            kind: head.kind,
            stream_id: head.stream_id,
        });
    };
    // "If the length of the padding is the length of the frame payload or
    // greater, the recipient MUST treat this as a connection error of type
    // PROTOCOL_ERROR."
    let Some(body_len) = rest.len().checked_sub(usize::from(pad)) else {
        return Err(FrameError::BadPadding { kind: head.kind });
    };
    Ok((rest.get(..body_len).unwrap_or_default(), Some(pad)))
}

/// Appends `pad` zero octets of padding.
fn write_padding(pad: Option<u8>, out: &mut Vec<u8>) {
    if let Some(p) = pad {
        out.resize(out.len() + usize::from(p), 0);
    }
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    match b.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a, b, c, d]),
        _ => 0,
    }
}

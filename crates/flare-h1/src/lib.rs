//! A strict sans-IO HTTP/1.1 codec (RFC 9112).
//!
//! Bytes in, results out: this crate never touches a socket, a clock or a
//! thread. Time (for the `Date` header) is passed in by the caller.
//!
//! * [`parse_request`] parses a request head from a borrowed buffer into a
//!   reusable [`RequestHead`] of [`Span`]s, in the style of `httparse`:
//!   [`Status::Complete`] with the number of bytes consumed, or
//!   [`Status::Partial`]. It is strict: anything RFC 9112 lets a server reject
//!   (bare CR or LF, obs-fold, whitespace before the colon, conflicting
//!   framing, ...) is rejected with a specific [`Error`] that knows its status
//!   code. The head's body framing ([`BodyFraming`]) is already validated.
//! * [`ChunkedDecoder`] is a byte-at-a-time state machine for the chunked
//!   transfer coding (extensions, trailers, limits); [`encode_chunk`] and
//!   [`encode_last_chunk`] write it.
//! * [`write_response_head`], [`write_header`] and [`finish_head`] serialize
//!   responses without allocating beyond the output buffer's growth;
//!   [`DateCache`] keeps the `Date` value formatted once a second.
//! * Client side: [`write_request_head`] and a lenient-by-opt-in
//!   [`parse_response`].
//!
//! # Example
//!
//! ```
//! use flare_h1::{parse_request, BodyFraming, Limits, RequestHead, Status};
//!
//! let limits = Limits::default();
//! let mut head = RequestHead::default(); // reuse per connection
//! let buf = b"POST /items?id=7 HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\nhi";
//! let Ok(Status::Complete(n)) = parse_request(buf, &mut head, &limits) else {
//!     panic!("a complete, valid head")
//! };
//! assert_eq!(head.path.get(buf), b"/items");
//! assert_eq!(head.query.unwrap().get(buf), b"id=7");
//! assert_eq!(head.header(buf, "host"), Some(&b"example.com"[..]));
//! assert_eq!(head.framing, BodyFraming::Length(2));
//! assert_eq!(&buf[n..], b"hi");
//! assert!(head.keep_alive());
//! ```
//!
//! # Threat model
//!
//! Every size the peer controls is bounded by a [`Limits`] knob with a safe
//! default. Every parse error means the message framing can no longer be
//! trusted, so the connection must be closed after answering
//! ([`Error::closes_connection`]). Nothing in this crate panics on input.
#![forbid(unsafe_code)]

mod chars;
mod chunked;
mod client;
mod date;
mod error;
mod fields;
mod limits;
mod request;
mod response;

pub use chunked::{encode_chunk, encode_last_chunk, ChunkedDecoder, ChunkedProgress};
pub use client::{
    parse_response, write_request_head, ResponseConfig, ResponseFraming, ResponseHeadParsed,
};
pub use date::DateCache;
pub use error::Error;
pub use limits::Limits;
pub use request::{
    parse_request, BodyFraming, Expect, HeaderSpan, Method, RequestHead, TargetForm,
};
pub use response::{
    encode_head_prefix, finish_head, is_bodyless_status, reason_phrase, write_header,
    write_header_trusted, write_response_head, write_response_head_trusted,
    write_response_head_with_prefix, ResponseBody, ResponseHead,
};

/// Byte range into the caller's buffer. `u32` offsets keep it small.
///
/// Parsers never produce a span reaching past 4 GiB: the head limits clamp the
/// scanned region first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Span {
    /// Offset of the first byte.
    pub start: u32,
    /// Offset one past the last byte.
    pub end: u32,
}

impl Span {
    /// Builds a span from `usize` offsets the parser has already bounded.
    #[inline]
    pub(crate) fn new(start: usize, end: usize) -> Span {
        Span {
            start: start as u32,
            end: end as u32,
        }
    }

    /// The bytes this span covers in `buf`; empty if the span does not fit
    /// (e.g. it was taken from another buffer).
    #[inline]
    pub fn get<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.start as usize..self.end as usize)
            .unwrap_or(&[])
    }

    /// Number of bytes covered.
    #[inline]
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.start) as usize
    }

    /// True if the span covers no bytes.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }
}

/// Result of a successful head parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The head is complete; the value is the number of bytes it used,
    /// including the final empty line (CRLF). The body, if any, starts there.
    Complete(usize),
    /// More bytes are needed. Call again with the same bytes plus more.
    Partial,
}

impl Status {
    /// True for [`Status::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }
}

/// HTTP version of a message (only HTTP/1.0 and HTTP/1.1 are spoken here).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`
    Http10,
    /// `HTTP/1.1`
    #[default]
    Http11,
}

impl Version {
    /// The protocol string, e.g. `"HTTP/1.1"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

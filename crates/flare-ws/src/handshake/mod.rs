//! The opening handshake (RFC 6455 section 4; RFC 8441 for HTTP/2), over
//! plain `(name, value)` field iterators: no HTTP crate needed.
//!
//! Server side: [`parse_request`] (HTTP/1.1 `GET` + `Upgrade`) or
//! [`parse_connect_request`] (HTTP/2 extended CONNECT) validates the
//! request and returns an [`Offer`]; [`Offer::accept`] builds the response
//! values. Client side: [`ClientHandshake`].
//!
//! ```
//! use flare_ws::handshake::{parse_request, accept_key};
//! let fields: [(&[u8], &[u8]); 5] = [
//!     (b"Host", b"server.example.com"),
//!     (b"Upgrade", b"websocket"),
//!     (b"Connection", b"keep-alive, Upgrade"),
//!     (b"Sec-WebSocket-Key", b"dGhlIHNhbXBsZSBub25jZQ=="),
//!     (b"Sec-WebSocket-Version", b"13"),
//! ];
//! let offer = parse_request(b"GET", b"HTTP/1.1", fields).unwrap();
//! let accept = offer.accept(None);
//! assert_eq!(accept.accept_value(), Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
//! let mut head = Vec::new();
//! accept.write_response(None, &mut head);
//! assert!(head.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! ```

mod client;
mod server;

pub use client::{ClientHandshake, Negotiated, ResponseError};
pub use server::{parse_connect_request, parse_request, Accept, HandshakeError, Offer};

use crate::base64;
use crate::sha1::sha1;

/// RFC 6455 section 1.3: the GUID appended to the key.
pub const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` value
/// (RFC 6455 section 4.2.2 item 5.4: base64 of the SHA-1 of the key
/// concatenated with [`GUID`]). The example of RFC 6455 section 1.3
/// (checked against an independent SHA-1):
///
/// ```
/// assert_eq!(
///     &flare_ws::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &[u8]) -> [u8; 28] {
    let digest = sha1(&[key, GUID]);
    let mut out = [0u8; 28];
    base64::encode_into(&digest, &mut out);
    out
}

/// Elements of a comma-separated list (RFC 9110 section 5.6.1), trimmed,
/// empty ones skipped.
pub(crate) fn list(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&c| c == b',')
        .map(crate::deflate::offer_trim)
        .filter(|e| !e.is_empty())
}

/// Whether a comma-separated field value contains `token`
/// (ASCII case-insensitive).
pub(crate) fn has_token(value: &[u8], token: &[u8]) -> bool {
    list(value).any(|e| e.eq_ignore_ascii_case(token))
}

/// RFC 9110 tchar.
pub(crate) fn is_token(s: &[u8]) -> bool {
    !s.is_empty()
        && s.iter()
            .all(|&c| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c))
}

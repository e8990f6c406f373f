//! Server side of the opening handshake.

use core::fmt;

use super::{accept_key, has_token, is_token, list};
use crate::base64;
use crate::deflate::{negotiate, parse_offers, DeflateConfig, DeflateOffer, DeflateParams};

/// Why a client's opening handshake was refused; [`HandshakeError::status`]
/// is the HTTP status to answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HandshakeError {
    /// RFC 6455 section 4.1: "The method of the request MUST be GET" (or
    /// CONNECT for RFC 8441). 405.
    Method,
    /// "the HTTP version MUST be at least 1.1" (we take exactly 1.1). 400.
    Version,
    /// No `Host` field. 400.
    MissingHost,
    /// No `Upgrade` field with the token `websocket`. 400.
    MissingUpgrade,
    /// No `Connection` field with the token `upgrade`. 400.
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Key`, more than one, or one that is not the
    /// base64 of 16 bytes. 400.
    InvalidKey,
    /// No `Sec-WebSocket-Version` field (or more than one). 400.
    MissingVersion,
    /// `Sec-WebSocket-Version` is not 13: section 4.2.2, answer 426 with
    /// `Sec-WebSocket-Version: 13` ([`HandshakeError::version_field`]).
    UnsupportedVersion,
    /// A `Sec-WebSocket-Protocol` element that is not a token. 400.
    InvalidProtocol,
    /// RFC 8441 section 4: `:protocol` is not `websocket`. 400.
    NotWebSocketProtocol,
}

impl HandshakeError {
    /// The HTTP status code to refuse the handshake with.
    pub const fn status(&self) -> u16 {
        match self {
            HandshakeError::Method => 405,
            HandshakeError::UnsupportedVersion => 426,
            _ => 400,
        }
    }

    /// The field to add to the refusal: `Sec-WebSocket-Version: 13` for
    /// [`HandshakeError::UnsupportedVersion`] (RFC 6455 section 4.4).
    pub const fn version_field(&self) -> Option<(&'static str, &'static str)> {
        match self {
            HandshakeError::UnsupportedVersion | HandshakeError::MissingVersion => {
                Some(("Sec-WebSocket-Version", "13"))
            }
            _ => None,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "websocket handshake refused ({}): {self:?}",
            self.status()
        )
    }
}

impl std::error::Error for HandshakeError {}

/// A valid opening handshake, to accept (or refuse on application grounds,
/// e.g. the `Origin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer<'a> {
    key: Option<&'a [u8]>,
    protocols: Vec<&'a str>,
    deflate: Vec<DeflateOffer>,
    origin: Option<&'a [u8]>,
}

impl<'a> Offer<'a> {
    /// The `Sec-WebSocket-Key` value as sent (trimmed); `None` for RFC 8441.
    pub fn key(&self) -> Option<&'a [u8]> {
        self.key
    }

    /// The subprotocols offered, in the client's order of preference
    /// (comma lists across repeated `Sec-WebSocket-Protocol` fields).
    pub fn protocols(&self) -> &[&'a str] {
        &self.protocols
    }

    /// The first protocol we support, in the client's order.
    pub fn select_protocol(&self, supported: &[&str]) -> Option<&'a str> {
        self.protocols
            .iter()
            .copied()
            .find(|p| supported.contains(p))
    }

    /// The permessage-deflate offers, in order (invalid ones marked).
    pub fn deflate_offers(&self) -> &[DeflateOffer] {
        &self.deflate
    }

    /// The `Origin` field (RFC 6455 section 10.2: servers that are not
    /// meant for any page should check it).
    pub fn origin(&self) -> Option<&'a [u8]> {
        self.origin
    }

    /// Accepts the handshake: the `Sec-WebSocket-Accept` value and, with
    /// `deflate` (our preferences, `None` to refuse compression), the first
    /// usable permessage-deflate offer (see the table in
    /// [`crate::deflate`]).
    pub fn accept(&self, deflate: Option<&DeflateConfig>) -> Accept {
        let negotiated = deflate.and_then(|config| negotiate(&self.deflate, config));
        let (params, extensions) = match negotiated {
            Some((p, v)) => (Some(p), Some(v)),
            None => (None, None),
        };
        Accept {
            accept: self.key.map(accept_key),
            extensions,
            deflate: params,
        }
    }
}

/// The response values for an accepted handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accept {
    accept: Option<[u8; 28]>,
    extensions: Option<String>,
    /// The negotiated parameters to pass to [`crate::WebSocket::new`].
    pub deflate: Option<DeflateParams>,
}

impl Accept {
    /// The `Sec-WebSocket-Accept` value (`None` for RFC 8441).
    pub fn accept_value(&self) -> Option<&str> {
        self.accept
            .as_ref()
            .and_then(|a| core::str::from_utf8(a).ok())
    }

    /// The `Sec-WebSocket-Extensions` value, if compression was accepted.
    pub fn extensions_value(&self) -> Option<&str> {
        self.extensions.as_deref()
    }

    /// The response fields beyond the status line: for HTTP/1.1 `Upgrade`,
    /// `Connection` and `Sec-WebSocket-Accept`; then, for both versions,
    /// `Sec-WebSocket-Protocol` (the caller's choice, which must be one
    /// of [`Offer::protocols`]) and `Sec-WebSocket-Extensions`.
    pub fn fields<'s>(
        &'s self,
        protocol: Option<&'s str>,
    ) -> impl Iterator<Item = (&'static str, &'s str)> + 's {
        let h1 = self.accept_value().map(|a| {
            [
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Accept", a),
            ]
        });
        h1.into_iter()
            .flatten()
            .chain(protocol.map(|p| ("Sec-WebSocket-Protocol", p)))
            .chain(
                self.extensions_value()
                    .map(|e| ("Sec-WebSocket-Extensions", e)),
            )
    }

    /// Appends the whole HTTP/1.1 `101 Switching Protocols` head.
    pub fn write_response(&self, protocol: Option<&str>, out: &mut Vec<u8>) {
        out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
        for (name, value) in self.fields(protocol) {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }
}

/// What the field checks found.
#[derive(Default)]
struct Seen<'a> {
    host: bool,
    upgrade: bool,
    connection: bool,
    keys: u32,
    key: Option<&'a [u8]>,
    versions: u32,
    version_13: bool,
}

fn common_fields<'a, I>(fields: I, offer: &mut Offer<'a>) -> Result<Seen<'a>, HandshakeError>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    let mut seen = Seen::default();
    for (name, value) in fields {
        let value = crate::deflate::offer_trim(value);
        let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
        if is("host") {
            seen.host = true;
        } else if is("upgrade") {
            // Section 4.2.1 item 3: "containing the value "websocket",
            // treated as an ASCII case-insensitive value".
            seen.upgrade |= has_token(value, b"websocket");
        } else if is("connection") {
            // Item 4: "a |Connection| header field that includes the token
            // "Upgrade", treated as an ASCII case-insensitive value".
            seen.connection |= has_token(value, b"upgrade");
        } else if is("sec-websocket-key") {
            seen.keys += 1;
            seen.key = Some(value);
        } else if is("sec-websocket-version") {
            seen.versions += 1;
            seen.version_13 = value == b"13";
        } else if is("sec-websocket-protocol") {
            for p in list(value) {
                if !is_token(p) {
                    return Err(HandshakeError::InvalidProtocol);
                }
                // A token is ASCII, so this never fails.
                if let Ok(p) = core::str::from_utf8(p) {
                    offer.protocols.push(p);
                }
            }
        } else if is("sec-websocket-extensions") {
            parse_offers(value, &mut offer.deflate);
        } else if is("origin") {
            offer.origin = Some(value);
        }
    }
    // Section 4.2.1 item 6: "A |Sec-WebSocket-Version| header field, with
    // a value of 13." Section 4.2.2: otherwise 426 and the version we speak.
    if seen.versions == 0 {
        return Err(HandshakeError::MissingVersion);
    }
    if seen.versions > 1 || !seen.version_13 {
        return Err(HandshakeError::UnsupportedVersion);
    }
    Ok(seen)
}

fn empty_offer<'a>() -> Offer<'a> {
    Offer {
        key: None,
        protocols: Vec::new(),
        deflate: Vec::new(),
        origin: None,
    }
}

/// Validates an HTTP/1.1 upgrade request (RFC 6455 section 4.2.1):
/// `method` and `version` from the request line (`b"GET"`,
/// `b"HTTP/1.1"`), `fields` as `(name, value)` pairs in order.
pub fn parse_request<'a, I>(
    method: &[u8],
    version: &[u8],
    fields: I,
) -> Result<Offer<'a>, HandshakeError>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    // Item 1: "An HTTP/1.1 or higher GET request".
    if method != b"GET" {
        return Err(HandshakeError::Method);
    }
    if version != b"HTTP/1.1" {
        return Err(HandshakeError::Version);
    }
    let mut offer = empty_offer();
    let seen = common_fields(fields, &mut offer)?;
    if !seen.host {
        return Err(HandshakeError::MissingHost);
    }
    if !seen.upgrade {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !seen.connection {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    // Item 5: "a |Sec-WebSocket-Key| header field with a base64-encoded
    // value that, when decoded, is 16 bytes in length."
    match seen.key {
        Some(k) if seen.keys == 1 && base64::decode_exact::<16>(k).is_some() => offer.key = Some(k),
        _ => return Err(HandshakeError::InvalidKey),
    }
    Ok(offer)
}

/// Validates an HTTP/2 extended CONNECT (RFC 8441 section 4): `method` is
/// the `:method` value (`CONNECT`), `protocol` the `:protocol` value
/// (`websocket`), `fields` the regular (non-pseudo) fields. There is no
/// key, no accept value and no `Upgrade`/`Connection` (section 5:
/// "Sec-WebSocket-Key and Sec-WebSocket-Accept header fields are not
/// used"); the version, protocols and extensions are as for HTTP/1.1.
pub fn parse_connect_request<'a, I>(
    method: &[u8],
    protocol: &[u8],
    fields: I,
) -> Result<Offer<'a>, HandshakeError>
where
    I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
{
    if method != b"CONNECT" {
        return Err(HandshakeError::Method);
    }
    if !protocol.eq_ignore_ascii_case(b"websocket") {
        return Err(HandshakeError::NotWebSocketProtocol);
    }
    let mut offer = empty_offer();
    common_fields(fields, &mut offer)?;
    Ok(offer)
}

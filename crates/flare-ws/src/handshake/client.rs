//! Client side of the opening handshake (RFC 6455 section 4.1).

use core::fmt;

use super::{accept_key, has_token, list};
use crate::base64;
use crate::deflate::{check_response, offer_value, DeflateConfig, DeflateParams, ExtensionIter};

/// A client's opening handshake: the request fields to send and the
/// checks on the response. Sans-IO: the caller supplies the 16-byte nonce
/// (RFC 6455 section 4.1: "randomly selected", so from a CSPRNG).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientHandshake {
    key: [u8; 24],
    accept: [u8; 28],
    protocols: Vec<String>,
    protocol_value: String,
    deflate: Option<DeflateConfig>,
    extensions_value: Option<String>,
}

/// What the server's response agreed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The subprotocol the server chose (one we offered).
    pub protocol: Option<String>,
    /// The permessage-deflate parameters, for [`crate::WebSocket::new`].
    pub deflate: Option<DeflateParams>,
}

/// Why a server's response does not complete the handshake (RFC 6455
/// section 4.1: the client "MUST _Fail the WebSocket Connection_").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ResponseError {
    /// The status was not 101 (HTTP/1.1) or 2xx (RFC 8441).
    Status(u16),
    /// No `Upgrade: websocket`.
    MissingUpgrade,
    /// No `Connection: upgrade`.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Accept` missing or not the hash of our key.
    AcceptMismatch,
    /// A subprotocol we did not offer, or more than one.
    UnofferedProtocol,
    /// An extension we did not offer, a second permessage-deflate, or
    /// parameters we did not ask for or cannot honour.
    UnofferedExtension,
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "websocket handshake response rejected: {self:?}")
    }
}

impl std::error::Error for ResponseError {}

impl ClientHandshake {
    /// A handshake with key `base64(nonce)`, offering `protocols` (tokens,
    /// in order of preference) and, with `deflate`, permessage-deflate.
    ///
    /// Without the `deflate` feature, `deflate` is ignored: nothing is
    /// offered, and a response that accepts permessage-deflate fails.
    pub fn new(nonce: [u8; 16], protocols: &[&str], deflate: Option<DeflateConfig>) -> Self {
        let deflate = if cfg!(feature = "deflate") {
            deflate
        } else {
            None
        };
        let mut key = [0u8; 24];
        base64::encode_into(&nonce, &mut key);
        ClientHandshake {
            key,
            accept: accept_key(&key),
            protocols: protocols.iter().map(|p| p.to_string()).collect(),
            protocol_value: protocols.join(", "),
            extensions_value: deflate.as_ref().map(offer_value),
            deflate,
        }
    }

    /// The `Sec-WebSocket-Key` value.
    pub fn key(&self) -> &str {
        core::str::from_utf8(&self.key).unwrap_or("")
    }

    /// The request fields for HTTP/1.1 (besides `Host`, which the caller
    /// writes): `Upgrade`, `Connection`, `Sec-WebSocket-Key`,
    /// `Sec-WebSocket-Version`, then `Sec-WebSocket-Protocol` and
    /// `Sec-WebSocket-Extensions` if offered.
    pub fn fields(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        [
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", self.key()),
        ]
        .into_iter()
        .chain(self.connect_fields())
    }

    /// The request fields for RFC 8441 (HTTP/2 extended CONNECT, besides
    /// the pseudo-fields `:method CONNECT` and `:protocol websocket`):
    /// `Sec-WebSocket-Version`, and the protocol and extension offers.
    pub fn connect_fields(&self) -> impl Iterator<Item = (&'static str, &str)> + '_ {
        let protocol = (!self.protocols.is_empty()).then_some(self.protocol_value.as_str());
        core::iter::once(("Sec-WebSocket-Version", "13"))
            .chain(protocol.map(|p| ("Sec-WebSocket-Protocol", p)))
            .chain(
                self.extensions_value
                    .as_deref()
                    .map(|e| ("Sec-WebSocket-Extensions", e)),
            )
    }

    /// Appends a whole HTTP/1.1 request head for `path` on `host`.
    pub fn write_request(&self, host: &str, path: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(path.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        out.extend_from_slice(host.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in self.fields() {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Checks an HTTP/1.1 response (RFC 6455 section 4.1, the client's
    /// checks 1-6): status 101, `Upgrade: websocket`, `Connection:
    /// upgrade`, the accept value, and that the protocol and extensions
    /// were offered.
    pub fn verify_response<'a, I>(
        &self,
        status: u16,
        fields: I,
    ) -> Result<Negotiated, ResponseError>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
    {
        if status != 101 {
            return Err(ResponseError::Status(status));
        }
        self.verify(fields, true)
    }

    /// Checks an RFC 8441 response: a 2xx status, then the protocol and
    /// extensions as for HTTP/1.1 (there is no accept value).
    pub fn verify_connect_response<'a, I>(
        &self,
        status: u16,
        fields: I,
    ) -> Result<Negotiated, ResponseError>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
    {
        if !(200..300).contains(&status) {
            return Err(ResponseError::Status(status));
        }
        self.verify(fields, false)
    }

    fn verify<'a, I>(&self, fields: I, h1: bool) -> Result<Negotiated, ResponseError>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
    {
        let (mut upgrade, mut connection, mut accept_ok, mut accepts) = (false, false, false, 0);
        let mut protocol: Option<String> = None;
        let mut deflate: Option<DeflateParams> = None;
        for (name, value) in fields {
            let value = crate::deflate::offer_trim(value);
            let is = |n: &str| name.eq_ignore_ascii_case(n.as_bytes());
            if is("upgrade") {
                upgrade |= has_token(value, b"websocket");
            } else if is("connection") {
                connection |= has_token(value, b"upgrade");
            } else if is("sec-websocket-accept") {
                accepts += 1;
                accept_ok = value == self.accept;
            } else if is("sec-websocket-protocol") {
                // Item 6: the value must be one we offered; one value only.
                for p in list(value) {
                    let offered = self.protocols.iter().any(|o| o.as_bytes() == p);
                    if !offered || protocol.is_some() {
                        return Err(ResponseError::UnofferedProtocol);
                    }
                    protocol = core::str::from_utf8(p).ok().map(str::to_owned);
                }
            } else if is("sec-websocket-extensions") {
                // Item 5: "the use of an extension that was not present in
                // the client's handshake" fails the connection.
                for (ext, params) in ExtensionIter::new(value) {
                    let config = match &self.deflate {
                        Some(c)
                            if ext.eq_ignore_ascii_case(b"permessage-deflate")
                                && deflate.is_none() =>
                        {
                            c
                        }
                        _ => return Err(ResponseError::UnofferedExtension),
                    };
                    let resp = crate::deflate::parse_response_params(params);
                    deflate = Some(
                        check_response(&resp, config).ok_or(ResponseError::UnofferedExtension)?,
                    );
                }
            }
        }
        if h1 {
            if !upgrade {
                return Err(ResponseError::MissingUpgrade);
            }
            if !connection {
                return Err(ResponseError::MissingConnectionUpgrade);
            }
            if !accept_ok || accepts != 1 {
                return Err(ResponseError::AcceptMismatch);
            }
        }
        Ok(Negotiated { protocol, deflate })
    }
}

//! The client's one error type: what failed, and for which URL (never the body).

use std::fmt;
use std::io;
use std::net::SocketAddr;

use http::StatusCode;

/// Which timeout fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Opening the TCP connection (and the TLS handshake, and a proxy's CONNECT)
    /// took longer than [`ClientBuilder::connect_timeout`](super::ClientBuilder::connect_timeout).
    Connect,
    /// The server sent nothing for [`ClientBuilder::read_timeout`](super::ClientBuilder::read_timeout).
    Read,
    /// The whole request, body included, took longer than
    /// [`ClientBuilder::timeout`](super::ClientBuilder::timeout) (or the request's own).
    Request,
    /// The server took no bytes of the request for
    /// [`ClientBuilder::write_timeout`](super::ClientBuilder::write_timeout) (it
    /// stopped reading an upload).
    Write,
}

impl fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::Read => "read",
            TimeoutKind::Request => "request",
            TimeoutKind::Write => "write",
        })
    }
}

/// A protocol failure: the server (or proxy) sent something we cannot use.
#[derive(Debug)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The HTTP/1.1 response head or chunked body was malformed.
    Http1(flare_h1::Error),
    /// The HTTP/2 connection failed.
    Http2(flare_h2::ConnectionError),
    /// The HTTP/2 stream was reset by the server (or by us after its stream error).
    Http2Reset(flare_h2::ErrorCode),
    /// The connection closed before the response (or its body) was complete.
    UnexpectedEof,
    /// The body's content coding was not valid gzip/deflate.
    BadContentEncoding,
    /// A redirect without a usable `Location`.
    BadRedirect,
    /// A WebSocket over HTTP/2 was required
    /// ([`WsHttp2::Require`](super::WsHttp2::Require)) and the server does not
    /// offer it (RFC 8441 section 3).
    NoWebSocketOverHttp2 {
        /// True when the server spoke HTTP/2 but its SETTINGS did not enable
        /// extended CONNECT; false when TLS chose HTTP/1.1 by ALPN.
        http2: bool,
    },
    /// Anything else, described.
    Other(&'static str),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::Http1(e) => write!(f, "HTTP/1.1: {e}"),
            ProtocolError::Http2(e) => write!(f, "HTTP/2: {e}"),
            ProtocolError::Http2Reset(c) => write!(f, "HTTP/2 stream reset: {c:?}"),
            ProtocolError::UnexpectedEof => {
                f.write_str("connection closed before the response was complete")
            }
            ProtocolError::BadContentEncoding => f.write_str("invalid gzip/deflate body"),
            ProtocolError::BadRedirect => f.write_str("redirect without a valid Location"),
            ProtocolError::NoWebSocketOverHttp2 { http2: true } => f.write_str(
                "WebSocket over HTTP/2 required; the server's SETTINGS do not enable extended CONNECT",
            ),
            ProtocolError::NoWebSocketOverHttp2 { http2: false } => {
                f.write_str("WebSocket over HTTP/2 required; the server chose HTTP/1.1 by ALPN")
            }
            ProtocolError::Other(s) => f.write_str(s),
        }
    }
}

/// What went wrong with a request. Every variant carries the URL it was for; none
/// carries a body.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be parsed or has a scheme the client does not speak.
    InvalidUrl {
        /// The text given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The request could not be built (a bad header name or value, a body that
    /// would not serialize).
    Builder {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The host name did not resolve.
    Dns {
        /// The URL.
        url: String,
        /// The host looked up.
        host: String,
        /// Why.
        source: flare_dns::ResolveError,
    },
    /// No address accepted a TCP connection.
    Connect {
        /// The URL.
        url: String,
        /// The last address tried.
        addr: Option<SocketAddr>,
        /// The last error.
        source: io::Error,
    },
    /// The TLS handshake failed (for example a certificate that does not match the
    /// host name or is not trusted).
    Tls {
        /// The URL.
        url: String,
        /// Why.
        source: flare_tls::TlsError,
    },
    /// A timeout fired.
    Timeout {
        /// The URL.
        url: String,
        /// Which one.
        kind: TimeoutKind,
    },
    /// A socket error after the connection was up.
    Io {
        /// The URL.
        url: String,
        /// The error.
        source: io::Error,
    },
    /// The server broke the protocol.
    Protocol {
        /// The URL.
        url: String,
        /// How.
        detail: ProtocolError,
    },
    /// The proxy refused: its answer to a CONNECT was not 2xx, or it answered
    /// `407 Proxy Authentication Required` to a request sent through it (missing
    /// or wrong credentials in the proxy URL).
    Proxy {
        /// The URL.
        url: String,
        /// The proxy's answer.
        status: u16,
    },
    /// An error status, from [`Response::error_for_status`](super::Response::error_for_status).
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
    },
    /// The (decoded) body is larger than the limit
    /// ([`ClientBuilder::max_response_size`](super::ClientBuilder::max_response_size)).
    BodyTooLarge {
        /// The URL.
        url: String,
        /// The limit in bytes.
        limit: u64,
    },
    /// More redirects than the policy allows.
    TooManyRedirects {
        /// The last URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The request needs something the non-blocking path
    /// ([`RequestBuilder::start`](super::RequestBuilder::start)) does not do: a
    /// proxy, HTTP/2 by prior knowledge, a streamed body. [`send`](super::RequestBuilder::send)
    /// does them.
    Unsupported {
        /// The URL.
        url: String,
        /// What was asked for.
        what: &'static str,
    },
    /// [`ClientBuilder::max_in_flight`](super::ClientBuilder::max_in_flight)
    /// non-blocking requests were already in flight.
    TooManyInFlight {
        /// The URL.
        url: String,
        /// The limit.
        limit: usize,
    },
    /// The body is not the JSON asked for.
    Json {
        /// The URL.
        url: String,
        /// The decoder's error.
        source: serde_json::Error,
    },
}

impl Error {
    /// The URL the failing request was for.
    pub fn url(&self) -> &str {
        match self {
            Error::InvalidUrl { url, .. }
            | Error::Builder { url, .. }
            | Error::Dns { url, .. }
            | Error::Connect { url, .. }
            | Error::Tls { url, .. }
            | Error::Timeout { url, .. }
            | Error::Io { url, .. }
            | Error::Protocol { url, .. }
            | Error::Proxy { url, .. }
            | Error::Status { url, .. }
            | Error::BodyTooLarge { url, .. }
            | Error::TooManyRedirects { url, .. }
            | Error::Unsupported { url, .. }
            | Error::TooManyInFlight { url, .. }
            | Error::Json { url, .. } => url,
        }
    }

    /// Whether a timeout fired (and which).
    pub fn timeout_kind(&self) -> Option<TimeoutKind> {
        match self {
            Error::Timeout { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// Whether a timeout fired.
    pub fn is_timeout(&self) -> bool {
        self.timeout_kind().is_some()
    }

    /// The status, for [`Error::Status`].
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub(crate) fn io(url: &str, e: io::Error) -> Error {
        // Our own errors travel through `io::Read` as `io::Error`s; unwrap them.
        if e.get_ref().is_some_and(|r| r.is::<Error>()) {
            if let Some(Ok(inner)) = e.into_inner().map(|b| b.downcast::<Error>()) {
                return *inner;
            }
            return Error::Protocol {
                url: url.to_owned(),
                detail: ProtocolError::Other("i/o error"),
            };
        }
        if e.kind() == io::ErrorKind::UnexpectedEof {
            return Error::Protocol {
                url: url.to_owned(),
                detail: ProtocolError::UnexpectedEof,
            };
        }
        Error::Io {
            url: url.to_owned(),
            source: e,
        }
    }

    pub(crate) fn protocol(url: &str, detail: ProtocolError) -> Error {
        Error::Protocol {
            url: url.to_owned(),
            detail,
        }
    }

    pub(crate) fn timeout(url: &str, kind: TimeoutKind) -> Error {
        Error::Timeout {
            url: url.to_owned(),
            kind,
        }
    }

    /// Wraps this error for an `io::Read` implementation.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match &self {
            Error::Timeout { .. } => io::ErrorKind::TimedOut,
            Error::Protocol {
                detail: ProtocolError::UnexpectedEof,
                ..
            } => io::ErrorKind::UnexpectedEof,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidUrl { url, reason } => write!(f, "invalid URL {url:?}: {reason}"),
            Error::Builder { url, reason } => write!(f, "bad request for {url}: {reason}"),
            Error::Dns { url, host, source } => {
                write!(f, "resolving {host} for {url} failed: {source}")
            }
            Error::Connect { url, addr, source } => match addr {
                Some(a) => write!(f, "connecting to {a} for {url} failed: {source}"),
                None => write!(f, "connecting for {url} failed: {source}"),
            },
            Error::Tls { url, source } => write!(f, "TLS with {url} failed: {source}"),
            Error::Timeout { url, kind } => write!(f, "{kind} timeout for {url}"),
            Error::Io { url, source } => write!(f, "i/o error for {url}: {source}"),
            Error::Protocol { url, detail } => write!(f, "protocol error from {url}: {detail}"),
            Error::Proxy { url, status: 407 } => {
                write!(f, "proxy refused {url}: 407, proxy authentication required")
            }
            Error::Proxy { url, status } => {
                write!(f, "proxy refused the tunnel for {url} with status {status}")
            }
            Error::Status { url, status } => write!(f, "{url} answered {status}"),
            Error::BodyTooLarge { url, limit } => {
                write!(f, "response body from {url} is larger than {limit} bytes")
            }
            Error::TooManyRedirects { url, limit } => {
                write!(f, "more than {limit} redirects, last at {url}")
            }
            Error::Unsupported { url, what } => {
                write!(
                    f,
                    "{what} is not supported by non-blocking requests ({url})"
                )
            }
            Error::TooManyInFlight { url, limit } => {
                write!(f, "{limit} non-blocking requests already in flight ({url})")
            }
            Error::Json { url, source } => {
                write!(f, "body of {url} is not the JSON expected: {source}")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Dns { source, .. } => Some(source),
            Error::Connect { source, .. } | Error::Io { source, .. } => Some(source),
            Error::Tls { source, .. } => Some(source),
            Error::Json { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// `Result` with the client's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

//! Error codes (RFC 9113 section 7) and the two scopes of errors: a stream
//! error resets one stream, a connection error ends the connection.

use core::fmt;

use crate::StreamId;

/// An HTTP/2 error code, as carried by RST_STREAM and GOAWAY (RFC 9113
/// section 7). Codes this crate does not know are kept as
/// [`ErrorCode::Unknown`]: "Unknown or unsupported error codes MUST NOT
/// trigger any special behavior".
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// 0x0: graceful shutdown or no error.
    NoError,
    /// 0x1: unspecific protocol error.
    ProtocolError,
    /// 0x2: unexpected internal error.
    InternalError,
    /// 0x3: the flow-control protocol was violated.
    FlowControlError,
    /// 0x4: a SETTINGS frame was not acknowledged in time.
    SettingsTimeout,
    /// 0x5: a frame arrived after the stream was half-closed.
    StreamClosed,
    /// 0x6: a frame had an invalid size.
    FrameSizeError,
    /// 0x7: the stream was refused before any processing.
    RefusedStream,
    /// 0x8: the stream is no longer needed.
    Cancel,
    /// 0x9: the header compression context cannot be maintained.
    CompressionError,
    /// 0xa: a CONNECT tunnel was reset or closed abnormally.
    ConnectError,
    /// 0xb: the peer is generating excessive load.
    EnhanceYourCalm,
    /// 0xc: the transport does not meet minimum security requirements.
    InadequateSecurity,
    /// 0xd: the peer should use HTTP/1.1 for this request.
    Http11Required,
    /// Any other code.
    Unknown(u32),
}

impl ErrorCode {
    /// The code as sent on the wire.
    pub fn to_u32(self) -> u32 {
        match self {
            ErrorCode::NoError => 0x0,
            ErrorCode::ProtocolError => 0x1,
            ErrorCode::InternalError => 0x2,
            ErrorCode::FlowControlError => 0x3,
            ErrorCode::SettingsTimeout => 0x4,
            ErrorCode::StreamClosed => 0x5,
            ErrorCode::FrameSizeError => 0x6,
            ErrorCode::RefusedStream => 0x7,
            ErrorCode::Cancel => 0x8,
            ErrorCode::CompressionError => 0x9,
            ErrorCode::ConnectError => 0xa,
            ErrorCode::EnhanceYourCalm => 0xb,
            ErrorCode::InadequateSecurity => 0xc,
            ErrorCode::Http11Required => 0xd,
            ErrorCode::Unknown(v) => v,
        }
    }

    /// The code for a wire value.
    pub fn from_u32(v: u32) -> ErrorCode {
        match v {
            0x0 => ErrorCode::NoError,
            0x1 => ErrorCode::ProtocolError,
            0x2 => ErrorCode::InternalError,
            0x3 => ErrorCode::FlowControlError,
            0x4 => ErrorCode::SettingsTimeout,
            0x5 => ErrorCode::StreamClosed,
            0x6 => ErrorCode::FrameSizeError,
            0x7 => ErrorCode::RefusedStream,
            0x8 => ErrorCode::Cancel,
            0x9 => ErrorCode::CompressionError,
            0xa => ErrorCode::ConnectError,
            0xb => ErrorCode::EnhanceYourCalm,
            0xc => ErrorCode::InadequateSecurity,
            0xd => ErrorCode::Http11Required,
            v => ErrorCode::Unknown(v),
        }
    }
}

/// A connection error (RFC 9113 section 5.4.1): GOAWAY was (or, if the peer
/// initiated it, had been) sent and the connection is closing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionError {
    code: ErrorCode,
    reason: &'static str,
    initiated_locally: bool,
}

impl ConnectionError {
    pub(crate) fn new(code: ErrorCode, reason: &'static str, initiated_locally: bool) -> Self {
        ConnectionError {
            code,
            reason,
            initiated_locally,
        }
    }

    /// The error code carried by the GOAWAY.
    pub fn code(&self) -> ErrorCode {
        self.code
    }

    /// Which rule was broken (also sent as GOAWAY debug data when we
    /// initiated the error).
    pub fn reason(&self) -> &'static str {
        self.reason
    }

    /// True when we detected the error and sent GOAWAY; false when the
    /// peer's GOAWAY carried an error code.
    pub fn initiated_locally(&self) -> bool {
        self.initiated_locally
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let who = if self.initiated_locally {
            "local"
        } else {
            "peer"
        };
        write!(
            f,
            "HTTP/2 connection error {:?} ({who}): {}",
            self.code, self.reason
        )
    }
}

impl std::error::Error for ConnectionError {}

/// Why an application call on a stream (`send_*`, `send_request`) was refused.
/// The connection is unaffected.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamError {
    /// No such open stream: never opened, already closed, or reset.
    UnknownStream(StreamId),
    /// Our side of the stream already ended (END_STREAM was sent).
    SendClosed(StreamId),
    /// DATA or trailers before the final head, or a second final head.
    HeadState(StreamId),
    /// The call does not fit this connection's role (e.g. a server calling
    /// `send_request`).
    WrongRole,
    /// The peer's `SETTINGS_MAX_CONCURRENT_STREAMS` is reached (client).
    TooManyStreams,
    /// No stream may be opened: GOAWAY was sent or received, or the stream
    /// ids are exhausted.
    GoingAway,
    /// The connection is closed.
    ConnectionClosed,
    /// A status code outside 100..=999 or 101 (not allowed in HTTP/2).
    InvalidStatus(u16),
    /// A request with `:protocol` (RFC 8441 extended CONNECT) that is not a
    /// `CONNECT`, or before the peer sent `SETTINGS_ENABLE_CONNECT_PROTOCOL=1`.
    ConnectProtocolDisabled,
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::UnknownStream(id) => write!(f, "stream {} is not open", id.value()),
            StreamError::SendClosed(id) => write!(f, "stream {} already ended", id.value()),
            StreamError::HeadState(id) => {
                write!(f, "stream {}: call out of order with the head", id.value())
            }
            StreamError::WrongRole => f.write_str("call not valid for this role"),
            StreamError::TooManyStreams => f.write_str("peer's concurrent stream limit reached"),
            StreamError::GoingAway => f.write_str("connection is going away"),
            StreamError::ConnectionClosed => f.write_str("connection closed"),
            StreamError::InvalidStatus(s) => write!(f, "invalid status {s}"),
            StreamError::ConnectProtocolDisabled => f.write_str(
                ":protocol needs CONNECT and the peer's SETTINGS_ENABLE_CONNECT_PROTOCOL",
            ),
        }
    }
}

impl std::error::Error for StreamError {}

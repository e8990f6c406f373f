//! Errors of the message codec: which rule the peer broke, and the close
//! code that tells it so.

use core::fmt;

pub use crate::frame::FrameError;

/// Close codes this crate sends (RFC 6455 section 7.4.1).
pub mod code {
    /// 1000: normal closure.
    pub const NORMAL: u16 = 1000;
    /// 1001: going away (server shutdown, page navigation).
    pub const GOING_AWAY: u16 = 1001;
    /// 1002: protocol error.
    pub const PROTOCOL: u16 = 1002;
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED: u16 = 1003;
    /// 1005: no status code present (never on the wire).
    pub const NO_STATUS: u16 = 1005;
    /// 1007: data inconsistent with the message type (bad UTF-8).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// 1008: policy violation.
    pub const POLICY: u16 = 1008;
    /// 1009: message too big.
    pub const TOO_BIG: u16 = 1009;
    /// 1011: the server hit an unexpected condition.
    pub const INTERNAL: u16 = 1011;
}

/// Whether `code` may appear in a close frame on the wire.
///
/// RFC 6455 section 7.4: 1000-1003 and 1007-1011 are defined; 1012-1014
/// were registered later with IANA (service restart, try again later, bad
/// gateway) and are accepted; 3000-4999 are for libraries, frameworks and
/// applications. 1004 is reserved, and 1005, 1006 and 1015 "MUST NOT be set
/// as a status code in a Close control frame by an endpoint"; everything
/// below 1000 and the rest of 1000-2999 is unassigned.
pub const fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// A rule of RFC 6455 the peer broke (close code 1002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The frame header is invalid on its own.
    Frame(FrameError),
    /// A frame from a client was not masked: section 5.1, "The server MUST
    /// close the connection upon receiving a frame that is not masked."
    UnmaskedClientFrame,
    /// A frame from a server was masked: section 5.1, "A client MUST close
    /// a connection if it detects a masked frame."
    MaskedServerFrame,
    /// An RSV bit no negotiated extension defines (section 5.2), or RSV1 on
    /// a control or continuation frame (RFC 7692 section 6.1).
    ReservedBits,
    /// A continuation frame with no message in progress, or a new data
    /// message before the previous one's final fragment (section 5.4).
    UnexpectedContinuation,
    /// A text or binary frame while a fragmented message was in progress
    /// (section 5.4).
    ExpectedContinuation,
    /// A close frame with a 1-byte payload (section 5.5.1: the body starts
    /// with a 2-byte code).
    CloseTooShort,
    /// A close code that must not be on the wire (section 7.4).
    InvalidCloseCode(u16),
}

/// Why [`crate::WebSocket::read`] failed the connection. The codec has
/// already queued the matching close frame: call
/// [`crate::WebSocket::poll_output`], write it, then close the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke a framing rule (close 1002).
    Protocol(ProtocolError),
    /// A text message or close reason is not UTF-8 (close 1007).
    InvalidUtf8,
    /// A compressed message is not valid DEFLATE data (close 1007: RFC 7692
    /// section 6.2 says to fail the connection and names no code; 1007 is
    /// "data within a message that was not consistent with the type of the
    /// message").
    InvalidCompressedData,
    /// A frame or message is over its limit (close 1009).
    TooBig {
        /// The limit that was passed.
        limit: u64,
    },
    /// The peer broke a local policy (close 1008).
    Policy(PolicyViolation),
}

/// A local policy the peer broke (close 1008).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PolicyViolation {
    /// More fragments in one message than [`crate::Config::max_fragments`].
    TooManyFragments,
    /// More control frames in a second than
    /// [`crate::Config::max_control_frames_per_sec`].
    ControlFrameFlood,
}

impl Error {
    /// The close code the codec sent (or will send) for this error.
    pub const fn close_code(&self) -> u16 {
        match self {
            Error::Protocol(_) => code::PROTOCOL,
            Error::InvalidUtf8 | Error::InvalidCompressedData => code::INVALID_PAYLOAD,
            Error::TooBig { .. } => code::TOO_BIG,
            Error::Policy(_) => code::POLICY,
        }
    }

    /// A short reason sent in the close frame.
    pub const fn reason(&self) -> &'static str {
        match self {
            Error::Protocol(_) => "protocol error",
            Error::InvalidUtf8 => "invalid utf-8",
            Error::InvalidCompressedData => "invalid compressed data",
            Error::TooBig { .. } => "message too big",
            Error::Policy(PolicyViolation::TooManyFragments) => "too many fragments",
            Error::Policy(PolicyViolation::ControlFrameFlood) => "too many control frames",
        }
    }
}

impl From<FrameError> for Error {
    fn from(e: FrameError) -> Self {
        Error::Protocol(ProtocolError::Frame(e))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(p) => write!(f, "websocket protocol error: {p:?}"),
            Error::TooBig { limit } => write!(f, "websocket message over {limit} bytes"),
            other => write!(f, "websocket: {}", other.reason()),
        }
    }
}

impl std::error::Error for Error {}

/// Why a `send_*` or [`crate::WebSocket::close`] call wrote nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SendError {
    /// A close frame was already sent (or the connection failed): RFC 6455
    /// section 5.5.1, "The application MUST NOT send any more data frames
    /// after sending a Close frame."
    Closed,
    /// A control frame payload (or a close reason plus code) over 125 bytes.
    ControlTooLong,
    /// A close code that must not be sent (see [`is_valid_close_code`]).
    InvalidCloseCode(u16),
    /// A data frame while a fragmented message of the other kind is in
    /// progress, or a continuation with none in progress.
    FragmentOrder,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("websocket is closing"),
            SendError::ControlTooLong => f.write_str("control frame payload over 125 bytes"),
            SendError::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            SendError::FragmentOrder => f.write_str("fragment out of order"),
        }
    }
}

impl std::error::Error for SendError {}

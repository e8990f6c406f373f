//! Sans-IO WebSocket (RFC 6455) with permessage-deflate (RFC 7692) and the
//! opening handshake for HTTP/1.1 and HTTP/2 (RFC 8441).
//!
//! - [`frame`]: frame headers parsed over borrowed buffers
//!   (httparse-style [`frame::Status`]), encoded minimally; masking a
//!   word at a time.
//! - [`WebSocket`]: one connection's message state machine, for either
//!   [`Role`]: bytes in through [`WebSocket::read`] (unmasked in place,
//!   zero-copy for whole small frames), [`Event`]s out, frames out through
//!   `send_*` and [`WebSocket::poll_output`], time only through `now`
//!   arguments ([`WebSocket::poll_timeout`] / [`WebSocket::handle_timeout`]).
//! - [`handshake`]: validate a client's request and build the response, or
//!   build a client's request and verify the response; no HTTP crate.
//! - [`deflate`]: permessage-deflate offers and negotiation.
//!
//! ```
//! use std::time::Instant;
//! use flare_ws::{Config, Event, Role, WebSocket};
//!
//! let now = Instant::now();
//! let mut client = WebSocket::new(Role::Client, Config::default(), None);
//! let mut server = WebSocket::new(Role::Server, Config::default(), None);
//! let mut wire = Vec::new();
//! client.send_text("hello", &mut wire).unwrap();
//! let (used, event) = server.read(&mut wire, now).unwrap();
//! assert_eq!(used, 11); // 2 header bytes, 4 mask bytes, 5 payload bytes
//! assert_eq!(event, Some(Event::Text("hello")));
//! ```
//!
//! # Driving a connection
//!
//! Loop: `read(&mut buf[start..], now)`; handle the event; advance `start`
//! by the bytes consumed; repeat until it consumes 0 bytes and yields no
//! event; keep the unconsumed tail (at most a partial frame header, 13
//! bytes) for the next socket read. After every `read`, call
//! [`WebSocket::poll_output`] and write what it appended (pongs, the close
//! answer). On an [`Error`], the close frame is already queued: flush
//! `poll_output` and close the transport. Once [`WebSocket::is_closed`],
//! stop; [`WebSocket::should_close_transport`] says whether this side
//! closes TCP first (the server does, RFC 6455 section 7.1.1).
//!
//! # Limits and threat model
//!
//! Every limit is in [`Config`] with its default; nothing the peer sends
//! makes the codec's output or memory grow without bound: a frame header
//! over [`Config::max_frame_size`] fails before its payload is read;
//! inflation stops at [`Config::max_message_size`] (+1 byte) of output;
//! only the latest ping's pong is owed (RFC 6455 section 5.5.3 allows
//! answering only the most recent); pings and pongs beyond
//! [`Config::max_control_frames_per_sec`] fail the connection with 1008.
//!
//! | error | close code |
//! |---|---|
//! | framing rules (masking, RSV, opcodes, fragmentation, close payloads) | 1002 |
//! | bad UTF-8 in a text message or close reason; corrupt DEFLATE data | 1007 |
//! | [`Config::max_fragments`], control-frame flood | 1008 |
//! | [`Config::max_frame_size`], [`Config::max_message_size`] | 1009 |
//!
//! # Memory
//!
//! An idle `WebSocket` holds only its own struct (616 bytes on x86-64)
//! plus the message buffer it kept (at most [`Config::retain_buffer`],
//! default 8 KiB; none before the first fragmented, compressed or split
//! message: whole frames in the read buffer are returned in place). With
//! permessage-deflate, the decompressor (~43 KiB) and compressor (~312 KiB
//! in miniz_oxide 0.8.9, measured in `tests/alloc.rs`) are allocated on the
//! first compressed message in their direction; with context takeover they
//! must then live as long as the connection. So for 10,000 idle
//! connections under 16 KiB each, a server should ask for no context
//! takeover both ways ([`deflate::DeflateConfig`]; a server may add both
//! parameters to its response unasked), which releases each state after
//! its message. Steady-state messages allocate nothing (also measured
//! there), with no context takeover too: a released state is not freed
//! but kept in a per-thread pool (the thread is the worker driving the
//! connections; at most 4 compressors and 4 decompressors, about 1.4 MiB,
//! per thread; more are freed), from which the next compressed message on
//! that thread takes one and resets it in place. Without the pool, glibc
//! returned each freed state to the kernel and every message paid for
//! page faults and zeroing (about 10x the CPU of a 1 KiB message). Idle
//! connections hold no deflate state; [`deflate::pooled_states`] shows
//! what the current thread's pool holds. The pool is thread-local
//! storage: the codec still spawns no thread and never blocks.
//!
//! # Differences from the planned API
//!
//! All planned names are kept. Additions: [`WebSocket::send_fragment`]
//! (fragments are always assembled on receipt, so [`Event`] has no
//! continuation variant), [`WebSocket::set_mask_source`] (the default is
//! an xorshift64* seeded from std's random hash keys),
//! [`WebSocket::should_close_transport`] (who closes TCP first),
//! [`WebSocket::wants_output`], [`WebSocket::memory`]; close code 1005
//! passed to [`WebSocket::close`] sends an empty close body.
//! [`frame::parse_header`] returns `Status<(FrameHeader, usize)>`: the
//! header and its length in bytes. In
//! [`handshake`], [`handshake::Offer`] borrows the fields (`Offer<'a>`),
//! [`handshake::Accept`] gives the response as `fields()` or a whole
//! HTTP/1.1 head (`write_response`), and [`handshake::HandshakeError::version_field`]
//! is the `Sec-WebSocket-Version: 13` field for the 426. The RFC 6455
//! section 1.3 accept value for `dGhlIHNhbXBsZSBub25jZQ==` is
//! `s3pPLMBiTxaQ9kYGzzhZRbK+xOo=` (the value in the issue was not).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod base64;
mod config;
pub mod deflate;
mod error;
pub mod frame;
pub mod handshake;
mod mask;
mod message;
mod read;
mod send;
mod sha1;
mod utf8;
mod websocket;

pub use config::Config;
pub use deflate::{DeflateConfig, DeflateParams};
pub use error::{code, is_valid_close_code, Error, PolicyViolation, ProtocolError, SendError};
pub use frame::FrameError;
pub use websocket::{State, WebSocket};

/// Which end of the connection this codec is. RFC 6455 section 5.1: a
/// client masks every frame it sends and a server none; each rejects the
/// other direction's violation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The end that accepted the connection (receives masked frames).
    Server,
    /// The end that opened it (sends masked frames).
    Client,
}

/// What [`WebSocket::read`] found. Payloads borrow the input buffer
/// (zero-copy path) or the codec's message buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// A whole text message, UTF-8 validated.
    Text(&'a str),
    /// A whole binary message.
    Binary(&'a [u8]),
    /// A ping; with [`Config::auto_pong`] its pong is queued for
    /// [`WebSocket::poll_output`].
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The peer's close frame; the answer is queued (unless we closed
    /// first). `code` is `None` for an empty close body (1005).
    Close {
        /// The status code, if the frame had one.
        code: Option<u16>,
        /// The reason, UTF-8 validated.
        reason: &'a str,
    },
}

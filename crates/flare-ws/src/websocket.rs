//! The per-connection message state machine: state, output owed, timers.
//! Reading is in `read.rs`, sending in `send.rs`.

use std::time::Instant;

use crate::config::Config;
use crate::deflate::{DeflateParams, Deflater, Inflater};
use crate::error::{code, Error};
use crate::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD};
use crate::message::MessageBuf;
use crate::utf8::Utf8Validator;
use crate::Role;

/// Where the close handshake is (RFC 6455 section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and await the peer's; received data frames
    /// are dropped. Ends on the peer's close or on the close timeout.
    CloseSent,
    /// The peer sent a close frame; our answer is queued for
    /// [`WebSocket::poll_output`].
    CloseReceived,
    /// Both close frames were exchanged, or the connection failed, or the
    /// peer did not answer in time. See [`WebSocket::is_closed`].
    Closed,
}

/// The frame being read, once its header is parsed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFrame {
    pub(crate) opcode: OpCode,
    pub(crate) fin: bool,
    pub(crate) mask: Option<[u8; 4]>,
    pub(crate) remaining: u64,
    /// Payload bytes already read (the masking offset).
    pub(crate) offset: usize,
}

/// The data message being assembled.
#[derive(Debug, Clone, Copy)]
pub(crate) struct InMessage {
    pub(crate) text: bool,
    pub(crate) compressed: bool,
    pub(crate) fragments: u32,
}

/// A small inline control payload (at most 125 bytes).
#[derive(Clone, Copy)]
pub(crate) struct ControlBuf {
    pub(crate) bytes: [u8; MAX_CONTROL_PAYLOAD],
    pub(crate) len: u8,
}

impl ControlBuf {
    pub(crate) const EMPTY: ControlBuf = ControlBuf {
        bytes: [0; MAX_CONTROL_PAYLOAD],
        len: 0,
    };

    pub(crate) fn from_slice(data: &[u8]) -> Self {
        let mut c = ControlBuf::EMPTY;
        c.push(data);
        c
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        let start = self.len as usize;
        let end = (start + data.len()).min(MAX_CONTROL_PAYLOAD);
        self.bytes[start..end].copy_from_slice(&data[..end - start]);
        self.len = end as u8;
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

/// Where client mask keys come from.
pub(crate) enum MaskSource {
    Xorshift(u64),
    Custom(Box<dyn FnMut() -> [u8; 4] + Send>),
}

impl MaskSource {
    pub(crate) fn next(&mut self) -> [u8; 4] {
        match self {
            MaskSource::Xorshift(s) => {
                // xorshift64*: fast, full period; unpredictability comes
                // from the seed.
                *s ^= *s >> 12;
                *s ^= *s << 25;
                *s ^= *s >> 27;
                let v = s.wrapping_mul(0x2545_F491_4F6C_DD1D);
                let b = (v >> 32) as u32;
                b.to_ne_bytes()
            }
            MaskSource::Custom(f) => f(),
        }
    }
}

/// One WebSocket connection's message-level state machine (sans-IO).
///
/// Bytes go in through [`WebSocket::read`], frames come out through the
/// `send_*` methods, [`WebSocket::close`] and [`WebSocket::poll_output`];
/// time enters only as the `now` arguments.
pub struct WebSocket {
    pub(crate) role: Role,
    pub(crate) config: Config,
    pub(crate) deflate: Option<DeflateParams>,
    // Read side.
    pub(crate) frame: Option<InFrame>,
    pub(crate) msg: Option<InMessage>,
    pub(crate) buf: MessageBuf,
    pub(crate) utf8: Utf8Validator,
    pub(crate) ctrl: ControlBuf,
    /// `buf` holds the last event's message: clear on the next read.
    pub(crate) delivered: bool,
    pub(crate) inflater: Option<Inflater>,
    pub(crate) control_window: Option<(Instant, u32)>,
    // Output owed.
    pub(crate) pong: Option<ControlBuf>,
    /// A close frame to send: code (0 for none) and reason.
    pub(crate) close_out: Option<(u16, ControlBuf)>,
    // Send side.
    pub(crate) deflater: Option<Deflater>,
    /// A fragmented message we are sending: (text, compressed).
    pub(crate) sending: Option<(bool, bool)>,
    pub(crate) mask: MaskSource,
    // Close handshake.
    pub(crate) close_sent: bool,
    pub(crate) close_received: bool,
    pub(crate) failed: bool,
    pub(crate) timed_out: bool,
    /// CloseSent: give up on the peer's close. Client, Closed: give up on
    /// the server closing TCP.
    pub(crate) deadline: Option<Instant>,
}

impl WebSocket {
    /// A connection in [`State::Open`] after a successful handshake;
    /// `deflate` is what the handshake negotiated (`None`: no compression,
    /// and RSV1 from the peer is a protocol error).
    ///
    /// A client's mask keys come from an xorshift64* generator seeded from
    /// std's per-process random hash keys; use
    /// [`WebSocket::set_mask_source`] to supply your own.
    ///
    /// Without the `deflate` feature, `deflate` is ignored (no handshake of
    /// this crate negotiates it then).
    pub fn new(role: Role, config: Config, deflate: Option<DeflateParams>) -> Self {
        let deflate = if cfg!(feature = "deflate") {
            deflate
        } else {
            None
        };
        let (inflater, deflater) = codecs(role, &config, deflate);
        WebSocket {
            role,
            deflate,
            frame: None,
            msg: None,
            buf: MessageBuf::default(),
            utf8: Utf8Validator::default(),
            ctrl: ControlBuf::EMPTY,
            delivered: false,
            inflater,
            control_window: None,
            pong: None,
            close_out: None,
            deflater,
            sending: None,
            mask: MaskSource::Xorshift(seed()),
            close_sent: false,
            close_received: false,
            failed: false,
            timed_out: false,
            deadline: None,
            config,
        }
    }

    /// Mask keys for frames we send as a client come from `source` (RFC
    /// 6455 section 10.3: they must be unpredictable to the application).
    pub fn set_mask_source(&mut self, source: Box<dyn FnMut() -> [u8; 4] + Send>) {
        self.mask = MaskSource::Custom(source);
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The negotiated permessage-deflate parameters.
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// The close handshake state. Changed by [`WebSocket::read`] (peer's
    /// close, errors), [`WebSocket::close`], [`WebSocket::poll_output`]
    /// (our answer sent) and [`WebSocket::handle_timeout`].
    pub fn state(&self) -> State {
        if self.failed || self.timed_out || (self.close_sent && self.close_received) {
            State::Closed
        } else if self.close_received {
            State::CloseReceived
        } else if self.close_sent {
            State::CloseSent
        } else {
            State::Open
        }
    }

    /// The close handshake is over and no output is owed: the driver may
    /// stop reading and close the transport once written bytes are
    /// flushed. See [`WebSocket::should_close_transport`] for who closes
    /// TCP first.
    pub fn is_closed(&self) -> bool {
        self.state() == State::Closed && self.close_out.is_none()
    }

    /// Whether this side should close the TCP connection now.
    ///
    /// RFC 6455 section 7.1.1: "The underlying TCP connection, in most
    /// normal cases, SHOULD be closed first by the server", so a server
    /// closes as soon as [`WebSocket::is_closed`]; a client waits for the
    /// server to close and returns `true` only after a failure, or once
    /// the close timeout (started when the handshake completed) passed in
    /// [`WebSocket::handle_timeout`].
    pub fn should_close_transport(&self) -> bool {
        self.is_closed()
            && match self.role {
                Role::Server => true,
                Role::Client => self.failed || self.timed_out,
            }
    }

    /// The next instant [`WebSocket::handle_timeout`] wants to be called
    /// at. Changed by [`WebSocket::close`], [`WebSocket::read`] (the
    /// peer's close) and [`WebSocket::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.timed_out || self.failed {
            None
        } else {
            self.deadline
        }
    }

    /// Advances timers: a peer that did not answer our close in
    /// [`Config::close_timeout`] is given up on ([`State::Closed`]); a
    /// client stops waiting for the server to close TCP.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(d) = self.deadline {
            if now >= d && !self.failed {
                self.timed_out = true;
                self.deadline = None;
                self.frame = None;
                self.msg = None;
            }
        }
    }

    /// Appends the control frames the codec owes: the latest ping's pong
    /// (with [`Config::auto_pong`]), the answer to the peer's close, or
    /// the close frame of a failed connection. Changed by
    /// [`WebSocket::read`]; empties what it wrote.
    pub fn poll_output(&mut self, out: &mut Vec<u8>) {
        if let Some(p) = self.pong.take() {
            if !self.close_sent {
                self.write_frame_raw(OpCode::Pong, p.as_slice(), out);
            }
        }
        if let Some((code, reason)) = self.close_out.take() {
            if !self.close_sent {
                self.write_close(code, reason.as_slice(), out);
                self.close_sent = true;
            }
        }
    }

    /// Whether [`WebSocket::poll_output`] has something to write.
    pub fn wants_output(&self) -> bool {
        (self.pong.is_some() || self.close_out.is_some()) && !self.close_sent
    }

    /// Bytes allocated for the message buffer and deflate state (excluding
    /// the `WebSocket` itself): `(message buffer, inflater allocated,
    /// deflater allocated)`. For memory accounting and tests.
    pub fn memory(&self) -> (usize, bool, bool) {
        (
            self.buf.allocated(),
            self.inflater.as_ref().is_some_and(|i| i.is_allocated()),
            self.deflater.as_ref().is_some_and(|d| d.is_allocated()),
        )
    }

    /// Writes an unfragmented frame with no RSV bits, masked as a client.
    pub(crate) fn write_frame_raw(&mut self, opcode: OpCode, payload: &[u8], out: &mut Vec<u8>) {
        let mask = match self.role {
            Role::Client => Some(self.mask.next()),
            Role::Server => None,
        };
        let header = FrameHeader::new(true, opcode, mask, payload.len() as u64);
        crate::frame::encode_header(&header, out);
        let start = out.len();
        out.extend_from_slice(payload);
        if let Some(key) = mask {
            crate::mask::apply_mask(&mut out[start..], key, 0);
        }
    }

    /// Writes a close frame; `code` 0 means an empty body.
    pub(crate) fn write_close(&mut self, code: u16, reason: &[u8], out: &mut Vec<u8>) {
        let mut body = ControlBuf::EMPTY;
        if code != 0 {
            body.push(&code.to_be_bytes());
            body.push(reason);
        }
        self.write_frame_raw(OpCode::Close, body.as_slice(), out);
    }

    /// Fails the connection (RFC 6455 section 7.1.7): queues a close frame
    /// with the error's code unless one was sent, and stops reading.
    pub(crate) fn fail(&mut self, e: Error) -> Error {
        if !self.failed {
            self.failed = true;
            self.pong = None;
            self.frame = None;
            self.msg = None;
            self.buf.clear(0);
            if !self.close_sent {
                self.close_out = Some((
                    e.close_code(),
                    ControlBuf::from_slice(e.reason().as_bytes()),
                ));
            }
        }
        e
    }

    /// The peer's close frame arrived (payload already validated).
    pub(crate) fn on_peer_close(&mut self, code: Option<u16>, now: Instant) {
        self.close_received = true;
        self.frame = None;
        self.msg = None;
        if self.close_sent {
            // Handshake complete: a client now waits for the server to
            // close TCP, but not for ever.
            self.deadline = match self.role {
                Role::Client => Some(now + self.config.get_close_timeout()),
                Role::Server => None,
            };
        } else {
            // RFC 6455 section 5.5.1: "it typically echos the status code
            // it received"; a close without a code (1005) gets none.
            let echo = match code {
                Some(c) if c != code::NO_STATUS => c,
                _ => 0,
            };
            self.close_out = Some((echo, ControlBuf::EMPTY));
            if self.role == Role::Client {
                self.deadline = Some(now + self.config.get_close_timeout());
            }
        }
    }
}

impl core::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WebSocket")
            .field("role", &self.role)
            .field("state", &self.state())
            .field("deflate", &self.deflate)
            .finish_non_exhaustive()
    }
}

/// A per-connection seed from std's randomly keyed hasher (one OS random
/// draw per thread, then a counter), so no RNG crate is needed.
fn seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u8(0);
    h.finish() | 1
}

/// The decompressor and compressor for the negotiated `deflate` parameters.
#[cfg(feature = "deflate")]
fn codecs(
    role: Role,
    config: &Config,
    deflate: Option<DeflateParams>,
) -> (Option<Inflater>, Option<Deflater>) {
    let (ours_nct, theirs_nct, ours_bits) = match (role, deflate) {
        (_, None) => (false, false, 15),
        (Role::Server, Some(p)) => (
            p.server_no_context_takeover,
            p.client_no_context_takeover,
            p.server_max_window_bits,
        ),
        (Role::Client, Some(p)) => (
            p.client_no_context_takeover,
            p.server_no_context_takeover,
            p.client_max_window_bits,
        ),
    };
    let retain = config.get_retain_deflate_state();
    let level = config.get_deflate_level();
    (
        deflate.map(|_| Inflater::new(theirs_nct, retain)),
        deflate.map(|_| Deflater::new(ours_nct, retain, level, ours_bits)),
    )
}

/// Without the `deflate` feature there is nothing to negotiate with.
#[cfg(not(feature = "deflate"))]
fn codecs(_: Role, _: &Config, _: Option<DeflateParams>) -> (Option<Inflater>, Option<Deflater>) {
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_connection_is_small() {
        let size = core::mem::size_of::<WebSocket>();
        println!("WebSocket is {size} bytes");
        assert!(size <= 768, "{size}");
        let ws = WebSocket::new(
            Role::Server,
            Config::default(),
            Some(DeflateParams::default()),
        );
        assert_eq!(ws.memory(), (0, false, false));
    }
}

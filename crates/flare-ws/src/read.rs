//! The read path: frames in, at most one event out per call.

use std::time::{Duration, Instant};

use crate::error::{is_valid_close_code, Error, PolicyViolation, ProtocolError};
use crate::frame::{parse_header, FrameHeader, OpCode, Status};
use crate::mask::apply_mask;
use crate::websocket::{ControlBuf, InFrame, InMessage, WebSocket};
use crate::{Event, Role};

/// What the read loop found, with no borrows (the event is built after
/// the loop so it can borrow `input` or `self`).
enum Ready {
    /// A whole unfragmented data frame in `input[start..end]`.
    InputData {
        text: bool,
        start: usize,
        end: usize,
    },
    /// A whole control frame in `input[start..end]`.
    InputControl {
        opcode: OpCode,
        start: usize,
        end: usize,
    },
    /// A message assembled in the message buffer.
    Message { text: bool },
    /// A control frame assembled in the control buffer.
    Control { opcode: OpCode },
}

impl WebSocket {
    /// Reads as much of `input` as it can, unmasking in place, and returns
    /// how many bytes were consumed and at most one event.
    ///
    /// Zero-copy fast path: an unfragmented, uncompressed data frame (or a
    /// control frame) wholly inside `input` is returned as a slice of
    /// `input`. Otherwise payload bytes are moved into the codec's message
    /// buffer as they arrive, so `input` never has to hold a whole frame:
    /// only a partial frame *header* makes it consume 0. Call again with
    /// `input[consumed..]` (after handling the event) until it consumes 0
    /// and yields no event. The event's borrow ends before the next call;
    /// the next call recycles the buffer it borrowed.
    ///
    /// On an error the codec has queued the close frame with
    /// [`Error::close_code`]: call [`WebSocket::poll_output`], write the
    /// bytes, then close the transport. After the peer's close frame, or
    /// after an error, input is consumed and dropped.
    pub fn read<'a>(
        &'a mut self,
        input: &'a mut [u8],
        now: Instant,
    ) -> Result<(usize, Option<Event<'a>>), Error> {
        if self.delivered {
            self.delivered = false;
            self.buf.clear(self.config.get_retain_buffer());
        }
        if self.failed || self.close_received || self.timed_out {
            return Ok((input.len(), None));
        }
        let mut pos = 0;
        let ready = loop {
            let frame = match self.frame {
                Some(f) => f,
                None => {
                    let (h, n) = match parse_header(&input[pos..]) {
                        Ok(Status::Complete(x)) => x,
                        Ok(Status::Partial) => return Ok((pos, None)),
                        Err(e) => return Err(self.fail(e.into())),
                    };
                    if let Err(e) = self.check_header(&h, now) {
                        return Err(self.fail(e));
                    }
                    pos += n;
                    let avail = (input.len() - pos) as u64;
                    // Fast path: the whole payload is here, nothing to
                    // assemble or inflate.
                    if h.fin
                        && !h.rsv1
                        && h.payload_len <= avail
                        && h.opcode != OpCode::Continuation
                    {
                        let start = pos;
                        let end = pos + h.payload_len as usize;
                        pos = end;
                        if let Some(key) = h.mask {
                            apply_mask(&mut input[start..end], key, 0);
                        }
                        match h.opcode {
                            OpCode::Text | OpCode::Binary if self.close_sent => {
                                self.msg = None;
                                continue; // dropped while closing
                            }
                            OpCode::Text | OpCode::Binary => {
                                self.msg = None;
                                break Ready::InputData {
                                    text: h.opcode == OpCode::Text,
                                    start,
                                    end,
                                };
                            }
                            opcode => break Ready::InputControl { opcode, start, end },
                        }
                    }
                    let f = InFrame {
                        opcode: h.opcode,
                        fin: h.fin,
                        mask: h.mask,
                        remaining: h.payload_len,
                        offset: 0,
                    };
                    if h.opcode.is_control() {
                        self.ctrl.len = 0;
                    } else if h.opcode != OpCode::Continuation {
                        self.utf8.reset();
                    }
                    self.frame = Some(f);
                    f
                }
            };
            let take = frame.remaining.min((input.len() - pos) as u64) as usize;
            let chunk = &mut input[pos..pos + take];
            if let Some(key) = frame.mask {
                apply_mask(chunk, key, frame.offset);
            }
            pos += take;
            let remaining = frame.remaining - take as u64;
            if frame.opcode.is_control() {
                self.ctrl.push(chunk);
            } else if let Err(e) = self.data_piece(chunk) {
                return Err(self.fail(e));
            }
            if remaining > 0 {
                self.frame = Some(InFrame {
                    remaining,
                    offset: frame.offset + take,
                    ..frame
                });
                return Ok((pos, None));
            }
            self.frame = None;
            if frame.opcode.is_control() {
                break Ready::Control {
                    opcode: frame.opcode,
                };
            }
            if frame.fin {
                let Some(msg) = self.msg.take() else { continue };
                if self.close_sent {
                    self.buf.clear(self.config.get_retain_buffer());
                    continue;
                }
                if let Err(e) = self.finish_message(&msg) {
                    return Err(self.fail(e));
                }
                break Ready::Message { text: msg.text };
            }
        };
        let event = match ready {
            Ready::InputData {
                text: false,
                start,
                end,
            } => Event::Binary(&input[start..end]),
            Ready::InputData {
                text: true,
                start,
                end,
            } => match core::str::from_utf8(&input[start..end]) {
                Ok(s) => Event::Text(s),
                Err(_) => return Err(self.fail(Error::InvalidUtf8)),
            },
            Ready::Message { text } => {
                self.delivered = true;
                if text {
                    match core::str::from_utf8(self.buf.as_slice()) {
                        Ok(s) => Event::Text(s),
                        // Unreachable: every piece was validated as it
                        // arrived and the message ended on a boundary.
                        Err(_) => return Err(Error::InvalidUtf8),
                    }
                } else {
                    Event::Binary(self.buf.as_slice())
                }
            }
            Ready::InputControl { opcode, start, end } => {
                let payload = &input[start..end];
                return match self.control(opcode, payload, now) {
                    Ok(()) => Ok((pos, Some(control_event(opcode, &input[start..end])))),
                    Err(e) => Err(self.fail(e)),
                };
            }
            Ready::Control { opcode } => {
                let payload = self.ctrl;
                if let Err(e) = self.control(opcode, payload.as_slice(), now) {
                    return Err(self.fail(e));
                }
                control_event(opcode, self.ctrl.as_slice())
            }
        };
        Ok((pos, Some(event)))
    }

    /// The rules that depend on role, extensions, the message in progress
    /// and the limits. Starts or continues the data message.
    fn check_header(&mut self, h: &FrameHeader, now: Instant) -> Result<(), Error> {
        match (self.role, h.mask.is_some()) {
            // RFC 6455 section 5.1: "The server MUST close the connection
            // upon receiving a frame that is not masked."
            (Role::Server, false) => {
                return Err(Error::Protocol(ProtocolError::UnmaskedClientFrame))
            }
            // "A client MUST close a connection if it detects a masked frame."
            (Role::Client, true) => return Err(Error::Protocol(ProtocolError::MaskedServerFrame)),
            _ => {}
        }
        // Section 5.2: "If a nonzero value is received and none of the
        // negotiated extensions defines the meaning of such a nonzero
        // value, the receiving endpoint MUST _Fail the WebSocket
        // Connection_." RFC 7692 section 6.1: RSV1 only on the first frame
        // of a data message.
        let rsv1_ok = self.inflater.is_some() && matches!(h.opcode, OpCode::Text | OpCode::Binary);
        if h.rsv2 || h.rsv3 || (h.rsv1 && !rsv1_ok) {
            return Err(Error::Protocol(ProtocolError::ReservedBits));
        }
        if h.payload_len > self.config.get_max_frame_size() {
            return Err(Error::TooBig {
                limit: self.config.get_max_frame_size(),
            });
        }
        match h.opcode {
            OpCode::Ping | OpCode::Pong => self.count_control(now)?,
            OpCode::Close => {}
            OpCode::Continuation => {
                // Section 5.4: continuations only inside a fragmented message.
                let Some(msg) = self.msg.as_mut() else {
                    return Err(Error::Protocol(ProtocolError::UnexpectedContinuation));
                };
                msg.fragments += 1;
                if msg.fragments > self.config.get_max_fragments() {
                    return Err(Error::Policy(PolicyViolation::TooManyFragments));
                }
                if !msg.compressed {
                    self.check_message_size(h.payload_len)?;
                }
            }
            OpCode::Text | OpCode::Binary => {
                // Section 5.4: "fragments of one message MUST NOT be
                // interleaved between fragments of another message".
                if self.msg.is_some() {
                    return Err(Error::Protocol(ProtocolError::ExpectedContinuation));
                }
                if !h.rsv1 {
                    self.check_message_size(h.payload_len)?;
                }
                self.msg = Some(InMessage {
                    text: h.opcode == OpCode::Text,
                    compressed: h.rsv1,
                    fragments: 1,
                });
            }
        }
        Ok(())
    }

    fn check_message_size(&self, more: u64) -> Result<(), Error> {
        let limit = self.config.get_max_message_size();
        if self.buf.len() as u64 + more > limit as u64 {
            return Err(Error::TooBig {
                limit: limit as u64,
            });
        }
        Ok(())
    }

    /// Ping/pong rate limit over one-second windows of `now`.
    fn count_control(&mut self, now: Instant) -> Result<(), Error> {
        let max = self.config.get_max_control_frames_per_sec();
        let (start, count) = match self.control_window {
            Some((start, count))
                if now.saturating_duration_since(start) < Duration::from_secs(1) =>
            {
                (start, count + 1)
            }
            _ => (now, 1),
        };
        self.control_window = Some((start, count));
        if count > max {
            return Err(Error::Policy(PolicyViolation::ControlFrameFlood));
        }
        Ok(())
    }

    /// One piece of a data frame's (unmasked) payload.
    fn data_piece(&mut self, chunk: &[u8]) -> Result<(), Error> {
        let Some(msg) = self.msg else { return Ok(()) };
        if self.close_sent {
            return Ok(()); // dropped while closing
        }
        let limit = self.config.get_max_message_size();
        if msg.compressed {
            let before = self.buf.len();
            if let Some(inflater) = self.inflater.as_mut() {
                inflater.feed(chunk, &mut self.buf, limit)?;
            }
            if msg.text {
                self.utf8
                    .feed(&self.buf.as_slice()[before..])
                    .map_err(|_| Error::InvalidUtf8)?;
            }
        } else {
            if msg.text {
                self.utf8.feed(chunk).map_err(|_| Error::InvalidUtf8)?;
            }
            self.buf.extend(chunk, limit);
        }
        Ok(())
    }

    fn finish_message(&mut self, msg: &InMessage) -> Result<(), Error> {
        if msg.compressed {
            let before = self.buf.len();
            if let Some(inflater) = self.inflater.as_mut() {
                inflater.finish(&mut self.buf, self.config.get_max_message_size())?;
            }
            if msg.text {
                self.utf8
                    .feed(&self.buf.as_slice()[before..])
                    .map_err(|_| Error::InvalidUtf8)?;
            }
        }
        if msg.text {
            self.utf8.finish().map_err(|_| Error::InvalidUtf8)?;
        }
        Ok(())
    }

    /// A complete control frame: validate a close, queue a pong.
    fn control(&mut self, opcode: OpCode, payload: &[u8], now: Instant) -> Result<(), Error> {
        match opcode {
            // Section 5.5.3: answer with the same payload; only the latest
            // ping's pong is kept.
            OpCode::Ping if self.config.get_auto_pong() && !self.close_sent => {
                self.pong = Some(ControlBuf::from_slice(payload));
            }
            OpCode::Close => {
                let code = parse_close(payload)?;
                self.on_peer_close(code, now);
            }
            _ => {}
        }
        Ok(())
    }
}

/// Validates a close payload (RFC 6455 section 5.5.1) and returns its code.
fn parse_close(payload: &[u8]) -> Result<Option<u16>, Error> {
    match payload {
        [] => Ok(None),
        // "If there is a body, the first two bytes of the body MUST be a
        // 2-byte unsigned integer".
        [_] => Err(Error::Protocol(ProtocolError::CloseTooShort)),
        [a, b, reason @ ..] => {
            let code = u16::from_be_bytes([*a, *b]);
            if !is_valid_close_code(code) {
                return Err(Error::Protocol(ProtocolError::InvalidCloseCode(code)));
            }
            // Section 5.5.1: the reason "is not guaranteed to be human
            // readable" but is UTF-8; section 8.1 fails bad UTF-8.
            core::str::from_utf8(reason).map_err(|_| Error::InvalidUtf8)?;
            Ok(Some(code))
        }
    }
}

fn control_event(opcode: OpCode, payload: &[u8]) -> Event<'_> {
    match opcode {
        OpCode::Ping => Event::Ping(payload),
        OpCode::Pong => Event::Pong(payload),
        _ => {
            let (code, reason) = match payload {
                [a, b, reason @ ..] => (Some(u16::from_be_bytes([*a, *b])), reason),
                _ => (None, &[][..]),
            };
            Event::Close {
                code,
                reason: core::str::from_utf8(reason).unwrap_or(""),
            }
        }
    }
}

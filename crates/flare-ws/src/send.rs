//! The send path: messages and control frames out.

use std::time::Instant;

use crate::error::{code, is_valid_close_code, SendError};
use crate::frame::{FrameHeader, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN};
use crate::mask::apply_mask;
use crate::websocket::{State, WebSocket};
use crate::Role;

impl WebSocket {
    /// Appends one text message as a single frame to `out`, compressed if
    /// permessage-deflate was negotiated and the text is at least
    /// [`crate::Config::compression_threshold`] bytes, masked as a client.
    pub fn send_text(&mut self, text: &str, out: &mut Vec<u8>) -> Result<(), SendError> {
        self.send_message(OpCode::Text, text.as_bytes(), out)
    }

    /// Appends one binary message as a single frame to `out` (compressed
    /// and masked as for [`WebSocket::send_text`]).
    pub fn send_binary(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), SendError> {
        self.send_message(OpCode::Binary, data, out)
    }

    /// Appends one fragment of a message: the first call starts a text or
    /// binary message (`text`), later ones continue it (the same `text`,
    /// else [`SendError::FragmentOrder`]), `fin` ends it. Control frames
    /// may be sent between fragments. Text fragments need not end on a
    /// character boundary; the whole message must be UTF-8. Whether the
    /// message is compressed is decided by its first fragment's size.
    pub fn send_fragment(
        &mut self,
        text: bool,
        data: &[u8],
        fin: bool,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.check_open()?;
        let (opcode, compressed) = match self.sending {
            None => (
                if text { OpCode::Text } else { OpCode::Binary },
                self.deflater.is_some() && data.len() >= self.config.get_compression_threshold(),
            ),
            Some((t, c)) if t == text => (OpCode::Continuation, c),
            Some(_) => return Err(SendError::FragmentOrder),
        };
        self.sending = if fin { None } else { Some((text, compressed)) };
        self.write_data_frame(opcode, fin, compressed, data, out);
        Ok(())
    }

    /// Appends a ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, data, out)
    }

    /// Appends a pong (payload at most 125 bytes), e.g. to answer pings
    /// by hand with [`crate::Config::auto_pong`] off. RFC 6455 section
    /// 5.5.3: "A Pong frame MAY be sent unsolicited."
    pub fn send_pong(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, data, out)
    }

    /// Starts (or, after the peer's close, completes) the close handshake:
    /// appends a close frame with `code` and `reason` (at most 123 bytes).
    /// Code 1005 ("no status") sends an empty close body. From
    /// [`State::Open`] this moves to [`State::CloseSent`] and arms the close
    /// timeout from `now`; from [`State::CloseReceived`] it replaces the
    /// queued echo and moves to [`State::Closed`].
    pub fn close(
        &mut self,
        code: u16,
        reason: &str,
        now: Instant,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        if self.close_sent || self.failed || self.timed_out {
            return Err(SendError::Closed);
        }
        let code = if code == code::NO_STATUS {
            0
        } else if is_valid_close_code(code) {
            code
        } else {
            return Err(SendError::InvalidCloseCode(code));
        };
        if reason.len() + 2 > MAX_CONTROL_PAYLOAD || (code == 0 && !reason.is_empty()) {
            return Err(SendError::ControlTooLong);
        }
        if let Some(p) = self.pong.take() {
            self.write_frame_raw(OpCode::Pong, p.as_slice(), out);
        }
        self.close_out = None;
        self.write_close(code, reason.as_bytes(), out);
        self.close_sent = true;
        self.sending = None;
        if !self.close_received {
            self.deadline = Some(now + self.config.get_close_timeout());
        }
        Ok(())
    }

    fn check_open(&self) -> Result<(), SendError> {
        match self.state() {
            State::Open => Ok(()),
            _ => Err(SendError::Closed),
        }
    }

    fn send_message(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.check_open()?;
        if self.sending.is_some() {
            return Err(SendError::FragmentOrder);
        }
        let compressed =
            self.deflater.is_some() && data.len() >= self.config.get_compression_threshold();
        self.write_data_frame(opcode, true, compressed, data, out);
        Ok(())
    }

    fn send_control(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.check_open()?;
        if data.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlTooLong);
        }
        self.write_frame_raw(opcode, data, out);
        Ok(())
    }

    /// One data frame; RSV1 on the first frame of a compressed message
    /// (RFC 7692 section 6: "the first frame ... has the RSV1 bit set").
    fn write_data_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        compressed: bool,
        data: &[u8],
        out: &mut Vec<u8>,
    ) {
        let mask = match self.role {
            Role::Client => Some(self.mask.next()),
            Role::Server => None,
        };
        let deflater = if compressed {
            self.deflater.as_mut()
        } else {
            None
        };
        let Some(deflater) = deflater else {
            let mut header = FrameHeader::new(fin, opcode, mask, data.len() as u64);
            header.rsv1 = false;
            crate::frame::encode_header(&header, out);
            let start = out.len();
            out.extend_from_slice(data);
            if let Some(key) = mask {
                apply_mask(&mut out[start..], key, 0);
            }
            return;
        };
        // Compress after room for the longest header, then close the gap
        // once the compressed length (and so the header length) is known.
        let head = out.len();
        out.resize(head + MAX_HEADER_LEN, 0);
        let body = out.len();
        deflater.compress(data, fin, out);
        let body_len = out.len() - body;
        let mut header = FrameHeader::new(fin, opcode, mask, body_len as u64);
        header.rsv1 = opcode != OpCode::Continuation;
        let mut hb = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut hb);
        out[head..head + n].copy_from_slice(&hb[..n]);
        out.copy_within(body.., head + n);
        out.truncate(head + n + body_len);
        if let Some(key) = mask {
            apply_mask(&mut out[head + n..], key, 0);
        }
    }
}

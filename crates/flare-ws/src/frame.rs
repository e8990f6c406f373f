//! Frame headers (RFC 6455 section 5.2): parse over a borrowed buffer in the
//! httparse style, encode minimally.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! ```
//!
//! [`parse_header`] checks the rules that hold for every frame whatever the
//! role and extensions: opcodes, the 64-bit length's most significant bit,
//! and the control-frame rules of section 5.5. Masking direction and RSV bits
//! depend on the role and the negotiated extensions, so [`crate::WebSocket`]
//! checks those.

pub use crate::mask::apply_mask;

/// The longest frame header: 2 bytes, 8 of extended length, 4 of mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (RFC 6455 section 5.5: "All
/// control frames MUST have a payload length of 125 bytes or less").
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The result of parsing a possibly incomplete buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// The value, complete.
    Complete(T),
    /// The buffer ends before the value does; call again with more bytes.
    Partial,
}

/// A frame opcode (RFC 6455 section 5.2; the registry of section 11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: a continuation of a fragmented data message.
    Continuation,
    /// `0x1`: the first frame of a text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: close.
    Close,
    /// `0x9`: ping.
    Ping,
    /// `0xA`: pong.
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, `None` for the reserved ones
    /// (`0x3`-`0x7`, `0xB`-`0xF`).
    pub const fn from_u8(v: u8) -> Option<OpCode> {
        Some(match v {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong: "Control frames are identified by opcodes
    /// where the most significant bit of the opcode is 1" (section 5.5).
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }
}

/// One frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the final fragment of a message.
    pub fin: bool,
    /// RSV1 (permessage-deflate's "Per-Message Compressed" bit).
    pub rsv1: bool,
    /// RSV2 (no extension we support defines it).
    pub rsv2: bool,
    /// RSV3 (no extension we support defines it).
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

/// Why a frame header is invalid on its own (every variant is a protocol
/// error, close code 1002).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FrameError {
    /// A reserved opcode: section 5.2, "If an unknown opcode is received,
    /// the receiving endpoint MUST _Fail the WebSocket Connection_."
    ReservedOpcode(u8),
    /// A 64-bit length with its most significant bit set: section 5.2,
    /// "the most significant bit MUST be 0".
    LengthMsbSet,
    /// A control frame with more than 125 bytes of payload (section 5.5).
    ControlTooLong,
    /// A control frame without FIN: section 5.5, "All control frames ...
    /// MUST NOT be fragmented."
    ControlFragmented,
}

impl FrameHeader {
    /// A header with no RSV bits.
    pub const fn new(fin: bool, opcode: OpCode, mask: Option<[u8; 4]>, payload_len: u64) -> Self {
        FrameHeader {
            fin,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask,
            payload_len,
        }
    }

    /// The number of bytes this header takes when encoded minimally.
    pub const fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        if self.mask.is_some() {
            len + 4
        } else {
            len
        }
    }

    /// Writes the header into `buf` with the minimal length encoding
    /// (section 5.2: "the minimal number of bytes MUST be used to encode
    /// the length"), returning the number of bytes written.
    pub fn encode(&self, buf: &mut [u8; MAX_HEADER_LEN]) -> usize {
        buf[0] = (u8::from(self.fin) << 7)
            | (u8::from(self.rsv1) << 6)
            | (u8::from(self.rsv2) << 5)
            | (u8::from(self.rsv3) << 4)
            | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut n = match self.payload_len {
            len @ 0..=125 => {
                buf[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                buf[1] = mask_bit | 126;
                buf[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                buf[1] = mask_bit | 127;
                buf[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            buf[n..n + 4].copy_from_slice(&key);
            n += 4;
        }
        n
    }
}

/// Appends the minimal encoding of `header` to `out`.
pub fn encode_header(header: &FrameHeader, out: &mut Vec<u8>) {
    let mut buf = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut buf);
    out.extend_from_slice(&buf[..n]);
}

/// Parses one frame header from the start of `buf`, returning it and its
/// length in bytes, or [`Status::Partial`] if `buf` ends inside it.
///
/// Lengths need not be minimally encoded: section 5.2 puts that MUST on the
/// sender, and rejecting non-minimal lengths buys nothing.
#[inline]
pub fn parse_header(buf: &[u8]) -> Result<Status<(FrameHeader, usize)>, FrameError> {
    let (b0, b1) = match buf {
        [b0, b1, ..] => (*b0, *b1),
        _ => return Ok(Status::Partial),
    };
    let opcode = match OpCode::from_u8(b0 & 0x0F) {
        Some(op) => op,
        None => return Err(FrameError::ReservedOpcode(b0 & 0x0F)),
    };
    let fin = b0 & 0x80 != 0;
    let masked = b1 & 0x80 != 0;
    let len7 = b1 & 0x7F;
    let (payload_len, len_end) = match len7 {
        126 => match buf.get(2..4) {
            Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
            None => return Ok(Status::Partial),
        },
        127 => match buf.get(2..10) {
            Some(b) => {
                let len = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                if len >> 63 != 0 {
                    return Err(FrameError::LengthMsbSet);
                }
                (len, 10)
            }
            None => return Ok(Status::Partial),
        },
        n => (u64::from(n), 2),
    };
    if opcode.is_control() {
        // Section 5.5: control frames are short and unfragmented.
        if payload_len > MAX_CONTROL_PAYLOAD as u64 {
            return Err(FrameError::ControlTooLong);
        }
        if !fin {
            return Err(FrameError::ControlFragmented);
        }
    }
    let (mask, end) = if masked {
        match buf.get(len_end..len_end + 4) {
            Some(k) => (Some([k[0], k[1], k[2], k[3]]), len_end + 4),
            None => return Ok(Status::Partial),
        }
    } else {
        (None, len_end)
    };
    let header = FrameHeader {
        fin,
        rsv1: b0 & 0x40 != 0,
        rsv2: b0 & 0x20 != 0,
        rsv3: b0 & 0x10 != 0,
        opcode,
        mask,
        payload_len,
    };
    Ok(Status::Complete((header, end)))
}

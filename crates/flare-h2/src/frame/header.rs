//! The 9-octet frame header (RFC 9113 section 4.1) and the frame types.

use crate::StreamId;

/// A frame type octet (section 6, plus unknown extension types).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FrameType {
    /// 0x0
    Data,
    /// 0x1
    Headers,
    /// 0x2
    Priority,
    /// 0x3
    RstStream,
    /// 0x4
    Settings,
    /// 0x5
    PushPromise,
    /// 0x6
    Ping,
    /// 0x7
    GoAway,
    /// 0x8
    WindowUpdate,
    /// 0x9
    Continuation,
    /// Any other type: ignored (section 4.1).
    Unknown(u8),
}

impl FrameType {
    /// The type for a wire octet.
    pub fn from_u8(v: u8) -> FrameType {
        match v {
            0 => FrameType::Data,
            1 => FrameType::Headers,
            2 => FrameType::Priority,
            3 => FrameType::RstStream,
            4 => FrameType::Settings,
            5 => FrameType::PushPromise,
            6 => FrameType::Ping,
            7 => FrameType::GoAway,
            8 => FrameType::WindowUpdate,
            9 => FrameType::Continuation,
            v => FrameType::Unknown(v),
        }
    }

    /// The wire octet.
    pub fn to_u8(self) -> u8 {
        match self {
            FrameType::Data => 0,
            FrameType::Headers => 1,
            FrameType::Priority => 2,
            FrameType::RstStream => 3,
            FrameType::Settings => 4,
            FrameType::PushPromise => 5,
            FrameType::Ping => 6,
            FrameType::GoAway => 7,
            FrameType::WindowUpdate => 8,
            FrameType::Continuation => 9,
            FrameType::Unknown(v) => v,
        }
    }
}

/// The fixed header in front of every frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Payload length (24 bits).
    pub length: u32,
    /// Frame type.
    pub kind: FrameType,
    /// Flags; unknown flags are kept here and ignored by the parsers.
    pub flags: u8,
    /// Stream id, reserved bit cleared ("MUST be ignored when receiving").
    pub stream_id: StreamId,
}

impl FrameHeader {
    /// The header's size on the wire.
    pub const LEN: usize = 9;

    /// A header for a payload of `length` octets (at most 2^24-1; larger
    /// values are the caller's bug and are truncated to 24 bits).
    pub fn new(kind: FrameType, flags: u8, stream_id: StreamId, length: usize) -> Self {
        FrameHeader {
            length: (length as u32) & 0x00ff_ffff,
            kind,
            flags,
            stream_id,
        }
    }

    /// Reads the header at the front of `buf`, or `None` if fewer than 9
    /// octets are there.
    pub fn decode(buf: &[u8]) -> Option<FrameHeader> {
        let b: &[u8; 9] = buf.get(..Self::LEN)?.try_into().ok()?;
        Some(FrameHeader {
            length: u32::from_be_bytes([0, b[0], b[1], b[2]]),
            kind: FrameType::from_u8(b[3]),
            flags: b[4],
            stream_id: StreamId::new(u32::from_be_bytes([b[5], b[6], b[7], b[8]])),
        })
    }

    /// Appends the header.
    pub fn encode(&self, out: &mut Vec<u8>) {
        // One copy of the nine octets (one capacity check, not four).
        out.extend_from_slice(&self.to_bytes());
    }

    /// The header's nine octets.
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let [_, l0, l1, l2] = self.length.to_be_bytes();
        let [s0, s1, s2, s3] = self.stream_id.value().to_be_bytes();
        [l0, l1, l2, self.kind.to_u8(), self.flags, s0, s1, s2, s3]
    }
}

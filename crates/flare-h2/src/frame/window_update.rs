//! WINDOW_UPDATE (RFC 9113 section 6.9).

use super::{read_u32, FrameError, FrameHeader, FrameType};
use crate::StreamId;

/// A WINDOW_UPDATE frame. An increment of 0 decodes; the connection
/// rejects it (stream or connection PROTOCOL_ERROR depending on the stream).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowUpdate {
    /// The stream, or 0 for the connection window.
    pub stream_id: StreamId,
    /// The increment (31 bits; the reserved bit is dropped).
    pub increment: u32,
}

impl WindowUpdate {
    pub(super) fn parse(head: &FrameHeader, payload: &[u8]) -> Result<Self, FrameError> {
        // "A WINDOW_UPDATE frame with a length other than 4 octets MUST be
        // treated as a connection error of type FRAME_SIZE_ERROR."
        if payload.len() != 4 {
            return Err(FrameError::BadLength {
                kind: FrameType::WindowUpdate,
                stream_id: head.stream_id,
            });
        }
        Ok(WindowUpdate {
            stream_id: head.stream_id,
            increment: read_u32(payload, 0) & 0x7fff_ffff,
        })
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        FrameHeader::new(FrameType::WindowUpdate, 0, self.stream_id, 4).encode(out);
        out.extend_from_slice(&(self.increment & 0x7fff_ffff).to_be_bytes());
    }
}

//! RST_STREAM (RFC 9113 section 6.4).

use super::{read_u32, require_stream, FrameError, FrameHeader, FrameType};
use crate::{ErrorCode, StreamId};

/// A RST_STREAM frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RstStream {
    /// The stream.
    pub stream_id: StreamId,
    /// Why it is reset.
    pub code: ErrorCode,
}

impl RstStream {
    pub(super) fn parse(head: &FrameHeader, payload: &[u8]) -> Result<Self, FrameError> {
        require_stream(head)?;
        // "A RST_STREAM frame with a length other than 4 octets MUST be
        // treated as a connection error of type FRAME_SIZE_ERROR."
        if payload.len() != 4 {
            return Err(FrameError::BadLength {
                kind: FrameType::RstStream,
                stream_id: head.stream_id,
            });
        }
        Ok(RstStream {
            stream_id: head.stream_id,
            code: ErrorCode::from_u32(read_u32(payload, 0)),
        })
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        FrameHeader::new(FrameType::RstStream, 0, self.stream_id, 4).encode(out);
        out.extend_from_slice(&self.code.to_u32().to_be_bytes());
    }
}

//! GOAWAY (RFC 9113 section 6.8).

use super::{read_u32, require_connection, FrameError, FrameHeader, FrameType};
use crate::{ErrorCode, StreamId};

/// A GOAWAY frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoAway<'a> {
    /// The highest peer-initiated stream that was or may be processed.
    pub last_stream_id: StreamId,
    /// Why the connection is closing.
    pub code: ErrorCode,
    /// Opaque diagnostic data.
    pub debug: &'a [u8],
}

impl<'a> GoAway<'a> {
    pub(super) fn parse(head: &FrameHeader, payload: &'a [u8]) -> Result<Self, FrameError> {
        require_connection(head)?;
        let Some((fixed, debug)) = payload.split_at_checked(8) else {
            return Err(FrameError::BadLength {
                kind: FrameType::GoAway,
                stream_id: head.stream_id,
            });
        };
        Ok(GoAway {
            last_stream_id: StreamId::new(read_u32(fixed, 0)),
            code: ErrorCode::from_u32(read_u32(fixed, 4)),
            debug,
        })
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        FrameHeader::new(FrameType::GoAway, 0, StreamId::ZERO, 8 + self.debug.len()).encode(out);
        out.extend_from_slice(&self.last_stream_id.value().to_be_bytes());
        out.extend_from_slice(&self.code.to_u32().to_be_bytes());
        out.extend_from_slice(self.debug);
    }
}

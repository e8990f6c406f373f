//! PING (RFC 9113 section 6.7).

use super::{require_connection, FrameError, FrameHeader, FrameType, FLAG_ACK};
use crate::StreamId;

/// A PING frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ping {
    /// ACK: this answers a PING.
    pub ack: bool,
    /// The opaque data, echoed in the answer.
    pub payload: [u8; 8],
}

impl Ping {
    pub(super) fn parse(head: &FrameHeader, payload: &[u8]) -> Result<Self, FrameError> {
        require_connection(head)?;
        // "Receipt of a PING frame with a length field value other than 8
        // MUST be treated as a connection error of type FRAME_SIZE_ERROR."
        let Ok(payload) = <[u8; 8]>::try_from(payload) else {
            return Err(FrameError::BadLength {
                kind: FrameType::Ping,
                stream_id: head.stream_id,
            });
        };
        Ok(Ping {
            ack: head.flags & FLAG_ACK != 0,
            payload,
        })
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let flags = if self.ack { FLAG_ACK } else { 0 };
        FrameHeader::new(FrameType::Ping, flags, StreamId::ZERO, 8).encode(out);
        out.extend_from_slice(&self.payload);
    }
}

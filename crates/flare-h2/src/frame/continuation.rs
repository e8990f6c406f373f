//! CONTINUATION (RFC 9113 section 6.10).

use super::{require_stream, FrameError, FrameHeader, FrameType, FLAG_END_HEADERS};
use crate::StreamId;

/// A CONTINUATION frame: a further fragment of a field block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Continuation<'a> {
    /// The stream.
    pub stream_id: StreamId,
    /// The field block fragment.
    pub fragment: &'a [u8],
    /// END_HEADERS: the block is complete.
    pub end_headers: bool,
}

impl<'a> Continuation<'a> {
    pub(super) fn parse(head: &FrameHeader, payload: &'a [u8]) -> Result<Self, FrameError> {
        require_stream(head)?;
        Ok(Continuation {
            stream_id: head.stream_id,
            fragment: payload,
            end_headers: head.flags & FLAG_END_HEADERS != 0,
        })
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let flags = if self.end_headers {
            FLAG_END_HEADERS
        } else {
            0
        };
        FrameHeader::new(
            FrameType::Continuation,
            flags,
            self.stream_id,
            self.fragment.len(),
        )
        .encode(out);
        out.extend_from_slice(self.fragment);
    }
}

//! PUSH_PROMISE (RFC 9113 section 6.6). This crate never pushes and
//! advertises `SETTINGS_ENABLE_PUSH = 0`; the codec still reads and writes
//! the frame.

use super::{read_u32, require_stream, strip_padding, write_padding, FrameError, FrameHeader};
use super::{FrameType, FLAG_END_HEADERS, FLAG_PADDED};
use crate::StreamId;

/// A PUSH_PROMISE frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PushPromise<'a> {
    /// The stream the promise is associated with.
    pub stream_id: StreamId,
    /// The stream the server reserves.
    pub promised_id: StreamId,
    /// The field block fragment.
    pub fragment: &'a [u8],
    /// END_HEADERS.
    pub end_headers: bool,
    /// The pad length when PADDED was set.
    pub pad_len: Option<u8>,
}

impl<'a> PushPromise<'a> {
    pub(super) fn parse(head: &FrameHeader, payload: &'a [u8]) -> Result<Self, FrameError> {
        require_stream(head)?;
        let (rest, pad_len) = strip_padding(head, payload)?;
        let Some((id, fragment)) = rest.split_at_checked(4) else {
            return Err(FrameError::BadLength {
                kind: FrameType::PushPromise,
                stream_id: head.stream_id,
            });
        };
        Ok(PushPromise {
            stream_id: head.stream_id,
            promised_id: StreamId::new(read_u32(id, 0)),
            fragment,
            end_headers: head.flags & FLAG_END_HEADERS != 0,
            pad_len,
        })
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut flags = 0;
        let mut len = 4 + self.fragment.len();
        if self.end_headers {
            flags |= FLAG_END_HEADERS;
        }
        if let Some(p) = self.pad_len {
            flags |= FLAG_PADDED;
            len += usize::from(p) + 1;
        }
        FrameHeader::new(FrameType::PushPromise, flags, self.stream_id, len).encode(out);
        if let Some(p) = self.pad_len {
            out.push(p);
        }
        out.extend_from_slice(&self.promised_id.value().to_be_bytes());
        out.extend_from_slice(self.fragment);
        write_padding(self.pad_len, out);
    }
}

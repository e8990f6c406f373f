//! HEADERS (RFC 9113 section 6.2).

use super::{require_stream, strip_padding, write_padding, FrameError, FrameHeader, FrameType};
use super::{PrioritySpec, FLAG_END_HEADERS, FLAG_END_STREAM, FLAG_PADDED, FLAG_PRIORITY};
use crate::StreamId;

/// A HEADERS frame: the first fragment of a field block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Headers<'a> {
    /// The stream.
    pub stream_id: StreamId,
    /// The field block fragment, padding and priority fields removed.
    pub fragment: &'a [u8],
    /// END_STREAM.
    pub end_stream: bool,
    /// END_HEADERS: no CONTINUATION follows.
    pub end_headers: bool,
    /// The deprecated priority fields when the PRIORITY flag was set.
    pub priority: Option<PrioritySpec>,
    /// The pad length when PADDED was set.
    pub pad_len: Option<u8>,
}

impl<'a> Headers<'a> {
    pub(super) fn parse(head: &FrameHeader, payload: &'a [u8]) -> Result<Self, FrameError> {
        require_stream(head)?;
        let (mut rest, pad_len) = strip_padding(head, payload)?;
        let mut priority = None;
        if head.flags & FLAG_PRIORITY != 0 {
            let Some((spec, after)) = rest.split_at_checked(PrioritySpec::LEN) else {
                return Err(FrameError::BadLength {
                    kind: FrameType::Headers,
                    stream_id: head.stream_id,
                });
            };
            priority = Some(PrioritySpec::parse(spec));
            rest = after;
        }
        Ok(Headers {
            stream_id: head.stream_id,
            fragment: rest,
            end_stream: head.flags & FLAG_END_STREAM != 0,
            end_headers: head.flags & FLAG_END_HEADERS != 0,
            priority,
            pad_len,
        })
    }

    /// Appends the frame to `out` (the caller splits blocks larger than the
    /// peer's frame size into CONTINUATION frames).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut flags = 0;
        let mut len = self.fragment.len();
        if self.end_stream {
            flags |= FLAG_END_STREAM;
        }
        if self.end_headers {
            flags |= FLAG_END_HEADERS;
        }
        if let Some(p) = self.pad_len {
            flags |= FLAG_PADDED;
            len += usize::from(p) + 1;
        }
        if self.priority.is_some() {
            flags |= FLAG_PRIORITY;
            len += PrioritySpec::LEN;
        }
        FrameHeader::new(FrameType::Headers, flags, self.stream_id, len).encode(out);
        if let Some(p) = self.pad_len {
            out.push(p);
        }
        if let Some(spec) = &self.priority {
            spec.encode(out);
        }
        out.extend_from_slice(self.fragment);
        write_padding(self.pad_len, out);
    }
}

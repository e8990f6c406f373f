//! DATA (RFC 9113 section 6.1).

use super::{require_stream, strip_padding, write_padding, FrameError, FrameHeader, FrameType};
use super::{FLAG_END_STREAM, FLAG_PADDED};
use crate::StreamId;

/// A DATA frame with its padding stripped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Data<'a> {
    /// The stream.
    pub stream_id: StreamId,
    /// The data, without padding.
    pub data: &'a [u8],
    /// END_STREAM.
    pub end_stream: bool,
    /// The pad length when PADDED was set.
    pub pad_len: Option<u8>,
}

impl<'a> Data<'a> {
    pub(super) fn parse(head: &FrameHeader, payload: &'a [u8]) -> Result<Self, FrameError> {
        require_stream(head)?;
        let (data, pad_len) = strip_padding(head, payload)?;
        Ok(Data {
            stream_id: head.stream_id,
            data,
            end_stream: head.flags & FLAG_END_STREAM != 0,
            pad_len,
        })
    }

    /// The octets this frame counts against flow control: the whole
    /// payload, padding included (section 6.9.1).
    pub fn flow_len(&self) -> usize {
        self.data.len() + self.pad_len.map_or(0, |p| usize::from(p) + 1)
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut flags = 0;
        if self.end_stream {
            flags |= FLAG_END_STREAM;
        }
        if self.pad_len.is_some() {
            flags |= FLAG_PADDED;
        }
        FrameHeader::new(FrameType::Data, flags, self.stream_id, self.flow_len()).encode(out);
        if let Some(p) = self.pad_len {
            out.push(p);
        }
        out.extend_from_slice(self.data);
        write_padding(self.pad_len, out);
    }
}

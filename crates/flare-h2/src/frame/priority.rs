//! PRIORITY (RFC 9113 section 6.3). Deprecated: parsed, checked, and
//! otherwise ignored.

use super::{read_u32, require_stream, FrameError, FrameHeader, FrameType};
use crate::StreamId;

/// The priority fields of PRIORITY and of HEADERS with the PRIORITY flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PrioritySpec {
    /// The E flag.
    pub exclusive: bool,
    /// The stream this one depends on.
    pub dependency: StreamId,
    /// Weight minus one, as on the wire.
    pub weight: u8,
}

impl PrioritySpec {
    pub(super) const LEN: usize = 5;

    pub(super) fn parse(b: &[u8]) -> PrioritySpec {
        let dep = read_u32(b, 0);
        PrioritySpec {
            exclusive: dep & 0x8000_0000 != 0,
            dependency: StreamId::new(dep),
            weight: b.get(4).copied().unwrap_or(0),
        }
    }

    pub(super) fn encode(&self, out: &mut Vec<u8>) {
        let e = if self.exclusive { 0x8000_0000 } else { 0 };
        out.extend_from_slice(&(self.dependency.value() | e).to_be_bytes());
        out.push(self.weight);
    }
}

/// A PRIORITY frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Priority {
    /// The stream.
    pub stream_id: StreamId,
    /// Its priority fields.
    pub spec: PrioritySpec,
}

impl Priority {
    pub(super) fn parse(head: &FrameHeader, payload: &[u8]) -> Result<Self, FrameError> {
        require_stream(head)?;
        // "A PRIORITY frame with a length other than 5 octets MUST be treated
        // as a stream error (Section 5.4.2) of type FRAME_SIZE_ERROR."
        if payload.len() != PrioritySpec::LEN {
            return Err(FrameError::BadLength {
                kind: FrameType::Priority,
                stream_id: head.stream_id,
            });
        }
        Ok(Priority {
            stream_id: head.stream_id,
            spec: PrioritySpec::parse(payload),
        })
    }

    /// Appends the frame to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        FrameHeader::new(FrameType::Priority, 0, self.stream_id, PrioritySpec::LEN).encode(out);
        self.spec.encode(out);
    }
}

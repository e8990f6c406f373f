//! A bounds-checked reader over an untrusted message.
//!
//! Lengths and counts read off the wire come back wrapped in [`Untrusted`]; the only
//! way to get the number out is to check it against what the message can hold, so a
//! forgotten check is a compile error rather than a panic or a huge allocation.

use crate::error::{DecodeError, Section};

/// A 16-bit length or count read off the wire and not yet checked.
#[derive(Clone, Copy, Debug)]
#[must_use = "an untrusted value must be checked before use"]
pub(crate) struct Untrusted(u16);

impl Untrusted {
    /// Accepts the value as a byte length when the reader has that many bytes left.
    pub(crate) fn len_within(self, reader: &Reader<'_>) -> Option<usize> {
        let len = usize::from(self.0);
        (len <= reader.remaining()).then_some(len)
    }

    /// Accepts the value as an entry count when `count * min_entry_size` bytes remain,
    /// so that no count can make the decoder reserve memory the message does not pay for.
    pub(crate) fn count_within(
        self,
        reader: &Reader<'_>,
        min_entry_size: usize,
        section: Section,
    ) -> Result<usize, DecodeError> {
        let count = usize::from(self.0);
        if count.saturating_mul(min_entry_size) <= reader.remaining() {
            Ok(count)
        } else {
            Err(DecodeError::CountTooLarge {
                section,
                count: self.0,
            })
        }
    }
}

/// A cursor over the whole message (compression pointers may point anywhere before
/// the current name), limited to `end` for the current read.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    /// A reader over all of `msg`.
    pub(crate) fn new(msg: &'a [u8]) -> Self {
        Self {
            msg,
            pos: 0,
            end: msg.len(),
        }
    }

    /// The whole message, for following compression pointers.
    pub(crate) fn message(&self) -> &'a [u8] {
        self.msg
    }

    /// The current offset from the start of the message.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left before the current limit.
    pub(crate) fn remaining(&self) -> usize {
        self.end.saturating_sub(self.pos)
    }

    /// Moves to `pos`, which a name decoder found within the limit.
    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos.min(self.end);
    }

    /// The current limit.
    pub(crate) fn end(&self) -> usize {
        self.end
    }

    /// A reader over the next `len` bytes (checked by the caller through
    /// [`Untrusted::len_within`]) that still sees the whole message for pointers.
    pub(crate) fn sub(&self, len: usize) -> Reader<'a> {
        Reader {
            msg: self.msg,
            pos: self.pos,
            end: self.pos.saturating_add(len).min(self.end),
        }
    }

    /// Takes `n` bytes.
    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let start = self.pos;
        let stop = start.checked_add(n).filter(|&s| s <= self.end);
        match stop.and_then(|s| self.msg.get(start..s)) {
            Some(b) => {
                self.pos = start + n;
                Ok(b)
            }
            None => Err(DecodeError::Truncated { offset: start }),
        }
    }

    /// Takes a fixed-size array.
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let b = self.bytes(N)?;
        let mut out = [0u8; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    /// Reads one byte.
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }

    /// Reads a big-endian `u16`.
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// Reads a big-endian `u32`.
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Reads a 16-bit length or count that must be checked before use.
    pub(crate) fn untrusted_u16(&mut self) -> Result<Untrusted, DecodeError> {
        self.u16().map(Untrusted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounded_by_the_limit() {
        let msg = [0u8, 1, 2, 3, 4];
        let mut r = Reader::new(&msg);
        assert_eq!(r.u16().unwrap(), 1);
        let mut s = r.sub(2);
        assert_eq!(s.u16().unwrap(), 0x0203);
        assert_eq!(s.u8(), Err(DecodeError::Truncated { offset: 4 }));
        assert_eq!(r.u32(), Err(DecodeError::Truncated { offset: 2 }));
    }

    #[test]
    fn untrusted_counts_must_fit() {
        let msg = [0u8, 3, 0, 0, 0, 0];
        let mut r = Reader::new(&msg);
        let c = r.untrusted_u16().unwrap();
        assert_eq!(c.count_within(&r, 1, Section::Answer), Ok(3));
        assert!(c.count_within(&r, 2, Section::Answer).is_err());
        assert_eq!(c.len_within(&r), Some(3));
        let big = Untrusted(5);
        assert_eq!(big.len_within(&r), None);
    }
}

//! The reusable buffer received messages are assembled in.

/// A byte buffer that stays initialized up to its allocated size, so
/// appending (and inflating into its spare room) never re-zeroes memory:
/// `len` bytes are the message, the rest is room.
#[derive(Debug, Default)]
pub(crate) struct MessageBuf {
    buf: Vec<u8>,
    len: usize,
}

/// Smallest allocation when the buffer first grows.
const MIN_ALLOC: usize = 4096;

impl MessageBuf {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Empties the message; frees the allocation if it grew past `retain`
    /// bytes (so one large message does not pin memory on an idle
    /// connection).
    pub(crate) fn clear(&mut self, retain: usize) {
        self.len = 0;
        if self.buf.len() > retain {
            self.buf = Vec::new();
        }
    }

    /// Allocated bytes (for memory tests).
    pub(crate) fn allocated(&self) -> usize {
        self.buf.capacity()
    }

    fn grow_to(&mut self, want: usize, cap: usize) {
        if want > self.buf.len() {
            let size = want
                .max(self.buf.len() * 2)
                .max(MIN_ALLOC)
                .min(cap.max(want));
            // Exact: the allocation never passes the cap (Vec would double).
            self.buf.reserve_exact(size - self.buf.len());
            self.buf.resize(size, 0);
        }
    }

    /// Appends `data`.
    pub(crate) fn extend(&mut self, data: &[u8], cap: usize) {
        let end = self.len + data.len();
        self.grow_to(end, cap);
        self.buf[self.len..end].copy_from_slice(data);
        self.len = end;
    }

    /// Room after the message, growing the allocation (at most to `cap`
    /// bytes in all) when it is full. Empty only when `len == cap`.
    #[cfg(feature = "deflate")]
    pub(crate) fn spare(&mut self, cap: usize) -> &mut [u8] {
        if self.len >= self.buf.len() && self.len < cap {
            self.grow_to(self.len + 1, cap);
        }
        let end = self.buf.len().min(cap).max(self.len);
        &mut self.buf[self.len..end]
    }

    /// Marks `n` bytes of the room returned by `spare` as message.
    #[cfg(feature = "deflate")]
    pub(crate) fn commit(&mut self, n: usize) {
        self.len += n;
    }
}

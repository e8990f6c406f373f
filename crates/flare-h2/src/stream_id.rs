//! Stream identifiers (RFC 9113 section 5.1.1).

/// A 31-bit stream identifier. Odd ids are opened by clients, even ids by
/// servers, 0 names the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(u32);

impl StreamId {
    /// Stream 0: the connection itself.
    pub const ZERO: StreamId = StreamId(0);
    /// The largest stream id, 2^31-1 (also the first GOAWAY of a graceful
    /// shutdown).
    pub const MAX: StreamId = StreamId(0x7fff_ffff);

    /// The id `v`, with the reserved high bit cleared.
    pub const fn new(v: u32) -> StreamId {
        StreamId(v & 0x7fff_ffff)
    }

    /// The numeric value.
    pub const fn value(self) -> u32 {
        self.0
    }

    /// Whether this is the connection (stream 0).
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Whether a client opens streams with this id (odd ids).
    pub const fn is_client_initiated(self) -> bool {
        self.0 & 1 == 1
    }

    /// Whether a server opens streams with this id (even, non-zero ids).
    pub const fn is_server_initiated(self) -> bool {
        self.0 != 0 && self.0 & 1 == 0
    }
}

impl From<StreamId> for u32 {
    fn from(id: StreamId) -> u32 {
        id.0
    }
}

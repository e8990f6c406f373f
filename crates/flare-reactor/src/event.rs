//! Tokens, interests, registration modes and readiness events.

use std::fmt;
use std::ops::BitOr;

/// Identifies a registered source in the events a poller returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Token(pub usize);

/// The readiness a registration asks for.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Interest(u8);

impl Interest {
    /// Readable (and peer-closed) readiness.
    pub const READABLE: Interest = Interest(1);
    /// Writable readiness.
    pub const WRITABLE: Interest = Interest(2);
    /// Neither: only errors and hang-ups are reported (a source whose peer stopped
    /// sending and that has nothing to write).
    pub const NONE: Interest = Interest(0);

    /// Whether readable readiness is asked for.
    pub const fn is_readable(self) -> bool {
        self.0 & 1 != 0
    }
    /// Whether writable readiness is asked for.
    pub const fn is_writable(self) -> bool {
        self.0 & 2 != 0
    }
}

impl BitOr for Interest {
    type Output = Interest;
    fn bitor(self, rhs: Interest) -> Interest {
        Interest(self.0 | rhs.0)
    }
}

impl fmt::Debug for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.is_readable(), self.is_writable()) {
            (true, true) => f.write_str("READABLE | WRITABLE"),
            (true, false) => f.write_str("READABLE"),
            (false, true) => f.write_str("WRITABLE"),
            (false, false) => f.write_str("(none)"),
        }
    }
}

/// How readiness is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Mode {
    /// Reported on every poll while the condition holds.
    Level,
    /// Reported once per transition; the owner must drain until `WouldBlock`.
    Edge,
    /// Level-triggered, and when several pollers watch the same descriptor (a listener
    /// shared by workers) only one of them is woken (`EPOLLEXCLUSIVE`). Where the OS has
    /// no such flag (kqueue) this is plain [`Mode::Level`]. A registration in this mode
    /// cannot be changed with `reregister` (a Linux rule); deregister and register again.
    Exclusive,
}

/// Readiness bits of one event.
pub(crate) mod bits {
    pub const READABLE: u8 = 1;
    pub const WRITABLE: u8 = 2;
    pub const ERROR: u8 = 4;
    pub const READ_CLOSED: u8 = 8;
    pub const WRITE_CLOSED: u8 = 16;
}

/// One readiness event: a token and what became ready.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Event {
    token: Token,
    ready: u8,
}

impl Event {
    pub(crate) const fn new(token: Token, ready: u8) -> Event {
        Event { token, ready }
    }
    /// The token the source was registered with.
    pub const fn token(&self) -> Token {
        self.token
    }
    /// The source can be read (or the peer closed; a read returns 0 or an error).
    pub const fn is_readable(&self) -> bool {
        self.ready & bits::READABLE != 0
    }
    /// The source can be written.
    pub const fn is_writable(&self) -> bool {
        self.ready & bits::WRITABLE != 0
    }
    /// An error is pending on the source (`SO_ERROR` tells which).
    pub const fn is_error(&self) -> bool {
        self.ready & bits::ERROR != 0
    }
    /// The peer shut its writing half (or the connection is gone).
    pub const fn is_read_closed(&self) -> bool {
        self.ready & bits::READ_CLOSED != 0
    }
    /// Our writing half can no longer send (the connection is gone).
    pub const fn is_write_closed(&self) -> bool {
        self.ready & bits::WRITE_CLOSED != 0
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("token", &self.token)
            .field("readable", &self.is_readable())
            .field("writable", &self.is_writable())
            .field("error", &self.is_error())
            .field("read_closed", &self.is_read_closed())
            .field("write_closed", &self.is_write_closed())
            .finish()
    }
}

/// A reusable buffer of events filled by [`Poller::poll`](crate::Poller::poll).
#[derive(Debug)]
pub struct Events {
    pub(crate) list: Vec<Event>,
    pub(crate) capacity: usize,
}

impl Events {
    /// A buffer that takes at most `capacity` events per poll (at least 1).
    pub fn with_capacity(capacity: usize) -> Events {
        let capacity = capacity.max(1);
        Events {
            list: Vec::with_capacity(capacity),
            capacity,
        }
    }
    /// The events of the last poll.
    pub fn iter(&self) -> std::slice::Iter<'_, Event> {
        self.list.iter()
    }
    /// How many events the last poll returned.
    pub fn len(&self) -> usize {
        self.list.len()
    }
    /// Whether the last poll returned no event (a timeout).
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// Most events one poll returns.
    pub fn capacity(&self) -> usize {
        self.capacity
    }
    /// Empties the buffer.
    pub fn clear(&mut self) {
        self.list.clear();
    }
    /// Backends append through this.
    pub(crate) fn push(&mut self, ev: Event) {
        self.list.push(ev);
    }
}

impl<'a> IntoIterator for &'a Events {
    type Item = &'a Event;
    type IntoIter = std::slice::Iter<'a, Event>;
    fn into_iter(self) -> Self::IntoIter {
        self.list.iter()
    }
}

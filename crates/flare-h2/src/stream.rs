//! Per-stream state (RFC 9113 section 5.1) and the short memory of streams
//! that closed recently.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};

/// Open streams by id.
pub(crate) type StreamMap = HashMap<u32, Stream, BuildHasherDefault<IdHasher>>;

/// Hashes a stream id with one multiplication (Fibonacci hashing) instead of
/// SipHash: ids are `u32`s, and a peer choosing ids that collide gains
/// little, as at most `max_concurrent_streams` (128) are open and every
/// other id is refused or closed.
#[derive(Default, Clone, Copy)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u32(u32::from(b) ^ (self.0 as u32).rotate_left(8));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// An open stream. Idle streams are not stored; a stream whose both halves
/// are closed is removed and remembered in [`Recent`] for a while.
///
/// The section 5.1 states map to the two flags: open (neither),
/// half-closed (remote) (`recv_closed`), half-closed (local)
/// (`send_closed`). Reserved states do not occur: we never push and refuse
/// PUSH_PROMISE.
#[derive(Debug)]
pub(crate) struct Stream {
    /// The peer sent END_STREAM.
    pub(crate) recv_closed: bool,
    /// We sent END_STREAM.
    pub(crate) send_closed: bool,
    /// We sent our final (non-1xx) head.
    pub(crate) head_sent: bool,
    /// We received the peer's final head (client role: the response).
    pub(crate) head_received: bool,
    /// The application has been told about the stream (a Headers event was
    /// queued, or it opened the stream).
    pub(crate) announced: bool,
    /// Octets we may still send (may go negative after a SETTINGS change).
    pub(crate) send_window: i64,
    /// Octets the peer may still send.
    pub(crate) recv_window: i64,
    /// Octets delivered to the application and not yet released.
    pub(crate) unreleased: u64,
    /// Octets released but not yet announced by WINDOW_UPDATE.
    pub(crate) release_pending: u64,
    /// The peer's declared content-length and what arrived so far.
    pub(crate) content_length: Option<u64>,
    pub(crate) received: u64,
    /// send_data accepted less than offered: emit SendReady when capacity
    /// returns.
    pub(crate) blocked: bool,
    /// Opened by the peer.
    pub(crate) remote: bool,
    /// A request we sent with method HEAD: the response's content-length
    /// describes no body.
    pub(crate) head_request: bool,
}

impl Stream {
    pub(crate) fn new(send_window: i64, recv_window: i64, remote: bool) -> Self {
        Stream {
            recv_closed: false,
            send_closed: false,
            head_sent: false,
            head_received: false,
            announced: false,
            send_window,
            recv_window,
            unreleased: 0,
            release_pending: 0,
            content_length: None,
            received: 0,
            blocked: false,
            remote,
            head_request: false,
        }
    }
}

/// How a remembered stream ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Closure {
    /// Both sides sent END_STREAM.
    Ended,
    /// We sent RST_STREAM: frames the peer sent before seeing it are still
    /// in flight and are ignored.
    ResetByUs,
    /// The peer sent RST_STREAM.
    ResetByPeer,
}

/// A bounded memory of recently closed streams (newest last).
#[derive(Debug)]
pub(crate) struct Recent {
    entries: VecDeque<(u32, Closure)>,
    cap: usize,
}

impl Recent {
    pub(crate) fn new(cap: usize) -> Self {
        Recent {
            entries: VecDeque::with_capacity(cap),
            cap,
        }
    }

    pub(crate) fn remember(&mut self, id: u32, how: Closure) {
        if self.entries.len() == self.cap {
            self.entries.pop_front();
        }
        self.entries.push_back((id, how));
    }

    pub(crate) fn get(&self, id: u32) -> Option<Closure> {
        self.entries.iter().rev().find(|e| e.0 == id).map(|e| e.1)
    }

    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

//! HTTP/2 calls on the I/O thread: one [`Session`] per origin connection, shared by
//! the streams of every call to that origin, stepped on readiness like any other
//! connection.
//!
//! A call that may speak HTTP/2 (`https` with the client's ALPN offering `h2`, or
//! `http` by prior knowledge without a proxy) takes, in order: a session of its
//! origin that takes new streams; an idle HTTP/1.1 connection; a place behind
//! another call's connection to the origin that is still being set up (an
//! [`Opening`]: those calls follow it to HTTP/2, or, when ALPN chooses HTTP/1.1,
//! each go their own way); or it connects itself and leads the opening. As the
//! blocking client, a second connection opens only when a session's peer refused
//! more streams (its SETTINGS_MAX_CONCURRENT_STREAMS, `TooManyStreams`), or went
//! away.
//!
//! On a session, streams open at once up to the peer's limit; before its SETTINGS
//! arrive only the first (the rest queue, and the connect timeout bounds the
//! wait). A body goes out as the windows allow, the rest on `SendReady`. A
//! stream given up (its timeout, a dropped `Pending`) is reset with CANCEL and the
//! session serves on; a refused one (RST_STREAM or GOAWAY REFUSED_STREAM) and the
//! streams of a connection that closed before they heard anything are retried once
//! on another connection when idempotent, as on HTTP/1.1; a connection error
//! fails its streams with [`ProtocolError::Http2`]. A session without streams
//! closes after the pool's idle timeout.
//!
//! Work on a session (new streams, resets, readiness) marks it dirty; dirty
//! sessions are driven once at the end of each poll batch, so the requests of a
//! batch leave in one write.

use std::io;
use std::time::Instant;

use flare_h2::{ConnectionError, ErrorCode, Event, StreamId};

use super::super::super::error::{Error, ProtocolError, TimeoutKind};
use super::super::super::h2::header_map;
use super::super::super::pool::PoolKey;
use super::super::conn::{ConnError, Fill, Owner};
use super::super::exchange::{conn_error, Failure};
use super::super::h2::{reset_failure, H2Stream, ReadEnd, Session};
use super::{count_handshake, min, watch, Call, IoLoop, Stage, Timer, CANCELLED};

/// Rounds of read, events, write per drive (each round's writes can wake a
/// stream's body); past them the session is driven again after the next poll.
const ROUNDS: usize = 16;
/// Drives per batch (the rest go after a poll that does not wait).
const DRIVES_PER_BATCH: usize = 1024;

/// A connection being set up for an origin that may speak HTTP/2: its leader (the
/// call connecting) and the calls waiting for it (slot, id).
#[derive(Debug)]
pub(super) struct Opening {
    leader: u64,
    waiters: Vec<(usize, u64)>,
}

/// How a session ended, for the calls still on it.
#[derive(Debug)]
enum End {
    /// The server closed the connection (or our GOAWAY exchange finished).
    Eof,
    Io(io::ErrorKind, String),
    /// The server broke the protocol (or we closed it for a flood).
    Protocol(ConnectionError),
    /// The server's SETTINGS did not come within the connect timeout.
    SettingsTimeout,
}

impl End {
    fn of(e: ConnError) -> End {
        match e {
            ConnError::Io(e) => End::Io(e.kind(), e.to_string()),
            ConnError::Tls(e) => End::Io(io::ErrorKind::Other, e.to_string()),
        }
    }

    fn error(&self, url: &str) -> Error {
        match self {
            End::Eof => Error::protocol(url, ProtocolError::UnexpectedEof),
            End::Io(kind, msg) => Error::io(url, io::Error::new(*kind, msg.clone())),
            End::Protocol(e) => Error::protocol(url, ProtocolError::Http2(*e)),
            End::SettingsTimeout => Error::timeout(url, TimeoutKind::Connect),
        }
    }

    /// Whether a stream that heard nothing may be retried elsewhere (as the
    /// keep-alive race on HTTP/1.1); not after a protocol error or a timeout.
    fn retryable(&self) -> bool {
        matches!(self, End::Eof | End::Io(..))
    }
}

/// The same connection failure for another call waiting on that connection, where
/// the error can be told again; `None` when it cannot (TLS), and that call then
/// connects for itself.
fn same_failure(e: &Error, url: &str) -> Option<Error> {
    Some(match e {
        Error::Connect { addr, source, .. } => Error::Connect {
            url: url.to_owned(),
            addr: *addr,
            source: io::Error::new(source.kind(), source.to_string()),
        },
        Error::Timeout { kind, .. } => Error::timeout(url, *kind),
        Error::Dns { host, source, .. } => Error::Dns {
            url: url.to_owned(),
            host: host.clone(),
            source: source.clone(),
        },
        Error::Proxy { status, .. } => Error::Proxy {
            url: url.to_owned(),
            status: *status,
        },
        Error::Io { source, .. } => {
            Error::io(url, io::Error::new(source.kind(), source.to_string()))
        }
        _ => return None,
    })
}

impl IoLoop {
    /// Whether call `c`'s current hop may speak HTTP/2, as `send` decides: over
    /// TLS when ALPN offers `h2`; on plain TCP by prior knowledge, direct only.
    pub(super) fn may_h2(&self, c: usize) -> bool {
        let Some(call) = self.calls.get(c) else {
            return false;
        };
        if call.req.url.scheme_kind().is_tls() {
            self.config.http2
        } else {
            self.config.http2_prior_knowledge && call.via.is_none()
        }
    }

    /// A session of `key` that takes new calls, if any (dead ones are forgotten).
    pub(super) fn session_for(&mut self, key: &PoolKey) -> Option<usize> {
        let list = self.h2_by_key.get_mut(key)?;
        list.retain(|&hi| self.h2s.get(hi).is_some());
        let found = list
            .iter()
            .copied()
            .find(|&hi| self.h2s.get(hi).is_some_and(Session::takes_calls));
        if list.is_empty() {
            self.h2_by_key.remove(key);
        }
        found
    }

    /// Puts call `c` behind the connection another call is opening to `key`, or
    /// makes it that connection's leader. True when it now waits.
    pub(super) fn wait_for_opening(&mut self, c: usize, key: PoolKey) -> bool {
        let Some(call) = self.calls.get_mut(c) else {
            return false;
        };
        if call.solo || self.known_h1.contains(&key) {
            return false;
        }
        let id = call.id;
        if let Some(op) = self.opening.get_mut(&key) {
            let leader = op.leader;
            let alive = self
                .by_id
                .get(&leader)
                .is_some_and(|&l| self.calls.get(l).is_some_and(|l| l.id == leader && l.leads));
            if alive {
                op.waiters.push((c, id));
                if let Some(call) = self.calls.get_mut(c) {
                    call.stage = Stage::Waiting;
                }
                self.arm(c);
                return true;
            }
        }
        let waiters = self
            .opening
            .remove(&key)
            .map(|op| op.waiters)
            .unwrap_or_default();
        self.opening.insert(
            key,
            Opening {
                leader: id,
                waiters,
            },
        );
        if let Some(call) = self.calls.get_mut(c) {
            call.leads = true;
        }
        false
    }

    /// The waiters of the opening `leader` led to `key`, if it still leads it.
    fn take_waiters(&mut self, key: &PoolKey, leader: u64) -> Vec<(usize, u64)> {
        match self.opening.get(key) {
            Some(op) if op.leader == leader => {
                self.opening.remove(key).map_or(Vec::new(), |op| op.waiters)
            }
            _ => Vec::new(),
        }
    }

    /// Whether call slot `c` still holds call `id`, waiting for an opening.
    fn is_waiting(&mut self, c: usize, id: u64) -> bool {
        self.calls
            .get(c)
            .is_some_and(|w| w.id == id && matches!(w.stage, Stage::Waiting))
    }

    /// The leader of an opening ended (`complete`): its waiters get the same
    /// connection failure, or start again (one of them leads next) when the call
    /// ended for its own reasons (its deadline, a cancel).
    pub(super) fn leader_gone(&mut self, call: &Call, error: Option<&Error>) {
        let waiters = self.take_waiters(&call.pool_key(), call.id);
        if waiters.is_empty() {
            return;
        }
        let own = match error {
            None => true,
            Some(Error::Timeout {
                kind: TimeoutKind::Request,
                ..
            }) => true,
            Some(Error::Protocol {
                detail: ProtocolError::Other(why),
                ..
            }) => *why == CANCELLED,
            Some(_) => false,
        };
        let now = Instant::now();
        for (w, id) in waiters {
            if !self.is_waiting(w, id) {
                continue;
            }
            let same = match error {
                Some(e) if !own => self
                    .calls
                    .get(w)
                    .and_then(|w| same_failure(e, &w.req.url_text)),
                _ => None,
            };
            match same {
                Some(e) => self.complete(w, Err(e)),
                None => {
                    if let Some(call) = self.calls.get_mut(w) {
                        call.stage = Stage::Between;
                        call.solo = !own;
                    }
                    self.begin(w, now, false);
                }
            }
        }
    }

    /// Call `c`'s TLS handshake (run alone so ALPN can choose): once done, HTTP/2
    /// on a new session when the server chose `h2`, else HTTP/1.1 on the
    /// connection.
    pub(super) fn step_handshake(&mut self, c: usize, now: Instant) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        let Stage::Handshaking { conn: ci, .. } = call.stage else {
            return;
        };
        let Some(conn) = self.conns.get_mut(ci) else {
            return;
        };
        let url = &call.req.url_text;
        let mut failed = conn.flush().err().map(|e| conn_error(url, e));
        // A handshake is a few flights: bounded like an exchange's reads.
        for _ in 0..32 {
            if failed.is_some() || !conn.handshaking() {
                break;
            }
            match conn.fill() {
                Ok(Fill::Data(_)) => {}
                Ok(Fill::WouldBlock) => break,
                Ok(Fill::Eof) => failed = Some(Error::protocol(url, ProtocolError::UnexpectedEof)),
                Err(e) => failed = Some(conn_error(url, e)),
            }
        }
        if let Some(e) = failed {
            return self.complete(c, Err(e));
        }
        if conn.handshaking() {
            if let Err(e) = watch(&self.poller, conn, ci, false) {
                let e = Error::io(url, e);
                return self.complete(c, Err(e));
            }
            return self.arm(c);
        }
        count_handshake(&self.config.client, conn);
        if conn.alpn() == Some(b"h2") {
            return self.start_session(c, ci, now);
        }
        // HTTP/1.1: remembered, so the origin's calls stop waiting for one
        // another's connections; those waiting now start on their own.
        let key = call.pool_key();
        let leader = call.id;
        call.leads = false;
        let waiters = self.take_waiters(&key, leader);
        self.known_h1.insert(key);
        self.attach(c, ci, false, now);
        for (w, id) in waiters {
            if self.is_waiting(w, id) {
                if let Some(call) = self.calls.get_mut(w) {
                    call.stage = Stage::Between;
                }
                self.begin(w, now, false);
            }
        }
    }

    /// HTTP/2 on call `c`'s new connection `ci`: a session of its origin, the call
    /// its first stream and the calls that waited for the connection next.
    pub(super) fn start_session(&mut self, c: usize, ci: usize, now: Instant) {
        let (Some(call), Some(conn)) = (self.calls.get_mut(c), self.conns.get_mut(ci)) else {
            return self.close_conn(ci);
        };
        let key = call.pool_key();
        let tls = call.req.url.scheme_kind().is_tls();
        let leads = std::mem::take(&mut call.leads);
        let leader = call.id;
        call.stage = Stage::Between;
        self.next_serial += 1;
        let session = Session::new(
            ci,
            key.clone(),
            self.next_serial,
            tls,
            self.config.connect_timeout,
            now,
        );
        let hi = self.h2s.insert(session);
        conn.owner = Owner::H2(hi);
        conn.key = Some(key.clone());
        conn.uses += 1;
        log::debug!("HTTP/2 session {hi} for {}", call.req.url_text);
        self.known_h1.remove(&key);
        self.h2_by_key.entry(key.clone()).or_default().push(hi);
        let waiters = if leads {
            self.take_waiters(&key, leader)
        } else {
            Vec::new()
        };
        self.h2_attach(c, hi, now);
        for (w, id) in waiters {
            if self.is_waiting(w, id) {
                self.h2_attach(w, hi, now);
            }
        }
    }

    /// Puts call `c` on session `hi`: a stream now, or a place in its queue.
    pub(super) fn h2_attach(&mut self, c: usize, hi: usize, now: Instant) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        let Some(s) = self.h2s.get_mut(hi) else {
            call.stage = Stage::Between;
            return self.begin(c, now, true);
        };
        let stream = Box::new(H2Stream::new(&call.req, &self.config.settings, now));
        call.stage = Stage::Streaming {
            session: hi,
            stream,
        };
        s.queue.push_back((c, call.id));
        s.idle_since = None;
        self.open_queued(hi, now);
        self.mark_dirty(hi);
        self.arm(c);
    }

    /// Opens streams for the calls queued on session `hi` while it may; calls it
    /// can never open (full with the peer's SETTINGS known, going away) start again
    /// elsewhere.
    fn open_queued(&mut self, hi: usize, now: Instant) {
        loop {
            let Some(s) = self.h2s.get_mut(hi) else {
                return;
            };
            if !s.can_open() {
                break;
            }
            let Some((c, id)) = s.queue.pop_front() else {
                break;
            };
            let Some(call) = self.calls.get_mut(c) else {
                continue;
            };
            let Stage::Streaming { session, stream } = &mut call.stage else {
                continue;
            };
            if call.id != id || *session != hi || stream.id.is_some() {
                continue;
            }
            match s.open(&call.req, stream, now) {
                Ok(sid) => {
                    s.streams.insert(sid.value(), (c, id));
                    self.arm(c);
                }
                Err(e) => {
                    log::debug!("session {hi}: no stream for {}: {e}", call.req.url_text);
                    s.queue.push_front((c, id));
                    break;
                }
            }
        }
        let Some(s) = self.h2s.get_mut(hi) else {
            return;
        };
        if s.queue.is_empty() || !s.cannot_take_queue() {
            return;
        }
        let queue = std::mem::take(&mut s.queue);
        for (c, id) in queue {
            if self.on_session(c, id, hi).is_some_and(|sid| sid.is_none()) {
                if let Some(call) = self.calls.get_mut(c) {
                    call.stage = Stage::Between;
                }
                self.begin(c, now, false);
            }
        }
    }

    /// Call `c`'s stream if it is call `id` on session `hi` (`Some(None)`: queued).
    fn on_session(&mut self, c: usize, id: u64, hi: usize) -> Option<Option<StreamId>> {
        let call = self.calls.get(c).filter(|call| call.id == id)?;
        match &call.stage {
            Stage::Streaming { session, stream } if *session == hi => Some(stream.id),
            _ => None,
        }
    }

    pub(super) fn mark_dirty(&mut self, hi: usize) {
        if let Some(s) = self.h2s.get_mut(hi) {
            if !s.dirty {
                s.dirty = true;
                self.h2_dirty.push(hi);
            }
        }
    }

    /// Session `hi`'s socket is ready.
    pub(super) fn h2_ready(&mut self, hi: usize, ev: &flare_reactor::Event) {
        if let Some(s) = self.h2s.get_mut(hi) {
            s.readable |= ev.is_readable() || ev.is_error() || ev.is_read_closed();
        }
        self.mark_dirty(hi);
    }

    /// Drives the sessions marked dirty in this batch.
    pub(super) fn drive_dirty(&mut self, now: Instant) {
        for _ in 0..DRIVES_PER_BATCH {
            let Some(hi) = self.h2_dirty.pop() else {
                return;
            };
            self.drive(hi, now);
        }
    }

    /// Reads what the socket has, hands the events to their calls, opens queued
    /// streams, writes what the state machine has to say.
    fn drive(&mut self, hi: usize, now: Instant) {
        for round in 0..ROUNDS {
            let Some(s) = self.h2s.get_mut(hi) else {
                return;
            };
            s.dirty = false;
            let Some(conn) = self.conns.get_mut(s.conn) else {
                return self.session_failed(hi, End::Eof, now);
            };
            if s.readable {
                match s.read(conn, now) {
                    ReadEnd::WouldBlock => s.readable = false,
                    // Level-triggered: the poller reports the rest.
                    ReadEnd::Budget => {}
                    ReadEnd::Eof => {
                        self.h2_events(hi, now);
                        return self.session_failed(hi, End::Eof, now);
                    }
                    ReadEnd::Io(e) => {
                        self.h2_events(hi, now);
                        return self.session_failed(hi, End::of(e), now);
                    }
                    ReadEnd::Protocol(e) => {
                        // Its GOAWAY, if the socket takes it.
                        let _ = s.write(conn);
                        log::debug!("session {hi}: {e}");
                        return self.session_failed(hi, End::Protocol(e), now);
                    }
                }
            }
            self.h2_events(hi, now);
            self.open_queued(hi, now);
            let Some(s) = self.h2s.get_mut(hi) else {
                return;
            };
            let Some(conn) = self.conns.get_mut(s.conn) else {
                return self.session_failed(hi, End::Eof, now);
            };
            if let Err(e) = s.write(conn) {
                return self.session_failed(hi, End::of(e), now);
            }
            if !s.h2.has_events() {
                break;
            }
            if round + 1 == ROUNDS {
                self.mark_dirty(hi);
            }
        }
        self.settle(hi, now);
    }

    /// After a drive: a session the state machine closed ends; an idle one is
    /// timed (or closed when the client is going); the poller watches for what
    /// it waits for.
    fn settle(&mut self, hi: usize, now: Instant) {
        let Some(s) = self.h2s.get_mut(hi) else {
            return;
        };
        if s.h2.is_closed() {
            let end = s.h2.error().map_or(End::Eof, End::Protocol);
            return self.session_failed(hi, end, now);
        }
        let idle = s.streams.is_empty() && s.queue.is_empty();
        if !idle {
            s.idle_since = None;
        } else if self.closing {
            return self.close_session(hi, now);
        } else if s.idle_since.is_none() {
            s.idle_since = Some(now);
        }
        let (ci, output) = (s.conn, s.has_output());
        let Some(conn) = self.conns.get_mut(ci) else {
            return self.session_failed(hi, End::Eof, now);
        };
        if let Err(e) = watch(&self.poller, conn, ci, output) {
            return self.session_failed(hi, End::Io(e.kind(), e.to_string()), now);
        }
        self.arm_session(hi);
    }

    fn h2_events(&mut self, hi: usize, now: Instant) {
        while let Some(ev) = self.h2s.get_mut(hi).and_then(|s| s.h2.poll_event()) {
            self.on_h2_event(hi, ev, now);
        }
    }

    /// The call (slot) on stream `id` of session `hi`, if it is still there.
    fn stream_call(&mut self, hi: usize, id: StreamId) -> Option<usize> {
        let &(c, call_id) = self.h2s.get(hi)?.streams.get(&id.value())?;
        self.on_session(c, call_id, hi)
            .is_some_and(|sid| sid == Some(id))
            .then_some(c)
    }

    /// Call `c`'s stream and URL, when it is streaming.
    fn stream_of(&mut self, c: usize) -> Option<(&mut H2Stream, &str)> {
        let call = self.calls.get_mut(c)?;
        match &mut call.stage {
            Stage::Streaming { stream, .. } => Some((stream, &call.req.url_text)),
            _ => None,
        }
    }

    fn on_h2_event(&mut self, hi: usize, ev: Event, now: Instant) {
        match ev {
            Event::Headers {
                id,
                head,
                end_stream,
            } => {
                let status = head.status.unwrap_or(0);
                let c = self.stream_call(hi, id);
                let interim = (100..200).contains(&status);
                let headers = (c.is_some() && !interim).then(|| header_map(&head.fields));
                if let Some(s) = self.h2s.get_mut(hi) {
                    s.h2.recycle_head(head);
                }
                let Some(c) = c else {
                    return;
                };
                let Some((stream, url)) = self.stream_of(c) else {
                    return;
                };
                // RFC 9110 section 15.2: interim responses are skipped.
                let Some(headers) = headers else {
                    return stream.touch(now);
                };
                if let Err(e) = stream.on_head(status, headers, now, url) {
                    return self.give_up(hi, id, c, e);
                }
                if end_stream {
                    self.stream_done(hi, id, c, now);
                }
            }
            Event::Data {
                id,
                data,
                end_stream,
            } => {
                // Held in memory (under the size cap), so the window reopens at once.
                if let Some(s) = self.h2s.get_mut(hi) {
                    s.h2.release_capacity(id, data.len());
                }
                let Some(c) = self.stream_call(hi, id) else {
                    return;
                };
                let Some((stream, url)) = self.stream_of(c) else {
                    return;
                };
                if let Err(e) = stream.on_data(&data, now, url) {
                    return self.give_up(hi, id, c, e);
                }
                if end_stream {
                    self.stream_done(hi, id, c, now);
                }
            }
            Event::Trailers { id, fields } => {
                if let Some(s) = self.h2s.get_mut(hi) {
                    s.h2.recycle_fields(fields);
                }
                if let Some(c) = self.stream_call(hi, id) {
                    self.stream_done(hi, id, c, now);
                }
            }
            Event::StreamReset { id, code, .. } => {
                let c = self.stream_call(hi, id);
                if let Some(s) = self.h2s.get_mut(hi) {
                    s.streams.remove(&id.value());
                    s.full = false;
                }
                let Some(c) = c else {
                    return;
                };
                let Some(call) = self.calls.get_mut(c) else {
                    return;
                };
                let f = reset_failure(&call.req.url_text, code);
                call.stage = Stage::Between;
                self.stream_failed(c, f, now);
            }
            Event::SendReady { id } => {
                let Some(c) = self.stream_call(hi, id) else {
                    return;
                };
                let (Some(s), Some(call)) = (self.h2s.get_mut(hi), self.calls.get_mut(c)) else {
                    return;
                };
                if let Stage::Streaming { stream, .. } = &mut call.stage {
                    s.send_body(stream, now);
                }
            }
            // Streams above its last id come as `StreamReset(REFUSED_STREAM)`; the
            // others may finish. The queue goes elsewhere (`open_queued`).
            Event::GoAway { code, .. } => {
                log::debug!("session {hi}: GOAWAY {code:?}");
                if let Some(s) = self.h2s.get_mut(hi) {
                    s.goaway = true;
                }
            }
            _ => {}
        }
    }

    /// Fails call `c` on stream `id` for something it received (a bad head, past
    /// the size cap): the stream is reset, the session serves on.
    fn give_up(&mut self, hi: usize, id: StreamId, c: usize, e: Error) {
        if let Some(s) = self.h2s.get_mut(hi) {
            s.cancel(id);
        }
        if let Some(call) = self.calls.get_mut(c) {
            call.stage = Stage::Between;
        }
        self.complete(c, Err(e));
    }

    /// Call `c`'s response on stream `id` is complete.
    fn stream_done(&mut self, hi: usize, id: StreamId, c: usize, now: Instant) {
        if let Some(s) = self.h2s.get_mut(hi) {
            s.streams.remove(&id.value());
            s.full = false;
            // Our side may still be sending a body nobody wants now: stop it (a
            // no-op for a stream already closed both ways).
            s.h2.reset_stream(id, ErrorCode::Cancel);
        }
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        let Stage::Streaming { mut stream, .. } =
            std::mem::replace(&mut call.stage, Stage::Between)
        else {
            return;
        };
        match stream.finish(&call.req.url_text) {
            Ok(fin) => self.conclude(c, fin, now),
            Err(f) => self.complete(c, Err(f.error)),
        }
    }

    /// Call `c`'s stream failed (its stage is no longer the stream): once more
    /// elsewhere when nothing of it was processed and it is idempotent, as on
    /// HTTP/1.1; else its error.
    fn stream_failed(&mut self, c: usize, f: Failure, now: Instant) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        if f.nothing_received && !call.retried && call.req.idempotent() {
            log::debug!(
                "retrying {} {} on another connection: {}",
                call.req.method,
                call.req.url_text,
                f.error
            );
            call.retried = true;
            return self.begin(c, now, true);
        }
        self.complete(c, Err(f.error));
    }

    /// Session `hi` is gone (closed, failed): its connection closed, its streams
    /// failed (or retried), its queued calls started again once (they never went
    /// out) or failed.
    fn session_failed(&mut self, hi: usize, end: End, now: Instant) {
        let Some(s) = self.h2s.remove(hi) else {
            return;
        };
        log::debug!("session {hi} ends: {end:?}");
        if let Some(list) = self.h2_by_key.get_mut(&s.key) {
            list.retain(|&h| h != hi);
            if list.is_empty() {
                self.h2_by_key.remove(&s.key);
            }
        }
        if let Some((t, _)) = s.timer {
            self.wheel.cancel(t);
        }
        self.close_conn(s.conn);
        for (_, (c, id)) in s.streams {
            let Some(Some(_)) = self.on_session(c, id, hi) else {
                continue;
            };
            let Some((stream, url)) = self.stream_of(c) else {
                continue;
            };
            let f = Failure {
                error: end.error(url),
                nothing_received: !stream.received && end.retryable(),
            };
            if let Some(call) = self.calls.get_mut(c) {
                call.stage = Stage::Between;
            }
            self.stream_failed(c, f, now);
        }
        for (c, id) in s.queue {
            if self.on_session(c, id, hi) != Some(None) {
                continue;
            }
            let Some(call) = self.calls.get_mut(c) else {
                continue;
            };
            call.stage = Stage::Between;
            if matches!(end, End::SettingsTimeout) || call.retried {
                let e = end.error(&call.req.url_text);
                self.complete(c, Err(e));
            } else {
                call.retried = true;
                self.begin(c, now, false);
            }
        }
    }

    /// Closes session `hi` politely (GOAWAY, if the socket takes it).
    fn close_session(&mut self, hi: usize, now: Instant) {
        if let Some(s) = self.h2s.get_mut(hi) {
            s.h2.shutdown(now);
            if let Some(conn) = self.conns.get_mut(s.conn) {
                let _ = s.write(conn);
            }
        }
        self.session_failed(hi, End::Eof, now);
    }

    /// Closes the sessions without streams (`all`: every session; the loop ends).
    pub(super) fn close_idle_sessions(&mut self, all: bool) {
        let now = Instant::now();
        let sessions: Vec<usize> = self.h2_by_key.values().flatten().copied().collect();
        for hi in sessions {
            let idle = self
                .h2s
                .get(hi)
                .is_some_and(|s| s.streams.is_empty() && s.queue.is_empty());
            if all || idle {
                self.close_session(hi, now);
            }
        }
    }

    /// Arms session `hi`'s timer at its earliest deadline (idle timeout, the
    /// server's SETTINGS, the state machine's own), if earlier than the armed one.
    fn arm_session(&mut self, hi: usize) {
        let idle_timeout = self.pool.config().idle_timeout;
        let Some(s) = self.h2s.get_mut(hi) else {
            return;
        };
        let idle_at = s.idle_since.map(|t| t + idle_timeout);
        let Some(at) = min(min(idle_at, s.settings_by), s.h2.poll_timeout()) else {
            return;
        };
        if let Some((t, armed)) = s.timer {
            if armed <= at {
                return;
            }
            self.wheel.cancel(t);
        }
        s.timer = Some((self.wheel.schedule(at, Timer::H2(hi, s.serial)), at));
    }

    pub(super) fn on_session_timer(&mut self, hi: usize, serial: u64, now: Instant) {
        let idle_timeout = self.pool.config().idle_timeout;
        let Some(s) = self.h2s.get_mut(hi) else {
            return;
        };
        if s.serial != serial {
            return;
        }
        s.timer = None;
        if s.settings_by.is_some_and(|d| now >= d) {
            return self.session_failed(hi, End::SettingsTimeout, now);
        }
        if s.idle_since.is_some_and(|t| now >= t + idle_timeout) {
            log::debug!("session {hi}: idle timeout");
            return self.close_session(hi, now);
        }
        if s.h2.poll_timeout().is_some_and(|t| now >= t) {
            s.h2.handle_timeout(now);
            self.mark_dirty(hi);
        }
        self.arm_session(hi);
    }

    /// `complete`'s part for a streaming call: its stream reset (CANCEL) unless
    /// it is closed already; the session stays.
    pub(super) fn drop_stream(&mut self, hi: usize, id: Option<StreamId>) {
        if let (Some(s), Some(id)) = (self.h2s.get_mut(hi), id) {
            s.cancel(id);
        }
        self.mark_dirty(hi);
    }
}

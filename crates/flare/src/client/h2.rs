//! HTTP/2 on flare-h2's client role: one connection per origin shared by every
//! thread of a client. A reader thread owns the socket's read side and feeds the
//! state machine; requesting threads open streams, send bodies and wait for their
//! events under one mutex.
//!
//! Two things keep a request cheap when many threads share the connection:
//!
//! - **Per-stream wake-up.** A waiting thread parks as its stream's waiter; whoever
//!   delivers an event for that stream (usually the reader) unparks that thread
//!   alone, after releasing the lock. Every waiter is woken only when the
//!   connection dies.
//! - **Combined writes.** Output is encoded under the lock but written outside it
//!   by one thread at a time (`writing`); whoever queues output while another
//!   thread writes leaves it to that writer, which writes until nothing is queued.
//!   And while threads the reader woke have not yet run (`woken`), output is left
//!   queued: the last of them to run writes it, so requests that follow a batch of
//!   responses go out together (one TLS record, one `sendto`), and the reader's
//!   WINDOW_UPDATEs and SETTINGS ACKs go out once per read batch.

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use flare_h2::{Config, Connection, ErrorCode, Event, StreamError, StreamId};
use flare_tls::ClientSession;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use super::body::{Body, BodyKind};
use super::error::{Error, ProtocolError, TimeoutKind};
use super::h1::{Failure, Head};
use super::transport::Transport;

#[cfg(test)]
mod tests;

/// The flare-h2 settings of a client connection (also the non-blocking path's):
/// 1 MiB stream and 4 MiB connection receive windows.
pub(crate) fn client_config() -> Config {
    Config::new()
        .initial_stream_window(1 << 20)
        .initial_connection_window(4 << 20)
}

/// A request's fields for `send_request`: every field but `Host` (its value is
/// `:authority`), then `content-length` when given.
pub(crate) fn request_fields<'a>(
    headers: &'a HeaderMap,
    content_length: Option<&'a str>,
) -> Vec<(&'a [u8], &'a [u8])> {
    let mut fields = Vec::with_capacity(headers.len() + 1);
    fields.extend(
        headers
            .iter()
            .filter(|(n, _)| *n != http::header::HOST)
            .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes())),
    );
    if let Some(t) = content_length {
        fields.push((&b"content-length"[..], t.as_bytes()));
    }
    fields
}

/// A response head's regular fields as a `HeaderMap` (fields `http` refuses are
/// dropped).
pub(crate) fn header_map(fields: &[(Vec<u8>, Vec<u8>)]) -> HeaderMap {
    let mut headers = HeaderMap::with_capacity(fields.len());
    for (n, v) in fields {
        if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n), HeaderValue::from_bytes(v)) {
            headers.append(n, v);
        }
    }
    headers
}

/// A response head off the wire: the status and the regular fields.
type RawHead = (u16, Vec<(Vec<u8>, Vec<u8>)>);

/// What arrived for one stream, and the thread waiting for it.
#[derive(Default)]
struct Slot {
    head: Option<RawHead>,
    data: VecDeque<Vec<u8>>,
    /// Offset into the front chunk.
    front_pos: usize,
    ended: bool,
    reset: Option<ErrorCode>,
    /// The thread parked on this stream; taken by whoever wakes it.
    waiter: Option<Thread>,
}

struct State {
    conn: Connection,
    tls: Option<Box<ClientSession>>,
    streams: HashMap<u32, Slot>,
    /// Plaintext from the state machine, before TLS.
    plain: Vec<u8>,
    /// Bytes for the socket; lent to the writer while it writes.
    wire: Vec<u8>,
    /// A thread is writing `wire` outside the lock: output queued meanwhile is
    /// its to write.
    writing: bool,
    /// Waiters unparked that have not yet taken the lock again. While there are
    /// any, output waits for the last of them (see the module doc).
    woken: usize,
    /// Waiters to unpark once the lock is released.
    wake: Vec<Thread>,
    dead: Option<&'static str>,
    /// It died of a write that made no progress for the write timeout.
    write_timed_out: bool,
    /// The peer refused a stream for MAX_CONCURRENT_STREAMS; cleared when one ends.
    full: bool,
    goaway: bool,
    last_active: Instant,
}

impl State {
    fn kill(&mut self, why: &'static str) {
        if self.dead.is_none() {
            self.dead = Some(why);
        }
        // A dead connection fails every waiter.
        for slot in self.streams.values_mut() {
            if let Some(t) = slot.waiter.take() {
                self.wake.push(t);
                self.woken += 1;
            }
        }
    }

    /// Queues `id`'s waiter, if any, for a wake-up.
    fn wake(&mut self, id: StreamId) {
        if let Some(t) = self
            .streams
            .get_mut(&id.value())
            .and_then(|s| s.waiter.take())
        {
            self.wake.push(t);
            self.woken += 1;
        }
    }

    /// Moves the state machine's events into the slots, waking their waiters.
    fn handle_events(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                Event::Headers {
                    id,
                    head,
                    end_stream,
                } => {
                    let status = head.status.unwrap_or(0);
                    if (100..200).contains(&status) {
                        continue;
                    }
                    if let Some(slot) = self.streams.get_mut(&id.value()) {
                        slot.head = Some((status, head.fields));
                        slot.ended |= end_stream;
                        self.wake(id);
                    }
                }
                Event::Data {
                    id,
                    data,
                    end_stream,
                } => match self.streams.get_mut(&id.value()) {
                    Some(slot) => {
                        let news = end_stream || !data.is_empty();
                        if !data.is_empty() {
                            slot.data.push_back(data);
                        }
                        slot.ended |= end_stream;
                        if news {
                            self.wake(id);
                        }
                    }
                    None => self.conn.release_capacity(id, data.len()),
                },
                Event::Trailers { id, .. } => {
                    if let Some(slot) = self.streams.get_mut(&id.value()) {
                        slot.ended = true;
                        self.wake(id);
                    }
                }
                Event::StreamReset { id, code, .. } => {
                    if let Some(slot) = self.streams.get_mut(&id.value()) {
                        slot.reset = Some(code);
                        self.wake(id);
                    }
                    self.full = false;
                }
                Event::SendReady { id } => self.wake(id),
                // Streams above its last id come as `StreamReset(REFUSED_STREAM)`;
                // the others may finish.
                Event::GoAway { .. } => self.goaway = true,
                _ => {}
            }
        }
        if self.conn.error().is_some() {
            self.kill("HTTP/2 connection error");
        } else if self.conn.is_closed() {
            self.kill("HTTP/2 connection closed");
        }
    }

    /// Whether anything waits to be encoded for the socket.
    fn wants_write(&self) -> bool {
        self.conn.wants_output() || self.tls.as_ref().is_some_and(|s| s.wants_write())
    }

    /// Appends everything queued to `wire` (as TLS records when the connection has
    /// TLS), then delivers the events that draining made (`SendReady`).
    fn encode(&mut self, wire: &mut Vec<u8>) -> Result<(), &'static str> {
        match &mut self.tls {
            None => self.conn.poll_output(wire),
            Some(session) => {
                self.plain.clear();
                self.conn.poll_output(&mut self.plain);
                let mut rest = &self.plain[..];
                loop {
                    let n = session.write_plaintext(rest).map_err(|_| "TLS failure")?;
                    rest = &rest[n..];
                    let before = wire.len();
                    session.write_tls(wire).map_err(|_| "TLS failure")?;
                    if rest.is_empty() {
                        break;
                    }
                    if n == 0 && wire.len() == before {
                        return Err("TLS session refused output");
                    }
                }
            }
        }
        self.handle_events();
        Ok(())
    }
}

/// The state, locked. Waiters queued for a wake-up while it was held are unparked
/// once it is released: `Drop` moves them to `wake`, which is dropped after
/// `guard`.
struct Locked<'a> {
    guard: MutexGuard<'a, State>,
    wake: Unpark,
}

struct Unpark(Vec<Thread>);

impl Drop for Locked<'_> {
    fn drop(&mut self) {
        if !self.guard.wake.is_empty() {
            std::mem::swap(&mut self.wake.0, &mut self.guard.wake);
        }
    }
}

impl Drop for Unpark {
    fn drop(&mut self) {
        for t in self.0.drain(..) {
            t.unpark();
        }
    }
}

impl Deref for Locked<'_> {
    type Target = State;
    fn deref(&self) -> &State {
        &self.guard
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut State {
        &mut self.guard
    }
}

/// Counters for tests: how often requesting threads woke, per request.
#[cfg(test)]
#[derive(Debug, Default)]
struct Stats {
    requests: std::sync::atomic::AtomicU64,
    /// Returns from `park`, for whatever reason.
    wakeups: std::sync::atomic::AtomicU64,
    /// Socket writes.
    writes: std::sync::atomic::AtomicU64,
}

/// One shared HTTP/2 connection.
pub(crate) struct H2Conn {
    state: Mutex<State>,
    closed: AtomicBool,
    /// The socket; written by the thread holding the `writing` role.
    sock: TcpStream,
    scheme: &'static str,
    #[cfg(test)]
    stats: Stats,
}

impl std::fmt::Debug for H2Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Conn")
            .field("scheme", &self.scheme)
            .finish()
    }
}

impl H2Conn {
    /// Starts HTTP/2 on a connected transport (after ALPN `h2`, or on plain TCP by
    /// prior knowledge) and its reader thread. A socket write that makes no
    /// progress for `write_timeout` (`None`: no limit) kills the connection, and
    /// its streams fail with [`TimeoutKind::Write`].
    pub(crate) fn start(t: Transport, write_timeout: Option<Duration>) -> io::Result<Arc<H2Conn>> {
        let (sock, tls, leftover, scheme) = match t {
            Transport::Plain(s) => (s.tcp, None, Vec::new(), "http"),
            Transport::Tls(tls) => {
                let (s, session, rest) = tls.into_parts();
                (s.tcp, Some(Box::new(session)), rest, "https")
            }
        };
        sock.set_read_timeout(Some(Duration::from_millis(500)))?;
        // SO_SNDTIMEO: a blocking write returns what it sent once the buffer stops
        // draining for this long, and fails if it sent nothing (so `write_all`
        // fails after that long without progress).
        sock.set_write_timeout(write_timeout.filter(|t| !t.is_zero()))?;
        let now = Instant::now();
        let state = State {
            conn: Connection::client(client_config(), now),
            tls,
            streams: HashMap::new(),
            plain: Vec::new(),
            wire: Vec::new(),
            writing: false,
            woken: 0,
            wake: Vec::new(),
            dead: None,
            write_timed_out: false,
            full: false,
            goaway: false,
            last_active: now,
        };
        let conn = Arc::new(H2Conn {
            state: Mutex::new(state),
            closed: AtomicBool::new(false),
            sock: sock.try_clone()?,
            scheme,
            #[cfg(test)]
            stats: Stats::default(),
        });
        {
            let st = conn.flush(conn.lock());
            if let Some(why) = st.dead {
                return Err(io::Error::other(why));
            }
        }
        let mut scratch = Vec::new();
        if !leftover.is_empty() {
            conn.feed(&leftover, &mut scratch);
        }
        let reader = conn.clone();
        std::thread::Builder::new()
            .name("flare-client-h2".into())
            .spawn(move || reader.read_loop(sock, scratch))?;
        Ok(conn)
    }

    fn lock(&self) -> Locked<'_> {
        Locked {
            guard: self.state.lock().unwrap_or_else(PoisonError::into_inner),
            wake: Unpark(Vec::new()),
        }
    }

    /// Writes what is queued, unless another thread is writing: then it is that
    /// thread's to write (it loops until nothing is queued).
    fn flush<'a>(&'a self, mut st: Locked<'a>) -> Locked<'a> {
        if st.writing {
            return st;
        }
        loop {
            let mut wire = std::mem::take(&mut st.wire);
            wire.clear();
            let encoded = st.encode(&mut wire);
            if let Err(why) = encoded {
                st.wire = wire;
                st.kill(why);
                return st;
            }
            if wire.is_empty() {
                st.wire = wire;
                return st;
            }
            st.writing = true;
            drop(st);
            let r = (&self.sock).write_all(&wire);
            #[cfg(test)]
            self.stats.writes.fetch_add(1, Ordering::Relaxed);
            st = self.lock();
            st.writing = false;
            st.wire = wire;
            if let Err(e) = r {
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) {
                    st.write_timed_out = true;
                    st.kill("write timed out");
                } else {
                    st.kill("write failed");
                }
                return st;
            }
        }
    }

    /// Writes what is queued now, or leaves it to a thread that will: the current
    /// writer, or the last woken waiter still to run.
    fn flush_soon<'a>(&'a self, st: Locked<'a>) -> Locked<'a> {
        if st.writing || st.woken > 0 || !st.wants_write() {
            return st;
        }
        self.flush(st)
    }

    /// Parks the calling thread as `id`'s waiter until an event for `id` (or the
    /// connection's death) wakes it, or until `deadline`. False, without waiting,
    /// once the deadline has passed. Callers check their condition again either way
    /// (a park may also end spuriously).
    fn wait<'a>(
        &'a self,
        mut st: Locked<'a>,
        id: StreamId,
        deadline: Option<Instant>,
    ) -> (Locked<'a>, bool) {
        let left = match deadline {
            None => None,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => return (st, false),
            },
        };
        match st.streams.get_mut(&id.value()) {
            Some(slot) => slot.waiter = Some(thread::current()),
            None => return (st, true),
        }
        drop(st);
        match left {
            None => thread::park(),
            Some(left) => thread::park_timeout(left),
        }
        #[cfg(test)]
        self.stats.wakeups.fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        let registered = st
            .streams
            .get_mut(&id.value())
            .is_some_and(|s| s.waiter.take().is_some());
        if !registered {
            // Woken by an event: the last of a batch writes what waited for it.
            st.woken = st.woken.saturating_sub(1);
            if st.woken == 0 {
                st = self.flush_soon(st);
            }
        }
        (st, true)
    }

    fn read_loop(self: Arc<Self>, mut sock: TcpStream, mut scratch: Vec<u8>) {
        let mut buf = vec![0u8; 32 * 1024];
        loop {
            if self.closed.load(Ordering::Acquire) {
                break;
            }
            match sock.read(&mut buf) {
                Ok(0) => {
                    self.lock().kill("server closed the HTTP/2 connection");
                    break;
                }
                Ok(n) => {
                    if !self.feed(&buf[..n], &mut scratch) {
                        break;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) =>
                {
                    let mut st = self.lock();
                    let now = Instant::now();
                    if st.conn.poll_timeout().is_some_and(|t| t <= now) {
                        st.conn.handle_timeout(now);
                    }
                    // Also notices a connection that closed itself (GOAWAY, and
                    // its last stream ended on a requesting thread).
                    st.handle_events();
                    st = self.flush_soon(st);
                    if st.dead.is_some() {
                        break;
                    }
                }
                Err(_) => {
                    self.lock().kill("HTTP/2 connection failed");
                    break;
                }
            }
        }
        self.lock().kill("HTTP/2 connection ended");
        let _ = self.sock.shutdown(Shutdown::Both);
    }

    /// Feeds bytes read off the socket; false once the connection is dead. The
    /// events go to their streams' slots; what the state machine answers (ACKs,
    /// WINDOW_UPDATEs) is written once for the whole batch.
    fn feed(&self, data: &[u8], scratch: &mut Vec<u8>) -> bool {
        let mut guard = self.lock();
        let st = &mut *guard;
        let now = Instant::now();
        match &mut st.tls {
            None => {
                if st.conn.recv(data, now).is_err() {
                    st.kill("HTTP/2 protocol error");
                }
            }
            Some(session) => {
                scratch.resize(16 * 1024, 0);
                let mut rest = data;
                let mut failed = None;
                while !rest.is_empty() || session.wants_read() {
                    let Ok(used) = session.read_tls(rest) else {
                        failed = Some("TLS failure");
                        break;
                    };
                    rest = &rest[used..];
                    let mut got_any = false;
                    loop {
                        match session.read_plaintext(scratch) {
                            Ok(0) => break,
                            Ok(n) => {
                                got_any = true;
                                if st.conn.recv(&scratch[..n], now).is_err() {
                                    failed = Some("HTTP/2 protocol error");
                                }
                            }
                            Err(_) => {
                                failed = Some("TLS failure");
                                break;
                            }
                        }
                    }
                    if rest.is_empty() || (used == 0 && !got_any) || failed.is_some() {
                        break;
                    }
                }
                if session.peer_closed() {
                    failed = failed.or(Some("server closed the HTTP/2 connection"));
                }
                if let Some(why) = failed {
                    st.kill(why);
                }
            }
        }
        st.handle_events();
        let st = self.flush_soon(guard);
        st.dead.is_none()
    }

    pub(crate) fn is_usable(&self) -> bool {
        let st = self.lock();
        st.dead.is_none() && !st.goaway && !self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn has_room(&self) -> bool {
        !self.lock().full
    }

    pub(crate) fn idle_longer_than(&self, d: Duration) -> bool {
        let st = self.lock();
        st.streams.is_empty() && st.last_active.elapsed() > d
    }

    /// Closes the connection (GOAWAY, then the socket).
    pub(crate) fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        {
            let mut st = self.lock();
            st.conn.shutdown(Instant::now());
            let mut st = self.flush(st);
            st.kill("closed by the client");
        }
        let _ = self.sock.shutdown(Shutdown::Both);
    }

    /// Sends a request and waits for its response head. `Err(None)` means the
    /// connection had no room for another stream (open another one).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn request(
        self: &Arc<Self>,
        method: &Method,
        authority: &str,
        path: &str,
        headers: &HeaderMap,
        body: Body,
        read_timeout: Option<Duration>,
        deadline: Option<Instant>,
        url: &str,
    ) -> Result<(Head, H2Body), Option<Failure>> {
        #[cfg(test)]
        self.stats.requests.fetch_add(1, Ordering::Relaxed);
        let len = body.len();
        let len_text = len.filter(|&n| n > 0).map(|n| n.to_string());
        let with_len = request_fields(headers, len_text.as_deref());
        let end_stream = len == Some(0);
        let id = {
            let mut st = self.lock();
            if let Some(why) = st.dead {
                return Err(Some(Failure {
                    error: Error::protocol(url, ProtocolError::Other(why)),
                    nothing_received: true,
                }));
            }
            let req = flare_h2::Request::new(
                method.as_str().as_bytes(),
                self.scheme.as_bytes(),
                authority.as_bytes(),
                path.as_bytes(),
            );
            let id = match st.conn.send_request(&req, &with_len, end_stream) {
                Ok(id) => id,
                Err(StreamError::TooManyStreams) => {
                    st.full = true;
                    return Err(None);
                }
                Err(StreamError::GoingAway) => {
                    st.goaway = true;
                    return Err(None);
                }
                Err(_) => {
                    st.kill("HTTP/2 connection closed");
                    return Err(None);
                }
            };
            st.streams.insert(id.value(), Slot::default());
            st.last_active = Instant::now();
            self.flush_soon(st);
            id
        };
        let stream = H2Body {
            conn: self.clone(),
            id,
            done: false,
            url: url.to_owned(),
            read_timeout,
            deadline,
        };
        if !end_stream {
            stream.send_body(body).map_err(Some)?;
        }
        let head = stream.wait_head().map_err(Some)?;
        Ok((head, stream))
    }
}

/// The body of an HTTP/2 response; dropping it early resets the stream (CANCEL).
pub(crate) struct H2Body {
    conn: Arc<H2Conn>,
    id: StreamId,
    done: bool,
    url: String,
    read_timeout: Option<Duration>,
    deadline: Option<Instant>,
}

impl H2Body {
    fn wait_deadline(&self) -> (Option<Instant>, TimeoutKind) {
        let idle = self.read_timeout.map(|d| Instant::now() + d);
        match (idle, self.deadline) {
            (Some(i), Some(d)) if d <= i => (Some(d), TimeoutKind::Request),
            (Some(i), _) => (Some(i), TimeoutKind::Read),
            (None, d) => (d, TimeoutKind::Request),
        }
    }

    fn failure(&self, st: &State, slot: Option<&Slot>) -> Option<Failure> {
        if let Some(code) = slot.and_then(|s| s.reset) {
            return Some(Failure {
                error: Error::protocol(&self.url, ProtocolError::Http2Reset(code)),
                // RFC 9113 section 8.7: a refused stream was not processed.
                nothing_received: code == ErrorCode::RefusedStream,
            });
        }
        st.dead.map(|why| Failure {
            error: match st.conn.error() {
                _ if st.write_timed_out => Error::timeout(&self.url, TimeoutKind::Write),
                Some(e) => Error::protocol(&self.url, ProtocolError::Http2(e)),
                None => Error::protocol(&self.url, ProtocolError::Other(why)),
            },
            nothing_received: slot.is_some_and(|s| s.head.is_none()),
        })
    }

    fn send_body(&self, body: Body) -> Result<(), Failure> {
        let mut reader: Box<dyn Read + Send> = match body.kind {
            BodyKind::Empty => Box::new(io::empty()),
            BodyKind::Bytes(b) => Box::new(io::Cursor::new(b)),
            BodyKind::Reader { reader, .. } => reader,
        };
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = reader.read(&mut buf).map_err(|e| Failure {
                error: Error::io(&self.url, e),
                nothing_received: false,
            })?;
            let mut rest = &buf[..n];
            let end = n == 0;
            // The idle timeout counts from the last progress.
            let (mut dl, mut kind) = self.wait_deadline();
            let mut st = self.conn.lock();
            loop {
                if let Some(f) = self.failure(&st, st.streams.get(&self.id.value())) {
                    return Err(f);
                }
                // A short send marks the stream blocked, so that `SendReady` wakes
                // it once a window or the output buffer has room.
                let Ok(sent) = st.conn.send_data(self.id, rest, end) else {
                    // The stream is gone on our side (reset or failed): what
                    // happened to it shows while waiting for the head.
                    return Ok(());
                };
                rest = &rest[sent..];
                st = self.conn.flush_soon(st);
                if rest.is_empty() {
                    break;
                }
                if sent > 0 {
                    (dl, kind) = self.wait_deadline();
                    continue;
                }
                // Our own flush may have made room (its `SendReady` found no
                // waiter): try again rather than wait for a wake-up already spent.
                if st.conn.send_capacity(self.id) > 0 {
                    continue;
                }
                let (g, ok) = self.conn.wait(st, self.id, dl);
                st = g;
                if !ok {
                    return Err(Failure {
                        error: Error::timeout(&self.url, kind),
                        nothing_received: false,
                    });
                }
            }
            if end {
                return Ok(());
            }
        }
    }

    fn wait_head(&self) -> Result<Head, Failure> {
        let (dl, kind) = self.wait_deadline();
        let mut st = self.conn.lock();
        loop {
            let slot = st.streams.get(&self.id.value());
            if let Some((status, fields)) = slot.and_then(|s| s.head.as_ref()) {
                let status = StatusCode::from_u16(*status).map_err(|_| Failure {
                    error: Error::protocol(&self.url, ProtocolError::Other("bad :status")),
                    nothing_received: false,
                })?;
                return Ok(Head {
                    status,
                    version: Version::HTTP_2,
                    headers: header_map(fields),
                });
            }
            if let Some(f) = self.failure(&st, slot) {
                return Err(f);
            }
            let (g, ok) = self.conn.wait(st, self.id, dl);
            st = g;
            if !ok {
                return Err(Failure {
                    error: Error::timeout(&self.url, kind),
                    nothing_received: false,
                });
            }
        }
    }
}

impl Read for H2Body {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        let (dl, kind) = self.wait_deadline();
        let id = self.id;
        let mut st = self.conn.lock();
        loop {
            let Some(slot) = st.streams.get_mut(&id.value()) else {
                self.done = true;
                return Ok(0);
            };
            if let Some(front) = slot.data.front() {
                let avail = &front[slot.front_pos..];
                let n = avail.len().min(out.len());
                out[..n].copy_from_slice(&avail[..n]);
                slot.front_pos += n;
                if slot.front_pos == front.len() {
                    slot.data.pop_front();
                    slot.front_pos = 0;
                }
                st.conn.release_capacity(id, n);
                self.conn.flush_soon(st);
                return Ok(n);
            }
            if slot.ended {
                st.streams.remove(&id.value());
                st.full = false;
                st.last_active = Instant::now();
                self.done = true;
                return Ok(0);
            }
            let slot = st.streams.get(&id.value());
            if let Some(f) = self.failure(&st, slot) {
                return Err(f.error.into_io());
            }
            let (g, ok) = self.conn.wait(st, id, dl);
            st = g;
            if !ok {
                return Err(Error::timeout(&self.url, kind).into_io());
            }
        }
    }
}

impl Drop for H2Body {
    fn drop(&mut self) {
        let mut st = self.conn.lock();
        if let Some(slot) = st.streams.remove(&self.id.value()) {
            if !slot.ended && slot.reset.is_none() {
                st.conn.reset_stream(self.id, ErrorCode::Cancel);
                st = self.conn.flush_soon(st);
            }
            st.full = false;
            st.last_active = Instant::now();
        }
    }
}

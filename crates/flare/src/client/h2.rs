//! HTTP/2 on flare-h2's client role: one connection per origin shared by every
//! thread of a client. A reader thread owns the socket's read side and feeds the
//! state machine; requesting threads open streams, send bodies and wait for their
//! events under one mutex (output is written under it, so TLS records stay in
//! order).

use std::collections::{HashMap, VecDeque};
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use flare_h2::{Config, Connection, ErrorCode, Event, StreamError, StreamId};
use flare_tls::ClientSession;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use super::body::{Body, BodyKind};
use super::error::{Error, ProtocolError, TimeoutKind};
use super::h1::{Failure, Head};
use super::transport::Transport;

/// The socket's write side, with TLS when the connection has it.
enum Writer {
    Plain(TcpStream),
    Tls(TcpStream, Box<ClientSession>),
}

/// A response head off the wire: the status and the regular fields.
type RawHead = (u16, Vec<(Vec<u8>, Vec<u8>)>);

#[derive(Default)]
struct Slot {
    head: Option<RawHead>,
    data: VecDeque<Vec<u8>>,
    /// Offset into the front chunk.
    front_pos: usize,
    ended: bool,
    reset: Option<ErrorCode>,
    send_ready: bool,
}

struct State {
    conn: Connection,
    writer: Writer,
    streams: HashMap<u32, Slot>,
    out: Vec<u8>,
    tls_out: Vec<u8>,
    dead: Option<&'static str>,
    /// The peer refused a stream for MAX_CONCURRENT_STREAMS; cleared when one ends.
    full: bool,
    goaway: bool,
    last_active: Instant,
}

impl State {
    /// Writes what the state machine queued.
    fn flush(&mut self) -> io::Result<()> {
        self.out.clear();
        self.conn.poll_output(&mut self.out);
        if self.out.is_empty() {
            return Ok(());
        }
        match &mut self.writer {
            Writer::Plain(s) => s.write_all(&self.out),
            Writer::Tls(s, session) => {
                let mut rest = &self.out[..];
                loop {
                    let n = session.write_plaintext(rest).map_err(io::Error::other)?;
                    rest = &rest[n..];
                    self.tls_out.clear();
                    session
                        .write_tls(&mut self.tls_out)
                        .map_err(io::Error::other)?;
                    s.write_all(&self.tls_out)?;
                    if rest.is_empty() {
                        return Ok(());
                    }
                }
            }
        }
    }

    fn kill(&mut self, why: &'static str) {
        if self.dead.is_none() {
            self.dead = Some(why);
        }
    }

    fn handle_events(&mut self) {
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                Event::Headers {
                    id,
                    head,
                    end_stream,
                } => {
                    if let Some(slot) = self.streams.get_mut(&id.value()) {
                        let status = head.status.unwrap_or(0);
                        if (100..200).contains(&status) {
                            continue;
                        }
                        slot.head = Some((status, head.fields));
                        slot.ended |= end_stream;
                    }
                }
                Event::Data {
                    id,
                    data,
                    end_stream,
                } => match self.streams.get_mut(&id.value()) {
                    Some(slot) => {
                        if !data.is_empty() {
                            slot.data.push_back(data);
                        }
                        slot.ended |= end_stream;
                    }
                    None => self.conn.release_capacity(id, data.len()),
                },
                Event::Trailers { id, .. } => {
                    if let Some(slot) = self.streams.get_mut(&id.value()) {
                        slot.ended = true;
                    }
                }
                Event::StreamReset { id, code, .. } => {
                    if let Some(slot) = self.streams.get_mut(&id.value()) {
                        slot.reset = Some(code);
                    }
                    self.full = false;
                }
                Event::SendReady { id } => {
                    if let Some(slot) = self.streams.get_mut(&id.value()) {
                        slot.send_ready = true;
                    }
                }
                Event::GoAway { .. } => self.goaway = true,
                _ => {}
            }
        }
        if let Some(e) = self.conn.error() {
            let _ = e;
            self.kill("HTTP/2 connection error");
        } else if self.conn.is_closed() {
            self.kill("HTTP/2 connection closed");
        }
    }
}

/// One shared HTTP/2 connection.
pub(crate) struct H2Conn {
    state: Mutex<State>,
    changed: Condvar,
    closed: AtomicBool,
    sock: TcpStream,
    scheme: &'static str,
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
    /// prior knowledge) and its reader thread.
    pub(crate) fn start(t: Transport) -> io::Result<Arc<H2Conn>> {
        let (sock, writer, leftover, scheme) = match t {
            Transport::Plain(s) => {
                let w = s.tcp.try_clone()?;
                (s.tcp, Writer::Plain(w), Vec::new(), "http")
            }
            Transport::Tls(tls) => {
                let (s, session, rest) = tls.into_parts();
                let w = s.tcp.try_clone()?;
                (s.tcp, Writer::Tls(w, Box::new(session)), rest, "https")
            }
        };
        sock.set_read_timeout(Some(Duration::from_millis(500)))?;
        sock.set_write_timeout(Some(Duration::from_secs(30)))?;
        let now = Instant::now();
        let config = Config::new()
            .initial_stream_window(1 << 20)
            .initial_connection_window(4 << 20);
        let mut state = State {
            conn: Connection::client(config, now),
            writer,
            streams: HashMap::new(),
            out: Vec::new(),
            tls_out: Vec::new(),
            dead: None,
            full: false,
            goaway: false,
            last_active: now,
        };
        state.flush()?;
        let conn = Arc::new(H2Conn {
            state: Mutex::new(state),
            changed: Condvar::new(),
            closed: AtomicBool::new(false),
            sock: sock.try_clone()?,
            scheme,
        });
        if !leftover.is_empty() {
            conn.feed(&leftover);
        }
        let reader = conn.clone();
        std::thread::Builder::new()
            .name("flare-client-h2".into())
            .spawn(move || reader.read_loop(sock))?;
        Ok(conn)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn read_loop(self: Arc<Self>, mut sock: TcpStream) {
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
                    if !self.feed(&buf[..n]) {
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
                        st.handle_events();
                        if st.flush().is_err() {
                            st.kill("write failed");
                        }
                    }
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
        self.changed.notify_all();
        let _ = self.sock.shutdown(Shutdown::Both);
    }

    /// Feeds bytes read off the socket; false once the connection is dead.
    fn feed(&self, data: &[u8]) -> bool {
        let mut st = self.lock();
        let st = &mut *st;
        let now = Instant::now();
        match &mut st.writer {
            Writer::Plain(_) => {
                if st.conn.recv(data, now).is_err() {
                    st.kill("HTTP/2 protocol error");
                }
            }
            Writer::Tls(_, session) => {
                let mut rest = data;
                let mut plain = vec![0u8; 16 * 1024];
                while !rest.is_empty() || session.wants_read() {
                    let used = match session.read_tls(rest) {
                        Ok(n) => n,
                        Err(_) => {
                            st.dead = Some("TLS failure");
                            break;
                        }
                    };
                    rest = &rest[used..];
                    let mut got_any = false;
                    loop {
                        match session.read_plaintext(&mut plain) {
                            Ok(0) => break,
                            Ok(n) => {
                                got_any = true;
                                if st.conn.recv(&plain[..n], now).is_err() {
                                    st.dead = Some("HTTP/2 protocol error");
                                }
                            }
                            Err(_) => {
                                st.dead = Some("TLS failure");
                                break;
                            }
                        }
                    }
                    if rest.is_empty() || (used == 0 && !got_any) || st.dead.is_some() {
                        break;
                    }
                }
                if session.peer_closed() {
                    st.kill("server closed the HTTP/2 connection");
                }
            }
        }
        st.handle_events();
        if st.flush().is_err() {
            st.kill("write failed");
        }
        let alive = st.dead.is_none();
        self.changed.notify_all();
        alive
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
            let _ = st.flush();
            st.kill("closed by the client");
        }
        let _ = self.sock.shutdown(Shutdown::Both);
        self.changed.notify_all();
    }

    /// Waits for a change, until `deadline`; false when it passed.
    fn wait<'a>(
        &'a self,
        st: MutexGuard<'a, State>,
        deadline: Option<Instant>,
    ) -> (MutexGuard<'a, State>, bool) {
        match deadline {
            None => (
                self.changed
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner),
                true,
            ),
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return (st, false);
                }
                let (g, _) = self
                    .changed
                    .wait_timeout(st, left)
                    .unwrap_or_else(PoisonError::into_inner);
                (g, true)
            }
        }
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
        let fields: Vec<(&[u8], &[u8])> = headers
            .iter()
            .filter(|(n, _)| *n != http::header::HOST)
            .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()))
            .collect();
        let len = body.len();
        let mut with_len: Vec<(&[u8], &[u8])> = fields;
        let len_text = len.filter(|&n| n > 0).map(|n| n.to_string());
        if let Some(t) = &len_text {
            with_len.push((b"content-length", t.as_bytes()));
        }
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
            if st.flush().is_err() {
                st.kill("write failed");
            }
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
            loop {
                let mut st = self.conn.lock();
                if let Some(f) = self.failure(&st, st.streams.get(&self.id.value())) {
                    return Err(f);
                }
                let cap = st.conn.send_capacity(self.id);
                if cap == 0 && !(end && rest.is_empty()) {
                    if let Some(s) = st.streams.get_mut(&self.id.value()) {
                        s.send_ready = false;
                    }
                    let (dl, kind) = self.wait_deadline();
                    let (g, ok) = self.conn.wait(st, dl);
                    drop(g);
                    if !ok {
                        return Err(Failure {
                            error: Error::timeout(&self.url, kind),
                            nothing_received: false,
                        });
                    }
                    continue;
                }
                let sent = st.conn.send_data(self.id, rest, end).unwrap_or(0);
                rest = &rest[sent..];
                if st.flush().is_err() {
                    st.kill("write failed");
                }
                if rest.is_empty() {
                    break;
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
                let mut headers = HeaderMap::with_capacity(fields.len());
                for (n, v) in fields {
                    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(n), HeaderValue::from_bytes(v))
                    {
                        headers.append(n, v);
                    }
                }
                return Ok(Head {
                    status,
                    version: Version::HTTP_2,
                    headers,
                });
            }
            if let Some(f) = self.failure(&st, slot) {
                return Err(f);
            }
            let (g, ok) = self.conn.wait(st, dl);
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
        let mut st = self.conn.lock();
        loop {
            let id = self.id;
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
                if st.flush().is_err() {
                    st.kill("write failed");
                }
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
            let (g, ok) = self.conn.wait(st, dl);
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
                let _ = st.flush();
            }
            st.full = false;
            st.last_active = Instant::now();
        }
    }
}

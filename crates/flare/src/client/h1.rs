//! One HTTP/1.1 exchange on a pooled connection: the request head and body out,
//! interim responses skipped, the final head parsed (flare-h1, lenient), and a
//! body reader that hands the connection back to the pool at the end of the body.

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use flare_h1::{
    encode_chunk, encode_last_chunk, parse_response, ChunkedDecoder, Limits, ResponseFraming,
    ResponseHeadParsed, Status,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use super::body::{Body, BodyKind};
use super::connect::lenient;
use super::error::{Error, ProtocolError, TimeoutKind};
use super::pool::{Pool, PoolKey};
use super::transport::{Deadlines, Fired, Transport};

/// How long to wait for `100 Continue` before sending the body anyway (RFC 9110
/// section 10.1.1 lets a client proceed without it).
const CONTINUE_WAIT: Duration = Duration::from_secs(1);

/// Room a read is given at least: a response head fits in one read.
const READ_ROOM: usize = 16 * 1024;

/// A connection that speaks HTTP/1.1, with the bytes read past the last response.
#[derive(Debug)]
pub(crate) struct H1Conn {
    pub(crate) t: Transport,
    /// Zero-filled once as it grows (never per read): `start..end` is unread input.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The last request head, kept for its allocation.
    wire: Vec<u8>,
    /// Requests this connection has carried.
    pub(crate) uses: u32,
}

impl H1Conn {
    pub(crate) fn new(t: Transport) -> H1Conn {
        H1Conn {
            t,
            buf: Vec::new(),
            start: 0,
            end: 0,
            wire: Vec::new(),
            uses: 0,
        }
    }

    fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
        if self.start >= self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Reads once more into the buffer; 0 at EOF.
    fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start * 2 >= self.end {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() - self.end < READ_ROOM {
            self.buf.resize(self.end + READ_ROOM, 0);
        }
        let n = self.t.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// Whether the connection can be handed out again: nothing unread, and with
    /// `poll` nothing readable on the socket either.
    pub(crate) fn idle_ok(&self, poll: bool) -> bool {
        self.buffered().is_empty() && self.t.idle_ok(poll)
    }
}

/// What the client sends.
pub(crate) struct Outgoing<'a> {
    pub(crate) method: &'a Method,
    /// Origin form, or the absolute form through an HTTP proxy.
    pub(crate) target: &'a str,
    pub(crate) headers: &'a HeaderMap,
    pub(crate) body: Body,
    /// Send `Expect: 100-continue` for bodies at least this long (and streams).
    pub(crate) expect_threshold: Option<u64>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) deadline: Option<Instant>,
    pub(crate) url: &'a str,
}

/// The response head.
pub(crate) struct Head {
    pub(crate) status: StatusCode,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
}

/// Why an exchange failed, and whether it may be retried elsewhere: only when
/// nothing of the response arrived, so the server cannot have acted on it... on a
/// connection that was idle (the keep-alive race).
pub(crate) struct Failure {
    pub(crate) error: Error,
    pub(crate) nothing_received: bool,
}

fn fail(url: &str, e: io::Error, nothing_received: bool) -> Failure {
    let timeout = e.kind() == io::ErrorKind::TimedOut;
    Failure {
        error: map_io(url, e),
        nothing_received: nothing_received && !timeout,
    }
}

/// Maps an `io::Error` from a transport to the client's error, naming fired deadlines.
pub(crate) fn map_io(url: &str, e: io::Error) -> Error {
    if let Some(f) = e.get_ref().and_then(|r| r.downcast_ref::<Fired>()) {
        return Error::timeout(url, f.0);
    }
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        return Error::timeout(url, TimeoutKind::Read);
    }
    Error::io(url, e)
}

pub(crate) fn limits() -> Limits {
    Limits::default()
        .max_header_bytes(64 * 1024)
        .max_headers(256)
        .max_body(u64::MAX)
}

/// Sends `out` on `conn` and reads the final response head. On success the
/// connection comes back inside the body reader's state.
/// `shared_url` is `out.url`, shared with the body for its errors.
pub(crate) fn exchange(
    mut conn: H1Conn,
    out: Outgoing<'_>,
    shared_url: &Arc<str>,
) -> Result<(Head, RawBody), Failure> {
    let url = out.url;
    conn.uses += 1;
    let deadlines = Deadlines {
        idle: out.read_timeout,
        idle_kind: Some(TimeoutKind::Read),
        until: out.deadline,
        until_kind: Some(TimeoutKind::Request),
    };
    conn.t.set_deadlines(deadlines);
    let body_len = out.body.len();
    let expect = match (out.expect_threshold, body_len) {
        (Some(_), None) => true,
        (Some(t), Some(n)) => n > 0 && n >= t,
        (None, _) => false,
    } && !out.headers.contains_key(http::header::EXPECT);

    let mut wire = std::mem::take(&mut conn.wire);
    wire.clear();
    write_head(&mut wire, &out, body_len, expect);
    let is_head = out.method == Method::HEAD;
    let mut must_close = false;
    let mut body = out.body;

    // A small in-memory body goes in the same write as the head.
    if !expect {
        if let BodyKind::Bytes(b) = &body.kind {
            if b.len() <= 64 * 1024 {
                wire.extend_from_slice(b);
                body = Body::empty();
            }
        }
    }
    let sent = conn.t.write_all(&wire);
    // Kept for the next request unless a large body made it large.
    if wire.capacity() <= 16 * 1024 {
        conn.wire = wire;
    }
    if let Err(e) = sent {
        return Err(fail(url, e, true));
    }

    let mut early: Option<Parsed> = None;
    if expect {
        conn.t.set_deadlines(Deadlines {
            idle: Some(CONTINUE_WAIT),
            idle_kind: Some(TimeoutKind::Read),
            ..deadlines
        });
        match read_head(&mut conn, is_head, true, url) {
            Ok(Some(h)) => {
                // A final answer before the body: the body is not sent, and the
                // server may still be waiting for it, so the connection closes.
                early = Some(h);
                must_close = true;
            }
            Ok(None) => {}
            Err(e) if e.get_ref().is_some_and(|r| r.is::<Fired>()) => {
                if out.deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(fail(url, e, false));
                }
            }
            Err(e) => return Err(fail(url, e, false)),
        }
        conn.t.set_deadlines(deadlines);
    }
    if early.is_none() {
        if let Err(e) = send_body(&mut conn.t, body, body_len) {
            // A server that stopped reading and has said nothing: the write
            // timeout is the answer (waiting for a head would add a read timeout).
            // One that answered (413) and closed, or answered and stopped
            // reading: read what it said.
            if e.get_ref().is_some_and(|r| r.is::<Fired>()) && conn.t.idle_ok(true) {
                return Err(fail(url, e, false));
            }
            must_close = true;
            log::debug!("request body for {url} not fully sent: {e}");
        }
    }
    let head = match early {
        Some(h) => h,
        None => loop {
            match read_head(&mut conn, is_head, false, url) {
                Ok(Some(h)) => break h,
                Ok(None) => continue,
                Err(e) => {
                    let nothing = conn.buffered().is_empty();
                    return Err(fail(url, e, nothing));
                }
            }
        },
    };
    let Parsed {
        status,
        version,
        headers,
        framing,
        keep_alive,
    } = head;
    let keep_alive = keep_alive && !must_close;
    let state = match framing {
        ResponseFraming::None => Framing::Length(0),
        ResponseFraming::Length(n) => Framing::Length(n),
        ResponseFraming::Chunked => Framing::Chunked(Box::new(ChunkedDecoder::new(&limits()))),
        ResponseFraming::UntilClose => Framing::UntilClose,
    };
    Ok((
        Head {
            status,
            version,
            headers,
        },
        RawBody {
            conn: Some(conn),
            framing: state,
            keep_alive,
            pending: Vec::new(),
            pending_pos: 0,
            release: None,
            url: shared_url.clone(),
        },
    ))
}

pub(crate) fn write_head(
    wire: &mut Vec<u8>,
    out: &Outgoing<'_>,
    body_len: Option<u64>,
    expect: bool,
) {
    wire.extend_from_slice(out.method.as_str().as_bytes());
    wire.push(b' ');
    wire.extend_from_slice(out.target.as_bytes());
    wire.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in out.headers {
        flare_h1::write_header(wire, name.as_str().as_bytes(), value.as_bytes());
    }
    let bodyless_method = matches!(
        *out.method,
        Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS | Method::TRACE
    );
    match body_len {
        Some(0) if bodyless_method => {}
        Some(n) => {
            wire.extend_from_slice(b"content-length: ");
            wire.extend_from_slice(n.to_string().as_bytes());
            wire.extend_from_slice(b"\r\n");
        }
        None => wire.extend_from_slice(b"transfer-encoding: chunked\r\n"),
    }
    if expect {
        wire.extend_from_slice(b"expect: 100-continue\r\n");
    }
    wire.extend_from_slice(b"\r\n");
}

fn send_body(t: &mut Transport, body: Body, len: Option<u64>) -> io::Result<()> {
    match body.kind {
        BodyKind::Empty => Ok(()),
        BodyKind::Bytes(b) => t.write_all(&b),
        BodyKind::Reader { mut reader, .. } => {
            let mut buf = vec![0u8; 32 * 1024];
            let mut chunk = Vec::with_capacity(buf.len() + 32);
            let mut sent = 0u64;
            loop {
                let n = match reader.read(&mut buf) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                let data = &buf[..n];
                match len {
                    Some(total) => {
                        if n == 0 {
                            if sent != total {
                                return Err(io::Error::new(
                                    io::ErrorKind::UnexpectedEof,
                                    "request body reader ended before its length",
                                ));
                            }
                            return Ok(());
                        }
                        let take = data.len().min((total - sent) as usize);
                        t.write_all(&data[..take])?;
                        sent += take as u64;
                        if sent == total {
                            return Ok(());
                        }
                    }
                    None => {
                        chunk.clear();
                        if n == 0 {
                            encode_last_chunk(&mut chunk, &[]);
                            return t.write_all(&chunk);
                        }
                        encode_chunk(&mut chunk, data);
                        t.write_all(&chunk)?;
                    }
                }
            }
        }
    }
}

/// A final response head, copied out of the connection's buffer.
struct Parsed {
    status: StatusCode,
    version: Version,
    headers: HeaderMap,
    framing: ResponseFraming,
    keep_alive: bool,
}

/// Reads response heads until a final one; with `stop_at_continue` a `100`
/// returns `None`. Other 1xx are skipped (RFC 9110 section 15.2).
fn read_head(
    conn: &mut H1Conn,
    is_head: bool,
    stop_at_continue: bool,
    url: &str,
) -> io::Result<Option<Parsed>> {
    let cfg = lenient();
    let limits = limits();
    let mut head = ResponseHeadParsed::default();
    loop {
        if !conn.buffered().is_empty() {
            match parse_response(conn.buffered(), &mut head, &cfg, &limits, is_head) {
                Ok(Status::Complete(n)) => {
                    if (100..200).contains(&head.status) && head.status != 101 {
                        conn.consume(n);
                        if head.status == 100 && stop_at_continue {
                            return Ok(None);
                        }
                        continue;
                    }
                    let status = StatusCode::from_u16(head.status).map_err(|_| {
                        Error::protocol(url, ProtocolError::Other("status out of range")).into_io()
                    })?;
                    let parsed = Parsed {
                        status,
                        version: match head.version {
                            flare_h1::Version::Http10 => Version::HTTP_10,
                            _ => Version::HTTP_11,
                        },
                        headers: header_map(conn.buffered(), n, &head),
                        framing: head.framing,
                        keep_alive: head.keep_alive(),
                    };
                    conn.consume(n);
                    return Ok(Some(parsed));
                }
                Ok(Status::Partial) => {}
                Err(e) => return Err(Error::protocol(url, ProtocolError::Http1(e)).into_io()),
            }
        }
        if conn.fill()? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed before the response head",
            ));
        }
    }
}

/// Field lines as a `HeaderMap`; obs-fold becomes SP (RFC 9112 section 5.2) and
/// lines `http` cannot represent are dropped.
pub(crate) fn to_header_map(buf: &[u8], head: &ResponseHeadParsed) -> HeaderMap {
    header_map(buf, 0, head)
}

/// As [`to_header_map`], the values sharing one copy of the head (the first
/// `head_len` bytes of `buf`) instead of an allocation each.
fn header_map(buf: &[u8], head_len: usize, head: &ResponseHeadParsed) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(head.headers.len());
    let copy = Bytes::copy_from_slice(&buf[..head_len.min(buf.len())]);
    for h in &head.headers {
        let Ok(name) = HeaderName::from_bytes(h.name.get(buf)) else {
            continue;
        };
        let raw = h.value.get(buf);
        let value = if raw.iter().any(|&b| b == b'\r' || b == b'\n') {
            let v: Vec<u8> = raw
                .iter()
                .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
                .collect();
            HeaderValue::from_bytes(v.trim_ascii())
        } else {
            let r = h.value.start as usize..h.value.end as usize;
            if r.end <= copy.len() {
                HeaderValue::from_maybe_shared(copy.slice(r))
            } else {
                HeaderValue::from_bytes(raw)
            }
        };
        if let Ok(v) = value {
            map.append(name, v);
        }
    }
    map
}

enum Framing {
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
    UntilClose,
}

/// Where a finished connection goes.
pub(crate) struct Release {
    pub(crate) pool: Arc<Pool>,
    pub(crate) key: PoolKey,
}

/// The body of an HTTP/1.1 response as it comes off the connection (transfer
/// coding removed, content coding not). At the end of the body a keep-alive
/// connection goes back to the pool; dropped early, it is closed.
pub(crate) struct RawBody {
    conn: Option<H1Conn>,
    framing: Framing,
    keep_alive: bool,
    /// Decoded chunked data not yet handed out.
    pending: Vec<u8>,
    pending_pos: usize,
    pub(crate) release: Option<Release>,
    url: Arc<str>,
}

impl RawBody {
    /// Whether the body is known to be empty (and the connection already free).
    pub(crate) fn content_length(&self) -> Option<u64> {
        match self.framing {
            Framing::Length(n) => Some(n),
            _ => None,
        }
    }

    fn finish(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if self.keep_alive && conn.buffered().is_empty() {
            if let Some(r) = &self.release {
                r.pool.checkin(&r.key, conn);
            }
        }
    }

    /// Ends an empty body at once, freeing the connection before anyone reads.
    pub(crate) fn finish_if_empty(&mut self) {
        if matches!(self.framing, Framing::Length(0)) {
            self.finish();
        }
    }

    fn eof_error(&self) -> io::Error {
        Error::protocol(&self.url, ProtocolError::UnexpectedEof).into_io()
    }
}

impl Read for RawBody {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.pending_pos < self.pending.len() {
                let n = out.len().min(self.pending.len() - self.pending_pos);
                out[..n].copy_from_slice(&self.pending[self.pending_pos..self.pending_pos + n]);
                self.pending_pos += n;
                return Ok(n);
            }
            let Some(conn) = self.conn.as_mut() else {
                return Ok(0);
            };
            match &mut self.framing {
                Framing::Length(0) => {
                    self.finish();
                    return Ok(0);
                }
                Framing::Length(left) => {
                    let want = out.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                    let n = if !conn.buffered().is_empty() {
                        let n = want.min(conn.buffered().len());
                        out[..n].copy_from_slice(&conn.buffered()[..n]);
                        conn.consume(n);
                        n
                    } else {
                        let n = conn.t.read(&mut out[..want])?;
                        if n == 0 {
                            self.conn = None;
                            return Err(self.eof_error());
                        }
                        n
                    };
                    *left -= n as u64;
                    if *left == 0 {
                        self.finish();
                    }
                    return Ok(n);
                }
                Framing::Chunked(dec) => {
                    if dec.is_done() {
                        self.finish();
                        return Ok(0);
                    }
                    if conn.buffered().is_empty() && conn.fill()? == 0 {
                        self.conn = None;
                        return Err(self.eof_error());
                    }
                    self.pending.clear();
                    self.pending_pos = 0;
                    let p = dec
                        .decode(conn.buffered(), &mut self.pending)
                        .map_err(|e| {
                            Error::protocol(&self.url, ProtocolError::Http1(e)).into_io()
                        })?;
                    conn.consume(p.consumed);
                    if p.done && self.pending.is_empty() {
                        self.finish();
                        return Ok(0);
                    }
                }
                Framing::UntilClose => {
                    if !conn.buffered().is_empty() {
                        let n = out.len().min(conn.buffered().len());
                        out[..n].copy_from_slice(&conn.buffered()[..n]);
                        conn.consume(n);
                        return Ok(n);
                    }
                    let n = conn.t.read(out)?;
                    if n == 0 {
                        self.conn = None;
                    }
                    return Ok(n);
                }
            }
        }
    }
}

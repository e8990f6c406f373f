//! One HTTP/1.1 exchange on one connection, stepped on readiness: the request head
//! and body out (the body held back for `Expect: 100-continue`), interim responses
//! skipped, the final head parsed with flare-h1's lenient response parser, and the
//! body collected (Content-Length, chunked through `ChunkedDecoder`, or until close)
//! under the size cap. [`into_response`] then decodes gzip/deflate under the same
//! cap and builds the [`Response`] the blocking client would have returned.

use std::io::{Cursor, Read};
use std::time::{Duration, Instant};

use bytes::Bytes;
use flare_h1::{parse_response, ChunkedDecoder, ResponseFraming, ResponseHeadParsed, Status};
use http::{header, HeaderMap, Method, StatusCode, Version};

use super::super::body::Body;
use super::super::connect::{lenient, Proxy};
use super::super::decode::{Capped, Coding, Decoder};
use super::super::error::{Error, ProtocolError, TimeoutKind};
use super::super::h1::{limits, to_header_map, write_head, Outgoing};
use super::super::response::Response;
use super::super::url::Url;
use super::conn::{Conn, ConnError, Fill};

/// How long to wait for `100 Continue` before sending the body anyway (RFC 9110
/// section 10.1.1 lets a client proceed without it); as the blocking client.
const CONTINUE_WAIT: Duration = Duration::from_secs(1);
/// A body at most this long goes out in the head's write.
const INLINE_BODY: usize = 64 * 1024;
/// Reads per step: a level-triggered poller reports a socket that still has data,
/// so one busy download cannot hold the I/O thread.
const READS_PER_STEP: usize = 32;

/// A request as the I/O thread keeps it across a retry and redirects.
#[derive(Debug)]
pub(super) struct Req {
    pub(super) method: Method,
    pub(super) url: Url,
    pub(super) url_text: String,
    /// The fields sent (Host, the user's, the client's defaults).
    pub(super) headers: HeaderMap,
    pub(super) body: Bytes,
    /// Whether the client asked for a content coding and so decodes it.
    pub(super) decode: bool,
    /// Whether the user set `Host` (kept across redirects then).
    pub(super) user_host: bool,
    /// Whether the user set `Cookie` (it goes to the first origin only; jar
    /// cookies are chosen for each URL).
    pub(super) user_cookie: bool,
}

impl Req {
    /// RFC 9110 section 9.2.2; a body in memory can be sent again.
    pub(super) fn idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET
                | Method::HEAD
                | Method::PUT
                | Method::DELETE
                | Method::OPTIONS
                | Method::TRACE
        )
    }
}

/// The client's settings an exchange needs.
#[derive(Clone, Copy, Debug)]
pub(super) struct Settings {
    pub(super) expect_threshold: Option<u64>,
    pub(super) read_timeout: Option<Duration>,
    pub(super) write_timeout: Option<Duration>,
    pub(super) max_response_size: u64,
}

/// A final response, its body collected but not decoded.
#[derive(Debug)]
pub(super) struct Finished {
    pub(super) status: StatusCode,
    pub(super) version: Version,
    pub(super) headers: HeaderMap,
    pub(super) raw: Vec<u8>,
    /// Whether the connection can carry another request.
    pub(super) keep_alive: bool,
}

/// Why an exchange failed, and whether it may be retried on a fresh connection:
/// only when nothing of the response arrived (the keep-alive race).
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) error: Error,
    pub(super) nothing_received: bool,
}

/// What a step came to.
#[derive(Debug)]
pub(super) enum Progress {
    /// Waiting for the socket; `true` while output is unsent (watch writability).
    Waiting(bool),
    Done(Finished),
    Failed(Failure),
}

#[derive(Debug)]
enum Framing {
    Length(u64),
    Chunked(Box<ChunkedDecoder>),
    UntilClose,
}

#[derive(Debug)]
enum Phase {
    /// No final head yet (the request may still be going out).
    Head,
    Body(Framing),
}

/// One exchange's state.
#[derive(Debug)]
pub(super) struct H1 {
    /// The head, and a small body with it.
    out: Vec<u8>,
    out_pos: usize,
    /// A large body, sent after `out`.
    body: Bytes,
    body_pos: usize,
    /// With `Expect: 100-continue`, the body waits until this instant, a `100`, or
    /// never (a final answer first).
    continue_at: Option<Instant>,
    /// Writing stopped: a final answer came first, or the server stopped reading.
    write_stopped: bool,
    must_close: bool,
    is_head: bool,
    decode: bool,
    cap: u64,
    raw_limit: u64,
    read_timeout: Option<Duration>,
    write_timeout: Option<Duration>,
    /// Any byte of a response arrived.
    received: bool,
    /// The last read or write progress (for the idle deadline).
    last_progress: Instant,
    parsed: ResponseHeadParsed,
    phase: Phase,
    head: Option<(StatusCode, Version, HeaderMap, bool)>,
    raw: Vec<u8>,
}

impl H1 {
    /// The exchange for `req`; `forward` is the proxy a plain `http` request goes
    /// through, if any.
    pub(super) fn new(req: &Req, forward: Option<&Proxy>, s: &Settings, now: Instant) -> H1 {
        let body_len = req.body.len() as u64;
        let expect = s
            .expect_threshold
            .is_some_and(|t| body_len > 0 && body_len >= t)
            && !req.headers.contains_key(header::EXPECT);
        // Through a forwarding proxy, as the blocking client: the absolute form
        // (RFC 9112 section 3.2.2), and the proxy's credentials with the request
        // unless the caller set `Proxy-Authorization` itself.
        let target = match forward {
            Some(_) => req.url_text.as_str(),
            None => req.url.target(),
        };
        let with_auth;
        let headers = match forward.and_then(|p| p.auth.as_ref()) {
            Some(auth) if !req.headers.contains_key(header::PROXY_AUTHORIZATION) => {
                let mut h = req.headers.clone();
                h.insert(header::PROXY_AUTHORIZATION, auth.clone());
                with_auth = h;
                &with_auth
            }
            _ => &req.headers,
        };
        let mut out = Vec::with_capacity(512);
        let og = Outgoing {
            method: &req.method,
            target,
            headers,
            body: Body::empty(),
            expect_threshold: s.expect_threshold,
            read_timeout: s.read_timeout,
            deadline: None,
            url: &req.url_text,
        };
        write_head(&mut out, &og, Some(body_len), expect);
        let mut body = req.body.clone();
        if !expect && body.len() <= INLINE_BODY {
            out.extend_from_slice(&body);
            body = Bytes::new();
        }
        H1 {
            out,
            out_pos: 0,
            body,
            body_pos: 0,
            continue_at: expect.then_some(now + CONTINUE_WAIT),
            write_stopped: false,
            must_close: false,
            is_head: req.method == Method::HEAD,
            decode: req.decode,
            cap: s.max_response_size,
            raw_limit: s.max_response_size,
            read_timeout: s.read_timeout,
            write_timeout: s.write_timeout,
            received: false,
            last_progress: now,
            parsed: ResponseHeadParsed::default(),
            phase: Phase::Head,
            head: None,
            raw: Vec::new(),
        }
    }

    /// The idle limit now and what it is: while request bytes wait to go out,
    /// the write timeout (no progress writing); after, the read timeout.
    fn idle(&self) -> Option<(Duration, TimeoutKind)> {
        if self.writing() && self.continue_at.is_none() {
            self.write_timeout.map(|t| (t, TimeoutKind::Write))
        } else {
            self.read_timeout.map(|t| (t, TimeoutKind::Read))
        }
    }

    /// When the exchange next needs the clock: the idle deadline (no progress)
    /// or the end of the `100 Continue` wait.
    pub(super) fn deadline(&self) -> Option<Instant> {
        let idle = self.idle().map(|(t, _)| self.last_progress + t);
        match (idle, self.continue_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The idle timeout that has fired, if one has.
    pub(super) fn idle_expired(&self, now: Instant) -> Option<TimeoutKind> {
        self.idle()
            .filter(|(t, _)| now >= self.last_progress + *t)
            .map(|(_, kind)| kind)
    }

    /// The `100 Continue` wait is over: the body goes out. True if it was waiting.
    pub(super) fn continue_due(&mut self, now: Instant) -> bool {
        if self.continue_at.is_some_and(|t| now >= t) {
            self.continue_at = None;
            self.last_progress = now;
            return true;
        }
        false
    }

    /// Whether request bytes are still to be written (now or after the
    /// `100 Continue` wait).
    fn writing(&self) -> bool {
        !self.write_stopped && (self.out_pos < self.out.len() || self.body_pos < self.body.len())
    }

    /// Output that can go now.
    fn unsent(&self) -> &[u8] {
        if self.write_stopped {
            return &[];
        }
        if self.out_pos < self.out.len() {
            return &self.out[self.out_pos..];
        }
        if self.continue_at.is_some() {
            return &[];
        }
        self.body.get(self.body_pos..).unwrap_or(&[])
    }

    fn advance(&mut self, n: usize) {
        if self.out_pos < self.out.len() {
            self.out_pos += n;
        } else {
            self.body_pos += n;
        }
    }

    fn stop_writing(&mut self) {
        self.write_stopped = true;
        self.continue_at = None;
    }

    /// Moves what the socket takes, reads what it has, parses. Call on readiness,
    /// right after attaching the connection, and after `continue_due`.
    pub(super) fn step(&mut self, conn: &mut Conn, now: Instant, url: &str) -> Progress {
        let mut reads = 0;
        loop {
            if let Err(e) = self.write_some(conn, now) {
                // The server may have answered (413) and closed: read what it said.
                log::debug!("request to {url} not fully sent: {e:?}");
                self.stop_writing();
                self.must_close = true;
            }
            if reads >= READS_PER_STEP {
                break;
            }
            let eof = match conn.fill() {
                Ok(Fill::WouldBlock) => break,
                Ok(Fill::Data(n)) => {
                    reads += 1;
                    if n > 0 {
                        self.received = true;
                        self.last_progress = now;
                    }
                    false
                }
                Ok(Fill::Eof) => true,
                Err(e) => return Progress::Failed(self.fail(url, e)),
            };
            if let Some(p) = self.parse(conn, eof, url) {
                return p;
            }
            if eof {
                return Progress::Failed(Failure {
                    error: Error::protocol(url, ProtocolError::UnexpectedEof),
                    nothing_received: !self.received,
                });
            }
        }
        // Bytes already buffered (a final head behind a `100`) are parsed above;
        // anything complete in the buffer now is handled on the next event.
        if let Some(p) = self.parse(conn, false, url) {
            return p;
        }
        Progress::Waiting(!self.unsent().is_empty() || conn.has_output())
    }

    fn write_some(&mut self, conn: &mut Conn, now: Instant) -> Result<(), ConnError> {
        loop {
            let unsent = self.unsent();
            if unsent.is_empty() {
                conn.flush()?;
                return Ok(());
            }
            let n = conn.write(unsent)?;
            if n == 0 {
                return Ok(());
            }
            self.advance(n);
            self.last_progress = now;
        }
    }

    fn fail(&self, url: &str, e: ConnError) -> Failure {
        Failure {
            error: conn_error(url, e),
            nothing_received: !self.received,
        }
    }

    /// Parses what is buffered; `Some` when the exchange is over.
    fn parse(&mut self, conn: &mut Conn, eof: bool, url: &str) -> Option<Progress> {
        let failed = |error: Error| {
            Some(Progress::Failed(Failure {
                error,
                nothing_received: false,
            }))
        };
        loop {
            match &mut self.phase {
                Phase::Head => {
                    if conn.buffered().is_empty() {
                        return None;
                    }
                    let r = parse_response(
                        conn.buffered(),
                        &mut self.parsed,
                        &lenient(),
                        &limits(),
                        self.is_head,
                    );
                    let n = match r {
                        Ok(Status::Complete(n)) => n,
                        Ok(Status::Partial) => return None,
                        Err(e) => return failed(Error::protocol(url, ProtocolError::Http1(e))),
                    };
                    let status = self.parsed.status;
                    // RFC 9110 section 15.2: interim responses are skipped; a 100
                    // releases a body that waits for it.
                    if (100..200).contains(&status) && status != 101 {
                        conn.consume(n);
                        if status == 100 {
                            self.continue_at = None;
                        }
                        continue;
                    }
                    let Ok(status) = StatusCode::from_u16(status) else {
                        return failed(Error::protocol(
                            url,
                            ProtocolError::Other("status out of range"),
                        ));
                    };
                    let headers = to_header_map(conn.buffered(), &self.parsed);
                    conn.consume(n);
                    if self.writing() {
                        // A final answer before the whole request went out: the
                        // rest is not sent and the connection is not reused.
                        self.stop_writing();
                        self.must_close = true;
                    }
                    self.raw_limit = raw_limit(self.cap, self.decode && !self.is_head, &headers);
                    let version = match self.parsed.version {
                        flare_h1::Version::Http10 => Version::HTTP_10,
                        _ => Version::HTTP_11,
                    };
                    let keep_alive = self.parsed.keep_alive();
                    self.head = Some((status, version, headers, keep_alive));
                    let framing = match self.parsed.framing {
                        ResponseFraming::None => Framing::Length(0),
                        ResponseFraming::Length(n) => Framing::Length(n),
                        ResponseFraming::Chunked => {
                            Framing::Chunked(Box::new(ChunkedDecoder::new(&limits())))
                        }
                        ResponseFraming::UntilClose => Framing::UntilClose,
                    };
                    if let Framing::Length(n) = framing {
                        if n > self.raw_limit {
                            return failed(self.too_large(url));
                        }
                        self.raw.reserve(n.min(1 << 20) as usize);
                    }
                    self.phase = Phase::Body(framing);
                }
                Phase::Body(Framing::Length(left)) => {
                    let take = conn
                        .buffered()
                        .len()
                        .min(usize::try_from(*left).unwrap_or(usize::MAX));
                    self.raw.extend_from_slice(&conn.buffered()[..take]);
                    conn.consume(take);
                    *left -= take as u64;
                    if *left == 0 {
                        return Some(self.done(conn));
                    }
                    return None;
                }
                Phase::Body(Framing::Chunked(dec)) => {
                    if dec.is_done() {
                        return Some(self.done(conn));
                    }
                    if conn.buffered().is_empty() {
                        return None;
                    }
                    let p = match dec.decode(conn.buffered(), &mut self.raw) {
                        Ok(p) => p,
                        Err(e) => return failed(Error::protocol(url, ProtocolError::Http1(e))),
                    };
                    conn.consume(p.consumed);
                    if self.raw.len() as u64 > self.raw_limit {
                        return failed(self.too_large(url));
                    }
                    if p.done {
                        return Some(self.done(conn));
                    }
                    if p.consumed == 0 {
                        return None;
                    }
                }
                Phase::Body(Framing::UntilClose) => {
                    self.raw.extend_from_slice(conn.buffered());
                    let n = conn.buffered().len();
                    conn.consume(n);
                    if self.raw.len() as u64 > self.raw_limit {
                        return failed(self.too_large(url));
                    }
                    if eof {
                        self.must_close = true;
                        return Some(self.done(conn));
                    }
                    return None;
                }
            }
        }
    }

    fn too_large(&self, url: &str) -> Error {
        Error::BodyTooLarge {
            url: url.to_owned(),
            limit: self.cap,
        }
    }

    fn done(&mut self, conn: &Conn) -> Progress {
        let Some((status, version, headers, keep_alive)) = self.head.take() else {
            return Progress::Failed(Failure {
                error: Error::protocol("", ProtocolError::Other("response without a head")),
                nothing_received: false,
            });
        };
        Progress::Done(Finished {
            status,
            version,
            headers,
            raw: std::mem::take(&mut self.raw),
            // Bytes past the response (none were asked for) also end the connection.
            keep_alive: keep_alive && !self.must_close && !self.writing() && conn.is_clean(),
        })
    }
}

/// The client error for a connection failure.
pub(super) fn conn_error(url: &str, e: ConnError) -> Error {
    match e {
        ConnError::Io(e) => Error::io(url, e),
        ConnError::Tls(source) => Error::Tls {
            url: url.to_owned(),
            source,
        },
    }
}

/// The most body bytes taken off the wire for a response with `headers`: the cap,
/// or when the body will be decoded (`decode`: the client asked for a coding and
/// the response has a body) the cap plus what deflate framing can add to content
/// that does not compress (the decoded size is capped by [`into_response`]).
pub(super) fn raw_limit(cap: u64, decode: bool, headers: &HeaderMap) -> u64 {
    let decoded = decode
        && headers
            .get(header::CONTENT_ENCODING)
            .and_then(|v| Coding::from_header(v.as_bytes()))
            .is_some();
    if decoded {
        cap.saturating_add(cap / 1024 + 1024)
    } else {
        cap
    }
}

/// The user's response: gzip/deflate decoded under the cap (the blocking client's
/// reader layers, run over the buffered body), `content-encoding` and
/// `content-length` removed when decoded.
pub(super) fn into_response(fin: Finished, req: &Req, cap: u64) -> Result<Response, Error> {
    let Finished {
        status,
        version,
        mut headers,
        raw,
        ..
    } = fin;
    let is_head = req.method == Method::HEAD;
    let coding = (req.decode && !is_head)
        .then(|| headers.get(header::CONTENT_ENCODING))
        .flatten()
        .and_then(|v| Coding::from_header(v.as_bytes()));
    let (body, content_length) = match coding {
        Some(c) => {
            headers.remove(header::CONTENT_ENCODING);
            headers.remove(header::CONTENT_LENGTH);
            let mut decoded = Vec::with_capacity(raw.len().saturating_mul(4).min(1 << 20));
            Capped {
                inner: Decoder::new(&raw[..], c, req.url_text.clone()),
                seen: 0,
                limit: cap,
                url: req.url_text.clone(),
            }
            .read_to_end(&mut decoded)
            .map_err(|e| Error::io(&req.url_text, e))?;
            (Bytes::from(decoded), None)
        }
        None => {
            if raw.len() as u64 > cap {
                return Err(Error::BodyTooLarge {
                    url: req.url_text.clone(),
                    limit: cap,
                });
            }
            let announced = headers
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok());
            (Bytes::from(raw), if is_head { Some(0) } else { announced })
        }
    };
    Ok(Response {
        status,
        version,
        headers,
        url: req.url.clone(),
        body: Box::new(Cursor::new(body)),
        limit: cap,
        content_length,
    })
}

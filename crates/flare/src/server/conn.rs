//! One HTTP/1.1 connection: a state machine the worker steps on readiness.
//!
//! Read once per readiness event, parse every complete (pipelined) request in the
//! buffer, run the handler for each, append every response to one send buffer, and
//! write it with one syscall. A streamed response, or a large body sent without
//! copying, holds later pipelined requests until it is written, so responses stay in
//! order and the send buffer stays bounded.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use flare_h1::{
    encode_chunk, encode_last_chunk, finish_head, is_bodyless_status, parse_request,
    write_header_trusted, write_response_head_trusted, write_response_head_with_prefix,
    BodyFraming, ChunkedDecoder, Expect, RequestHead, ResponseBody, ResponseHead, Status,
    Version as H1Version,
};
use flare_web::{
    Body, BodyStream, FileBody, Frame, Handler, Request, Response, StreamContext, StreamWaker,
};
use http::{Method, StatusCode, Version};

use super::config::ServerConfig;
use super::static_response::StaticResponse;
use super::transport::Transport;

/// What a worker serves.
pub(crate) enum Service<H> {
    /// A handler (a router, a function) given a full request.
    Handler(Arc<H>),
    /// One pre-encoded response for every request.
    Static(Arc<StaticResponse>),
    /// A user's own protocol (`TcpServer`): connections get a `RawConn`, never an
    /// HTTP driver.
    Raw(Arc<super::raw::Factory>),
}

/// Stop parsing pipelined requests while this much is waiting to be written.
const WBUF_HIGH: usize = 256 * 1024;
/// Bodies larger than this are written from their own buffer (writev) rather than
/// copied into the send buffer.
const COPY_BODY_MAX: usize = 16 * 1024;
const RBUF_INITIAL: usize = 4096;
/// The send buffer's first capacity: room for a batch of small responses, so that
/// a warm connection does not grow it.
pub(crate) const WBUF_INITIAL: usize = 4096;
/// At most this much is read and dropped while lingering before a close.
const LINGER_DISCARD_MAX: usize = 64 * 1024;

/// Which timeout the connection's deadline enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deadline {
    /// First byte of a request head to its end (slowloris).
    Header,
    /// Idle time while reading a body.
    Body,
    /// Idle between requests.
    KeepAlive,
    /// Stall while the peer does not read our response.
    Write,
    /// Reading and dropping after a close decision.
    Linger,
    /// Grace for a fresh connection's first request during a drain.
    DrainFirst,
    /// A timer of the protocol state machine (HTTP/2 settings ACK, shutdown).
    Protocol,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Head,
    Body {
        remaining: u64,
    },
    Chunked,
    /// Write half shut; reading and dropping until EOF or the linger deadline.
    Linger {
        discarded: usize,
    },
}

/// What the worker should do with a connection after stepping it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// Keep it; `want_write` says whether to watch for writability.
    Keep,
    /// Close it now.
    Close,
    /// Hand the connection to the HTTP/2 driver ([`Conn::into_upgrade`]).
    Upgrade,
}

/// How an HTTP/1.1 connection becomes HTTP/2.
#[derive(Debug)]
pub(crate) enum Upgrade {
    /// The client sent the HTTP/2 preface first (prior knowledge).
    Preface,
    /// `Upgrade: h2c` with these decoded `HTTP2-Settings`; the request becomes
    /// stream 1 and `101 Switching Protocols` is already in the send buffer.
    H2c { settings: Vec<u8> },
    /// An accepted WebSocket handshake; its `101` is already in the send buffer.
    WebSocket(Box<super::wsconn::WsStart>),
}

/// What the HTTP/2 driver takes over from an HTTP/1.1 connection.
pub(crate) struct UpgradeParts<T> {
    pub io: T,
    pub peer: SocketAddr,
    pub kind: Upgrade,
    /// Bytes read but not parsed (the preface and what followed).
    pub leftover: Vec<u8>,
    /// Bytes to send first (the 101 response).
    pub pending_out: Vec<u8>,
    /// The upgraded request (h2c).
    pub req: Request,
    /// The socket's peer when `peer` came from a PROXY header.
    pub socket_peer: Option<SocketAddr>,
}

/// Per-loop context the worker passes in.
pub(crate) struct Ctx<'a, H> {
    pub cfg: &'a ServerConfig,
    /// The parser limits with the body limit lifted: the body limit depends on the
    /// route, so the connection enforces it (`cfg.limits` keeps the default).
    pub parse_limits: &'a flare_h1::Limits,
    pub service: &'a Service<H>,
    pub date: &'a [u8],
    /// `HTTP/1.1 200 OK`, `date` and `server`, encoded once per second.
    pub prefix_200: &'a [u8],
    /// Changes whenever `prefix_200` does (keys cached response heads).
    pub prefix_gen: u32,
    pub now: Instant,
    pub draining: bool,
    /// Makes a waker for a pending stream of this connection.
    pub make_waker: &'a dyn Fn() -> StreamWaker,
}

struct StreamState {
    body: Box<dyn BodyStream>,
    chunked: bool,
    pending: bool,
    waker: StreamWaker,
    /// Bytes still promised by a `content-length` from the stream's size hint.
    remaining: Option<u64>,
}

/// A body being written from its own buffer.
struct OutBody {
    bytes: Bytes,
    pos: usize,
}

/// The reusable buffers of a connection, pooled by the worker.
pub(crate) struct Buffers {
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    head: RequestHead,
    req: Request,
    plain_head: HeadCache,
}

/// The last head [`Conn::write_plain_200`] encoded, kept whole: a keep-alive client
/// asking for the same resource gets the same bytes until the `Date` second turns.
struct HeadCache {
    /// `[prefix_gen, body length, content-type length + 1 (0: none)]` the bytes
    /// were made for; [`HeadCache::NONE`]: nothing cached.
    key: [u32; 3],
    /// The content type, then the encoded head (through its final CRLF), then the
    /// body when it was `&'static`.
    bytes: Vec<u8>,
    /// Where the head ends in `bytes`.
    head_end: usize,
    /// The address of the `&'static` body `bytes` ends with, or 0. Bytes behind a
    /// `&'static [u8]` never change, so the same address and length are the same
    /// body, and head and body go out in one copy.
    static_body: usize,
    /// The address of the `&'static` content type the bytes were made for, or 0.
    static_ct: usize,
}

impl HeadCache {
    /// No content type is 4 GiB long.
    const NONE: [u32; 3] = [0, 0, u32::MAX];
}

impl Default for HeadCache {
    fn default() -> Self {
        HeadCache {
            key: HeadCache::NONE,
            bytes: Vec::new(),
            head_end: 0,
            static_body: 0,
            static_ct: 0,
        }
    }
}

impl Buffers {
    pub(crate) fn new() -> Self {
        Buffers {
            rbuf: vec![0; RBUF_INITIAL],
            wbuf: Vec::with_capacity(WBUF_INITIAL),
            head: RequestHead::default(),
            req: Request::default(),
            plain_head: HeadCache::default(),
        }
    }
}

pub(crate) struct Conn<T> {
    pub(crate) io: T,
    peer: SocketAddr,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    out_body: Option<OutBody>,
    /// A file range sent with sendfile(2) after the send buffer is out.
    out_file: Option<FileBody>,
    head: RequestHead,
    req: Request,
    plain_head: HeadCache,
    decoder: ChunkedDecoder,
    phase: Phase,
    stream_body: Option<StreamState>,
    /// Facts of the request being read, for its dispatch.
    cur_keep_alive: bool,
    cur_is_head: bool,
    cur_version: H1Version,
    cur_body_limit: u64,
    served: u32,
    close_after: bool,
    peer_closed: bool,
    /// Wants writability (the socket was full).
    pub(crate) want_write: bool,
    /// Writability is registered with the poller (the worker keeps it in sync).
    pub(crate) write_registered: bool,
    /// The deadline in force, if any; the worker keeps a wheel timer at or before it.
    pub(crate) deadline: Option<(Instant, Deadline)>,
    /// Set when the connection switches to HTTP/2 or WebSocket.
    upgrade: Option<Upgrade>,
    /// The request being answered is a valid WebSocket handshake.
    ws_offer: bool,
    /// A response a blocking-pool thread or a client's I/O thread is producing,
    /// and whether to keep the connection after it; later pipelined requests wait
    /// for it. Dropped with the connection (the peer went), it is abandoned.
    deferred: Option<Box<(flare_web::blocking::DeferredWait, bool)>>,
    /// Whether this connection may switch to cleartext HTTP/2 (not over TLS).
    h2c: bool,
    /// End of the bytes a partial head parse has already seen (0: none).
    partial_scan: usize,
    /// Whether those bytes hold a line feed.
    partial_has_lf: bool,
}

impl<T: Transport> Conn<T> {
    pub(crate) fn new(io: T, peer: SocketAddr, bufs: Buffers, cfg: &ServerConfig) -> Conn<T> {
        let mut rbuf = bufs.rbuf;
        if rbuf.len() < RBUF_INITIAL {
            rbuf.resize(RBUF_INITIAL, 0);
        }
        // The peer is the connection's: set once (`Request::clear` keeps it).
        let mut req = bufs.req;
        req.set_peer_addr(Some(peer));
        Conn {
            io,
            peer,
            rbuf,
            rstart: 0,
            rend: 0,
            wbuf: bufs.wbuf,
            wpos: 0,
            out_body: None,
            out_file: None,
            head: bufs.head,
            req,
            plain_head: bufs.plain_head,
            decoder: ChunkedDecoder::new(&cfg.limits.clone().max_body(u64::MAX)),
            phase: Phase::Head,
            stream_body: None,
            cur_keep_alive: true,
            cur_is_head: false,
            cur_version: H1Version::Http11,
            cur_body_limit: 0,
            served: 0,
            close_after: false,
            peer_closed: false,
            want_write: false,
            write_registered: false,
            deadline: None,
            upgrade: None,
            ws_offer: false,
            deferred: None,
            h2c: true,
            partial_scan: 0,
            partial_has_lf: false,
        }
    }

    /// Returns the buffers for reuse (cleared; oversized ones are dropped).
    pub(crate) fn into_buffers(self) -> Option<Buffers> {
        if self.rbuf.len() > 64 * 1024 || self.wbuf.capacity() > 256 * 1024 {
            return None;
        }
        let mut wbuf = self.wbuf;
        wbuf.clear();
        let mut req = self.req;
        req.clear();
        Some(Buffers {
            rbuf: self.rbuf,
            wbuf,
            head: self.head,
            req,
            plain_head: self.plain_head,
        })
    }

    /// A connection whose first bytes were already read (the plaintext that came
    /// with the end of a TLS handshake); h2c is off (HTTP/2 over TLS is chosen by
    /// ALPN). Call [`start`](Self::start) next.
    pub(crate) fn after_tls(
        io: T,
        peer: SocketAddr,
        bufs: Buffers,
        cfg: &ServerConfig,
        early: &[u8],
    ) -> Conn<T> {
        let mut c = Conn::new(io, peer, bufs, cfg);
        c.h2c = false;
        if c.rbuf.len() < early.len() {
            c.rbuf.resize(early.len(), 0);
        }
        c.rbuf[..early.len()].copy_from_slice(early);
        c.rend = early.len();
        c
    }

    /// Whether this connection may switch to h2c (plaintext behind a PROXY header).
    pub(crate) fn set_h2c(&mut self, on: bool) {
        self.h2c = on;
    }

    /// The socket's own peer, when the request's peer is a proxied client.
    pub(crate) fn set_socket_peer(&mut self, peer: SocketAddr) {
        self.req.set_socket_peer_addr(Some(peer));
    }

    /// Processes what is already buffered.
    pub(crate) fn start<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        self.drive(cx)
    }

    /// Takes the connection apart for the HTTP/2 driver after [`Step::Upgrade`].
    // Called once per upgrade; boxing the error side would cost the same.
    #[allow(clippy::result_large_err)]
    pub(crate) fn into_upgrade(mut self) -> Result<UpgradeParts<T>, Self> {
        let Some(kind) = self.upgrade.take() else {
            return Err(self);
        };
        let leftover = self.rbuf[self.rstart..self.rend].to_vec();
        let pending_out = self.wbuf.split_off(self.wpos);
        Ok(UpgradeParts {
            io: self.io,
            peer: self.peer,
            kind,
            leftover,
            pending_out,
            socket_peer: self.req.socket_peer_addr().filter(|a| *a != self.peer),
            req: self.req,
        })
    }

    /// Whether the connection is between requests with nothing buffered either way.
    pub(crate) fn is_idle(&self) -> bool {
        self.phase == Phase::Head
            && self.rstart == self.rend
            && self.stream_body.is_none()
            && self.deferred.is_none()
            && self.out_body.is_none()
            && self.out_file.is_none()
            && self.wpos == self.wbuf.len()
    }

    /// The peer ended its side: no more input will come.
    pub(crate) fn read_closed(&self) -> bool {
        self.peer_closed
    }

    /// Cancels the request in progress (peer gone, drain deadline).
    pub(crate) fn cancel(&self) {
        self.req.cancel_token().cancel();
    }

    fn max_rbuf(cfg: &ServerConfig) -> usize {
        cfg.limits
            .get_max_header_bytes()
            .max(cfg.limits.get_max_request_line())
            + 1024
    }

    /// Readable: read once, then process and write.
    #[inline(always)]
    pub(crate) fn on_readable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        if self.peer_closed {
            // Nothing more will arrive, but requests already buffered are still
            // answered (a client that half-closed after pipelining): `drive` closes
            // once they are.
            return self.drive(cx);
        }
        // Make room.
        if self.rstart == self.rend {
            self.rstart = 0;
            self.rend = 0;
            self.partial_scan = 0;
        } else if self.rend == self.rbuf.len() {
            if self.rstart > 0 {
                self.rbuf.copy_within(self.rstart..self.rend, 0);
                self.rend -= self.rstart;
                self.rstart = 0;
                self.partial_scan = 0;
            } else {
                let max = Self::max_rbuf(cx.cfg);
                if self.rbuf.len() < max {
                    let n = (self.rbuf.len() * 2).min(max);
                    self.rbuf.resize(n, 0);
                }
            }
        }
        if self.rend < self.rbuf.len() {
            match self.io.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => self.peer_closed = true,
                Ok(n) => self.rend += n,
                Err(e) if e.is_would_block() => return Step::Keep,
                Err(flare_net::Error::Interrupted) => return Step::Keep,
                Err(_) => return Step::Close,
            }
        }
        if self.peer_closed {
            // A request in progress is cancelled; a complete one already buffered is
            // still answered below if the peer only half-closed.
            if let Phase::Linger { .. } = self.phase {
                return Step::Close;
            }
            if self.is_idle() || self.phase != Phase::Head {
                self.cancel();
                return Step::Close;
            }
        }
        self.drive(cx)
    }

    /// Writable: flush, then continue whatever the full buffer held back.
    pub(crate) fn on_writable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        self.drive(cx)
    }

    /// A pending stream was woken.
    pub(crate) fn on_stream_wake<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        if self.deferred.is_some() {
            self.poll_deferred(cx);
        }
        if let Some(s) = &mut self.stream_body {
            s.pending = false;
        }
        self.drive(cx)
    }

    /// Process, write, and repeat while writing freed room for more work.
    fn drive<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        loop {
            if self.stream_body.is_some() {
                self.pump_stream(cx);
            }
            let held_by_output = self.process(cx);
            if self.upgrade.is_some() {
                // The HTTP/2 driver writes what is buffered (the 101).
                return Step::Upgrade;
            }
            match self.flush(cx) {
                Err(()) => return Step::Close,
                Ok(false) => return Step::Keep, // blocked on the socket
                Ok(true) => {}
            }
            if let Phase::Linger { .. } = self.phase {
                return self.linger_read();
            }
            // Everything is written. Go round again if a stream can continue or
            // pipelined requests were held back by the send buffer.
            let stream_ready = self.stream_body.as_ref().is_some_and(|s| !s.pending);
            if !(stream_ready || held_by_output) {
                if self.peer_closed && self.stream_body.is_none() {
                    // Nothing more will arrive; what could be answered was.
                    self.cancel();
                    return Step::Close;
                }
                return Step::Keep;
            }
        }
    }

    /// Parses and answers every complete request buffered. Returns true when it
    /// stopped with input left because output must drain first (send buffer over its
    /// high-water mark, or a large body waiting to be written).
    fn process<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> bool {
        loop {
            // Between requests with nothing buffered, every branch below returns
            // false: say so first (the usual end of a turn).
            if self.rstart == self.rend && matches!(self.phase, Phase::Head) {
                return false;
            }
            if self.close_after
                || self.stream_body.is_some()
                || self.upgrade.is_some()
                || self.deferred.is_some()
            {
                return false;
            }
            if self.out_body.is_some()
                || self.out_file.is_some()
                || self.wbuf.len() - self.wpos > WBUF_HIGH
            {
                return self.rstart < self.rend;
            }
            match self.phase {
                Phase::Head => {
                    if self.rstart == self.rend {
                        return false;
                    }
                    if self.served == 0 && self.h2c && cx.cfg.h2c {
                        // RFC 9113 section 3.3: prior knowledge starts with the preface.
                        let got = &self.rbuf[self.rstart..self.rend];
                        let n = got.len().min(flare_h2::PREFACE.len());
                        if got[..n] == flare_h2::PREFACE[..n] {
                            if n == flare_h2::PREFACE.len() {
                                self.upgrade = Some(Upgrade::Preface);
                            }
                            return false;
                        }
                    }
                    // A head ends with a line feed: when the bytes that came since the
                    // last partial parse hold none, the head is still partial and
                    // parsing again would only re-read it (a client sending one byte
                    // at a time would cost O(n^2)). The limits still apply: the
                    // buffer's size is checked below.
                    let buffered = self.rend - self.rstart;
                    if self.partial_scan > self.rstart
                        && self.partial_scan <= self.rend
                        && !self.rbuf[self.partial_scan..self.rend].contains(&b'\n')
                        && buffered < cx.cfg.limits.get_max_header_bytes()
                        && (self.partial_has_lf || buffered <= cx.cfg.limits.get_max_request_line())
                    {
                        self.partial_scan = self.rend;
                        return false;
                    }
                    let res = parse_request(
                        &self.rbuf[self.rstart..self.rend],
                        &mut self.head,
                        cx.parse_limits,
                    );
                    self.partial_scan = 0;
                    match res {
                        Ok(Status::Complete(n)) => self.start_request(n, cx),
                        Ok(Status::Partial) => {
                            self.head_partial(cx);
                            return false;
                        }
                        Err(e) => {
                            self.parse_failed(cx, e);
                            return false;
                        }
                    }
                }
                Phase::Body { .. } | Phase::Chunked => {
                    if !self.read_body(cx) {
                        return false;
                    }
                }
                Phase::Linger { .. } => {
                    self.rstart = self.rend;
                    return false;
                }
            }
        }
    }

    /// Takes body bytes for the request being read (sized or chunked); dispatches
    /// it once complete. Returns whether `process` should go on.
    #[inline(never)]
    fn read_body<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> bool {
        match self.phase {
            Phase::Body { remaining } => {
                let avail = self.rend - self.rstart;
                if avail == 0 {
                    self.arm_body_deadline(cx);
                    return false;
                }
                let take = (remaining.min(avail as u64)) as usize;
                if !self.is_static(cx) {
                    self.req
                        .body_mut()
                        .extend_from_slice(&self.rbuf[self.rstart..self.rstart + take]);
                }
                self.rstart += take;
                let remaining = remaining - take as u64;
                if remaining == 0 {
                    self.phase = Phase::Head;
                    self.dispatch(cx);
                } else {
                    self.phase = Phase::Body { remaining };
                    self.deadline = Some((cx.now + cx.cfg.body_timeout, Deadline::Body));
                    return false;
                }
            }
            Phase::Chunked => {
                if self.rstart == self.rend {
                    self.arm_body_deadline(cx);
                    return false;
                }
                let input = &self.rbuf[self.rstart..self.rend];
                match self.decoder.decode(input, self.req.body_mut()) {
                    Ok(p) => {
                        self.rstart += p.consumed;
                        if self.decoder.body_len() > self.cur_body_limit {
                            self.error_response(
                                cx,
                                StatusCode::PAYLOAD_TOO_LARGE,
                                "request body too large",
                            );
                            return false;
                        }
                        if p.done {
                            for (n, v) in self.decoder.trailers() {
                                self.req.push_trailer(n.as_bytes(), v);
                            }
                            self.phase = Phase::Head;
                            self.dispatch(cx);
                        } else {
                            self.deadline = Some((cx.now + cx.cfg.body_timeout, Deadline::Body));
                            return false;
                        }
                    }
                    Err(e) => {
                        self.parse_failed(cx, e);
                        return false;
                    }
                }
            }
            // `process` handles these itself.
            Phase::Head | Phase::Linger { .. } => {}
        }
        true
    }

    /// The head is not all in yet: remember how far it was scanned, refuse it once
    /// it outgrows the buffer, and run the header deadline.
    #[cold]
    #[inline(never)]
    fn head_partial<H>(&mut self, cx: &Ctx<'_, H>) {
        self.partial_scan = self.rend;
        // Once a line feed is in, the request line is complete and only the head
        // limit (checked by size) is left to hit.
        self.partial_has_lf = self.rbuf[self.rstart..self.rend].contains(&b'\n');
        if self.rend == self.rbuf.len()
            && self.rstart == 0
            && self.rbuf.len() >= Self::max_rbuf(cx.cfg)
        {
            self.error_response(
                cx,
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "request header too large",
            );
            return;
        }
        if !matches!(self.deadline, Some((_, Deadline::Header))) {
            self.deadline = Some((cx.now + cx.cfg.header_timeout, Deadline::Header));
        }
    }

    /// Input the parser or the chunked decoder refused: its status, and close
    /// after it.
    #[cold]
    #[inline(never)]
    fn parse_failed<H>(&mut self, cx: &Ctx<'_, H>, e: flare_h1::Error) {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
        log::debug!(
            "http/1.1 request from {} refused: {} ({status})",
            self.peer,
            e.reason()
        );
        self.error_response(cx, status, e.reason());
    }

    /// Waiting for body bytes: the body deadline runs from the last byte received
    /// (it is reset where bytes are consumed), so only arm it when none is set.
    fn arm_body_deadline<H>(&mut self, cx: &Ctx<'_, H>) {
        if !matches!(self.deadline, Some((_, Deadline::Body))) {
            self.deadline = Some((cx.now + cx.cfg.body_timeout, Deadline::Body));
        }
    }

    fn is_static<H>(&self, cx: &Ctx<'_, H>) -> bool {
        matches!(cx.service, Service::Static(_))
    }

    /// A complete head of `n` bytes is at `rstart`.
    fn start_request<H: Handler>(&mut self, n: usize, cx: &Ctx<'_, H>) {
        let head = &self.head;
        self.cur_keep_alive = head.keep_alive();
        self.cur_version = head.version;
        self.cur_is_head = head.method == flare_h1::Method::Head;
        self.deadline = None;
        if head.expect == Expect::Other {
            self.rstart += n;
            self.error_response(
                cx,
                StatusCode::EXPECTATION_FAILED,
                "unsupported expectation",
            );
            return;
        }
        self.cur_body_limit = cx.cfg.limits.get_max_body();
        if let Service::Handler(h) = cx.service {
            fill_request(
                &mut self.req,
                head,
                &self.rbuf[self.rstart..self.rstart + n],
            );
            if head.framing != BodyFraming::None {
                if let Some(l) = h.body_limit(&self.req) {
                    self.cur_body_limit = l;
                }
            }
            if head.connection_upgrade && head.upgrade.is_some() {
                self.ws_offer = super::wsconn::offer_from_request(&mut self.req, head);
            }
        }
        self.rstart += n;
        if let BodyFraming::Length(len) = head.framing {
            if len > self.cur_body_limit {
                // Refused before reading it, and before any 100 Continue.
                self.error_response(cx, StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
                return;
            }
        }
        if self.h2c && cx.cfg.h2c && head.framing == BodyFraming::None && head.connection_upgrade {
            if let Some(settings) = h2c_settings(head, &self.req) {
                // RFC 7540 section 3.2 (the h2c upgrade RFC 9113 keeps for
                // compatibility): 101, then the server preface; the request is
                // answered on stream 1.
                self.wbuf.extend_from_slice(
                    b"HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: h2c\r\n\r\n",
                );
                self.upgrade = Some(Upgrade::H2c { settings });
                return;
            }
        }
        match head.framing {
            BodyFraming::None | BodyFraming::Length(0) => self.dispatch(cx),
            framing => self.start_body(framing, cx),
        }
    }

    /// A request with a body: answer `Expect: 100-continue` if the body is not in
    /// yet, and start reading it.
    #[inline(never)]
    fn start_body<H>(&mut self, framing: BodyFraming, cx: &Ctx<'_, H>) {
        let expect_continue = self.head.expect == Expect::Continue;
        match framing {
            BodyFraming::None => {}
            BodyFraming::Length(len) => {
                let avail = (self.rend - self.rstart) as u64;
                if avail < len && expect_continue {
                    // RFC 9110 section 10.1.1: the client waits for 100 before sending.
                    self.wbuf
                        .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                if !self.is_static(cx) {
                    self.req.body_mut().reserve(len.min(1 << 20) as usize);
                }
                self.phase = Phase::Body { remaining: len };
            }
            BodyFraming::Chunked => {
                if self.rstart == self.rend && expect_continue {
                    self.wbuf
                        .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                }
                self.decoder.reset();
                self.phase = Phase::Chunked;
            }
        }
    }

    /// Runs the service for the request just read and appends the response.
    fn dispatch<H: Handler>(&mut self, cx: &Ctx<'_, H>) {
        self.served += 1;
        self.deadline = None;
        let keep = self.cur_keep_alive
            && self.served < cx.cfg.max_requests_per_connection
            && !cx.draining
            && !self.peer_closed;
        match cx.service {
            Service::Static(s) => {
                // A chunked upload was decoded into the unused request; drop it.
                self.req.body_mut().clear();
                let keep_10 = keep && self.cur_version == H1Version::Http10;
                s.write(&mut self.wbuf, cx.date, !keep, keep_10, self.cur_is_head);
                if !keep {
                    self.close_after = true;
                }
            }
            Service::Raw(_) => {
                // Not reached: raw servers never make HTTP/1.1 drivers.
                self.close_after = true;
            }
            Service::Handler(h) => {
                let resp = call_handler(&**h, &mut self.req);
                if resp.status().as_u16() < 200 {
                    self.interim(resp, keep, cx);
                    return;
                }
                self.write_response(resp, keep, cx);
            }
        }
    }

    /// A status under 200 from the handler: `101` (a WebSocket upgrade) or `102` (a
    /// response a blocking pool is producing); any other is a handler's mistake.
    #[cold]
    #[inline(never)]
    fn interim<H>(&mut self, mut resp: Response, keep: bool, cx: &Ctx<'_, H>) {
        if resp.status() == StatusCode::PROCESSING {
            if let Some(d) = resp.take_deferred() {
                match d.poll(cx.make_waker) {
                    Some(r) => self.write_response(r, keep, cx),
                    None => self.deferred = Some(Box::new((d.into_wait(), keep))),
                }
                return;
            }
        }
        self.switch_to_ws(resp, cx);
    }

    /// The blocking pool's response, if it is ready: written, and the connection
    /// goes on.
    fn poll_deferred<H>(&mut self, cx: &Ctx<'_, H>) {
        let Some(d) = self.deferred.as_deref() else {
            return;
        };
        if let Some(r) = d.0.poll(cx.make_waker) {
            let keep = d.1 && !self.peer_closed;
            self.deferred = None;
            self.write_response(r, keep, cx);
        }
    }

    /// A `101` from the handler: an accepted WebSocket handshake becomes the
    /// handshake answer and an upgrade; anything else is a handler's mistake.
    #[cold]
    #[inline(never)]
    fn switch_to_ws<H>(&mut self, mut resp: Response, cx: &Ctx<'_, H>) {
        let offer = std::mem::take(&mut self.ws_offer);
        if let (true, Some(accept)) = (offer && !self.peer_closed, resp.take_ws_accept()) {
            if let Ok(deflate) = super::wsconn::answer(&self.req, &accept, cx.cfg, &mut self.wbuf) {
                let start = super::wsconn::WsStart { accept, deflate };
                self.upgrade = Some(Upgrade::WebSocket(Box::new(start)));
                return;
            }
        }
        log::error!("a handler answered 101 without an accepted WebSocket upgrade; answering 500");
        self.write_response_general(
            Response::error(StatusCode::INTERNAL_SERVER_ERROR, "internal server error"),
            false,
            cx,
        );
        self.close_after = true;
    }

    #[inline(always)]
    fn write_response<H>(&mut self, resp: Response, keep: bool, cx: &Ctx<'_, H>) {
        if keep
            && resp.status() == StatusCode::OK
            && resp.headers().is_empty()
            && self.cur_version == H1Version::Http11
            && !self.cur_is_head
        {
            let small = match resp.body() {
                Body::Empty => Some((&[][..], 0)),
                Body::Static(b) => Some((*b, b.as_ptr() as usize)),
                Body::Bytes(b) => Some((&b[..], 0)),
                Body::Stream(_) | Body::File(_) => None,
            };
            if let Some((b, at)) = small.filter(|(b, _)| b.len() <= COPY_BODY_MAX) {
                let static_ct = resp
                    .static_content_type()
                    .map_or(0, |v| std::ptr::from_ref(v) as usize);
                self.write_plain_200(b, at, resp.content_type(), static_ct, cx);
                return;
            }
        }
        self.write_response_general(resp, keep, cx);
    }

    /// The usual answer: `200`, HTTP/1.1, keep-alive, a small body in memory and no
    /// fields but `content-type` (what [`write_response_general`] writes
    /// for it, without its other cases). `static_at` is the address of a
    /// `&'static` body, or 0; `static_ct` that of a `&'static` content type, or 0.
    ///
    /// [`write_response_general`]: Self::write_response_general
    #[inline(always)]
    fn write_plain_200<H>(
        &mut self,
        body: &[u8],
        static_at: usize,
        content_type: Option<&http::HeaderValue>,
        static_ct: usize,
        cx: &Ctx<'_, H>,
    ) {
        let ct = content_type.map(|v| v.as_bytes());
        // Bodies here are at most COPY_BODY_MAX and content types are field values
        // (under the 16 KiB head limit or made by the handler): both fit a u32.
        let key = [
            cx.prefix_gen,
            body.len() as u32,
            ct.map_or(0, |c| (c.len() as u32).saturating_add(1)),
        ];
        let cache = &mut self.plain_head;
        let ct_len = ct.map_or(0, <[u8]>::len);
        // A `&'static` content type at the address the bytes were made for is the
        // same value (it cannot change); any other is compared byte for byte.
        if cache.key == key
            && ((static_ct != 0 && cache.static_ct == static_ct)
                || same_short(&cache.bytes[..ct_len], ct.unwrap_or_default()))
        {
            if static_at != 0 && cache.static_body == static_at {
                self.wbuf.extend_from_slice(&cache.bytes[ct_len..]);
            } else {
                self.wbuf
                    .extend_from_slice(&cache.bytes[ct_len..cache.head_end]);
                self.wbuf.extend_from_slice(body);
            }
            return;
        }
        let start = self.wbuf.len();
        let mut head = ResponseHead::new(200);
        head.date = Some(cx.date);
        head.server = cx.cfg.server_header.map(str::as_bytes);
        head.content_type = ct;
        head.body = ResponseBody::Length(body.len() as u64);
        // The values are an http::HeaderValue, the Date cache and the static Server
        // string, none of which can hold CR, LF or NUL.
        write_response_head_with_prefix(&mut self.wbuf, cx.prefix_200, &head);
        finish_head(&mut self.wbuf);
        cache.bytes.clear();
        cache.bytes.extend_from_slice(ct.unwrap_or_default());
        cache.bytes.extend_from_slice(&self.wbuf[start..]);
        cache.head_end = cache.bytes.len();
        cache.static_body = static_at;
        cache.static_ct = static_ct;
        if static_at != 0 {
            cache.bytes.extend_from_slice(body);
        }
        cache.key = key;
        self.wbuf.extend_from_slice(body);
    }

    #[inline(never)]
    fn write_response_general<H>(&mut self, mut resp: Response, keep: bool, cx: &Ctx<'_, H>) {
        let status = resp.status().as_u16();
        let bodyless = is_bodyless_status(status);
        // The body stays in `resp` unless it must outlive it (small bodies are
        // copied out of it below).
        let body = resp.body();
        let mut keep = keep;
        let framing = if bodyless {
            ResponseBody::None
        } else {
            match body.len_hint() {
                Some(n) => ResponseBody::Length(n),
                None => ResponseBody::Chunked,
            }
        };
        let trailer_names = match body {
            Body::Stream(s) => s.trailer_names(),
            _ => None,
        };
        let mut head = ResponseHead::new(status);
        head.version = H1Version::Http11;
        head.date = Some(cx.date);
        head.server = cx.cfg.server_header.map(str::as_bytes);
        head.content_type = resp.content_type().map(|v| v.as_bytes());
        head.body = framing;
        head.trailer_names = trailer_names.as_deref().map(str::as_bytes);
        // HTTP/1.0 has no chunked coding: the body runs until close.
        if framing == ResponseBody::Chunked
            && self.cur_version == H1Version::Http10
            && !self.cur_is_head
        {
            keep = false;
        }
        head.close = !keep;
        head.keep_alive_10 = keep && self.cur_version == H1Version::Http10;
        let chunked = head.chunked_on_wire() && self.cur_version == H1Version::Http11;
        if !chunked && framing == ResponseBody::Chunked {
            head.body = ResponseBody::None;
        }
        // Every value here is an http::HeaderValue, the Date cache or the static
        // Server string, none of which can hold CR, LF or NUL.
        if status == 200 {
            write_response_head_with_prefix(&mut self.wbuf, cx.prefix_200, &head);
        } else {
            write_response_head_trusted(&mut self.wbuf, &head);
        }
        for (n, v) in resp.headers() {
            write_header_trusted(&mut self.wbuf, n.as_str().as_bytes(), v.as_bytes());
        }
        finish_head(&mut self.wbuf);
        if !keep {
            self.close_after = true;
        }
        if self.cur_is_head || bodyless {
            return;
        }
        match resp.body() {
            Body::Empty => return,
            Body::Static(b) if b.len() <= COPY_BODY_MAX => {
                self.wbuf.extend_from_slice(b);
                return;
            }
            Body::Bytes(b) if b.len() <= COPY_BODY_MAX => {
                self.wbuf.extend_from_slice(b);
                return;
            }
            _ => {}
        }
        match resp.take_body() {
            Body::Empty => {}
            Body::Static(b) => {
                self.out_body = Some(OutBody {
                    bytes: Bytes::from_static(b),
                    pos: 0,
                })
            }
            Body::Bytes(b) => self.out_body = Some(OutBody { bytes: b, pos: 0 }),
            Body::File(f) => self.out_file = Some(f),
            Body::Stream(s) => {
                let remaining = if chunked { None } else { s.size_hint() };
                self.stream_body = Some(StreamState {
                    body: s,
                    chunked,
                    pending: false,
                    waker: (cx.make_waker)(),
                    remaining,
                })
            }
        }
    }

    /// Pulls stream frames while the send buffer has room.
    #[inline(never)]
    fn pump_stream<H>(&mut self, _cx: &Ctx<'_, H>) {
        while let Some(st) = &mut self.stream_body {
            if st.pending || self.wbuf.len() - self.wpos > WBUF_HIGH / 4 {
                return;
            }
            let mut scx = StreamContext::new(&st.waker);
            let frame = match catch_unwind(AssertUnwindSafe(|| st.body.poll_frame(&mut scx))) {
                Ok(f) => f,
                Err(_) => {
                    // The head is out; all we can do is cut the body short.
                    log::error!("body stream panicked; closing the connection");
                    self.stream_body = None;
                    self.close_after = true;
                    self.peer_closed = true;
                    return;
                }
            };
            match frame {
                Frame::Data(b) => {
                    if b.is_empty() {
                        continue;
                    }
                    if st.chunked {
                        encode_chunk(&mut self.wbuf, &b);
                    } else if let Some(left) = &mut st.remaining {
                        // A sized stream that runs long: send what was promised and
                        // close, or the extra bytes would read as the next response.
                        let take = (*left).min(b.len() as u64) as usize;
                        self.wbuf.extend_from_slice(&b[..take]);
                        *left -= take as u64;
                        if take < b.len() {
                            log::error!("body stream longer than its size hint; closing");
                            self.stream_body = None;
                            self.close_after = true;
                            self.peer_closed = true;
                            return;
                        }
                    } else {
                        self.wbuf.extend_from_slice(&b);
                    }
                }
                Frame::Trailers(t) => {
                    if st.chunked {
                        let fields: Vec<(&str, &[u8])> =
                            t.iter().map(|(n, v)| (n.as_str(), v.as_bytes())).collect();
                        encode_last_chunk(&mut self.wbuf, &fields);
                    }
                    if st.remaining.is_some_and(|left| left > 0) {
                        log::error!("body stream shorter than its size hint; closing");
                        self.close_after = true;
                        self.peer_closed = true;
                    }
                    self.stream_body = None;
                }
                Frame::End => {
                    if st.chunked {
                        encode_last_chunk(&mut self.wbuf, &[]);
                    }
                    if st.remaining.is_some_and(|left| left > 0) {
                        // Shorter than its content-length: the framing is broken, so
                        // the connection cannot carry another response.
                        log::error!("body stream shorter than its size hint; closing");
                        self.close_after = true;
                        self.peer_closed = true;
                    }
                    self.stream_body = None;
                }
                Frame::Pending => {
                    st.pending = true;
                    return;
                }
            }
        }
    }

    /// Answers an error and closes after it (framing can no longer be trusted).
    #[cold]
    #[inline(never)]
    fn error_response<H>(&mut self, cx: &Ctx<'_, H>, status: StatusCode, reason: &'static str) {
        self.cur_is_head = false;
        let resp = Response::error(status, reason);
        self.write_response(resp, false, cx);
        self.close_after = true;
        self.rstart = self.rend;
    }

    /// Writes what is buffered. `Ok(true)`: everything is out; `Ok(false)`: the
    /// socket is full (the worker watches for writability); `Err`: close.
    #[inline(always)]
    fn flush<H>(&mut self, cx: &Ctx<'_, H>) -> Result<bool, ()> {
        // The usual case: only the send buffer, taken whole by one write.
        if self.out_body.is_none() && self.out_file.is_none() && self.wpos < self.wbuf.len() {
            match self.io.write_buf(&mut self.wbuf, self.wpos) {
                Ok(n) => {
                    self.wpos += n;
                    // `>=`: a queueing transport may have taken the buffer whole.
                    if self.wpos >= self.wbuf.len() {
                        match self.io.flush() {
                            Ok(true) => return Ok(self.flushed(cx)),
                            Ok(false) => return Ok(self.write_blocked(cx)),
                            Err(e) if e.is_would_block() => return Ok(self.write_blocked(cx)),
                            Err(flare_net::Error::Interrupted) => {}
                            Err(_) => return Err(()),
                        }
                    }
                }
                Err(e) if e.is_would_block() => return Ok(self.write_blocked(cx)),
                Err(flare_net::Error::Interrupted) => {}
                Err(_) => return Err(()),
            }
        }
        self.flush_rest(cx)
    }

    /// [`flush`](Self::flush) past its usual case: a body written from its own
    /// buffer or a file, a transport's own output, an interrupted write.
    #[inline(never)]
    fn flush_rest<H>(&mut self, cx: &Ctx<'_, H>) -> Result<bool, ()> {
        loop {
            let head_left = self.wbuf.len() - self.wpos;
            let res = match &self.out_body {
                Some(ob) if head_left > 0 => {
                    self.io.write2(&self.wbuf[self.wpos..], &ob.bytes[ob.pos..])
                }
                Some(ob) => self.io.write(&ob.bytes[ob.pos..]),
                None if head_left > 0 => self.io.write(&self.wbuf[self.wpos..]),
                None => match &mut self.out_file {
                    Some(f) if f.len > 0 => match self.io.sendfile(f) {
                        // The file shrank under us: the promised length cannot be
                        // sent, so the framing is broken; close.
                        Some(Ok(0)) => return Err(()),
                        Some(Ok(_)) => continue,
                        Some(Err(e)) => Err(e),
                        None => {
                            // No sendfile here (TLS): read the next piece into the
                            // send buffer.
                            self.wbuf.clear();
                            self.wpos = 0;
                            if read_file_chunk(f, &mut self.wbuf).is_err() {
                                return Err(());
                            }
                            continue;
                        }
                    },
                    Some(_) => {
                        self.out_file = None;
                        continue;
                    }
                    None => match self.io.flush() {
                        Ok(true) => break,
                        Ok(false) => Err(flare_net::Error::WouldBlock),
                        Err(e) => Err(e),
                    },
                },
            };
            match res {
                Ok(n) => {
                    let from_head = n.min(head_left);
                    self.wpos += from_head;
                    if let Some(ob) = &mut self.out_body {
                        ob.pos += n - from_head;
                        if ob.pos >= ob.bytes.len() {
                            self.out_body = None;
                        }
                    }
                }
                Err(e) if e.is_would_block() => return Ok(self.write_blocked(cx)),
                Err(flare_net::Error::Interrupted) => {}
                Err(_) => return Err(()),
            }
        }
        Ok(self.flushed(cx))
    }

    /// The socket is full: watch for writability, under the write deadline.
    /// Returns false ("not everything is out") for [`flush`](Self::flush).
    #[inline]
    fn write_blocked<H>(&mut self, cx: &Ctx<'_, H>) -> bool {
        self.want_write = true;
        self.deadline = Some((cx.now + cx.cfg.write_timeout, Deadline::Write));
        false
    }

    /// Everything is out: reset the send buffer and arm what comes next (the
    /// linger after a close, or the keep-alive deadline). Returns true for
    /// [`flush`](Self::flush).
    #[inline(always)]
    fn flushed<H>(&mut self, cx: &Ctx<'_, H>) -> bool {
        self.wbuf.clear();
        self.wpos = 0;
        self.want_write = false;
        if matches!(self.deadline, Some((_, Deadline::Write))) {
            self.deadline = None;
        }
        if self.close_after && self.stream_body.is_none() {
            if !matches!(self.phase, Phase::Linger { .. }) {
                // Half-close and keep reading briefly, so unread request bytes do not
                // turn our response into a reset (RFC 9112 section 9.6).
                self.io.shutdown_write();
                self.phase = Phase::Linger { discarded: 0 };
                self.deadline = Some((cx.now + cx.cfg.linger_timeout, Deadline::Linger));
            }
        } else if self.is_idle() && self.deadline.is_none() {
            self.deadline = Some((cx.now + cx.cfg.keep_alive_timeout, Deadline::KeepAlive));
        }
        true
    }

    /// While lingering: drop what arrives; close on EOF, error or too much.
    fn linger_read(&mut self) -> Step {
        if self.peer_closed {
            return Step::Close;
        }
        let Phase::Linger { mut discarded } = self.phase else {
            return Step::Keep;
        };
        self.rstart = 0;
        self.rend = 0;
        loop {
            match self.io.read(&mut self.rbuf) {
                Ok(0) => return Step::Close,
                Ok(n) => {
                    discarded += n;
                    if discarded > LINGER_DISCARD_MAX {
                        return Step::Close;
                    }
                }
                Err(e) if e.is_would_block() => break,
                Err(flare_net::Error::Interrupted) => {}
                Err(_) => return Step::Close,
            }
        }
        self.phase = Phase::Linger { discarded };
        Step::Keep
    }

    /// The deadline passed. Returns whether to close.
    pub(crate) fn on_deadline<H: Handler>(&mut self, kind: Deadline, cx: &Ctx<'_, H>) -> Step {
        self.deadline = None;
        match kind {
            Deadline::Header | Deadline::Body => {
                // Tell the client why, then close.
                self.cancel();
                self.phase = Phase::Head;
                self.error_response(cx, StatusCode::REQUEST_TIMEOUT, "request timeout");
                match self.flush(cx) {
                    Ok(true) => self.linger_read(),
                    _ => Step::Close,
                }
            }
            Deadline::KeepAlive
            | Deadline::Write
            | Deadline::Linger
            | Deadline::DrainFirst
            | Deadline::Protocol => {
                self.cancel();
                Step::Close
            }
        }
    }

    /// The server started draining: an idle connection closes (after one last look
    /// for a request that already arrived), a busy one finishes with `Connection:
    /// close`.
    pub(crate) fn on_drain<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        if !self.is_idle() {
            return Step::Keep;
        }
        let step = self.on_readable(cx);
        if step == Step::Close {
            return Step::Close;
        }
        if self.is_idle() && !self.close_after {
            if self.served == 0 {
                // A fresh connection whose request may still be on its way.
                self.deadline = Some((
                    cx.now + std::time::Duration::from_millis(500),
                    Deadline::DrainFirst,
                ));
                return Step::Keep;
            }
            return Step::Close;
        }
        step
    }
}

/// Runs a handler; a panic becomes a `500` and the worker goes on.
pub(crate) fn call_handler<H: Handler>(h: &H, req: &mut Request) -> Response {
    match catch_unwind(AssertUnwindSafe(|| h.handle(req))) {
        Ok(r) => r,
        Err(_) => {
            log::error!("handler panicked; answering 500");
            Response::error(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
        }
    }
}

/// Fills the protocol-neutral request from a parsed HTTP/1.1 head.
fn fill_request(req: &mut Request, head: &RequestHead, buf: &[u8]) {
    // `clear` leaves GET and HTTP/1.1, the usual case.
    req.clear();
    let method = match head.method {
        flare_h1::Method::Get => None,
        flare_h1::Method::Head => Some(Method::HEAD),
        flare_h1::Method::Post => Some(Method::POST),
        flare_h1::Method::Put => Some(Method::PUT),
        flare_h1::Method::Delete => Some(Method::DELETE),
        flare_h1::Method::Connect => Some(Method::CONNECT),
        flare_h1::Method::Options => Some(Method::OPTIONS),
        flare_h1::Method::Trace => Some(Method::TRACE),
        flare_h1::Method::Patch => Some(Method::PATCH),
        _ => Method::from_bytes(head.method_span.get(buf)).ok(),
    };
    if let Some(m) = method {
        req.set_method(m);
    }
    if head.version == H1Version::Http10 {
        req.set_version(Version::HTTP_10);
    }
    set_target(req, head, buf);
    // The fields lie one after another in the head: copy their block once.
    if let (Some(first), Some(last)) = (head.headers.first(), head.headers.last()) {
        let (lo, hi) = (first.name.start, last.value.end);
        let at =
            |s: flare_h1::Span| s.start.wrapping_sub(lo) as usize..s.end.wrapping_sub(lo) as usize;
        match buf.get(lo as usize..hi as usize) {
            Some(block) => req.push_header_block(
                block,
                head.headers.iter().map(|h| (at(h.name), at(h.value))),
            ),
            None => {
                for h in &head.headers {
                    req.push_header(h.name.get(buf), h.value.get(buf));
                }
            }
        }
    }
}

/// `a == b`, without a `memcmp` call for the usual content types (8 to 32 bytes:
/// overlapping 8-byte words).
#[inline(always)]
fn same_short(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let w = |s: &[u8], i: usize| {
        s.get(i..i + 8)
            .map_or(0, |c| u64::from_ne_bytes(c.try_into().unwrap_or([0; 8])))
    };
    let x = |i: usize| w(a, i) ^ w(b, i);
    match n {
        8..=16 => x(0) | x(n - 8) == 0,
        17..=32 => x(0) | x(8) | x(n - 16) | x(n - 8) == 0,
        _ => a == b,
    }
}

/// Gives the request its target, with the path and query the parser already split.
#[inline]
fn set_target(req: &mut Request, head: &RequestHead, buf: &[u8]) {
    let target = head.target.get(buf);
    // flare-h1 guarantees a parsed request-target is visible ASCII (its tests and
    // the h1_request fuzz target check it); the assert keeps that honest in tests.
    debug_assert!(target.is_ascii());
    if head.target_form == flare_h1::TargetForm::Authority {
        // CONNECT's `host:port` is its own path, as `Request::set_target` reads it.
        req.set_target(target);
        return;
    }
    // SAFETY: `target` is ASCII (flare-h1's guarantee, asserted above), and ASCII
    // is UTF-8.
    let text = unsafe { std::str::from_utf8_unchecked(target) };
    let base = head.target.start;
    let at =
        |s: flare_h1::Span| s.start.wrapping_sub(base) as usize..s.end.wrapping_sub(base) as usize;
    req.set_target_parts(text, at(head.path), head.query.map(at));
}

/// Reads up to 64 KiB of a file range into `out` (for transports without sendfile).
pub(crate) fn read_file_chunk(f: &mut FileBody, out: &mut Vec<u8>) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt;
    let n = f.len.min(64 * 1024) as usize;
    let start = out.len();
    out.resize(start + n, 0);
    let got = f.file.read_at(&mut out[start..], f.offset)?;
    if got == 0 {
        // The file shrank: the promised length cannot be sent.
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    out.truncate(start + got);
    f.offset += got as u64;
    f.len -= got as u64;
    Ok(())
}

/// The decoded `HTTP2-Settings` of an `Upgrade: h2c` request, when the request asks
/// for h2c properly (RFC 7540 section 3.2.1: exactly one `HTTP2-Settings`, named in
/// `Connection`).
fn h2c_settings(head: &RequestHead, req: &Request) -> Option<Vec<u8>> {
    let upgrade = req.header_bytes("upgrade")?;
    let wants_h2c = upgrade
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"h2c"));
    if !wants_h2c || head.version != H1Version::Http11 {
        return None;
    }
    let connection_names_settings = req.header_all("connection").any(|v| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"http2-settings"))
    });
    let mut values = req.header_all("http2-settings");
    let value = values.next()?;
    if values.next().is_some() || !connection_names_settings {
        return None;
    }
    base64url_decode(value.trim_ascii())
}

/// Decodes unpadded base64url (RFC 4648 section 5), as `HTTP2-Settings` uses.
fn base64url_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in s {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' => 62,
            b'_' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::same_short;

    #[test]
    fn same_short_compares_every_byte_at_every_length() {
        for n in 0..=40usize {
            let a: Vec<u8> = (0..n as u8).map(|i| b'a' + i % 26).collect();
            assert!(same_short(&a, &a.clone()), "equal, length {n}");
            for at in 0..n {
                let mut b = a.clone();
                b[at] ^= 0x20;
                assert!(!same_short(&a, &b), "differs at {at}, length {n}");
            }
            assert!(!same_short(&a, &a[..n.saturating_sub(1)]) || n == 0);
        }
    }
}

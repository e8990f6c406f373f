//! One WebSocket connection: `flare_ws::WebSocket` (the sans-IO codec) between a
//! transport and a [`WsHandler`].
//!
//! Read once per readiness event, feed the codec everything buffered (it unmasks in
//! place and hands out whole messages), call the handler for each, then encode what
//! the handler queued on its [`WsSender`] and what the codec owes (pongs, the close
//! answer) into one send buffer and write it. While that buffer is over its
//! high-water mark the connection takes no more input and leaves the sender's queue
//! alone, so a peer that does not read fills the bounded queue (senders see
//! `Full`) instead of the server's memory.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use flare_web::ws::WsRequest;
use flare_web::ws::{records, Message, Outgoing, WsAccept, WsHandler, WsSender};
use flare_web::{Handler, Request};
use flare_ws::handshake;
use flare_ws::{DeflateConfig, Event, Role, WebSocket};

use super::config::ServerConfig;

use super::conn::{Ctx, Deadline, Step, Upgrade, UpgradeParts};
use super::transport::Transport;

/// First size of the read buffer; it grows to `RBUF_MAX` while reads fill it.
const RBUF_INITIAL: usize = 4096;
const RBUF_MAX: usize = 64 * 1024;
/// Stop taking input and queued messages while this much waits for the socket.
const WBUF_HIGH: usize = 256 * 1024;

/// What the HTTP/1.1 (or HTTP/2) driver hands over with an accepted upgrade.
pub(crate) struct WsStart {
    pub accept: Box<WsAccept>,
    pub deflate: Option<flare_ws::DeflateParams>,
}

impl std::fmt::Debug for WsStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsStart").finish_non_exhaustive()
    }
}

/// Checks the WebSocket handshake of an HTTP/1.1 request that asked for an upgrade,
/// and tells the handler what it found ([`WsRequest`] in the extensions). Returns
/// whether it can be accepted.
#[cold]
#[inline(never)]
pub(crate) fn offer_from_request(req: &mut Request, head: &flare_h1::RequestHead) -> bool {
    let method: &[u8] = if head.method == flare_h1::Method::Get {
        b"GET"
    } else {
        b"OTHER"
    };
    let version: &[u8] = if head.version == flare_h1::Version::Http11 {
        b"HTTP/1.1"
    } else {
        b"HTTP/1.0"
    };
    let fields = req.headers().map(|(n, v)| (n.as_bytes(), v));
    let found = match handshake::parse_request(method, version, fields) {
        Ok(offer) => WsRequest {
            protocols: offer.protocols().iter().map(|p| p.to_string()).collect(),
            refusal: None,
        },
        Err(e) if !is_websocket_upgrade(req) => {
            // Another protocol's upgrade (h2c is handled before): not ours.
            let _ = e;
            return false;
        }
        Err(e) => WsRequest {
            protocols: Vec::new(),
            refusal: Some((refusal_status(&e), "bad websocket handshake")),
        },
    };
    let ok = found.refusal.is_none();
    req.extensions_mut().insert(found);
    ok
}

fn is_websocket_upgrade(req: &Request) -> bool {
    req.header_all("upgrade").any(|v| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"websocket"))
    })
}

fn refusal_status(e: &handshake::HandshakeError) -> http::StatusCode {
    http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::BAD_REQUEST)
}

/// Writes the `101` answer to the handshake in `req` (checked by
/// [`offer_from_request`]) and returns the permessage-deflate parameters agreed.
pub(crate) fn answer(
    req: &Request,
    accept: &WsAccept,
    cfg: &ServerConfig,
    out: &mut Vec<u8>,
) -> Result<Option<flare_ws::DeflateParams>, ()> {
    let fields = req.headers().map(|(n, v)| (n.as_bytes(), v));
    let offer = handshake::parse_request(b"GET", b"HTTP/1.1", fields).map_err(|_| ())?;
    let deflate = (cfg.ws_deflate && accept.compression).then_some(DeflateConfig {
        server_no_context_takeover: !cfg.ws_deflate_takeover,
        client_no_context_takeover: !cfg.ws_deflate_takeover,
    });
    let a = offer.accept(deflate.as_ref());
    a.write_response(accept.protocol.as_deref(), out);
    Ok(a.deflate)
}

pub(crate) struct WsConn<T> {
    io: T,
    ws: WebSocket,
    cb: Callbacks,
    tx: WsSender,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    /// The sender's records, swapped out of its queue.
    outbox: Vec<u8>,
    pub(crate) want_write: bool,
    pub(crate) write_registered: bool,
    pub(crate) deadline: Option<(Instant, Deadline)>,
    /// When the last frame arrived (idle timeout and pings count from it).
    last_seen: Instant,
    /// A server ping is out, unanswered since `last_seen`.
    pinged: bool,
    peer_closed: bool,
    /// Our close is written and the write side shut.
    shut: bool,
}

impl<T: Transport> WsConn<T> {
    /// The connection after `101 Switching Protocols` (already in
    /// `parts.pending_out`): bytes that followed the handshake are its first input.
    pub(crate) fn from_upgrade<H: Handler>(
        parts: UpgradeParts<T>,
        cx: &Ctx<'_, H>,
    ) -> (Self, Step) {
        let UpgradeParts {
            io,
            kind,
            leftover,
            pending_out,
            ..
        } = parts;
        let Upgrade::WebSocket(start) = kind else {
            unreachable!("WsConn::from_upgrade is only called for WebSocket upgrades")
        };
        let WsStart { accept, deflate } = *start;
        let WsAccept {
            handler, limits, ..
        } = *accept;
        let mut cfg = cx.cfg.ws.clone();
        if let Some(n) = limits.max_message_size {
            cfg = cfg.max_message_size(n);
        }
        if let Some(n) = limits.max_frame_size {
            cfg = cfg.max_frame_size(n as u64);
        }
        let tx = WsSender::new(
            limits.max_outbound.unwrap_or(cx.cfg.ws_max_outbound),
            (cx.make_waker)(),
        );
        let mut rbuf = leftover;
        let rend = rbuf.len();
        if rbuf.len() < RBUF_INITIAL {
            rbuf.resize(RBUF_INITIAL, 0);
        }
        let mut c = WsConn {
            io,
            ws: WebSocket::new(Role::Server, cfg, deflate),
            cb: Callbacks {
                h: handler,
                told_close: false,
            },
            tx,
            rbuf,
            rstart: 0,
            rend,
            wbuf: pending_out,
            wpos: 0,
            outbox: Vec::new(),
            want_write: false,
            write_registered: false,
            deadline: None,
            last_seen: cx.now,
            pinged: false,
            peer_closed: false,
            shut: false,
        };
        c.tx.hold();
        {
            let (h, tx) = (&mut c.cb.h, &c.tx);
            if catch_unwind(AssertUnwindSafe(|| h.on_open(tx))).is_err() {
                log::error!("websocket on_open panicked; closing with 1011");
                let _ = c.ws.close(1011, "internal error", cx.now, &mut c.wbuf);
            }
        }
        if cx.draining {
            let _ =
                c.ws.close(1001, "server shutting down", cx.now, &mut c.wbuf);
        }
        let step = c.drive(cx);
        (c, step)
    }

    pub(crate) fn io(&self) -> &T {
        &self.io
    }

    /// The transport (the handler hears `on_close` as the rest is dropped).
    pub(crate) fn into_io(mut self) -> T {
        self.tell_close(None, "transport failed");
        self.io
    }

    #[cfg(all(target_os = "linux", feature = "io-uring"))]
    pub(crate) fn io_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Whether the poller should stop reporting readability: the peer is gone, or
    /// output must drain before more input is taken.
    pub(crate) fn read_off(&self) -> bool {
        self.peer_closed || self.held_by_output()
    }

    fn held_by_output(&self) -> bool {
        self.wbuf.len() - self.wpos > WBUF_HIGH
    }

    pub(crate) fn cancel(&self) {
        self.tx.set_closed();
    }

    pub(crate) fn on_readable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        if !self.peer_closed && !self.held_by_output() {
            if self.rstart == self.rend {
                self.rstart = 0;
                self.rend = 0;
            } else if self.rend == self.rbuf.len() {
                if self.rstart > 0 {
                    self.rbuf.copy_within(self.rstart..self.rend, 0);
                    self.rend -= self.rstart;
                    self.rstart = 0;
                } else if self.rbuf.len() < RBUF_MAX {
                    let n = (self.rbuf.len() * 2).min(RBUF_MAX);
                    self.rbuf.resize(n, 0);
                }
            }
            match self.io.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => self.peer_closed = true,
                Ok(n) => {
                    self.rend += n;
                    if self.rend == self.rbuf.len() && self.rbuf.len() < RBUF_MAX {
                        let n = (self.rbuf.len() * 2).min(RBUF_MAX);
                        self.rbuf.resize(n, 0);
                    }
                }
                Err(e) if e.is_would_block() => return Step::Keep,
                Err(flare_net::Error::Interrupted) => return Step::Keep,
                Err(_) => {
                    self.tell_close(None, "connection reset");
                    return Step::Close;
                }
            }
        }
        self.drive(cx)
    }

    pub(crate) fn on_writable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        self.drive(cx)
    }

    /// A sender on another thread queued something.
    pub(crate) fn on_stream_wake<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        self.drive(cx)
    }

    pub(crate) fn on_deadline<H: Handler>(&mut self, kind: Deadline, cx: &Ctx<'_, H>) -> Step {
        let now = cx.now;
        match kind {
            Deadline::Write => {
                // The peer has not read for the whole write timeout.
                self.tell_close(None, "write timeout");
                return Step::Close;
            }
            Deadline::Protocol => {
                self.ws.handle_timeout(now);
                if self.ws.is_closed() {
                    self.tell_close(None, "close handshake timed out");
                    return Step::Close;
                }
            }
            _ => {
                // Idle.
                if let (Some(_), false) = (cx.cfg.ws_ping_interval, self.pinged) {
                    self.pinged = true;
                    self.last_seen = now;
                    let _ = self.ws.send_ping(b"flare", &mut self.wbuf);
                } else {
                    let _ = self.ws.close(1001, "idle timeout", now, &mut self.wbuf);
                }
            }
        }
        self.drive(cx)
    }

    pub(crate) fn on_drain<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        let _ = self
            .ws
            .close(1001, "server shutting down", cx.now, &mut self.wbuf);
        self.drive(cx)
    }

    /// Input through the codec and the handler, queued messages out, and the socket
    /// written; repeated while writing made room for held-back work.
    fn drive<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        loop {
            let mut progress = self.process_input(cx.now);
            if !self.held_by_output() {
                progress |= self.take_outbox(cx.now);
            }
            self.ws.poll_output(&mut self.wbuf);
            match self.flush() {
                Err(()) => {
                    self.tell_close(None, "connection reset");
                    return Step::Close;
                }
                Ok(false) => {
                    self.set_deadline(cx);
                    return Step::Keep;
                }
                Ok(true) => {}
            }
            if self.ws.is_closed() {
                // The closing handshake is complete (or given up on) and our close is
                // out: the server closes the TCP connection first (RFC 6455 section
                // 7.1.1).
                self.tell_close(None, "closed");
                if !self.shut {
                    self.shut = true;
                    self.io.shutdown_write();
                }
                return Step::Close;
            }
            if self.peer_closed {
                // TCP ended without a close frame (1006 for the handler).
                self.tell_close(None, "connection closed without a close frame");
                return Step::Close;
            }
            if !progress || self.rstart == self.rend {
                self.set_deadline(cx);
                return Step::Keep;
            }
        }
    }

    /// Feeds buffered input to the codec and calls the handler for each event;
    /// after each, what the handler queued and what the codec owes (a pong) go to
    /// the send buffer, so answers leave in the order their causes arrived.
    /// Returns whether it stopped because output must drain first (input left).
    fn process_input(&mut self, now: Instant) -> bool {
        let mut saw = false;
        self.tx.hold();
        while self.rstart < self.rend {
            if self.held_by_output() {
                return true;
            }
            let (n, event) = self.one_event(now);
            self.rstart += n;
            saw |= n > 0;
            if event {
                self.take_outbox(now);
                self.ws.poll_output(&mut self.wbuf);
                self.tx.hold();
            } else if n == 0 {
                break;
            }
        }
        if saw {
            self.last_seen = now;
            self.pinged = false;
        }
        false
    }

    /// Reads at most one event from the buffered input and calls the handler for
    /// it; returns the bytes consumed and whether there was an event.
    fn one_event(&mut self, now: Instant) -> (usize, bool) {
        let WsConn {
            ws,
            cb,
            tx,
            rbuf,
            rstart,
            rend,
            wbuf,
            ..
        } = self;
        let Callbacks {
            h: handler,
            told_close,
        } = cb;
        let (n, ev) = match ws.read(&mut rbuf[*rstart..*rend], now) {
            Ok(r) => r,
            Err(e) => {
                // The codec queued the close frame with the error's code.
                log::debug!("websocket protocol error: {e}");
                if !*told_close {
                    *told_close = true;
                    let why = e.to_string();
                    let h = &mut *handler;
                    let _ =
                        catch_unwind(AssertUnwindSafe(|| h.on_close(Some(e.close_code()), &why)));
                }
                tx.set_closed();
                return (*rend - *rstart, true);
            }
        };
        let Some(ev) = ev else {
            return (n, false);
        };
        let h = &mut *handler;
        let tx = &*tx;
        let r = catch_unwind(AssertUnwindSafe(|| match ev {
            Event::Text(t) => {
                h.on_message(tx, Message::Text(t));
                false
            }
            Event::Binary(b) => {
                h.on_message(tx, Message::Binary(b));
                false
            }
            Event::Ping(p) => {
                h.on_ping(tx, p);
                false
            }
            Event::Pong(p) => {
                h.on_pong(tx, p);
                false
            }
            Event::Close { code, reason } => {
                h.on_close(code, reason);
                true
            }
        }));
        match r {
            Ok(true) => {
                *told_close = true;
                tx.set_closed();
            }
            Ok(false) => {}
            Err(_) => {
                log::error!("websocket handler panicked; closing with 1011");
                let _ = ws.close(1011, "internal error", now, wbuf);
            }
        }
        (n, true)
    }

    /// Encodes what the handler queued. Returns whether anything was.
    fn take_outbox(&mut self, now: Instant) -> bool {
        self.tx.take(&mut self.outbox);
        if self.outbox.is_empty() {
            return false;
        }
        for rec in records(&self.outbox) {
            let r = match rec {
                Outgoing::Text(t) => self.ws.send_text(t, &mut self.wbuf),
                Outgoing::Binary(b) => self.ws.send_binary(b, &mut self.wbuf),
                Outgoing::Ping(p) => self.ws.send_ping(p, &mut self.wbuf),
                Outgoing::Pong(p) => self.ws.send_pong(p, &mut self.wbuf),
                Outgoing::Close(code, reason) => self.ws.close(code, reason, now, &mut self.wbuf),
            };
            if r.is_err() {
                // Closing: what follows a close is not sent.
                break;
            }
        }
        true
    }

    /// Writes the send buffer; `Ok(true)` when all of it (and the transport's own
    /// buffer) is out.
    fn flush(&mut self) -> Result<bool, ()> {
        super::transport::flush_all(
            &mut self.io,
            &mut self.wbuf,
            &mut self.wpos,
            &mut self.want_write,
        )
    }

    /// The one deadline in force: the write stall, the codec's close timeout, or the
    /// idle timeout (a ping first when pings are on).
    fn set_deadline<H>(&mut self, cx: &Ctx<'_, H>) {
        if self.want_write {
            if !matches!(self.deadline, Some((_, Deadline::Write))) {
                self.deadline = Some((cx.now + cx.cfg.write_timeout, Deadline::Write));
            }
            return;
        }
        if let Some(at) = self.ws.poll_timeout() {
            self.deadline = Some((at, Deadline::Protocol));
            return;
        }
        let idle = match (cx.cfg.ws_ping_interval, self.pinged) {
            (Some(p), false) => p,
            _ => cx.cfg.ws_idle_timeout,
        };
        self.deadline = Some((self.last_seen + idle, Deadline::KeepAlive));
    }

    fn tell_close(&mut self, code: Option<u16>, why: &str) {
        self.tx.set_closed();
        if !self.cb.told_close {
            self.cb.told_close = true;
            let h = &mut self.cb.h;
            let _ = catch_unwind(AssertUnwindSafe(|| h.on_close(code, why)));
        }
    }
}

/// A connection's handler and whether it heard `on_close`; dropping it without
/// that tells the handler the connection is gone.
struct Callbacks {
    h: Box<dyn WsHandler>,
    told_close: bool,
}

impl Drop for Callbacks {
    fn drop(&mut self) {
        if !self.told_close {
            self.told_close = true;
            let h = &mut self.h;
            let _ = catch_unwind(AssertUnwindSafe(|| h.on_close(None, "connection dropped")));
        }
    }
}

//! WebSocket over HTTP/2 (RFC 8441): one stream of an HTTP/2 connection carries
//! one WebSocket, beside ordinary streams and under their flow control.
//!
//! The extended CONNECT (`:method CONNECT`, `:protocol websocket`) is routed like
//! the HTTP/1.1 upgrade: as a `GET` of its `:path`, with a [`WsRequest`] in the
//! extensions, so the same `Router::ws` routes and `WebSocketUpgrade` handlers
//! serve both. A `101` from the handler becomes `200` on the stream; DATA frames
//! then carry WebSocket frames both ways. Received DATA is released to flow
//! control only while the stream's unsent output is under its high-water mark, so
//! a peer that does not read cannot make the server buffer without bound: its
//! window closes instead. RST_STREAM and GOAWAY end the WebSocket (the handler's
//! `on_close` hears it).

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use flare_h2::{Connection as H2, Head, StreamId};
use flare_web::ws::{records, Message, Outgoing, WsAccept, WsHandler, WsRequest, WsSender};
use flare_web::Request;
use flare_ws::handshake;
use flare_ws::{DeflateConfig, Event, Role, WebSocket};

use super::config::ServerConfig;

/// Unsent output past which received DATA is no longer released.
const OUT_HIGH: usize = 256 * 1024;

/// Whether `head` is an extended CONNECT for a WebSocket.
pub(crate) fn is_ws_connect(head: &Head) -> bool {
    head.method == b"CONNECT"
        && head
            .protocol
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case(b"websocket"))
}

/// Routes an extended CONNECT as a `GET` and tells the handler what it asked
/// (a [`WsRequest`]). Returns whether it can be accepted.
pub(crate) fn offer_from_connect(req: &mut Request, head: &Head) -> bool {
    req.set_method(http::Method::GET);
    req.set_target(&head.path);
    let protocol = head.protocol.as_deref().unwrap_or_default();
    let fields = head.fields.iter().map(|(n, v)| (&n[..], &v[..]));
    let found = match handshake::parse_connect_request(b"CONNECT", protocol, fields) {
        Ok(offer) => WsRequest {
            protocols: offer.protocols().iter().map(|p| p.to_string()).collect(),
            refusal: None,
        },
        Err(e) => WsRequest {
            protocols: Vec::new(),
            refusal: Some((
                http::StatusCode::from_u16(e.status()).unwrap_or(http::StatusCode::BAD_REQUEST),
                "bad websocket handshake",
            )),
        },
    };
    let ok = found.refusal.is_none();
    req.extensions_mut().insert(found);
    ok
}

/// One WebSocket on an HTTP/2 stream.
pub(crate) struct H2Ws {
    ws: WebSocket,
    handler: Box<dyn WsHandler>,
    tx: WsSender,
    /// WebSocket bytes from DATA frames not yet taken by the codec.
    inbuf: Vec<u8>,
    /// Encoded frames waiting for flow control.
    out: Vec<u8>,
    pos: usize,
    outbox: Vec<u8>,
    /// Received DATA not yet released to flow control.
    held: usize,
    told_close: bool,
    /// END_STREAM sent.
    ended: bool,
}

impl H2Ws {
    /// Answers the extended CONNECT with `200` and the negotiated fields, and starts
    /// the WebSocket. `None` when the handshake cannot be answered (the caller
    /// resets the stream).
    #[allow(clippy::boxed_local)] // the accept travels boxed in the response
    pub(crate) fn accept(
        h2: &mut H2,
        id: StreamId,
        req: &Request,
        accept: Box<WsAccept>,
        cfg: &ServerConfig,
        waker: flare_web::StreamWaker,
        now: Instant,
    ) -> Option<H2Ws> {
        let fields: Vec<(&[u8], &[u8])> = req.headers().map(|(n, v)| (n.as_bytes(), v)).collect();
        let offer = handshake::parse_connect_request(b"CONNECT", b"websocket", fields).ok()?;
        let deflate = (cfg.ws_deflate && accept.compression).then_some(DeflateConfig {
            server_no_context_takeover: !cfg.ws_deflate_takeover,
            client_no_context_takeover: !cfg.ws_deflate_takeover,
        });
        let a = offer.accept(deflate.as_ref());
        let WsAccept {
            handler,
            protocol,
            limits,
            ..
        } = *accept;
        {
            let fields: Vec<(&[u8], &[u8])> = a
                .fields(protocol.as_deref())
                .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
                .map(|(n, v)| {
                    // HTTP/2 field names are lowercase.
                    (lower(n), v)
                })
                .collect();
            h2.send_headers(id, 200, &fields, false).ok()?;
        }
        let mut wcfg = cfg.ws.clone();
        if let Some(n) = limits.max_message_size {
            wcfg = wcfg.max_message_size(n);
        }
        if let Some(n) = limits.max_frame_size {
            wcfg = wcfg.max_frame_size(n as u64);
        }
        let tx = WsSender::new(limits.max_outbound.unwrap_or(cfg.ws_max_outbound), waker);
        let mut w = H2Ws {
            ws: WebSocket::new(Role::Server, wcfg, a.deflate),
            handler,
            tx,
            inbuf: Vec::new(),
            out: Vec::new(),
            pos: 0,
            outbox: Vec::new(),
            held: 0,
            told_close: false,
            ended: false,
        };
        w.tx.hold();
        let (h, tx) = (&mut w.handler, &w.tx);
        if catch_unwind(AssertUnwindSafe(|| h.on_open(tx))).is_err() {
            let _ = w.ws.close(1011, "internal error", now, &mut w.out);
        }
        Some(w)
    }

    /// DATA arrived: feed it through the codec and the handler.
    pub(crate) fn on_data(&mut self, h2: &mut H2, id: StreamId, data: &[u8], now: Instant) {
        self.held += data.len();
        self.inbuf.extend_from_slice(data);
        self.process(now);
        self.release(h2, id);
    }

    fn release(&mut self, h2: &mut H2, id: StreamId) {
        if self.held > 0 && self.out.len() - self.pos < OUT_HIGH {
            h2.release_capacity(id, self.held);
            self.held = 0;
        }
    }

    fn process(&mut self, now: Instant) {
        let mut start = 0;
        self.tx.hold();
        while start < self.inbuf.len() {
            let H2Ws {
                ws,
                handler,
                tx,
                inbuf,
                out,
                told_close,
                ..
            } = self;
            let (n, ev) = match ws.read(&mut inbuf[start..], now) {
                Ok(r) => r,
                Err(e) => {
                    if !*told_close {
                        *told_close = true;
                        let why = e.to_string();
                        let h = &mut *handler;
                        let _ = catch_unwind(AssertUnwindSafe(|| {
                            h.on_close(Some(e.close_code()), &why)
                        }));
                    }
                    tx.set_closed();
                    start = inbuf.len();
                    break;
                }
            };
            start += n;
            let Some(ev) = ev else {
                if n == 0 {
                    break;
                }
                continue;
            };
            let h = &mut *handler;
            let t = &*tx;
            let closed = catch_unwind(AssertUnwindSafe(|| match ev {
                Event::Text(s) => {
                    h.on_message(t, Message::Text(s));
                    false
                }
                Event::Binary(b) => {
                    h.on_message(t, Message::Binary(b));
                    false
                }
                Event::Ping(p) => {
                    h.on_ping(t, p);
                    false
                }
                Event::Pong(p) => {
                    h.on_pong(t, p);
                    false
                }
                Event::Close { code, reason } => {
                    h.on_close(code, reason);
                    true
                }
            }));
            match closed {
                Ok(true) => {
                    *told_close = true;
                    tx.set_closed();
                }
                Ok(false) => {}
                Err(_) => {
                    let _ = ws.close(1011, "internal error", now, out);
                }
            }
            self.take_outbox(now);
            self.ws.poll_output(&mut self.out);
            self.tx.hold();
        }
        self.inbuf.drain(..start);
    }

    fn take_outbox(&mut self, now: Instant) {
        self.tx.take(&mut self.outbox);
        for rec in records(&self.outbox) {
            let r = match rec {
                Outgoing::Text(t) => self.ws.send_text(t, &mut self.out),
                Outgoing::Binary(b) => self.ws.send_binary(b, &mut self.out),
                Outgoing::Ping(p) => self.ws.send_ping(p, &mut self.out),
                Outgoing::Pong(p) => self.ws.send_pong(p, &mut self.out),
                Outgoing::Close(c, r) => self.ws.close(c, r, now, &mut self.out),
            };
            if r.is_err() {
                break;
            }
        }
    }

    /// Moves queued messages and owed frames to the stream as flow control allows.
    /// Returns (sent anything, done: the stream ended and can be dropped).
    pub(crate) fn pump(&mut self, h2: &mut H2, id: StreamId, now: Instant) -> (bool, bool) {
        if self.out.len() - self.pos < OUT_HIGH {
            self.take_outbox(now);
        }
        self.ws.poll_output(&mut self.out);
        let mut sent = false;
        while self.pos < self.out.len() {
            match h2.send_data(id, &self.out[self.pos..], false) {
                Ok(0) => break,
                Ok(n) => {
                    self.pos += n;
                    sent = true;
                }
                Err(_) => {
                    self.tell_close("stream closed");
                    return (sent, true);
                }
            }
        }
        if self.pos >= self.out.len() {
            self.out.clear();
            self.pos = 0;
        }
        self.release(h2, id);
        if self.ws.is_closed() && self.out.is_empty() && !self.ended {
            // The closing handshake is done: end our side of the stream (the TCP
            // close of RFC 6455 is the stream's end here, RFC 8441 section 5).
            self.ended = true;
            let _ = h2.send_data(id, &[], true);
            self.tell_close("closed");
            return (true, true);
        }
        (sent, false)
    }

    /// The peer ended the stream or reset it, or the connection is going.
    pub(crate) fn tell_close(&mut self, why: &str) {
        self.tx.set_closed();
        if !self.told_close {
            self.told_close = true;
            let h = &mut self.handler;
            let _ = catch_unwind(AssertUnwindSafe(|| h.on_close(None, why)));
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.ws.poll_timeout()
    }

    /// The codec's close timeout; true when the stream should be reset.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> bool {
        if self.ws.poll_timeout().is_some_and(|t| t <= now) {
            self.ws.handle_timeout(now);
        }
        self.ws.is_closed() && !self.ended && self.pos >= self.out.len()
    }

    /// Drain: close 1001.
    pub(crate) fn go_away(&mut self, now: Instant) {
        let _ = self
            .ws
            .close(1001, "server shutting down", now, &mut self.out);
    }
}

impl Drop for H2Ws {
    fn drop(&mut self) {
        self.tell_close("connection closed");
    }
}

fn lower(name: &[u8]) -> &'static [u8] {
    match name {
        b"Sec-WebSocket-Protocol" => b"sec-websocket-protocol",
        b"Sec-WebSocket-Extensions" => b"sec-websocket-extensions",
        b"Sec-WebSocket-Accept" => b"sec-websocket-accept",
        b"Upgrade" => b"upgrade",
        _ => b"connection",
    }
}

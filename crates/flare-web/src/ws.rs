//! WebSocket handlers: per-connection callbacks, the sender handle, and the upgrade
//! extractor.
//!
//! Handlers are event driven, to fit synchronous thread-per-core workers: an
//! accepted WebSocket is one more connection in its worker's slab (no thread per
//! connection), and the worker calls the connection's [`WsHandler`] when something
//! arrives. The handler answers through a [`WsSender`], which is also `Clone + Send +
//! Sync`: a copy kept elsewhere (a chat room, a pub/sub fan-out) sends from any
//! thread, through the worker's waker.
//!
//! The sender's queue is bounded ([`WsSender`] says by what): a peer that does not
//! read makes [`WsSender::send_text`] answer [`WsSendError::Full`] instead of making
//! the server buffer without bound.
//!
//! ```
//! use flare_web::router::Router;
//! use flare_web::ws::{Message, WsSender};
//!
//! // Echo: every message back to its sender.
//! let router: Router = Router::new().ws("/echo", |_req: &flare_web::Request| {
//!     |ws: &WsSender, msg: Message<'_>| {
//!         let _ = ws.send(msg);
//!     }
//! });
//! # let _ = router;
//! ```
//!
//! This module knows nothing of the wire: the protocol driver (in the `flare`
//! crate) checks the opening handshake, puts a [`WsRequest`] into the request's
//! extensions, and turns the `101` response that [`WebSocketUpgrade::on_upgrade`]
//! builds into the handshake answer and a WebSocket connection.

use std::sync::{Arc, Mutex};

use http::{HeaderName, HeaderValue, StatusCode};

use crate::body::StreamWaker;
use crate::extract::FromRequest;
use crate::request::Request;
use crate::response::Response;

/// A complete data message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message (valid UTF-8, checked by the codec).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

/// One WebSocket connection's callbacks. All run on the connection's worker.
pub trait WsHandler: Send + 'static {
    /// The handshake is done; `ws` may send at once.
    fn on_open(&mut self, ws: &WsSender) {
        let _ = ws;
    }
    /// A data message arrived.
    fn on_message(&mut self, ws: &WsSender, msg: Message<'_>);
    /// A ping arrived (the pong is sent for you).
    fn on_ping(&mut self, ws: &WsSender, payload: &[u8]) {
        let _ = (ws, payload);
    }
    /// A pong arrived.
    fn on_pong(&mut self, ws: &WsSender, payload: &[u8]) {
        let _ = (ws, payload);
    }
    /// The connection ended: `code` is the peer's close code (`None` when the close
    /// frame had none, or the connection ended without a close handshake, then
    /// `reason` says why).
    fn on_close(&mut self, code: Option<u16>, reason: &str) {
        let _ = (code, reason);
    }
}

impl<F> WsHandler for F
where
    F: FnMut(&WsSender, Message<'_>) + Send + 'static,
{
    fn on_message(&mut self, ws: &WsSender, msg: Message<'_>) {
        self(ws, msg)
    }
}

/// Why a message was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WsSendError {
    /// The outbound queue is at its bound: the peer is not reading fast enough.
    /// Nothing was queued; try again later or drop the message.
    Full,
    /// The connection is closing or closed.
    Closed,
}

impl std::fmt::Display for WsSendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            WsSendError::Full => "websocket outbound queue full",
            WsSendError::Closed => "websocket closed",
        })
    }
}

impl std::error::Error for WsSendError {}

/// Sends on one WebSocket connection, from its handler or from any thread.
///
/// Messages go into a queue that the connection's worker encodes and writes. The
/// queue holds at most the bound the driver gave it (the server's
/// `max_ws_outbound`, default 1 MiB of payload); past it a send is refused with
/// [`WsSendError::Full`]. The worker moves queued messages to the socket only while
/// its own send buffer is below its high-water mark, so a peer that does not read
/// bounds memory on both sides. A send from another thread wakes the worker once per
/// batch.
#[derive(Clone)]
pub struct WsSender {
    inner: Arc<Outbox>,
}

impl std::fmt::Debug for WsSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsSender")
            .field("queued", &self.queued())
            .finish()
    }
}

struct Outbox {
    state: Mutex<OutState>,
    limit: usize,
    waker: StreamWaker,
}

#[derive(Default)]
struct OutState {
    /// Records: kind (1 byte), length (4 bytes LE), payload.
    buf: Vec<u8>,
    /// Payload bytes queued.
    queued: usize,
    closed: bool,
    /// A wake is pending or the driver is in a callback: no need to wake again.
    wake_pending: bool,
}

const K_TEXT: u8 = 1;
const K_BINARY: u8 = 2;
const K_PING: u8 = 3;
const K_PONG: u8 = 4;
const K_CLOSE: u8 = 5;

impl WsSender {
    /// A sender whose queue holds at most `limit` payload bytes and which calls
    /// `waker` when a message is queued while the driver is not looking. For
    /// protocol drivers.
    pub fn new(limit: usize, waker: StreamWaker) -> WsSender {
        WsSender {
            inner: Arc::new(Outbox {
                state: Mutex::new(OutState::default()),
                limit,
                waker,
            }),
        }
    }

    /// Queues a text message.
    pub fn send_text(&self, text: &str) -> Result<(), WsSendError> {
        self.push(K_TEXT, text.as_bytes(), None)
    }
    /// Queues a binary message.
    pub fn send_binary(&self, data: &[u8]) -> Result<(), WsSendError> {
        self.push(K_BINARY, data, None)
    }
    /// Queues a message of either kind.
    pub fn send(&self, msg: Message<'_>) -> Result<(), WsSendError> {
        match msg {
            Message::Text(t) => self.send_text(t),
            Message::Binary(b) => self.send_binary(b),
        }
    }
    /// Queues a ping (at most 125 bytes of payload; longer is cut).
    pub fn ping(&self, payload: &[u8]) -> Result<(), WsSendError> {
        self.push(K_PING, &payload[..payload.len().min(125)], None)
    }
    /// Queues an unsolicited pong (a heartbeat; answers to pings are automatic).
    pub fn pong(&self, payload: &[u8]) -> Result<(), WsSendError> {
        self.push(K_PONG, &payload[..payload.len().min(125)], None)
    }
    /// Starts the closing handshake with `code` (1000 normal, 1001 going away,
    /// 1008 policy, 3000-4999 application) and a reason of at most 123 bytes
    /// (longer is cut at a character boundary). Later sends are refused.
    pub fn close(&self, code: u16, reason: &str) -> Result<(), WsSendError> {
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        self.push(K_CLOSE, &reason.as_bytes()[..end], Some(code))
    }
    /// Whether the connection is closing or closed (sends are refused).
    pub fn is_closed(&self) -> bool {
        self.lock().closed
    }
    /// Payload bytes queued and not yet taken by the worker.
    pub fn queued(&self) -> usize {
        self.lock().queued
    }
    /// Whether two senders belong to the same connection.
    pub fn same_connection(&self, other: &WsSender) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, OutState> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn push(&self, kind: u8, payload: &[u8], code: Option<u16>) -> Result<(), WsSendError> {
        let wake = {
            let mut s = self.lock();
            if s.closed {
                return Err(WsSendError::Closed);
            }
            // Control frames are small and always fit: a full queue must not stop
            // a close or a heartbeat. One message larger than the bound is taken
            // when the queue is empty (the caller holds that memory already; the
            // bound is on what piles up behind a slow reader).
            let control = kind >= K_PING;
            if !control && s.queued > 0 && s.queued + payload.len() > self.inner.limit {
                return Err(WsSendError::Full);
            }
            let extra = if code.is_some() { 2 } else { 0 };
            s.buf.push(kind);
            s.buf
                .extend_from_slice(&((payload.len() + extra) as u32).to_le_bytes());
            if let Some(c) = code {
                s.buf.extend_from_slice(&c.to_be_bytes());
                s.closed = true;
            }
            s.buf.extend_from_slice(payload);
            s.queued += payload.len();
            !std::mem::replace(&mut s.wake_pending, true)
        };
        if wake {
            self.inner.waker.wake();
        }
        Ok(())
    }

    /// For protocol drivers: no wake is needed until the next [`take`](Self::take)
    /// (the driver is about to look at the queue, e.g. around a callback).
    pub fn hold(&self) {
        self.lock().wake_pending = true;
    }

    /// For protocol drivers: moves every queued record into `into` (cleared first;
    /// the buffers are swapped, so no copy) and re-arms the wake. Read the records
    /// with [`records`].
    pub fn take(&self, into: &mut Vec<u8>) {
        into.clear();
        let mut s = self.lock();
        std::mem::swap(&mut s.buf, into);
        s.queued = 0;
        s.wake_pending = false;
    }

    /// For protocol drivers: the connection ended; later sends are refused.
    pub fn set_closed(&self) {
        self.lock().closed = true;
    }
}

/// A message the handler queued, as the driver reads it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outgoing<'a> {
    /// A text message.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
    /// A ping.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// Start the closing handshake.
    Close(u16, &'a str),
}

/// The records in a buffer filled by [`WsSender::take`].
pub fn records(buf: &[u8]) -> impl Iterator<Item = Outgoing<'_>> + '_ {
    let mut at = 0;
    std::iter::from_fn(move || {
        let head = buf.get(at..at + 5)?;
        let len = u32::from_le_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let body = buf.get(at + 5..at + 5 + len)?;
        at += 5 + len;
        Some(match head[0] {
            K_TEXT => Outgoing::Text(std::str::from_utf8(body).unwrap_or_default()),
            K_BINARY => Outgoing::Binary(body),
            K_PING => Outgoing::Ping(body),
            K_PONG => Outgoing::Pong(body),
            _ => {
                let code = u16::from_be_bytes([body[0], body[1]]);
                Outgoing::Close(code, std::str::from_utf8(&body[2..]).unwrap_or_default())
            }
        })
    })
}

/// What the protocol driver found in a request that asks for a WebSocket (an
/// `Upgrade: websocket` on HTTP/1.1, an extended CONNECT with `:protocol websocket`
/// on HTTP/2), put into the request's extensions before the handler runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WsRequest {
    /// The subprotocols the client offered, in its order.
    pub protocols: Vec<String>,
    /// When the handshake is not acceptable: the status to refuse it with (`400`,
    /// or `426` for a version other than 13) and why.
    pub refusal: Option<(StatusCode, &'static str)>,
}

/// Limits one route may set for its WebSocket connections, over the server's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsLimits {
    /// Largest message, in bytes (after inflation).
    pub max_message_size: Option<usize>,
    /// Largest frame, in bytes.
    pub max_frame_size: Option<usize>,
    /// Outbound queue bound, in payload bytes.
    pub max_outbound: Option<usize>,
}

/// An accepted upgrade, carried by the `101` response to the driver.
#[non_exhaustive]
pub struct WsAccept {
    /// The connection's callbacks.
    pub handler: Box<dyn WsHandler>,
    /// The subprotocol chosen, if any (one of those offered).
    pub protocol: Option<String>,
    /// Route limits over the server's.
    pub limits: WsLimits,
    /// Whether permessage-deflate may be accepted if offered (default true).
    pub compression: bool,
}

impl std::fmt::Debug for WsAccept {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsAccept")
            .field("protocol", &self.protocol)
            .field("limits", &self.limits)
            .finish()
    }
}

/// Extracts a WebSocket handshake from a request, for handlers that decide per
/// request (check a token, pick a subprotocol, refuse with a status).
///
/// Rejects with `426 Upgrade Required` (`Upgrade: websocket`,
/// `Sec-WebSocket-Version: 13`) when the request does not ask for a WebSocket, and
/// with the driver's refusal (`400`, `426`) when it asks badly.
///
/// ```
/// use flare_web::ws::{WebSocketUpgrade, Message, WsSender};
/// use flare_web::Response;
///
/// fn chat(ws: WebSocketUpgrade) -> Response {
///     let proto = ws.protocols().find(|p| *p == "chat.v1").map(str::to_owned);
///     let ws = match proto { Some(p) => ws.protocol(&p), None => ws };
///     ws.on_upgrade(|ws: &WsSender, msg: Message<'_>| { let _ = ws.send(msg); })
/// }
/// # let _ = chat;
/// ```
#[derive(Debug)]
pub struct WebSocketUpgrade {
    offered: Vec<String>,
    protocol: Option<String>,
    limits: WsLimits,
    compression: bool,
}

impl WebSocketUpgrade {
    /// The subprotocols the client offered.
    pub fn protocols(&self) -> impl Iterator<Item = &str> {
        self.offered.iter().map(String::as_str)
    }
    /// Chooses a subprotocol; it must be one the client offered, else none is
    /// chosen (RFC 6455 section 4.2.2: the server picks among the client's).
    pub fn protocol(mut self, p: &str) -> Self {
        self.protocol = self.offered.iter().find(|o| *o == p).cloned();
        self
    }
    /// Largest message in bytes for this connection (the server's default: 16 MiB).
    pub fn max_message_size(mut self, n: usize) -> Self {
        self.limits.max_message_size = Some(n);
        self
    }
    /// Largest frame in bytes for this connection (the server's default: 16 MiB).
    pub fn max_frame_size(mut self, n: usize) -> Self {
        self.limits.max_frame_size = Some(n);
        self
    }
    /// Outbound queue bound in payload bytes (the server's default: 1 MiB).
    pub fn max_outbound(mut self, n: usize) -> Self {
        self.limits.max_outbound = Some(n);
        self
    }
    /// Whether to accept permessage-deflate when the client offers it and the
    /// server allows it (default: true).
    pub fn compression(mut self, on: bool) -> Self {
        self.compression = on;
        self
    }
    /// Accepts: the answer is `101 Switching Protocols` and `handler` gets the
    /// connection's events.
    pub fn on_upgrade(self, handler: impl WsHandler) -> Response {
        let mut r = Response::new(StatusCode::SWITCHING_PROTOCOLS);
        r.set_ws_accept(Box::new(WsAccept {
            handler: Box::new(handler),
            protocol: self.protocol,
            limits: self.limits,
            compression: self.compression,
        }));
        r
    }

    /// The upgrade the driver found in `req`, or the response that refuses it.
    pub fn from_req(req: &Request) -> Result<WebSocketUpgrade, Response> {
        match req.extensions().get::<WsRequest>() {
            Some(WsRequest {
                refusal: Some((status, why)),
                ..
            }) => Err(refusal(*status, why)),
            Some(w) => Ok(WebSocketUpgrade {
                offered: w.protocols.clone(),
                protocol: None,
                limits: WsLimits::default(),
                compression: true,
            }),
            None => Err(refusal(
                StatusCode::UPGRADE_REQUIRED,
                "this resource speaks WebSocket only",
            )),
        }
    }
}

fn refusal(status: StatusCode, why: &'static str) -> Response {
    let mut r = Response::error(status, why);
    if status == StatusCode::UPGRADE_REQUIRED {
        r.insert_header(http::header::UPGRADE, HeaderValue::from_static("websocket"));
        r.insert_header(
            HeaderName::from_static("sec-websocket-version"),
            HeaderValue::from_static("13"),
        );
    }
    r
}

impl<S> FromRequest<S> for WebSocketUpgrade {
    type Rejection = Response;
    fn from_request(req: &Request, _state: &S) -> Result<Self, Response> {
        WebSocketUpgrade::from_req(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn sender(limit: usize) -> (WsSender, Arc<AtomicUsize>) {
        let wakes = Arc::new(AtomicUsize::new(0));
        let w = wakes.clone();
        let s = WsSender::new(
            limit,
            StreamWaker::new(move || {
                w.fetch_add(1, Ordering::SeqCst);
            }),
        );
        (s, wakes)
    }

    #[test]
    fn records_come_back_in_order_and_wake_once_per_batch() {
        let (s, wakes) = sender(1 << 20);
        s.send_text("hi").unwrap();
        s.send_binary(&[1, 2, 3]).unwrap();
        s.ping(b"p").unwrap();
        assert_eq!(wakes.load(Ordering::SeqCst), 1);
        let mut buf = Vec::new();
        s.take(&mut buf);
        let got: Vec<_> = records(&buf).collect();
        assert_eq!(
            got,
            [
                Outgoing::Text("hi"),
                Outgoing::Binary(&[1, 2, 3]),
                Outgoing::Ping(b"p")
            ]
        );
        s.send_text("again").unwrap();
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
        // Held (the driver is in a callback): no wake.
        s.take(&mut buf);
        s.hold();
        s.send_text("in callback").unwrap();
        assert_eq!(wakes.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn the_queue_bound_refuses_data_but_not_control_frames() {
        let (s, _) = sender(10);
        s.send_binary(&[0; 10]).unwrap();
        assert_eq!(s.send_binary(&[0; 1]), Err(WsSendError::Full));
        assert_eq!(s.queued(), 10);
        s.ping(b"still").unwrap();
        // One message larger than the whole bound is taken when the queue is
        // empty, and nothing after it until it is taken.
        let mut buf = Vec::new();
        s.take(&mut buf);
        s.send_binary(&[0; 11]).unwrap();
        assert_eq!(s.send_binary(&[0; 1]), Err(WsSendError::Full));
    }

    #[test]
    fn close_refuses_later_sends_and_cuts_the_reason_at_a_char_boundary() {
        let (s, _) = sender(100);
        let long = "é".repeat(100);
        s.close(1000, &long).unwrap();
        assert!(s.is_closed());
        assert_eq!(s.send_text("x"), Err(WsSendError::Closed));
        let mut buf = Vec::new();
        s.take(&mut buf);
        let first = records(&buf).next();
        match first {
            Some(Outgoing::Close(1000, r)) => assert_eq!(r.len(), 122),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_extractor_refuses_plain_requests_with_426() {
        let req = Request::builder().uri("/ws").build();
        let r = WebSocketUpgrade::from_req(&req).unwrap_err();
        assert_eq!(r.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(r.header("sec-websocket-version").unwrap(), "13");
        let mut req = Request::builder().uri("/ws").build();
        req.extensions_mut().insert(WsRequest {
            protocols: vec!["a".into(), "b".into()],
            refusal: None,
        });
        let up = WebSocketUpgrade::from_req(&req).unwrap();
        let up = up.protocol("b");
        assert_eq!(up.protocol.as_deref(), Some("b"));
        let up = up.protocol("c");
        assert_eq!(up.protocol, None);
        let mut r = up.on_upgrade(|_: &WsSender, _: Message<'_>| {});
        assert_eq!(r.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert!(r.take_ws_accept().is_some());
    }
}

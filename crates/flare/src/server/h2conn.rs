//! One HTTP/2 connection: drives a `flare_h2::Connection` between a transport and
//! the same handlers HTTP/1.1 uses.
//!
//! Each stream's request is collected (head, body up to the route's limit,
//! trailers), then the handler runs on the worker like any HTTP/1.1 request. The
//! response head goes out at once; the body is fed as flow control allows: whole
//! bodies from their buffer, streams pulled frame by frame only when the stream has
//! send capacity, files read piece by piece. The HTTP/2 state machine keeps its own
//! output bounded; this driver only moves its output to the socket when its own
//! send buffer is empty, so a slow reader bounds memory on both sides.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use bytes::Bytes;
use flare_h2::{Connection as H2, Event, Head, StreamId};
use flare_web::{
    Body, BodyStream, FileBody, Frame, Handler, Request, Response, StreamContext, StreamWaker,
};
use http::{Method, StatusCode, Version};

use super::conn::{
    call_handler, read_file_chunk, Ctx, Deadline, Service, Step, Upgrade, UpgradeParts,
};
use super::h2ws::{self, H2Ws};
use super::transport::Transport;

const RBUF: usize = 16 * 1024;
/// Request objects kept for reuse per connection (the default concurrent-stream
/// limit).
const SPARE_REQUESTS: usize = 128;

/// The body of a response being sent on one stream.
enum Out {
    /// Whole bytes, from `pos`.
    Bytes(Bytes, usize),
    /// A stream; `chunk` is a piece it produced that flow control held back.
    Stream {
        body: Box<dyn BodyStream>,
        chunk: Option<(Bytes, usize)>,
        pending: bool,
        waker: StreamWaker,
        /// Bytes still promised by the `content-length` sent from the size hint.
        remaining: Option<u64>,
    },
    /// A file range, read as capacity allows.
    File(FileBody, Vec<u8>, usize),
}

struct H2Stream {
    req: Request,
    body_limit: u64,
    /// The handler ran; later request frames are ignored.
    dispatched: bool,
    out: Option<Out>,
    /// An extended CONNECT asking for a WebSocket (RFC 8441) that can be accepted.
    ws_offer: bool,
    /// The stream carries an accepted WebSocket.
    ws: Option<Box<H2Ws>>,
    /// A response a blocking-pool thread or a client's I/O thread is producing (and
    /// whether it answers HEAD); dropped with the stream (a reset), it is abandoned.
    deferred: Option<(flare_web::blocking::DeferredWait, bool)>,
}

pub(crate) struct H2Conn<T> {
    io: T,
    peer: SocketAddr,
    h2: H2,
    rbuf: Vec<u8>,
    wbuf: Vec<u8>,
    wpos: usize,
    streams: HashMap<u32, Box<H2Stream>, BuildHasherDefault<IdHasher>>,
    /// Finished streams kept for reuse: boxed, so that the map and the pool move a
    /// pointer rather than a whole request.
    // Boxed on purpose: they move into and out of `streams` as boxes.
    #[allow(clippy::vec_box)]
    spare: Vec<Box<H2Stream>>,
    /// Scratch for `pump_all`: the streams with output.
    pump_ids: Vec<u32>,
    pub(crate) want_write: bool,
    pub(crate) write_registered: bool,
    pub(crate) deadline: Option<(Instant, Deadline)>,
    idle_since: Option<Instant>,
    peer_closed: bool,
    shutting_down: bool,
    /// The socket's peer when `peer` came from a PROXY header.
    socket_peer: Option<SocketAddr>,
}

impl<T: Transport> H2Conn<T> {
    /// A connection whose first bytes were the HTTP/2 preface (prior knowledge) or
    /// that upgraded from HTTP/1.1; returns the driver and what to do with it.
    pub(crate) fn from_upgrade<H: Handler>(
        parts: UpgradeParts<T>,
        cx: &Ctx<'_, H>,
    ) -> (Self, Step) {
        let UpgradeParts {
            io,
            peer,
            kind,
            leftover,
            pending_out,
            req,
            socket_peer,
        } = parts;
        let (h2, stream1) = match kind {
            // The h1 driver hands a WebSocket upgrade to WsConn, never here.
            Upgrade::Preface | Upgrade::WebSocket(_) => {
                (H2::server(cx.cfg.h2.clone(), cx.now), None)
            }
            Upgrade::H2c { settings } => {
                match H2::server_upgrade(cx.cfg.h2.clone(), &settings, cx.now) {
                    Ok(h2) => (h2, Some(req)),
                    Err(_) => {
                        // A bad HTTP2-Settings after we sent 101: nothing sensible to say.
                        let mut c = Self::with(
                            io,
                            peer,
                            H2::server(cx.cfg.h2.clone(), cx.now),
                            pending_out,
                        );
                        c.shutting_down = true;
                        return (c, Step::Close);
                    }
                }
            }
        };
        let mut c = Self::with(io, peer, h2, pending_out);
        c.socket_peer = socket_peer;
        if let Some(mut req) = stream1 {
            let limit = cx.cfg.limits.get_max_body();
            req.set_version(Version::HTTP_2);
            c.streams.insert(
                1,
                Box::new(H2Stream {
                    req,
                    body_limit: limit,
                    dispatched: false,
                    out: None,
                    ws_offer: false,
                    ws: None,
                    deferred: None,
                }),
            );
            c.dispatch(StreamId::new(1), cx);
        }
        if !leftover.is_empty() && c.h2.recv(&leftover, cx.now).is_err() {
            c.shutting_down = true;
        }
        let step = c.drive(cx);
        (c, step)
    }

    fn with(io: T, peer: SocketAddr, h2: H2, pending_out: Vec<u8>) -> Self {
        H2Conn {
            io,
            peer,
            h2,
            rbuf: vec![0; RBUF],
            wbuf: pending_out,
            wpos: 0,
            streams: HashMap::default(),
            spare: Vec::new(),
            pump_ids: Vec::new(),
            want_write: false,
            write_registered: false,
            deadline: None,
            idle_since: None,
            peer_closed: false,
            shutting_down: false,
            socket_peer: None,
        }
    }

    pub(crate) fn io(&self) -> &T {
        &self.io
    }

    /// The transport, once the driver is done with it (a failed TLS session's close).
    pub(crate) fn into_io(self) -> T {
        self.io
    }

    #[cfg(target_os = "linux")]
    pub(crate) fn io_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// Cancels every request in progress.
    /// (A WebSocket stream's handler hears `on_close` when its stream is dropped.)
    pub(crate) fn cancel(&self) {
        for s in self.streams.values() {
            s.req.cancel_token().cancel();
        }
    }

    pub(crate) fn on_readable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        match self.io.read(&mut self.rbuf) {
            Ok(0) => {
                self.peer_closed = true;
                self.cancel();
                return Step::Close;
            }
            Ok(n) => {
                if let Err(e) = self.h2.recv(&self.rbuf[..n], cx.now) {
                    log::debug!("http/2 connection error from {}: {e:?}; GOAWAY", self.peer);
                    // GOAWAY is queued; send it, then close.
                    self.shutting_down = true;
                }
            }
            Err(e) if e.is_would_block() => {}
            Err(flare_net::Error::Interrupted) => {}
            Err(_) => {
                self.cancel();
                return Step::Close;
            }
        }
        self.drive(cx)
    }

    pub(crate) fn on_writable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        self.drive(cx)
    }

    pub(crate) fn on_stream_wake<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        let mut ready = Vec::new();
        for (id, s) in self.streams.iter_mut() {
            if let Some(Out::Stream { pending, .. }) = &mut s.out {
                *pending = false;
            }
            if let Some((d, is_head)) = &s.deferred {
                if let Some(r) = d.poll(cx.make_waker) {
                    ready.push((*id, r, *is_head));
                }
            }
        }
        for (id, r, is_head) in ready {
            if let Some(s) = self.streams.get_mut(&id) {
                s.deferred = None;
            }
            self.respond(StreamId::new(id), r, is_head, cx);
        }
        self.drive(cx)
    }

    pub(crate) fn on_deadline<H: Handler>(&mut self, kind: Deadline, cx: &Ctx<'_, H>) -> Step {
        self.deadline = None;
        match kind {
            Deadline::Write => {
                self.cancel();
                return Step::Close;
            }
            Deadline::KeepAlive if self.streams.is_empty() => {
                // Idle: say goodbye, then close once it is written.
                self.h2.shutdown(cx.now);
                self.shutting_down = true;
            }
            _ => {}
        }
        self.h2.handle_timeout(cx.now);
        // WebSockets whose peer never answered our close: reset their streams.
        let expired: Vec<u32> = self
            .streams
            .iter_mut()
            .filter_map(|(id, s)| {
                s.ws.as_mut()
                    .is_some_and(|w| w.handle_timeout(cx.now))
                    .then_some(*id)
            })
            .collect();
        for id in expired {
            self.h2
                .reset_stream(StreamId::new(id), flare_h2::ErrorCode::Cancel);
            if let Some(s) = self.streams.remove(&id) {
                self.recycle(s);
            }
        }
        self.drive(cx)
    }

    pub(crate) fn on_drain<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        // Two-stage GOAWAY; streams in flight finish, WebSockets are closed with 1001.
        self.h2.shutdown(cx.now);
        for s in self.streams.values_mut() {
            if let Some(w) = &mut s.ws {
                w.go_away(cx.now);
            }
        }
        self.drive(cx)
    }

    /// Events, handlers, body pumping and writing until nothing moves.
    fn drive<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        // Bounded so one connection cannot hold the worker; a connection still
        // making progress at the bound asks for a writable event to carry on
        // (else a body that never filled the socket, e.g. a file to a fast
        // reader, stopped after 64 rounds with no event to resume it).
        let mut bounded = true;
        for _ in 0..64 {
            let events = self.process_events(cx);
            if self.h2.error().is_some() {
                // A connection error: nothing more will be sent on any stream.
                self.cancel();
            }
            let pumped = self.pump_all();
            match self.flush() {
                Err(()) => {
                    self.cancel();
                    return Step::Close;
                }
                Ok(false) => {
                    self.deadline = Some((cx.now + cx.cfg.write_timeout, Deadline::Write));
                    return Step::Keep;
                }
                Ok(true) => {}
            }
            // Quiet only with nothing queued either: draining the output in
            // `flush` queues a SendReady for a body that waited for room.
            if events == 0 && !pumped && !self.h2.has_events() {
                bounded = false;
                break;
            }
        }
        if bounded {
            self.want_write = true;
        }
        if self.h2.is_closed() || (self.shutting_down && self.h2.error().is_some()) {
            self.cancel();
            return Step::Close;
        }
        if self.shutting_down && self.streams.is_empty() && self.h2.open_streams() == 0 {
            return Step::Close;
        }
        // Deadlines: idle keep-alive, and the state machine's own timers.
        let idle = self.streams.is_empty() && self.h2.open_streams() == 0;
        if idle {
            let since = *self.idle_since.get_or_insert(cx.now);
            self.deadline = Some((since + cx.cfg.keep_alive_timeout, Deadline::KeepAlive));
        } else {
            self.idle_since = None;
            self.deadline = None;
        }
        let ws_timeout = self
            .streams
            .values()
            .filter_map(|s| s.ws.as_ref().and_then(|w| w.poll_timeout()))
            .min();
        if let Some(t) = self.h2.poll_timeout().into_iter().chain(ws_timeout).min() {
            if self.deadline.map_or(true, |(d, _)| t < d) {
                self.deadline = Some((t, Deadline::Protocol));
            }
        }
        Step::Keep
    }

    /// Handles every pending event; returns how many there were.
    fn process_events<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> usize {
        let mut n = 0;
        while let Some(ev) = self.h2.poll_event() {
            n += 1;
            match ev {
                Event::Headers {
                    id,
                    head,
                    end_stream,
                } => self.on_headers(id, head, end_stream, cx),
                Event::Data {
                    id,
                    data,
                    end_stream,
                } => {
                    if let Some(w) = self
                        .streams
                        .get_mut(&id.value())
                        .and_then(|s| s.ws.as_mut())
                    {
                        // Released as the WebSocket's output drains.
                        w.on_data(&mut self.h2, id, &data, cx.now);
                        if end_stream {
                            w.tell_close("stream ended without a close frame");
                            let _ = self.h2.send_data(id, &[], true);
                            if let Some(s) = self.streams.remove(&id.value()) {
                                self.recycle(s);
                            }
                        }
                        continue;
                    }
                    self.h2.release_capacity(id, data.len());
                    self.on_data(id, &data, end_stream, cx);
                }
                Event::Trailers { id, fields } => {
                    if let Some(s) = self.streams.get_mut(&id.value()) {
                        for (name, value) in &fields {
                            s.req.push_trailer(name, value);
                        }
                    }
                    self.h2.recycle_fields(fields);
                    self.dispatch(id, cx);
                }
                Event::StreamReset { id, .. } => {
                    if let Some(mut s) = self.streams.remove(&id.value()) {
                        s.req.cancel_token().cancel();
                        if let Some(w) = &mut s.ws {
                            w.tell_close("stream reset");
                        }
                        self.recycle(s);
                    }
                }
                // SendReady is handled by pumping every stream with output after
                // the events; GOAWAY from a client needs nothing from a server.
                _ => {}
            }
        }
        n
    }

    fn on_headers<H: Handler>(
        &mut self,
        id: StreamId,
        head: Head,
        end_stream: bool,
        cx: &Ctx<'_, H>,
    ) {
        let mut s = self.spare.pop().unwrap_or_else(|| {
            Box::new(H2Stream {
                req: Request::default(),
                body_limit: 0,
                dispatched: false,
                out: None,
                ws_offer: false,
                ws: None,
                deferred: None,
            })
        });
        let req = &mut s.req;
        fill_request(req, &head, self.peer);
        req.set_socket_peer_addr(self.socket_peer);
        let ws_connect = h2ws::is_ws_connect(&head);
        let ws_offer = ws_connect && h2ws::offer_from_connect(req, &head);
        let mut limit = cx.cfg.limits.get_max_body();
        if let Service::Handler(h) = cx.service {
            if let Some(l) = h.body_limit(req) {
                limit = l;
            }
        }
        s.body_limit = limit;
        s.ws_offer = ws_offer;
        self.streams.insert(id.value(), s);
        let too_long = head.content_length.is_some_and(|n| n > limit);
        // The head's buffers decode the next requests.
        self.h2.recycle_head(head);
        if too_long {
            self.refuse_body(id, cx);
            return;
        }
        if ws_connect {
            // The stream stays open for the WebSocket: the handler answers now.
            self.dispatch(id, cx);
            return;
        }
        if end_stream {
            self.dispatch(id, cx);
        }
    }

    fn on_data<H: Handler>(
        &mut self,
        id: StreamId,
        data: &[u8],
        end_stream: bool,
        cx: &Ctx<'_, H>,
    ) {
        let Some(s) = self.streams.get_mut(&id.value()) else {
            return;
        };
        if s.dispatched {
            return;
        }
        if (s.req.body().len() + data.len()) as u64 > s.body_limit {
            self.refuse_body(id, cx);
            return;
        }
        s.req.body_mut().extend_from_slice(data);
        if end_stream {
            self.dispatch(id, cx);
        }
    }

    /// 413, then RST_STREAM(NO_ERROR) so the client stops sending (RFC 9113
    /// section 8.1).
    fn refuse_body<H: Handler>(&mut self, id: StreamId, cx: &Ctx<'_, H>) {
        if let Some(s) = self.streams.get_mut(&id.value()) {
            s.dispatched = true;
        }
        let resp = Response::error(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        self.respond(id, resp, false, cx);
        self.h2.reset_stream(id, flare_h2::ErrorCode::NoError);
        if let Some(s) = self.streams.remove(&id.value()) {
            self.recycle(s);
        }
    }

    /// Runs the handler for a complete request.
    fn dispatch<H: Handler>(&mut self, id: StreamId, cx: &Ctx<'_, H>) {
        let Some(s) = self.streams.get_mut(&id.value()) else {
            return;
        };
        if s.dispatched {
            return;
        }
        s.dispatched = true;
        let is_head = s.req.method() == Method::HEAD;
        let mut resp = match cx.service {
            Service::Handler(h) => call_handler(&**h, &mut s.req),
            Service::Static(st) => st.to_response(),
            // Not reached: raw servers never make HTTP/2 drivers.
            Service::Raw(_) => Response::error(StatusCode::INTERNAL_SERVER_ERROR, "no handler"),
        };
        if resp.status() == StatusCode::PROCESSING {
            if let Some(d) = resp.take_deferred() {
                match d.poll(cx.make_waker) {
                    Some(r) => resp = r,
                    None => {
                        s.deferred = Some((d.into_wait(), is_head));
                        return;
                    }
                }
            }
        }
        if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
            let accept = resp.take_ws_accept();
            if let (true, Some(accept)) = (s.ws_offer, accept) {
                let waker = (cx.make_waker)();
                match H2Ws::accept(&mut self.h2, id, &s.req, accept, cx.cfg, waker, cx.now) {
                    Some(w) => s.ws = Some(Box::new(w)),
                    None => self.h2.reset_stream(id, flare_h2::ErrorCode::InternalError),
                }
                return;
            }
            log::error!("a handler answered 101 without an accepted WebSocket upgrade");
            resp = Response::error(StatusCode::INTERNAL_SERVER_ERROR, "internal server error");
        }
        self.respond(id, resp, is_head, cx);
    }

    fn respond<H>(&mut self, id: StreamId, mut resp: Response, is_head: bool, cx: &Ctx<'_, H>) {
        let status = resp.status().as_u16();
        let body = resp.take_body();
        let bodyless = flare_h1::is_bodyless_status(status);
        let len = body.len_hint();
        let len_buf = itoa_buf(len.unwrap_or(0));
        let len_str: &[u8] = len_buf.as_slice();
        // Up to FIELDS on the stack; more (rare) in a Vec.
        let mut fields = FieldList::<16>::new();
        fields.push((b"date", cx.date));
        if let Some(s) = cx.cfg.server_header {
            fields.push((b"server", s.as_bytes()));
        }
        if let Some(ct) = resp.content_type() {
            fields.push((b"content-type", ct.as_bytes()));
        }
        if !bodyless && len.is_some() {
            fields.push((b"content-length", len_str));
        }
        let trailer_names = match &body {
            Body::Stream(s) => s.trailer_names(),
            _ => None,
        };
        if let Some(t) = &trailer_names {
            fields.push((b"trailer", t.as_bytes()));
        }
        for (n, v) in resp.headers() {
            fields.push((n.as_str().as_bytes(), v.as_bytes()));
        }
        let empty = is_head || bodyless || len == Some(0);
        let sent = self.h2.send_headers(id, status, fields.as_slice(), empty);
        if sent.is_err() || empty {
            if let Some(s) = self.streams.remove(&id.value()) {
                self.recycle(s);
            }
            return;
        }
        let out = match body {
            Body::Empty => Out::Bytes(Bytes::new(), 0),
            Body::Static(b) => Out::Bytes(Bytes::from_static(b), 0),
            Body::Bytes(b) => Out::Bytes(b, 0),
            Body::File(f) => Out::File(f, Vec::new(), 0),
            Body::Stream(body) => Out::Stream {
                remaining: body.size_hint(),
                body,
                chunk: None,
                pending: false,
                waker: (cx.make_waker)(),
            },
        };
        if let Some(s) = self.streams.get_mut(&id.value()) {
            s.out = Some(out);
        }
    }

    /// Feeds every stream's body as capacity allows; true if anything was sent.
    fn pump_all(&mut self) -> bool {
        let mut ids = std::mem::take(&mut self.pump_ids);
        ids.clear();
        ids.extend(
            self.streams
                .iter()
                .filter(|(_, s)| s.out.is_some() || s.ws.is_some())
                .map(|(id, _)| *id),
        );
        let mut any = false;
        for &id in &ids {
            any |= self.pump(StreamId::new(id));
        }
        self.pump_ids = ids;
        any
    }

    /// Moves one WebSocket stream's output; drops the stream once it ended.
    fn pump_ws(&mut self, id: StreamId, now: Instant) -> bool {
        let Some(w) = self
            .streams
            .get_mut(&id.value())
            .and_then(|s| s.ws.as_mut())
        else {
            return false;
        };
        let (sent, done) = w.pump(&mut self.h2, id, now);
        if done {
            if let Some(s) = self.streams.remove(&id.value()) {
                self.recycle(s);
            }
        }
        sent || done
    }

    /// Sends what one stream's body can send now. Removes the stream when its body
    /// is complete.
    fn pump(&mut self, id: StreamId) -> bool {
        let Some(s) = self.streams.get_mut(&id.value()) else {
            return false;
        };
        if s.ws.is_some() {
            return self.pump_ws(id, Instant::now());
        }
        let Some(out) = s.out.as_mut() else {
            return false;
        };
        let h2 = &mut self.h2;
        let mut sent_any = false;
        // The body ended without being sent whole (send error, reset, panic).
        let mut aborted = false;
        let done = loop {
            match out {
                Out::Bytes(b, pos) => match h2.send_data(id, &b[*pos..], true) {
                    Ok(n) => {
                        sent_any |= n > 0;
                        *pos += n;
                        if *pos >= b.len() {
                            break true;
                        }
                        break false;
                    }
                    Err(_) => {
                        aborted = true;
                        break true;
                    }
                },
                Out::File(f, buf, pos) => {
                    if *pos >= buf.len() {
                        if f.len == 0 {
                            // Everything read and sent: end the stream.
                            let _ = h2.send_data(id, &[], true);
                            break true;
                        }
                        if h2.send_capacity(id) == 0 {
                            break false;
                        }
                        buf.clear();
                        *pos = 0;
                        if read_file_chunk(f, buf).is_err() {
                            h2.reset_stream(id, flare_h2::ErrorCode::InternalError);
                            aborted = true;
                            break true;
                        }
                    }
                    match h2.send_data(id, &buf[*pos..], false) {
                        Ok(0) => break false,
                        Ok(n) => {
                            sent_any = true;
                            *pos += n;
                        }
                        Err(_) => {
                            aborted = true;
                            break true;
                        }
                    }
                }
                Out::Stream {
                    body,
                    chunk,
                    pending,
                    waker,
                    remaining,
                } => {
                    if let Some((b, p)) = chunk {
                        match h2.send_data(id, &b[*p..], false) {
                            Ok(n) => {
                                sent_any |= n > 0;
                                *p += n;
                                if *p < b.len() {
                                    break false;
                                }
                                *chunk = None;
                            }
                            Err(_) => {
                                aborted = true;
                                break true;
                            }
                        }
                    }
                    if *pending || h2.send_capacity(id) == 0 {
                        break false;
                    }
                    let mut scx = StreamContext::new(waker);
                    let frame = match catch_unwind(AssertUnwindSafe(|| body.poll_frame(&mut scx))) {
                        Ok(f) => f,
                        Err(_) => {
                            log::error!("body stream panicked; resetting the stream");
                            h2.reset_stream(id, flare_h2::ErrorCode::InternalError);
                            aborted = true;
                            break true;
                        }
                    };
                    match frame {
                        Frame::Data(b) => {
                            if let Some(left) = remaining {
                                if b.len() as u64 > *left {
                                    // Longer than the content-length we sent.
                                    log::error!("body stream longer than its size hint; resetting");
                                    h2.reset_stream(id, flare_h2::ErrorCode::InternalError);
                                    aborted = true;
                                    break true;
                                }
                                *left -= b.len() as u64;
                            }
                            if !b.is_empty() {
                                *chunk = Some((b, 0));
                            }
                        }
                        _ if remaining.is_some_and(|left| left > 0)
                            && !matches!(frame, Frame::Pending) =>
                        {
                            // Ended short of the content-length we sent.
                            log::error!("body stream shorter than its size hint; resetting");
                            h2.reset_stream(id, flare_h2::ErrorCode::InternalError);
                            aborted = true;
                            break true;
                        }
                        Frame::Trailers(t) => {
                            let fields: Vec<(&[u8], &[u8])> = t
                                .iter()
                                .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()))
                                .collect();
                            let _ = h2.send_trailers(id, &fields);
                            break true;
                        }
                        Frame::End => {
                            let _ = h2.send_data(id, &[], true);
                            break true;
                        }
                        Frame::Pending => {
                            *pending = true;
                            break false;
                        }
                    }
                }
            }
        };
        if done {
            if let Some(s) = self.streams.remove(&id.value()) {
                if aborted {
                    // Whoever still holds the request's token learns it was cut short.
                    s.req.cancel_token().cancel();
                }
                self.recycle(s);
            }
        }
        sent_any || done
    }

    fn recycle(&mut self, mut s: Box<H2Stream>) {
        // Keep as many as streams may be open at once, so a busy connection reuses
        // request buffers instead of growing fresh ones per stream.
        if self.spare.len() < SPARE_REQUESTS {
            s.req.clear();
            s.dispatched = false;
            s.out = None;
            s.ws_offer = false;
            s.ws = None;
            s.deferred = None;
            self.spare.push(s);
        }
    }

    /// Writes our buffer, refilling it from the state machine only when empty.
    /// `Ok(true)`: everything is out.
    fn flush(&mut self) -> Result<bool, ()> {
        loop {
            if self.wpos >= self.wbuf.len() {
                self.wbuf.clear();
                self.wpos = 0;
                self.h2.poll_output(&mut self.wbuf);
                if self.wbuf.is_empty() {
                    return match self.io.flush() {
                        Ok(true) => {
                            self.want_write = false;
                            Ok(true)
                        }
                        Ok(false) => {
                            self.want_write = true;
                            Ok(false)
                        }
                        Err(_) => Err(()),
                    };
                }
            }
            match self.io.write(&self.wbuf[self.wpos..]) {
                Ok(n) => self.wpos += n,
                Err(e) if e.is_would_block() => {
                    self.want_write = true;
                    return Ok(false);
                }
                Err(flare_net::Error::Interrupted) => {}
                Err(_) => return Err(()),
            }
        }
    }
}

/// Fills the protocol-neutral request from an HTTP/2 head. `req` is clear: new, or
/// cleared by `recycle`.
fn fill_request(req: &mut Request, head: &Head, peer: SocketAddr) {
    req.set_method(Method::from_bytes(&head.method).unwrap_or(Method::GET));
    req.set_version(Version::HTTP_2);
    if head.path.is_empty() {
        // CONNECT: the target is the authority.
        req.set_target(head.authority.as_deref().unwrap_or_default());
    } else {
        req.set_target(&head.path);
    }
    let has_host = head.fields.iter().any(|(n, _)| n == b"host");
    if let (Some(a), false) = (&head.authority, has_host) {
        // Handlers read the authority as Host whatever the protocol.
        req.push_header(b"host", a);
    }
    for (n, v) in &head.fields {
        req.push_header(n, v);
    }
    req.set_peer_addr(Some(peer));
}

/// A response's fields: a stack array, moved into a `Vec` if it overflows.
struct FieldList<'f, const N: usize> {
    array: [(&'f [u8], &'f [u8]); N],
    used: usize,
    spill: Vec<(&'f [u8], &'f [u8])>,
}

impl<'f, const N: usize> FieldList<'f, N> {
    fn new() -> Self {
        FieldList {
            array: [(&[], &[]); N],
            used: 0,
            spill: Vec::new(),
        }
    }

    fn push(&mut self, field: (&'f [u8], &'f [u8])) {
        if self.used < N {
            self.array[self.used] = field;
            self.used += 1;
            return;
        }
        if self.spill.is_empty() {
            self.spill.extend_from_slice(&self.array);
        }
        self.spill.push(field);
    }

    fn as_slice(&self) -> &[(&'f [u8], &'f [u8])] {
        if self.spill.is_empty() {
            &self.array[..self.used]
        } else {
            &self.spill
        }
    }
}

/// Hashes a stream id with one multiplication instead of SipHash (the peer's
/// open streams are bounded by the concurrent-stream limit, so colliding ids
/// buy it little).
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

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

/// Formats a number into a small stack buffer.
fn itoa_buf(mut n: u64) -> SmallBuf {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    SmallBuf { buf, start: i }
}

struct SmallBuf {
    buf: [u8; 20],
    start: usize,
}

impl SmallBuf {
    fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

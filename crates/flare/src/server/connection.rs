//! A connection in a worker's slab: a protocol driver over a transport.
//!
//! Protocol and transport are two axes. [`Driver<T>`] is the protocol (HTTP/1.1,
//! HTTP/2, WebSocket), generic over its [`Transport`]; [`Connection`] picks the
//! transport (plain TCP, TLS, io_uring, or a TLS handshake not yet done). A new
//! protocol is one variant of `Driver`, a new transport one variant of `Connection`.

use std::time::Instant;

use std::os::fd::BorrowedFd;

use flare_net::{TcpStream, UnixStream};
use flare_web::Handler;

use super::conn::{Buffers, Conn, Ctx, Deadline, Service, Step, Upgrade, UpgradeParts};
use super::h2conn::H2Conn;
use super::proxy::ProxyStart;
use super::raw::RawConn;
use super::tls::{Handshake, HandshakeStep, Negotiated, TlsIo};
use super::transport::Transport;
#[cfg(all(target_os = "linux", feature = "io-uring"))]
use super::uring::{Remains, UringIo};
use super::wsconn::WsConn;

/// The protocol a connection speaks now. HTTP/1.1 stays inline (the hot path
/// does not chase a pointer); the others are boxed.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Driver<T> {
    H1(Conn<T>),
    H2(Box<H2Conn<T>>),
    Ws(Box<WsConn<T>>),
    /// A user's own protocol (`TcpServer`).
    Raw(Box<RawConn<T>>),
}

/// The transport a connection runs on, each carrying its protocol driver.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Connection {
    Plain(Driver<TcpStream>),
    /// A Unix stream socket.
    Unix(Driver<UnixStream>),
    /// TLS, handshaking.
    Handshake(Box<Handshake>),
    /// Reading a PROXY header, before the port's protocol starts.
    Proxy(Box<ProxyStart>),
    Tls(Box<Driver<TlsIo>>),
    /// I/O through the worker's io_uring.
    #[cfg(all(target_os = "linux", feature = "io-uring"))]
    Uring(Driver<UringIo>),
}

/// Calls the same method on whichever protocol driver it is.
macro_rules! each_driver {
    ($self:expr, $c:ident => $e:expr) => {
        match $self {
            Driver::H1($c) => $e,
            Driver::H2($c) => $e,
            Driver::Ws($c) => $e,
            Driver::Raw($c) => $e,
        }
    };
}

/// Calls the same method on whichever driver the connection has (the handshake
/// answers the same calls).
macro_rules! each {
    ($self:expr, $c:ident => $e:expr) => {
        match $self {
            Connection::Plain($c) => $e,
            Connection::Unix($c) => $e,
            Connection::Handshake($c) => $e,
            Connection::Proxy($c) => $e,
            Connection::Tls($c) => $e,
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            Connection::Uring($c) => $e,
        }
    };
}

impl<T: Transport> Driver<T> {
    pub(crate) fn io(&self) -> &T {
        match self {
            Driver::H1(c) => &c.io,
            Driver::H2(c) => c.io(),
            Driver::Ws(c) => c.io(),
            Driver::Raw(c) => c.io(),
        }
    }
    #[cfg(all(target_os = "linux", feature = "io-uring"))]
    fn io_mut(&mut self) -> &mut T {
        match self {
            Driver::H1(c) => &mut c.io,
            Driver::H2(c) => c.io_mut(),
            Driver::Ws(c) => c.io_mut(),
            Driver::Raw(c) => c.io_mut(),
        }
    }
    #[inline]
    fn poll_state(&self) -> (bool, bool, bool, Option<(Instant, Deadline)>) {
        match self {
            Driver::H1(c) => (
                c.want_write,
                c.write_registered,
                c.read_closed(),
                c.deadline,
            ),
            Driver::H2(c) => (c.want_write, c.write_registered, false, c.deadline),
            Driver::Ws(c) => (c.want_write, c.write_registered, c.read_off(), c.deadline),
            Driver::Raw(c) => (c.want_write, c.write_registered, c.read_off(), c.deadline),
        }
    }
    fn want_write(&self) -> bool {
        each_driver!(self, c => c.want_write)
    }
    fn write_registered(&self) -> bool {
        each_driver!(self, c => c.write_registered)
    }
    fn set_write_registered(&mut self, on: bool) {
        each_driver!(self, c => c.write_registered = on)
    }
    /// The transport, when the driver is dropped (a failed TLS session).
    fn into_io(self) -> T {
        match self {
            Driver::H1(c) => c.io,
            Driver::H2(c) => c.into_io(),
            Driver::Ws(c) => (*c).into_io(),
            Driver::Raw(c) => (*c).into_io(),
        }
    }
    fn deadline(&self) -> Option<(Instant, Deadline)> {
        each_driver!(self, c => c.deadline)
    }
    fn set_deadline(&mut self, d: Option<(Instant, Deadline)>) {
        each_driver!(self, c => c.deadline = d)
    }
    #[inline(always)]
    fn on_readable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        each_driver!(self, c => c.on_readable(cx))
    }
    fn on_writable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        each_driver!(self, c => c.on_writable(cx))
    }
    fn on_stream_wake<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        each_driver!(self, c => c.on_stream_wake(cx))
    }
    fn on_deadline<H: Handler>(&mut self, kind: Deadline, cx: &Ctx<'_, H>) -> Step {
        each_driver!(self, c => c.on_deadline(kind, cx))
    }
    fn on_drain<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        each_driver!(self, c => c.on_drain(cx))
    }
    fn cancel(&self) {
        each_driver!(self, c => c.cancel())
    }
    fn into_buffers(self) -> Option<Buffers> {
        match self {
            Driver::H1(c) => c.into_buffers(),
            _ => None,
        }
    }
    /// Hands an HTTP/1.1 connection that asked for another protocol (h2c, WebSocket)
    /// to that protocol's driver, with its transport and the bytes either way.
    fn upgrade<H: Handler>(self, cx: &Ctx<'_, H>) -> (Driver<T>, Step) {
        let Driver::H1(c) = self else {
            return (self, Step::Keep);
        };
        let registered = c.write_registered;
        let parts = match c.into_upgrade() {
            Ok(parts) => parts,
            Err(c) => return (Driver::H1(c), Step::Close),
        };
        let (mut d, step) = Driver::from_parts(parts, cx);
        d.set_write_registered(registered);
        (d, step)
    }
    /// The driver an upgrade asks for.
    fn from_parts<H: Handler>(parts: UpgradeParts<T>, cx: &Ctx<'_, H>) -> (Driver<T>, Step) {
        let (d, step) = match parts.kind {
            Upgrade::WebSocket(_) => {
                let (ws, step) = WsConn::from_upgrade(parts, cx);
                (Driver::Ws(Box::new(ws)), step)
            }
            Upgrade::Preface | Upgrade::H2c { .. } => {
                let (h2, step) = H2Conn::from_upgrade(parts, cx);
                (Driver::H2(Box::new(h2)), step)
            }
        };
        (d, no_second_upgrade(step))
    }
}

impl Connection {
    /// The socket, for the poller.
    pub(crate) fn fd(&self) -> BorrowedFd<'_> {
        match self {
            Connection::Plain(d) => d.io().fd(),
            Connection::Unix(d) => d.io().fd(),
            Connection::Handshake(h) => h.io.fd(),
            Connection::Proxy(p) => std::os::fd::AsFd::as_fd(&p.sock),
            Connection::Tls(d) => d.io().fd(),
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            Connection::Uring(d) => d.io().fd(),
        }
    }
    /// Whether the connection's I/O goes through the worker's ring.
    #[inline]
    pub(crate) fn on_ring(&self) -> bool {
        #[cfg(all(target_os = "linux", feature = "io-uring"))]
        return matches!(self, Connection::Uring(_));
        #[cfg(not(all(target_os = "linux", feature = "io-uring")))]
        false
    }
    /// The io_uring transport, for connections on the ring.
    #[cfg(all(target_os = "linux", feature = "io-uring"))]
    #[inline]
    pub(crate) fn uring_io(&mut self) -> Option<&mut UringIo> {
        match self {
            Connection::Uring(d) => Some(d.io_mut()),
            _ => None,
        }
    }
    /// Takes a ring connection's socket and buffers out before it is dropped (the
    /// kernel may still own some of them).
    #[cfg(all(target_os = "linux", feature = "io-uring"))]
    pub(crate) fn take_uring_remains(&mut self) -> Option<Remains> {
        self.uring_io().map(UringIo::take_remains)
    }
    /// What the worker syncs after a step, read in one match: (wants writability,
    /// writability registered, reading over, deadline). "Reading over": the driver
    /// takes no input now (the peer stopped sending, or output must drain first), so
    /// the poller should stop reporting readability.
    #[inline]
    pub(crate) fn poll_state(&self) -> (bool, bool, bool, Option<(Instant, Deadline)>) {
        match self {
            Connection::Plain(d) => d.poll_state(),
            Connection::Unix(d) => d.poll_state(),
            Connection::Tls(d) => d.poll_state(),
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            Connection::Uring(d) => d.poll_state(),
            Connection::Handshake(h) => (h.want_write, h.write_registered, false, h.deadline),
            Connection::Proxy(p) => (p.want_write, p.write_registered, false, p.deadline),
        }
    }
    pub(crate) fn want_write(&self) -> bool {
        match self {
            Connection::Handshake(h) => h.want_write,
            Connection::Proxy(p) => p.want_write,
            Connection::Plain(d) => d.want_write(),
            Connection::Unix(d) => d.want_write(),
            Connection::Tls(d) => d.want_write(),
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            Connection::Uring(d) => d.want_write(),
        }
    }
    pub(crate) fn set_write_registered(&mut self, on: bool) {
        match self {
            Connection::Handshake(h) => h.write_registered = on,
            Connection::Proxy(p) => p.write_registered = on,
            Connection::Plain(d) => d.set_write_registered(on),
            Connection::Unix(d) => d.set_write_registered(on),
            Connection::Tls(d) => d.set_write_registered(on),
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            Connection::Uring(d) => d.set_write_registered(on),
        }
    }
    pub(crate) fn deadline(&self) -> Option<(Instant, Deadline)> {
        match self {
            Connection::Handshake(h) => h.deadline,
            Connection::Proxy(p) => p.deadline,
            Connection::Plain(d) => d.deadline(),
            Connection::Unix(d) => d.deadline(),
            Connection::Tls(d) => d.deadline(),
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            Connection::Uring(d) => d.deadline(),
        }
    }
    pub(crate) fn set_deadline(&mut self, dl: Option<(Instant, Deadline)>) {
        match self {
            Connection::Handshake(h) => h.deadline = dl,
            Connection::Proxy(p) => p.deadline = dl,
            Connection::Plain(d) => d.set_deadline(dl),
            Connection::Unix(d) => d.set_deadline(dl),
            Connection::Tls(d) => d.set_deadline(dl),
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            Connection::Uring(d) => d.set_deadline(dl),
        }
    }
    #[inline(always)]
    pub(crate) fn on_readable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        let step = match self {
            Connection::Tls(d) => tls_readable(d, cx),
            _ => each!(self, c => c.on_readable(cx)),
        };
        self.tls_failed_to_closing(step)
    }
    pub(crate) fn on_writable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        let step = each!(self, c => c.on_writable(cx));
        self.tls_failed_to_closing(step)
    }
    /// A TLS driver that closes on a failed session is switched (through
    /// [`upgrade`](Self::upgrade)) to the handshake's closing state instead, so the
    /// alert goes out before an orderly close (tls.rs).
    #[inline(always)]
    fn tls_failed_to_closing(&self, step: Step) -> Step {
        if step != Step::Close {
            return step;
        }
        match self {
            Connection::Tls(d) if d.io().failed() => Step::Upgrade,
            _ => step,
        }
    }
    pub(crate) fn on_stream_wake<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        each!(self, c => c.on_stream_wake(cx))
    }
    pub(crate) fn on_deadline<H: Handler>(&mut self, kind: Deadline, cx: &Ctx<'_, H>) -> Step {
        each!(self, c => c.on_deadline(kind, cx))
    }
    pub(crate) fn on_drain<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        each!(self, c => c.on_drain(cx))
    }
    pub(crate) fn cancel(&self) {
        each!(self, c => c.cancel())
    }
    /// Starts a driver that has work at accept (a user's protocol greets).
    pub(crate) fn open<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        match self {
            Connection::Plain(Driver::Raw(c)) => c.open(cx),
            Connection::Unix(Driver::Raw(c)) => c.open(cx),
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            Connection::Uring(Driver::Raw(c)) => c.open(cx),
            _ => Step::Keep,
        }
    }
    /// Buffers to reuse for the next connection (HTTP/1.1 only).
    pub(crate) fn into_buffers(self) -> Option<Buffers> {
        match self {
            Connection::Plain(d) => d.into_buffers(),
            Connection::Unix(d) => d.into_buffers(),
            Connection::Tls(d) => d.into_buffers(),
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            Connection::Uring(d) => d.into_buffers(),
            Connection::Handshake(_) | Connection::Proxy(_) => None,
        }
    }
    /// Switches the protocol of a connection that asked for it: HTTP/1.1 to HTTP/2
    /// or WebSocket, or a finished TLS handshake to what ALPN chose.
    pub(crate) fn upgrade<H: Handler>(self, cx: &Ctx<'_, H>) -> (Connection, Step) {
        match self {
            Connection::Plain(d) => {
                let (d, step) = d.upgrade(cx);
                (Connection::Plain(d), step)
            }
            Connection::Unix(d) => {
                let (d, step) = d.upgrade(cx);
                (Connection::Unix(d), step)
            }
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            Connection::Uring(d) => {
                let (d, step) = d.upgrade(cx);
                (Connection::Uring(d), step)
            }
            // A failed TLS session (see `tls_failed_to_closing`).
            Connection::Tls(d) if d.io().failed() => {
                let registered = d.write_registered();
                (tls_closing(d.into_io(), registered, cx), Step::Keep)
            }
            Connection::Tls(d) => {
                let (d, step) = d.upgrade(cx);
                (Connection::Tls(Box::new(d)), step)
            }
            Connection::Proxy(p) => after_proxy(*p, cx),
            Connection::Handshake(h) => {
                let Handshake {
                    io,
                    peer,
                    early,
                    write_registered,
                    socket_peer,
                    ..
                } = *h;
                if let Service::Raw(make) = cx.service {
                    // A user's protocol over TLS: ALPN is the protocol's business.
                    let mut c = RawConn::new(io, peer, make(peer), &early);
                    c.write_registered = write_registered;
                    let step = c.open(cx);
                    return (Connection::Tls(Box::new(Driver::Raw(Box::new(c)))), step);
                }
                match io_negotiated(&io) {
                    Negotiated::H2 => {
                        let parts = UpgradeParts {
                            io,
                            peer,
                            kind: Upgrade::Preface,
                            leftover: early,
                            pending_out: Vec::new(),
                            req: flare_web::Request::default(),
                            socket_peer,
                        };
                        let (mut d, step) = Driver::from_parts(parts, cx);
                        d.set_write_registered(write_registered);
                        (Connection::Tls(Box::new(d)), step)
                    }
                    Negotiated::H1 => {
                        let mut c = Conn::after_tls(io, peer, Buffers::new(), cx.cfg, &early);
                        c.write_registered = write_registered;
                        if let Some(sp) = socket_peer {
                            c.set_socket_peer(sp);
                        }
                        // h2c is off over TLS; a WebSocket upgrade is the one switch
                        // left, and the worker asks for it with the next step.
                        let step = c.start(cx);
                        let d = Driver::H1(c);
                        let (d, step) = if step == Step::Upgrade {
                            d.upgrade(cx)
                        } else {
                            (d, step)
                        };
                        (Connection::Tls(Box::new(d)), step)
                    }
                }
            }
        }
    }
}

/// The PROXY header is read: the port's driver starts with the proxied client as
/// its peer and the bytes that followed the header.
fn after_proxy<H: Handler>(p: ProxyStart, cx: &Ctx<'_, H>) -> (Connection, Step) {
    let ProxyStart {
        sock,
        socket_peer,
        tls,
        done,
        write_registered,
        ..
    } = p;
    let Some((client, rest)) = done else {
        return (
            Connection::Proxy(Box::new(ProxyStart::new(
                sock,
                socket_peer,
                tls,
                Default::default(),
            ))),
            Step::Close,
        );
    };
    if let Some(cfg) = tls {
        let session = match flare_tls::ServerSession::new(&cfg) {
            Ok(s) => s,
            Err(e) => {
                log::warn!("tls session: {e}");
                return (
                    Connection::Proxy(Box::new(ProxyStart::new(
                        sock,
                        socket_peer,
                        None,
                        Default::default(),
                    ))),
                    Step::Close,
                );
            }
        };
        let mut io = TlsIo::new(sock, session);
        io.preload(&rest);
        let mut h = Handshake::new(io, client, cx.now + cfg.handshake_timeout());
        h.write_registered = write_registered;
        h.socket_peer = Some(socket_peer);
        let mut conn = Connection::Handshake(Box::new(h));
        // The ClientHello may be in `rest` already: no readiness event would come.
        let step = conn.on_readable(cx);
        if step == Step::Upgrade {
            return conn.upgrade(cx);
        }
        return (conn, step);
    }
    if let Service::Raw(make) = cx.service {
        let mut c = RawConn::new(sock, client, make(client), &rest);
        c.write_registered = write_registered;
        let step = c.open(cx);
        return (Connection::Plain(Driver::Raw(Box::new(c))), step);
    }
    let mut c = Conn::after_tls(sock, client, Buffers::new(), cx.cfg, &rest);
    c.set_h2c(true);
    c.set_socket_peer(socket_peer);
    c.write_registered = write_registered;
    let step = c.start(cx);
    let d = Driver::H1(c);
    let (d, step) = if step == Step::Upgrade {
        d.upgrade(cx)
    } else {
        (d, step)
    };
    (Connection::Plain(d), step)
}

/// Readable on TLS. A driver reads once per event, but one socket read can carry
/// several records, so plaintext (in the session) or ciphertext (in `TlsIo`) can be
/// left behind that no readiness event will announce: an HTTP/2 upload then
/// stalled. While the transport may hold input and the driver keeps reading, run
/// its read path again (bounded, so one connection cannot hold the worker).
fn tls_readable<H: Handler>(d: &mut Driver<TlsIo>, cx: &Ctx<'_, H>) -> Step {
    let mut step = d.on_readable(cx);
    for _ in 0..64 {
        if step != Step::Keep || !d.io().may_hold_input() {
            break;
        }
        let before = d.io().reads();
        step = d.on_readable(cx);
        if d.io().reads() == before {
            // The driver did not read (its input is full): it reads again when it
            // has room, on its own.
            break;
        }
    }
    step
}

/// The closing state for an established TLS connection whose session failed.
fn tls_closing<H: Handler>(io: TlsIo, write_registered: bool, cx: &Ctx<'_, H>) -> Connection {
    let peer = io
        .socket()
        .peer_addr()
        .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into());
    let h = Handshake::closing(io, peer, write_registered, cx.now, cx.cfg.linger_timeout);
    Connection::Handshake(Box::new(h))
}

/// A connection already past its one protocol switch (h2c, WebSocket or ALPN)
/// cannot ask for another: such a request closes it.
fn no_second_upgrade(step: Step) -> Step {
    if step == Step::Upgrade {
        Step::Close
    } else {
        step
    }
}

fn io_negotiated(io: &TlsIo) -> Negotiated {
    if io.session().alpn_protocol() == Some(b"h2") {
        Negotiated::H2
    } else {
        Negotiated::H1
    }
}

// The handshake answers the same calls as the protocol drivers.
impl Handshake {
    fn on_readable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        match self.step(cx.now, cx.cfg.linger_timeout) {
            HandshakeStep::Pending => Step::Keep,
            HandshakeStep::Done => Step::Upgrade,
            HandshakeStep::Failed => Step::Close,
        }
    }
    fn on_writable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        self.on_readable(cx)
    }
    fn on_stream_wake<H: Handler>(&mut self, _cx: &Ctx<'_, H>) -> Step {
        Step::Keep
    }
    fn on_deadline<H: Handler>(&mut self, _kind: Deadline, _cx: &Ctx<'_, H>) -> Step {
        // The handshake did not finish in time, or the linger after an alert ended.
        Step::Close
    }
    fn on_drain<H: Handler>(&mut self, _cx: &Ctx<'_, H>) -> Step {
        Step::Close
    }
    fn cancel(&self) {}
}

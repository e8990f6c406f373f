//! A connection in a worker's slab: HTTP/1.1 or HTTP/2 over a transport.

use std::time::Instant;

use flare_net::TcpStream;
use flare_web::Handler;

use super::conn::{Buffers, Conn, Ctx, Deadline, Step, Upgrade, UpgradeParts};
use super::h2conn::H2Conn;
use super::tls::{Handshake, HandshakeStep, Negotiated, TlsIo};
use super::transport::Transport;
#[cfg(target_os = "linux")]
use super::uring::{Remains, UringIo};

/// The protocol a connection speaks now. HTTP/1.1 stays inline (the hot path
/// does not chase a pointer); HTTP/2 is boxed.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Connection {
    H1(Conn<TcpStream>),
    H2(Box<H2Conn<TcpStream>>),
    /// TLS, handshaking.
    Tls(Box<Handshake>),
    H1Tls(Box<Conn<TlsIo>>),
    H2Tls(Box<H2Conn<TlsIo>>),
    /// HTTP/1.1 with its I/O through the worker's io_uring.
    #[cfg(target_os = "linux")]
    H1U(Conn<UringIo>),
    #[cfg(target_os = "linux")]
    H2U(Box<H2Conn<UringIo>>),
}

/// Calls the same method on whichever driver the connection has.
macro_rules! each {
    ($self:expr, $c:ident => $e:expr) => {
        match $self {
            Connection::H1($c) => $e,
            Connection::H2($c) => $e,
            Connection::Tls($c) => $e,
            Connection::H1Tls($c) => $e,
            Connection::H2Tls($c) => $e,
            #[cfg(target_os = "linux")]
            Connection::H1U($c) => $e,
            #[cfg(target_os = "linux")]
            Connection::H2U($c) => $e,
        }
    };
}

impl Connection {
    pub(crate) fn socket(&self) -> &TcpStream {
        match self {
            Connection::H1(c) => c.io.socket(),
            Connection::H2(c) => c.io().socket(),
            Connection::Tls(h) => h.io.socket(),
            Connection::H1Tls(c) => c.io.socket(),
            Connection::H2Tls(c) => c.io().socket(),
            #[cfg(target_os = "linux")]
            Connection::H1U(c) => c.io.socket(),
            #[cfg(target_os = "linux")]
            Connection::H2U(c) => c.io().socket(),
        }
    }
    /// Whether the connection's I/O goes through the worker's ring.
    #[inline]
    pub(crate) fn on_ring(&self) -> bool {
        #[cfg(target_os = "linux")]
        return matches!(self, Connection::H1U(_) | Connection::H2U(_));
        #[cfg(not(target_os = "linux"))]
        false
    }
    /// The io_uring transport, for connections on the ring.
    #[cfg(target_os = "linux")]
    #[inline]
    pub(crate) fn uring_io(&mut self) -> Option<&mut UringIo> {
        match self {
            Connection::H1U(c) => Some(&mut c.io),
            Connection::H2U(c) => Some(c.io_mut()),
            _ => None,
        }
    }
    /// Takes a ring connection's socket and buffers out before it is dropped (the
    /// kernel may still own some of them).
    #[cfg(target_os = "linux")]
    pub(crate) fn take_uring_remains(&mut self) -> Option<Remains> {
        self.uring_io().map(UringIo::take_remains)
    }
    /// What the worker syncs after a step, read in one match: (wants writability,
    /// writability registered, reading over, deadline). "Reading over": the peer
    /// stopped sending (HTTP/1.1 answering what it buffered), so the poller should
    /// stop reporting its end-of-stream.
    #[inline]
    pub(crate) fn poll_state(&self) -> (bool, bool, bool, Option<(Instant, Deadline)>) {
        match self {
            Connection::H1(c) => (
                c.want_write,
                c.write_registered,
                c.read_closed(),
                c.deadline,
            ),
            Connection::H1Tls(c) => (
                c.want_write,
                c.write_registered,
                c.read_closed(),
                c.deadline,
            ),
            #[cfg(target_os = "linux")]
            Connection::H1U(c) => (
                c.want_write,
                c.write_registered,
                c.read_closed(),
                c.deadline,
            ),
            other => (
                other.want_write(),
                other.write_registered(),
                false,
                other.deadline(),
            ),
        }
    }
    pub(crate) fn want_write(&self) -> bool {
        each!(self, c => c.want_write)
    }
    pub(crate) fn write_registered(&self) -> bool {
        each!(self, c => c.write_registered)
    }
    pub(crate) fn set_write_registered(&mut self, on: bool) {
        each!(self, c => c.write_registered = on)
    }
    pub(crate) fn deadline(&self) -> Option<(Instant, Deadline)> {
        each!(self, c => c.deadline)
    }
    pub(crate) fn set_deadline(&mut self, d: Option<(Instant, Deadline)>) {
        each!(self, c => c.deadline = d)
    }
    #[inline(always)]
    pub(crate) fn on_readable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        let step = each!(self, c => c.on_readable(cx));
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
            Connection::H1Tls(c) if c.io.failed() => Step::Upgrade,
            Connection::H2Tls(c) if c.io().failed() => Step::Upgrade,
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
    /// Buffers to reuse for the next connection (HTTP/1.1 only).
    pub(crate) fn into_buffers(self) -> Option<Buffers> {
        match self {
            Connection::H1(c) => c.into_buffers(),
            Connection::H1Tls(c) => c.into_buffers(),
            #[cfg(target_os = "linux")]
            Connection::H1U(c) => c.into_buffers(),
            _ => None,
        }
    }
    /// Switches an HTTP/1.1 connection that asked for it to HTTP/2.
    pub(crate) fn upgrade<H: Handler>(self, cx: &Ctx<'_, H>) -> (Connection, Step) {
        match self {
            Connection::H1(c) => match h1_to_h2(c, cx) {
                Ok((h2, step)) => (Connection::H2(Box::new(h2)), step),
                Err(c) => (Connection::H1(c), Step::Close),
            },
            #[cfg(target_os = "linux")]
            Connection::H1U(c) => match h1_to_h2(c, cx) {
                Ok((h2, step)) => (Connection::H2U(Box::new(h2)), step),
                Err(c) => (Connection::H1U(c), Step::Close),
            },
            Connection::Tls(h) => {
                let Handshake {
                    io,
                    peer,
                    early,
                    write_registered,
                    ..
                } = *h;
                match io_negotiated(&io) {
                    Negotiated::H2 => {
                        let parts = UpgradeParts {
                            io,
                            peer,
                            kind: Upgrade::Preface,
                            leftover: early,
                            pending_out: Vec::new(),
                            req: flare_web::Request::default(),
                        };
                        let (mut h2, step) = H2Conn::from_upgrade(parts, cx);
                        h2.write_registered = write_registered;
                        let step = no_second_upgrade(step);
                        (Connection::H2Tls(Box::new(h2)), step)
                    }
                    Negotiated::H1 => {
                        let mut c = Conn::after_tls(io, peer, Buffers::new(), cx.cfg, &early);
                        c.write_registered = write_registered;
                        let step = c.start(cx);
                        // h2c is off over TLS, so no further upgrade can be asked.
                        let step = no_second_upgrade(step);
                        (Connection::H1Tls(Box::new(c)), step)
                    }
                }
            }
            // A failed TLS session (see `tls_failed_to_closing`).
            Connection::H1Tls(c) if c.io.failed() => {
                let registered = c.write_registered;
                let io = c.io;
                (tls_closing(io, registered, cx), Step::Keep)
            }
            Connection::H2Tls(c) if c.io().failed() => {
                let registered = c.write_registered;
                (tls_closing(c.into_io(), registered, cx), Step::Keep)
            }
            other => (other, Step::Keep),
        }
    }
}

/// The closing state for an established TLS connection whose session failed.
fn tls_closing<H: Handler>(io: TlsIo, write_registered: bool, cx: &Ctx<'_, H>) -> Connection {
    let peer = io
        .socket()
        .peer_addr()
        .unwrap_or_else(|_| ([0, 0, 0, 0], 0).into());
    let h = Handshake::closing(io, peer, write_registered, cx.now, cx.cfg.linger_timeout);
    Connection::Tls(Box::new(h))
}

/// A connection already past its one protocol switch (h2c or ALPN) cannot ask for
/// another: such a request closes it.
fn no_second_upgrade(step: Step) -> Step {
    if step == Step::Upgrade {
        Step::Close
    } else {
        step
    }
}

/// Hands an HTTP/1.1 connection that asked for h2c to the HTTP/2 driver.
// Called once per upgrade; boxing the error side would cost the same.
#[allow(clippy::result_large_err)]
fn h1_to_h2<T: Transport, H: Handler>(
    c: Conn<T>,
    cx: &Ctx<'_, H>,
) -> Result<(H2Conn<T>, Step), Conn<T>> {
    let registered = c.write_registered;
    let parts = c.into_upgrade()?;
    let (mut h2, step) = H2Conn::from_upgrade(parts, cx);
    h2.write_registered = registered;
    let step = no_second_upgrade(step);
    Ok((h2, step))
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

//! A connection in a worker's slab: HTTP/1.1 or HTTP/2 over a transport.

use std::time::Instant;

use flare_net::TcpStream;
use flare_web::Handler;

use super::conn::{Buffers, Conn, Ctx, Deadline, Step, Upgrade, UpgradeParts};
use super::h2conn::H2Conn;
use super::tls::{Handshake, HandshakeStep, Negotiated, TlsIo};
use super::transport::Transport;

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
    pub(crate) fn on_readable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        each!(self, c => c.on_readable(cx))
    }
    pub(crate) fn on_writable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        each!(self, c => c.on_writable(cx))
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
            _ => None,
        }
    }
    /// Switches an HTTP/1.1 connection that asked for it to HTTP/2.
    pub(crate) fn upgrade<H: Handler>(self, cx: &Ctx<'_, H>) -> (Connection, Step) {
        match self {
            Connection::H1(c) => {
                let registered = c.write_registered;
                let parts = match c.into_upgrade() {
                    Ok(p) => p,
                    Err(c) => return (Connection::H1(c), Step::Close),
                };
                let (mut h2, step) = H2Conn::from_upgrade(parts, cx);
                h2.write_registered = registered;
                let step = if step == Step::Upgrade {
                    Step::Close
                } else {
                    step
                };
                (Connection::H2(Box::new(h2)), step)
            }
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
                        let step = if step == Step::Upgrade {
                            Step::Close
                        } else {
                            step
                        };
                        (Connection::H2Tls(Box::new(h2)), step)
                    }
                    Negotiated::H1 => {
                        let mut c = Conn::after_tls(io, peer, Buffers::new(), cx.cfg, &early);
                        c.write_registered = write_registered;
                        let step = c.start(cx);
                        // h2c is off over TLS, so no further upgrade can be asked.
                        let step = if step == Step::Upgrade {
                            Step::Close
                        } else {
                            step
                        };
                        (Connection::H1Tls(Box::new(c)), step)
                    }
                }
            }
            other => (other, Step::Keep),
        }
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
    fn on_readable<H: Handler>(&mut self, _cx: &Ctx<'_, H>) -> Step {
        match self.step() {
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
        // The handshake did not finish in time.
        Step::Close
    }
    fn on_drain<H: Handler>(&mut self, _cx: &Ctx<'_, H>) -> Step {
        Step::Close
    }
    fn cancel(&self) {}
}

//! A connection in a worker's slab: HTTP/1.1 or HTTP/2 over a transport.

use std::time::Instant;

use flare_net::TcpStream;
use flare_web::Handler;

use super::conn::{Buffers, Conn, Ctx, Deadline, Step};
use super::h2conn::H2Conn;
use super::transport::Transport;

/// The protocol a connection speaks now. HTTP/1.1 stays inline (the hot path
/// does not chase a pointer); HTTP/2 is boxed.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Connection {
    H1(Conn<TcpStream>),
    H2(Box<H2Conn<TcpStream>>),
}

/// Calls the same method on whichever driver the connection has.
macro_rules! each {
    ($self:expr, $c:ident => $e:expr) => {
        match $self {
            Connection::H1($c) => $e,
            Connection::H2($c) => $e,
        }
    };
}

impl Connection {
    pub(crate) fn socket(&self) -> &TcpStream {
        match self {
            Connection::H1(c) => c.io.socket(),
            Connection::H2(c) => c.io().socket(),
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
            Connection::H2(_) => None,
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
            other => (other, Step::Keep),
        }
    }
}

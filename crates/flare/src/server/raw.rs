//! Your own protocol on flare's workers: the [`Protocol`] trait and its driver.
//!
//! A protocol is a per-connection state machine that the worker steps, in the style
//! of flare's codecs: bytes in (with the time), bytes out, a wanted deadline, close.
//! The worker owns the socket (plain TCP, Unix, TLS or io_uring), the buffers, the
//! timers, back-pressure and drain; the protocol sees none of it. The HTTP/1.1,
//! HTTP/2 and WebSocket drivers sit on the same seam (a driver over a
//! `Transport`), with their own codecs in place of the trait object.
//!
//! ```no_run
//! use flare::tcp::{Context, Protocol, TcpServer};
//!
//! /// Each line back, upper-cased.
//! struct Shout;
//! impl Protocol for Shout {
//!     fn on_data(&mut self, input: &[u8], cx: &mut Context<'_>) -> usize {
//!         let mut used = 0;
//!         while let Some(n) = input[used..].iter().position(|&b| b == b'\n') {
//!             let line = &input[used..used + n + 1];
//!             cx.write(&line.to_ascii_uppercase());
//!             used += n + 1;
//!         }
//!         used
//!     }
//! }
//!
//! fn main() -> flare::Result<()> {
//!     TcpServer::bind("127.0.0.1:7000")?.workers(2).serve(|_peer| Shout)
//! }
//! ```

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::Instant;

use flare_web::{Handler, StreamWaker};

use super::conn::{Ctx, Deadline, Step};
use super::transport::Transport;

/// A connection-oriented protocol the worker drives. Every method runs on the
/// connection's worker thread; one that blocks stalls that worker.
pub trait Protocol: Send + 'static {
    /// The connection is open (greet here, arm a deadline).
    fn on_open(&mut self, cx: &mut Context<'_>) {
        let _ = cx;
    }
    /// Bytes arrived: `input` holds everything not consumed yet. Return how many
    /// bytes were used; the rest is offered again, with more, on the next call.
    /// Replies go to `cx`. Not called while the connection's unsent output is over
    /// its high-water mark (back-pressure), nor after `cx.close()`.
    fn on_data(&mut self, input: &[u8], cx: &mut Context<'_>) -> usize;
    /// A [`Waker`] of this connection was woken (from any thread).
    fn on_wake(&mut self, cx: &mut Context<'_>) {
        let _ = cx;
    }
    /// The deadline set with [`Context::set_deadline`] passed.
    fn on_timeout(&mut self, cx: &mut Context<'_>) {
        cx.close();
    }
    /// The server is draining: finish what is in progress and close. The default
    /// closes at once (after what was written); the worker closes whatever is left
    /// at the end of the grace.
    fn on_drain(&mut self, cx: &mut Context<'_>) {
        cx.close();
    }
    /// The connection ended (the peer closed, an error, or after `cx.close()`).
    fn on_close(&mut self) {}
}

/// What a [`Protocol`] method may do with its connection.
pub struct Context<'a> {
    out: &'a mut Vec<u8>,
    now: Instant,
    peer: SocketAddr,
    close: &'a mut bool,
    deadline: &'a mut Option<Instant>,
    draining: bool,
    make_waker: &'a dyn Fn() -> StreamWaker,
}

impl Context<'_> {
    /// Queues bytes to send.
    pub fn write(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
    }
    /// The send buffer itself (append to it; do not remove what is there).
    pub fn output(&mut self) -> &mut Vec<u8> {
        self.out
    }
    /// Bytes queued and not yet written to the socket.
    pub fn pending_output(&self) -> usize {
        self.out.len()
    }
    /// The time this step started (read once per loop turn).
    pub fn now(&self) -> Instant {
        self.now
    }
    /// The peer's address (for a Unix socket, `0.0.0.0:0`).
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }
    /// Close once what is queued is written.
    pub fn close(&mut self) {
        *self.close = true;
    }
    /// Calls [`Protocol::on_timeout`] at `at` (one deadline per connection; `None`
    /// clears it). The server's idle timeout applies while none is set.
    pub fn set_deadline(&mut self, at: Option<Instant>) {
        *self.deadline = at;
    }
    /// Whether the server is draining.
    pub fn is_draining(&self) -> bool {
        self.draining
    }
    /// A handle that wakes this connection from any thread
    /// ([`Protocol::on_wake`]), e.g. when a result computed elsewhere is ready.
    pub fn waker(&self) -> Waker {
        Waker((self.make_waker)())
    }
}

/// Wakes one connection's [`Protocol`] from any thread. Waking a closed connection
/// does nothing.
#[derive(Clone)]
pub struct Waker(StreamWaker);

impl Waker {
    /// Schedules [`Protocol::on_wake`] on the connection's worker.
    pub fn wake(&self) {
        self.0.wake();
    }
}

impl std::fmt::Debug for Waker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Waker")
    }
}

/// Makes the protocol state of each new connection.
pub(crate) type Factory = dyn Fn(SocketAddr) -> Box<dyn Protocol> + Send + Sync;

/// Unsent output past which input is no longer handed to the protocol.
const OUT_HIGH: usize = 256 * 1024;
const RBUF_INITIAL: usize = 4096;

/// The driver of a [`Protocol`] over a transport.
pub(crate) struct RawConn<T> {
    io: T,
    proto: Slot,
    peer: SocketAddr,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    close: bool,
    proto_deadline: Option<Instant>,
    last_seen: Instant,
    peer_closed: bool,
    pub(crate) want_write: bool,
    pub(crate) write_registered: bool,
    pub(crate) deadline: Option<(Instant, Deadline)>,
}

impl<T: Transport> RawConn<T> {
    /// The driver for a new connection; [`open`](Self::open) starts it.
    pub(crate) fn new(io: T, peer: SocketAddr, proto: Box<dyn Protocol>, early: &[u8]) -> Self {
        let mut rbuf = vec![0; RBUF_INITIAL.max(early.len())];
        rbuf[..early.len()].copy_from_slice(early);
        RawConn {
            io,
            proto: Slot {
                p: proto,
                told: false,
            },
            peer,
            rbuf,
            rstart: 0,
            rend: early.len(),
            wbuf: Vec::new(),
            wpos: 0,
            close: false,
            proto_deadline: None,
            last_seen: Instant::now(),
            peer_closed: false,
            want_write: false,
            write_registered: false,
            deadline: None,
        }
    }

    /// Tells the protocol the connection is open, then handles what is buffered.
    pub(crate) fn open<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        self.last_seen = cx.now;
        self.call(cx, |p, pcx| p.on_open(pcx));
        if cx.draining {
            self.call(cx, |p, pcx| p.on_drain(pcx));
        }
        self.drive(cx)
    }

    pub(crate) fn io(&self) -> &T {
        &self.io
    }

    #[cfg(all(target_os = "linux", feature = "io-uring"))]
    pub(crate) fn io_mut(&mut self) -> &mut T {
        &mut self.io
    }

    pub(crate) fn into_io(mut self) -> T {
        self.tell_close();
        self.io
    }

    /// Whether the poller should stop reporting readability.
    pub(crate) fn read_off(&self) -> bool {
        self.peer_closed || self.close || self.held()
    }

    fn held(&self) -> bool {
        self.wbuf.len() - self.wpos > OUT_HIGH
    }

    pub(crate) fn cancel(&self) {}

    /// Runs a protocol method with a context over this connection's state.
    fn call<H>(&mut self, cx: &Ctx<'_, H>, f: impl FnOnce(&mut dyn Protocol, &mut Context<'_>)) {
        let mut pcx = Context {
            out: &mut self.wbuf,
            now: cx.now,
            peer: self.peer,
            close: &mut self.close,
            deadline: &mut self.proto_deadline,
            draining: cx.draining,
            make_waker: cx.make_waker,
        };
        let p = &mut *self.proto.p;
        if catch_unwind(AssertUnwindSafe(|| f(p, &mut pcx))).is_err() {
            log::error!("protocol handler panicked; closing the connection");
            self.close = true;
        }
    }

    pub(crate) fn on_readable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        if !self.read_off() {
            if self.rstart == self.rend {
                self.rstart = 0;
                self.rend = 0;
            } else if self.rend == self.rbuf.len() {
                if self.rstart > 0 {
                    self.rbuf.copy_within(self.rstart..self.rend, 0);
                    self.rend -= self.rstart;
                    self.rstart = 0;
                } else if self.rbuf.len() < cx.cfg.raw_max_input {
                    let n = (self.rbuf.len() * 2).min(cx.cfg.raw_max_input);
                    self.rbuf.resize(n, 0);
                } else {
                    // The protocol holds a full buffer without consuming any of it.
                    log::debug!("raw connection over its input limit; closing");
                    self.tell_close();
                    return Step::Close;
                }
            }
            match self.io.read(&mut self.rbuf[self.rend..]) {
                Ok(0) => self.peer_closed = true,
                Ok(n) => {
                    self.rend += n;
                    self.last_seen = cx.now;
                }
                Err(e) if e.is_would_block() => return Step::Keep,
                Err(flare_net::Error::Interrupted) => return Step::Keep,
                Err(_) => {
                    self.tell_close();
                    return Step::Close;
                }
            }
        }
        self.drive(cx)
    }

    pub(crate) fn on_writable<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        self.drive(cx)
    }

    pub(crate) fn on_stream_wake<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        self.call(cx, |p, pcx| p.on_wake(pcx));
        self.drive(cx)
    }

    pub(crate) fn on_deadline<H: Handler>(&mut self, kind: Deadline, cx: &Ctx<'_, H>) -> Step {
        match kind {
            Deadline::Protocol => {
                self.proto_deadline = None;
                self.call(cx, |p, pcx| p.on_timeout(pcx));
            }
            Deadline::Write | Deadline::KeepAlive => {
                // The peer stopped reading, or the connection sat idle.
                self.tell_close();
                return Step::Close;
            }
            _ => {}
        }
        self.drive(cx)
    }

    pub(crate) fn on_drain<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        self.call(cx, |p, pcx| p.on_drain(pcx));
        self.drive(cx)
    }

    fn drive<H: Handler>(&mut self, cx: &Ctx<'_, H>) -> Step {
        loop {
            let mut took = false;
            if self.rstart < self.rend && !self.close && !self.held() {
                let (start, end) = (self.rstart, self.rend);
                let mut used = 0;
                let mut pcx = Context {
                    out: &mut self.wbuf,
                    now: cx.now,
                    peer: self.peer,
                    close: &mut self.close,
                    deadline: &mut self.proto_deadline,
                    draining: cx.draining,
                    make_waker: cx.make_waker,
                };
                let input = &self.rbuf[start..end];
                let p = &mut *self.proto.p;
                match catch_unwind(AssertUnwindSafe(|| p.on_data(input, &mut pcx))) {
                    Ok(n) => used = n.min(end - start),
                    Err(_) => {
                        log::error!("protocol handler panicked; closing the connection");
                        self.close = true;
                    }
                }
                self.rstart += used;
                took = used > 0;
            }
            match self.flush() {
                Err(()) => {
                    self.tell_close();
                    return Step::Close;
                }
                Ok(false) => {
                    self.set_deadline(cx);
                    return Step::Keep;
                }
                Ok(true) => {}
            }
            if self.close || (self.peer_closed && (!took || self.rstart == self.rend)) {
                self.io.shutdown_write();
                self.tell_close();
                return Step::Close;
            }
            if !took || self.rstart == self.rend {
                self.set_deadline(cx);
                return Step::Keep;
            }
        }
    }

    fn flush(&mut self) -> Result<bool, ()> {
        super::transport::flush_all(
            &mut self.io,
            &mut self.wbuf,
            &mut self.wpos,
            &mut self.want_write,
        )
    }

    fn set_deadline<H>(&mut self, cx: &Ctx<'_, H>) {
        self.deadline = if self.want_write {
            match self.deadline {
                Some((at, Deadline::Write)) => Some((at, Deadline::Write)),
                _ => Some((cx.now + cx.cfg.write_timeout, Deadline::Write)),
            }
        } else if let Some(at) = self.proto_deadline {
            Some((at, Deadline::Protocol))
        } else {
            Some((
                self.last_seen + cx.cfg.keep_alive_timeout,
                Deadline::KeepAlive,
            ))
        };
    }

    fn tell_close(&mut self) {
        if !self.proto.told {
            self.proto.told = true;
            let p = &mut *self.proto.p;
            let _ = catch_unwind(AssertUnwindSafe(|| p.on_close()));
        }
    }
}

/// A connection's protocol and whether it heard `on_close`; dropping it without
/// that tells it.
struct Slot {
    p: Box<dyn Protocol>,
    told: bool,
}

impl Drop for Slot {
    fn drop(&mut self) {
        if !self.told {
            self.told = true;
            let p = &mut *self.p;
            let _ = catch_unwind(AssertUnwindSafe(|| p.on_close()));
        }
    }
}

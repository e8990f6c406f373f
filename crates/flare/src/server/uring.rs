//! The io_uring transport: a plaintext TCP connection whose receives and sends go
//! through the worker's completion ring instead of `recv`/`send` syscalls.
//!
//! The protocol drivers stay readiness-shaped: they call [`Transport::read`] and
//! [`Transport::write`] as on a socket. Underneath, reads are served from a buffer
//! the kernel filled (a completed receive) and writes are staged, then sent by the
//! worker when it syncs the connection after a driver step. All receives and sends
//! of one loop turn reach the kernel in one `io_uring_enter`.
//!
//! Receives are multishot into the worker's provided-buffer pool: one receive stays
//! armed per connection (no poll to re-arm per request), each arrival fills a pool
//! buffer that the connection reads from and hands back. A connection holding
//! [`RQ_MAX`] unread buffers has its receive cancelled until it catches up
//! (back-pressure); one that found the pool empty (`ENOBUFS`) waits until buffers
//! are back.
//!
//! Rules that keep the kernel's buffers safe:
//! - a pool buffer is read only after its completion and handed back once;
//! - `out` is never touched while a send is in flight; new output goes to `staging`
//!   and the two are swapped only when no send is in flight;
//! - a connection closed with operations in flight keeps its buffers (and its socket)
//!   in the worker's graveyard until their completions arrive.

use std::collections::VecDeque;
use std::io;
use std::os::fd::AsFd;
use std::rc::Rc;

use flare_net::{Error, TcpStream};
use flare_reactor::uring::{BufPool, Ring};
use flare_web::FileBody;

use super::conn::WBUF_INITIAL;
use super::transport::{IoResult, Transport};

/// Unread pool buffers a connection may hold before its receive is cancelled.
pub(crate) const RQ_MAX: usize = 8;
/// Output staged beyond what is in flight before writes report `WouldBlock` (the
/// analogue of a full socket send buffer: the driver then waits for writability).
const STAGING_MAX: usize = 256 * 1024;
/// Capacity kept when buffers are pooled.
const POOL_KEEP: usize = 64 * 1024;

/// Operation kinds in a completion's user data (the low byte).
pub(crate) const OP_RECV: u64 = 1;
pub(crate) const OP_SEND: u64 = 2;
pub(crate) const OP_CANCEL: u64 = 3;

const ECANCELED: i32 = 125;
const ENOBUFS: i32 = 105;
const EAGAIN: i32 = 11;
const EINTR: i32 = 4;

/// User data for an operation of connection `idx`, generation `generation`.
#[inline]
pub(crate) fn tag(idx: usize, generation: u32, op: u64) -> u64 {
    ((idx as u64) << 32) | (u64::from(generation & 0x00ff_ffff) << 8) | op
}

/// The connection index, generation (24 bits) and operation of a user data value.
#[inline]
pub(crate) fn untag(user_data: u64) -> (usize, u32, u64) {
    (
        (user_data >> 32) as usize,
        ((user_data >> 8) & 0x00ff_ffff) as u32,
        user_data & 0xff,
    )
}

/// The generation as it appears in a tag.
#[inline]
pub(crate) fn tag_generation(generation: u32) -> u32 {
    generation & 0x00ff_ffff
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReadState {
    Open,
    Eof,
    Failed(i32),
}

/// Buffers of a closed connection, pooled for the next one.
pub(crate) struct IoBuffers {
    rq: VecDeque<(u16, u32)>,
    out: Vec<u8>,
    staging: Vec<u8>,
}

/// What a receive completion changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RecvEvent {
    /// Bytes arrived, or the stream ended or failed: the driver has news.
    News,
    /// The receive ended without news (cancelled for back-pressure, or ended
    /// early): the worker re-arms it when due.
    Rearm,
    /// The pool ran dry: re-arm once buffers are back.
    Starved,
}

/// A TCP connection driven through the ring. See the module docs.
pub(crate) struct UringIo {
    /// `None` only after [`UringIo::take_remains`].
    sock: Option<TcpStream>,
    pool: Rc<BufPool>,
    /// Received pool buffers not read yet, `(buffer id, length)`; the front one is
    /// read from `roff`.
    rq: VecDeque<(u16, u32)>,
    roff: usize,
    buffered: usize,
    rstate: ReadState,
    /// A multishot receive is armed.
    recv_armed: bool,
    /// Its cancel (back-pressure) is queued.
    recv_cancelling: bool,
    /// It ended on an empty pool.
    pub(crate) starved: bool,
    out: Vec<u8>,
    opos: usize,
    send_inflight: bool,
    staging: Vec<u8>,
    write_failed: bool,
    shutdown_wanted: bool,
    shutdown_done: bool,
    /// Bytes handed out by `read` since the worker last looked (progress check).
    pub(crate) consumed: usize,
    /// The driver's last step was a read offer (set by the worker).
    pub(crate) read_event: bool,
}

impl UringIo {
    pub(crate) fn new(sock: TcpStream, pool: Rc<BufPool>, bufs: Option<IoBuffers>) -> UringIo {
        let IoBuffers { rq, out, staging } = bufs.unwrap_or_else(|| IoBuffers {
            rq: VecDeque::with_capacity(RQ_MAX + 2),
            out: Vec::new(),
            staging: Vec::new(),
        });
        UringIo {
            sock: Some(sock),
            pool,
            rq,
            roff: 0,
            buffered: 0,
            rstate: ReadState::Open,
            recv_armed: false,
            recv_cancelling: false,
            starved: false,
            out,
            opos: 0,
            send_inflight: false,
            staging,
            write_failed: false,
            shutdown_wanted: false,
            shutdown_done: false,
            consumed: 0,
            read_event: false,
        }
    }

    /// Received bytes not yet read by the driver.
    #[inline]
    /// The socket (until `take_remains`).
    pub(crate) fn socket(&self) -> &TcpStream {
        // Only `take_remains` empties it, and nothing calls the transport after.
        self.sock
            .as_ref()
            .expect("socket of a closed io_uring connection")
    }

    pub(crate) fn buffered(&self) -> usize {
        self.buffered
    }

    /// Whether the worker must look at the connection after a send completed: more
    /// output to send, or a half-close waiting for the output to go.
    #[inline]
    pub(crate) fn needs_sync(&self) -> bool {
        self.write_failed
            || self.opos < self.out.len()
            || !self.staging.is_empty()
            || (self.shutdown_wanted && !self.shutdown_done)
    }

    /// Whether output is staged or in flight.
    pub(crate) fn sending(&self) -> bool {
        self.send_inflight || self.opos < self.out.len() || !self.staging.is_empty()
    }

    /// Queues what the connection needs now: a receive once every received byte was
    /// read, a send when output is staged; performs a half-close asked for once the
    /// output before it is out.
    pub(crate) fn sync(&mut self, ring: &mut Ring, idx: usize, generation: u32) -> io::Result<()> {
        if let Some(sock) = self.sock.as_ref() {
            if !self.recv_armed {
                // Armed again once the driver caught up, unless the stream is over or
                // the pool is dry.
                if self.rstate == ReadState::Open && !self.starved && self.rq.is_empty() {
                    ring.recv_multishot(
                        sock.as_fd(),
                        self.pool.group(),
                        tag(idx, generation, OP_RECV),
                    )?;
                    self.recv_armed = true;
                }
            } else if !self.recv_cancelling && self.rq.len() >= RQ_MAX {
                // The driver is not reading: stop filling pool buffers for it.
                ring.cancel(
                    tag(idx, generation, OP_RECV),
                    tag(idx, generation, OP_CANCEL),
                )?;
                self.recv_cancelling = true;
            }
        }
        self.start_send(ring, idx, generation)?;
        if self.shutdown_wanted && !self.shutdown_done && !self.sending() {
            self.shutdown_done = true;
            if let Some(sock) = &self.sock {
                let _ = sock.shutdown(std::net::Shutdown::Write);
            }
        }
        Ok(())
    }

    fn start_send(&mut self, ring: &mut Ring, idx: usize, generation: u32) -> io::Result<()> {
        if self.send_inflight || self.write_failed {
            return Ok(());
        }
        let Some(sock) = self.sock.as_ref() else {
            return Ok(());
        };
        if self.opos >= self.out.len() {
            if self.staging.is_empty() {
                return Ok(());
            }
            self.out.clear();
            self.opos = 0;
            std::mem::swap(&mut self.out, &mut self.staging);
        }
        let rest = &self.out[self.opos..];
        // SAFETY: `out` is not touched until this send completes (`send_inflight`):
        // writes go to `staging` meanwhile; a closed connection's buffers wait in the
        // graveyard for the completion.
        unsafe {
            ring.send(
                sock.as_fd(),
                rest.as_ptr(),
                rest.len(),
                tag(idx, generation, OP_SEND),
            )?
        };
        self.send_inflight = true;
        Ok(())
    }

    /// A receive completed with `res`, filling `buffer`; `more`: still armed.
    pub(crate) fn on_recv(&mut self, res: i32, buffer: Option<u16>, more: bool) -> RecvEvent {
        let mut news = false;
        if let Some(bid) = buffer {
            self.pool.taken(bid);
            if res > 0 && self.rstate == ReadState::Open {
                self.rq.push_back((bid, res as u32));
                self.buffered += res as usize;
                news = true;
            } else {
                // SAFETY: the completion handed `bid` over and nothing read it.
                unsafe { self.pool.recycle(bid) };
            }
        }
        if more {
            return if news {
                RecvEvent::News
            } else {
                RecvEvent::Rearm
            };
        }
        self.recv_armed = false;
        let cancelled = std::mem::take(&mut self.recv_cancelling);
        match res {
            n if n > 0 => {}
            0 => {
                self.rstate = ReadState::Eof;
                news = true;
            }
            e if e == -ENOBUFS => {
                self.starved = true;
                return if news {
                    RecvEvent::News
                } else {
                    RecvEvent::Starved
                };
            }
            e if e == -ECANCELED && cancelled => {}
            e if e == -EAGAIN || e == -EINTR => {}
            e => {
                self.rstate = ReadState::Failed(-e);
                news = true;
            }
        }
        if news {
            RecvEvent::News
        } else {
            RecvEvent::Rearm
        }
    }

    /// A send completed with `res`. The caller queues the rest with [`sync`].
    pub(crate) fn on_send(&mut self, res: i32) {
        self.send_inflight = false;
        match res {
            n if n >= 0 => {
                self.opos += n as usize;
                if self.opos >= self.out.len() {
                    self.out.clear();
                    self.opos = 0;
                }
            }
            e if e == -EAGAIN || e == -EINTR => {}
            _ => {
                self.write_failed = true;
                self.out.clear();
                self.opos = 0;
                self.staging.clear();
            }
        }
    }

    /// Moves the socket and buffers out (the connection is closing). The socket
    /// stays open in the result until its operations complete.
    pub(crate) fn take_remains(&mut self) -> Remains {
        // Unread input is dropped with the connection.
        while let Some((bid, _)) = self.rq.pop_front() {
            // SAFETY: a completion handed `bid` over; no slice of it is held.
            unsafe { self.pool.recycle(bid) };
        }
        self.buffered = 0;
        Remains {
            sock: self.sock.take(),
            pool: self.pool.clone(),
            bufs: IoBuffers {
                rq: std::mem::take(&mut self.rq),
                out: std::mem::take(&mut self.out),
                staging: std::mem::take(&mut self.staging),
            },
            opos: self.opos,
            recv_inflight: self.recv_armed,
            send_inflight: self.send_inflight,
            write_failed: self.write_failed,
            shutdown_wanted: self.shutdown_wanted,
            shutdown_done: self.shutdown_done,
        }
    }
}

/// A closed connection's socket and buffers, kept while the kernel still owns some
/// of them and while its last output is going out.
pub(crate) struct Remains {
    sock: Option<TcpStream>,
    pool: Rc<BufPool>,
    bufs: IoBuffers,
    opos: usize,
    pub(crate) recv_inflight: bool,
    pub(crate) send_inflight: bool,
    write_failed: bool,
    shutdown_wanted: bool,
    shutdown_done: bool,
}

impl Remains {
    /// Stops receiving (a pending receive completes at once) and starts sending what
    /// is staged. Returns `true` when nothing holds the socket open any more.
    pub(crate) fn start_close(&mut self, ring: &mut Ring, idx: usize, generation: u32) -> bool {
        if self.recv_inflight {
            if let Some(s) = &self.sock {
                let _ = s.shutdown(std::net::Shutdown::Read);
            }
        }
        if !self.send_inflight {
            return self.on_send(0, ring, idx, generation);
        }
        self.settled()
    }

    /// Output still to send (staged or in flight).
    fn output_left(&self) -> bool {
        !self.write_failed
            && (self.send_inflight
                || self.opos < self.bufs.out.len()
                || !self.bufs.staging.is_empty())
    }

    /// Nothing in flight and nothing left to send.
    pub(crate) fn settled(&self) -> bool {
        !self.recv_inflight && !self.output_left()
    }

    /// A receive completed: its buffer goes straight back to the pool.
    pub(crate) fn on_recv(&mut self, buffer: Option<u16>, more: bool) {
        if let Some(bid) = buffer {
            self.pool.taken(bid);
            // SAFETY: the completion handed `bid` over; the connection is gone.
            unsafe { self.pool.recycle(bid) };
        }
        if !more {
            self.recv_inflight = false;
        }
    }

    /// A send completed; queues the rest of the output. Returns whether settled.
    pub(crate) fn on_send(
        &mut self,
        res: i32,
        ring: &mut Ring,
        idx: usize,
        generation: u32,
    ) -> bool {
        self.send_inflight = false;
        if res < 0 && res != -EAGAIN && res != -EINTR && res != -ECANCELED {
            self.write_failed = true;
        } else if res > 0 {
            self.opos += res as usize;
        }
        if res == -ECANCELED {
            self.write_failed = true;
        }
        if !self.write_failed {
            if self.opos >= self.bufs.out.len() {
                self.bufs.out.clear();
                self.opos = 0;
                std::mem::swap(&mut self.bufs.out, &mut self.bufs.staging);
            }
            if self.opos < self.bufs.out.len() {
                if let Some(sock) = &self.sock {
                    let rest = &self.bufs.out[self.opos..];
                    // SAFETY: the buffer stays in this value, untouched, until the
                    // send completes; the worker drops it only once settled.
                    let queued = unsafe {
                        ring.send(
                            sock.as_fd(),
                            rest.as_ptr(),
                            rest.len(),
                            tag(idx, generation, OP_SEND),
                        )
                    };
                    match queued {
                        Ok(()) => self.send_inflight = true,
                        Err(_) => self.write_failed = true,
                    }
                }
            }
        }
        if !self.output_left() && self.shutdown_wanted && !self.shutdown_done {
            self.shutdown_done = true;
            if let Some(s) = &self.sock {
                let _ = s.shutdown(std::net::Shutdown::Write);
            }
        }
        self.settled()
    }

    /// Gives up on the output (deadline): reset the socket so whatever is in flight
    /// completes now.
    pub(crate) fn abort(&mut self) {
        self.write_failed = true;
        if let Some(s) = &self.sock {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
    }

    /// The buffers for the pool (oversized ones are dropped); closes the socket.
    pub(crate) fn into_buffers(self) -> Option<IoBuffers> {
        drop(self.sock);
        let mut b = self.bufs;
        if b.out.capacity() > POOL_KEEP || b.staging.capacity() > POOL_KEEP {
            return None;
        }
        b.rq.clear();
        b.out.clear();
        b.staging.clear();
        Some(b)
    }
}

impl Transport for UringIo {
    #[inline]
    fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        std::os::fd::AsFd::as_fd(self.socket())
    }

    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        let mut n = 0;
        while n < buf.len() {
            let Some(&(bid, len)) = self.rq.front() else {
                break;
            };
            let len = len as usize;
            let take = (len - self.roff).min(buf.len() - n);
            // SAFETY: a completion handed `bid` over and it is recycled only below,
            // after this slice's last use.
            let src = unsafe { self.pool.get(bid, len) };
            buf[n..n + take].copy_from_slice(&src[self.roff..self.roff + take]);
            n += take;
            self.roff += take;
            if self.roff == len {
                self.rq.pop_front();
                self.roff = 0;
                // SAFETY: fully read; no slice of it is held any more.
                unsafe { self.pool.recycle(bid) };
            }
        }
        if n > 0 {
            self.buffered -= n;
            self.consumed += n;
            return Ok(n);
        }
        match self.rstate {
            ReadState::Open => Err(Error::WouldBlock),
            ReadState::Eof => Ok(0),
            ReadState::Failed(errno) => {
                Err(Error::from(rustix::io::Errno::from_raw_os_error(errno)))
            }
        }
    }

    #[inline]
    fn write(&mut self, buf: &[u8]) -> IoResult<usize> {
        if self.write_failed {
            return Err(Error::from(rustix::io::Errno::PIPE));
        }
        let room = STAGING_MAX.saturating_sub(self.staging.len());
        if room == 0 {
            return Err(Error::WouldBlock);
        }
        let n = buf.len().min(room);
        // A first write sizes the buffer for the ones to come: grown to each
        // write's exact size, `out` and `staging` (which trade places on every
        // send) would each grow again whenever a slightly larger batch lands in
        // the smaller of the two, allocating on a warm connection.
        if self.staging.capacity() == 0 {
            self.staging.reserve(n.max(WBUF_INITIAL));
        }
        self.staging.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    #[inline]
    fn write_buf(&mut self, buf: &mut Vec<u8>, pos: usize) -> IoResult<usize> {
        // Nothing staged: take the driver's buffer instead of copying it.
        if pos == 0 && self.staging.is_empty() && !self.write_failed && buf.len() <= STAGING_MAX {
            let n = buf.len();
            // The driver gets this one back as its send buffer: give it the room its
            // own had, or a buffer grown to one response's exact size would grow
            // again (and allocate) whenever a head is written piece by piece. Once
            // per buffer: capacities stay.
            if self.staging.capacity() < WBUF_INITIAL {
                self.staging.reserve(WBUF_INITIAL);
            }
            std::mem::swap(&mut self.staging, buf);
            return Ok(n);
        }
        self.write(&buf[pos..])
    }

    fn write2(&mut self, a: &[u8], b: &[u8]) -> IoResult<usize> {
        let n = self.write(a)?;
        if n < a.len() || b.is_empty() {
            return Ok(n);
        }
        match self.write(b) {
            Ok(m) => Ok(n + m),
            Err(_) => Ok(n),
        }
    }

    fn sendfile(&mut self, _file: &mut FileBody) -> Option<IoResult<usize>> {
        // Output is staged through our buffers; the driver reads the file in pieces.
        None
    }

    #[inline]
    fn flush(&mut self) -> IoResult<bool> {
        // Staged output is as good as written into a socket buffer: the worker sends
        // it after this step, and `write` pushes back when too much is waiting.
        if self.write_failed {
            return Err(Error::from(rustix::io::Errno::PIPE));
        }
        Ok(true)
    }

    fn shutdown_write(&mut self) {
        // After what is staged: done by `sync` once the output is out.
        self.shutdown_wanted = true;
    }
}

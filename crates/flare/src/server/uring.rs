//! The io_uring transport: a plaintext TCP connection whose receives and sends go
//! through the worker's completion ring instead of `recv`/`send` syscalls.
//!
//! The protocol drivers stay readiness-shaped: they call [`Transport::read`] and
//! [`Transport::write`] as on a socket. Underneath, reads are served from a buffer
//! the kernel filled (a completed receive) and writes are staged, then sent by the
//! worker when it syncs the connection after a driver step. All receives and sends
//! of one loop turn reach the kernel in one `io_uring_enter`.
//!
//! Rules that keep the kernel's buffers safe:
//! - `rbuf` is never resized and never read while a receive is in flight;
//! - `out` is never touched while a send is in flight; new output goes to `staging`
//!   and the two are swapped only when no send is in flight;
//! - a connection closed with operations in flight keeps its buffers (and its socket)
//!   in the worker's graveyard until their completions arrive.

use std::io;
use std::os::fd::AsFd;

use flare_net::{Error, TcpStream};
use flare_reactor::uring::Ring;
use flare_web::FileBody;

use super::transport::{IoResult, Transport};

/// Bytes one receive may bring.
const RBUF: usize = 16 * 1024;
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
    rbuf: Vec<u8>,
    out: Vec<u8>,
    staging: Vec<u8>,
}

/// A TCP connection driven through the ring. See the module docs.
pub(crate) struct UringIo {
    /// `None` only after [`UringIo::take_remains`].
    sock: Option<TcpStream>,
    rbuf: Vec<u8>,
    rpos: usize,
    rlen: usize,
    rstate: ReadState,
    recv_inflight: bool,
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
    pub(crate) fn new(sock: TcpStream, bufs: Option<IoBuffers>) -> UringIo {
        let IoBuffers {
            mut rbuf,
            out,
            staging,
        } = bufs.unwrap_or_else(|| IoBuffers {
            rbuf: Vec::new(),
            out: Vec::new(),
            staging: Vec::new(),
        });
        if rbuf.len() != RBUF {
            rbuf.resize(RBUF, 0);
        }
        UringIo {
            sock: Some(sock),
            rbuf,
            rpos: 0,
            rlen: 0,
            rstate: ReadState::Open,
            recv_inflight: false,
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
    pub(crate) fn buffered(&self) -> usize {
        self.rlen - self.rpos
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
        if !self.recv_inflight && self.rstate == ReadState::Open && self.rpos == self.rlen {
            let Some(sock) = self.sock.as_ref() else {
                return Ok(());
            };
            self.rpos = 0;
            self.rlen = 0;
            // SAFETY: `rbuf` is neither resized nor read until this receive
            // completes (`recv_inflight`); a connection closed before that keeps the
            // buffer alive in the worker's graveyard until the completion arrives.
            unsafe {
                ring.recv(
                    sock.as_fd(),
                    self.rbuf.as_mut_ptr(),
                    self.rbuf.len(),
                    tag(idx, generation, OP_RECV),
                )?
            };
            self.recv_inflight = true;
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

    /// A receive completed with `res`.
    pub(crate) fn on_recv(&mut self, res: i32) {
        self.recv_inflight = false;
        match res {
            n if n > 0 => {
                self.rpos = 0;
                self.rlen = n as usize;
            }
            0 => self.rstate = ReadState::Eof,
            // Not a failure of the connection: the next sync queues a new receive.
            e if e == -EAGAIN || e == -EINTR => {}
            e => self.rstate = ReadState::Failed(-e),
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
        Remains {
            sock: self.sock.take(),
            bufs: IoBuffers {
                rbuf: std::mem::take(&mut self.rbuf),
                out: std::mem::take(&mut self.out),
                staging: std::mem::take(&mut self.staging),
            },
            opos: self.opos,
            recv_inflight: self.recv_inflight,
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

    pub(crate) fn on_recv(&mut self) {
        self.recv_inflight = false;
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
        if b.rbuf.len() != RBUF || b.out.capacity() > POOL_KEEP || b.staging.capacity() > POOL_KEEP
        {
            return None;
        }
        b.out.clear();
        b.staging.clear();
        Some(b)
    }
}

impl Transport for UringIo {
    #[inline]
    fn socket(&self) -> &TcpStream {
        // Only `take_remains` empties it, and nothing calls the transport after.
        self.sock
            .as_ref()
            .expect("socket of a closed io_uring connection")
    }

    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> IoResult<usize> {
        let avail = self.rlen - self.rpos;
        if avail > 0 && !self.recv_inflight {
            let n = avail.min(buf.len());
            buf[..n].copy_from_slice(&self.rbuf[self.rpos..self.rpos + n]);
            self.rpos += n;
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
        self.staging.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    #[inline]
    fn write_buf(&mut self, buf: &mut Vec<u8>, pos: usize) -> IoResult<usize> {
        // Nothing staged: take the driver's buffer instead of copying it.
        if pos == 0 && self.staging.is_empty() && !self.write_failed && buf.len() <= STAGING_MAX {
            let n = buf.len();
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

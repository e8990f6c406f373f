//! TCP streams: connect (blocking, bounded, or non-blocking), I/O through
//! `&self`, and the per-connection socket options a server sets.

use std::io::IoSlice;
use std::net::{Shutdown, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

use rustix::net::{sockopt, RecvFlags};

use crate::error::{Error, Result};
use crate::fd::{impl_fd_traits, impl_io_traits};
use crate::sys::{self, ConnectWait};

/// A connected TCP socket.
///
/// All I/O takes `&self`: the kernel serialises calls on one descriptor, so a
/// reader and a writer thread can share a stream. Whether calls block depends
/// on the mode: streams from [`TcpListener::accept`](crate::TcpListener::accept)
/// and [`connect_nonblocking`](Self::connect_nonblocking) are non-blocking and
/// report [`Error::WouldBlock`]; [`connect`](Self::connect) and
/// [`connect_timeout`](Self::connect_timeout) return blocking streams.
#[derive(Debug)]
pub struct TcpStream(OwnedFd);

impl_fd_traits!(TcpStream);

impl TcpStream {
    /// Connect, waiting as long as the kernel does (on Linux, until SYN
    /// retries run out, about two minutes). Returns a **blocking** stream.
    ///
    /// A signal during the wait does not abort the connect.
    pub fn connect(addr: SocketAddr) -> Result<Self> {
        let fd = sys::connect_ip(&addr, ConnectWait::Forever)?;
        sys::set_nonblocking(&fd, false)?;
        Ok(TcpStream(fd))
    }

    /// Connect, giving up with [`Error::TimedOut`] after `timeout`. Returns a
    /// **blocking** stream. A zero timeout is [`Error::InvalidInput`].
    pub fn connect_timeout(addr: SocketAddr, timeout: Duration) -> Result<Self> {
        if timeout.is_zero() {
            return Err(Error::InvalidInput("connect timeout must be non-zero"));
        }
        // A deadline past what `Instant` can hold means "practically forever".
        let wait = match Instant::now().checked_add(timeout) {
            Some(deadline) => ConnectWait::Until(deadline),
            None => ConnectWait::Forever,
        };
        let fd = sys::connect_ip(&addr, wait)?;
        sys::set_nonblocking(&fd, false)?;
        Ok(TcpStream(fd))
    }

    /// Start a connect and return at once with a **non-blocking** stream (an
    /// in-progress connect counts as success). Register the stream for
    /// writability; when it is writable, call [`take_error`](Self::take_error):
    /// `None` means connected, `Some(e)` is why the connect failed.
    pub fn connect_nonblocking(addr: SocketAddr) -> Result<Self> {
        Ok(TcpStream(sys::connect_ip(&addr, ConnectWait::No)?))
    }

    /// Adopt a std stream (its blocking mode is kept).
    pub fn from_std(stream: std::net::TcpStream) -> Self {
        TcpStream::from(OwnedFd::from(stream))
    }

    /// Convert into a std stream (the blocking mode is kept).
    pub fn into_std(self) -> std::net::TcpStream {
        std::net::TcpStream::from(self.0)
    }

    /// Switch between blocking and non-blocking I/O.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        sys::set_nonblocking(&self.0, nonblocking)
    }

    /// `TCP_NODELAY`: send small writes at once instead of waiting to coalesce
    /// them (Nagle). Servers that write whole responses in one call want it on.
    pub fn set_nodelay(&self, nodelay: bool) -> Result<()> {
        Ok(sockopt::set_tcp_nodelay(&self.0, nodelay)?)
    }

    /// Whether `TCP_NODELAY` is set.
    pub fn nodelay(&self) -> Result<bool> {
        Ok(sockopt::tcp_nodelay(&self.0)?)
    }

    /// `Some(idle)`: turn on `SO_KEEPALIVE` and, where the system has it, set
    /// the idle time before the first probe (`TCP_KEEPIDLE`; `TCP_KEEPALIVE` on
    /// macOS), in whole seconds rounded up, at least one. `None`: keepalive
    /// off. Probes find peers that vanished without a FIN or RST.
    pub fn set_keepalive(&self, idle: Option<Duration>) -> Result<()> {
        match idle {
            None => Ok(sockopt::set_socket_keepalive(&self.0, false)?),
            Some(idle) => {
                sockopt::set_socket_keepalive(&self.0, true)?;
                #[cfg(not(any(target_os = "openbsd", target_os = "haiku", target_os = "nto")))]
                sockopt::set_tcp_keepidle(&self.0, sys::whole_seconds_at_least_one(idle))?;
                #[cfg(any(target_os = "openbsd", target_os = "haiku", target_os = "nto"))]
                let _ = idle;
                Ok(())
            }
        }
    }

    /// `None` when keepalive is off, else the idle time before the first probe
    /// (where the system reports it; elsewhere `Some(Duration::ZERO)`).
    pub fn keepalive(&self) -> Result<Option<Duration>> {
        if !sockopt::socket_keepalive(&self.0)? {
            return Ok(None);
        }
        #[cfg(not(any(target_os = "openbsd", target_os = "haiku", target_os = "nto")))]
        let idle = sockopt::tcp_keepidle(&self.0)?;
        #[cfg(any(target_os = "openbsd", target_os = "haiku", target_os = "nto"))]
        let idle = Duration::ZERO;
        Ok(Some(idle))
    }

    /// `SO_LINGER`. `Some(Duration::ZERO)` makes closing the stream send a RST
    /// and drop unsent data at once (the peer sees
    /// [`Error::ConnectionReset`]): how a server sheds an abusive client
    /// without keeping `TIME_WAIT` state. `None` (the default) closes
    /// gracefully in the background. Whole seconds; sub-second values round
    /// up.
    pub fn set_linger(&self, linger: Option<Duration>) -> Result<()> {
        // rustix rounds sub-second values up to whole seconds.
        Ok(sockopt::set_socket_linger(&self.0, linger)?)
    }

    /// The `SO_LINGER` setting.
    pub fn linger(&self) -> Result<Option<Duration>> {
        Ok(sockopt::socket_linger(&self.0)?)
    }

    /// `SO_SNDBUF`: the kernel send buffer. Linux doubles the value for its
    /// bookkeeping (and [`send_buffer_size`](Self::send_buffer_size) reports
    /// the doubled size) and caps it at `net.core.wmem_max`; setting it turns
    /// off the kernel's automatic tuning for this socket.
    pub fn set_send_buffer_size(&self, size: usize) -> Result<()> {
        Ok(sockopt::set_socket_send_buffer_size(&self.0, size)?)
    }

    /// The `SO_SNDBUF` size as the kernel reports it.
    pub fn send_buffer_size(&self) -> Result<usize> {
        Ok(sockopt::socket_send_buffer_size(&self.0)?)
    }

    /// `SO_RCVBUF`: the kernel receive buffer (doubled and capped at
    /// `net.core.rmem_max` on Linux, like the send buffer).
    pub fn set_recv_buffer_size(&self, size: usize) -> Result<()> {
        Ok(sockopt::set_socket_recv_buffer_size(&self.0, size)?)
    }

    /// The `SO_RCVBUF` size as the kernel reports it.
    pub fn recv_buffer_size(&self) -> Result<usize> {
        Ok(sockopt::socket_recv_buffer_size(&self.0)?)
    }

    /// `SO_RCVTIMEO`: on a blocking stream, a read that waits longer fails with
    /// [`Error::WouldBlock`]. `None` (the default) waits forever; a zero
    /// duration is [`Error::InvalidInput`].
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        sys::set_timeout(&self.0, sockopt::Timeout::Recv, timeout)
    }

    /// `SO_SNDTIMEO`, like [`set_read_timeout`](Self::set_read_timeout) for
    /// writes.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        sys::set_timeout(&self.0, sockopt::Timeout::Send, timeout)
    }

    /// Shut down reading, writing or both. Shutting down writing sends a FIN
    /// after the queued data; the peer reads end-of-stream.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        Ok(rustix::net::shutdown(&self.0, sys::shutdown_how(how))?)
    }

    /// The remote address; [`Error::NotConnected`] before a non-blocking
    /// connect finishes or after it failed.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        match rustix::net::getpeername(&self.0)? {
            Some(addr) => sys::ip_addr(addr),
            None => Err(Error::NotConnected),
        }
    }

    /// The local address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        sys::ip_addr(rustix::net::getsockname(&self.0)?)
    }

    /// Take the pending socket error (`SO_ERROR`): after a non-blocking connect
    /// reports writable, `None` means it succeeded.
    pub fn take_error(&self) -> Result<Option<Error>> {
        Ok(sockopt::socket_error(&self.0)?.err().map(Error::from))
    }

    /// Read into `buf`; `Ok(0)` is end-of-stream (or an empty `buf`).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        Ok(rustix::net::recv(&self.0, buf, RecvFlags::empty())?.0)
    }

    /// Write from `buf`, returning how much the kernel took. Uses `send` with
    /// `MSG_NOSIGNAL`, so a closed peer gives [`Error::BrokenPipe`] (or
    /// [`Error::ConnectionReset`]) instead of `SIGPIPE`.
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        Ok(rustix::net::send(&self.0, buf, sys::SEND_FLAGS)?)
    }

    /// Gather-write `bufs` in one `sendmsg` (with `MSG_NOSIGNAL`). At most
    /// 1024 slices (`IOV_MAX`) go in one call; the rest are left for the next,
    /// as with any partial write.
    pub fn writev(&self, bufs: &[IoSlice<'_>]) -> Result<usize> {
        sys::sendmsg(&self.0, bufs)
    }

    /// Read without consuming (`MSG_PEEK`): the same bytes are returned by the
    /// next read.
    pub fn peek(&self, buf: &mut [u8]) -> Result<usize> {
        Ok(rustix::net::recv(&self.0, buf, RecvFlags::PEEK)?.0)
    }
}

impl_io_traits!(TcpStream);

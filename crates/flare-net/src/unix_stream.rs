//! Unix-domain stream sockets: a listener and connected streams.

use std::io::IoSlice;
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use rustix::io::Errno;
use rustix::net::{sockopt, AddressFamily, RecvFlags, SocketType};

use crate::error::{Error, Result};
use crate::fd::{impl_fd_traits, impl_io_traits};
use crate::sys;
use crate::tcp_listener::DEFAULT_BACKLOG;
use crate::unix_addr::UnixAddr;

/// A listening Unix-domain stream socket: non-blocking and close-on-exec.
///
/// Binding to a path creates the socket file; it is not removed when the
/// listener is dropped, and binding over an existing file fails with
/// [`Error::AddrInUse`]. Remove stale files before binding.
#[derive(Debug)]
pub struct UnixListener(OwnedFd);

impl_fd_traits!(UnixListener);

impl UnixListener {
    /// Listen on a filesystem path, backlog [`DEFAULT_BACKLOG`].
    pub fn bind(path: impl AsRef<Path>) -> Result<Self> {
        Self::bind_addr(&UnixAddr::from(path.as_ref()), DEFAULT_BACKLOG)
    }

    /// Listen on a Linux abstract name (no file; released when the listener
    /// closes), backlog [`DEFAULT_BACKLOG`].
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn bind_abstract(name: &[u8]) -> Result<Self> {
        Self::bind_addr(&UnixAddr::Abstract(name.to_vec()), DEFAULT_BACKLOG)
    }

    /// Listen on any [`UnixAddr`] with an explicit backlog (clamped to
    /// `i32::MAX`, then by the kernel to `somaxconn`). When the queue is full,
    /// a blocking connect waits and a non-blocking one fails with
    /// [`Error::WouldBlock`]. [`UnixAddr::Unnamed`] autobinds to a fresh
    /// abstract name on Linux (see [`local_addr`](Self::local_addr)).
    pub fn bind_addr(addr: &UnixAddr, backlog: u32) -> Result<Self> {
        let kernel_addr = addr.to_kernel(true)?;
        let fd = sys::socket(AddressFamily::UNIX, SocketType::STREAM, true)?;
        rustix::net::bind(&fd, &kernel_addr)?;
        rustix::net::listen(&fd, i32::try_from(backlog).unwrap_or(i32::MAX))?;
        Ok(UnixListener(fd))
    }

    /// Take one connection: non-blocking and close-on-exec. An empty queue is
    /// [`Error::WouldBlock`]; `EMFILE`/`ENFILE` are [`Error::FdExhausted`].
    pub fn accept(&self) -> Result<(UnixStream, UnixAddr)> {
        let (fd, peer) = sys::accept(&self.0)?;
        Ok((UnixStream::from(fd), UnixAddr::from_kernel(peer)?))
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<UnixAddr> {
        UnixAddr::from_kernel(Some(rustix::net::getsockname(&self.0)?))
    }

    /// Switch between blocking and non-blocking `accept`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        sys::set_nonblocking(&self.0, nonblocking)
    }

    /// Take the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> Result<Option<Error>> {
        Ok(sockopt::socket_error(&self.0)?.err().map(Error::from))
    }
}

/// A connected Unix-domain stream socket.
///
/// As with [`TcpStream`](crate::TcpStream), I/O takes `&self`. Streams from
/// [`UnixListener::accept`] and [`connect_nonblocking`](Self::connect_nonblocking)
/// are non-blocking; [`connect`](Self::connect) and [`pair`](Self::pair) return
/// blocking streams, like std.
#[derive(Debug)]
pub struct UnixStream(OwnedFd);

impl_fd_traits!(UnixStream);
impl_io_traits!(UnixStream);

impl UnixStream {
    /// Connect to a socket file. Returns a **blocking** stream.
    pub fn connect(path: impl AsRef<Path>) -> Result<Self> {
        Self::connect_addr(&UnixAddr::from(path.as_ref()))
    }

    /// Connect to a Linux abstract name. Returns a **blocking** stream.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn connect_abstract(name: &[u8]) -> Result<Self> {
        Self::connect_addr(&UnixAddr::Abstract(name.to_vec()))
    }

    /// Connect to any named [`UnixAddr`]. Returns a **blocking** stream; if the
    /// listener's queue is full this waits for room.
    pub fn connect_addr(addr: &UnixAddr) -> Result<Self> {
        let kernel_addr = addr.to_kernel(false)?;
        let fd = sys::connect_blocking(AddressFamily::UNIX, SocketType::STREAM, &kernel_addr)?;
        Ok(UnixStream(fd))
    }

    /// Connect without waiting; returns a **non-blocking** stream. A Unix
    /// connect completes at once, so there is no in-progress state: a full
    /// listen queue is [`Error::WouldBlock`] (retry later), no listener is
    /// [`Error::ConnectionRefused`], no such file is [`Error::Os`] `ENOENT`.
    pub fn connect_nonblocking(addr: &UnixAddr) -> Result<Self> {
        let kernel_addr = addr.to_kernel(false)?;
        let fd = sys::socket(AddressFamily::UNIX, SocketType::STREAM, true)?;
        match rustix::net::connect(&fd, &kernel_addr) {
            // Some systems report EINPROGRESS for a connect that is queued; the
            // socket then becomes writable once the listener has room.
            Ok(()) | Err(Errno::INPROGRESS) => Ok(UnixStream(fd)),
            Err(e) => Err(e.into()),
        }
    }

    /// Two connected, unnamed, **blocking** streams.
    pub fn pair() -> Result<(UnixStream, UnixStream)> {
        let (a, b) = sys::unix_pair(SocketType::STREAM)?;
        Ok((UnixStream(a), UnixStream(b)))
    }

    /// Adopt a std stream (its blocking mode is kept).
    pub fn from_std(stream: std::os::unix::net::UnixStream) -> Self {
        UnixStream::from(OwnedFd::from(stream))
    }

    /// Convert into a std stream (the blocking mode is kept).
    pub fn into_std(self) -> std::os::unix::net::UnixStream {
        std::os::unix::net::UnixStream::from(self.0)
    }

    /// Switch between blocking and non-blocking I/O.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        sys::set_nonblocking(&self.0, nonblocking)
    }

    /// `SO_RCVTIMEO` for blocking reads (a timed-out read is
    /// [`Error::WouldBlock`]); `None` waits forever, zero is
    /// [`Error::InvalidInput`].
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        sys::set_timeout(&self.0, sockopt::Timeout::Recv, timeout)
    }

    /// `SO_SNDTIMEO` for blocking writes.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        sys::set_timeout(&self.0, sockopt::Timeout::Send, timeout)
    }

    /// Shut down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        Ok(rustix::net::shutdown(&self.0, sys::shutdown_how(how))?)
    }

    /// Our address (usually [`UnixAddr::Unnamed`] for a client).
    pub fn local_addr(&self) -> Result<UnixAddr> {
        UnixAddr::from_kernel(Some(rustix::net::getsockname(&self.0)?))
    }

    /// The peer's address (the listener's for a client).
    pub fn peer_addr(&self) -> Result<UnixAddr> {
        UnixAddr::from_kernel(rustix::net::getpeername(&self.0)?)
    }

    /// Take the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> Result<Option<Error>> {
        Ok(sockopt::socket_error(&self.0)?.err().map(Error::from))
    }

    /// Read into `buf`; `Ok(0)` is end-of-stream (or an empty `buf`).
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        Ok(rustix::net::recv(&self.0, buf, RecvFlags::empty())?.0)
    }

    /// Write from `buf` (`MSG_NOSIGNAL`: a closed peer is
    /// [`Error::BrokenPipe`], not `SIGPIPE`).
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        Ok(rustix::net::send(&self.0, buf, sys::SEND_FLAGS)?)
    }

    /// Gather-write in one `sendmsg` (at most 1024 slices per call).
    pub fn writev(&self, bufs: &[IoSlice<'_>]) -> Result<usize> {
        sys::sendmsg(&self.0, bufs)
    }

    /// Read without consuming (`MSG_PEEK`).
    pub fn peek(&self, buf: &mut [u8]) -> Result<usize> {
        Ok(rustix::net::recv(&self.0, buf, RecvFlags::PEEK)?.0)
    }
}

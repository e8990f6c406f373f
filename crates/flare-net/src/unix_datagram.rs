//! Unix-domain datagram sockets.

use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::path::Path;
use std::time::Duration;

use rustix::net::{sockopt, AddressFamily, RecvFlags, SocketType};

use crate::error::{Error, Result};
use crate::fd::impl_fd_traits;
use crate::sys;
use crate::unix_addr::UnixAddr;

/// A Unix-domain datagram socket. Datagrams are reliable and ordered on one
/// host; one longer than the receive buffer is truncated.
///
/// [`bind`](Self::bind), [`bind_abstract`](Self::bind_abstract) and
/// [`unbound`](Self::unbound) create it **non-blocking**; [`pair`](Self::pair)
/// returns blocking sockets, like std.
#[derive(Debug)]
pub struct UnixDatagram(OwnedFd);

impl_fd_traits!(UnixDatagram);

impl UnixDatagram {
    /// Bind to a socket file (not removed on drop; an existing file is
    /// [`Error::AddrInUse`]).
    pub fn bind(path: impl AsRef<Path>) -> Result<Self> {
        Self::bind_addr(&UnixAddr::from(path.as_ref()))
    }

    /// Bind to a Linux abstract name.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn bind_abstract(name: &[u8]) -> Result<Self> {
        Self::bind_addr(&UnixAddr::Abstract(name.to_vec()))
    }

    /// Bind to any [`UnixAddr`]; [`UnixAddr::Unnamed`] autobinds to a fresh
    /// abstract name on Linux, so peers can reply.
    pub fn bind_addr(addr: &UnixAddr) -> Result<Self> {
        let kernel_addr = addr.to_kernel(true)?;
        let fd = sys::socket(AddressFamily::UNIX, SocketType::DGRAM, true)?;
        rustix::net::bind(&fd, &kernel_addr)?;
        Ok(UnixDatagram(fd))
    }

    /// A socket with no address: it can send, but peers cannot reply.
    pub fn unbound() -> Result<Self> {
        Ok(UnixDatagram(sys::socket(
            AddressFamily::UNIX,
            SocketType::DGRAM,
            true,
        )?))
    }

    /// Two connected, unnamed, **blocking** sockets.
    pub fn pair() -> Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = sys::unix_pair(SocketType::DGRAM)?;
        Ok((UnixDatagram(a), UnixDatagram(b)))
    }

    /// Set the default peer to a socket file.
    pub fn connect(&self, path: impl AsRef<Path>) -> Result<()> {
        self.connect_addr(&UnixAddr::from(path.as_ref()))
    }

    /// Set the default peer to a Linux abstract name.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn connect_abstract(&self, name: &[u8]) -> Result<()> {
        self.connect_addr(&UnixAddr::Abstract(name.to_vec()))
    }

    /// Set the default peer to any named [`UnixAddr`].
    pub fn connect_addr(&self, addr: &UnixAddr) -> Result<()> {
        Ok(rustix::net::connect(&self.0, &addr.to_kernel(false)?)?)
    }

    /// Switch between blocking and non-blocking I/O.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        sys::set_nonblocking(&self.0, nonblocking)
    }

    /// `SO_RCVTIMEO` for blocking receives (a timeout is
    /// [`Error::WouldBlock`]); `None` waits forever, zero is
    /// [`Error::InvalidInput`].
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        sys::set_timeout(&self.0, sockopt::Timeout::Recv, timeout)
    }

    /// `SO_SNDTIMEO` for blocking sends.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        sys::set_timeout(&self.0, sockopt::Timeout::Send, timeout)
    }

    /// Send one datagram to `addr`. A full receiver queue is
    /// [`Error::WouldBlock`] on a non-blocking socket; no socket at `addr` is
    /// [`Error::ConnectionRefused`] (or `ENOENT` for a missing file).
    pub fn send_to(&self, buf: &[u8], addr: &UnixAddr) -> Result<usize> {
        let kernel_addr = addr.to_kernel(false)?;
        Ok(rustix::net::sendto(
            &self.0,
            buf,
            sys::SEND_FLAGS,
            &kernel_addr,
        )?)
    }

    /// Receive one datagram and its sender ([`UnixAddr::Unnamed`] if the
    /// sender has no address).
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, UnixAddr)> {
        let (n, _, from) = rustix::net::recvfrom(&self.0, buf, RecvFlags::empty())?;
        Ok((n, UnixAddr::from_kernel(from)?))
    }

    /// Send one datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> Result<usize> {
        Ok(rustix::net::send(&self.0, buf, sys::SEND_FLAGS)?)
    }

    /// Receive one datagram from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        Ok(rustix::net::recv(&self.0, buf, RecvFlags::empty())?.0)
    }

    /// Our address.
    pub fn local_addr(&self) -> Result<UnixAddr> {
        UnixAddr::from_kernel(Some(rustix::net::getsockname(&self.0)?))
    }

    /// The connected peer's address; [`Error::NotConnected`] if not connected.
    pub fn peer_addr(&self) -> Result<UnixAddr> {
        UnixAddr::from_kernel(rustix::net::getpeername(&self.0)?)
    }

    /// Shut down reading, writing or both.
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        Ok(rustix::net::shutdown(&self.0, sys::shutdown_how(how))?)
    }

    /// Take the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> Result<Option<Error>> {
        Ok(sockopt::socket_error(&self.0)?.err().map(Error::from))
    }
}

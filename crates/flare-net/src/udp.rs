//! UDP sockets: datagrams to and from any peer, or a connected default peer,
//! plus broadcast and multicast options.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;
use std::time::Duration;

use rustix::net::{sockopt, RecvFlags, SocketType};

use crate::error::{Error, Result};
use crate::fd::impl_fd_traits;
use crate::sys;

/// A UDP socket.
///
/// [`bind`](Self::bind) creates it **non-blocking** (and close-on-exec): a
/// reactor reads until [`Error::WouldBlock`]. For blocking use call
/// [`set_nonblocking(false)`](Self::set_nonblocking), and bound the waits with
/// [`set_read_timeout`](Self::set_read_timeout).
///
/// A datagram longer than the buffer passed to a receive call is truncated;
/// the rest of it is discarded.
#[derive(Debug)]
pub struct UdpSocket(OwnedFd);

impl_fd_traits!(UdpSocket);

impl UdpSocket {
    /// Create a non-blocking socket bound to `addr` (port 0: the kernel picks).
    pub fn bind(addr: SocketAddr) -> Result<Self> {
        let fd = sys::socket(sys::family_of(&addr), SocketType::DGRAM, true)?;
        rustix::net::bind(&fd, &addr)?;
        Ok(UdpSocket(fd))
    }

    /// Like [`bind`](Self::bind) with `SO_REUSEADDR` and `SO_REUSEPORT` set first,
    /// so several sockets (one per worker thread) can share the port; on Linux the
    /// kernel spreads datagrams over them by a hash of the sender's address and
    /// port, so one client's datagrams stay on one socket.
    pub fn bind_reuse_port(addr: SocketAddr) -> Result<Self> {
        let fd = sys::socket(sys::family_of(&addr), SocketType::DGRAM, true)?;
        sockopt::set_socket_reuseaddr(&fd, true)?;
        sockopt::set_socket_reuseport(&fd, true)?;
        #[cfg(target_os = "freebsd")]
        sockopt::set_socket_reuseport_lb(&fd, true)?;
        rustix::net::bind(&fd, &addr)?;
        Ok(UdpSocket(fd))
    }

    /// Adopt a std socket (its blocking mode is kept).
    pub fn from_std(socket: std::net::UdpSocket) -> Self {
        UdpSocket::from(OwnedFd::from(socket))
    }

    /// Convert into a std socket (the blocking mode is kept).
    pub fn into_std(self) -> std::net::UdpSocket {
        std::net::UdpSocket::from(self.0)
    }

    /// Switch between blocking and non-blocking I/O.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        sys::set_nonblocking(&self.0, nonblocking)
    }

    /// Send one datagram to `addr`.
    pub fn send_to(&self, buf: &[u8], addr: SocketAddr) -> Result<usize> {
        Ok(rustix::net::sendto(&self.0, buf, sys::SEND_FLAGS, &addr)?)
    }

    /// Receive one datagram and its sender.
    pub fn recv_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        let (n, _, from) = rustix::net::recvfrom(&self.0, buf, RecvFlags::empty())?;
        match from {
            Some(from) => Ok((n, sys::ip_addr(from)?)),
            // An IP datagram always has a source; treat a missing one as an
            // address the caller cannot reply to.
            None => Err(Error::AddrNotAvailable),
        }
    }

    /// Like [`recv_from`](Self::recv_from) but leaves the datagram queued.
    pub fn peek_from(&self, buf: &mut [u8]) -> Result<(usize, SocketAddr)> {
        let (n, _, from) = rustix::net::recvfrom(&self.0, buf, RecvFlags::PEEK)?;
        match from {
            Some(from) => Ok((n, sys::ip_addr(from)?)),
            None => Err(Error::AddrNotAvailable),
        }
    }

    /// Set the default peer: [`send`](Self::send) goes there and only its
    /// datagrams are received. An ICMP port-unreachable from it turns a later
    /// call into [`Error::ConnectionRefused`].
    pub fn connect(&self, addr: SocketAddr) -> Result<()> {
        Ok(rustix::net::connect(&self.0, &addr)?)
    }

    /// Send one datagram to the connected peer.
    pub fn send(&self, buf: &[u8]) -> Result<usize> {
        Ok(rustix::net::send(&self.0, buf, sys::SEND_FLAGS)?)
    }

    /// Receive one datagram from the connected peer.
    pub fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        Ok(rustix::net::recv(&self.0, buf, RecvFlags::empty())?.0)
    }

    /// The bound address.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        sys::ip_addr(rustix::net::getsockname(&self.0)?)
    }

    /// The connected peer; [`Error::NotConnected`] if there is none.
    pub fn peer_addr(&self) -> Result<SocketAddr> {
        match rustix::net::getpeername(&self.0)? {
            Some(addr) => sys::ip_addr(addr),
            None => Err(Error::NotConnected),
        }
    }

    /// `SO_BROADCAST`: allow sending to broadcast addresses.
    pub fn set_broadcast(&self, on: bool) -> Result<()> {
        Ok(sockopt::set_socket_broadcast(&self.0, on)?)
    }

    /// Whether `SO_BROADCAST` is set.
    pub fn broadcast(&self) -> Result<bool> {
        Ok(sockopt::socket_broadcast(&self.0)?)
    }

    /// Join the IPv4 multicast group `multiaddr` on the interface with address
    /// `interface` (`0.0.0.0`: the system picks).
    pub fn join_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> Result<()> {
        Ok(sockopt::set_ip_add_membership(
            &self.0, multiaddr, interface,
        )?)
    }

    /// Leave a group joined with [`join_multicast_v4`](Self::join_multicast_v4);
    /// leaving a group not joined is [`Error::AddrNotAvailable`].
    pub fn leave_multicast_v4(&self, multiaddr: &Ipv4Addr, interface: &Ipv4Addr) -> Result<()> {
        Ok(sockopt::set_ip_drop_membership(
            &self.0, multiaddr, interface,
        )?)
    }

    /// Join the IPv6 multicast group `multiaddr` on interface index `if_index`
    /// (0: the system picks).
    pub fn join_multicast_v6(&self, multiaddr: &Ipv6Addr, if_index: u32) -> Result<()> {
        Ok(sockopt::set_ipv6_add_membership(
            &self.0, multiaddr, if_index,
        )?)
    }

    /// Leave a group joined with [`join_multicast_v6`](Self::join_multicast_v6).
    pub fn leave_multicast_v6(&self, multiaddr: &Ipv6Addr, if_index: u32) -> Result<()> {
        Ok(sockopt::set_ipv6_drop_membership(
            &self.0, multiaddr, if_index,
        )?)
    }

    /// `IP_MULTICAST_LOOP`: whether our own IPv4 multicast datagrams are
    /// delivered back to local members (default on).
    pub fn set_multicast_loop_v4(&self, on: bool) -> Result<()> {
        Ok(sockopt::set_ip_multicast_loop(&self.0, on)?)
    }

    /// Whether `IP_MULTICAST_LOOP` is set.
    pub fn multicast_loop_v4(&self) -> Result<bool> {
        Ok(sockopt::ip_multicast_loop(&self.0)?)
    }

    /// `IP_MULTICAST_IF`: the interface (by address) IPv4 multicast is sent
    /// from.
    pub fn set_multicast_if_v4(&self, interface: &Ipv4Addr) -> Result<()> {
        Ok(sockopt::set_ip_multicast_if(&self.0, interface)?)
    }

    /// `IP_TTL`: hop limit for unicast IPv4 datagrams (1..=255).
    pub fn set_ttl(&self, ttl: u32) -> Result<()> {
        Ok(sockopt::set_ip_ttl(&self.0, ttl)?)
    }

    /// The `IP_TTL` value.
    pub fn ttl(&self) -> Result<u32> {
        Ok(sockopt::ip_ttl(&self.0)?)
    }

    /// `SO_SNDBUF` (doubled and capped at `net.core.wmem_max` on Linux).
    pub fn set_send_buffer_size(&self, size: usize) -> Result<()> {
        Ok(sockopt::set_socket_send_buffer_size(&self.0, size)?)
    }

    /// The `SO_SNDBUF` size as the kernel reports it.
    pub fn send_buffer_size(&self) -> Result<usize> {
        Ok(sockopt::socket_send_buffer_size(&self.0)?)
    }

    /// `SO_RCVBUF`: how many bytes of datagrams may queue before new ones are
    /// dropped (doubled and capped at `net.core.rmem_max` on Linux). A DNS or
    /// QUIC server raises it to survive bursts.
    pub fn set_recv_buffer_size(&self, size: usize) -> Result<()> {
        Ok(sockopt::set_socket_recv_buffer_size(&self.0, size)?)
    }

    /// The `SO_RCVBUF` size as the kernel reports it.
    pub fn recv_buffer_size(&self) -> Result<usize> {
        Ok(sockopt::socket_recv_buffer_size(&self.0)?)
    }

    /// `SO_RCVTIMEO`, meaningful only in blocking mode: a receive that waits
    /// longer fails with [`Error::WouldBlock`]. `None` waits forever; zero is
    /// [`Error::InvalidInput`].
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        sys::set_timeout(&self.0, sockopt::Timeout::Recv, timeout)
    }

    /// `SO_SNDTIMEO`, like [`set_read_timeout`](Self::set_read_timeout) for
    /// sends.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> Result<()> {
        sys::set_timeout(&self.0, sockopt::Timeout::Send, timeout)
    }

    /// Take the pending socket error (`SO_ERROR`), e.g. a refused datagram.
    pub fn take_error(&self) -> Result<Option<Error>> {
        Ok(sockopt::socket_error(&self.0)?.err().map(Error::from))
    }
}

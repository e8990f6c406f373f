//! TCP listeners: a builder for the socket options a server sets before
//! `listen`, and `SO_REUSEPORT` sets (one listener per worker thread).

use std::net::SocketAddr;
use std::os::fd::OwnedFd;

use rustix::net::{sockopt, SocketType};

use crate::error::{Error, Result};
use crate::fd::impl_fd_traits;
use crate::sys;
use crate::tcp_stream::TcpStream;

/// Default `listen` backlog. The kernel caps it at `net.core.somaxconn`
/// (4096 on current Linux).
pub const DEFAULT_BACKLOG: u32 = 1024;

/// A listening TCP socket.
///
/// Created non-blocking (unless [`ListenerBuilder::nonblocking`] says otherwise)
/// and close-on-exec. [`accept`](TcpListener::accept) always returns
/// non-blocking streams.
#[derive(Debug)]
pub struct TcpListener(OwnedFd);

impl_fd_traits!(TcpListener);

/// Options for a [`TcpListener`], applied between `socket` and `listen`.
#[derive(Debug, Clone)]
#[must_use = "a builder does nothing until `bind` is called"]
pub struct ListenerBuilder {
    addr: SocketAddr,
    backlog: u32,
    reuse_addr: bool,
    reuse_port: bool,
    nonblocking: bool,
    only_v6: Option<bool>,
}

impl ListenerBuilder {
    fn new(addr: SocketAddr) -> Self {
        ListenerBuilder {
            addr,
            backlog: DEFAULT_BACKLOG,
            reuse_addr: true,
            reuse_port: false,
            nonblocking: true,
            only_v6: None,
        }
    }

    /// Length of the queue of completed connections waiting for `accept`.
    /// Default [`DEFAULT_BACKLOG`] (1024). When the queue is full, Linux drops
    /// new SYNs and clients retry, so a worker that falls behind slows new
    /// connections down instead of the kernel holding unbounded state.
    /// Values above `i32::MAX` are clamped; the kernel clamps further to
    /// `somaxconn`.
    pub fn backlog(mut self, n: u32) -> Self {
        self.backlog = n;
        self
    }

    /// `SO_REUSEADDR`. Default `true`: a restarted server can bind its port
    /// while connections of the previous process sit in `TIME_WAIT`. (It does
    /// not let two live listeners share a port; that is `reuse_port`.)
    pub fn reuse_addr(mut self, on: bool) -> Self {
        self.reuse_addr = on;
        self
    }

    /// `SO_REUSEPORT`. Default `false`. On Linux every listener bound to the
    /// same address with this set (by the same user) gets a share of incoming
    /// connections, spread by a hash of the 4-tuple: one listener per worker,
    /// no shared accept queue. On FreeBSD `SO_REUSEPORT_LB` is set as well for
    /// the same balancing. On macOS and the other BSDs the option only allows
    /// the shared bind; connections are not balanced between the listeners.
    pub fn reuse_port(mut self, on: bool) -> Self {
        self.reuse_port = on;
        self
    }

    /// Whether the listener itself is non-blocking. Default `true`: a reactor
    /// calls [`TcpListener::accept`] on readiness and stops at
    /// [`Error::WouldBlock`]. Accepted streams are non-blocking either way.
    pub fn nonblocking(mut self, on: bool) -> Self {
        self.nonblocking = on;
        self
    }

    /// `IPV6_V6ONLY` for an IPv6 address. When not called, the system default
    /// applies (on Linux, `net.ipv6.bindv6only`, normally `false`: `[::]` also
    /// accepts IPv4 as mapped addresses). Calling it for an IPv4 address makes
    /// [`bind`](Self::bind) fail with [`Error::InvalidInput`].
    pub fn only_v6(mut self, on: bool) -> Self {
        self.only_v6 = Some(on);
        self
    }

    /// Create the socket, set the options, `bind` and `listen`.
    pub fn bind(self) -> Result<TcpListener> {
        if self.only_v6.is_some() && self.addr.is_ipv4() {
            return Err(Error::InvalidInput("only_v6 applies to IPv6 addresses"));
        }
        let fd = sys::socket(
            sys::family_of(&self.addr),
            SocketType::STREAM,
            self.nonblocking,
        )?;
        if self.reuse_addr {
            sockopt::set_socket_reuseaddr(&fd, true)?;
        }
        if self.reuse_port {
            set_reuse_port(&fd)?;
        }
        if let Some(on) = self.only_v6 {
            sockopt::set_ipv6_v6only(&fd, on)?;
        }
        rustix::net::bind(&fd, &self.addr)?;
        let backlog = i32::try_from(self.backlog).unwrap_or(i32::MAX);
        rustix::net::listen(&fd, backlog)?;
        Ok(TcpListener(fd))
    }
}

#[cfg(not(target_os = "freebsd"))]
fn set_reuse_port(fd: &OwnedFd) -> Result<()> {
    Ok(sockopt::set_socket_reuseport(fd, true)?)
}

#[cfg(target_os = "freebsd")]
fn set_reuse_port(fd: &OwnedFd) -> Result<()> {
    sockopt::set_socket_reuseport(fd, true)?;
    Ok(sockopt::set_socket_reuseport_lb(fd, true)?)
}

impl TcpListener {
    /// Bind with the builder defaults: backlog 1024, `SO_REUSEADDR`, no
    /// `SO_REUSEPORT`, non-blocking.
    pub fn bind(addr: SocketAddr) -> Result<Self> {
        Self::builder(addr).bind()
    }

    /// A builder for a listener on `addr`; see [`ListenerBuilder`].
    pub fn builder(addr: SocketAddr) -> ListenerBuilder {
        ListenerBuilder::new(addr)
    }

    /// Take one connection from the queue: `accept4` with `SOCK_NONBLOCK |
    /// SOCK_CLOEXEC`, so the stream is non-blocking.
    ///
    /// On a non-blocking listener an empty queue gives [`Error::WouldBlock`].
    /// `EMFILE`/`ENFILE` give [`Error::FdExhausted`]; the connection stays
    /// queued, so back off (stop polling the listener for a moment) rather than
    /// retrying at once. [`Error::ConnectionAborted`] means one queued
    /// connection was reset before it was taken: just call `accept` again.
    pub fn accept(&self) -> Result<(TcpStream, SocketAddr)> {
        let (fd, peer) = sys::accept(&self.0)?;
        let peer = match peer {
            Some(peer) => sys::ip_addr(peer)?,
            // TCP always reports the peer; an empty address means the
            // connection is already gone, which is what ECONNABORTED says.
            None => return Err(Error::ConnectionAborted),
        };
        Ok((TcpStream::from(fd), peer))
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> Result<SocketAddr> {
        sys::ip_addr(rustix::net::getsockname(&self.0)?)
    }

    /// Switch the listener between blocking and non-blocking `accept`.
    pub fn set_nonblocking(&self, nonblocking: bool) -> Result<()> {
        sys::set_nonblocking(&self.0, nonblocking)
    }

    /// Adopt a std listener (its blocking mode is kept).
    pub fn from_std(listener: std::net::TcpListener) -> Self {
        TcpListener::from(OwnedFd::from(listener))
    }

    /// Convert into a std listener (the blocking mode is kept).
    pub fn into_std(self) -> std::net::TcpListener {
        std::net::TcpListener::from(self.0)
    }

    /// Take the pending socket error (`SO_ERROR`), if any.
    pub fn take_error(&self) -> Result<Option<Error>> {
        Ok(sockopt::socket_error(&self.0)?.err().map(Error::from))
    }
}

/// `n` listeners on one address with `SO_REUSEPORT` (and `SO_REUSEADDR`), each
/// with the given backlog, non-blocking. They are bound one after another: if
/// `addr`'s port is 0, the first bind picks a port and the others bind to it, so
/// all `n` share one port. See [`ListenerBuilder::reuse_port`] for how
/// connections are spread on each system.
///
/// `n == 0` is [`Error::InvalidInput`].
pub fn bind_reuseport(addr: SocketAddr, n: usize, backlog: u32) -> Result<Vec<TcpListener>> {
    if n == 0 {
        return Err(Error::InvalidInput(
            "bind_reuseport needs at least one listener",
        ));
    }
    let build = |addr| {
        TcpListener::builder(addr)
            .backlog(backlog)
            .reuse_port(true)
            .bind()
    };
    let first = build(addr)?;
    let shared = first.local_addr()?;
    let mut listeners = Vec::with_capacity(n);
    listeners.push(first);
    for _ in 1..n {
        listeners.push(build(shared)?);
    }
    Ok(listeners)
}

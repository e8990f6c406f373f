//! Non-blocking sockets for flare: TCP, UDP and Unix sockets with typed errors.
//!
//! This crate sits directly above the reactor. Every socket type wraps one
//! [`OwnedFd`](std::os::fd::OwnedFd), implements [`AsFd`](std::os::fd::AsFd) so
//! it can be registered with `flare_reactor::Poller`, and takes `&self` for
//! I/O.
//!
//! ```
//! use flare_net::{Error, TcpListener, TcpStream};
//!
//! let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
//! let client = TcpStream::connect(listener.local_addr()?)?; // blocking
//! client.write(b"ping")?;
//! let (server, _peer) = loop {
//!     match listener.accept() {
//!         Ok(accepted) => break accepted, // non-blocking stream
//!         Err(Error::WouldBlock) => std::thread::yield_now(), // a reactor would wait here
//!         Err(e) => return Err(e),
//!     }
//! };
//! let mut buf = [0u8; 4];
//! let mut got = 0;
//! while got < 4 {
//!     match server.read(&mut buf[got..]) {
//!         Ok(n) => got += n,
//!         Err(e) if e.is_would_block() => std::thread::yield_now(),
//!         Err(e) => return Err(e),
//!     }
//! }
//! assert_eq!(&buf, b"ping");
//! # Ok::<(), flare_net::Error>(())
//! ```
//!
//! # Modes
//!
//! - Every socket is created close-on-exec (atomically where the system allows:
//!   `SOCK_CLOEXEC` on `socket`, `accept4` and `socketpair`).
//! - What a server owns is **non-blocking**: listeners, accepted streams, bound
//!   UDP and Unix datagram sockets. Calls that cannot proceed return
//!   [`Error::WouldBlock`].
//! - What a simple client uses is **blocking**, as in std:
//!   [`TcpStream::connect`], [`TcpStream::connect_timeout`],
//!   [`UnixStream::connect`] and the `pair()` constructors. Use
//!   [`TcpStream::connect_nonblocking`] to connect from an event loop.
//! - Writes never raise `SIGPIPE`: `MSG_NOSIGNAL` on Linux and the BSDs,
//!   `SO_NOSIGPIPE` on Apple targets. A closed peer is [`Error::BrokenPipe`].
//!
//! # Errors
//!
//! Every `errno` is mapped in one place ([`Error`]'s `From<Errno>`); running
//! out of descriptors is [`Error::FdExhausted`] so a server can back off
//! instead of spinning on `accept`.
//!
//! # Platforms
//!
//! Linux is the target. macOS and the BSDs build from the same code with
//! `cfg`s where they differ: abstract Unix names are Linux-only, and
//! `SO_REUSEPORT` balances connections only on Linux (and on FreeBSD, where
//! `SO_REUSEPORT_LB` is set too).

mod error;
mod fd;
pub mod proxy_protocol;
mod sys;
mod tcp_listener;
mod tcp_stream;
mod udp;
mod udp_batch;
mod unix_addr;
mod unix_datagram;
mod unix_stream;

pub use error::{Error, Result};
pub use std::net::SocketAddr;
pub use tcp_listener::{bind_reuseport, ListenerBuilder, TcpListener, DEFAULT_BACKLOG};
pub use tcp_stream::TcpStream;
pub use udp::UdpSocket;
pub use udp_batch::{Datagram, RecvBatch, SendBatch};
pub use unix_addr::UnixAddr;
pub use unix_datagram::UnixDatagram;
pub use unix_stream::{UnixListener, UnixStream};

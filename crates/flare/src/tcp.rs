//! Raw TCP (and TLS) servers for your own protocols, on the same workers as
//! [`HttpServer`](crate::HttpServer): per-core reactors, one `SO_REUSEPORT` listener
//! per worker (or a shared one), CPU pinning, max connections, `EMFILE` back-off,
//! idle and write deadlines, graceful drain on SIGTERM, TLS and io_uring as options.
//!
//! A protocol is a [`Protocol`]: a state machine the worker steps with the bytes
//! that arrived, answering into a [`Context`]. See the example in [`Protocol`]'s
//! module docs and `examples/line_echo.rs` and `examples/resp.rs`.
//!
//! What the server's settings ([`ServerConfig`]) mean here:
//! `keep_alive_timeout` is the idle timeout (no bytes from the peer and no protocol
//! deadline set), `write_timeout` the longest the peer may leave output unread,
//! `max_connections` the per-worker connection limit, `drain_timeout` the grace,
//! `max_input_buffer` the most input held while the protocol consumes none,
//! `io_uring` the backend.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;

pub use crate::server::raw::{Context, Protocol, Waker};
use crate::server::{HttpServer, ServerConfig, ServerHandle};
use crate::Result;

/// A multi-worker server for a [`Protocol`].
pub struct TcpServer {
    inner: HttpServer,
}

impl TcpServer {
    /// Binds the address (the first that `addr` resolves to), `SO_REUSEADDR` and
    /// `SO_REUSEPORT` set, backlog 1024.
    pub fn bind(addr: impl ToSocketAddrs) -> Result<TcpServer> {
        Ok(TcpServer {
            inner: HttpServer::bind(addr)?,
        })
    }
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }
    /// Also serve on a Unix stream socket at `path` (see
    /// [`HttpServer::bind_unix`]: stale files removed, `mode` sets permissions).
    pub fn bind_unix(
        mut self,
        path: impl AsRef<std::path::Path>,
        mode: Option<u32>,
    ) -> Result<Self> {
        self.inner = self.inner.bind_unix(path, mode)?;
        Ok(self)
    }
    /// Worker threads (default: the number of CPUs).
    pub fn workers(mut self, n: usize) -> Self {
        self.inner = self.inner.workers(n);
        self
    }
    /// One listener shared by every worker (`EPOLLEXCLUSIVE`) instead of one each.
    pub fn shared_listener(mut self, on: bool) -> Self {
        self.inner = self.inner.shared_listener(on);
        self
    }
    /// Pin worker `i` to CPU `i % ncpus` (default: off).
    pub fn pin_workers(mut self, on: bool) -> Self {
        self.inner = self.inner.pin_workers(on);
        self
    }
    /// Serve over TLS: the handshake runs in the workers, the protocol sees
    /// plaintext (ALPN, if configured, is the protocol's business).
    pub fn tls(mut self, config: flare_tls::ServerConfig) -> Self {
        self.inner = self.inner.tls(config);
        self
    }
    /// On SIGHUP under [`serve`](Self::serve): start this program again with its
    /// listening sockets inherited, then drain (see
    /// [`HttpServer::restart_on_sighup`]).
    pub fn restart_on_sighup(mut self, on: bool) -> Self {
        self.inner = self.inner.restart_on_sighup(on);
        self
    }
    /// Replaces the settings (timeouts and limits; see the module docs).
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.inner = self.inner.config(config);
        self
    }
    /// Changes the settings in place.
    pub fn configure(mut self, f: impl FnOnce(ServerConfig) -> ServerConfig) -> Self {
        self.inner = self.inner.configure(f);
        self
    }
    /// Serves until SIGINT or SIGTERM, then drains: every connection's
    /// [`Protocol::on_drain`] is called, and what is left at the end of the grace is
    /// closed. `make` builds each new connection's state from its peer address.
    pub fn serve<P, F>(self, make: F) -> Result<()>
    where
        P: Protocol,
        F: Fn(SocketAddr) -> P + Send + Sync + 'static,
    {
        self.inner.serve_raw(factory(make))
    }
    /// Starts the workers and returns at once; see [`ServerHandle`].
    pub fn start<P, F>(self, make: F) -> Result<ServerHandle>
    where
        P: Protocol,
        F: Fn(SocketAddr) -> P + Send + Sync + 'static,
    {
        self.inner.start_raw(factory(make))
    }
}

fn factory<P, F>(make: F) -> Arc<crate::server::raw::Factory>
where
    P: Protocol,
    F: Fn(SocketAddr) -> P + Send + Sync + 'static,
{
    Arc::new(move |peer| Box::new(make(peer)) as Box<dyn Protocol>)
}

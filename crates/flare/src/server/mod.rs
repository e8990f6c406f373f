//! The HTTP server: builder, configuration, handle.
//!
//! [`HttpServer::bind`] binds the first listener at once (so a bad address or a port in
//! use fails there, and port 0 resolves to one port), then [`serve`](HttpServer::serve)
//! or [`start`](HttpServer::start) binds one more `SO_REUSEPORT` listener per extra
//! worker on the same port and starts the workers.

// Without io_uring, a few accessors only the ring uses go unused.
#![cfg_attr(
    not(all(target_os = "linux", feature = "io-uring")),
    allow(dead_code, unused_mut)
)]

mod config;
mod conn;
mod connection;
mod h2conn;
mod h2ws;
mod inherit;
mod proxy;
pub(crate) mod raw;
mod signal;
mod static_response;
mod tls;
mod transport;
#[cfg(all(target_os = "linux", feature = "io-uring"))]
mod uring;
mod worker;
mod wsconn;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flare_net::TcpListener;
use flare_reactor::Waker;
use flare_web::Handler;

pub use config::ServerConfig;
pub use proxy::ProxyProtocol;
pub use static_response::StaticResponse;

use crate::error::{Error, Result};
use worker::{ListenSock, Service, Worker};

/// A multi-worker HTTP server. See the crate docs for an example.
pub struct HttpServer {
    addr: SocketAddr,
    first: TcpListener,
    /// TLS for the primary address.
    tls: Option<flare_tls::ServerConfig>,
    /// More addresses served by every worker: (address, first listener, TLS).
    extra: Vec<(SocketAddr, TcpListener, Option<flare_tls::ServerConfig>)>,
    /// Unix stream listeners, shared by every worker.
    unix: Vec<(std::path::PathBuf, Arc<flare_net::UnixListener>)>,
    /// Addresses whose listeners were inherited (shared by every worker, never
    /// re-bound), and the inherited sockets beyond the first for them.
    adopted: Vec<SocketAddr>,
    adopted_more: Vec<(SocketAddr, TcpListener)>,
    restart_on_sighup: bool,
    proxy: Option<Arc<ProxyProtocol>>,
    workers: usize,
    shared_listener: bool,
    pin_workers: bool,
    config: ServerConfig,
}

impl HttpServer {
    /// Binds the address (the first that `addr` resolves to). The listener has
    /// `SO_REUSEADDR` and `SO_REUSEPORT` set, backlog 1024.
    pub fn bind(addr: impl ToSocketAddrs) -> Result<HttpServer> {
        let addr = addr.to_socket_addrs()?.next().ok_or(Error::NoAddress)?;
        let (first, more) = bind_or_adopt(addr)?;
        let addr = first.local_addr()?;
        let adopted = if more.is_some() {
            vec![addr]
        } else {
            Vec::new()
        };
        Ok(HttpServer {
            addr,
            first,
            tls: None,
            extra: Vec::new(),
            unix: Vec::new(),
            adopted,
            adopted_more: more
                .unwrap_or_default()
                .into_iter()
                .map(|l| (addr, l))
                .collect(),
            restart_on_sighup: false,
            proxy: None,
            workers: default_workers(),
            shared_listener: false,
            pin_workers: false,
            config: ServerConfig::default(),
        })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every bound address: the primary one first, then those added with
    /// [`bind_tls`](Self::bind_tls), in order.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        std::iter::once(self.addr)
            .chain(self.extra.iter().map(|(a, _, _)| *a))
            .collect()
    }

    /// Serve the primary address over TLS: non-blocking handshakes in the workers,
    /// ALPN `h2` to HTTP/2 and `http/1.1` (or none) to HTTP/1.1, the same handler.
    /// The handshake must finish within the config's handshake timeout.
    pub fn tls(mut self, config: flare_tls::ServerConfig) -> Self {
        self.tls = Some(config);
        self
    }

    /// Also serve `addr` over TLS (with the same handler and workers), for a
    /// plaintext port and a TLS port in one process. Binds at once.
    pub fn bind_tls(
        mut self,
        addr: impl ToSocketAddrs,
        config: flare_tls::ServerConfig,
    ) -> Result<Self> {
        let addr = addr.to_socket_addrs()?.next().ok_or(Error::NoAddress)?;
        let (l, more) = bind_or_adopt(addr)?;
        let addr = l.local_addr()?;
        if let Some(more) = more {
            self.adopted.push(addr);
            self.adopted_more
                .extend(more.into_iter().map(|l| (addr, l)));
        }
        self.extra.push((addr, l, Some(config)));
        Ok(self)
    }

    /// Also serve on a Unix stream socket at `path` (the usual deployment behind
    /// nginx's `proxy_pass http://unix:PATH:`), with the same handler and workers
    /// (one listener shared by all, `EPOLLEXCLUSIVE`). A stale socket file (no
    /// server answers on it) is removed first; a live one is `AddrInUse`. `mode`
    /// sets the file's permissions (e.g. `0o660` for a group the proxy runs as);
    /// `None` leaves the umask's. The file stays after the server stops.
    pub fn bind_unix(
        mut self,
        path: impl AsRef<std::path::Path>,
        mode: Option<u32>,
    ) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let l = match inherit::take_unix(&path) {
            Some(l) => l,
            None => bind_unix_listener(&path, mode)?,
        };
        self.unix.push((path, Arc::new(l)));
        Ok(self)
    }

    /// The Unix socket paths added with [`bind_unix`](Self::bind_unix).
    pub fn unix_paths(&self) -> Vec<std::path::PathBuf> {
        self.unix.iter().map(|(p, _)| p.clone()).collect()
    }

    /// On SIGHUP under [`serve`](Self::serve): start this program again with the
    /// same arguments and every listening socket inherited, then drain (default:
    /// off, SIGHUP not caught). The successor's `bind` calls take the inherited
    /// sockets, so the restart loses no connection.
    pub fn restart_on_sighup(mut self, on: bool) -> Self {
        self.restart_on_sighup = on;
        self
    }

    /// Expect a PROXY protocol header (v1 or v2) first on every TCP listener of
    /// this server, plaintext and TLS (before the ClientHello), from the trusted
    /// networks only: see [`ProxyProtocol`]. Handlers then see the proxied client as
    /// the peer (default: off).
    pub fn proxy_protocol(mut self, cfg: ProxyProtocol) -> Self {
        self.proxy = Some(Arc::new(cfg));
        self
    }

    /// Worker threads (default: the number of CPUs). Each has its own reactor, and its
    /// own `SO_REUSEPORT` listener unless [`shared_listener`](Self::shared_listener).
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// One listener shared by all workers, each registering it with `EPOLLEXCLUSIVE`
    /// so one worker wakes per connection (default: off, one listener per worker).
    /// Sharing balances load by who is idle rather than by the kernel's hash.
    pub fn shared_listener(mut self, on: bool) -> Self {
        self.shared_listener = on;
        self
    }

    /// Pin worker `i` to CPU `i % ncpus` (default: off).
    pub fn pin_workers(mut self, on: bool) -> Self {
        self.pin_workers = on;
        self
    }

    /// Replaces the whole configuration (limits and timeouts).
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Changes the configuration in place.
    pub fn configure(mut self, f: impl FnOnce(ServerConfig) -> ServerConfig) -> Self {
        self.config = f(self.config);
        self
    }

    /// Serves `handler` until SIGINT or SIGTERM, then drains gracefully (stops
    /// accepting, finishes requests in flight with `Connection: close`, closes idle
    /// connections) for at most [`ServerConfig::drain_timeout`], and returns.
    pub fn serve<H: Handler>(self, handler: H) -> Result<()> {
        let grace = self.config.drain_timeout;
        let restart = self.restart_on_sighup;
        signal::RESTART_ON_HUP.store(restart, Ordering::Relaxed);
        signal::block_termination_signals();
        let handle = self.start(handler)?;
        signal::wait_for_termination(&handle, grace, restart)?;
        handle.join()
    }

    /// Starts the workers and returns at once; see [`ServerHandle`].
    pub fn start<H: Handler>(self, handler: H) -> Result<ServerHandle> {
        let handler = Arc::new(handler);
        self.launch(move || Service::Handler(handler.clone()))
    }

    /// Serves one pre-encoded response to every request, without building a request
    /// object (the TechEmpower-style fast path). Stops like [`serve`](Self::serve).
    pub fn serve_static(self, response: StaticResponse) -> Result<()> {
        let grace = self.config.drain_timeout;
        let restart = self.restart_on_sighup;
        signal::RESTART_ON_HUP.store(restart, Ordering::Relaxed);
        signal::block_termination_signals();
        let handle = self.start_static(response)?;
        signal::wait_for_termination(&handle, grace, restart)?;
        handle.join()
    }

    /// Serves a user's protocol (see [`crate::tcp::TcpServer`]) until SIGINT or
    /// SIGTERM, then drains like [`serve`](Self::serve).
    pub(crate) fn serve_raw(self, make: Arc<raw::Factory>) -> Result<()> {
        let grace = self.config.drain_timeout;
        let restart = self.restart_on_sighup;
        signal::RESTART_ON_HUP.store(restart, Ordering::Relaxed);
        signal::block_termination_signals();
        let handle = self.start_raw(make)?;
        signal::wait_for_termination(&handle, grace, restart)?;
        handle.join()
    }

    /// Starts the workers for a user's protocol and returns at once.
    pub(crate) fn start_raw(self, make: Arc<raw::Factory>) -> Result<ServerHandle> {
        self.launch(move || Service::<NoHandler>::Raw(make.clone()))
    }

    /// Like [`serve_static`](Self::serve_static) but returns a handle at once.
    pub fn start_static(self, response: StaticResponse) -> Result<ServerHandle> {
        let response = Arc::new(response);
        self.launch(move || Service::<NoHandler>::Static(response.clone()))
    }

    fn launch<H: Handler>(self, mut service: impl FnMut() -> Service<H>) -> Result<ServerHandle> {
        let n = self.workers;
        let mut addrs = vec![self.addr];
        // Per address: the first listener, its TLS config.
        let mut specs = vec![(self.addr, Arc::new(self.first), self.tls)];
        for (addr, l, tls) in self.extra {
            addrs.push(addr);
            specs.push((addr, Arc::new(l), tls));
        }
        // Per worker: one listener per address (the first worker takes the ones
        // bound already; the others bind their own on the same port, or share).
        let mut per_worker: Vec<Vec<worker::ListenerSpec>> = Vec::with_capacity(n);
        let adopted_more: Vec<(SocketAddr, Arc<TcpListener>)> = self
            .adopted_more
            .into_iter()
            .map(|(a, l)| (a, Arc::new(l)))
            .collect();
        let mut handover: Vec<(ListenSock, &'static str)> = Vec::new();
        for w in 0..n {
            let mut ls = Vec::with_capacity(specs.len());
            for (addr, first, tls) in &specs {
                let name = if tls.is_some() { "tls" } else { "http" };
                if self.adopted.contains(addr) {
                    // Inherited: every worker shares every inherited socket.
                    for l in std::iter::once(first).chain(
                        adopted_more
                            .iter()
                            .filter(|(a, _)| a == addr)
                            .map(|(_, l)| l),
                    ) {
                        ls.push(worker::ListenerSpec::new(
                            ListenSock::Tcp(l.clone()),
                            tls.clone(),
                            n > 1,
                            self.proxy.clone(),
                        ));
                        if w == 0 {
                            handover.push((ListenSock::Tcp(l.clone()), name));
                        }
                    }
                    continue;
                }
                let l = if w == 0 || self.shared_listener {
                    first.clone()
                } else {
                    Arc::new(
                        TcpListener::builder(*addr)
                            .reuse_port(true)
                            .backlog(1024)
                            .bind()?,
                    )
                };
                if w == 0 || !self.shared_listener {
                    handover.push((ListenSock::Tcp(l.clone()), name));
                }
                ls.push(worker::ListenerSpec::new(
                    ListenSock::Tcp(l),
                    tls.clone(),
                    self.shared_listener && n > 1,
                    self.proxy.clone(),
                ));
            }
            for (_, l) in &self.unix {
                ls.push(worker::ListenerSpec::new(
                    ListenSock::Unix(l.clone()),
                    None,
                    n > 1,
                    None,
                ));
                if w == 0 {
                    handover.push((ListenSock::Unix(l.clone()), "unix"));
                }
            }
            per_worker.push(ls);
        }
        log::info!(
            "starting {n} workers on {addrs:?}{}",
            self.unix
                .iter()
                .map(|(p, _)| format!(" unix:{}", p.display()))
                .collect::<String>()
        );
        let shared = Arc::new(Shared {
            drain_deadline_ns: AtomicU64::new(0),
            draining: AtomicBool::new(false),
            wakers: Mutex::new(Vec::new()),
            epoch: Instant::now(),
        });
        let config = Arc::new(self.config);
        let mut threads = Vec::with_capacity(n);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<Arc<Waker>>>();
        let ncpu = default_workers();
        for (i, listeners) in per_worker.into_iter().enumerate() {
            let svc = service();
            let cfg = config.clone();
            let shared = shared.clone();
            let tx = ready_tx.clone();
            let pin = self.pin_workers.then_some(i % ncpu);
            let t = std::thread::Builder::new()
                .name(format!("flare-worker-{i}"))
                .spawn(move || {
                    if let Some(cpu) = pin {
                        pin_to_cpu(cpu);
                    }
                    let mut w = match Worker::new(listeners, svc, cfg, shared) {
                        Ok(w) => {
                            let _ = tx.send(Ok(w.waker()));
                            w
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            return;
                        }
                    };
                    w.run();
                })?;
            threads.push(t);
        }
        drop(ready_tx);
        let mut first_err = None;
        for _ in 0..n {
            match ready_rx.recv() {
                Ok(Ok(w)) => shared
                    .wakers
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(w),
                Ok(Err(e)) => first_err = Some(e),
                Err(_) => first_err = Some(std::io::Error::other("worker exited during start")),
            }
        }
        let handle = ServerHandle {
            addrs,
            shared,
            threads,
            handover,
        };
        if let Some(e) = first_err {
            handle.shutdown(Duration::ZERO);
            let _ = handle.join();
            return Err(Error::Io(e));
        }
        Ok(handle)
    }
}

/// A handler type for the static service (never called).
#[derive(Debug)]
pub(crate) struct NoHandler;
impl Handler for NoHandler {
    fn handle(&self, _req: &mut flare_web::Request) -> flare_web::Response {
        flare_web::Response::new(http::StatusCode::NOT_FOUND)
    }
}

/// State the handle and the workers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) draining: AtomicBool,
    /// Drain deadline as nanoseconds after `epoch`.
    pub(crate) drain_deadline_ns: AtomicU64,
    pub(crate) wakers: Mutex<Vec<Arc<Waker>>>,
    pub(crate) epoch: Instant,
}

impl Shared {
    pub(crate) fn drain_deadline(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.drain_deadline_ns.load(Ordering::Acquire))
    }
}

/// Controls a running server.
#[derive(Debug)]
pub struct ServerHandle {
    addrs: Vec<SocketAddr>,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    /// Every listening socket, for a successor.
    handover: Vec<(ListenSock, &'static str)>,
}

impl ServerHandle {
    /// The primary bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    /// Every bound address, primary first (see [`HttpServer::local_addrs`]).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Starts a graceful drain: workers stop accepting, answer requests already
    /// received (with `Connection: close`), close idle connections, and exit when no
    /// connection is left or `grace` has passed (then the rest are cancelled and
    /// closed). Returns at once; [`join`](Self::join) waits.
    pub fn shutdown(&self, grace: Duration) {
        log::info!("drain: no new connections; {grace:?} for those open");
        let deadline = self.shared.epoch.elapsed() + grace;
        self.shared
            .drain_deadline_ns
            .store(deadline.as_nanos() as u64, Ordering::Release);
        self.shared.draining.store(true, Ordering::Release);
        for w in self
            .shared
            .wakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = w.wake();
        }
    }

    /// Starts `cmd` (usually this program again, after an upgrade) with every
    /// listening socket of this server inherited as descriptors 3, 4, ... and
    /// `FLARE_LISTEN_FDS` set: a flare server in that process that binds the same
    /// addresses takes these sockets instead of binding new ones. Then
    /// [`shutdown`](Self::shutdown) this one: it stops accepting and drains while
    /// the successor accepts on the same sockets, so no connection is refused or
    /// reset (see `docs/architecture.md`, "Zero-downtime restart").
    pub fn spawn_successor(
        &self,
        cmd: &mut std::process::Command,
    ) -> std::io::Result<std::process::Child> {
        use std::os::fd::AsFd;
        let fds: Vec<(std::os::fd::BorrowedFd<'_>, &str)> = self
            .handover
            .iter()
            .map(|(l, name)| (l.as_fd(), *name))
            .collect();
        inherit::spawn_with_fds(cmd, &fds)
    }

    /// Waits for every worker to exit.
    pub fn join(self) -> Result<()> {
        let mut res = Ok(());
        for t in self.threads {
            if t.join().is_err() {
                res = Err(Error::WorkerPanicked);
            }
        }
        res
    }
}

/// An inherited listener for `addr` (and more of them, `Some`), or a new one.
fn bind_or_adopt(addr: SocketAddr) -> Result<(TcpListener, Option<Vec<TcpListener>>)> {
    let mut inherited = inherit::take_tcp(addr);
    if !inherited.is_empty() {
        let first = inherited.remove(0);
        return Ok((first, Some(inherited)));
    }
    let l = TcpListener::builder(addr)
        .reuse_port(true)
        .backlog(1024)
        .bind()?;
    log::info!("listening on {}", l.local_addr()?);
    Ok((l, None))
}

/// Binds a Unix listener at `path`, removing a stale socket file first.
fn bind_unix_listener(
    path: &std::path::Path,
    mode: Option<u32>,
) -> Result<flare_net::UnixListener> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(Error::Io(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            )));
        }
        // Someone answering: in use. Refused: a stale file from a server gone.
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                return Err(Error::Io(std::io::Error::new(
                    std::io::ErrorKind::AddrInUse,
                    format!("{}: a server is listening there", path.display()),
                )))
            }
            Err(_) => {
                log::info!("removing stale socket file {}", path.display());
                let _ = std::fs::remove_file(path);
            }
        }
    }
    let l = flare_net::UnixListener::bind_addr(&flare_net::UnixAddr::from(path), 1024)?;
    if let Some(m) = mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(m))?;
    }
    log::info!("listening on unix:{}", path.display());
    Ok(l)
}

fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn pin_to_cpu(cpu: usize) {
    #[cfg(target_os = "linux")]
    {
        let mut set = rustix_free_cpuset();
        // SAFETY: `set` is a plain bitmask owned by this frame; CPU_SET only writes
        // inside it (cpu is bounded by CPU_SETSIZE below), and sched_setaffinity reads
        // it for the calling thread (pid 0).
        unsafe {
            if cpu < libc::CPU_SETSIZE as usize {
                libc::CPU_SET(cpu, &mut set);
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = cpu;
}

#[cfg(target_os = "linux")]
fn rustix_free_cpuset() -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is a plain array of integers; all-zero is the empty set.
    unsafe { std::mem::zeroed() }
}

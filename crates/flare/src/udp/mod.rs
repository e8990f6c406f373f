//! UDP servers on flare's workers: one `SO_REUSEPORT` socket per worker, datagrams
//! received and sent in batches (`recvmmsg`/`sendmmsg` on Linux), a handler called
//! per datagram.
//!
//! ```no_run
//! use flare::udp::{Reply, UdpServer};
//! use std::net::SocketAddr;
//!
//! fn main() -> flare::Result<()> {
//!     // An echo server: every datagram goes back to its sender.
//!     UdpServer::bind("127.0.0.1:9000")?
//!         .workers(2)
//!         .serve(|data: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>| {
//!             reply.send(data);
//!         })
//! }
//! ```
//!
//! # The worker loop
//!
//! Each worker thread owns a `flare_reactor::Poller`, its socket (level-triggered,
//! readable), a [`Waker`](flare_reactor::Waker) for shutdown, one
//! [`RecvBatch`](flare_net::RecvBatch) and one [`SendBatch`](flare_net::SendBatch),
//! both allocated once. On readable it receives up to
//! [`batch_size`](UdpServer::batch_size) datagrams with one `recvmmsg`, calls the
//! handler for each (the replies it makes are appended to the send batch), and sends
//! the batch with one `sendmmsg`; it repeats up to 8 times before polling again, so a
//! busy socket costs about two syscalls per batch and nothing is allocated per
//! datagram. Nothing is shared between workers but the drain flag and the handler.
//!
//! When the socket buffer is full the replies wait in the send batch and the worker
//! asks for writability; past [`send_queue`](UdpServer::send_queue) replies waiting,
//! new ones are dropped and counted ([`UdpStats::dropped`]) and the worker stops
//! receiving until the queue drains (the kernel then drops what does not fit in the
//! receive buffer, as it would for a slow server). A datagram longer than
//! [`max_datagram_size`](UdpServer::max_datagram_size) is dropped and counted
//! ([`UdpStats::oversized`]) without calling the handler.
//!
//! # Drain
//!
//! [`UdpServerHandle::shutdown`] (or SIGINT/SIGTERM under [`UdpServer::serve`])
//! wakes every worker. A worker answers the datagrams its socket already holds (at
//! most 64 batches), stops receiving, flushes the replies still queued, and exits when
//! none is left or the grace has passed (then the rest are dropped and counted).

mod os;
mod worker;

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flare_net::{SendBatch, UdpSocket};
use flare_reactor::Waker;

use crate::error::{Error, Result};

/// What a [`UdpServer`] calls for every datagram it receives.
///
/// `data` is the datagram (at most [`UdpServer::max_datagram_size`] bytes), `peer`
/// its sender; `reply` queues response datagrams, to `peer` or anywhere else, sent
/// in the worker's next batch. The handler runs on the worker thread: one that
/// blocks stalls that worker's socket. A panic is caught and logged; replies queued
/// before it are still sent.
///
/// Closures `Fn(&[u8], SocketAddr, &mut Reply<'_>)` implement it.
pub trait DatagramHandler: Send + Sync + 'static {
    /// Handles one datagram.
    fn on_datagram(&self, data: &[u8], peer: SocketAddr, reply: &mut Reply<'_>);
}

impl<F> DatagramHandler for F
where
    F: Fn(&[u8], SocketAddr, &mut Reply<'_>) + Send + Sync + 'static,
{
    #[inline]
    fn on_datagram(&self, data: &[u8], peer: SocketAddr, reply: &mut Reply<'_>) {
        self(data, peer, reply)
    }
}

/// Queues the response datagrams of one [`DatagramHandler::on_datagram`] call into
/// the worker's send batch.
///
/// Each method returns `false` (and counts the datagram in [`UdpStats::dropped`])
/// when the worker's send queue is full, see [`UdpServer::send_queue`].
#[derive(Debug)]
pub struct Reply<'a> {
    queue: &'a mut SendBatch,
    peer: SocketAddr,
    limit: usize,
    dropped: &'a mut u64,
}

impl<'a> Reply<'a> {
    /// The sender of the datagram being handled.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Queues `data` for the sender.
    pub fn send(&mut self, data: &[u8]) -> bool {
        self.send_to(data, self.peer)
    }

    /// Queues `data` for `addr`.
    pub fn send_to(&mut self, data: &[u8], addr: SocketAddr) -> bool {
        if !self.has_room() {
            return false;
        }
        self.queue.push(data, addr);
        true
    }

    /// Queues one datagram for the sender whose bytes `write` appends to the buffer
    /// it is given, so a reply can be encoded in place without a copy or an
    /// allocation. `write` must only append (the bytes already there are other
    /// queued datagrams); if the queue is full it is not called.
    pub fn send_with(&mut self, write: impl FnOnce(&mut Vec<u8>)) -> bool {
        self.send_to_with(self.peer, write)
    }

    /// Like [`send_with`](Self::send_with), to `addr`.
    pub fn send_to_with(&mut self, addr: SocketAddr, write: impl FnOnce(&mut Vec<u8>)) -> bool {
        if !self.has_room() {
            return false;
        }
        self.queue.push_with(addr, write);
        true
    }

    /// Like [`send_with`](Self::send_with), but `write` decides whether there is a
    /// reply: when it returns `false`, what it appended is removed and nothing is
    /// sent. Returns whether a datagram was queued.
    pub fn try_send_with(&mut self, write: impl FnOnce(&mut Vec<u8>) -> bool) -> bool {
        if !self.has_room() {
            return false;
        }
        self.queue.try_push_with(self.peer, write)
    }

    fn has_room(&mut self) -> bool {
        if self.queue.len() >= self.limit {
            *self.dropped += 1;
            return false;
        }
        true
    }
}

/// Counters summed over a server's workers (each worker publishes its own after
/// every batch).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct UdpStats {
    /// Datagrams received and passed to the handler.
    pub received: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Replies dropped: the send queue was full ([`UdpServer::send_queue`]), or they
    /// were still queued when the drain grace ran out.
    pub dropped: u64,
    /// Datagrams dropped unread because they were longer than
    /// [`UdpServer::max_datagram_size`].
    pub oversized: u64,
    /// Replies the kernel refused (e.g. `EMSGSIZE`, an unreachable network); each is
    /// dropped.
    pub send_errors: u64,
    /// Handler calls that panicked.
    pub panics: u64,
}

/// One worker's counters.
#[derive(Debug, Default)]
pub(crate) struct WorkerStats {
    pub(crate) received: AtomicU64,
    pub(crate) sent: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) oversized: AtomicU64,
    pub(crate) send_errors: AtomicU64,
    pub(crate) panics: AtomicU64,
}

/// The limits and knobs a worker runs with.
#[derive(Clone, Debug)]
pub(crate) struct UdpConfig {
    pub(crate) max_datagram_size: usize,
    pub(crate) batch_size: usize,
    pub(crate) send_queue: usize,
    pub(crate) drain_timeout: Duration,
}

impl Default for UdpConfig {
    fn default() -> Self {
        UdpConfig {
            max_datagram_size: 2048,
            batch_size: 32,
            send_queue: 1024,
            drain_timeout: Duration::from_secs(5),
        }
    }
}

/// A multi-worker UDP server. See the [module docs](self) for an example and the
/// worker loop.
#[derive(Debug)]
pub struct UdpServer {
    addr: SocketAddr,
    first: UdpSocket,
    workers: usize,
    pin_workers: bool,
    recv_buffer: Option<usize>,
    config: UdpConfig,
}

impl UdpServer {
    /// Binds the first socket (`SO_REUSEADDR` + `SO_REUSEPORT`) at once, so a bad
    /// address or a port in use fails here and port 0 resolves to one port that every
    /// worker's socket then shares.
    pub fn bind(addr: impl ToSocketAddrs) -> Result<UdpServer> {
        let addr = addr.to_socket_addrs()?.next().ok_or(Error::NoAddress)?;
        let first = UdpSocket::bind_reuse_port(addr)?;
        let addr = first.local_addr()?;
        Ok(UdpServer {
            addr,
            first,
            workers: 1,
            pin_workers: false,
            recv_buffer: None,
            config: UdpConfig::default(),
        })
    }

    /// The bound address (port 0 resolved).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Worker threads, each with its own socket on the port (default 1; at least
    /// 1). Linux spreads datagrams over the sockets by a hash of the sender's address,
    /// so one client's datagrams all reach one worker, in order.
    pub fn workers(mut self, n: usize) -> Self {
        self.workers = n.max(1);
        self
    }

    /// Pins worker `i` to CPU `i % cpus` (default off).
    pub fn pin_workers(mut self, on: bool) -> Self {
        self.pin_workers = on;
        self
    }

    /// The largest datagram handed to the handler (default 2048 bytes: an Ethernet
    /// MTU's worth and the usual EDNS(0) sizes; at most 65535). Longer ones are
    /// dropped and counted ([`UdpStats::oversized`]). Each worker keeps
    /// `batch_size * max_datagram_size` bytes of receive buffers.
    pub fn max_datagram_size(mut self, bytes: usize) -> Self {
        self.config.max_datagram_size = bytes.clamp(1, 65535);
        self
    }

    /// Datagrams received (and at most sent) per syscall (default 32; 1 to 1024).
    /// Larger batches save syscalls under load; they cost memory, not latency (a
    /// receive takes what is queued and never waits for a full batch).
    pub fn batch_size(mut self, n: usize) -> Self {
        self.config.batch_size = n.clamp(1, 1024);
        self
    }

    /// Replies a worker may hold while the socket's send buffer is full (default
    /// 1024, at least 1). Past it, replies are dropped and counted
    /// ([`UdpStats::dropped`]) and the worker stops receiving until the queue drains,
    /// so a peer that makes the server send faster than the network takes cannot grow
    /// its memory without bound.
    pub fn send_queue(mut self, datagrams: usize) -> Self {
        self.config.send_queue = datagrams.max(1);
        self
    }

    /// `SO_RCVBUF` for every worker's socket (default: the kernel's,
    /// `net.core.rmem_default`). A larger buffer absorbs bursts; the kernel caps it
    /// at `net.core.rmem_max`.
    pub fn recv_buffer_size(mut self, bytes: usize) -> Self {
        self.recv_buffer = Some(bytes);
        self
    }

    /// How long [`serve`](Self::serve) lets the workers drain after SIGINT/SIGTERM
    /// (default 5 s).
    pub fn drain_timeout(mut self, grace: Duration) -> Self {
        self.config.drain_timeout = grace;
        self
    }

    /// Serves `handler` until SIGINT or SIGTERM, then drains (see the
    /// [module docs](self#drain)) for at most [`drain_timeout`](Self::drain_timeout)
    /// and returns.
    pub fn serve<H: DatagramHandler>(self, handler: H) -> Result<()> {
        let grace = self.config.drain_timeout;
        os::block_termination_signals();
        let handle = self.start(handler)?;
        os::wait_for_termination()?;
        log::info!("udp: draining for at most {grace:?}");
        handle.shutdown(grace);
        let stats = handle.join()?;
        log::info!("udp: stopped; {stats:?}");
        Ok(())
    }

    /// Starts the workers and returns at once; see [`UdpServerHandle`].
    pub fn start<H: DatagramHandler>(self, handler: H) -> Result<UdpServerHandle> {
        let n = self.workers;
        let mut sockets = Vec::with_capacity(n);
        sockets.push(self.first);
        for _ in 1..n {
            sockets.push(UdpSocket::bind_reuse_port(self.addr)?);
        }
        if let Some(bytes) = self.recv_buffer {
            for s in &sockets {
                s.set_recv_buffer_size(bytes)?;
            }
        }
        let shared = Arc::new(Shared {
            draining: AtomicBool::new(false),
            deadline: Mutex::new(None),
            wakers: Mutex::new(Vec::new()),
        });
        let handler = Arc::new(handler);
        let config = Arc::new(self.config);
        let ncpu = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<Arc<Waker>>>();
        let mut threads = Vec::with_capacity(n);
        let mut stats = Vec::with_capacity(n);
        for (i, socket) in sockets.into_iter().enumerate() {
            let st = Arc::new(WorkerStats::default());
            stats.push(st.clone());
            let (handler, config, shared, tx) = (
                handler.clone(),
                config.clone(),
                shared.clone(),
                ready_tx.clone(),
            );
            let pin = self.pin_workers.then_some(i % ncpu);
            let t = std::thread::Builder::new()
                .name(format!("flare-udp-{i}"))
                .spawn(move || {
                    if let Some(cpu) = pin {
                        os::pin_to_cpu(cpu);
                    }
                    match worker::Worker::new(socket, handler, config, shared, st) {
                        Ok(mut w) => {
                            let _ = tx.send(Ok(w.waker()));
                            w.run();
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                        }
                    }
                })?;
            threads.push(t);
        }
        drop(ready_tx);
        let mut first_err = None;
        for _ in 0..n {
            match ready_rx.recv() {
                Ok(Ok(w)) => shared.lock_wakers().push(w),
                Ok(Err(e)) => first_err = Some(e),
                Err(_) => first_err = Some(std::io::Error::other("worker exited during start")),
            }
        }
        let handle = UdpServerHandle {
            addr: self.addr,
            shared,
            threads,
            stats,
        };
        if let Some(e) = first_err {
            handle.shutdown(Duration::ZERO);
            let _ = handle.join();
            return Err(Error::Io(e));
        }
        Ok(handle)
    }
}

/// State the handle and the workers share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) draining: AtomicBool,
    pub(crate) deadline: Mutex<Option<Instant>>,
    wakers: Mutex<Vec<Arc<Waker>>>,
}

impl Shared {
    fn lock_wakers(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Waker>>> {
        self.wakers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The drain deadline, once a drain has started.
    pub(crate) fn drain_deadline(&self) -> Option<Instant> {
        *self.deadline.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Controls a running [`UdpServer`].
#[derive(Debug)]
pub struct UdpServerHandle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
    stats: Vec<Arc<WorkerStats>>,
}

impl UdpServerHandle {
    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The counters so far, summed over the workers.
    pub fn stats(&self) -> UdpStats {
        let mut s = UdpStats::default();
        for w in &self.stats {
            let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
            s.received += get(&w.received);
            s.sent += get(&w.sent);
            s.dropped += get(&w.dropped);
            s.oversized += get(&w.oversized);
            s.send_errors += get(&w.send_errors);
            s.panics += get(&w.panics);
        }
        s
    }

    /// Starts a drain (see the [module docs](self#drain)): workers answer what their
    /// sockets hold, stop receiving, flush their replies and exit, within `grace`.
    /// Returns at once; [`join`](Self::join) waits.
    pub fn shutdown(&self, grace: Duration) {
        {
            let mut d = self
                .shared
                .deadline
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if d.is_none() {
                *d = Some(Instant::now() + grace);
            }
        }
        self.shared.draining.store(true, Ordering::Release);
        for w in self.shared.lock_wakers().iter() {
            let _ = w.wake();
        }
    }

    /// Waits for every worker to exit; returns the final counters.
    pub fn join(mut self) -> Result<UdpStats> {
        let mut res = Ok(());
        for t in std::mem::take(&mut self.threads) {
            if t.join().is_err() {
                res = Err(Error::WorkerPanicked);
            }
        }
        res.map(|()| self.stats())
    }
}

//! A worker: one thread, one reactor, its listeners, a slab of connections and a timer
//! wheel. Nothing here is shared with other workers except the drain flag.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use flare_h1::DateCache;
use flare_net::TcpListener;
use flare_reactor::{Events, Interest, Mode, Poller, TimerId, TimerWheel, Token, Waker};
use flare_web::{Handler, StreamWaker};

use super::config::ServerConfig;
use super::conn::{Buffers, Conn, Ctx, Deadline, Step};
use super::connection::{Connection, Driver};
use super::raw::RawConn;
use super::tls::{Handshake, TlsIo};
#[cfg(all(target_os = "linux", feature = "io-uring"))]
use super::uring::{self as ur, IoBuffers, RecvEvent, Remains, UringIo};
use super::Shared;

pub(crate) use super::conn::Service;

/// Listener `i` has token `LISTENER_BASE - i`.
const LISTENER_BASE: usize = usize::MAX - 2;
const WAKER: Token = Token(usize::MAX - 1);
/// Buffers kept for new connections.
const POOL_MAX: usize = 256;
/// Ring completion for "the epoll instance has events" (listeners, waker, TLS).
#[cfg(all(target_os = "linux", feature = "io-uring"))]
const EPOLL_TAG: u64 = u64::MAX;
/// Submission queue entries of a worker's ring.
#[cfg(all(target_os = "linux", feature = "io-uring"))]
const RING_ENTRIES: u32 = 4096;
/// A turn that handled this many completions marks the worker busy: its next wait
/// asks for a batch (up to `BATCH_MAX` more) for at most `BATCH_WAIT`.
#[cfg(all(target_os = "linux", feature = "io-uring"))]
const BATCH_BUSY: usize = 8;
#[cfg(all(target_os = "linux", feature = "io-uring"))]
const BATCH_MAX: usize = 32;
#[cfg(all(target_os = "linux", feature = "io-uring"))]
const BATCH_WAIT: Duration = Duration::from_micros(20);

/// A worker's io_uring state (when [`ServerConfig::io_uring`] is on).
#[cfg(all(target_os = "linux", feature = "io-uring"))]
struct Uring {
    ring: flare_reactor::uring::Ring,
    pool: std::rc::Rc<flare_reactor::uring::BufPool>,
    /// Connections whose receive ended on an empty pool.
    starved: Vec<(usize, u32)>,
    cq: Vec<flare_reactor::uring::Completion>,
    /// Closed connections whose buffers the kernel still holds, or whose last
    /// output is still going out.
    graveyard: Vec<Grave>,
    /// Connections with received bytes their driver has not taken yet (the ring
    /// only reports new bytes, so the worker offers these again).
    ready: Vec<(usize, u32)>,
    io_pool: Vec<IoBuffers>,
    /// Completions the last turn handled (a busy worker waits for batches).
    last_batch: usize,
}

#[cfg(all(target_os = "linux", feature = "io-uring"))]
struct Grave {
    idx: usize,
    /// The generation as tagged on its operations.
    generation: u32,
    rem: Remains,
    deadline: Instant,
    aborted: bool,
}

/// A listening socket: TCP (one per worker with `SO_REUSEPORT`, or shared) or Unix
/// (one shared by every worker).
#[derive(Clone, Debug)]
pub(crate) enum ListenSock {
    Tcp(Arc<TcpListener>),
    Unix(Arc<flare_net::UnixListener>),
}

impl std::os::fd::AsFd for ListenSock {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        match self {
            ListenSock::Tcp(l) => l.as_fd(),
            ListenSock::Unix(l) => l.as_fd(),
        }
    }
}

/// What a listener accepted.
enum Accepted {
    Tcp(flare_net::TcpStream),
    Unix(flare_net::UnixStream),
}

/// A listener and, for a TLS port, its configuration.
pub(crate) struct ListenerSpec {
    sock: ListenSock,
    tls: Option<flare_tls::ServerConfig>,
    /// Registered with `EPOLLEXCLUSIVE` (shared by several workers).
    exclusive: bool,
    /// A PROXY header is expected first.
    proxy: Option<Arc<super::proxy::ProxyProtocol>>,
}

impl ListenerSpec {
    pub(crate) fn new(
        sock: ListenSock,
        tls: Option<flare_tls::ServerConfig>,
        exclusive: bool,
        proxy: Option<Arc<super::proxy::ProxyProtocol>>,
    ) -> Self {
        ListenerSpec {
            sock,
            tls,
            exclusive,
            proxy,
        }
    }
}

type Listener = ListenerSpec;

struct Slot {
    conn: Option<Connection>,
    /// Bumped when a slot is reused, so stale timers and wakes are recognised.
    generation: u32,
    /// The wheel timer armed for this connection and when it fires.
    timer: Option<(Instant, TimerId)>,
    /// Readability is no longer watched (the peer stopped sending).
    read_off: bool,
}

pub(crate) struct Worker<H> {
    poller: Poller,
    events: Events,
    listeners: Vec<Listener>,
    /// Listeners are open (false once a drain started).
    listening: bool,
    /// Listeners are registered with the poller (false while accept is paused).
    listeners_registered: bool,
    waker: Arc<Waker>,
    /// Connections whose pending body streams asked to be polled again.
    woken: Arc<Mutex<Vec<(usize, u32)>>>,
    slots: Vec<Slot>,
    free: Vec<usize>,
    live: usize,
    pool: Vec<Buffers>,
    wheel: TimerWheel<(usize, u32)>,
    service: Service<H>,
    cfg: Arc<ServerConfig>,
    parse_limits: flare_h1::Limits,
    shared: Arc<Shared>,
    date: DateCache,
    prefix_200: Vec<u8>,
    prefix_gen: u32,
    accept_resume_at: Option<Instant>,
    drain_started: bool,
    expired: Vec<(usize, u32)>,
    #[cfg(all(target_os = "linux", feature = "io-uring"))]
    uring: Option<Uring>,
}

impl<H: Handler> Worker<H> {
    pub(crate) fn new(
        listeners: Vec<ListenerSpec>,
        service: Service<H>,
        cfg: Arc<ServerConfig>,
        shared: Arc<Shared>,
    ) -> std::io::Result<Self> {
        let poller = Poller::new()?;
        for (i, l) in listeners.iter().enumerate() {
            poller.register(
                &l.sock,
                Token(LISTENER_BASE - i),
                Interest::READABLE,
                mode(l.exclusive),
            )?;
        }
        let waker = Arc::new(Waker::new(&poller, WAKER)?);
        let now = Instant::now();
        #[cfg(all(target_os = "linux", feature = "io-uring"))]
        let uring = if cfg.io_uring {
            let mut ring = flare_reactor::uring::Ring::new(RING_ENTRIES)?;
            ring.poll_readable(std::os::fd::AsFd::as_fd(poller.backend()), false, EPOLL_TAG)?;
            let pool = ring
                .register_buffers(0, cfg.io_uring_buffers.0, cfg.io_uring_buffers.1)
                .map_err(|e| std::io::Error::new(e.kind(), format!("io_uring buffer ring: {e}")))?;
            Some(Uring {
                ring,
                pool,
                starved: Vec::new(),
                cq: Vec::with_capacity(1024),
                graveyard: Vec::new(),
                ready: Vec::new(),
                io_pool: Vec::new(),
                last_batch: 0,
            })
        } else {
            None
        };
        #[cfg(not(all(target_os = "linux", feature = "io-uring")))]
        if cfg.io_uring {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Unsupported,
                "io_uring needs Linux and flare's `io-uring` feature",
            ));
        }
        Ok(Worker {
            poller,
            events: Events::with_capacity(1024),
            listeners,
            listening: true,
            listeners_registered: true,
            waker,
            woken: Arc::new(Mutex::new(Vec::new())),
            slots: Vec::new(),
            free: Vec::new(),
            live: 0,
            pool: Vec::new(),
            wheel: TimerWheel::new(now, Duration::from_millis(100), 1024),
            service,
            parse_limits: cfg.limits.clone().max_body(u64::MAX),
            cfg,
            shared,
            date: DateCache::new(SystemTime::now()),
            prefix_200: Vec::new(),
            prefix_gen: 0,
            accept_resume_at: None,
            drain_started: false,
            expired: Vec::new(),
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            uring,
        })
    }

    pub(crate) fn waker(&self) -> Arc<Waker> {
        self.waker.clone()
    }

    /// The event loop; returns when a drain completes.
    pub(crate) fn run(&mut self) {
        let mut now = Instant::now();
        loop {
            if self.drain_started && (self.live == 0 || now >= self.shared.drain_deadline()) {
                self.close_all();
                return;
            }
            let mut timeout = self.wheel.timeout(now);
            if let Some(at) = self.accept_resume_at {
                let t = at.saturating_duration_since(now);
                timeout = Some(timeout.map_or(t, |x| x.min(t)));
            }
            if self.drain_started {
                let t = self.shared.drain_deadline().saturating_duration_since(now);
                timeout = Some(timeout.map_or(t, |x| x.min(t)));
            }
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            if let Some(at) = self
                .uring
                .as_ref()
                .and_then(|u| u.graveyard.iter().map(|g| g.deadline).min())
            {
                let t = at.saturating_duration_since(now);
                timeout = Some(timeout.map_or(t, |x| x.min(t)));
            }
            // The Date header must move on even when no timer is due.
            let timeout =
                Some(timeout.map_or(Duration::from_secs(1), |t| t.min(Duration::from_secs(1))));
            if let Err(e) = self.wait(timeout) {
                log::error!("poll failed: {e}");
                // Close properly even here: ring connections must get their buffers
                // back from the kernel before they are freed.
                self.close_all();
                return;
            }
            now = Instant::now();
            if self.date.update(SystemTime::now()) || self.prefix_200.is_empty() {
                self.prefix_gen = self.prefix_gen.wrapping_add(1);
                self.prefix_200.clear();
                flare_h1::encode_head_prefix(
                    &mut self.prefix_200,
                    flare_h1::Version::Http11,
                    200,
                    self.date.value(),
                    self.cfg.server_header.map(str::as_bytes),
                );
            }
            #[cfg(all(target_os = "linux", feature = "io-uring"))]
            if self.uring.is_some() {
                self.ring_turn(now);
            } else {
                self.dispatch_events(now);
            }
            #[cfg(not(all(target_os = "linux", feature = "io-uring")))]
            self.dispatch_events(now);
            self.expire_timers(now);
            if let Some(at) = self.accept_resume_at {
                if now >= at {
                    self.accept_resume_at = None;
                    self.resume_accept();
                }
            }
        }
    }

    /// Waits for readiness (epoll) or completions (io_uring, submitting what the last
    /// turn queued in the same syscall).
    fn wait(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        #[cfg(all(target_os = "linux", feature = "io-uring"))]
        if let Some(u) = self.uring.as_mut() {
            // Connections with bytes left to offer: do not sleep. Otherwise sleep
            // until something beyond our own small sends (which complete during
            // submission) happened, but not long if one of them found a full socket.
            if !u.ready.is_empty() {
                return u.ring.submit_and_wait(0, None);
            }
            let sends = u.ring.small_sends_queued();
            let timeout = if sends > 0 {
                timeout.map(|t| t.min(Duration::from_millis(1)))
            } else {
                timeout
            };
            let want = 1 + sends;
            if u.last_batch >= BATCH_BUSY {
                // Busy: rather than waking for every arrival, wait a few
                // microseconds for a batch like the last one.
                let batch = want + (u.last_batch / 2).min(BATCH_MAX);
                return u
                    .ring
                    .submit_and_wait_batch(want, batch, BATCH_WAIT, timeout);
            }
            return u.ring.submit_and_wait(want, timeout);
        }
        self.poller.poll(&mut self.events, timeout)
    }

    /// Handles the readiness events of the last poll.
    fn dispatch_events(&mut self, now: Instant) {
        let n = self.events.len();
        for i in 0..n {
            let Some(ev) = self.events.iter().nth(i).copied() else {
                break;
            };
            match ev.token() {
                WAKER => self.on_wake(now),
                Token(t) if t > LISTENER_BASE - self.listeners.len() && t <= LISTENER_BASE => {
                    self.accept(LISTENER_BASE - t, now)
                }
                Token(idx) => self.with_conn(idx, None, now, |conn, cx| {
                    let mut step = Step::Keep;
                    if ev.is_readable() || ev.is_error() {
                        step = conn.on_readable(cx);
                    }
                    if step == Step::Keep && ev.is_writable() {
                        step = conn.on_writable(cx);
                    }
                    step
                }),
            }
        }
    }

    /// Applies a connection's step: close it, or sync its interest and timer.
    fn after_step(&mut self, idx: usize, step: Step, now: Instant) {
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        if step == Step::Close {
            self.close(idx);
            return;
        }
        #[cfg(all(target_os = "linux", feature = "io-uring"))]
        if let Some(io) = conn.uring_io() {
            // On the ring: queue the receive or send it needs, and offer bytes it
            // left unread again unless it just declined them.
            let Some(u) = self.uring.as_mut() else {
                return;
            };
            if io.sync(&mut u.ring, idx, slot.generation).is_err() {
                self.close(idx);
                return;
            }
            if io.buffered() > 0 && !(io.read_event && io.consumed == 0) {
                u.ready.push((idx, slot.generation));
            }
            io.read_event = false;
            io.consumed = 0;
            self.sync_timer(idx, now);
            return;
        }
        // Interest: readable until the peer stops sending (its end-of-stream would
        // be reported again and again); writable only while the socket is full.
        let (want, registered, read_off, deadline) = conn.poll_state();
        if want != registered || read_off != slot.read_off {
            let read = if read_off {
                Interest::NONE
            } else {
                Interest::READABLE
            };
            let interest = if want {
                read | Interest::WRITABLE
            } else {
                read
            };
            slot.read_off = read_off;
            if self
                .poller
                .reregister(&conn.fd(), Token(idx), interest, Mode::Level)
                .is_err()
            {
                self.close(idx);
                return;
            }
            conn.set_write_registered(want);
        }
        if let Some((at, _)) = deadline {
            keep_timer(&mut self.wheel, slot, idx, at, now);
        }
    }

    /// Syncs the connection's wheel timer with its deadline.
    #[inline]
    fn sync_timer(&mut self, idx: usize, now: Instant) {
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        if let Some((at, _)) = slot.conn.as_ref().and_then(Connection::deadline) {
            keep_timer(&mut self.wheel, slot, idx, at, now);
        }
    }

    fn expire_timers(&mut self, now: Instant) {
        let mut expired = std::mem::take(&mut self.expired);
        self.wheel.expire(now, |v| expired.push(v));
        for &(idx, generation) in &expired {
            let Some(slot) = self.slots.get_mut(idx) else {
                continue;
            };
            if slot.generation != generation {
                continue;
            }
            slot.timer = None;
            let Some((at, kind)) = slot.conn.as_ref().and_then(|c| c.deadline()) else {
                continue;
            };
            if at > now {
                // The deadline moved later since the timer was set: re-arm.
                let id = self.wheel.schedule(at, (idx, generation));
                slot.timer = Some((at, id));
                continue;
            }
            self.with_conn(idx, Some(generation), now, |conn, cx| {
                conn.on_deadline(kind, cx)
            });
        }
        expired.clear();
        self.expired = expired;
    }

    fn accept(&mut self, which: usize, now: Instant) {
        let Some(l) = self.listeners.get(which) else {
            return;
        };
        let (sock, tls, proxy) = (l.sock.clone(), l.tls.clone(), l.proxy.clone());
        loop {
            if self.live >= self.cfg.max_connections {
                self.pause_accept(None);
                return;
            }
            let accepted = match &sock {
                ListenSock::Tcp(l) => l.accept().map(|(s, p)| (Accepted::Tcp(s), p)),
                // A Unix peer has no IP address: handlers see 0.0.0.0:0.
                ListenSock::Unix(l) => l
                    .accept()
                    .map(|(s, _)| (Accepted::Unix(s), SocketAddr::from(([0, 0, 0, 0], 0)))),
            };
            match accepted {
                Ok((Accepted::Unix(stream), peer)) => {
                    let conn = match &self.service {
                        Service::Raw(make) => Connection::Unix(Driver::Raw(Box::new(
                            RawConn::new(stream, peer, make(peer), &[]),
                        ))),
                        _ => {
                            let bufs = self.pool.pop().unwrap_or_else(Buffers::new);
                            Connection::Unix(Driver::H1(Conn::new(stream, peer, bufs, &self.cfg)))
                        }
                    };
                    let deadline = (now + self.cfg.keep_alive_timeout, Deadline::KeepAlive);
                    self.insert(conn, deadline, now);
                }
                Ok((Accepted::Tcp(stream), peer)) => {
                    if self.cfg.tcp_nodelay {
                        let _ = stream.set_nodelay(true);
                    }
                    if let Some(pp) = &proxy {
                        if !pp.trusts(peer.ip()) {
                            log::debug!("{peer} is not a trusted PROXY sender; closed");
                            continue;
                        }
                        let p =
                            super::proxy::ProxyStart::new(stream, peer, tls.clone(), pp.clone());
                        let deadline = (now + self.cfg.header_timeout, Deadline::Header);
                        self.insert(Connection::Proxy(Box::new(p)), deadline, now);
                        continue;
                    }
                    let (conn, deadline) = match &tls {
                        None if matches!(self.service, Service::Raw(_)) => {
                            let Service::Raw(make) = &self.service else {
                                unreachable!()
                            };
                            let proto = make(peer);
                            #[cfg(all(target_os = "linux", feature = "io-uring"))]
                            let conn = match self.uring.as_mut() {
                                Some(u) => {
                                    let io = UringIo::new(stream, u.pool.clone(), u.io_pool.pop());
                                    Connection::Uring(Driver::Raw(Box::new(RawConn::new(
                                        io,
                                        peer,
                                        proto,
                                        &[],
                                    ))))
                                }
                                None => Connection::Plain(Driver::Raw(Box::new(RawConn::new(
                                    stream,
                                    peer,
                                    proto,
                                    &[],
                                )))),
                            };
                            #[cfg(not(all(target_os = "linux", feature = "io-uring")))]
                            let conn = Connection::Plain(Driver::Raw(Box::new(RawConn::new(
                                stream,
                                peer,
                                proto,
                                &[],
                            ))));
                            (
                                conn,
                                (now + self.cfg.keep_alive_timeout, Deadline::KeepAlive),
                            )
                        }
                        None => {
                            let bufs = self.pool.pop().unwrap_or_else(Buffers::new);
                            #[cfg(all(target_os = "linux", feature = "io-uring"))]
                            let conn = match self.uring.as_mut() {
                                Some(u) => {
                                    let io = UringIo::new(stream, u.pool.clone(), u.io_pool.pop());
                                    Connection::Uring(Driver::H1(Conn::new(
                                        io, peer, bufs, &self.cfg,
                                    )))
                                }
                                None => Connection::Plain(Driver::H1(Conn::new(
                                    stream, peer, bufs, &self.cfg,
                                ))),
                            };
                            #[cfg(not(all(target_os = "linux", feature = "io-uring")))]
                            let conn = Connection::Plain(Driver::H1(Conn::new(
                                stream, peer, bufs, &self.cfg,
                            )));
                            // Idle until the first request: the keep-alive timeout applies.
                            (
                                conn,
                                (now + self.cfg.keep_alive_timeout, Deadline::KeepAlive),
                            )
                        }
                        Some(cfg) => match flare_tls::ServerSession::new(cfg) {
                            Ok(session) => {
                                let at = now + cfg.handshake_timeout();
                                let hs = Handshake::new(TlsIo::new(stream, session), peer, at);
                                (Connection::Handshake(Box::new(hs)), (at, Deadline::Header))
                            }
                            Err(e) => {
                                log::warn!("tls session: {e}");
                                continue;
                            }
                        },
                    };
                    self.insert(conn, deadline, now);
                }
                Err(e) if e.is_would_block() => return,
                Err(flare_net::Error::Interrupted) | Err(flare_net::Error::ConnectionAborted) => {
                    continue
                }
                Err(flare_net::Error::FdExhausted) => {
                    log::warn!("out of file descriptors; pausing accept");
                    self.pause_accept(Some(now + self.cfg.accept_backoff));
                    return;
                }
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    return;
                }
            }
        }
    }

    /// Puts a new connection into the slab and starts it.
    fn insert(&mut self, conn: Connection, deadline: (Instant, Deadline), now: Instant) {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot {
                    conn: None,
                    generation: 0,
                    timer: None,
                    read_off: false,
                });
                self.slots.len() - 1
            }
        };
        if !conn.on_ring()
            && self
                .poller
                .register(&conn.fd(), Token(idx), Interest::READABLE, Mode::Level)
                .is_err()
        {
            self.free.push(idx);
            return;
        }
        let slot = &mut self.slots[idx];
        slot.conn = Some(conn);
        slot.read_off = false;
        self.live += 1;
        if let Some(c) = slot.conn.as_mut() {
            c.set_deadline(Some(deadline));
        }
        if matches!(self.service, Service::Raw(_)) {
            self.with_conn(idx, None, now, |c, cx| c.open(cx));
        } else {
            self.after_step(idx, Step::Keep, now);
        }
        if self.drain_started {
            self.drain_conn(idx, now);
        }
    }

    /// Stops watching the listeners (level-triggered, they would wake us in a loop).
    fn pause_accept(&mut self, resume_at: Option<Instant>) {
        if self.listeners_registered {
            for l in &self.listeners {
                let _ = self.poller.deregister(&l.sock);
            }
            self.listeners_registered = false;
        }
        if resume_at.is_some() {
            self.accept_resume_at = resume_at;
        }
    }

    fn resume_accept(&mut self) {
        if self.listeners_registered || !self.listening {
            return;
        }
        for (i, l) in self.listeners.iter().enumerate() {
            let _ = self.poller.register(
                &l.sock,
                Token(LISTENER_BASE - i),
                Interest::READABLE,
                mode(l.exclusive),
            );
        }
        self.listeners_registered = true;
    }

    fn close(&mut self, idx: usize) {
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        let Some(mut conn) = slot.conn.take() else {
            return;
        };
        if let Some((_, id)) = slot.timer.take() {
            self.wheel.cancel(id);
        }
        let generation = slot.generation;
        slot.generation = slot.generation.wrapping_add(1);
        conn.cancel();
        #[cfg(all(target_os = "linux", feature = "io-uring"))]
        if let Some(rem) = conn.take_uring_remains() {
            self.bury(idx, generation, rem);
        } else {
            let _ = self.poller.deregister(&conn.fd());
        }
        #[cfg(not(all(target_os = "linux", feature = "io-uring")))]
        let _ = (generation, self.poller.deregister(&conn.fd()));
        self.free.push(idx);
        self.live -= 1;
        if self.pool.len() < POOL_MAX {
            if let Some(b) = conn.into_buffers() {
                self.pool.push(b);
            }
        }
        if !self.listeners_registered
            && self.accept_resume_at.is_none()
            && self.live < self.cfg.max_connections
        {
            self.resume_accept();
        }
    }

    fn on_wake(&mut self, now: Instant) {
        let _ = self.waker.drain();
        if self.shared.draining.load(Ordering::Acquire) && !self.drain_started {
            self.start_drain(now);
        }
        let woken = std::mem::take(&mut *self.woken.lock().unwrap_or_else(|e| e.into_inner()));
        for (idx, generation) in woken {
            self.with_conn(idx, Some(generation), now, |conn, cx| {
                conn.on_stream_wake(cx)
            });
        }
    }

    fn start_drain(&mut self, now: Instant) {
        self.drain_started = true;
        log::debug!("worker draining {} connections", self.live);
        // Take what the kernel already accepted for us, then stop listening: closing a
        // SO_REUSEPORT listener resets the connections still in its queue.
        for i in 0..self.listeners.len() {
            self.accept(i, now);
        }
        if self.listeners_registered {
            for l in &self.listeners {
                let _ = self.poller.deregister(&l.sock);
            }
        }
        self.listeners_registered = false;
        self.listening = false;
        self.listeners.clear();
        for idx in 0..self.slots.len() {
            self.drain_conn(idx, now);
        }
    }

    fn drain_conn(&mut self, idx: usize, now: Instant) {
        self.with_conn(idx, None, now, |conn, cx| conn.on_drain(cx));
    }

    /// Steps one connection with a fresh context, switches it to HTTP/2 when it
    /// asks, then applies the step. `generation` guards stale timers and wakes.
    fn with_conn(
        &mut self,
        idx: usize,
        generation: Option<u32>,
        now: Instant,
        f: impl FnOnce(&mut Connection, &Ctx<'_, H>) -> Step,
    ) {
        let draining = self.drain_started || self.shared.draining.load(Ordering::Relaxed);
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        if generation.is_some_and(|g| g != slot.generation) {
            return;
        }
        let generation = slot.generation;
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        let woken = &self.woken;
        let waker = &self.waker;
        let make_waker = || stream_waker(woken, waker, idx, generation);
        let cx = Ctx {
            cfg: &self.cfg,
            parse_limits: &self.parse_limits,
            service: &self.service,
            date: self.date.value(),
            prefix_200: &self.prefix_200,
            prefix_gen: self.prefix_gen,
            now,
            draining,
            make_waker: &make_waker,
        };
        let mut step = f(conn, &cx);
        if step == Step::Upgrade {
            if let Some(c) = slot.conn.take() {
                let (c, s) = c.upgrade(&cx);
                slot.conn = Some(c);
                step = s;
            }
        }
        self.after_step(idx, step, now);
    }

    fn close_all(&mut self) {
        for idx in 0..self.slots.len() {
            self.close(idx);
        }
        #[cfg(all(target_os = "linux", feature = "io-uring"))]
        self.empty_graveyard();
    }
}

fn mode(exclusive: bool) -> Mode {
    if exclusive {
        Mode::Exclusive
    } else {
        Mode::Level
    }
}

/// Timer: keep one wheel timer at or before the deadline `at`; a later deadline
/// needs no wheel work (the timer fires early and is re-armed).
#[inline]
fn keep_timer(
    wheel: &mut TimerWheel<(usize, u32)>,
    slot: &mut Slot,
    idx: usize,
    at: Instant,
    now: Instant,
) {
    let rearm = match slot.timer {
        Some((t, _)) => t > at,
        None => true,
    };
    if rearm {
        if let Some((_, id)) = slot.timer.take() {
            wheel.cancel(id);
        }
        let id = wheel.schedule(at.max(now), (idx, slot.generation));
        slot.timer = Some((at, id));
    }
}

fn stream_waker(
    woken: &Arc<Mutex<Vec<(usize, u32)>>>,
    waker: &Arc<Waker>,
    idx: usize,
    generation: u32,
) -> StreamWaker {
    let woken = woken.clone();
    let waker = waker.clone();
    StreamWaker::new(move || {
        woken
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((idx, generation));
        let _ = waker.wake();
    })
}

/// The io_uring side of a worker: completions in, receives and sends out.
#[cfg(all(target_os = "linux", feature = "io-uring"))]
impl<H: Handler> Worker<H> {
    /// One turn: every completion the last wait brought, then the epoll events they
    /// announced, then connections with bytes left to offer, then the graveyard.
    fn ring_turn(&mut self, now: Instant) {
        let Some(u) = self.uring.as_mut() else {
            return;
        };
        let mut cq = std::mem::take(&mut u.cq);
        u.ring.completions(&mut cq);
        u.last_batch = cq.len();
        let mut epoll_ready = false;
        for c in cq.drain(..) {
            if c.user_data == EPOLL_TAG {
                epoll_ready = true;
                continue;
            }
            let (idx, generation, op) = ur::untag(c.user_data);
            match op {
                ur::OP_RECV | ur::OP_SEND => self.on_completion(idx, generation, op, c, now),
                _ => {} // a cancel's own completion
            }
        }
        if let Some(u) = self.uring.as_mut() {
            u.cq = cq;
        }
        if epoll_ready {
            match self.poller.poll(&mut self.events, Some(Duration::ZERO)) {
                Ok(()) => self.dispatch_events(now),
                Err(e) => log::warn!("epoll_wait: {e}"),
            }
            // One-shot, so it completes again at once if anything is still ready.
            if let Some(u) = self.uring.as_mut() {
                let fd = std::os::fd::AsFd::as_fd(self.poller.backend());
                if let Err(e) = u.ring.poll_readable(fd, false, EPOLL_TAG) {
                    log::error!("io_uring poll on epoll: {e}");
                }
            }
        }
        // Offer unread bytes again; those that take some and still leave bytes come
        // back on the next turn (the wait does not sleep then).
        let Some(u) = self.uring.as_mut() else {
            return;
        };
        if !u.ready.is_empty() {
            let mut ready = std::mem::take(&mut u.ready);
            for (idx, generation) in ready.drain(..) {
                self.deliver_read(idx, generation, now);
            }
            if let Some(u) = self.uring.as_mut() {
                if u.ready.is_empty() {
                    u.ready = ready;
                }
            }
        }
        // Receives that found the pool dry are armed again once a good share of it
        // is back.
        if let Some(u) = self.uring.as_mut() {
            let quarter = u32::from(self.cfg.io_uring_buffers.0 / 4).max(1);
            if !u.starved.is_empty() && u.pool.available() >= quarter {
                let starved = std::mem::take(&mut u.starved);
                for (idx, generation) in starved {
                    let Some(io) = self
                        .slots
                        .get_mut(idx)
                        .filter(|s| s.generation == generation)
                        .and_then(|s| s.conn.as_mut())
                        .and_then(Connection::uring_io)
                    else {
                        continue;
                    };
                    io.starved = false;
                    self.after_step(idx, Step::Keep, now);
                }
            }
        }
        self.check_graves(now);
    }

    /// A receive or send of connection `idx` completed.
    fn on_completion(
        &mut self,
        idx: usize,
        tag_gen: u32,
        op: u64,
        c: flare_reactor::uring::Completion,
        now: Instant,
    ) {
        enum Next {
            Read,
            Writable,
            Sync,
            Starved,
            Nothing,
        }
        let recv = op == ur::OP_RECV;
        let live = self.slots.get_mut(idx).and_then(|slot| {
            if ur::tag_generation(slot.generation) != tag_gen {
                return None;
            }
            let generation = slot.generation;
            let conn = slot.conn.as_mut()?;
            let want_write = conn.want_write();
            let io = conn.uring_io()?;
            let next = if recv {
                match io.on_recv(c.result, c.buffer, c.more) {
                    RecvEvent::News => Next::Read,
                    RecvEvent::Rearm => Next::Sync,
                    RecvEvent::Starved => Next::Starved,
                }
            } else {
                io.on_send(c.result);
                if want_write {
                    Next::Writable
                } else if io.needs_sync() {
                    // More output, or a half-close waiting behind it.
                    Next::Sync
                } else {
                    Next::Nothing
                }
            };
            Some((generation, next))
        });
        match live {
            Some((generation, Next::Read)) => self.deliver_read(idx, generation, now),
            Some((generation, Next::Writable)) => {
                self.with_conn(idx, Some(generation), now, |c, cx| c.on_writable(cx))
            }
            Some((_, Next::Sync)) => self.after_step(idx, Step::Keep, now),
            Some((generation, Next::Starved)) => {
                if let Some(u) = self.uring.as_mut() {
                    u.starved.push((idx, generation));
                }
            }
            Some((_, Next::Nothing)) => {}
            None => self.on_grave_completion(idx, tag_gen, recv, &c),
        }
    }

    /// Runs a connection's driver on bytes the ring received.
    fn deliver_read(&mut self, idx: usize, generation: u32, now: Instant) {
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        if let Some(io) = slot.conn.as_mut().and_then(Connection::uring_io) {
            io.read_event = true;
        }
        self.with_conn(idx, Some(generation), now, |c, cx| c.on_readable(cx));
    }

    /// A closed connection: stop its receive, let its last output go, and keep its
    /// buffers until the kernel hands them back.
    fn bury(&mut self, idx: usize, generation: u32, mut rem: Remains) {
        let Some(u) = self.uring.as_mut() else {
            return;
        };
        let g = ur::tag_generation(generation);
        if rem.start_close(&mut u.ring, idx, g) {
            if let Some(b) = rem.into_buffers() {
                if u.io_pool.len() < POOL_MAX {
                    u.io_pool.push(b);
                }
            }
            return;
        }
        if rem.recv_inflight {
            // Shutting the read side ends the receive; the cancel is a second net.
            let _ = u
                .ring
                .cancel(ur::tag(idx, g, ur::OP_RECV), ur::tag(idx, g, ur::OP_CANCEL));
        }
        u.graveyard.push(Grave {
            idx,
            generation: g,
            rem,
            deadline: Instant::now() + self.cfg.write_timeout,
            aborted: false,
        });
    }

    fn on_grave_completion(
        &mut self,
        idx: usize,
        g: u32,
        recv: bool,
        c: &flare_reactor::uring::Completion,
    ) {
        let Some(u) = self.uring.as_mut() else {
            return;
        };
        let Some(pos) = u
            .graveyard
            .iter()
            .position(|gr| gr.idx == idx && gr.generation == g)
        else {
            // Not ours any more; a buffer it carries still goes back.
            if let Some(bid) = c.buffer {
                u.pool.taken(bid);
                // SAFETY: the completion handed `bid` over; nobody reads it.
                unsafe { u.pool.recycle(bid) };
            }
            return;
        };
        let gr = &mut u.graveyard[pos];
        let settled = if recv {
            gr.rem.on_recv(c.buffer, c.more);
            gr.rem.settled()
        } else {
            gr.rem.on_send(c.result, &mut u.ring, idx, g)
        };
        if settled {
            let gr = u.graveyard.swap_remove(pos);
            if let Some(b) = gr.rem.into_buffers() {
                if u.io_pool.len() < POOL_MAX {
                    u.io_pool.push(b);
                }
            }
        }
    }

    /// Graves past their deadline: give up on their output.
    fn check_graves(&mut self, now: Instant) {
        let Some(u) = self.uring.as_mut() else {
            return;
        };
        for gr in &mut u.graveyard {
            if !gr.aborted && gr.deadline <= now {
                gr.aborted = true;
                gr.rem.abort();
                for op in [ur::OP_RECV, ur::OP_SEND] {
                    let _ = u.ring.cancel(
                        ur::tag(gr.idx, gr.generation, op),
                        ur::tag(gr.idx, gr.generation, ur::OP_CANCEL),
                    );
                }
            }
        }
    }

    /// At exit: abort every grave and wait (briefly) for the kernel to hand their
    /// buffers back. Buffers it never returns are leaked, never freed under it.
    fn empty_graveyard(&mut self) {
        let Some(u) = self.uring.as_mut() else {
            return;
        };
        // Last output (a drain's goodbye) gets a second to go out; then the rest
        // is given up on.
        let last = Instant::now() + Duration::from_secs(1);
        for gr in &mut u.graveyard {
            gr.deadline = gr.deadline.min(last);
        }
        let stop = Instant::now() + Duration::from_secs(2);
        while !self.uring.as_ref().is_some_and(|u| u.graveyard.is_empty()) {
            let now = Instant::now();
            if now >= stop {
                break;
            }
            self.check_graves(now);
            let Some(u) = self.uring.as_mut() else {
                return;
            };
            if u.ring
                .submit_and_wait(1, Some(Duration::from_millis(100)))
                .is_err()
            {
                break;
            }
            let mut cq = std::mem::take(&mut u.cq);
            u.ring.completions(&mut cq);
            for c in cq.drain(..) {
                let (idx, g, op) = ur::untag(c.user_data);
                if c.user_data != EPOLL_TAG && (op == ur::OP_RECV || op == ur::OP_SEND) {
                    self.on_grave_completion(idx, g, op == ur::OP_RECV, &c);
                }
            }
        }
        if let Some(u) = self.uring.as_mut() {
            let left = std::mem::take(&mut u.graveyard);
            if !left.is_empty() {
                log::warn!(
                    "{} io_uring buffers not returned by the kernel; leaked",
                    left.len()
                );
                std::mem::forget(left);
            }
        }
    }
}

//! A worker: one thread, one reactor, its listeners, a slab of connections and a timer
//! wheel. Nothing here is shared with other workers except the drain flag.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use flare_h1::DateCache;
use flare_net::TcpListener;
use flare_reactor::{Events, Interest, Mode, Poller, TimerId, TimerWheel, Token, Waker};
use flare_web::{Handler, StreamWaker};

use super::config::ServerConfig;
use super::conn::{Buffers, Conn, Ctx, Deadline, Step};
use super::connection::Connection;
use super::tls::{Handshake, TlsIo};
use super::Shared;

pub(crate) use super::conn::Service;

/// Listener `i` has token `LISTENER_BASE - i`.
const LISTENER_BASE: usize = usize::MAX - 2;
const WAKER: Token = Token(usize::MAX - 1);
/// Buffers kept for new connections.
const POOL_MAX: usize = 256;

/// A listener and, for a TLS port, its configuration.
struct Listener {
    sock: Arc<TcpListener>,
    tls: Option<flare_tls::ServerConfig>,
}

struct Slot {
    conn: Option<Connection>,
    /// Bumped when a slot is reused, so stale timers and wakes are recognised.
    generation: u32,
    /// The wheel timer armed for this connection and when it fires.
    timer: Option<(Instant, TimerId)>,
}

pub(crate) struct Worker<H> {
    poller: Poller,
    events: Events,
    listeners: Vec<Listener>,
    /// Listeners are open (false once a drain started).
    listening: bool,
    /// Listeners are registered with the poller (false while accept is paused).
    listeners_registered: bool,
    exclusive: bool,
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
    accept_resume_at: Option<Instant>,
    drain_started: bool,
    expired: Vec<(usize, u32)>,
}

impl<H: Handler> Worker<H> {
    pub(crate) fn new(
        listeners: Vec<(Arc<TcpListener>, Option<flare_tls::ServerConfig>)>,
        exclusive: bool,
        service: Service<H>,
        cfg: Arc<ServerConfig>,
        shared: Arc<Shared>,
    ) -> std::io::Result<Self> {
        let poller = Poller::new()?;
        let mode = if exclusive {
            Mode::Exclusive
        } else {
            Mode::Level
        };
        for (i, (l, _)) in listeners.iter().enumerate() {
            poller.register(&**l, Token(LISTENER_BASE - i), Interest::READABLE, mode)?;
        }
        let listeners = listeners
            .into_iter()
            .map(|(sock, tls)| Listener { sock, tls })
            .collect();
        let waker = Arc::new(Waker::new(&poller, WAKER)?);
        let now = Instant::now();
        Ok(Worker {
            poller,
            events: Events::with_capacity(1024),
            listeners,
            listening: true,
            listeners_registered: true,
            exclusive,
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
            accept_resume_at: None,
            drain_started: false,
            expired: Vec::new(),
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
            // The Date header must move on even when no timer is due.
            let timeout =
                Some(timeout.map_or(Duration::from_secs(1), |t| t.min(Duration::from_secs(1))));
            if let Err(e) = self.poller.poll(&mut self.events, timeout) {
                log::error!("poll failed: {e}");
                return;
            }
            now = Instant::now();
            if self.date.update(SystemTime::now()) || self.prefix_200.is_empty() {
                self.prefix_200.clear();
                flare_h1::encode_head_prefix(
                    &mut self.prefix_200,
                    flare_h1::Version::Http11,
                    200,
                    self.date.value(),
                    self.cfg.server_header.map(str::as_bytes),
                );
            }
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
            self.expire_timers(now);
            if let Some(at) = self.accept_resume_at {
                if now >= at {
                    self.accept_resume_at = None;
                    self.resume_accept();
                }
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
        // Interest: readable always; writable only while the socket is full.
        let want = conn.want_write();
        if want != conn.write_registered() {
            let interest = if want {
                Interest::READABLE | Interest::WRITABLE
            } else {
                Interest::READABLE
            };
            if self
                .poller
                .reregister(conn.socket(), Token(idx), interest, Mode::Level)
                .is_err()
            {
                self.close(idx);
                return;
            }
            conn.set_write_registered(want);
        }
        // Timer: keep one wheel timer at or before the deadline; a later deadline
        // needs no wheel work (the timer fires early and is re-armed).
        if let Some((at, _)) = conn.deadline() {
            let rearm = match slot.timer {
                Some((t, _)) => t > at,
                None => true,
            };
            if rearm {
                if let Some((_, id)) = slot.timer.take() {
                    self.wheel.cancel(id);
                }
                let id = self.wheel.schedule(at.max(now), (idx, slot.generation));
                slot.timer = Some((at, id));
            }
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
        let (sock, tls) = (l.sock.clone(), l.tls.clone());
        loop {
            if self.live >= self.cfg.max_connections {
                self.pause_accept(None);
                return;
            }
            match sock.accept() {
                Ok((stream, peer)) => {
                    if self.cfg.tcp_nodelay {
                        let _ = stream.set_nodelay(true);
                    }
                    let (conn, deadline) = match &tls {
                        None => {
                            let bufs = self.pool.pop().unwrap_or_else(Buffers::new);
                            let conn = Connection::H1(Conn::new(stream, peer, bufs, &self.cfg));
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
                                (Connection::Tls(Box::new(hs)), (at, Deadline::Header))
                            }
                            Err(e) => {
                                log::warn!("tls session: {e}");
                                continue;
                            }
                        },
                    };
                    let idx = match self.free.pop() {
                        Some(i) => i,
                        None => {
                            self.slots.push(Slot {
                                conn: None,
                                generation: 0,
                                timer: None,
                            });
                            self.slots.len() - 1
                        }
                    };
                    if self
                        .poller
                        .register(conn.socket(), Token(idx), Interest::READABLE, Mode::Level)
                        .is_err()
                    {
                        self.free.push(idx);
                        continue;
                    }
                    let slot = &mut self.slots[idx];
                    slot.conn = Some(conn);
                    self.live += 1;
                    if let Some(c) = slot.conn.as_mut() {
                        c.set_deadline(Some(deadline));
                    }
                    self.after_step(idx, Step::Keep, now);
                    if self.drain_started {
                        self.drain_conn(idx, now);
                    }
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

    /// Stops watching the listeners (level-triggered, they would wake us in a loop).
    fn pause_accept(&mut self, resume_at: Option<Instant>) {
        if self.listeners_registered {
            for l in &self.listeners {
                let _ = self.poller.deregister(&*l.sock);
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
        let mode = if self.exclusive {
            Mode::Exclusive
        } else {
            Mode::Level
        };
        for (i, l) in self.listeners.iter().enumerate() {
            let _ =
                self.poller
                    .register(&*l.sock, Token(LISTENER_BASE - i), Interest::READABLE, mode);
        }
        self.listeners_registered = true;
    }

    fn close(&mut self, idx: usize) {
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        let Some(conn) = slot.conn.take() else { return };
        if let Some((_, id)) = slot.timer.take() {
            self.wheel.cancel(id);
        }
        slot.generation = slot.generation.wrapping_add(1);
        conn.cancel();
        let _ = self.poller.deregister(conn.socket());
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
        // Take what the kernel already accepted for us, then stop listening: closing a
        // SO_REUSEPORT listener resets the connections still in its queue.
        for i in 0..self.listeners.len() {
            self.accept(i, now);
        }
        if self.listeners_registered {
            for l in &self.listeners {
                let _ = self.poller.deregister(&*l.sock);
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

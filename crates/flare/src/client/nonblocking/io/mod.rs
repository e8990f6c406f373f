//! The client's I/O thread: one flare-reactor `Poller` for every socket of every
//! non-blocking request (connect attempts, connections in use, idle connections,
//! DNS queries), one `TimerWheel` for their deadlines, and a waker for the inbox.
//!
//! A request (a [`Call`]) goes: pool checkout, or name resolution then happy-eyeballs
//! connect attempts (RFC 8305: the next address after 250 ms or after a failure,
//! the first connection up wins) to the origin or to its proxy, a CONNECT
//! [`Tunnel`] first for `https` through a proxy, then one HTTP/1.1 exchange
//! ([`H1`]) on the connection; at its end the connection goes to the idle pool or
//! is closed, and the call completes, follows a redirect, or (a reused connection
//! that died before any response byte, idempotent request) starts once more on a
//! fresh connection.
//!
//! HTTP/2 (h2c by prior knowledge, or ALPN `h2` after a TLS handshake run on its
//! own first) puts the call on a shared [`Session`] instead: a stream on the
//! origin's connection, queued while that connection is being set up; see [`h2`].
//!
//! Connecting is in [`connect`], redirects in [`redirect`], HTTP/2 in [`h2`], the
//! tables in [`slab`].
//!
//! Each call keeps at most one wheel timer, armed at or before its earliest
//! deadline: a deadline moving later costs nothing (the timer fires early, finds
//! nothing due and re-arms), one moving earlier re-arms it.

use std::collections::{HashMap, HashSet};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use flare_dns::{LookupId, ReactorResolver, ResolverConfig, Rng};
use flare_reactor::{Event, Events, Interest, Mode, Poller, TimerId, TimerWheel, Token, Waker};
use flare_tls::ClientConfig;

use super::super::connect::{Proxies, Proxy};
use super::super::cookie::Jar;
use super::super::error::{Error, ProtocolError, TimeoutKind};
use super::super::pool::{PoolConfig, PoolKey};
use super::super::redirect::RedirectPolicy;
use super::super::response::Response;
use super::super::Inner;
use super::conn::{Conn, Owner};
use super::exchange::{into_response, Failure, Finished, Progress, Req, Settings, H1};
use super::h2::{H2Stream, Session};
use super::pool::IdlePool;
use super::tunnel::Tunnel;
use super::{Job, Queue, Slot, ON_IO_THREAD};
use h2::Opening;
use redirect::follow_redirect;
use slab::Slab;

mod connect;
mod h2;
mod redirect;
mod slab;

/// The inbox waker's token.
pub(super) const WAKER: Token = Token(0);
/// DNS sockets: `DNS_BASE..DNS_BASE + 2 * DNS_LOOKUPS`.
const DNS_BASE: usize = 1;
/// Name lookups in flight at once (more fail as [`Error::Dns`]).
const DNS_LOOKUPS: usize = 256;
/// Connections: `CONN_BASE + slot`.
const CONN_BASE: usize = 1 << 20;
/// What a cancelled call ends with (nobody sees it).
const CANCELLED: &str = "cancelled";
/// The wheel's tick: timeouts fire at most this late (plus the poll's own delay).
const TICK: Duration = Duration::from_millis(5);
const WHEEL_SLOTS: usize = 4096;

/// What the I/O thread takes from the client when it starts.
#[derive(Debug)]
pub(super) struct IoConfig {
    /// The client's TLS configuration: ALPN `h2` and `http/1.1`, or `http/1.1`
    /// alone without `http2`.
    pub(super) tls: ClientConfig,
    /// HTTP/2 by ALPN over TLS (the client's default; off with `http1_only`).
    pub(super) http2: bool,
    pub(super) connect_timeout: Option<Duration>,
    pub(super) nodelay: bool,
    pub(super) pool: PoolConfig,
    pub(super) redirect: RedirectPolicy,
    pub(super) proxies: Option<Proxies>,
    pub(super) http2_prior_knowledge: bool,
    pub(super) settings: Settings,
    /// The resolver set on the builder; `None`: `/etc/resolv.conf` and `/etc/hosts`.
    pub(super) resolver: Option<ResolverConfig>,
    pub(super) cookies: Option<Arc<Jar>>,
    /// The client, for its TLS handshake counters (weak: the I/O thread must not
    /// keep its client alive).
    pub(super) client: Weak<Inner>,
}

/// Starts the I/O thread (`flare-client-io`). Its poller is made there (a poller
/// stays on its thread); the waker comes back for the queue.
pub(super) fn spawn(
    config: IoConfig,
    make_queue: impl FnOnce(Waker) -> Arc<Queue> + Send + 'static,
) -> io::Result<Arc<Queue>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::Builder::new()
        .name("flare-client-io".into())
        .spawn(move || {
            ON_IO_THREAD.with(|f| f.set(true));
            let started = Poller::new().and_then(|p| Waker::new(&p, WAKER).map(|w| (p, w)));
            let (poller, waker) = match started {
                Ok(pw) => pw,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            };
            let queue = make_queue(waker);
            if tx.send(Ok(queue.clone())).is_err() {
                return;
            }
            IoLoop::new(queue, poller, config).run();
        })?;
    rx.recv()
        .unwrap_or_else(|_| Err(io::Error::other("client I/O thread did not start")))
}

#[derive(Debug)]
enum Timer {
    Call(usize, u64),
    Idle(usize, u64),
    /// An HTTP/2 session (slot, serial): idle timeout, SETTINGS deadlines.
    H2(usize, u64),
}

/// Where a call is.
enum Stage {
    /// Between steps (a redirect or retry about to start, or finished).
    Between,
    Resolving,
    Connecting {
        addrs: Vec<SocketAddr>,
        next: usize,
        attempts: Vec<usize>,
        last_error: Option<(SocketAddr, io::Error)>,
        stagger_at: Option<Instant>,
        connect_by: Option<Instant>,
    },
    /// Connected to the proxy, its CONNECT to the origin in progress.
    Tunnelling {
        conn: usize,
        tunnel: Box<Tunnel>,
        /// The connect timeout: it covers the tunnel and the TLS handshake.
        connect_by: Option<Instant>,
    },
    Exchanging {
        conn: usize,
        h1: Box<H1>,
        reused: bool,
        /// Until the TLS handshake is done.
        connect_by: Option<Instant>,
        /// A TLS handshake is running (counted when it ends).
        handshaking: bool,
    },
    /// TLS to the origin, alone first so that ALPN can choose HTTP/2.
    Handshaking {
        conn: usize,
        connect_by: Option<Instant>,
    },
    /// Waiting for another call's connection to the origin, which may turn out
    /// to be HTTP/2 (see [`Opening`]).
    Waiting,
    /// A stream (or a place in the queue for one) on an HTTP/2 session.
    Streaming {
        session: usize,
        stream: Box<H2Stream>,
    },
}

/// One request from `start` to its result.
struct Call {
    id: u64,
    slot: Arc<Slot>,
    req: Req,
    /// The whole request's deadline.
    deadline: Option<Instant>,
    redirects: usize,
    retried: bool,
    /// The proxy for the current URL (chosen again for each redirect).
    via: Option<Proxy>,
    stage: Stage,
    timer: Option<(TimerId, Instant)>,
    /// Its connection is the [`Opening`] other calls to the origin wait for.
    leads: bool,
    /// Connects on its own, never waiting for another call's connection (its
    /// leader's connection failed in a way it must see for itself).
    solo: bool,
}

impl Call {
    /// Where this hop connects: its proxy, or the origin.
    fn dial(&self) -> (&str, u16) {
        match &self.via {
            Some(p) => (p.url.host(), p.url.port()),
            None => (self.req.url.host(), self.req.url.port()),
        }
    }

    /// The proxy a plain `http` request is forwarded through in absolute form
    /// (an `https` one goes through a tunnel instead).
    fn forward(&self) -> Option<&Proxy> {
        self.via
            .as_ref()
            .filter(|_| !self.req.url.scheme_kind().is_tls())
    }

    /// Connections are pooled per origin and proxy: a proxied one never serves a
    /// direct request, nor the other way round.
    fn pool_key(&self) -> PoolKey {
        PoolKey {
            origin: self.req.url.origin(),
            proxy: self.via.as_ref().map(|p| p.url.origin()),
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        let stage = match &self.stage {
            Stage::Between | Stage::Resolving => None,
            Stage::Connecting {
                stagger_at,
                connect_by,
                ..
            } => min(*stagger_at, *connect_by),
            Stage::Tunnelling { connect_by, .. } | Stage::Handshaking { connect_by, .. } => {
                *connect_by
            }
            Stage::Exchanging { h1, connect_by, .. } => min(h1.deadline(), *connect_by),
            Stage::Waiting => None,
            Stage::Streaming { stream, .. } => stream.deadline(),
        };
        min(self.deadline, stage)
    }
}

/// Points the poller at what connection `ci` waits for now (writable too while
/// it has output or is still connecting).
fn watch(poller: &Poller, conn: &mut Conn, ci: usize, output: bool) -> io::Result<()> {
    let want = conn.wanted_interest(output);
    if want != conn.interest {
        poller.reregister(&conn.tcp, Token(CONN_BASE + ci), want, Mode::Level)?;
        conn.interest = want;
    }
    Ok(())
}

/// Counts connection `conn`'s finished TLS handshake in its client's figures.
fn count_handshake(client: &Weak<Inner>, conn: &Conn) {
    if let (Some(inner), Some(resumed)) = (client.upgrade(), conn.tls_resumed()) {
        let counter = if resumed {
            &inner.tls_resumed
        } else {
            &inner.tls_full
        };
        counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

fn min(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

struct IoLoop {
    poller: Poller,
    queue: Arc<Queue>,
    config: IoConfig,
    wheel: TimerWheel<Timer>,
    dns: ReactorResolver,
    /// Lookups in flight: the call (slot and id) waiting for each.
    lookups: HashMap<LookupId, (usize, u64)>,
    conns: Slab<Conn>,
    calls: Slab<Call>,
    /// Call ids to slots, for cancellation.
    by_id: HashMap<u64, usize>,
    pool: IdlePool,
    /// HTTP/2 sessions, and those of each origin.
    h2s: Slab<Session>,
    h2_by_key: HashMap<PoolKey, Vec<usize>>,
    /// Connections being set up that may turn out HTTP/2, by origin.
    opening: HashMap<PoolKey, Opening>,
    /// Origins whose server chose HTTP/1.1 by ALPN (their calls do not wait for
    /// one another's connections).
    known_h1: HashSet<PoolKey>,
    /// Sessions to drive at the end of the poll batch.
    h2_dirty: Vec<usize>,
    next_serial: u64,
    closing: bool,
}

impl IoLoop {
    fn new(queue: Arc<Queue>, poller: Poller, config: IoConfig) -> IoLoop {
        let dns_config = config
            .resolver
            .clone()
            .unwrap_or_else(ResolverConfig::from_system);
        let rng = Rng::from_os().unwrap_or_else(|_| {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            Rng::from_seed(t ^ u64::from(std::process::id()))
        });
        let now = Instant::now();
        IoLoop {
            poller,
            queue,
            pool: IdlePool::new(config.pool),
            config,
            wheel: TimerWheel::new(now, TICK, WHEEL_SLOTS),
            dns: ReactorResolver::new(dns_config, rng, Token(DNS_BASE)).max_lookups(DNS_LOOKUPS),
            lookups: HashMap::new(),
            conns: Slab::new(),
            calls: Slab::new(),
            by_id: HashMap::new(),
            h2s: Slab::new(),
            h2_by_key: HashMap::new(),
            opening: HashMap::new(),
            known_h1: HashSet::new(),
            h2_dirty: Vec::new(),
            next_serial: 0,
            closing: false,
        }
    }

    fn run(mut self) {
        let mut events = Events::with_capacity(1024);
        loop {
            if self.closing && self.calls.len() == 0 {
                break;
            }
            let now = Instant::now();
            let timeout = min(self.wheel.next_deadline(), self.dns.next_deadline())
                .map(|t| t.saturating_duration_since(now));
            // Sessions left dirty by a drive's round limit go on at once.
            let timeout = if self.h2_dirty.is_empty() {
                timeout
            } else {
                Some(Duration::ZERO)
            };
            if let Err(e) = self.poller.poll(&mut events, timeout) {
                log::error!("client I/O thread: poll failed: {e}");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            let now = Instant::now();
            for ev in events.iter() {
                self.dispatch(ev, now);
            }
            self.dns.on_timeout(&self.poller, now);
            self.expire(now);
            self.dns_results(now);
            self.drive_dirty(now);
            self.conns.end_of_batch();
            self.calls.end_of_batch();
            self.h2s.end_of_batch();
        }
        for c in self.pool.drain() {
            self.close_conn(c);
        }
        self.close_idle_sessions(true);
    }

    fn dispatch(&mut self, ev: &Event, now: Instant) {
        let t = ev.token().0;
        if ev.token() == WAKER {
            self.inbox(now);
        } else if t < CONN_BASE {
            self.dns.on_event(&self.poller, ev, now);
        } else {
            let ci = t - CONN_BASE;
            let Some(conn) = self.conns.get_mut(ci) else {
                return;
            };
            match conn.owner {
                // Readable while idle: the server closed it (or sent bytes nobody
                // asked for). Either way it cannot be reused.
                Owner::Idle => self.drop_idle(ci),
                Owner::Attempt(c) => self.on_attempt(c, ci, now),
                Owner::Tunnel(c) => self.step_tunnel(c, now),
                Owner::Handshake(c) => self.step_handshake(c, now),
                Owner::Exchange(c) => self.step(c, now),
                Owner::H2(hi) => self.h2_ready(hi, ev),
            }
        }
    }

    fn inbox(&mut self, now: Instant) {
        if let Err(e) = self.queue.waker.drain() {
            log::error!("client I/O thread: waker drain failed: {e}");
        }
        let inbox = self.queue.take();
        for job in inbox.jobs {
            self.admit(job, now);
        }
        for id in inbox.cancels {
            if let Some(&c) = self.by_id.get(&id) {
                // The Pending is gone: nobody sees this error.
                let e = Error::protocol("", ProtocolError::Other(CANCELLED));
                self.complete(c, Err(e));
            }
        }
        if inbox.closed && !self.closing {
            self.closing = true;
            for c in self.pool.drain() {
                self.close_conn(c);
            }
            self.close_idle_sessions(false);
        }
    }

    fn admit(&mut self, job: Job, now: Instant) {
        if job.slot.is_cancelled() {
            self.queue.finished_one();
            return;
        }
        let id = job.slot.id;
        let c = self.calls.insert(Call {
            id,
            slot: job.slot,
            req: job.req,
            deadline: job.deadline,
            redirects: 0,
            retried: false,
            via: None,
            stage: Stage::Between,
            timer: None,
            leads: false,
            solo: false,
        });
        self.by_id.insert(id, c);
        self.begin(c, now, false);
    }

    /// Starts (or restarts) call `c`: an idle connection unless `fresh`, else
    /// resolve and connect.
    fn begin(&mut self, c: usize, now: Instant, fresh: bool) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        if call.deadline.is_some_and(|d| now >= d) {
            let e = Error::timeout(&call.req.url_text, TimeoutKind::Request);
            return self.complete(c, Err(e));
        }
        call.via = self
            .config
            .proxies
            .as_ref()
            .and_then(|p| p.for_url(&call.req.url))
            .cloned();
        let key = call.pool_key();
        let (host, port) = call.dial();
        let host = host.to_owned();
        let may_h2 = self.may_h2(c);
        if may_h2 {
            if let Some(hi) = self.session_for(&key) {
                return self.h2_attach(c, hi, now);
            }
        }
        if !fresh {
            while let Some(ci) = self.pool.checkout(&key) {
                match self.conns.get_mut(ci) {
                    Some(conn) if conn.is_clean() => return self.attach(c, ci, true, now),
                    Some(_) => self.close_conn(ci),
                    None => {}
                }
            }
        }
        if may_h2 && self.wait_for_opening(c, key) {
            return;
        }
        if let Ok(ip) = host.parse::<IpAddr>() {
            return self.connect(c, vec![SocketAddr::new(ip, port)], now);
        }
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        call.stage = Stage::Resolving;
        let id = self.dns.start(&self.poller, &host, now);
        self.lookups.insert(id, (c, call.id));
        self.arm(c);
    }

    /// Lookups that finished (at once for hosts entries and cached names).
    fn dns_results(&mut self, now: Instant) {
        while let Some((id, result)) = self.dns.poll_done() {
            let Some((c, call_id)) = self.lookups.remove(&id) else {
                continue;
            };
            let Some(call) = self.calls.get_mut(c) else {
                continue;
            };
            if call.id != call_id || !matches!(call.stage, Stage::Resolving) {
                continue;
            }
            let (host, port) = call.dial();
            match result {
                Ok(ips) if !ips.is_empty() => {
                    let addrs = ips
                        .into_iter()
                        .map(|ip| SocketAddr::new(ip, port))
                        .collect();
                    self.connect(c, addrs, now);
                }
                Ok(_) => {
                    let e = Error::Connect {
                        url: call.req.url_text.clone(),
                        addr: None,
                        source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
                    };
                    self.complete(c, Err(e));
                }
                Err(source) => {
                    let e = Error::Dns {
                        url: call.req.url_text.clone(),
                        host: host.to_owned(),
                        source,
                    };
                    self.complete(c, Err(e));
                }
            }
        }
    }

    /// Puts call `c` on connection `ci` and starts the exchange.
    fn attach(&mut self, c: usize, ci: usize, reused: bool, now: Instant) {
        let (Some(call), Some(conn)) = (self.calls.get_mut(c), self.conns.get_mut(ci)) else {
            return;
        };
        conn.owner = Owner::Exchange(c);
        conn.uses += 1;
        conn.key = Some(call.pool_key());
        let h1 = Box::new(H1::new(
            &call.req,
            call.forward(),
            &self.config.settings,
            now,
        ));
        call.stage = Stage::Exchanging {
            conn: ci,
            h1,
            reused,
            connect_by: None,
            handshaking: conn.handshaking(),
        };
        self.step(c, now);
    }

    /// Steps call `c`'s exchange on its connection.
    fn step(&mut self, c: usize, now: Instant) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        let Stage::Exchanging {
            conn: ci,
            h1,
            connect_by,
            handshaking,
            ..
        } = &mut call.stage
        else {
            return;
        };
        let ci = *ci;
        let Some(conn) = self.conns.get_mut(ci) else {
            return;
        };
        let progress = h1.step(conn, now, &call.req.url_text);
        if *handshaking && !conn.handshaking() {
            *handshaking = false;
            *connect_by = None;
            count_handshake(&self.config.client, conn);
        }
        match progress {
            Progress::Waiting(output) => {
                if let Err(e) = watch(&self.poller, conn, ci, output) {
                    let e = Error::io(&call.req.url_text, e);
                    return self.complete(c, Err(e));
                }
                self.arm(c);
            }
            Progress::Done(fin) => self.finished(c, fin, now),
            Progress::Failed(f) => self.failed(c, f, now),
        }
    }

    /// The connection of call `c`'s finished exchange, out of the call.
    fn release(&mut self, c: usize) -> Option<(usize, bool)> {
        let call = self.calls.get_mut(c)?;
        match std::mem::replace(&mut call.stage, Stage::Between) {
            Stage::Exchanging { conn, reused, .. } => Some((conn, reused)),
            other => {
                call.stage = other;
                None
            }
        }
    }

    fn finished(&mut self, c: usize, fin: Finished, now: Instant) {
        if let Some((ci, _)) = self.release(c) {
            if fin.keep_alive && !self.closing {
                self.checkin(ci, now);
            } else {
                self.close_conn(ci);
            }
        }
        self.conclude(c, fin, now);
    }

    /// What follows a final response on either protocol: a proxy's 407, the
    /// cookies, a redirect, or the result.
    fn conclude(&mut self, c: usize, fin: Finished, now: Instant) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        // RFC 9110 section 15.5.8: the proxy wants (other) credentials. As the
        // blocking client, an error rather than the proxy's page.
        let proxy_auth = fin.status == http::StatusCode::PROXY_AUTHENTICATION_REQUIRED;
        if proxy_auth && call.forward().is_some() {
            let e = Error::Proxy {
                url: call.req.url_text.clone(),
                status: 407,
            };
            return self.complete(c, Err(e));
        }
        // Cookies set by any response, redirects included (RFC 6265 section 3).
        if let Some(jar) = &self.config.cookies {
            jar.store_response(&call.req.url, &fin.headers);
        }
        match follow_redirect(call, &fin, &self.config) {
            Ok(true) => {
                log::debug!("redirect {}: -> {}", call.redirects, call.req.url_text);
                self.begin(c, now, false);
            }
            Ok(false) => {
                let r = into_response(fin, &call.req, self.config.settings.max_response_size);
                self.complete(c, r);
            }
            Err(e) => self.complete(c, Err(e)),
        }
    }

    fn failed(&mut self, c: usize, f: Failure, now: Instant) {
        let reused = match self.release(c) {
            Some((ci, reused)) => {
                self.close_conn(ci);
                reused
            }
            None => false,
        };
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        if reused && f.nothing_received && !call.retried && call.req.idempotent() {
            log::debug!(
                "retrying {} {} on a fresh connection: {}",
                call.req.method,
                call.req.url_text,
                f.error
            );
            call.retried = true;
            return self.begin(c, now, true);
        }
        self.complete(c, Err(f.error));
    }

    /// Ends call `c`: its sockets closed, its timer cancelled, the result handed
    /// over (a callback runs here).
    fn complete(&mut self, c: usize, result: Result<Response, Error>) {
        let Some(mut call) = self.calls.remove(c) else {
            return;
        };
        self.by_id.remove(&call.id);
        if let Some((t, _)) = call.timer {
            self.wheel.cancel(t);
        }
        match std::mem::replace(&mut call.stage, Stage::Between) {
            Stage::Connecting { attempts, .. } => {
                for a in attempts {
                    self.close_conn(a);
                }
            }
            Stage::Tunnelling { conn, .. }
            | Stage::Exchanging { conn, .. }
            | Stage::Handshaking { conn, .. } => self.close_conn(conn),
            // A stream given up (timed out, cancelled) is reset; the connection
            // stays for the others.
            Stage::Streaming { session, stream } => self.drop_stream(session, stream.id),
            Stage::Between | Stage::Resolving | Stage::Waiting => {}
        }
        if call.leads {
            self.leader_gone(&call, result.as_ref().err());
        }
        self.queue.finished_one();
        call.slot.complete(result);
    }

    /// Arms call `c`'s timer at its earliest deadline, if that is earlier than the
    /// armed one.
    fn arm(&mut self, c: usize) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        let Some(at) = call.next_deadline() else {
            return;
        };
        if let Some((t, armed)) = call.timer {
            if armed <= at {
                return;
            }
            self.wheel.cancel(t);
        }
        call.timer = Some((self.wheel.schedule(at, Timer::Call(c, call.id)), at));
    }

    fn expire(&mut self, now: Instant) {
        let mut fired = Vec::new();
        self.wheel.expire(now, |t| fired.push(t));
        for t in fired {
            match t {
                Timer::Call(c, id) => self.on_call_timer(c, id, now),
                Timer::Idle(ci, epoch) => {
                    let idle = self
                        .conns
                        .get_mut(ci)
                        .is_some_and(|conn| conn.owner == Owner::Idle && conn.idle_epoch == epoch);
                    if idle {
                        self.drop_idle(ci);
                    }
                }
                Timer::H2(hi, serial) => self.on_session_timer(hi, serial, now),
            }
        }
    }

    fn on_call_timer(&mut self, c: usize, id: u64, now: Instant) {
        let Some(call) = self.calls.get_mut(c) else {
            return;
        };
        if call.id != id {
            return;
        }
        call.timer = None;
        let url = call.req.url_text.clone();
        if call.deadline.is_some_and(|d| now >= d) {
            return self.complete(c, Err(Error::timeout(&url, TimeoutKind::Request)));
        }
        let connect_timeout = || Err(Error::timeout(&url, TimeoutKind::Connect));
        match &mut call.stage {
            Stage::Connecting {
                connect_by,
                stagger_at,
                ..
            } => {
                if connect_by.is_some_and(|d| now >= d) {
                    return self.complete(c, connect_timeout());
                }
                if stagger_at.is_some_and(|d| now >= d) {
                    *stagger_at = None;
                    return self.next_attempt(c, now);
                }
            }
            Stage::Tunnelling { connect_by, .. } | Stage::Handshaking { connect_by, .. } => {
                if connect_by.is_some_and(|d| now >= d) {
                    return self.complete(c, connect_timeout());
                }
            }
            Stage::Streaming { stream, .. } => {
                if let Some(kind) = stream.idle_expired(now) {
                    return self.complete(c, Err(Error::timeout(&url, kind)));
                }
            }
            Stage::Exchanging { h1, connect_by, .. } => {
                if connect_by.is_some_and(|d| now >= d) {
                    return self.complete(c, connect_timeout());
                }
                if let Some(kind) = h1.idle_expired(now) {
                    return self.complete(c, Err(Error::timeout(&url, kind)));
                }
                if h1.continue_due(now) {
                    return self.step(c, now);
                }
            }
            Stage::Between | Stage::Resolving | Stage::Waiting => {}
        }
        self.arm(c);
    }

    /// Keeps connection `ci` idle for reuse, watched for reading (the server
    /// closing it) and timed out by the pool's idle timeout.
    fn checkin(&mut self, ci: usize, now: Instant) {
        let timeout = self.pool.config().idle_timeout;
        let Some(conn) = self.conns.get_mut(ci) else {
            return;
        };
        let Some(key) = conn.key.clone() else {
            return self.close_conn(ci);
        };
        conn.owner = Owner::Idle;
        conn.idle_since = now;
        conn.idle_epoch += 1;
        if conn.interest != Interest::READABLE {
            let token = Token(CONN_BASE + ci);
            if self
                .poller
                .reregister(&conn.tcp, token, Interest::READABLE, Mode::Level)
                .is_err()
            {
                return self.close_conn(ci);
            }
            conn.interest = Interest::READABLE;
        }
        self.wheel
            .schedule(now + timeout, Timer::Idle(ci, conn.idle_epoch));
        for old in self.pool.checkin(&key, ci, now) {
            self.close_conn(old);
        }
    }

    fn drop_idle(&mut self, ci: usize) {
        if let Some(key) = self.conns.get_mut(ci).and_then(|c| c.key.clone()) {
            self.pool.remove(&key, ci);
        }
        self.close_conn(ci);
    }

    fn close_conn(&mut self, ci: usize) {
        if let Some(conn) = self.conns.remove(ci) {
            let _ = self.poller.deregister(&conn.tcp);
        }
    }
}

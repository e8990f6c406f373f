//! The non-blocking front end: lookups driven by a flare reactor, owned by a worker.
//!
//! A worker keeps one [`ReactorResolver`], gives it a token range in its
//! [`Poller`], and calls it from its loop:
//!
//! ```no_run
//! use std::time::Instant;
//! use flare_dns::{ReactorResolver, ResolverConfig, Rng};
//! use flare_reactor::{Events, Poller, Token};
//!
//! let mut poller = Poller::new()?;
//! let config = ResolverConfig::new().nameserver("127.0.0.1:53".parse().unwrap());
//! let mut dns = ReactorResolver::new(config, Rng::from_os()?, Token(1000));
//! let id = dns.start(&poller, "example.com", Instant::now());
//! let mut events = Events::with_capacity(64);
//! loop {
//!     if let Some((done, result)) = dns.poll_done() {
//!         assert_eq!(done, id);
//!         println!("{result:?}");
//!         break;
//!     }
//!     let wait = dns.next_deadline().map(|d| d.saturating_duration_since(Instant::now()));
//!     poller.poll(&mut events, wait)?;
//!     for ev in events.iter() {
//!         dns.on_event(&poller, ev, Instant::now());
//!     }
//!     dns.on_timeout(&poller, Instant::now());
//! }
//! # Ok::<(), std::io::Error>(())
//! ```

use std::collections::VecDeque;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use flare_net::{TcpStream, UdpSocket};
use flare_reactor::{Backend, Event, Interest, Mode, Poller, Token};

use crate::blocking::unspecified_for;
use crate::cache::Cache;
use crate::config::ResolverConfig;
use crate::error::ResolveError;
use crate::lookup::{Lookup, Proto, Transmit, TransmitTag};
use crate::rng::Rng;

/// Identifies a lookup started with [`ReactorResolver::start`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LookupId(pub u64);

/// The most bytes read for one UDP answer.
const UDP_BUF: usize = 65_535;
/// The largest [`ReactorResolver::max_lookups`] accepted, so token arithmetic cannot
/// overflow.
const MAX_LOOKUPS_CAP: usize = 1 << 20;
/// Each lookup has at most two transmissions in flight (A and AAAA).
const SOCKETS_PER_LOOKUP: usize = 2;

#[derive(Debug)]
enum Conn {
    Udp(UdpSocket),
    Tcp {
        stream: TcpStream,
        out: Vec<u8>,
        written: usize,
        inbuf: Vec<u8>,
        connected: bool,
    },
}

#[derive(Debug)]
struct Socket {
    lookup: usize,
    tag: TransmitTag,
    server: SocketAddr,
    conn: Conn,
}

#[derive(Debug)]
struct Slot {
    id: LookupId,
    lookup: Lookup,
}

/// Many concurrent lookups on one thread, each query on its own non-blocking socket
/// registered with the worker's [`Poller`] under tokens `base_token..base_token +
/// 2 * max_lookups`. Owns its cache (a worker's cache is its own: no locks).
#[derive(Debug)]
pub struct ReactorResolver {
    config: ResolverConfig,
    cache: Cache,
    rng: Rng,
    base_token: usize,
    max_lookups: usize,
    lookups: Vec<Option<Slot>>,
    sockets: Vec<Option<Socket>>,
    done: VecDeque<(LookupId, Result<Vec<IpAddr>, ResolveError>)>,
    next_id: u64,
    next_slot: usize,
    buf: Vec<u8>,
}

impl ReactorResolver {
    /// A resolver whose sockets use tokens from `base_token` on.
    pub fn new(config: ResolverConfig, rng: Rng, base_token: Token) -> Self {
        let cache = Cache::new(config.cache_capacity, config.max_cache_ttl);
        Self {
            config,
            cache,
            rng,
            base_token: base_token.0,
            max_lookups: 64,
            lookups: Vec::new(),
            sockets: Vec::new(),
            done: VecDeque::new(),
            next_id: 0,
            next_slot: 0,
            buf: vec![0; UDP_BUF],
        }
    }

    /// How many lookups may be in flight at once (default 64); more fail at once
    /// with [`ResolveError::TooManyLookups`]. Bounds the sockets (two per lookup) and
    /// tokens the resolver uses.
    pub fn max_lookups(mut self, max: usize) -> Self {
        self.max_lookups = max.clamp(1, MAX_LOOKUPS_CAP);
        self
    }

    /// The token range this resolver may register: route events with these tokens to
    /// [`ReactorResolver::on_event`].
    pub fn tokens(&self) -> std::ops::Range<usize> {
        self.base_token
            ..self
                .base_token
                .saturating_add(self.max_lookups * SOCKETS_PER_LOOKUP)
    }

    /// Starts resolving `host`. The result comes from [`ReactorResolver::poll_done`],
    /// at once for numeric addresses, hosts entries and cache hits.
    pub fn start<B: Backend>(&mut self, poller: &Poller<B>, host: &str, now: Instant) -> LookupId {
        self.next_id += 1;
        let id = LookupId(self.next_id);
        let busy = self.lookups.iter().filter(|s| s.is_some()).count();
        if busy >= self.max_lookups {
            self.done.push_back((id, Err(ResolveError::TooManyLookups)));
            return id;
        }
        let seed = self.rng.next_u64();
        let lookup = Lookup::new(host, &self.config, &self.cache, Rng::from_seed(seed), now);
        let idx = match self.lookups.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.lookups.push(None);
                self.lookups.len() - 1
            }
        };
        if let Some(slot) = self.lookups.get_mut(idx) {
            *slot = Some(Slot { id, lookup });
        }
        self.pump(poller, idx, now);
        id
    }

    /// A finished lookup and its result. Changes after `start`, `on_event` and
    /// `on_timeout`.
    pub fn poll_done(&mut self) -> Option<(LookupId, Result<Vec<IpAddr>, ResolveError>)> {
        self.done.pop_front()
    }

    /// When [`ReactorResolver::on_timeout`] must next be called; `None` when idle.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.lookups
            .iter()
            .flatten()
            .filter_map(|s| s.lookup.poll_timeout())
            .min()
    }

    /// How many lookups are in flight.
    pub fn in_flight(&self) -> usize {
        self.lookups.iter().flatten().count()
    }

    /// How many sockets are open.
    pub fn open_sockets(&self) -> usize {
        self.sockets.iter().flatten().count()
    }

    /// Handles readiness for one of [`ReactorResolver::tokens`]; returns `false` (and
    /// does nothing) for other tokens.
    pub fn on_event<B: Backend>(
        &mut self,
        poller: &Poller<B>,
        event: &Event,
        now: Instant,
    ) -> bool {
        let Some(i) = event.token().0.checked_sub(self.base_token) else {
            return false;
        };
        if i >= self.max_lookups * SOCKETS_PER_LOOKUP {
            return false;
        }
        let Some(Some(sock)) = self.sockets.get_mut(i) else {
            return true;
        };
        let lookup_idx = sock.lookup;
        let Some(Some(slot)) = self.lookups.get_mut(lookup_idx) else {
            return true;
        };
        let (tag, server) = (sock.tag, sock.server);
        match &mut sock.conn {
            Conn::Udp(udp) => loop {
                match udp.recv(&mut self.buf) {
                    Ok(n) => {
                        slot.lookup
                            .handle_response(server, self.buf.get(..n).unwrap_or(&[]), now)
                    }
                    Err(e) if e.is_would_block() => break,
                    Err(e) => {
                        slot.lookup.handle_transport_error(
                            tag,
                            std::io::Error::from(e).kind(),
                            now,
                        );
                        break;
                    }
                }
            },
            Conn::Tcp {
                stream,
                out,
                written,
                inbuf,
                connected,
            } => match step_tcp(stream, out, written, inbuf, connected, event) {
                Ok(TcpStep::Waiting) => {}
                Ok(TcpStep::WriteDone) => {
                    let token = Token(self.base_token + i);
                    if let Err(e) =
                        poller.reregister(stream, token, Interest::READABLE, Mode::Level)
                    {
                        slot.lookup.handle_transport_error(tag, e.kind(), now);
                    }
                }
                Ok(TcpStep::Answer(len)) => {
                    let answer = inbuf.get(2..2 + len).unwrap_or(&[]);
                    slot.lookup.handle_response(server, answer, now);
                }
                Err(kind) => slot.lookup.handle_transport_error(tag, kind, now),
            },
        }
        self.pump(poller, lookup_idx, now);
        true
    }

    /// Retries or fails every query whose deadline has passed.
    pub fn on_timeout<B: Backend>(&mut self, poller: &Poller<B>, now: Instant) {
        for idx in 0..self.lookups.len() {
            let due = match self.lookups.get_mut(idx) {
                Some(Some(slot)) if slot.lookup.poll_timeout().is_some_and(|d| d <= now) => {
                    slot.lookup.handle_timeout(now);
                    true
                }
                _ => false,
            };
            if due {
                self.pump(poller, idx, now);
            }
        }
    }

    /// Sends what lookup `idx` wants sent, stores its cache updates, closes its stale
    /// sockets and retires it when done.
    fn pump<B: Backend>(&mut self, poller: &Poller<B>, idx: usize, now: Instant) {
        loop {
            let Some(Some(slot)) = self.lookups.get_mut(idx) else {
                return;
            };
            let Some(t) = slot.lookup.poll_transmit() else {
                break;
            };
            if let Err(kind) = self.open(poller, idx, t.clone()) {
                if let Some(Some(slot)) = self.lookups.get_mut(idx) {
                    slot.lookup.handle_transport_error(t.tag, kind, now);
                }
            }
        }
        let Some(Some(slot)) = self.lookups.get_mut(idx) else {
            return;
        };
        while let Some(u) = slot.lookup.poll_cache_update() {
            self.cache.insert(u, now);
        }
        let result = slot.lookup.poll_result();
        let id = slot.id;
        let lookup = &slot.lookup;
        for entry in self.sockets.iter_mut() {
            let stale = entry
                .as_ref()
                .is_some_and(|s| s.lookup == idx && (result.is_some() || !lookup.is_live(s.tag)));
            if stale {
                if let Some(s) = entry.take() {
                    close(poller, s);
                }
            }
        }
        if let Some(r) = result {
            self.done.push_back((id, r));
            if let Some(slot) = self.lookups.get_mut(idx) {
                *slot = None;
            }
        }
    }

    fn open<B: Backend>(
        &mut self,
        poller: &Poller<B>,
        lookup: usize,
        t: Transmit,
    ) -> Result<(), ErrorKind> {
        let io = |e: flare_net::Error| std::io::Error::from(e).kind();
        // Slots are handed out round-robin, not lowest-first, so a token freed while
        // handling one event is not reused by a socket that a stale event for the same
        // token (later in the same poll batch) would then be delivered to.
        let cap = self.max_lookups * SOCKETS_PER_LOOKUP;
        if self.sockets.len() < cap {
            self.sockets.resize_with(cap, || None);
        }
        let i = (0..cap)
            .map(|k| (self.next_slot + k) % cap)
            .find(|&k| matches!(self.sockets.get(k), Some(None)))
            .ok_or(ErrorKind::OutOfMemory)?;
        self.next_slot = i + 1;
        let token = Token(self.base_token + i);
        let conn = match t.proto {
            Proto::Udp => {
                let udp = UdpSocket::bind(unspecified_for(t.server)).map_err(io)?;
                udp.connect(t.server).map_err(io)?;
                udp.send(&t.bytes).map_err(io)?;
                poller
                    .register(&udp, token, Interest::READABLE, Mode::Level)
                    .map_err(|e| e.kind())?;
                Conn::Udp(udp)
            }
            Proto::Tcp => {
                let stream = TcpStream::connect_nonblocking(t.server).map_err(io)?;
                let _ = stream.set_nodelay(true);
                poller
                    .register(
                        &stream,
                        token,
                        Interest::READABLE | Interest::WRITABLE,
                        Mode::Level,
                    )
                    .map_err(|e| e.kind())?;
                Conn::Tcp {
                    stream,
                    out: t.bytes,
                    written: 0,
                    inbuf: Vec::new(),
                    connected: false,
                }
            }
        };
        if let Some(slot) = self.sockets.get_mut(i) {
            *slot = Some(Socket {
                lookup,
                tag: t.tag,
                server: t.server,
                conn,
            });
        }
        Ok(())
    }
}

enum TcpStep {
    Waiting,
    WriteDone,
    Answer(usize),
}

/// Advances one TCP exchange on readiness: finish the connect, write the query, read
/// one length-prefixed answer (RFC 7766 8).
fn step_tcp(
    stream: &TcpStream,
    out: &[u8],
    written: &mut usize,
    inbuf: &mut Vec<u8>,
    connected: &mut bool,
    event: &Event,
) -> Result<TcpStep, ErrorKind> {
    let io = |e: flare_net::Error| std::io::Error::from(e).kind();
    if !*connected {
        if !event.is_writable() && !event.is_error() {
            return Ok(TcpStep::Waiting);
        }
        if let Some(e) = stream.take_error().map_err(io)? {
            return Err(io(e));
        }
        *connected = true;
    }
    if *written < out.len() {
        while let Some(rest) = out.get(*written..).filter(|r| !r.is_empty()) {
            match stream.write(rest) {
                Ok(n) => *written += n,
                Err(e) if e.is_would_block() => return Ok(TcpStep::Waiting),
                Err(e) => return Err(io(e)),
            }
        }
        return Ok(TcpStep::WriteDone);
    }
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Err(ErrorKind::UnexpectedEof),
            Ok(n) => inbuf.extend_from_slice(chunk.get(..n).unwrap_or(&[])),
            Err(e) if e.is_would_block() => break,
            Err(e) => return Err(io(e)),
        }
        if let Some(len) = framed_len(inbuf) {
            return Ok(TcpStep::Answer(len));
        }
    }
    Ok(framed_len(inbuf).map_or(TcpStep::Waiting, TcpStep::Answer))
}

/// The message length once a whole length-prefixed message is buffered.
fn framed_len(inbuf: &[u8]) -> Option<usize> {
    let len = usize::from(u16::from_be_bytes([*inbuf.first()?, *inbuf.get(1)?]));
    (inbuf.len() >= 2 + len).then_some(len)
}

fn close<B: Backend>(poller: &Poller<B>, s: Socket) {
    // Closing removes the descriptor from epoll anyway; deregister first so kqueue
    // and epoll behave the same when a descriptor is shared.
    let _ = match &s.conn {
        Conn::Udp(u) => poller.deregister(u),
        Conn::Tcp { stream, .. } => poller.deregister(stream),
    };
}

//! The blocking front end: drives a [`Lookup`] with std sockets and `poll(2)`.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use rustix::event::{PollFd, PollFlags, Timespec};

use crate::cache::Cache;
use crate::config::ResolverConfig;
use crate::error::ResolveError;
use crate::lookup::{Lookup, Proto, Transmit, TransmitTag};
use crate::rng::Rng;

/// The most bytes read for one UDP answer: the largest possible datagram, so an answer
/// bigger than we advertised is still seen whole (and then decoded or rejected).
const UDP_BUF: usize = 65_535;

/// A caching stub resolver with a blocking [`Resolver::resolve`]. Share it between
/// threads; the cache is behind a mutex held only to read or store answers.
#[derive(Debug)]
pub struct Resolver {
    config: ResolverConfig,
    cache: Mutex<Cache>,
    rng: Mutex<Rng>,
}

impl Resolver {
    /// A resolver for `config`, seeded from the OS.
    pub fn new(config: ResolverConfig) -> std::io::Result<Self> {
        Ok(Self::with_rng(config, Rng::from_os()?))
    }

    /// A resolver using `/etc/resolv.conf` and `/etc/hosts`.
    pub fn from_system() -> std::io::Result<Self> {
        Self::new(ResolverConfig::from_system())
    }

    /// A resolver whose query ids come from `rng` (tests, reproducible runs).
    pub fn with_rng(config: ResolverConfig, rng: Rng) -> Self {
        let cache = Cache::new(config.cache_capacity, config.max_cache_ttl);
        Self {
            config,
            cache: Mutex::new(cache),
            rng: Mutex::new(rng),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ResolverConfig {
        &self.config
    }

    /// Empties the cache.
    pub fn clear_cache(&self) {
        lock(&self.cache).clear();
    }

    /// How many answers the cache holds.
    pub fn cache_len(&self) -> usize {
        lock(&self.cache).len()
    }

    /// Resolves `host` to addresses ordered for connection attempts, blocking the
    /// calling thread for at most `timeout * attempts * servers` per search-list name.
    ///
    /// Each UDP query goes out on a fresh connected socket bound to port 0 (a random
    /// source port; the kernel drops datagrams from other sources). TCP fallback runs
    /// inline with the same per-try timeout.
    pub fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let seed = lock(&self.rng).next_u64();
        let mut lookup = {
            let cache = lock(&self.cache);
            Lookup::new(
                host,
                &self.config,
                &cache,
                Rng::from_seed(seed),
                Instant::now(),
            )
        };
        let mut socks: Vec<(TransmitTag, SocketAddr, UdpSocket)> = Vec::new();
        let mut buf = vec![0u8; UDP_BUF];
        loop {
            while let Some(t) = lookup.poll_transmit() {
                match t.proto {
                    Proto::Udp => match send_udp(&t) {
                        Ok(sock) => socks.push((t.tag, t.server, sock)),
                        Err(e) => lookup.handle_transport_error(t.tag, e.kind(), Instant::now()),
                    },
                    Proto::Tcp => match exchange_tcp(&t, self.config.timeout) {
                        Ok(answer) => lookup.handle_response(t.server, &answer, Instant::now()),
                        Err(e) => lookup.handle_transport_error(t.tag, e.kind(), Instant::now()),
                    },
                }
            }
            self.store(&mut lookup);
            if let Some(result) = lookup.poll_result() {
                return result;
            }
            socks.retain(|(tag, _, _)| lookup.is_live(*tag));
            let Some(deadline) = lookup.poll_timeout() else {
                // Unreachable by construction: an unfinished lookup always waits on
                // something. Fail rather than spin.
                return Err(ResolveError::Timeout);
            };
            let now = Instant::now();
            if deadline <= now {
                lookup.handle_timeout(now);
                continue;
            }
            let ready =
                wait_readable(&socks, deadline - now).map_err(|e| ResolveError::Io(e.kind()))?;
            for i in ready {
                let Some((tag, server, sock)) = socks.get(i) else {
                    continue;
                };
                loop {
                    match sock.recv(&mut buf) {
                        Ok(n) => lookup.handle_response(
                            *server,
                            buf.get(..n).unwrap_or(&[]),
                            Instant::now(),
                        ),
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        Err(e) => {
                            // E.g. ECONNREFUSED from an ICMP port unreachable.
                            lookup.handle_transport_error(*tag, e.kind(), Instant::now());
                            break;
                        }
                    }
                }
            }
        }
    }

    fn store(&self, lookup: &mut Lookup) {
        let Some(first) = lookup.poll_cache_update() else {
            return;
        };
        let now = Instant::now();
        let mut cache = lock(&self.cache);
        cache.insert(first, now);
        while let Some(u) = lookup.poll_cache_update() {
            cache.insert(u, now);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The wildcard address of `server`'s family, port 0 (the kernel picks a random port).
pub(crate) fn unspecified_for(server: SocketAddr) -> SocketAddr {
    match server {
        SocketAddr::V4(_) => SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
        SocketAddr::V6(_) => SocketAddr::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
    }
}

fn send_udp(t: &Transmit) -> std::io::Result<UdpSocket> {
    let sock = UdpSocket::bind(unspecified_for(t.server))?;
    sock.connect(t.server)?;
    sock.set_nonblocking(true)?;
    sock.send(&t.bytes)?;
    Ok(sock)
}

/// One query over a fresh TCP connection (RFC 7766), bounded by `timeout` per step.
fn exchange_tcp(t: &Transmit, timeout: Duration) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect_timeout(&t.server, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;
    stream.write_all(&t.bytes)?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut answer)?;
    Ok(answer)
}

/// Waits until some sockets are readable or `timeout` passes; returns their indices.
fn wait_readable(
    socks: &[(TransmitTag, SocketAddr, UdpSocket)],
    timeout: Duration,
) -> std::io::Result<Vec<usize>> {
    let mut fds: Vec<PollFd<'_>> = socks
        .iter()
        .map(|(_, _, s)| PollFd::from_borrowed_fd(s.as_fd(), PollFlags::IN))
        .collect();
    let ts = Timespec::try_from(timeout).unwrap_or(Timespec {
        tv_sec: i64::from(i32::MAX),
        tv_nsec: 0,
    });
    match rustix::event::poll(&mut fds, Some(&ts)) {
        Ok(_) | Err(rustix::io::Errno::INTR) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(fds
        .iter()
        .enumerate()
        .filter(|(_, fd)| !fd.revents().is_empty())
        .map(|(i, _)| i)
        .collect())
}

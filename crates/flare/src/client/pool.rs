//! Idle HTTP/1.1 connections by origin (and proxy), bounded per host and in
//! total, dropped after an idle timeout; and the shared HTTP/2 connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::h1::H1Conn;
use super::h2::H2Conn;
use super::url::Origin;

/// What a connection is for: the origin, and the proxy it goes through (requests
/// to different origins through one HTTP proxy still get their own connections, so
/// a connection's `Host` never changes).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PoolKey {
    pub(crate) origin: Origin,
    pub(crate) proxy: Option<Origin>,
}

/// Pool limits.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PoolConfig {
    pub(crate) max_idle_per_host: usize,
    pub(crate) max_idle_total: usize,
    pub(crate) idle_timeout: Duration,
}

struct Idle {
    conn: H1Conn,
    since: Instant,
}

#[derive(Default)]
struct State {
    idle: HashMap<PoolKey, Vec<Idle>, KeyHash>,
    total: usize,
    h2: HashMap<PoolKey, Vec<Arc<H2Conn>>, KeyHash>,
}

/// A multiply-rotate hash (FxHash's) for pool keys: looked up twice per
/// request, where SipHash cost more than the rest of the lookup. Keys are the
/// origins this program talks to (a handful, bounded by the pool's limits), so
/// flooding resistance buys nothing here.
#[derive(Clone, Copy, Default)]
pub(crate) struct KeyHash;

impl std::hash::BuildHasher for KeyHash {
    type Hasher = KeyHasher;
    fn build_hasher(&self) -> KeyHasher {
        KeyHasher(0)
    }
}

pub(crate) struct KeyHasher(u64);

impl KeyHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().unwrap_or_default()));
        }
        let mut last = [0u8; 8];
        let rest = chunks.remainder();
        last[..rest.len()].copy_from_slice(rest);
        self.add(u64::from_le_bytes(last) ^ (rest.len() as u64) << 56);
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_u16(&mut self, n: u16) {
        self.add(u64::from(n));
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

/// The pool, shared by a client's clones.
pub(crate) struct Pool {
    state: Mutex<State>,
    pub(crate) config: PoolConfig,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("config", &self.config)
            .field("idle", &self.lock().total)
            .finish()
    }
}

impl Pool {
    pub(crate) fn new(config: PoolConfig) -> Pool {
        Pool {
            state: Mutex::new(State::default()),
            config,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The most recently used idle connection for `key` that is still open.
    /// Connections idle past the timeout, or that the server closed (readable
    /// while idle), are dropped on the way. The readability check is a `poll(2)`
    /// made outside the lock; it is skipped for a connection idle for less than
    /// `trust_for` (what a caller that may retry on a fresh connection passes: a
    /// server closing an idle connection that early is the keep-alive race the
    /// retry is for, and a tight loop of requests saves a system call each).
    pub(crate) fn checkout(&self, key: &PoolKey, trust_for: Duration) -> Option<H1Conn> {
        let mut dead = Vec::new();
        let found = loop {
            let candidate = {
                let mut st = self.lock();
                let Some(list) = st.idle.get_mut(key) else {
                    break None;
                };
                let now = Instant::now();
                // Oldest first: anything older than the timeout goes.
                let stale = list
                    .iter()
                    .take_while(|i| now.duration_since(i.since) >= self.config.idle_timeout)
                    .count();
                dead.extend(list.drain(..stale));
                // An emptied list stays for the checkin that follows (no key
                // copy, no fresh Vec per request); checkin sweeps empty ones.
                let candidate = list.pop();
                st.total -= stale + usize::from(candidate.is_some());
                match candidate {
                    Some(i) => (i, now),
                    None => break None,
                }
            };
            let (i, now) = candidate;
            let recent = now.duration_since(i.since) < trust_for;
            if i.conn.idle_ok(!recent) {
                break Some(i.conn);
            }
            dead.push(i);
        };
        drop(dead); // closes outside the lock
        found
    }

    /// Keeps `conn` for the next request to `key`, within the limits.
    pub(crate) fn checkin(&self, key: &PoolKey, conn: H1Conn) {
        if self.config.max_idle_per_host == 0 || self.config.max_idle_total == 0 {
            return;
        }
        let mut dead = Vec::new();
        {
            let mut st = self.lock();
            if st.total >= self.config.max_idle_total {
                // Make room by dropping the oldest connection anywhere.
                let oldest = st
                    .idle
                    .iter()
                    .filter_map(|(k, v)| v.first().map(|i| (k.clone(), i.since)))
                    .min_by_key(|(_, t)| *t)
                    .map(|(k, _)| k);
                if let Some(k) = oldest {
                    if let Some(list) = st.idle.get_mut(&k) {
                        dead.push(list.remove(0));
                        if list.is_empty() {
                            st.idle.remove(&k);
                        }
                    }
                    st.total -= 1;
                }
            }
            let per_host = self.config.max_idle_per_host;
            let st = &mut *st;
            if !st.idle.contains_key(key) && st.idle.len() >= self.config.max_idle_total {
                // Lists emptied by checkouts, one per origin used: bounded here.
                st.idle.retain(|_, l| !l.is_empty());
            }
            let list = match st.idle.get_mut(key) {
                Some(list) => list,
                None => st.idle.entry(key.clone()).or_default(),
            };
            if list.len() >= per_host {
                dead.push(list.remove(0));
            } else {
                st.total += 1;
            }
            list.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
        drop(dead);
    }

    /// Idle HTTP/1.1 connections held now.
    pub(crate) fn idle_count(&self) -> usize {
        self.lock().total
    }

    /// An HTTP/2 connection to `key` with room for another stream, if any. Dead
    /// ones are forgotten.
    pub(crate) fn h2(&self, key: &PoolKey) -> Option<Arc<H2Conn>> {
        let mut st = self.lock();
        let list = st.h2.get_mut(key)?;
        list.retain(|c| c.is_usable());
        let found = list.iter().find(|c| c.has_room()).cloned();
        if list.is_empty() {
            st.h2.remove(key);
        }
        found
    }

    pub(crate) fn add_h2(&self, key: &PoolKey, conn: Arc<H2Conn>) {
        self.lock().h2.entry(key.clone()).or_default().push(conn);
    }

    /// Closes HTTP/2 connections idle past the timeout, and forgets those that
    /// cannot take new streams. One that got GOAWAY is not closed here: its
    /// streams up to the last stream id finish, then it closes itself.
    pub(crate) fn reap_h2(&self) {
        let timeout = self.config.idle_timeout;
        let mut st = self.lock();
        for list in st.h2.values_mut() {
            list.retain(|c| {
                if !c.is_usable() {
                    return false;
                }
                if c.idle_longer_than(timeout) {
                    c.close();
                    return false;
                }
                true
            });
        }
        st.h2.retain(|_, l| !l.is_empty());
    }

    /// Closes everything (the client was dropped).
    pub(crate) fn shutdown(&self) {
        let mut st = self.lock();
        for c in st.h2.values().flatten() {
            c.close();
        }
        st.h2.clear();
        st.idle.clear();
        st.total = 0;
    }
}

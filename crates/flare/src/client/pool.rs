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
    idle: HashMap<PoolKey, Vec<Idle>>,
    total: usize,
    h2: HashMap<PoolKey, Vec<Arc<H2Conn>>>,
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
    /// while idle), are dropped on the way.
    pub(crate) fn checkout(&self, key: &PoolKey) -> Option<H1Conn> {
        let mut dead = Vec::new();
        let found = {
            let mut st = self.lock();
            let mut found = None;
            let mut removed = 0;
            if let Some(list) = st.idle.get_mut(key) {
                let now = Instant::now();
                // Oldest first: anything older than the timeout goes.
                let stale = list
                    .iter()
                    .take_while(|i| now.duration_since(i.since) >= self.config.idle_timeout)
                    .count();
                removed += stale;
                dead.extend(list.drain(..stale));
                while let Some(i) = list.pop() {
                    removed += 1;
                    if i.conn.idle_ok() {
                        found = Some(i.conn);
                        break;
                    }
                    dead.push(i);
                }
                if list.is_empty() {
                    st.idle.remove(key);
                }
            }
            st.total -= removed;
            found
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
            let list = st.idle.entry(key.clone()).or_default();
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

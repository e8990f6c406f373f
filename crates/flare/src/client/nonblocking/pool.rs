//! The I/O thread's idle HTTP/1.1 connections by origin: the same limits as the
//! blocking pool (idle per host, in all, idle timeout), but owned by one thread, so
//! no lock. Connections are named by their slot in the I/O thread's table; an idle
//! one stays registered for reading, so a server that closes it is seen at once
//! and it is dropped before anyone reuses it.

use std::collections::HashMap;
use std::time::Instant;

use super::super::pool::{PoolConfig, PoolKey};

#[derive(Debug)]
pub(super) struct IdlePool {
    config: PoolConfig,
    /// Per origin, oldest first (each with the instant it went idle).
    idle: HashMap<PoolKey, Vec<(usize, Instant)>>,
    total: usize,
}

impl IdlePool {
    pub(super) fn new(config: PoolConfig) -> IdlePool {
        IdlePool {
            config,
            idle: HashMap::new(),
            total: 0,
        }
    }

    pub(super) fn config(&self) -> &PoolConfig {
        &self.config
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.total
    }

    /// The most recently used idle connection for `key`.
    pub(super) fn checkout(&mut self, key: &PoolKey) -> Option<usize> {
        let list = self.idle.get_mut(key)?;
        let found = list.pop().map(|(c, _)| c);
        if list.is_empty() {
            self.idle.remove(key);
        }
        if found.is_some() {
            self.total -= 1;
        }
        found
    }

    /// Keeps `conn` for `key`. Returns the connections to close: `conn` itself when
    /// pooling is off, or the oldest ones past the limits.
    pub(super) fn checkin(&mut self, key: &PoolKey, conn: usize, now: Instant) -> Vec<usize> {
        if self.config.max_idle_per_host == 0 || self.config.max_idle_total == 0 {
            return vec![conn];
        }
        let mut evicted = Vec::new();
        if self.total >= self.config.max_idle_total {
            let oldest = self
                .idle
                .iter()
                .filter_map(|(k, v)| v.first().map(|i| (k, i.1)))
                .min_by_key(|(_, t)| *t)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                if let Some((c, _)) = self.take_oldest(&k) {
                    evicted.push(c);
                }
            }
        }
        let per_host = self.config.max_idle_per_host;
        if self.idle.get(key).is_some_and(|l| l.len() >= per_host) {
            if let Some((c, _)) = self.take_oldest(key) {
                evicted.push(c);
            }
        }
        self.idle.entry(key.clone()).or_default().push((conn, now));
        self.total += 1;
        evicted
    }

    fn take_oldest(&mut self, key: &PoolKey) -> Option<(usize, Instant)> {
        let list = self.idle.get_mut(key)?;
        let first = (!list.is_empty()).then(|| list.remove(0));
        if list.is_empty() {
            self.idle.remove(key);
        }
        if first.is_some() {
            self.total -= 1;
        }
        first
    }

    /// Forgets `conn` (it closed or timed out while idle).
    pub(super) fn remove(&mut self, key: &PoolKey, conn: usize) {
        let Some(list) = self.idle.get_mut(key) else {
            return;
        };
        if let Some(i) = list.iter().position(|(c, _)| *c == conn) {
            list.remove(i);
            self.total -= 1;
        }
        if list.is_empty() {
            self.idle.remove(key);
        }
    }

    /// Every idle connection (for shutdown).
    pub(super) fn drain(&mut self) -> Vec<usize> {
        self.total = 0;
        self.idle
            .drain()
            .flat_map(|(_, v)| v)
            .map(|(c, _)| c)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    use super::super::super::url::Url;

    fn key(host: &str) -> PoolKey {
        PoolKey {
            origin: Url::parse(&format!("http://{host}/")).unwrap().origin(),
            proxy: None,
        }
    }

    #[test]
    fn limits_per_host_and_in_all_evict_the_oldest() {
        let mut p = IdlePool::new(PoolConfig {
            max_idle_per_host: 2,
            max_idle_total: 3,
            idle_timeout: Duration::from_secs(30),
        });
        let t0 = Instant::now();
        let t = |s| t0 + Duration::from_secs(s);
        assert!(p.checkin(&key("a"), 1, t(0)).is_empty());
        assert!(p.checkin(&key("a"), 2, t(1)).is_empty());
        assert_eq!(p.checkin(&key("a"), 3, t(2)), vec![1]);
        assert!(p.checkin(&key("b"), 4, t(3)).is_empty());
        // Full in all: the oldest anywhere goes.
        assert_eq!(p.checkin(&key("c"), 5, t(4)), vec![2]);
        assert_eq!(p.len(), 3);
        assert_eq!(p.checkout(&key("a")), Some(3));
        assert_eq!(p.checkout(&key("a")), None);
        p.remove(&key("b"), 4);
        assert_eq!(p.len(), 1);
        assert_eq!(p.drain(), vec![5]);
        let mut off = IdlePool::new(PoolConfig {
            max_idle_per_host: 0,
            max_idle_total: 3,
            idle_timeout: Duration::from_secs(30),
        });
        assert_eq!(off.checkin(&key("a"), 9, t0), vec![9]);
    }
}

//! Resolver configuration: `/etc/resolv.conf` parsing and programmatic builders.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::hosts::Hosts;
use crate::name::Name;

/// The DNS port.
pub const DNS_PORT: u16 = 53;
/// glibc's limits, which `/etc/resolv.conf` files are written against: at most 3
/// name servers (MAXNS), 6 search domains (MAXDNSRCH), ndots 15, timeout 30 s,
/// attempts 5 (resolv.conf(5)).
const MAX_NAMESERVERS: usize = 3;
const MAX_SEARCH: usize = 6;
const MAX_NDOTS: u8 = 15;
const MAX_TIMEOUT_SECS: u64 = 30;
const MAX_ATTEMPTS: u8 = 5;

/// Which address families a lookup asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Families {
    /// A and AAAA, queried in parallel.
    Both,
    /// A only.
    Ipv4Only,
    /// AAAA only.
    Ipv6Only,
}

/// Everything a resolver needs to know. Build with [`ResolverConfig::new`] and the
/// builder methods, or read the system's files with [`ResolverConfig::from_system`].
#[derive(Clone, Debug)]
pub struct ResolverConfig {
    pub(crate) nameservers: Vec<SocketAddr>,
    pub(crate) search: Vec<Name>,
    pub(crate) ndots: u8,
    pub(crate) timeout: Duration,
    pub(crate) attempts: u8,
    pub(crate) rotate: bool,
    pub(crate) hosts: Hosts,
    pub(crate) families: Families,
    pub(crate) cache_capacity: usize,
    pub(crate) max_cache_ttl: Duration,
    pub(crate) max_cname_depth: u8,
    pub(crate) edns_udp_size: Option<u16>,
    pub(crate) family_grace: Option<std::time::Duration>,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl ResolverConfig {
    /// No name servers, no search list, no hosts; every other knob at its default.
    pub fn new() -> Self {
        Self {
            nameservers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
            rotate: false,
            hosts: Hosts::new(),
            families: Families::Both,
            cache_capacity: 1024,
            max_cache_ttl: Duration::from_secs(24 * 3600),
            max_cname_depth: 8,
            edns_udp_size: Some(1232),
            family_grace: None,
        }
    }

    /// Reads `/etc/resolv.conf` and `/etc/hosts`. A missing file counts as empty; as
    /// in glibc, no `nameserver` line means `127.0.0.1`.
    pub fn from_system() -> Self {
        let resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
        Self::from_resolv_conf(&resolv).hosts(Hosts::parse(&hosts))
    }

    /// Parses the text of a `resolv.conf(5)` file: `nameserver`, `search`, `domain`
    /// and `options ndots:N timeout:N attempts:N rotate`. Unknown lines and options
    /// are ignored, values are clamped to glibc's limits, and, as in glibc, the last
    /// `search` or `domain` line wins. As an extension, a name server may carry a
    /// port (`127.0.0.1:5353`, `[::1]:5353`).
    pub fn from_resolv_conf(text: &str) -> Self {
        let mut c = Self::new();
        for line in text.lines() {
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    if let Some(addr) = words.next().and_then(parse_nameserver) {
                        if c.nameservers.len() < MAX_NAMESERVERS {
                            c.nameservers.push(addr);
                        }
                    }
                }
                Some("search") => {
                    c.search = words
                        .filter_map(|w| Name::from_ascii(w).ok())
                        .take(MAX_SEARCH)
                        .collect();
                }
                Some("domain") => {
                    c.search = words
                        .next()
                        .and_then(|w| Name::from_ascii(w).ok())
                        .into_iter()
                        .collect();
                }
                Some("options") => {
                    for opt in words {
                        let (key, value) = opt.split_once(':').unwrap_or((opt, ""));
                        let num = value.parse::<u64>().ok();
                        match (key, num) {
                            ("ndots", Some(n)) => c.ndots = n.min(u64::from(MAX_NDOTS)) as u8,
                            ("timeout", Some(n)) => {
                                c.timeout = Duration::from_secs(n.clamp(1, MAX_TIMEOUT_SECS));
                            }
                            ("attempts", Some(n)) => {
                                c.attempts = n.clamp(1, u64::from(MAX_ATTEMPTS)) as u8
                            }
                            ("rotate", _) => c.rotate = true,
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        if c.nameservers.is_empty() {
            c.nameservers
                .push(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), DNS_PORT));
        }
        c
    }

    /// Replaces the name servers, tried in order (default: none for
    /// [`ResolverConfig::new`]; a lookup without one fails with
    /// [`ResolveError::NoNameservers`](crate::ResolveError::NoNameservers)).
    pub fn nameservers(mut self, servers: Vec<SocketAddr>) -> Self {
        self.nameservers = servers;
        self
    }

    /// Adds a name server.
    pub fn nameserver(mut self, server: SocketAddr) -> Self {
        self.nameservers.push(server);
        self
    }

    /// Replaces the search list (default: empty).
    pub fn search(mut self, domains: Vec<Name>) -> Self {
        self.search = domains;
        self
    }

    /// Names with at least this many dots are tried as given before the search list
    /// (default 1, as in resolv.conf(5)).
    pub fn ndots(mut self, ndots: u8) -> Self {
        self.ndots = ndots;
        self
    }

    /// How long to wait for each answer before retrying (default 5 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many times each name server is tried per query (default 2; at least 1).
    /// Bounds the time a dead server can cost: `timeout * attempts * servers`.
    pub fn attempts(mut self, attempts: u8) -> Self {
        self.attempts = attempts.max(1);
        self
    }

    /// Starts each lookup at a random name server to spread load (default off).
    pub fn rotate(mut self, rotate: bool) -> Self {
        self.rotate = rotate;
        self
    }

    /// Replaces the hosts table consulted before DNS (default: empty).
    pub fn hosts(mut self, hosts: Hosts) -> Self {
        self.hosts = hosts;
        self
    }

    /// Which families to ask for (default both, in parallel).
    pub fn families(mut self, families: Families) -> Self {
        self.families = families;
        self
    }

    /// How many (name, type) answers the cache holds (default 1024; 0 turns caching
    /// off). Bounds the memory a stream of distinct names can take.
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// Caps the TTL the cache honours (default one day), so a huge TTL cannot pin a
    /// stale or poisoned answer.
    pub fn max_cache_ttl(mut self, ttl: Duration) -> Self {
        self.max_cache_ttl = ttl;
        self
    }

    /// How many CNAME hops a lookup follows (default 8), which stops CNAME loops.
    pub fn max_cname_depth(mut self, depth: u8) -> Self {
        self.max_cname_depth = depth;
        self
    }

    /// Once one family has addresses, how much longer to wait for the other before
    /// returning what there is (RFC 8305 3 calls 50 ms the "Resolution Delay").
    /// Default `None`: wait for both, as `getaddrinfo` does. Bounds what a server that
    /// drops AAAA (or A) queries costs: without it, `timeout * attempts * servers`.
    pub fn family_grace(mut self, grace: Option<Duration>) -> Self {
        self.family_grace = grace;
        self
    }

    /// The UDP payload size advertised with EDNS(0), or `None` to send no OPT record
    /// (default 1232, the DNS Flag Day 2020 size that avoids IP fragmentation).
    pub fn edns_udp_size(mut self, size: Option<u16>) -> Self {
        self.edns_udp_size = size.map(|s| s.max(512));
        self
    }
}

fn parse_nameserver(word: &str) -> Option<SocketAddr> {
    if let Ok(sa) = word.parse::<SocketAddr>() {
        return Some(sa);
    }
    // Drop an IPv6 zone (`fe80::1%eth0`): std cannot carry it in an IpAddr.
    let ip = word.split('%').next().unwrap_or(word);
    ip.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, DNS_PORT))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_resolv_conf() {
        let c = ResolverConfig::from_resolv_conf(
            "# comment\n\
             nameserver 10.0.0.1\n\
             nameserver ::1 ; trailing comment\n\
             nameserver 127.0.0.1:5353\n\
             nameserver 10.0.0.4\n\
             nameserver not-an-ip\n\
             domain old.example\n\
             search a.example b.example\n\
             options ndots:3 timeout:2 attempts:9 rotate unknown:1\n",
        );
        assert_eq!(
            c.nameservers,
            [
                "10.0.0.1:53".parse().unwrap(),
                "[::1]:53".parse().unwrap(),
                "127.0.0.1:5353".parse().unwrap()
            ]
        );
        assert_eq!(
            c.search,
            [
                Name::from_ascii("a.example").unwrap(),
                Name::from_ascii("b.example").unwrap()
            ]
        );
        assert_eq!(c.ndots, 3);
        assert_eq!(c.timeout, Duration::from_secs(2));
        assert_eq!(c.attempts, MAX_ATTEMPTS);
        assert!(c.rotate);
    }

    #[test]
    fn resolv_conf_defaults_and_clamps() {
        let c = ResolverConfig::from_resolv_conf(
            "search x\ndomain only.example\noptions ndots:99 timeout:0\n",
        );
        assert_eq!(c.nameservers, ["127.0.0.1:53".parse().unwrap()]);
        assert_eq!(c.search, [Name::from_ascii("only.example").unwrap()]);
        assert_eq!(c.ndots, MAX_NDOTS);
        assert_eq!(c.timeout, Duration::from_secs(1));
        assert_eq!(c.attempts, 2);
        let many = format!(
            "search {}\n",
            (0..10)
                .map(|i| format!("d{i}.example"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(
            ResolverConfig::from_resolv_conf(&many).search.len(),
            MAX_SEARCH
        );
    }
}

//! The sans-IO resolver core: one [`Lookup`] per host name, stepped by its driver.
//!
//! The driver sends what [`Lookup::poll_transmit`] hands out, feeds answers to
//! [`Lookup::handle_response`], calls [`Lookup::handle_timeout`] when
//! [`Lookup::poll_timeout`] passes, stores [`Lookup::poll_cache_update`]s, and stops
//! when [`Lookup::poll_result`] yields. Time and randomness come from the caller, so
//! the whole thing runs on a virtual clock in tests.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use crate::answer::{self, Chain, Verdict};
use crate::cache::{Cache, CacheUpdate, CachedAnswer};
use crate::config::{Families, ResolverConfig};
use crate::error::ResolveError;
use crate::message::{Header, Message, Opcode, Rcode};
use crate::name::Name;
use crate::order::interleave;
use crate::rdata::{Class, RecordType};
use crate::rng::Rng;

/// The transport a [`Transmit`] goes over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Proto {
    /// One datagram; the answer is one datagram from the server's address.
    Udp,
    /// A fresh connection (RFC 7766); the bytes carry the 2-byte length prefix and the
    /// answer is one length-prefixed message.
    Tcp,
}

/// Identifies one transmission. Every retry gets a new tag, so a driver can tell a
/// stale socket from a live one with [`Lookup::is_live`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransmitTag(pub u32);

/// Bytes to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// The transmission this is; pass it to [`Lookup::handle_transport_error`] if
    /// sending fails.
    pub tag: TransmitTag,
    /// Where to send.
    pub server: SocketAddr,
    /// How to send. The driver should use a fresh socket bound to port 0 for each UDP
    /// transmit, so that source ports are random as well as ids (RFC 5452 9.2).
    pub proto: Proto,
    /// Exactly what to write (for TCP, including the length prefix).
    pub bytes: Vec<u8>,
}

#[derive(Clone, Debug)]
enum Outcome {
    Addrs(Vec<IpAddr>),
    NxDomain,
    NoData,
    Failed(ResolveError),
}

#[derive(Debug)]
struct Query {
    /// The candidate name; answers are cached under it.
    origin: Name,
    /// The name currently asked about, which moves along a CNAME chain.
    chain: Chain,
    qtype: RecordType,
    id: u16,
    tag: TransmitTag,
    proto: Proto,
    edns: bool,
    try_index: usize,
    server: SocketAddr,
    deadline: Instant,
    last_error: ResolveError,
    outcome: Option<Outcome>,
}

/// One host-name resolution: A and AAAA in parallel, retries, TCP fallback, the
/// search list, CNAME chains, hosts table, numeric addresses and cache hits.
#[derive(Debug)]
pub struct Lookup {
    servers: Vec<SocketAddr>,
    first_server: usize,
    timeout: Duration,
    attempts: usize,
    edns_udp_size: Option<u16>,
    max_cname_depth: u8,
    family_grace: Option<Duration>,
    /// Set when one family of the current candidate has answered and a grace applies.
    grace_deadline: Option<Instant>,
    qtypes: Vec<RecordType>,
    candidates: Vec<Name>,
    /// Cached answers per candidate, in `qtypes` order, read when the lookup started.
    cached: Vec<Vec<Option<CachedAnswer>>>,
    next_candidate: usize,
    queries: Vec<Query>,
    transmits: VecDeque<Transmit>,
    updates: VecDeque<CacheUpdate>,
    result: Option<Result<Vec<IpAddr>, ResolveError>>,
    finished: bool,
    saw_nodata: bool,
    ignored: u32,
    rng: Rng,
    next_tag: u32,
}

impl Lookup {
    /// Starts resolving `host`: a numeric address or a hosts-table entry completes at
    /// once; otherwise the first queries are ready in [`Lookup::poll_transmit`].
    /// `cache` is read now (and never written: see [`Lookup::poll_cache_update`]).
    pub fn new(host: &str, config: &ResolverConfig, cache: &Cache, rng: Rng, now: Instant) -> Self {
        let qtypes = match config.families {
            Families::Ipv4Only => vec![RecordType::A],
            Families::Ipv6Only => vec![RecordType::AAAA],
            _ => vec![RecordType::AAAA, RecordType::A],
        };
        let mut lookup = Self {
            servers: config.nameservers.clone(),
            first_server: 0,
            timeout: config.timeout,
            attempts: usize::from(config.attempts.max(1)),
            edns_udp_size: config.edns_udp_size,
            max_cname_depth: config.max_cname_depth,
            family_grace: config.family_grace,
            grace_deadline: None,
            qtypes,
            candidates: Vec::new(),
            cached: Vec::new(),
            next_candidate: 0,
            queries: Vec::new(),
            transmits: VecDeque::new(),
            updates: VecDeque::new(),
            result: None,
            finished: false,
            saw_nodata: false,
            ignored: 0,
            rng,
            next_tag: 0,
        };
        if let Some(early) = lookup.start(host, config, cache, now) {
            lookup.finish(early);
        }
        lookup
    }

    fn start(
        &mut self,
        host: &str,
        config: &ResolverConfig,
        cache: &Cache,
        now: Instant,
    ) -> Option<Result<Vec<IpAddr>, ResolveError>> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Some(Ok(vec![ip]));
        }
        let name = match Name::from_ascii(host) {
            Ok(n) => n,
            Err(e) => return Some(Err(ResolveError::InvalidName(e))),
        };
        if let Some(addrs) = config.hosts.get(&name) {
            let wanted: Vec<IpAddr> = addrs
                .iter()
                .copied()
                .filter(|a| self.wants_family(a))
                .collect();
            if !wanted.is_empty() {
                return Some(Ok(interleave(&wanted, 1)));
            }
        }
        // RFC 6761 6.3: localhost names are loopback and never go to a name server.
        if name
            .labels()
            .last()
            .is_some_and(|l| l.eq_ignore_ascii_case(b"localhost"))
        {
            let loopback = [
                IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
                IpAddr::from(std::net::Ipv4Addr::LOCALHOST),
            ];
            let wanted: Vec<IpAddr> = loopback
                .into_iter()
                .filter(|a| self.wants_family(a))
                .collect();
            return Some(Ok(wanted));
        }
        if self.servers.is_empty() {
            return Some(Err(ResolveError::NoNameservers));
        }
        if config.rotate {
            self.first_server = self.rng.below(self.servers.len());
        }
        self.candidates = candidates(
            &name,
            Name::is_fqdn_text(host),
            &config.search,
            config.ndots,
        );
        self.cached = self
            .candidates
            .iter()
            .map(|c| {
                self.qtypes
                    .iter()
                    .map(|&t| cache.get(c, t, now).cloned())
                    .collect()
            })
            .collect();
        self.start_candidate(now);
        None
    }

    fn wants_family(&self, a: &IpAddr) -> bool {
        let t = if a.is_ipv6() {
            RecordType::AAAA
        } else {
            RecordType::A
        };
        self.qtypes.contains(&t)
    }

    /// Issues the queries for the next candidate name, skipping those the cache answers.
    fn start_candidate(&mut self, now: Instant) {
        self.queries.clear();
        self.grace_deadline = None;
        let Some(origin) = self.candidates.get(self.next_candidate).cloned() else {
            let err = if self.saw_nodata {
                ResolveError::NoData
            } else {
                ResolveError::NxDomain
            };
            self.finish(Err(err));
            return;
        };
        let cached = self
            .cached
            .get(self.next_candidate)
            .cloned()
            .unwrap_or_default();
        for (i, &qtype) in self.qtypes.clone().iter().enumerate() {
            let outcome = cached.get(i).cloned().flatten().map(|c| match c {
                CachedAnswer::Addresses(a) => Outcome::Addrs(a),
                CachedAnswer::NxDomain => Outcome::NxDomain,
                CachedAnswer::NoData => Outcome::NoData,
            });
            let pending = outcome.is_none();
            self.queries.push(Query {
                origin: origin.clone(),
                chain: Chain {
                    name: origin.clone(),
                    hops: 0,
                    ttl: u32::MAX,
                },
                qtype,
                id: 0,
                tag: TransmitTag(0),
                proto: Proto::Udp,
                edns: self.edns_udp_size.is_some(),
                try_index: 0,
                server: self
                    .servers
                    .first()
                    .copied()
                    .unwrap_or(SocketAddr::from(([0, 0, 0, 0], 0))),
                deadline: now,
                last_error: ResolveError::Timeout,
                outcome,
            });
            if pending {
                let idx = self.queries.len() - 1;
                self.send(idx, now);
            }
        }
        self.evaluate(now);
    }

    /// (Re)sends query `idx` for its current try and transport, with a fresh id.
    fn send(&mut self, idx: usize, now: Instant) {
        let id = self.rng.next_u16();
        self.next_tag = self.next_tag.wrapping_add(1);
        let tag = TransmitTag(self.next_tag);
        let n = self.servers.len().max(1);
        let server = self
            .servers
            .get((self.first_server + self.try_index(idx)) % n)
            .copied();
        let Some(q) = self.queries.get_mut(idx) else {
            return;
        };
        let Some(server) = server else { return };
        q.id = id;
        q.tag = tag;
        q.server = server;
        q.deadline = crate::deadline::later(now, self.timeout);
        let edns = if q.edns { self.edns_udp_size } else { None };
        let msg = Message::query(id, q.chain.name.clone(), q.qtype, edns);
        let mut bytes = Vec::with_capacity(64);
        if q.proto == Proto::Tcp {
            bytes.extend_from_slice(&[0, 0]);
        }
        if let Err(e) = msg.encode(&mut bytes) {
            q.outcome = Some(Outcome::Failed(ResolveError::Encode(e)));
            return;
        }
        if q.proto == Proto::Tcp {
            let len = (bytes.len() - 2) as u16;
            bytes.splice(0..2, len.to_be_bytes());
        }
        self.transmits.push_back(Transmit {
            tag,
            server,
            proto: q.proto,
            bytes,
        });
    }

    fn try_index(&self, idx: usize) -> usize {
        self.queries.get(idx).map_or(0, |q| q.try_index)
    }

    /// Moves query `idx` to its next server, or fails it with its last error.
    fn next_try(&mut self, idx: usize, now: Instant) {
        let total = self.attempts * self.servers.len();
        let edns = self.edns_udp_size.is_some();
        let Some(q) = self.queries.get_mut(idx) else {
            return;
        };
        q.try_index += 1;
        q.proto = Proto::Udp;
        q.edns = edns;
        if q.try_index >= total {
            q.outcome = Some(Outcome::Failed(q.last_error.clone()));
        } else {
            self.send(idx, now);
        }
    }

    /// Finishes the lookup or moves on to the next candidate once every query of the
    /// current candidate has an outcome.
    fn evaluate(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        if self.queries.iter().any(|q| q.outcome.is_none()) {
            let answered = self
                .queries
                .iter()
                .any(|q| matches!(q.outcome, Some(Outcome::Addrs(_))));
            if let (Some(grace), None, true) = (self.family_grace, self.grace_deadline, answered) {
                self.grace_deadline = Some(crate::deadline::later(now, grace));
            }
            return;
        }
        let mut addrs = Vec::new();
        let mut failure = None;
        for q in &self.queries {
            match &q.outcome {
                Some(Outcome::Addrs(a)) => addrs.extend_from_slice(a),
                Some(Outcome::Failed(e)) => failure = failure.or_else(|| Some(e.clone())),
                Some(Outcome::NoData) => self.saw_nodata = true,
                _ => {}
            }
        }
        if !addrs.is_empty() {
            self.finish(Ok(interleave(&addrs, 1)));
        } else if let Some(e) = failure {
            // A broken or silent server says nothing about whether the name exists;
            // walking on could return a wrong name's addresses, so stop here.
            self.finish(Err(e));
        } else {
            self.next_candidate += 1;
            self.start_candidate(now);
        }
    }

    fn finish(&mut self, result: Result<Vec<IpAddr>, ResolveError>) {
        if !self.finished {
            self.finished = true;
            self.result = Some(result);
            self.queries.clear();
            self.grace_deadline = None;
        }
    }

    /// Feeds one DNS message (for TCP, without its length prefix) that arrived from
    /// `from`. Messages whose id, source or question do not match an outstanding
    /// query are ignored (RFC 5452 9.1) and counted in [`Lookup::ignored_responses`].
    pub fn handle_response(&mut self, from: SocketAddr, bytes: &[u8], now: Instant) {
        if self.finished {
            return;
        }
        let Ok(header) = Header::decode(bytes) else {
            self.ignored += 1;
            return;
        };
        let Some(idx) = self
            .queries
            .iter()
            .position(|q| q.outcome.is_none() && q.id == header.id && q.server == from)
        else {
            self.ignored += 1;
            return;
        };
        let msg = match Message::decode(bytes) {
            Ok(m) => m,
            Err(e) => {
                if let Some(q) = self.queries.get_mut(idx) {
                    q.last_error = ResolveError::MalformedResponse(e);
                }
                self.next_try(idx, now);
                self.evaluate(now);
                return;
            }
        };
        if !self.matches_question(idx, &msg) {
            self.ignored += 1;
            return;
        }
        let rcode = msg.rcode();
        let Some(q) = self.queries.get_mut(idx) else {
            return;
        };
        if msg.header.truncated && q.proto == Proto::Udp {
            // RFC 7766 5: retry over TCP on truncation, same server.
            q.proto = Proto::Tcp;
            self.send(idx, now);
            return;
        }
        match rcode {
            Rcode::NOERROR | Rcode::NXDOMAIN => self.process_answer(idx, &msg, now),
            Rcode::FORMERR if q.edns && msg.edns.is_none() => {
                // RFC 6891 7: a server without EDNS may answer FORMERR; ask again plainly.
                q.edns = false;
                self.send(idx, now);
            }
            rcode => {
                q.last_error = ResolveError::ServerFailure { rcode };
                self.next_try(idx, now);
            }
        }
        self.evaluate(now);
    }

    fn matches_question(&self, idx: usize, msg: &Message) -> bool {
        let Some(q) = self.queries.get(idx) else {
            return false;
        };
        if !msg.header.response || msg.header.opcode != Opcode::QUERY {
            return false;
        }
        match msg.questions.as_slice() {
            [question] => {
                question.name == q.chain.name
                    && question.qtype == q.qtype
                    && question.qclass == Class::IN
            }
            // Some servers drop the question from error responses.
            [] => !matches!(msg.rcode(), Rcode::NOERROR | Rcode::NXDOMAIN),
            _ => false,
        }
    }

    fn process_answer(&mut self, idx: usize, msg: &Message, now: Instant) {
        let max_hops = self.max_cname_depth;
        let Some(q) = self.queries.get_mut(idx) else {
            return;
        };
        let (outcome, update) = match answer::read(msg, q.qtype, &q.chain, max_hops) {
            Verdict::Addresses { addrs, ttl } => (
                Outcome::Addrs(addrs.clone()),
                Some((CachedAnswer::Addresses(addrs), ttl)),
            ),
            Verdict::NxDomain { ttl } => {
                (Outcome::NxDomain, ttl.map(|t| (CachedAnswer::NxDomain, t)))
            }
            Verdict::NoData { ttl } => (Outcome::NoData, ttl.map(|t| (CachedAnswer::NoData, t))),
            Verdict::ChainTooLong => (Outcome::Failed(ResolveError::CnameChainTooLong), None),
            Verdict::Chase(chain) => {
                q.chain = chain;
                q.proto = Proto::Udp;
                self.send(idx, now);
                return;
            }
        };
        if let Some((answer, ttl)) = update {
            self.updates.push_back(CacheUpdate {
                name: q.origin.clone(),
                rtype: q.qtype,
                answer,
                ttl,
            });
        }
        q.outcome = Some(outcome);
    }

    /// Reports that sending `tag` (or, for TCP, connecting, writing or reading) failed;
    /// the query moves on to its next server. Stale tags are ignored.
    pub fn handle_transport_error(
        &mut self,
        tag: TransmitTag,
        kind: std::io::ErrorKind,
        now: Instant,
    ) {
        let Some(idx) = self
            .queries
            .iter()
            .position(|q| q.outcome.is_none() && q.tag == tag)
        else {
            return;
        };
        if let Some(q) = self.queries.get_mut(idx) {
            q.last_error = ResolveError::Io(kind);
        }
        self.next_try(idx, now);
        self.evaluate(now);
    }

    /// Retries every query whose deadline is at or before `now` on its next server.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.grace_deadline.is_some_and(|d| d <= now) {
            let addrs: Vec<IpAddr> = self
                .queries
                .iter()
                .filter_map(|q| match &q.outcome {
                    Some(Outcome::Addrs(a)) => Some(a.iter().copied()),
                    _ => None,
                })
                .flatten()
                .collect();
            self.finish(Ok(interleave(&addrs, 1)));
            return;
        }
        for idx in 0..self.queries.len() {
            let due = self
                .queries
                .get_mut(idx)
                .filter(|q| q.outcome.is_none() && q.deadline <= now);
            if let Some(q) = due {
                q.last_error = ResolveError::Timeout;
                self.next_try(idx, now);
            }
        }
        self.evaluate(now);
    }

    /// The next bytes to send. Changes after `new`, `handle_response`,
    /// `handle_timeout` and `handle_transport_error`.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// When [`Lookup::handle_timeout`] must next be called, or `None` when nothing is
    /// outstanding.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let queries = self
            .queries
            .iter()
            .filter(|q| q.outcome.is_none())
            .map(|q| q.deadline);
        queries.chain(self.grace_deadline).min()
    }

    /// An answer learned from the network, for the caller's [`Cache`].
    pub fn poll_cache_update(&mut self) -> Option<CacheUpdate> {
        self.updates.pop_front()
    }

    /// The result, once: addresses ordered for connection attempts (see
    /// [`interleave`]), or why there are none.
    pub fn poll_result(&mut self) -> Option<Result<Vec<IpAddr>, ResolveError>> {
        self.result.take()
    }

    /// Whether the lookup has its result (taken or not).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether an answer to transmission `tag` would still be used; a driver may close
    /// sockets of transmissions that are not.
    pub fn is_live(&self, tag: TransmitTag) -> bool {
        self.queries
            .iter()
            .any(|q| q.outcome.is_none() && q.tag == tag)
    }

    /// How many responses were ignored because their id, source or question did not
    /// match (spoofing attempts, or late answers to earlier tries).
    pub fn ignored_responses(&self) -> u32 {
        self.ignored
    }
}

/// The names to try for `name`, in order (resolv.conf(5)): an absolute name alone;
/// otherwise the name as given first when it has at least `ndots` dots, else last,
/// with the search domains in between.
fn candidates(name: &Name, absolute: bool, search: &[Name], ndots: u8) -> Vec<Name> {
    if absolute || name.is_root() {
        return vec![name.clone()];
    }
    let dots = name.label_count().saturating_sub(1);
    let searched = search.iter().filter_map(|d| name.join(d).ok());
    let mut out = Vec::with_capacity(search.len() + 1);
    if dots >= usize::from(ndots) {
        out.push(name.clone());
        out.extend(searched);
    } else {
        out.extend(searched);
        out.push(name.clone());
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidate_order_follows_ndots() {
        let n = |s: &str| Name::from_ascii(s).unwrap();
        let search = [n("a.example"), n("b.example")];
        let names = |v: Vec<Name>| v.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(
            names(candidates(&n("www"), false, &search, 1)),
            ["www.a.example", "www.b.example", "www"]
        );
        assert_eq!(
            names(candidates(&n("w.x"), false, &search, 1)),
            ["w.x", "w.x.a.example", "w.x.b.example"]
        );
        assert_eq!(
            names(candidates(&n("w.x"), false, &search, 2)),
            ["w.x.a.example", "w.x.b.example", "w.x"]
        );
        assert_eq!(names(candidates(&n("w.x"), true, &search, 5)), ["w.x"]);
    }
}

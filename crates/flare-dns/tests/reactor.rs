//! The non-blocking front end on a real flare reactor, against dnsmasq and the
//! scripted server, many lookups at once on one thread.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use flare_dns::{
    Families, LookupId, Rcode, ReactorResolver, ResolveError, Resolver, ResolverConfig, Rng,
};
use flare_reactor::{Event, Events, Poller, Token};
use support::{Dnsmasq, Scripted};

type Results = HashMap<LookupId, Result<Vec<IpAddr>, ResolveError>>;

/// Runs the worker loop until every lookup in `ids` is done (bounded at 20 s).
fn run(dns: &mut ReactorResolver, poller: &mut Poller, ids: &[LookupId]) -> Results {
    let mut results = Results::new();
    let mut events = Events::with_capacity(64);
    let give_up = Instant::now() + Duration::from_secs(20);
    loop {
        while let Some((id, r)) = dns.poll_done() {
            results.insert(id, r);
        }
        if ids.iter().all(|id| results.contains_key(id)) {
            return results;
        }
        assert!(
            Instant::now() < give_up,
            "lookups did not finish: {results:?}"
        );
        let wait = dns
            .next_deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        poller
            .poll(&mut events, wait.or(Some(Duration::from_secs(1))))
            .unwrap();
        for ev in events.iter() {
            assert!(
                dns.on_event(poller, ev, Instant::now()),
                "foreign token {ev:?}"
            );
        }
        dns.on_timeout(poller, Instant::now());
    }
}

fn set(r: &Result<Vec<IpAddr>, ResolveError>) -> BTreeSet<IpAddr> {
    r.as_ref().unwrap().iter().copied().collect()
}

#[test]
fn concurrent_lookups_match_the_blocking_resolver_and_then_hit_the_cache() {
    let server = Dnsmasq::start();
    let cfg = ResolverConfig::new()
        .nameserver(server.addr())
        .timeout(Duration::from_secs(2));
    let blocking = Resolver::new(cfg.clone()).unwrap();
    let mut poller = Poller::new().unwrap();
    let mut dns = ReactorResolver::new(cfg, Rng::from_os().unwrap(), Token(100));
    let hosts = [
        "www.flare.test",
        "alias2.flare.test",
        "many.flare.test",
        "v4only.flare.test",
        "nope.flare.test",
        "192.0.2.200",
    ];
    let now = Instant::now();
    let ids: Vec<LookupId> = hosts.iter().map(|h| dns.start(&poller, h, now)).collect();
    assert!(
        dns.open_sockets() >= 8,
        "A and AAAA for each name in flight at once"
    );
    let results = run(&mut dns, &mut poller, &ids);
    for (h, id) in hosts.iter().zip(&ids) {
        match blocking.resolve(h) {
            Ok(want) => assert_eq!(set(&results[id]), want.into_iter().collect(), "{h}"),
            Err(e) => assert_eq!(results[id], Err(e), "{h}"),
        }
    }
    assert!(
        results[&ids[2]].as_ref().unwrap()[0].is_ipv6(),
        "interleaved, v6 first"
    );
    assert_eq!(dns.open_sockets(), 0);
    assert_eq!(dns.in_flight(), 0);
    assert_eq!(dns.next_deadline(), None);

    // Names with both families are now cached: results come back without any I/O.
    // (v4only's AAAA NODATA came without an SOA, so RFC 2308 says not to cache it.)
    let again: Vec<LookupId> = hosts[..3]
        .iter()
        .map(|h| dns.start(&poller, h, Instant::now()))
        .collect();
    assert_eq!(dns.open_sockets(), 0);
    let cached: Results = std::iter::from_fn(|| dns.poll_done()).collect();
    for (i, id) in again.iter().enumerate() {
        assert_eq!(set(&cached[id]), set(&results[&ids[i]]));
    }
}

#[test]
fn tcp_fallback_wrong_ids_silence_and_servfail_side_by_side() {
    let server = Scripted::start();
    let cfg = ResolverConfig::new()
        .nameserver(server.addr())
        .families(Families::Ipv4Only)
        .timeout(Duration::from_millis(300))
        .attempts(2);
    let mut poller = Poller::new().unwrap();
    let mut dns = ReactorResolver::new(cfg, Rng::from_os().unwrap(), Token(0));
    let now = Instant::now();
    let tc = dns.start(&poller, "tc.flare.test", now);
    let wrong = dns.start(&poller, "wrongid.flare.test", now);
    let silent = dns.start(&poller, "silent.flare.test", now);
    let fail = dns.start(&poller, "servfail.flare.test", now);
    let restart = dns.start(&poller, "restart.flare.test", now);
    let results = run(&mut dns, &mut poller, &[tc, wrong, silent, fail, restart]);
    assert_eq!(results[&tc].as_ref().unwrap().len(), 40);
    assert_eq!(server.tcp_count("tc.flare.test"), 1);
    assert_eq!(results[&wrong], Ok(vec!["192.0.2.1".parse().unwrap()]));
    assert_eq!(results[&silent], Err(ResolveError::Timeout));
    assert_eq!(server.count("silent.flare.test"), 2);
    assert_eq!(
        results[&fail],
        Err(ResolveError::ServerFailure {
            rcode: Rcode::SERVFAIL
        })
    );
    assert_eq!(results[&restart], Ok(vec!["192.0.2.77".parse().unwrap()]));
    assert_eq!(dns.open_sockets(), 0);
}

#[test]
fn lookups_in_flight_are_bounded() {
    let server = Scripted::start();
    let cfg = ResolverConfig::new()
        .nameserver(server.addr())
        .timeout(Duration::from_millis(200))
        .attempts(1);
    let mut poller = Poller::new().unwrap();
    let mut dns = ReactorResolver::new(cfg, Rng::from_os().unwrap(), Token(10)).max_lookups(2);
    assert_eq!(dns.tokens(), 10..14);
    let huge = ReactorResolver::new(ResolverConfig::new(), Rng::from_seed(1), Token(0))
        .max_lookups(usize::MAX);
    assert_eq!(
        huge.tokens().len(),
        2 << 20,
        "capped so token arithmetic cannot overflow"
    );
    let tiny =
        ReactorResolver::new(ResolverConfig::new(), Rng::from_seed(1), Token(0)).max_lookups(0);
    assert_eq!(tiny.tokens().len(), 2);
    let now = Instant::now();
    let a = dns.start(&poller, "silent.flare.test", now);
    let b = dns.start(&poller, "plain.flare.test", now);
    let c = dns.start(&poller, "other.flare.test", now);
    assert_eq!(
        dns.poll_done(),
        Some((c, Err(ResolveError::TooManyLookups)))
    );
    let results = run(&mut dns, &mut poller, &[a, b]);
    assert_eq!(results[&a], Err(ResolveError::Timeout));
    assert!(results[&b].is_ok());
    // Slots are free again.
    let d = dns.start(&poller, "plain.flare.test", Instant::now());
    assert!(run(&mut dns, &mut poller, &[d])[&d].is_ok());
}

#[test]
fn foreign_tokens_are_left_alone() {
    let poller = Poller::new().unwrap();
    let mut dns = ReactorResolver::new(ResolverConfig::new(), Rng::from_seed(1), Token(10));
    let mut events = Events::with_capacity(4);
    // A readable socket of "someone else" registered under token 5.
    let other = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    other.send_to(b"x", other.local_addr().unwrap()).unwrap();
    poller
        .register(
            &other,
            Token(5),
            flare_reactor::Interest::READABLE,
            flare_reactor::Mode::Level,
        )
        .unwrap();
    let mut p = poller;
    p.poll(&mut events, Some(Duration::from_secs(5))).unwrap();
    let ev: &Event = events.iter().next().unwrap();
    assert!(!dns.on_event(&p, ev, Instant::now()));
    let id = dns.start(&p, "x.example", Instant::now());
    assert_eq!(
        dns.poll_done(),
        Some((id, Err(ResolveError::NoNameservers)))
    );
}

/// A UDP-only server that answers every query with TC set, so the resolver must try
/// TCP on a port where nothing listens. Serves until `n` queries or 5 s of silence.
fn tc_only_server(n: usize) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let addr = sock.local_addr().unwrap();
    let handle = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        for _ in 0..n {
            let Ok((len, peer)) = sock.recv_from(&mut buf) else {
                return;
            };
            let mut m = flare_dns::Message::decode(&buf[..len]).unwrap();
            m.header.response = true;
            m.header.truncated = true;
            let mut out = Vec::new();
            m.encode(&mut out).unwrap();
            sock.send_to(&out, peer).unwrap();
        }
    });
    (addr, handle)
}

#[test]
fn refused_tcp_fallback_is_a_transport_error() {
    let (addr, server) = tc_only_server(2);
    let cfg = ResolverConfig::new()
        .nameserver(addr)
        .families(Families::Ipv4Only)
        .attempts(1)
        .timeout(Duration::from_secs(5));
    let mut poller = Poller::new().unwrap();
    let mut dns = ReactorResolver::new(cfg.clone(), Rng::from_os().unwrap(), Token(0));
    let id = dns.start(&poller, "big.flare.test", Instant::now());
    let results = run(&mut dns, &mut poller, &[id]);
    assert_eq!(
        results[&id],
        Err(ResolveError::Io(std::io::ErrorKind::ConnectionRefused))
    );
    assert_eq!(dns.open_sockets(), 0);
    let blocking = Resolver::new(cfg).unwrap();
    assert_eq!(
        blocking.resolve("big.flare.test"),
        Err(ResolveError::Io(std::io::ErrorKind::ConnectionRefused))
    );
    server.join().unwrap();
}

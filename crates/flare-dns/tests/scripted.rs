//! The resolver against a scripted dnslib server: truncation and TCP fallback,
//! SERVFAIL, wrong ids, silence, negative caching, CNAME restarts, random ids/ports.

mod support;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use flare_dns::{Families, Rcode, ResolveError, Resolver, ResolverConfig};
use support::{dnspython, Dnsmasq, Scripted};

fn resolver(cfg: ResolverConfig) -> Resolver {
    Resolver::new(cfg.timeout(Duration::from_millis(300)).attempts(2)).unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn truncated_udp_falls_back_to_tcp() {
    let server = Scripted::start();
    let r = resolver(
        ResolverConfig::new()
            .nameserver(server.addr())
            .families(Families::Ipv4Only),
    );
    let got = r.resolve("tc.flare.test").unwrap();
    assert_eq!(got.len(), 40);
    assert_eq!(server.tcp_count("tc.flare.test"), 1);
    assert_eq!(server.count("tc.flare.test"), 2, "one UDP try, one TCP");
    let theirs = dnspython(server.port, &["tc.flare.test:A"]);
    let ours: BTreeSet<String> = got.iter().map(ToString::to_string).collect();
    assert_eq!(ours, theirs[0].1.iter().cloned().collect());
}

#[test]
fn servfail_is_reported_and_the_next_server_is_tried() {
    let server = Scripted::start();
    let r = Resolver::new(
        ResolverConfig::new()
            .nameserver(server.addr())
            .timeout(Duration::from_secs(5))
            .attempts(1),
    )
    .unwrap();
    assert_eq!(
        r.resolve("servfail.flare.test"),
        Err(ResolveError::ServerFailure {
            rcode: Rcode::SERVFAIL
        })
    );
    assert_eq!(
        server.count("servfail.flare.test"),
        2,
        "A and AAAA, one try each"
    );

    let good = Dnsmasq::start();
    let r = resolver(ResolverConfig::new().nameservers(vec![server.addr(), good.addr()]));
    assert_eq!(
        r.resolve("servfail.flare.test").unwrap(),
        vec![ip("192.0.2.99")]
    );
    assert_eq!(server.count("servfail.flare.test"), 4);
}

#[test]
fn a_reply_with_the_wrong_id_is_ignored() {
    let server = Scripted::start();
    let r = resolver(
        ResolverConfig::new()
            .nameserver(server.addr())
            .families(Families::Ipv4Only),
    );
    assert_eq!(
        r.resolve("wrongid.flare.test").unwrap(),
        vec![ip("192.0.2.1")]
    );
}

#[test]
fn a_silent_server_times_out_after_all_attempts() {
    let server = Scripted::start();
    let r = resolver(
        ResolverConfig::new()
            .nameserver(server.addr())
            .families(Families::Ipv4Only),
    );
    assert_eq!(r.resolve("silent.flare.test"), Err(ResolveError::Timeout));
    assert_eq!(server.count("silent.flare.test"), 2, "attempts = 2");
}

#[test]
fn nxdomain_is_cached_negatively() {
    let server = Scripted::start();
    let cached = resolver(ResolverConfig::new().nameserver(server.addr()));
    for _ in 0..3 {
        assert_eq!(cached.resolve("nx.flare.test"), Err(ResolveError::NxDomain));
    }
    assert_eq!(server.count("nx.flare.test"), 2, "A and AAAA asked once");
    let uncached = resolver(
        ResolverConfig::new()
            .nameserver(server.addr())
            .cache_capacity(0),
    );
    for _ in 0..3 {
        assert_eq!(
            uncached.resolve("nx.flare.test"),
            Err(ResolveError::NxDomain)
        );
    }
    assert_eq!(server.count("nx.flare.test"), 8);
}

#[test]
fn a_dangling_cname_is_chased_with_a_new_query() {
    let server = Scripted::start();
    let r = resolver(ResolverConfig::new().nameserver(server.addr()));
    assert_eq!(
        r.resolve("restart.flare.test").unwrap(),
        vec![ip("2001:db8::77"), ip("192.0.2.77")]
    );
    assert_eq!(server.count("target.flare.test"), 2);
}

#[test]
fn ids_and_source_ports_are_random_per_query() {
    let server = Scripted::start();
    let r = resolver(
        ResolverConfig::new()
            .nameserver(server.addr())
            .cache_capacity(0),
    );
    for _ in 0..20 {
        assert!(r.resolve("plain.flare.test").is_ok());
    }
    let peers = server.peers("plain.flare.test");
    assert_eq!(peers.len(), 40);
    let ids: BTreeSet<&str> = peers.iter().map(|p| p.split(':').next().unwrap()).collect();
    let ports: BTreeSet<&str> = peers.iter().map(|p| p.split(':').nth(1).unwrap()).collect();
    assert!(ids.len() >= 38, "{peers:?}");
    assert!(ports.len() >= 38, "{peers:?}");
    // Distinct is not enough: a sequential allocator would be guessable.
    let seq: Vec<u32> = peers
        .iter()
        .map(|p| p.split(':').nth(1).unwrap().parse().unwrap())
        .collect();
    let steps = seq.windows(2).filter(|w| w[1].abs_diff(w[0]) <= 2).count();
    assert!(steps < 10, "source ports look sequential: {seq:?}");
}

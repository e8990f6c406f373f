//! The resolver state machine on a virtual clock: no sockets, no sleeps.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use flare_dns::{
    Cache, Class, Families, Hosts, Lookup, Message, Name, NameError, Proto, RData, Rcode, Record,
    RecordType, ResolveError, ResolverConfig, Rng, Soa, Transmit,
};

const S1: &str = "127.0.0.1:5301";
const S2: &str = "127.0.0.1:5302";

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn name(s: &str) -> Name {
    Name::from_ascii(s).unwrap()
}

fn config() -> ResolverConfig {
    ResolverConfig::new()
        .nameservers(vec![sa(S1), sa(S2)])
        .timeout(Duration::from_secs(1))
        .attempts(2)
}

fn start(host: &str, cfg: &ResolverConfig, cache: &Cache, now: Instant) -> Lookup {
    Lookup::new(host, cfg, cache, Rng::from_seed(7), now)
}

fn empty_cache() -> Cache {
    Cache::new(100, Duration::from_secs(3600))
}

fn query_of(t: &Transmit) -> Message {
    let bytes = match t.proto {
        Proto::Udp => &t.bytes[..],
        Proto::Tcp => {
            let len = u16::from_be_bytes([t.bytes[0], t.bytes[1]]) as usize;
            assert_eq!(len, t.bytes.len() - 2, "TCP length prefix");
            &t.bytes[2..]
        }
    };
    Message::decode(bytes).unwrap()
}

/// A response to `t` shaped by `f`, encoded.
fn reply(t: &Transmit, f: impl FnOnce(&mut Message)) -> Vec<u8> {
    let mut m = query_of(t);
    m.header.response = true;
    m.header.recursion_available = true;
    f(&mut m);
    let mut out = Vec::new();
    m.encode(&mut out).unwrap();
    out
}

fn rr(owner: &str, ttl: u32, data: RData) -> Record {
    Record {
        name: name(owner),
        class: Class::IN,
        ttl,
        data,
    }
}

fn soa(ttl: u32, minimum: u32) -> Record {
    rr(
        "example",
        ttl,
        RData::Soa(Soa {
            mname: name("ns.example"),
            rname: name("admin.example"),
            serial: 1,
            refresh: 1,
            retry: 1,
            expire: 1,
            minimum,
        }),
    )
}

/// Answers an A or AAAA query for its own name with `v4`/`v6`.
fn addr_reply(t: &Transmit, v4: &str, v6: &str, ttl: u32) -> Vec<u8> {
    reply(t, |m| {
        let q = m.questions[0].clone();
        let data = if q.qtype == RecordType::A {
            RData::A(v4.parse().unwrap())
        } else {
            RData::Aaaa(v6.parse().unwrap())
        };
        m.answers.push(Record {
            name: q.name,
            class: Class::IN,
            ttl,
            data,
        });
    })
}

fn transmits(l: &mut Lookup) -> Vec<Transmit> {
    std::iter::from_fn(|| l.poll_transmit()).collect()
}

#[test]
fn asks_a_and_aaaa_in_parallel_and_interleaves() {
    let now = Instant::now();
    let cfg = config();
    let mut l = start("www.example", &cfg, &empty_cache(), now);
    let ts = transmits(&mut l);
    assert_eq!(ts.len(), 2);
    let qtypes: Vec<_> = ts.iter().map(|t| query_of(t).questions[0].qtype).collect();
    assert_eq!(qtypes, [RecordType::AAAA, RecordType::A]);
    assert!(ts
        .iter()
        .all(|t| t.server == sa(S1) && t.proto == Proto::Udp));
    let q = query_of(&ts[0]);
    assert_eq!(q.edns.unwrap().udp_payload_size, 1232);
    assert!(q.header.recursion_desired);
    assert_ne!(query_of(&ts[0]).header.id, query_of(&ts[1]).header.id);
    assert_eq!(l.poll_timeout(), Some(now + Duration::from_secs(1)));

    l.handle_response(sa(S1), &addr_reply(&ts[1], "192.0.2.1", "", 60), now);
    assert!(l.poll_result().is_none(), "waits for both families");
    l.handle_response(
        sa(S1),
        &reply(&ts[0], |m| {
            for a in ["2001:db8::1", "2001:db8::2"] {
                m.answers
                    .push(rr("www.example", 30, RData::Aaaa(a.parse().unwrap())));
            }
        }),
        now,
    );
    assert_eq!(
        l.poll_result(),
        Some(Ok(vec![
            ip("2001:db8::1"),
            ip("192.0.2.1"),
            ip("2001:db8::2")
        ]))
    );
    assert_eq!(l.poll_timeout(), None);
    let ups: Vec<_> = std::iter::from_fn(|| l.poll_cache_update()).collect();
    assert_eq!(ups.len(), 2);
    assert_eq!(ups[0].ttl, 60);
    assert_eq!(ups[1].ttl, 30);
}

#[test]
fn ignores_wrong_id_source_and_question() {
    let now = Instant::now();
    let cfg = config().families(Families::Ipv4Only);
    let mut l = start("www.example", &cfg, &empty_cache(), now);
    let ts = transmits(&mut l);
    assert_eq!(ts.len(), 1);
    let t = &ts[0];
    let good = addr_reply(t, "192.0.2.1", "", 60);
    let mut wrong_id = good.clone();
    wrong_id[1] ^= 1;
    l.handle_response(sa(S1), &wrong_id, now);
    l.handle_response(sa(S2), &good, now);
    l.handle_response(sa("127.0.0.1:5399"), &good, now);
    let other_name = reply(t, |m| m.questions[0].name = name("evil.example"));
    l.handle_response(sa(S1), &other_name, now);
    let other_type = reply(t, |m| m.questions[0].qtype = RecordType::MX);
    l.handle_response(sa(S1), &other_type, now);
    let not_response = reply(t, |m| m.header.response = false);
    l.handle_response(sa(S1), &not_response, now);
    l.handle_response(sa(S1), &[1], now);
    assert_eq!(l.ignored_responses(), 7);
    assert!(l.poll_result().is_none());
    assert!(
        l.poll_transmit().is_none(),
        "ignored answers trigger nothing"
    );
    // Case differences in the echoed question are fine (RFC 4343).
    let upper = reply(t, |m| {
        m.questions[0].name = name("WWW.EXAMPLE");
        m.answers.push(rr(
            "www.example",
            60,
            RData::A("192.0.2.9".parse().unwrap()),
        ));
    });
    l.handle_response(sa(S1), &upper, now);
    assert_eq!(l.poll_result(), Some(Ok(vec![ip("192.0.2.9")])));
}

#[test]
fn retries_each_server_attempts_times_then_times_out() {
    let t0 = Instant::now();
    let cfg = config().families(Families::Ipv4Only);
    let mut l = start("www.example", &cfg, &empty_cache(), t0);
    let mut servers = Vec::new();
    let mut ids = Vec::new();
    let mut now = t0;
    loop {
        for t in transmits(&mut l) {
            servers.push(t.server);
            ids.push(query_of(&t).header.id);
        }
        if let Some(r) = l.poll_result() {
            assert_eq!(r, Err(ResolveError::Timeout));
            break;
        }
        let deadline = l.poll_timeout().unwrap();
        // Nothing happens before the deadline.
        l.handle_timeout(deadline - Duration::from_millis(1));
        assert!(l.poll_transmit().is_none());
        now = deadline;
        l.handle_timeout(now);
    }
    assert_eq!(servers, [sa(S1), sa(S2), sa(S1), sa(S2)]);
    assert_eq!(now - t0, Duration::from_secs(4));
    ids.dedup();
    assert_eq!(ids.len(), 4, "each retry uses a fresh id");
}

#[test]
fn late_answer_to_an_earlier_try_is_ignored() {
    let t0 = Instant::now();
    let cfg = config().families(Families::Ipv4Only);
    let mut l = start("www.example", &cfg, &empty_cache(), t0);
    let first = transmits(&mut l).remove(0);
    assert!(l.is_live(first.tag));
    l.handle_timeout(t0 + Duration::from_secs(1));
    let second = transmits(&mut l).remove(0);
    assert!(!l.is_live(first.tag));
    l.handle_response(sa(S1), &addr_reply(&first, "192.0.2.1", "", 60), t0);
    assert!(l.poll_result().is_none());
    l.handle_response(sa(S2), &addr_reply(&second, "192.0.2.2", "", 60), t0);
    assert_eq!(l.poll_result(), Some(Ok(vec![ip("192.0.2.2")])));
}

#[test]
fn servfail_moves_to_the_next_server_at_once() {
    let now = Instant::now();
    let cfg = config().families(Families::Ipv4Only).attempts(1);
    let mut l = start("www.example", &cfg, &empty_cache(), now);
    let t = transmits(&mut l).remove(0);
    l.handle_response(sa(S1), &reply(&t, |m| m.header.rcode_low = 2), now);
    let t2 = transmits(&mut l).remove(0);
    assert_eq!(t2.server, sa(S2));
    l.handle_response(sa(S2), &reply(&t2, |m| m.header.rcode_low = 5), now);
    assert_eq!(
        l.poll_result(),
        Some(Err(ResolveError::ServerFailure {
            rcode: Rcode::REFUSED
        }))
    );
}

#[test]
fn malformed_answer_and_transport_error_move_on() {
    let now = Instant::now();
    let cfg = config().families(Families::Ipv4Only).attempts(1);
    let mut l = start("www.example", &cfg, &empty_cache(), now);
    let t = transmits(&mut l).remove(0);
    let mut bad = addr_reply(&t, "192.0.2.1", "", 60);
    bad.truncate(bad.len() - 2);
    l.handle_response(sa(S1), &bad, now);
    let t2 = transmits(&mut l).remove(0);
    assert_eq!(t2.server, sa(S2));
    l.handle_transport_error(t.tag, std::io::ErrorKind::ConnectionRefused, now);
    assert!(l.poll_result().is_none(), "a stale tag is ignored");
    l.handle_transport_error(t2.tag, std::io::ErrorKind::ConnectionRefused, now);
    assert_eq!(
        l.poll_result(),
        Some(Err(ResolveError::Io(std::io::ErrorKind::ConnectionRefused)))
    );
}

#[test]
fn truncated_udp_answer_is_retried_over_tcp() {
    let now = Instant::now();
    let cfg = config().families(Families::Ipv4Only);
    let mut l = start("big.example", &cfg, &empty_cache(), now);
    let t = transmits(&mut l).remove(0);
    l.handle_response(sa(S1), &reply(&t, |m| m.header.truncated = true), now);
    let tcp = transmits(&mut l).remove(0);
    assert_eq!(tcp.proto, Proto::Tcp);
    assert_eq!(tcp.server, sa(S1));
    let q = query_of(&tcp);
    assert_ne!(q.header.id, query_of(&t).header.id);
    let body = reply(&tcp, |m| {
        for i in 1..=40 {
            m.answers
                .push(rr("big.example", 60, RData::A([10, 0, 0, i].into())));
        }
    });
    l.handle_response(sa(S1), &body, now);
    assert_eq!(l.poll_result().unwrap().unwrap().len(), 40);
}

#[test]
fn formerr_without_opt_retries_without_edns() {
    let now = Instant::now();
    let cfg = config().families(Families::Ipv4Only);
    let mut l = start("old.example", &cfg, &empty_cache(), now);
    let t = transmits(&mut l).remove(0);
    assert!(query_of(&t).edns.is_some());
    l.handle_response(
        sa(S1),
        &reply(&t, |m| {
            m.header.rcode_low = 1;
            m.edns = None;
            m.questions.clear();
        }),
        now,
    );
    let t2 = transmits(&mut l).remove(0);
    assert_eq!(t2.server, sa(S1));
    assert!(query_of(&t2).edns.is_none());
}

#[test]
fn follows_cname_chains_within_and_across_answers() {
    let now = Instant::now();
    let cfg = config().families(Families::Ipv4Only);
    let mut l = start("a.example", &cfg, &empty_cache(), now);
    let t = transmits(&mut l).remove(0);
    l.handle_response(
        sa(S1),
        &reply(&t, |m| {
            m.answers
                .push(rr("a.example", 300, RData::Cname(name("b.example"))));
            m.answers
                .push(rr("b.example", 20, RData::Cname(name("c.other"))));
        }),
        now,
    );
    // The chain ends outside the answer with no SOA: ask for the target.
    let t2 = transmits(&mut l).remove(0);
    assert_eq!(query_of(&t2).questions[0].name, name("c.other"));
    l.handle_response(
        sa(S1),
        &reply(&t2, |m| {
            m.answers
                .push(rr("c.other", 100, RData::A("192.0.2.7".parse().unwrap())))
        }),
        now,
    );
    assert_eq!(l.poll_result(), Some(Ok(vec![ip("192.0.2.7")])));
    let up = l.poll_cache_update().unwrap();
    assert_eq!(
        (up.name, up.ttl),
        (name("a.example"), 20),
        "cached under the asked name, smallest TTL"
    );
}

#[test]
fn cname_loops_and_long_chains_are_bounded() {
    let now = Instant::now();
    let cfg = config().families(Families::Ipv4Only).max_cname_depth(3);
    let mut l = start("loop.example", &cfg, &empty_cache(), now);
    let t = transmits(&mut l).remove(0);
    l.handle_response(
        sa(S1),
        &reply(&t, |m| {
            m.answers
                .push(rr("loop.example", 60, RData::Cname(name("pool.example"))));
            m.answers
                .push(rr("pool.example", 60, RData::Cname(name("loop.example"))));
        }),
        now,
    );
    assert_eq!(l.poll_result(), Some(Err(ResolveError::CnameChainTooLong)));

    // Exactly at the limit: 3 hops are fine.
    let mut l = start("c0.example", &cfg, &empty_cache(), now);
    let t = transmits(&mut l).remove(0);
    l.handle_response(
        sa(S1),
        &reply(&t, |m| {
            for i in 0..3 {
                m.answers.push(rr(
                    &format!("c{i}.example"),
                    60,
                    RData::Cname(name(&format!("c{}.example", i + 1))),
                ));
            }
            m.answers
                .push(rr("c3.example", 60, RData::A("192.0.2.3".parse().unwrap())));
        }),
        now,
    );
    assert_eq!(l.poll_result(), Some(Ok(vec![ip("192.0.2.3")])));
}

#[test]
fn walks_the_search_list_per_ndots() {
    let now = Instant::now();
    let cfg = config()
        .families(Families::Ipv4Only)
        .search(vec![name("corp.example"), name("lab.example")])
        .ndots(2);
    let mut l = start("host.sub", &cfg, &empty_cache(), now);
    let mut asked = Vec::new();
    loop {
        let t = transmits(&mut l).remove(0);
        let q = query_of(&t);
        let qname = q.questions[0].name.to_string();
        asked.push(qname.clone());
        if qname == "host.sub.lab.example" {
            l.handle_response(sa(S1), &addr_reply(&t, "192.0.2.4", "", 60), now);
            break;
        }
        l.handle_response(
            sa(S1),
            &reply(&t, |m| {
                m.header.rcode_low = 3;
                m.authorities.push(soa(60, 30));
            }),
            now,
        );
    }
    assert_eq!(asked, ["host.sub.corp.example", "host.sub.lab.example"]);
    assert_eq!(l.poll_result(), Some(Ok(vec![ip("192.0.2.4")])));

    // A trailing dot means no search; a miss is NXDOMAIN.
    let mut l = start("host.sub.", &cfg, &empty_cache(), now);
    let t = transmits(&mut l).remove(0);
    assert_eq!(query_of(&t).questions[0].name.to_string(), "host.sub");
    l.handle_response(sa(S1), &reply(&t, |m| m.header.rcode_low = 3), now);
    assert_eq!(l.poll_result(), Some(Err(ResolveError::NxDomain)));
}

#[test]
fn timeout_on_one_candidate_stops_the_search() {
    let t0 = Instant::now();
    let cfg = config()
        .families(Families::Ipv4Only)
        .attempts(1)
        .nameservers(vec![sa(S1)])
        .search(vec![name("corp.example")]);
    let mut l = start("host", &cfg, &empty_cache(), t0);
    let _ = transmits(&mut l);
    l.handle_timeout(t0 + Duration::from_secs(1));
    assert_eq!(l.poll_result(), Some(Err(ResolveError::Timeout)));
}

#[test]
fn negative_answers_are_cached_per_rfc2308() {
    let now = Instant::now();
    let cfg = config();
    let mut cache = empty_cache();
    let mut l = start("gone.example", &cfg, &cache, now);
    for t in transmits(&mut l) {
        l.handle_response(
            sa(S1),
            &reply(&t, |m| {
                m.header.rcode_low = 3;
                m.authorities.push(soa(300, 45));
            }),
            now,
        );
    }
    assert_eq!(l.poll_result(), Some(Err(ResolveError::NxDomain)));
    while let Some(u) = l.poll_cache_update() {
        assert_eq!(u.ttl, 45, "min(SOA TTL, MINIMUM)");
        cache.insert(u, now);
    }
    let mut l = start("gone.example", &cfg, &cache, now + Duration::from_secs(44));
    assert!(l.poll_transmit().is_none(), "answered from the cache");
    assert_eq!(l.poll_result(), Some(Err(ResolveError::NxDomain)));
    let mut l = start("gone.example", &cfg, &cache, now + Duration::from_secs(45));
    assert_eq!(transmits(&mut l).len(), 2, "expired");

    // NODATA is cached too; without an SOA nothing is cached (RFC 2308 5).
    let mut l = start("v4only.example", &cfg, &cache, now);
    for t in transmits(&mut l) {
        let is_a = query_of(&t).questions[0].qtype == RecordType::A;
        l.handle_response(
            sa(S1),
            &if is_a {
                addr_reply(&t, "192.0.2.5", "", 60)
            } else {
                reply(&t, |m| m.authorities.push(soa(10, 600)))
            },
            now,
        );
    }
    assert_eq!(l.poll_result(), Some(Ok(vec![ip("192.0.2.5")])));
    let ups: Vec<_> = std::iter::from_fn(|| l.poll_cache_update()).collect();
    assert!(ups.iter().any(|u| u.rtype == RecordType::AAAA
        && u.ttl == 10
        && u.answer == flare_dns::CachedAnswer::NoData));
    let mut l = start("nosoa.example", &cfg, &cache, now);
    for t in transmits(&mut l) {
        l.handle_response(sa(S1), &reply(&t, |m| m.header.rcode_low = 3), now);
    }
    assert!(l.poll_cache_update().is_none());
}

#[test]
fn positive_cache_hit_sends_nothing() {
    let now = Instant::now();
    let cfg = config();
    let mut cache = empty_cache();
    let mut l = start("www.example", &cfg, &cache, now);
    for t in transmits(&mut l) {
        l.handle_response(sa(S1), &addr_reply(&t, "192.0.2.1", "2001:db8::1", 60), now);
    }
    let first = l.poll_result().unwrap();
    while let Some(u) = l.poll_cache_update() {
        cache.insert(u, now);
    }
    let mut l = start("WWW.example", &cfg, &cache, now + Duration::from_secs(59));
    assert!(l.is_finished());
    assert!(l.poll_transmit().is_none());
    assert_eq!(l.poll_result(), Some(first));
}

#[test]
fn numeric_hosts_and_invalid_names_need_no_network() {
    let now = Instant::now();
    let mut hosts = Hosts::new();
    hosts.insert(name("db.internal"), ip("10.1.1.1"));
    hosts.insert(name("db.internal"), ip("fd00::1"));
    let cfg = config().hosts(hosts);
    let cache = empty_cache();
    let check = |host: &str, want: Result<Vec<IpAddr>, ResolveError>| {
        let mut l = start(host, &cfg, &cache, now);
        assert!(l.poll_transmit().is_none(), "{host}");
        assert_eq!(l.poll_result(), Some(want), "{host}");
    };
    check("192.0.2.1", Ok(vec![ip("192.0.2.1")]));
    check("::1", Ok(vec![ip("::1")]));
    check("[2001:db8::5]", Ok(vec![ip("2001:db8::5")]));
    check("DB.internal.", Ok(vec![ip("fd00::1"), ip("10.1.1.1")]));
    check("localhost", Ok(vec![ip("::1"), ip("127.0.0.1")]));
    check("app.LOCALHOST.", Ok(vec![ip("::1"), ip("127.0.0.1")]));
    check(
        &"a".repeat(64),
        Err(ResolveError::InvalidName(NameError::LabelTooLong {
            len: 64,
        })),
    );
    let long = vec!["abcdefgh"; 29].join(".");
    check(
        &long,
        Err(ResolveError::InvalidName(NameError::TooLong { len: 260 })),
    );
    for (bad, b) in [
        ("a\0b", 0),
        ("a\rb", b'\r'),
        ("a\nb", b'\n'),
        ("user@host", b'@'),
    ] {
        check(
            bad,
            Err(ResolveError::InvalidName(NameError::ForbiddenByte {
                byte: b,
            })),
        );
    }
    let none = ResolverConfig::new();
    let mut l = start("x.example", &none, &cache, now);
    assert_eq!(l.poll_result(), Some(Err(ResolveError::NoNameservers)));
}

#[test]
fn rotate_spreads_the_first_server() {
    let now = Instant::now();
    let cfg = config().families(Families::Ipv4Only).rotate(true);
    let firsts: std::collections::HashSet<SocketAddr> = (0..32)
        .map(|seed| {
            let mut l = Lookup::new(
                "www.example",
                &cfg,
                &empty_cache(),
                Rng::from_seed(seed),
                now,
            );
            l.poll_transmit().unwrap().server
        })
        .collect();
    assert_eq!(firsts.len(), 2);
    let cfg = config().families(Families::Ipv4Only);
    for seed in 0..8 {
        let mut l = Lookup::new(
            "www.example",
            &cfg,
            &empty_cache(),
            Rng::from_seed(seed),
            now,
        );
        assert_eq!(l.poll_transmit().unwrap().server, sa(S1));
    }
}

#[test]
fn edns_size_is_configurable_or_off() {
    let now = Instant::now();
    let mut l = start(
        "www.example",
        &config().edns_udp_size(Some(4096)),
        &empty_cache(),
        now,
    );
    assert_eq!(
        query_of(&l.poll_transmit().unwrap())
            .edns
            .unwrap()
            .udp_payload_size,
        4096
    );
    let mut l = start(
        "www.example",
        &config().edns_udp_size(Some(100)),
        &empty_cache(),
        now,
    );
    assert_eq!(
        query_of(&l.poll_transmit().unwrap())
            .edns
            .unwrap()
            .udp_payload_size,
        512,
        "RFC 6891 6.2.5 floor"
    );
    let mut l = start(
        "www.example",
        &config().edns_udp_size(None),
        &empty_cache(),
        now,
    );
    assert!(query_of(&l.poll_transmit().unwrap()).edns.is_none());
}

#[test]
fn absurd_timeouts_do_not_overflow_the_clock() {
    let now = Instant::now();
    let cfg = config().timeout(Duration::MAX);
    let mut l = start("www.example", &cfg, &empty_cache(), now);
    assert_eq!(transmits(&mut l).len(), 2);
    assert!(l.poll_timeout().unwrap() > now);
}

#[test]
fn family_grace_returns_one_family_when_the_other_is_slow() {
    let t0 = Instant::now();
    for grace in [None, Some(Duration::from_millis(50))] {
        let cfg = config().family_grace(grace);
        let mut l = start("www.example", &cfg, &empty_cache(), t0);
        let ts = transmits(&mut l);
        let a = ts
            .iter()
            .find(|t| query_of(t).questions[0].qtype == RecordType::A)
            .unwrap();
        l.handle_response(sa(S1), &addr_reply(a, "192.0.2.1", "", 60), t0);
        match grace {
            None => assert_eq!(
                l.poll_timeout(),
                Some(t0 + Duration::from_secs(1)),
                "waits for AAAA"
            ),
            Some(g) => {
                assert_eq!(l.poll_timeout(), Some(t0 + g));
                l.handle_timeout(t0 + g - Duration::from_millis(1));
                assert!(l.poll_result().is_none());
                l.handle_timeout(t0 + g);
                assert_eq!(l.poll_result(), Some(Ok(vec![ip("192.0.2.1")])));
                assert_eq!(l.poll_timeout(), None);
            }
        }
    }
}

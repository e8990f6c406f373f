//! The resolver and codec against a real dnsmasq on 127.0.0.1, compared with dnspython.

mod support;

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

use flare_dns::{Hosts, Name, RData, RecordType, ResolveError, Resolver, ResolverConfig};
use support::{dnspython, many_v4, many_v6, query_tcp, query_udp, Dnsmasq};

fn resolver(server: &Dnsmasq, cfg: impl FnOnce(ResolverConfig) -> ResolverConfig) -> Resolver {
    let base = ResolverConfig::new()
        .nameserver(server.addr())
        .timeout(Duration::from_millis(500))
        .attempts(2);
    Resolver::new(cfg(base)).unwrap()
}

fn set(addrs: &[IpAddr]) -> BTreeSet<String> {
    addrs.iter().map(ToString::to_string).collect()
}

#[test]
fn resolves_the_same_as_dnspython() {
    let server = Dnsmasq::start();
    let r = resolver(&server, |c| c);
    let names = [
        "www.flare.test",
        "alias.flare.test",
        "alias2.flare.test",
        "many.flare.test",
        "v4only.flare.test",
        "v6only.flare.test",
    ];
    let specs: Vec<String> = names
        .iter()
        .flat_map(|n| [format!("{n}:A"), format!("{n}:AAAA")])
        .collect();
    let specs: Vec<&str> = specs.iter().map(String::as_str).collect();
    let theirs = dnspython(server.port, &specs);
    for (i, name) in names.iter().enumerate() {
        let ours = r.resolve(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut want = BTreeSet::new();
        for (rcode, values) in &theirs[2 * i..2 * i + 2] {
            assert!(rcode == "NOERROR" || rcode == "NODATA", "{name}: {rcode}");
            want.extend(values.iter().cloned());
        }
        assert_eq!(set(&ours), want, "{name}");
    }
    let theirs = dnspython(server.port, &["nope.flare.test:A"]);
    assert_eq!(theirs[0].0, "NXDOMAIN");
    assert_eq!(r.resolve("nope.flare.test"), Err(ResolveError::NxDomain));
}

#[test]
fn many_addresses_come_back_interleaved_v6_first() {
    let server = Dnsmasq::start();
    let r = resolver(&server, |c| c);
    let got = r.resolve("many.flare.test").unwrap();
    let mut want: Vec<IpAddr> = many_v4();
    want.extend(many_v6());
    assert_eq!(set(&got), set(&want));
    // v6, v4, v6, v4 ... while both last, then the rest of v4.
    for (i, a) in got.iter().take(10).enumerate() {
        assert_eq!(a.is_ipv6(), i % 2 == 0, "{got:?}");
    }
    assert!(got[10..].iter().all(IpAddr::is_ipv4));
}

#[test]
fn walks_the_search_list() {
    let server = Dnsmasq::start();
    let r = resolver(&server, |c| {
        c.search(vec![Name::from_ascii("flare.test").unwrap()])
    });
    assert_eq!(
        set(&r.resolve("www").unwrap()),
        set(&[
            "192.0.2.10".parse().unwrap(),
            "2001:db8::10".parse().unwrap()
        ])
    );
    assert!(r.resolve("alias2").is_ok());
    // "www.flare.test" has 2 dots >= ndots 1: tried as is first.
    assert!(r.resolve("www.flare.test").is_ok());
    assert_eq!(r.resolve("nope"), Err(ResolveError::NxDomain));
    // With a trailing dot the search list is not used.
    assert_eq!(r.resolve("www."), Err(ResolveError::NxDomain));
}

#[test]
fn cached_answers_outlive_the_server() {
    let mut server = Dnsmasq::start();
    let cached = resolver(&server, |c| c);
    let uncached = resolver(&server, |c| c.cache_capacity(0));
    let first = cached.resolve("alias2.flare.test").unwrap();
    assert_eq!(
        uncached.resolve("alias2.flare.test").unwrap().len(),
        first.len()
    );
    assert_eq!(cached.cache_len(), 2);
    server.stop();
    assert_eq!(cached.resolve("alias2.flare.test").unwrap(), first);
    assert!(uncached.resolve("alias2.flare.test").is_err());
    cached.clear_cache();
    assert!(cached.resolve("alias2.flare.test").is_err());
}

#[test]
fn hosts_table_comes_before_dns() {
    let server = Dnsmasq::start();
    let mut hosts = Hosts::new();
    hosts.insert(
        Name::from_ascii("www.flare.test").unwrap(),
        "10.10.10.10".parse().unwrap(),
    );
    let r = resolver(&server, |c| c.hosts(hosts));
    assert_eq!(
        r.resolve("www.flare.test").unwrap(),
        vec!["10.10.10.10".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(
        r.resolve("127.0.0.1").unwrap(),
        vec!["127.0.0.1".parse::<IpAddr>().unwrap()]
    );
}

#[test]
fn txt_and_srv_decode_like_dnspython() {
    let server = Dnsmasq::start();
    let theirs = dnspython(
        server.port,
        &["txt.flare.test:TXT", "_http._tcp.flare.test:SRV"],
    );
    for (i, (name, qtype)) in [
        ("txt.flare.test", RecordType::TXT),
        ("_http._tcp.flare.test", RecordType::SRV),
    ]
    .into_iter()
    .enumerate()
    {
        for m in [
            query_udp(server.port, name, qtype, Duration::from_secs(5)).unwrap(),
            query_tcp(server.port, name, qtype),
        ] {
            assert!(m.header.response);
            let mut ours: Vec<String> = m
                .answers
                .iter()
                .map(|r| match &r.data {
                    RData::Txt(strings) => strings
                        .iter()
                        .map(|s| String::from_utf8(s.clone()).unwrap())
                        .collect::<Vec<_>>()
                        .join("|"),
                    RData::Srv {
                        priority,
                        weight,
                        port,
                        target,
                    } => format!("{priority}/{weight}/{port}/{target}"),
                    other => panic!("{other:?}"),
                })
                .collect();
            ours.sort();
            assert_eq!(theirs[i], ("NOERROR".to_string(), ours), "{name}");
        }
    }
}

//! `cargo xtask bench dns`: lookups per second, flare-dns against glibc's
//! `getaddrinfo` (through std's `ToSocketAddrs`), measured in the same run.
//!
//! Starts dnsmasq on 127.0.0.1 (never forwarding anywhere) and measures:
//!
//! - flare cached: `Resolver::resolve` answered from its TTL cache;
//! - flare uncached: `Resolver::resolve` with the cache off, one A and one AAAA query
//!   over UDP to dnsmasq per lookup (blocking front end);
//! - flare reactor uncached: the same with 32 lookups in flight on one thread
//!   (`ReactorResolver` on a flare reactor);
//! - flare hosts / getaddrinfo hosts: `localhost` from `/etc/hosts`, by flare's
//!   hosts table and by `getaddrinfo`.
//!
//! Why `localhost` for getaddrinfo: glibc reads its name servers from
//! `/etc/resolv.conf`, which on a normal machine points off the machine, and has no
//! way to aim it at a port on 127.0.0.1. A name from `/etc/hosts` is the one lookup
//! getaddrinfo answers without sending a packet, so that is what is compared with the
//! same lookup in flare. The run checks first that `/etc/nsswitch.conf` consults
//! `files` before anything else and that `/etc/hosts` has `localhost`, and skips the
//! getaddrinfo figure otherwise, rather than send a query off the machine.
//!
//! Usage: `dns_bench [--quick]` (`--quick`: a short smoke run).

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, ToSocketAddrs, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flare_dns::{Hosts, ReactorResolver, Resolver, ResolverConfig, Rng};
use flare_reactor::{Events, Poller, Token};

struct Dnsmasq(Child);

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_dnsmasq() -> (Dnsmasq, SocketAddr) {
    let bin = ["/usr/sbin/dnsmasq", "/usr/bin/dnsmasq"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("dnsmasq not found: run `cargo xtask peers` (Debian package dnsmasq-base)");
    for _ in 0..5 {
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new(bin)
            .args([
                "-k",
                "--no-resolv",
                "--no-hosts",
                "--conf-file=/dev/null",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--log-facility=-",
                "--local-ttl=300",
                "--local=/#/",
                "--host-record=www.flare.test,192.0.2.10,2001:db8::10",
            ])
            .arg(format!("--port={port}"))
            .arg(format!(
                "--pid-file={}/flare-dns-bench-{port}.pid",
                std::env::temp_dir().display()
            ))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn dnsmasq");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        // dnsmasq has bound its sockets when it logs "started"; on a port clash it exits.
        if lines
            .by_ref()
            .map_while(Result::ok)
            .any(|l| l.contains("started"))
        {
            std::thread::spawn(move || lines.for_each(drop));
            return (Dnsmasq(child), SocketAddr::from(([127, 0, 0, 1], port)));
        }
        let _ = child.wait();
    }
    panic!("dnsmasq did not start");
}

/// Runs `f` until `budget` passes or `max` calls, after a short warm-up; calls/s.
fn measure(budget: Duration, max: u64, mut f: impl FnMut()) -> (f64, u64) {
    for _ in 0..max.min(100) {
        f();
    }
    let start = Instant::now();
    let mut n = 0;
    while n < max && start.elapsed() < budget {
        for _ in 0..16 {
            f();
        }
        n += 16;
    }
    (n as f64 / start.elapsed().as_secs_f64(), n)
}

/// Whether getaddrinfo would answer `localhost` from /etc/hosts without DNS.
fn getaddrinfo_is_local() -> Result<(), String> {
    let nss = std::fs::read_to_string("/etc/nsswitch.conf").unwrap_or_default();
    let hosts_line = nss.lines().find(|l| l.trim_start().starts_with("hosts:"));
    let first = hosts_line.and_then(|l| l.split_whitespace().nth(1));
    if first != Some("files") {
        return Err(format!(
            "/etc/nsswitch.conf hosts line is {hosts_line:?}, not files first"
        ));
    }
    let hosts = Hosts::parse(&std::fs::read_to_string("/etc/hosts").unwrap_or_default());
    if hosts.get(&"localhost".parse().unwrap()).is_none() {
        return Err("/etc/hosts has no localhost".into());
    }
    Ok(())
}

fn reactor_uncached(server: SocketAddr, budget: Duration, max: u64) -> (f64, u64) {
    const IN_FLIGHT: usize = 32;
    let cfg = ResolverConfig::new()
        .nameserver(server)
        .cache_capacity(0)
        .timeout(Duration::from_secs(2));
    let mut poller = Poller::new().unwrap();
    let mut dns =
        ReactorResolver::new(cfg, Rng::from_os().unwrap(), Token(0)).max_lookups(IN_FLIGHT);
    let mut events = Events::with_capacity(256);
    let start = Instant::now();
    let (mut started, mut done, mut failed) = (0u64, 0u64, 0u64);
    while done < max && (start.elapsed() < budget || dns.in_flight() > 0) {
        while dns.in_flight() < IN_FLIGHT && started < max && start.elapsed() < budget {
            dns.start(&poller, "www.flare.test", Instant::now());
            started += 1;
        }
        while let Some((_, r)) = dns.poll_done() {
            done += 1;
            failed += u64::from(r.is_err());
        }
        if dns.in_flight() == 0 {
            if started >= max || start.elapsed() >= budget {
                break;
            }
            continue;
        }
        let wait = dns
            .next_deadline()
            .map(|d| d.saturating_duration_since(Instant::now()));
        poller.poll(&mut events, wait).unwrap();
        for ev in events.iter() {
            dns.on_event(&poller, ev, Instant::now());
        }
        dns.on_timeout(&poller, Instant::now());
    }
    while let Some((_, r)) = dns.poll_done() {
        done += 1;
        failed += u64::from(r.is_err());
    }
    assert_eq!(failed, 0, "reactor lookups failed");
    (done as f64 / start.elapsed().as_secs_f64(), done)
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let budget = if quick {
        Duration::from_millis(300)
    } else {
        Duration::from_secs(3)
    };
    let (_dnsmasq, server) = start_dnsmasq();
    let base = ResolverConfig::new()
        .nameserver(server)
        .timeout(Duration::from_secs(2));

    let cached = Resolver::new(base.clone()).unwrap();
    let want = cached.resolve("www.flare.test").expect("dnsmasq answers");
    assert_eq!(want.len(), 2);
    let (cached_rate, cached_n) = measure(budget, 5_000_000, || {
        assert_eq!(cached.resolve("www.flare.test").unwrap().len(), 2);
    });

    let uncached = Resolver::new(base.clone().cache_capacity(0)).unwrap();
    let (uncached_rate, uncached_n) = measure(budget, 200_000, || {
        assert_eq!(uncached.resolve("www.flare.test").unwrap().len(), 2);
    });

    let (reactor_rate, reactor_n) = reactor_uncached(server, budget, 500_000);

    let system = Resolver::new(ResolverConfig::new().nameserver(server).hosts(Hosts::parse(
        &std::fs::read_to_string("/etc/hosts").unwrap_or_default(),
    )))
    .unwrap();
    let local = getaddrinfo_is_local();
    let hosts_figures = local.as_ref().ok().map(|()| {
        let ours = measure(budget, 5_000_000, || {
            assert!(!system.resolve("localhost").unwrap().is_empty());
        });
        let theirs = measure(budget, 2_000_000, || {
            assert!(("localhost", 0).to_socket_addrs().unwrap().next().is_some());
        });
        (ours, theirs)
    });

    println!(
        "flare-dns lookups per second ({} s per figure; dnsmasq on {server})",
        budget.as_secs_f64()
    );
    println!(
        "{:<44} {:>14} {:>10}",
        "measurement", "lookups/s", "lookups"
    );
    let row = |name: &str, (rate, n): (f64, u64)| println!("{name:<44} {rate:>14.0} {n:>10}");
    row(
        "flare cached (www.flare.test, A+AAAA)",
        (cached_rate, cached_n),
    );
    row(
        "flare uncached, blocking (UDP, A+AAAA)",
        (uncached_rate, uncached_n),
    );
    row(
        "flare uncached, reactor, 32 in flight",
        (reactor_rate, reactor_n),
    );
    match hosts_figures {
        Some((ours, theirs)) => {
            row("flare hosts table (localhost)", ours);
            row("getaddrinfo via std ToSocketAddrs (localhost)", theirs);
            println!("ratio flare hosts / getaddrinfo: {:.1}x", ours.0 / theirs.0);
            println!(
                "ratio flare cached / getaddrinfo: {:.1}x",
                cached_rate / theirs.0
            );
        }
        None => println!(
            "getaddrinfo skipped (it could send packets off the machine): {}",
            local.unwrap_err()
        ),
    }
}

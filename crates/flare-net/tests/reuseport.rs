//! `SO_REUSEPORT` sets: one port, several listeners, connections spread
//! between them (Linux balances by a hash of the 4-tuple).

mod common;

use std::time::Instant;

use common::WAIT;
use flare_net::{bind_reuseport, Error, SocketAddr, TcpListener, TcpStream};
use rustix::event::{poll, PollFd, PollFlags, Timespec};

fn v4() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn port_zero_yields_one_shared_port() {
    let set = bind_reuseport(v4(), 4, 128).unwrap();
    assert_eq!(set.len(), 4);
    let port = set[0].local_addr().unwrap().port();
    assert_ne!(port, 0);
    for l in &set {
        assert_eq!(l.local_addr().unwrap().port(), port);
    }
    // IPv6 too.
    let set6 = bind_reuseport("[::1]:0".parse().unwrap(), 2, 128).unwrap();
    let p6 = set6[0].local_addr().unwrap().port();
    assert_eq!(set6[1].local_addr().unwrap().port(), p6);
}

#[test]
fn zero_listeners_is_invalid_input() {
    assert!(matches!(
        bind_reuseport(v4(), 0, 128),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn a_listener_without_reuse_port_cannot_join_the_set() {
    let set = bind_reuseport(v4(), 2, 128).unwrap();
    let addr = set[0].local_addr().unwrap();
    assert!(matches!(TcpListener::bind(addr), Err(Error::AddrInUse)));
    // With the option it can.
    let extra = TcpListener::builder(addr).reuse_port(true).bind().unwrap();
    assert_eq!(extra.local_addr().unwrap(), addr);
}

/// 200 connections to a port served by two listeners: both accept some, and
/// together exactly all.
#[cfg(target_os = "linux")]
#[test]
fn connections_spread_over_both_listeners() {
    const CONNECTIONS: usize = 200;
    let set = bind_reuseport(v4(), 2, 1024).unwrap();
    let addr = set[0].local_addr().unwrap();

    // Each client holds its descriptor until the end so that the 4-tuples stay
    // distinct; the accepted side is dropped right away.
    let clients: Vec<TcpStream> = (0..CONNECTIONS)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();

    let mut accepted = [0usize; 2];
    let deadline = Instant::now() + WAIT;
    while accepted.iter().sum::<usize>() < CONNECTIONS {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "accepted only {accepted:?}");
        let mut fds = [
            PollFd::new(&set[0], PollFlags::IN),
            PollFd::new(&set[1], PollFlags::IN),
        ];
        poll(&mut fds, Some(&Timespec::try_from(left).unwrap())).unwrap();
        for (i, listener) in set.iter().enumerate() {
            loop {
                match listener.accept() {
                    Ok(_) => accepted[i] += 1,
                    Err(Error::WouldBlock) => break,
                    Err(e) => panic!("accept: {e:?}"),
                }
            }
        }
    }
    eprintln!("SO_REUSEPORT spread of {CONNECTIONS} connections: {accepted:?}");
    assert_eq!(accepted.iter().sum::<usize>(), CONNECTIONS);
    assert!(accepted[0] > 0 && accepted[1] > 0, "{accepted:?}");
    drop(clients);
}

//! The poller and waker on real descriptors (loopback only, bounded).

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flare_reactor::{Events, Interest, Mode, Poller, Token, Waker};

#[test]
fn waker_wakes_from_another_thread() {
    let mut poller = Poller::new().unwrap();
    let waker = Arc::new(Waker::new(&poller, Token(42)).unwrap());
    let mut events = Events::with_capacity(8);
    // Nothing pending: a short poll times out.
    poller
        .poll(&mut events, Some(Duration::from_millis(1)))
        .unwrap();
    assert!(events.is_empty());

    let w = waker.clone();
    let t = std::thread::spawn(move || {
        for _ in 0..3 {
            w.wake().unwrap();
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        poller
            .poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        if events
            .iter()
            .any(|e| e.token() == Token(42) && e.is_readable())
        {
            break;
        }
        assert!(Instant::now() < deadline, "waker never woke the poller");
    }
    t.join().unwrap();
    waker.drain().unwrap();
    // Coalesced: after a drain nothing is pending.
    poller.poll(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(events.is_empty(), "{events:?}");
}

#[test]
fn edge_mode_reports_once_per_transition_and_level_repeats() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    server.set_nonblocking(true).unwrap();
    let mut poller = Poller::new().unwrap();
    let mut events = Events::with_capacity(8);
    poller
        .register(&server, Token(1), Interest::READABLE, Mode::Edge)
        .unwrap();
    client.write_all(b"x").unwrap();
    poller
        .poll(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(events.len(), 1);
    // Not drained, but edge-triggered: no second report.
    poller
        .poll(&mut events, Some(Duration::from_millis(20)))
        .unwrap();
    assert!(events.is_empty());
    poller
        .reregister(&server, Token(2), Interest::READABLE, Mode::Level)
        .unwrap();
    for _ in 0..2 {
        poller
            .poll(&mut events, Some(Duration::from_secs(5)))
            .unwrap();
        assert_eq!(events.iter().next().map(|e| e.token()), Some(Token(2)));
    }
    // Peer close shows as read-closed.
    drop(client);
    let mut buf = [0u8; 4];
    (&server).read_exact(&mut buf[..1]).unwrap();
    poller
        .poll(&mut events, Some(Duration::from_secs(5)))
        .unwrap();
    assert!(events.iter().any(|e| e.is_read_closed()), "{events:?}");
    poller.deregister(&server).unwrap();
    poller
        .poll(&mut events, Some(Duration::from_millis(10)))
        .unwrap();
    assert!(events.is_empty());
}

#[test]
fn exclusive_registration_cannot_be_modified() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let poller = Poller::new().unwrap();
    poller
        .register(&listener, Token(0), Interest::READABLE, Mode::Exclusive)
        .unwrap();
    let err = poller
        .reregister(&listener, Token(0), Interest::READABLE, Mode::Exclusive)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
}

/// An echo event loop on one thread serving 1,000 concurrent loopback connections to
/// completion: every client sends a message, every client gets it back.
#[test]
fn event_loop_serves_1000_concurrent_connections() {
    const CONNS: usize = 1000;
    const LISTENER: Token = Token(usize::MAX);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();

    let server = std::thread::spawn(move || {
        let mut poller = Poller::new().unwrap();
        poller
            .register(&listener, LISTENER, Interest::READABLE, Mode::Level)
            .unwrap();
        let mut events = Events::with_capacity(256);
        let mut conns: HashMap<usize, (TcpStream, Vec<u8>)> = HashMap::new();
        let mut next = 0usize;
        let mut finished = 0usize;
        let deadline = Instant::now() + Duration::from_secs(60);
        while finished < CONNS {
            assert!(
                Instant::now() < deadline,
                "server loop ran out of time ({finished} done)"
            );
            poller
                .poll(&mut events, Some(Duration::from_millis(100)))
                .unwrap();
            for ev in events.iter() {
                if ev.token() == LISTENER {
                    loop {
                        match listener.accept() {
                            Ok((s, _)) => {
                                s.set_nonblocking(true).unwrap();
                                poller
                                    .register(&s, Token(next), Interest::READABLE, Mode::Edge)
                                    .unwrap();
                                conns.insert(next, (s, Vec::new()));
                                next += 1;
                            }
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => panic!("accept: {e}"),
                        }
                    }
                    continue;
                }
                let key = ev.token().0;
                let mut done = false;
                if let Some((s, buf)) = conns.get_mut(&key) {
                    let mut tmp = [0u8; 4096];
                    loop {
                        match s.read(&mut tmp) {
                            Ok(0) => {
                                done = true;
                                break;
                            }
                            Ok(n) => buf.extend_from_slice(&tmp[..n]),
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => panic!("read: {e}"),
                        }
                    }
                    // Each message ends in '\n'; echo it whole (small, fits the socket buffer).
                    if buf.last() == Some(&b'\n') {
                        s.write_all(buf).unwrap();
                        buf.clear();
                    }
                }
                if done {
                    let (s, _) = conns.remove(&key).unwrap();
                    poller.deregister(&s).unwrap();
                    finished += 1;
                }
            }
        }
        finished
    });

    // Open all connections first so they are concurrent, then talk on each.
    let clients: Vec<std::thread::JoinHandle<()>> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut socks = Vec::new();
                for i in 0..CONNS / 4 {
                    let s = TcpStream::connect(addr).unwrap();
                    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                    socks.push((s, format!("client {t} conn {i}\n")));
                }
                for (s, msg) in &mut socks {
                    s.write_all(msg.as_bytes()).unwrap();
                }
                for (s, msg) in &mut socks {
                    let mut got = vec![0u8; msg.len()];
                    s.read_exact(&mut got).unwrap();
                    assert_eq!(got, msg.as_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    assert_eq!(server.join().unwrap(), CONNS);
}

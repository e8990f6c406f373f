//! TCP on loopback without a reactor: blocking echo over IPv4 and IPv6, error
//! mapping for refused/timed-out/closed connections, socket options.

mod common;

use std::io::{IoSlice, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown};
use std::thread;
use std::time::{Duration, Instant};

use common::{payload, wait_for, wait_readable, wait_writable, WAIT};
use flare_net::{Error, SocketAddr, TcpListener, TcpStream};
use rustix::event::PollFlags;

fn v4() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn v6() -> SocketAddr {
    "[::1]:0".parse().unwrap()
}

/// Accept one connection on a background thread and echo it back in blocking
/// mode until the client shuts down its side. Returns the listener's address.
fn spawn_echo(bind: SocketAddr) -> (SocketAddr, thread::JoinHandle<usize>) {
    let listener = TcpListener::bind(bind).unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = thread::spawn(move || {
        wait_readable(&listener);
        let (stream, _peer) = listener.accept().unwrap();
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut buf = [0u8; 4096];
        let mut total = 0;
        loop {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                return total;
            }
            (&stream).write_all(&buf[..n]).unwrap();
            total += n;
        }
    });
    (addr, handle)
}

fn echo_round_trip(bind: SocketAddr) {
    let (addr, server) = spawn_echo(bind);
    let client = TcpStream::connect(addr).unwrap();
    client.set_read_timeout(Some(WAIT)).unwrap();
    assert_eq!(client.peer_addr().unwrap(), addr);
    assert_eq!(client.local_addr().unwrap().ip(), addr.ip());

    // Write from another thread so neither side can fill its buffer and stall.
    let data = payload(256 * 1024);
    let writer = {
        let data = data.clone();
        let client = dup(&client);
        thread::spawn(move || {
            (&client).write_all(&data).unwrap();
            client.shutdown(Shutdown::Write).unwrap();
        })
    };
    let mut echoed = Vec::new();
    (&client).read_to_end(&mut echoed).unwrap();
    writer.join().unwrap();
    assert_eq!(echoed, data);
    assert_eq!(server.join().unwrap(), data.len());
}

/// A second handle on one stream. The API has no `try_clone` (a server never
/// needs one), so duplicate the descriptor.
fn dup(s: &TcpStream) -> TcpStream {
    TcpStream::from(rustix::io::fcntl_dupfd_cloexec(s, 0).unwrap())
}

#[test]
fn blocking_echo_ipv4() {
    echo_round_trip(v4());
}

#[test]
fn blocking_echo_ipv6() {
    echo_round_trip(v6());
}

#[test]
fn addresses_parse_and_display_for_v4_and_v6() {
    let a: SocketAddr = "127.0.0.1:8080".parse().unwrap();
    assert_eq!(a.ip(), IpAddr::V4(Ipv4Addr::LOCALHOST));
    assert_eq!(a.to_string(), "127.0.0.1:8080");
    let b: SocketAddr = "[::1]:443".parse().unwrap();
    assert_eq!(b.ip(), IpAddr::V6(Ipv6Addr::LOCALHOST));
    assert_eq!(b.to_string(), "[::1]:443");
    assert!("::1:443".parse::<SocketAddr>().is_err());

    // Addresses the kernel returns come back as the same std values.
    let l4 = TcpListener::bind(v4()).unwrap();
    let got = l4.local_addr().unwrap();
    assert_ne!(got.port(), 0);
    assert_eq!(got.to_string(), format!("127.0.0.1:{}", got.port()));
    let l6 = TcpListener::bind(v6()).unwrap();
    let got = l6.local_addr().unwrap();
    assert_eq!(got.to_string(), format!("[::1]:{}", got.port()));
}

/// A port nobody listens on: bind one, note it, close it.
fn closed_port(bind: SocketAddr) -> SocketAddr {
    let l = TcpListener::bind(bind).unwrap();
    l.local_addr().unwrap()
}

#[test]
fn connect_to_closed_port_is_refused() {
    for bind in [v4(), v6()] {
        let addr = closed_port(bind);
        match TcpStream::connect(addr) {
            Err(Error::ConnectionRefused) => {}
            other => panic!("{addr}: expected ConnectionRefused, got {other:?}"),
        }
        match TcpStream::connect_timeout(addr, WAIT) {
            Err(Error::ConnectionRefused) => {}
            other => panic!("{addr}: expected ConnectionRefused, got {other:?}"),
        }
    }
}

#[test]
fn nonblocking_connect_reports_refusal_through_take_error() {
    let addr = closed_port(v4());
    let s = TcpStream::connect_nonblocking(addr).unwrap();
    wait_writable(&s);
    match s.take_error().unwrap() {
        Some(Error::ConnectionRefused) => {}
        other => panic!("expected Some(ConnectionRefused), got {other:?}"),
    }
    // The error is consumed by reading it.
    assert!(s.take_error().unwrap().is_none());
    assert!(matches!(s.peer_addr(), Err(Error::NotConnected)));
}

#[test]
fn nonblocking_connect_succeeds_and_stream_is_nonblocking() {
    let listener = TcpListener::bind(v4()).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect_nonblocking(addr).unwrap();
    wait_writable(&client);
    assert!(client.take_error().unwrap().is_none());
    assert_eq!(client.peer_addr().unwrap(), addr);
    // No data yet: a non-blocking read says so instead of waiting.
    assert!(matches!(client.read(&mut [0u8; 8]), Err(Error::WouldBlock)));

    wait_readable(&listener);
    let (server, peer) = listener.accept().unwrap();
    assert_eq!(peer, client.local_addr().unwrap());
    // Accepted streams are non-blocking too.
    assert!(server.read(&mut [0u8; 8]).unwrap_err().is_would_block());
}

#[test]
fn accept_on_empty_queue_would_block() {
    let listener = TcpListener::bind(v4()).unwrap();
    assert!(matches!(listener.accept(), Err(Error::WouldBlock)));
    let e = std::io::Error::from(listener.accept().unwrap_err());
    assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
}

#[test]
fn connect_timeout_connects_and_returns_blocking_stream() {
    let listener = TcpListener::bind(v4()).unwrap();
    let addr = listener.local_addr().unwrap();
    let client = TcpStream::connect_timeout(addr, Duration::from_secs(5)).unwrap();
    wait_readable(&listener);
    let (server, _) = listener.accept().unwrap();
    server.write(b"hi").unwrap();
    // Blocking: the read waits for the data instead of failing.
    client.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 2];
    (&client).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"hi");
}

#[test]
fn connect_timeout_zero_is_invalid_input() {
    let addr = closed_port(v4());
    assert!(matches!(
        TcpStream::connect_timeout(addr, Duration::ZERO),
        Err(Error::InvalidInput(_))
    ));
}

/// With a backlog of 1 and nobody accepting, Linux drops further SYNs once the
/// accept queue is full, so some connect must run into its deadline. This also
/// exercises the backlog limit itself.
#[cfg(target_os = "linux")]
#[test]
fn connect_timeout_times_out_when_the_backlog_is_full() {
    let listener = TcpListener::builder(v4()).backlog(1).bind().unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let mut timed_out = None;
    for attempt in 0..32 {
        let started = Instant::now();
        match TcpStream::connect_timeout(addr, Duration::from_millis(200)) {
            Ok(s) => held.push(s),
            Err(Error::TimedOut) => {
                assert!(started.elapsed() >= Duration::from_millis(200));
                timed_out = Some(attempt);
                break;
            }
            Err(e) => panic!("attempt {attempt}: unexpected {e:?}"),
        }
    }
    let attempt = timed_out.expect("no connect timed out against a full backlog");
    // backlog 1 queues at most a couple of connections before dropping SYNs.
    assert!(attempt <= 4, "timed out only at attempt {attempt}");
    assert!(!held.is_empty());
}

#[test]
fn nodelay_and_keepalive_round_trip() {
    let listener = TcpListener::bind(v4()).unwrap();
    let s = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    assert!(!s.nodelay().unwrap());
    s.set_nodelay(true).unwrap();
    assert!(s.nodelay().unwrap());
    s.set_nodelay(false).unwrap();
    assert!(!s.nodelay().unwrap());

    assert_eq!(s.keepalive().unwrap(), None);
    s.set_keepalive(Some(Duration::from_secs(30))).unwrap();
    assert_eq!(s.keepalive().unwrap(), Some(Duration::from_secs(30)));
    // Sub-second idle times round up to the kernel's one-second granularity.
    s.set_keepalive(Some(Duration::from_millis(1500))).unwrap();
    assert_eq!(s.keepalive().unwrap(), Some(Duration::from_secs(2)));
    s.set_keepalive(Some(Duration::ZERO)).unwrap();
    assert_eq!(s.keepalive().unwrap(), Some(Duration::from_secs(1)));
    s.set_keepalive(None).unwrap();
    assert_eq!(s.keepalive().unwrap(), None);

    assert!(matches!(
        s.set_read_timeout(Some(Duration::ZERO)),
        Err(Error::InvalidInput(_))
    ));
}

#[test]
fn read_timeout_on_blocking_stream_is_would_block() {
    let listener = TcpListener::bind(v4()).unwrap();
    let s = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    assert!(matches!(s.read(&mut [0u8; 4]), Err(Error::WouldBlock)));
}

#[test]
fn peek_shutdown_and_writev() {
    let listener = TcpListener::bind(v4()).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    wait_readable(&listener);
    let (server, _) = listener.accept().unwrap();

    let parts = [
        IoSlice::new(b"GET / HTTP/1.1\r\n"),
        IoSlice::new(b"Host: x\r\n"),
        IoSlice::new(b"\r\n"),
    ];
    let n = client.writev(&parts).unwrap();
    assert_eq!(n, 16 + 9 + 2);
    client.shutdown(Shutdown::Write).unwrap();

    wait_readable(&server);
    let mut peeked = [0u8; 3];
    assert_eq!(server.peek(&mut peeked).unwrap(), 3);
    assert_eq!(&peeked, b"GET");

    let mut all = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        match server.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(Error::WouldBlock) => {
                wait_readable(&server);
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(all, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
}

#[test]
fn writev_sends_at_most_iov_max_slices_per_call() {
    let listener = TcpListener::bind(v4()).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let byte = [b'x'];
    let slices: Vec<IoSlice<'_>> = (0..3000).map(|_| IoSlice::new(&byte)).collect();
    // The kernel would reject 3000 slices with EMSGSIZE; the stream sends the
    // first 1024 and leaves the rest for the next call.
    assert_eq!(client.writev(&slices).unwrap(), 1024);
    let n = (&client).write_vectored(&slices[1024..]).unwrap();
    assert_eq!(n, 1024);
}

#[test]
fn writing_to_a_closed_peer_is_reset_then_broken_pipe() {
    let listener = TcpListener::bind(v4()).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    wait_readable(&listener);
    let (server, _) = listener.accept().unwrap();
    drop(server);

    // The first write is accepted locally and answered with RST; once that has
    // arrived (the socket reports an error/hang-up), writing fails: first with
    // the pending reset, then with EPIPE. (tests/sigpipe.rs checks that this
    // does not raise SIGPIPE.)
    client.write(b"first").unwrap();
    let ready = wait_for(&client, PollFlags::IN);
    assert!(ready.intersects(PollFlags::IN | PollFlags::HUP | PollFlags::ERR));
    let mut saw = Vec::new();
    for _ in 0..3 {
        match client.write(b"more") {
            Ok(_) => continue,
            Err(e) => saw.push(e),
        }
    }
    assert!(
        saw.iter()
            .any(|e| matches!(e, Error::BrokenPipe | Error::ConnectionReset)),
        "{saw:?}"
    );
    assert!(
        saw.iter().any(|e| matches!(e, Error::BrokenPipe)),
        "{saw:?}"
    );
}

#[test]
fn std_conversions_and_io_traits() {
    let listener = TcpListener::bind(v4()).unwrap();
    let addr = listener.local_addr().unwrap();
    let std_client = std::net::TcpStream::connect(addr).unwrap();
    let client = TcpStream::from_std(std_client);
    assert_eq!(client.peer_addr().unwrap(), addr);

    wait_readable(&listener);
    let (server, _) = listener.accept().unwrap();
    let mut client_ref = &client;
    client_ref.write_all(b"abc").unwrap();
    client_ref.flush().unwrap();

    let mut std_server = server.into_std();
    std_server.set_nonblocking(false).unwrap();
    std_server.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 3];
    std_server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"abc");

    let back = TcpStream::from_std(std_server);
    let mut owned = client;
    back.write(b"z").unwrap();
    let mut one = [0u8; 1];
    owned.set_read_timeout(Some(WAIT)).unwrap();
    owned.read_exact(&mut one).unwrap();
    assert_eq!(&one, b"z");
}

#[test]
fn listener_builder_options() {
    // IPV6_V6ONLY only makes sense for IPv6.
    assert!(matches!(
        TcpListener::builder(v4()).only_v6(true).bind(),
        Err(Error::InvalidInput(_))
    ));
    let l6 = TcpListener::builder(v6()).only_v6(true).bind().unwrap();
    assert!(l6.local_addr().unwrap().is_ipv6());

    // Two live listeners on one port need SO_REUSEPORT on both.
    let first = TcpListener::bind(v4()).unwrap();
    let taken = first.local_addr().unwrap();
    assert!(matches!(TcpListener::bind(taken), Err(Error::AddrInUse)));
    assert!(matches!(
        TcpListener::builder(taken).reuse_addr(false).bind(),
        Err(Error::AddrInUse)
    ));

    // A blocking listener, used with a bounded wait so the test cannot hang.
    let blocking = TcpListener::builder(v4())
        .nonblocking(false)
        .bind()
        .unwrap();
    let _c = TcpStream::connect(blocking.local_addr().unwrap()).unwrap();
    wait_readable(&blocking);
    let (s, _) = blocking.accept().unwrap();
    // Accepted streams are non-blocking even from a blocking listener.
    assert!(s.read(&mut [0u8; 1]).unwrap_err().is_would_block());
    assert!(blocking.take_error().unwrap().is_none());
}

#[test]
fn linger_zero_resets_the_peer() {
    let listener = TcpListener::bind(v4()).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    wait_readable(&listener);
    let (server, _) = listener.accept().unwrap();
    assert_eq!(server.linger().unwrap(), None);
    server
        .set_linger(Some(Duration::from_millis(1500)))
        .unwrap();
    assert_eq!(server.linger().unwrap(), Some(Duration::from_secs(2)));
    server.set_linger(Some(Duration::ZERO)).unwrap();
    assert_eq!(server.linger().unwrap(), Some(Duration::ZERO));
    drop(server);
    client.set_read_timeout(Some(WAIT)).unwrap();
    assert!(matches!(
        client.read(&mut [0u8; 8]),
        Err(Error::ConnectionReset)
    ));
}

/// Small kernel buffers make a non-blocking writer hit `WouldBlock` after a
/// bounded amount of data, and the peer can then read all of it.
#[test]
fn small_buffers_bound_what_a_nonblocking_write_accepts() {
    let listener = TcpListener::bind(v4()).unwrap();
    let client = TcpStream::connect_nonblocking(listener.local_addr().unwrap()).unwrap();
    client.set_send_buffer_size(4096).unwrap();
    assert!(client.send_buffer_size().unwrap() >= 4096);
    wait_readable(&listener);
    let (server, _) = listener.accept().unwrap();
    server.set_recv_buffer_size(4096).unwrap();
    assert!(server.recv_buffer_size().unwrap() >= 4096);
    wait_writable(&client);

    let chunk = [b'a'; 1024];
    let mut queued = 0usize;
    loop {
        match client.write(&chunk) {
            Ok(n) => queued += n,
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("{e:?}"),
        }
        assert!(
            queued < 16 * 1024 * 1024,
            "small buffers did not bound the write"
        );
    }
    assert!(queued > 0);
    let mut read = 0usize;
    let mut buf = [0u8; 4096];
    while read < queued {
        match server.read(&mut buf) {
            Ok(0) => panic!("early EOF"),
            Ok(n) => read += n,
            Err(Error::WouldBlock) => {
                wait_readable(&server);
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(read, queued);
}

#[test]
fn listener_std_round_trip() {
    let l = TcpListener::bind(v4()).unwrap();
    let addr = l.local_addr().unwrap();
    let std_l = l.into_std();
    assert_eq!(std_l.local_addr().unwrap(), addr);
    let back = TcpListener::from_std(std_l);
    let _c = TcpStream::connect(addr).unwrap();
    wait_readable(&back);
    back.accept().unwrap();
}

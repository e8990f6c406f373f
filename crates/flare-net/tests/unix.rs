//! Unix-domain sockets: path and abstract names, streams and datagrams,
//! addresses, and the errors for missing, stale and full listeners.

mod common;

use std::io::{IoSlice, Read, Write};
use std::net::Shutdown;
use std::thread;

use common::{abstract_name, payload, socket_path, wait_readable, wait_writable, WAIT};
use flare_net::{Error, UnixAddr, UnixDatagram, UnixListener, UnixStream};

/// Accept one connection and echo it (blocking, bounded by `WAIT`) until EOF.
fn spawn_echo(listener: UnixListener) -> thread::JoinHandle<UnixAddr> {
    thread::spawn(move || {
        wait_readable(&listener);
        let (stream, peer) = listener.accept().unwrap();
        stream.set_nonblocking(false).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).unwrap();
            if n == 0 {
                return peer;
            }
            (&stream).write_all(&buf[..n]).unwrap();
        }
    })
}

/// Send `data` and read the echo, writing from a second thread.
fn echo_through(client: UnixStream, data: &[u8]) -> Vec<u8> {
    client.set_read_timeout(Some(WAIT)).unwrap();
    let writer_fd = rustix::io::fcntl_dupfd_cloexec(&client, 0).unwrap();
    let writer = UnixStream::from(writer_fd);
    let data_owned = data.to_vec();
    let t = thread::spawn(move || {
        (&writer).write_all(&data_owned).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let mut out = Vec::new();
    (&client).read_to_end(&mut out).unwrap();
    t.join().unwrap();
    out
}

#[test]
fn path_listener_echo_and_addresses() {
    let path = socket_path("echo");
    let listener = UnixListener::bind(&path).unwrap();
    assert_eq!(listener.local_addr().unwrap(), UnixAddr::Path(path.clone()));
    let server = spawn_echo(listener);

    let client = UnixStream::connect(&path).unwrap();
    assert_eq!(client.peer_addr().unwrap(), UnixAddr::Path(path.clone()));
    assert_eq!(client.local_addr().unwrap(), UnixAddr::Unnamed);
    let data = payload(200 * 1024);
    assert_eq!(echo_through(client, &data), data);
    assert_eq!(server.join().unwrap(), UnixAddr::Unnamed);

    // The file stays after the listener is gone: binding again is AddrInUse,
    // and connecting to it is refused.
    assert!(path.exists());
    assert!(matches!(UnixListener::bind(&path), Err(Error::AddrInUse)));
    assert!(matches!(
        UnixStream::connect(&path),
        Err(Error::ConnectionRefused)
    ));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn connect_to_missing_path_is_enoent() {
    let path = socket_path("missing");
    match UnixStream::connect(&path) {
        Err(Error::Os(errno)) => assert_eq!(errno, rustix::io::Errno::NOENT),
        other => panic!("expected ENOENT, got {other:?}"),
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn abstract_listener_echo_and_addresses() {
    let name = abstract_name("echo");
    let listener = UnixListener::bind_abstract(&name).unwrap();
    assert_eq!(
        listener.local_addr().unwrap(),
        UnixAddr::Abstract(name.clone())
    );
    // Abstract names are exclusive too, but leave no file behind.
    assert!(matches!(
        UnixListener::bind_abstract(&name),
        Err(Error::AddrInUse)
    ));
    let server = spawn_echo(listener);
    let client = UnixStream::connect_abstract(&name).unwrap();
    assert_eq!(
        client.peer_addr().unwrap(),
        UnixAddr::Abstract(name.clone())
    );
    assert_eq!(echo_through(client, b"abstract hello"), b"abstract hello");
    server.join().unwrap();
    // Gone with the listener.
    assert!(matches!(
        UnixStream::connect_abstract(&name),
        Err(Error::ConnectionRefused)
    ));
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn unnamed_bind_autobinds_an_abstract_name() {
    let listener = UnixListener::bind_addr(&UnixAddr::Unnamed, 8).unwrap();
    let addr = listener.local_addr().unwrap();
    let name = addr
        .as_abstract_name()
        .expect("autobind gives an abstract name");
    assert!(!name.is_empty());
    let _client = UnixStream::connect_addr(&addr).unwrap();
    wait_readable(&listener);
    listener.accept().unwrap();
}

#[test]
fn pair_is_blocking_and_connected() {
    let (a, b) = UnixStream::pair().unwrap();
    assert_eq!(a.peer_addr().unwrap(), UnixAddr::Unnamed);
    let n = a
        .writev(&[IoSlice::new(b"one "), IoSlice::new(b"two")])
        .unwrap();
    assert_eq!(n, 7);
    b.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = [0u8; 7];
    assert_eq!(b.peek(&mut buf[..3]).unwrap(), 3);
    (&b).read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"one two");

    // Blocking: with a short timeout an empty read times out.
    b.set_read_timeout(Some(std::time::Duration::from_millis(20)))
        .unwrap();
    assert!(matches!(b.read(&mut buf), Err(Error::WouldBlock)));
    // Non-blocking once asked.
    b.set_nonblocking(true).unwrap();
    assert!(matches!(b.read(&mut buf), Err(Error::WouldBlock)));

    // Writing after the peer is gone is BrokenPipe.
    drop(b);
    assert!(matches!(a.write(b"x"), Err(Error::BrokenPipe)));
}

#[cfg(target_os = "linux")]
#[test]
fn full_backlog_makes_nonblocking_connect_would_block() {
    // Linux queues backlog + 1 connections; the next non-blocking connect
    // finds no room.
    let name = abstract_name("backlog");
    let listener = UnixListener::bind_addr(&UnixAddr::Abstract(name.clone()), 1).unwrap();
    let addr = listener.local_addr().unwrap();
    let mut held = Vec::new();
    let mut refused_at = None;
    for i in 0..16 {
        match UnixStream::connect_nonblocking(&addr) {
            Ok(s) => held.push(s),
            Err(Error::WouldBlock) => {
                refused_at = Some(i);
                break;
            }
            Err(e) => panic!("connect {i}: {e:?}"),
        }
    }
    assert_eq!(refused_at, Some(2), "backlog 1 should queue exactly 2");
    // Accepting one makes room again.
    wait_readable(&listener);
    listener.accept().unwrap();
    UnixStream::connect_nonblocking(&addr).unwrap();
}

#[test]
fn accept_on_empty_listener_would_block() {
    let path = socket_path("empty");
    let listener = UnixListener::bind(&path).unwrap();
    assert!(matches!(listener.accept(), Err(Error::WouldBlock)));
    assert!(listener.take_error().unwrap().is_none());
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn datagram_paths_carry_the_sender_address() {
    let a_path = socket_path("dgram-a");
    let b_path = socket_path("dgram-b");
    let a = UnixDatagram::bind(&a_path).unwrap();
    let b = UnixDatagram::bind(&b_path).unwrap();
    assert!(matches!(b.recv_from(&mut [0u8; 8]), Err(Error::WouldBlock)));

    let b_addr = UnixAddr::Path(b_path.clone());
    assert_eq!(a.send_to(b"hello b", &b_addr).unwrap(), 7);
    wait_readable(&b);
    let mut buf = [0u8; 32];
    let (n, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"hello b");
    assert_eq!(from, UnixAddr::Path(a_path.clone()));

    // Reply to whoever sent it.
    b.send_to(b"hi a", &from).unwrap();
    wait_readable(&a);
    let (n, from) = a.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"hi a"[..], b_addr));

    // Unbound senders are unnamed; sending to an unnamed address is invalid.
    let anon = UnixDatagram::unbound().unwrap();
    anon.send_to(b"?", &UnixAddr::Path(b_path.clone())).unwrap();
    wait_readable(&b);
    let (_, from) = b.recv_from(&mut buf).unwrap();
    assert_eq!(from, UnixAddr::Unnamed);
    assert!(matches!(
        b.send_to(b"x", &from),
        Err(Error::InvalidInput(_))
    ));

    // Connected datagrams.
    a.connect(&b_path).unwrap();
    assert_eq!(a.peer_addr().unwrap(), UnixAddr::Path(b_path.clone()));
    a.send(b"connected").unwrap();
    wait_readable(&b);
    let n = b.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"connected");

    drop((a, b));
    std::fs::remove_file(&a_path).unwrap();
    std::fs::remove_file(&b_path).unwrap();
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn datagram_abstract_names() {
    let name = abstract_name("dgram");
    let server = UnixDatagram::bind_abstract(&name).unwrap();
    assert_eq!(
        server.local_addr().unwrap(),
        UnixAddr::Abstract(name.clone())
    );
    let client = UnixDatagram::bind_addr(&UnixAddr::Unnamed).unwrap();
    let client_addr = client.local_addr().unwrap();
    assert!(client_addr.as_abstract_name().is_some());
    client.connect_abstract(&name).unwrap();
    client.send(b"q").unwrap();
    wait_readable(&server);
    let mut buf = [0u8; 4];
    let (n, from) = server.recv_from(&mut buf).unwrap();
    assert_eq!((n, &from), (1, &client_addr));
    server.send_to(b"a", &from).unwrap();
    wait_readable(&client);
    assert_eq!(client.recv(&mut buf).unwrap(), 1);
}

#[test]
fn datagram_pair_and_full_queue() {
    let (a, b) = UnixDatagram::pair().unwrap();
    a.set_nonblocking(true).unwrap();
    b.set_nonblocking(true).unwrap();
    // Fill b's receive queue: a non-blocking sender gets WouldBlock, bounded
    // by the kernel's per-socket datagram and buffer limits.
    let chunk = [7u8; 1024];
    let mut sent = 0;
    loop {
        match a.send(&chunk) {
            Ok(n) => {
                assert_eq!(n, chunk.len());
                sent += 1;
            }
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("{e:?}"),
        }
        assert!(sent < 100_000, "queue never filled");
    }
    assert!(sent > 0);
    // Every datagram arrives whole; then the sender is writable again.
    let mut buf = [0u8; 2048];
    for _ in 0..sent {
        assert_eq!(b.recv(&mut buf).unwrap(), 1024);
    }
    assert!(matches!(b.recv(&mut buf), Err(Error::WouldBlock)));
    wait_writable(&a);
    a.send(b"room again").unwrap();
}

#[test]
fn std_round_trip() {
    let (a, b) = UnixStream::pair().unwrap();
    let std_a = a.into_std();
    let a = UnixStream::from_std(std_a);
    a.write(b"k").unwrap();
    b.set_read_timeout(Some(WAIT)).unwrap();
    let mut one = [0u8; 1];
    (&b).read_exact(&mut one).unwrap();
    assert_eq!(&one, b"k");
}

/// A peer may bind a path that fills all 108 bytes of `sun_path`, leaving no
/// NUL. Its address must decode (rustix's own conversion asserts on it).
#[cfg(target_os = "linux")]
#[test]
fn sender_with_a_path_filling_sun_path_decodes() {
    let dir = std::env::temp_dir();
    let prefix = format!("{}/fnet{}-", dir.display(), std::process::id());
    assert!(prefix.len() < 100, "temp dir path too long for this test");
    let long = std::path::PathBuf::from(format!("{prefix}{}", "x".repeat(108 - prefix.len())));
    assert_eq!(long.as_os_str().len(), 108);
    let _ = std::fs::remove_file(&long);

    let sender = UnixDatagram::bind(&long).unwrap();
    assert_eq!(sender.local_addr().unwrap(), UnixAddr::Path(long.clone()));
    let receiver_path = socket_path("long-rx");
    let receiver = UnixDatagram::bind(&receiver_path).unwrap();
    sender
        .send_to(b"m", &UnixAddr::Path(receiver_path.clone()))
        .unwrap();
    wait_readable(&receiver);
    let (n, from) = receiver.recv_from(&mut [0u8; 4]).unwrap();
    assert_eq!((n, from), (1, UnixAddr::Path(long.clone())));
    std::fs::remove_file(&long).unwrap();
    std::fs::remove_file(&receiver_path).unwrap();
}

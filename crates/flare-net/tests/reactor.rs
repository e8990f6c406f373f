//! The sockets driven by `flare_reactor::Poller`, the way a worker drives
//! them: non-blocking, read and write until `WouldBlock`, one event loop, every
//! run bounded by a deadline.

mod common;

use std::cell::Cell;
use std::collections::HashMap;
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use common::{payload, WAIT};
use flare_net::{
    Error, SocketAddr, TcpListener, TcpStream, UdpSocket, UnixAddr, UnixDatagram, UnixListener,
    UnixStream,
};
use flare_reactor::{Events, Interest, Mode, Poller, Token};

const LISTENER: Token = Token(0);
const CLIENT_BASE: usize = 1;
const SERVER_BASE: usize = 10_000;
/// A server connection stops reading while this much echo is unsent, so a
/// slow reader exerts back-pressure instead of growing a buffer.
const PENDING_CAP: usize = 64 * 1024;

/// What the echo loop needs from a stream type.
trait Stream: AsFd {
    fn read(&self, buf: &mut [u8]) -> flare_net::Result<usize>;
    fn write(&self, buf: &[u8]) -> flare_net::Result<usize>;
}

impl Stream for TcpStream {
    fn read(&self, buf: &mut [u8]) -> flare_net::Result<usize> {
        TcpStream::read(self, buf)
    }
    fn write(&self, buf: &[u8]) -> flare_net::Result<usize> {
        TcpStream::write(self, buf)
    }
}

impl Stream for UnixStream {
    fn read(&self, buf: &mut [u8]) -> flare_net::Result<usize> {
        UnixStream::read(self, buf)
    }
    fn write(&self, buf: &[u8]) -> flare_net::Result<usize> {
        UnixStream::write(self, buf)
    }
}

/// What the echo loop needs from a listener type.
trait Listener: AsFd {
    type Conn: Stream;
    fn accept_conn(&self) -> flare_net::Result<Self::Conn>;
}

impl Listener for TcpListener {
    type Conn = TcpStream;
    fn accept_conn(&self) -> flare_net::Result<TcpStream> {
        self.accept().map(|(s, _)| s)
    }
}

impl Listener for UnixListener {
    type Conn = UnixStream;
    fn accept_conn(&self) -> flare_net::Result<UnixStream> {
        self.accept().map(|(s, _)| s)
    }
}

/// Read everything available into `into`, up to `limit` bytes held.
/// Returns (made progress, saw end-of-stream).
fn drain_read(s: &impl Stream, into: &mut Vec<u8>, limit: usize) -> (bool, bool) {
    let mut buf = [0u8; 16 * 1024];
    let mut progress = false;
    while into.len() < limit {
        let room = (limit - into.len()).min(buf.len());
        match s.read(&mut buf[..room]) {
            Ok(0) => return (progress, true),
            Ok(n) => {
                into.extend_from_slice(&buf[..n]);
                progress = true;
            }
            Err(Error::WouldBlock) => break,
            Err(e) => panic!("read: {e:?}"),
        }
    }
    (progress, false)
}

thread_local! {
    /// How many writes found the socket buffer full in this test's thread:
    /// the TCP test asserts that back-pressure really happened.
    static WRITES_BLOCKED: Cell<usize> = const { Cell::new(0) };
}

/// Write from the front of `from` until it is empty or the socket is full.
fn drain_write(s: &impl Stream, from: &mut Vec<u8>) -> bool {
    let mut written = 0;
    while written < from.len() {
        match s.write(&from[written..]) {
            Ok(n) => written += n,
            Err(Error::WouldBlock) => {
                WRITES_BLOCKED.with(|n| n.set(n.get() + 1));
                break;
            }
            Err(e) => panic!("write: {e:?}"),
        }
    }
    from.drain(..written);
    written > 0
}

struct Client<S> {
    stream: S,
    unsent: Vec<u8>,
    received: Vec<u8>,
}

struct ServerConn<S> {
    stream: S,
    pending: Vec<u8>,
    peer_closed: bool,
}

/// Echo `clients.len()` payloads through one edge-triggered event loop: the
/// listener level-triggered, every connection edge-triggered. Returns the
/// number of poll rounds it took.
fn run_echo<L: Listener>(
    poller: &mut Poller,
    listener: &L,
    streams: Vec<L::Conn>,
    size: usize,
) -> usize {
    poller
        .register(listener, LISTENER, Interest::READABLE, Mode::Level)
        .unwrap();
    let data = payload(size);
    let mut clients: HashMap<usize, Client<L::Conn>> = HashMap::new();
    for (i, stream) in streams.into_iter().enumerate() {
        let token = Token(CLIENT_BASE + i);
        poller
            .register(
                &stream,
                token,
                Interest::READABLE | Interest::WRITABLE,
                Mode::Edge,
            )
            .unwrap();
        clients.insert(
            token.0,
            Client {
                stream,
                unsent: data.clone(),
                received: Vec::with_capacity(size),
            },
        );
    }
    let total = clients.len();
    let mut servers: HashMap<usize, ServerConn<L::Conn>> = HashMap::new();
    let mut next_server = SERVER_BASE;
    let mut done = 0;
    let mut rounds = 0;
    let mut events = Events::with_capacity(256);
    let deadline = Instant::now() + WAIT;

    while done < total {
        assert!(
            Instant::now() < deadline,
            "echo stalled: {done}/{total} done"
        );
        rounds += 1;
        poller
            .poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        for ev in events.iter() {
            let t = ev.token().0;
            if ev.token() == LISTENER {
                loop {
                    match listener.accept_conn() {
                        Ok(stream) => {
                            let token = Token(next_server);
                            next_server += 1;
                            poller
                                .register(
                                    &stream,
                                    token,
                                    Interest::READABLE | Interest::WRITABLE,
                                    Mode::Edge,
                                )
                                .unwrap();
                            servers.insert(
                                token.0,
                                ServerConn {
                                    stream,
                                    pending: Vec::new(),
                                    peer_closed: false,
                                },
                            );
                        }
                        Err(Error::WouldBlock) => break,
                        Err(e) => panic!("accept: {e:?}"),
                    }
                }
            } else if t >= SERVER_BASE {
                let Some(conn) = servers.get_mut(&t) else {
                    continue;
                };
                // Pump until neither direction moves: edge mode reports each
                // transition once.
                loop {
                    let wrote = drain_write(&conn.stream, &mut conn.pending);
                    let (read, eof) = drain_read(&conn.stream, &mut conn.pending, PENDING_CAP);
                    conn.peer_closed |= eof;
                    if !wrote && !read {
                        break;
                    }
                }
                if conn.peer_closed && conn.pending.is_empty() {
                    poller.deregister(&conn.stream).unwrap();
                    servers.remove(&t);
                }
            } else {
                let Some(client) = clients.get_mut(&t) else {
                    continue;
                };
                assert!(!ev.is_error(), "client {t}: {ev:?}");
                drain_write(&client.stream, &mut client.unsent);
                let (_, eof) = drain_read(&client.stream, &mut client.received, size);
                assert!(!eof, "server closed early");
                if client.unsent.is_empty() {
                    // Nothing left to write: only readability matters now.
                    poller
                        .reregister(&client.stream, Token(t), Interest::READABLE, Mode::Edge)
                        .unwrap();
                }
                if client.received.len() == size {
                    assert!(client.received == data, "client {t}: echo differs");
                    poller.deregister(&client.stream).unwrap();
                    clients.remove(&t);
                    done += 1;
                }
            }
        }
    }
    rounds
}

#[test]
fn tcp_echo_through_the_reactor() {
    const CLIENTS: usize = 16;
    const SIZE: usize = 4 * 1024 * 1024;
    let mut poller = Poller::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let streams = (0..CLIENTS)
        .map(|_| TcpStream::connect_nonblocking(addr).unwrap())
        .collect();
    let rounds = run_echo(&mut poller, &listener, streams, SIZE);
    let blocked = WRITES_BLOCKED.with(Cell::get);
    eprintln!("tcp: {CLIENTS} x {SIZE} bytes echoed in {rounds} poll rounds, {blocked} writes hit WouldBlock");
    // 4 MiB per client does not fit in loopback socket buffers, so the loop
    // must have resumed writes on writable edges.
    assert!(blocked > 0);
}

#[test]
fn tcp_v6_echo_through_the_reactor() {
    let mut poller = Poller::new().unwrap();
    let listener = TcpListener::bind("[::1]:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let streams = (0..4)
        .map(|_| TcpStream::connect_nonblocking(addr).unwrap())
        .collect();
    run_echo(&mut poller, &listener, streams, 64 * 1024);
}

#[test]
fn unix_echo_through_the_reactor() {
    const CLIENTS: usize = 8;
    let mut poller = Poller::new().unwrap();
    let path = common::socket_path("reactor");
    let listener = UnixListener::bind(&path).unwrap();
    let addr = UnixAddr::Path(path.clone());
    let streams = (0..CLIENTS)
        .map(|_| UnixStream::connect_nonblocking(&addr).unwrap())
        .collect();
    run_echo(&mut poller, &listener, streams, 256 * 1024);
    std::fs::remove_file(&path).unwrap();
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn unix_abstract_echo_through_the_reactor() {
    let mut poller = Poller::new().unwrap();
    let name = common::abstract_name("reactor");
    let listener = UnixListener::bind_abstract(&name).unwrap();
    let addr = UnixAddr::Abstract(name);
    let streams = (0..4)
        .map(|_| UnixStream::connect_nonblocking(&addr).unwrap())
        .collect();
    run_echo(&mut poller, &listener, streams, 64 * 1024);
}

/// UDP ping-pong: each client sends its next datagram only after the echo of
/// the previous one, so nothing can be dropped for lack of buffer space.
#[test]
fn udp_echo_through_the_reactor() {
    const CLIENTS: usize = 4;
    const ROUNDS: usize = 50;
    let mut poller = Poller::new().unwrap();
    let server = UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let server_addr = server.local_addr().unwrap();
    poller
        .register(&server, Token(0), Interest::READABLE, Mode::Level)
        .unwrap();
    let clients: Vec<UdpSocket> = (0..CLIENTS)
        .map(|_| UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap())
        .collect();
    let mut echoed = [0usize; CLIENTS];
    for (i, c) in clients.iter().enumerate() {
        c.connect(server_addr).unwrap();
        poller
            .register(c, Token(1 + i), Interest::READABLE, Mode::Edge)
            .unwrap();
        c.send(&datagram(i, 0)).unwrap();
    }

    let mut events = Events::with_capacity(64);
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 64];
    while echoed.iter().any(|&n| n < ROUNDS) {
        assert!(Instant::now() < deadline, "udp stalled at {echoed:?}");
        poller
            .poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        for ev in events.iter() {
            if ev.token() == Token(0) {
                loop {
                    match server.recv_from(&mut buf) {
                        Ok((n, from)) => {
                            server.send_to(&buf[..n], from).unwrap();
                        }
                        Err(Error::WouldBlock) => break,
                        Err(e) => panic!("server recv: {e:?}"),
                    }
                }
            } else {
                let i = ev.token().0 - 1;
                loop {
                    match clients[i].recv(&mut buf) {
                        Ok(n) => {
                            assert_eq!(&buf[..n], &datagram(i, echoed[i])[..]);
                            echoed[i] += 1;
                            if echoed[i] < ROUNDS {
                                clients[i].send(&datagram(i, echoed[i])).unwrap();
                            }
                        }
                        Err(Error::WouldBlock) => break,
                        Err(e) => panic!("client recv: {e:?}"),
                    }
                }
            }
        }
    }
}

fn datagram(client: usize, seq: usize) -> Vec<u8> {
    format!("client {client} datagram {seq}").into_bytes()
}

/// Unix datagrams through the reactor: a bound server replies to senders by
/// their (autobound or path) address.
#[test]
fn unix_datagram_echo_through_the_reactor() {
    let mut poller = Poller::new().unwrap();
    let server_path = common::socket_path("reactor-dgram");
    let server = UnixDatagram::bind(&server_path).unwrap();
    let client_path = common::socket_path("reactor-dgram-client");
    let client = UnixDatagram::bind(&client_path).unwrap();
    client.connect(&server_path).unwrap();
    poller
        .register(&server, Token(0), Interest::READABLE, Mode::Level)
        .unwrap();
    poller
        .register(&client, Token(1), Interest::READABLE, Mode::Level)
        .unwrap();
    client.send(b"0").unwrap();
    let mut got = 0;
    let mut events = Events::with_capacity(8);
    let deadline = Instant::now() + WAIT;
    let mut buf = [0u8; 16];
    while got < 100 {
        assert!(Instant::now() < deadline, "stalled at {got}");
        poller
            .poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        for ev in events.iter() {
            if ev.token() == Token(0) {
                while let Ok((n, from)) = server.recv_from(&mut buf) {
                    assert_eq!(from, UnixAddr::Path(client_path.clone()));
                    server.send_to(&buf[..n], &from).unwrap();
                }
            } else {
                while let Ok(n) = client.recv(&mut buf) {
                    assert_eq!(&buf[..n], got.to_string().as_bytes());
                    got += 1;
                    client.send(got.to_string().as_bytes()).unwrap();
                }
            }
        }
    }
    drop((server, client));
    std::fs::remove_file(&server_path).unwrap();
    std::fs::remove_file(&client_path).unwrap();
}

/// A non-blocking connect to a closed port: the reactor reports the socket
/// (writable and/or error) and `take_error` says why.
#[test]
fn refused_nonblocking_connect_is_reported_by_the_reactor() {
    let mut poller = Poller::new().unwrap();
    let closed: SocketAddr = {
        let l = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        l.local_addr().unwrap()
    };
    let s = TcpStream::connect_nonblocking(closed).unwrap();
    poller
        .register(&s, Token(5), Interest::WRITABLE, Mode::Level)
        .unwrap();
    let mut events = Events::with_capacity(8);
    let deadline = Instant::now() + WAIT;
    loop {
        assert!(Instant::now() < deadline, "no event for a refused connect");
        poller
            .poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        if let Some(ev) = events.iter().find(|e| e.token() == Token(5)) {
            assert!(ev.is_writable() || ev.is_error(), "{ev:?}");
            break;
        }
    }
    assert!(matches!(
        s.take_error().unwrap(),
        Some(Error::ConnectionRefused)
    ));
}

/// The peer's shutdown(Write) shows up as read-closed, and a read then
/// returns end-of-stream.
#[test]
fn peer_shutdown_is_read_closed() {
    let mut poller = Poller::new().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    common::wait_readable(&listener);
    let (server, _) = listener.accept().unwrap();
    poller
        .register(&server, Token(9), Interest::READABLE, Mode::Edge)
        .unwrap();
    client.write(b"last words").unwrap();
    client.shutdown(Shutdown::Write).unwrap();

    let mut events = Events::with_capacity(8);
    let deadline = Instant::now() + WAIT;
    let mut seen_closed = false;
    while !seen_closed {
        assert!(Instant::now() < deadline, "no read-closed event");
        poller
            .poll(&mut events, Some(Duration::from_millis(100)))
            .unwrap();
        seen_closed = events
            .iter()
            .any(|e| e.token() == Token(9) && e.is_read_closed());
    }
    let mut buf = [0u8; 32];
    assert_eq!(server.read(&mut buf).unwrap(), 10);
    assert_eq!(server.read(&mut buf).unwrap(), 0);
}

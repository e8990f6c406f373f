//! WebSocket in the server with real peers: Python `websockets` (with and without
//! permessage-deflate, over ws and wss), curl's handshake, and hand-built frames for
//! bad input (each gets its close code, with bounded memory, while the worker goes
//! on serving everyone else). The Autobahn|Testsuite run is in `autobahn.rs`.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use flare::prelude::*;
use flare::web::router::Router;
use flare::web::ws::{Message, WebSocketUpgrade, WsHandler, WsSender};
use flare::ServerConfig;

#[derive(Clone, Default)]
struct Room(Arc<Mutex<Vec<WsSender>>>);

struct Member {
    room: Room,
    me: Option<WsSender>,
}

impl WsHandler for Member {
    fn on_open(&mut self, ws: &WsSender) {
        self.me = Some(ws.clone());
        self.room.0.lock().unwrap().push(ws.clone());
    }
    fn on_message(&mut self, _ws: &WsSender, msg: Message<'_>) {
        let all = self.room.0.lock().unwrap().clone();
        for m in all {
            let _ = m.send(msg);
        }
    }
    fn on_close(&mut self, _code: Option<u16>, _reason: &str) {
        if let Some(me) = self.me.take() {
            self.room
                .0
                .lock()
                .unwrap()
                .retain(|m| !m.same_connection(&me));
        }
    }
}

fn echo(_req: &Request) -> impl WsHandler {
    |ws: &WsSender, msg: Message<'_>| {
        let _ = ws.send(msg);
    }
}

/// Sends a close at once and never answers anything.
struct Closer;
impl WsHandler for Closer {
    fn on_open(&mut self, ws: &WsSender) {
        let _ = ws.close(4001, "go away");
    }
    fn on_message(&mut self, _ws: &WsSender, _msg: Message<'_>) {}
}

/// Sends 64 KiB messages for as long as the queue takes them, counting refusals.
struct Flood(Arc<Mutex<(u64, u64)>>);
impl WsHandler for Flood {
    fn on_open(&mut self, ws: &WsSender) {
        let ws = ws.clone();
        let counts = self.0.clone();
        std::thread::spawn(move || {
            let msg = vec![7u8; 64 * 1024];
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                match ws.send_binary(&msg) {
                    Ok(()) => counts.lock().unwrap().0 += 1,
                    Err(flare::web::ws::WsSendError::Full) => {
                        counts.lock().unwrap().1 += 1;
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => return,
                }
            }
        });
    }
    fn on_message(&mut self, _ws: &WsSender, _msg: Message<'_>) {}
}

fn app(flood: Arc<Mutex<(u64, u64)>>) -> Router {
    let room = Room::default();
    Router::new()
        .get("/plaintext", |_: &Request| "Hello, World!")
        .ws("/echo", echo)
        .ws("/chat", move |_: &Request| Member {
            room: room.clone(),
            me: None,
        })
        .get("/proto", |up: WebSocketUpgrade| {
            let up = up.protocol("chat.v2");
            up.on_upgrade(|ws: &WsSender, m: Message<'_>| {
                let _ = ws.send(m);
            })
        })
        .get("/small", |up: WebSocketUpgrade| {
            up.max_message_size(1024)
                .on_upgrade(|ws: &WsSender, m: Message<'_>| {
                    let _ = ws.send(m);
                })
        })
        .get("/nodeflate", |up: WebSocketUpgrade| {
            up.compression(false)
                .on_upgrade(|ws: &WsSender, m: Message<'_>| {
                    let _ = ws.send(m);
                })
        })
        .get("/auth", |req: &Request| {
            if req.header("authorization") != Some("Bearer ok") {
                return Response::error(http::StatusCode::FORBIDDEN, "no");
            }
            match WebSocketUpgrade::from_req(req) {
                Ok(up) => up.on_upgrade(|ws: &WsSender, m: Message<'_>| {
                    let _ = ws.send(m);
                }),
                Err(r) => r,
            }
        })
        .ws("/closer", |_: &Request| Closer)
        .ws("/flood", move |_: &Request| Flood(flood.clone()))
}

fn config() -> ServerConfig {
    ServerConfig::default()
        .write_timeout(Duration::from_secs(2))
        .websocket(flare::ws::Config::default().close_timeout(Duration::from_millis(500)))
}

fn server() -> TestServer {
    TestServer::start_with(app(Arc::default()), 2, config())
}

// ---- a minimal client for hand-built frames ----

struct Raw {
    s: TcpStream,
    buf: Vec<u8>,
}

fn handshake(addr: SocketAddr, path: &str, extra: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read(&mut b).unwrap() == 0 {
            break;
        }
        head.push(b[0]);
    }
    (s, String::from_utf8_lossy(&head).into_owned())
}

impl Raw {
    fn open(addr: SocketAddr, path: &str) -> Raw {
        let (s, head) = handshake(addr, path, "");
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(
            head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "{head}"
        );
        Raw { s, buf: Vec::new() }
    }
    fn send_frame(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        self.s
            .write_all(&frame(fin, opcode, payload, true))
            .unwrap();
    }
    /// The next frame: (opcode, payload), or None at EOF.
    fn recv(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                let len0 = (self.buf[1] & 0x7f) as usize;
                let (hl, len) = match len0 {
                    126 if self.buf.len() >= 4 => {
                        (4, u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize)
                    }
                    127 if self.buf.len() >= 10 => (
                        10,
                        u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    n => (2, n),
                };
                if hl != usize::MAX && self.buf.len() >= hl + len {
                    assert_eq!(self.buf[1] & 0x80, 0, "server frames are never masked");
                    let op = self.buf[0] & 0x0f;
                    let p = self.buf[hl..hl + len].to_vec();
                    self.buf.drain(..hl + len);
                    return Some((op, p));
                }
            }
            let mut tmp = [0u8; 65536];
            match self.s.read(&mut tmp) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) => panic!("read: {e}"),
            }
        }
    }
    /// Reads until the close frame; returns its code, then checks the server
    /// closes TCP (EOF, not a reset).
    fn expect_close(&mut self) -> u16 {
        loop {
            match self.recv() {
                Some((8, p)) => {
                    let code = u16::from_be_bytes([p[0], p[1]]);
                    assert_eq!(self.recv(), None, "EOF after the close");
                    return code;
                }
                Some(_) => continue,
                None => panic!("EOF without a close frame"),
            }
        }
    }
}

fn frame(fin: bool, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut f = vec![(u8::from(fin) << 7) | opcode];
    let m = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => f.push(m | n as u8),
        n if n < 65536 => {
            f.push(m | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            f.push(m | 127);
            f.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    if masked {
        let key = [0x11, 0x22, 0x33, 0x44];
        f.extend_from_slice(&key);
        f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        f.extend_from_slice(payload);
    }
    f
}

/// The worker still answers others promptly.
fn still_serving(addr: SocketAddr) {
    let t = Instant::now();
    let out = raw_exchange(
        addr,
        b"GET /plaintext HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    assert!(
        t.elapsed() < Duration::from_secs(2),
        "slow: {:?}",
        t.elapsed()
    );
}

// ---- real peers ----

#[test]
fn python_websockets_client() {
    let srv = server();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/ws_client.py");
    let url = format!("ws://{}", srv.addr);
    let out = run_ok(Command::new(python()).arg(script).arg(url));
    assert!(out.contains("ws_client: all passed"), "{out}");
    srv.stop();
}

#[test]
fn python_websockets_client_over_tls() {
    let dir = std::env::temp_dir().join(format!("flare-wss-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = flare_tls::TestCa::new("flare ws CA").unwrap();
    let (cert, key) = ca.issue(&["localhost"]).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let tls = flare_tls::ServerConfig::builder()
        .cert_pem(&cert, &key)
        .build()
        .unwrap();
    let handle = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(2)
        .config(with_test_backend(config()))
        .tls(tls)
        .start(app(Arc::default()))
        .unwrap();
    let srv = TestServer::from_handle(handle);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/ws_client.py");
    let url = format!("wss://localhost:{}", srv.addr.port());
    let out = run_ok(Command::new(python()).arg(script).arg(url).arg(&ca_file));
    assert!(out.contains("ws_client: all passed"), "{out}");
    srv.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn curl_handshake_gets_101_and_the_accept_key() {
    require("curl");
    let srv = server();
    // curl prints the 101 head and then waits on the (silent) socket until
    // --max-time: exit code 28 is expected.
    let out = Command::new("curl")
        .args(["-s", "-i", "-N", "--http1.1", "--max-time", "1"])
        .args(["-H", "Connection: Upgrade", "-H", "Upgrade: websocket"])
        .args(["-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="])
        .args(["-H", "Sec-WebSocket-Version: 13"])
        .arg(srv.url("/echo"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{text}"
    );
    // And a plain GET to the same route: 426 naming the protocol.
    let out = run_ok(
        Command::new("curl")
            .args(["-s", "-i"])
            .arg(srv.url("/echo")),
    );
    assert!(out.starts_with("HTTP/1.1 426"), "{out}");
    assert!(
        out.to_ascii_lowercase().contains("upgrade: websocket"),
        "{out}"
    );
    srv.stop();
}

// ---- the handshake ----

#[test]
fn handshake_refusals_have_their_status() {
    let srv = server();
    let (_, head) = handshake(srv.addr, "/echo", "");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // Version 12: 426 with the version we speak (RFC 6455 section 4.4).
    let out = raw_exchange(
        srv.addr,
        b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 12\r\n\r\n",
        Duration::from_secs(5),
    );
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 426"), "{out}");
    assert!(
        out.to_ascii_lowercase()
            .contains("sec-websocket-version: 13"),
        "{out}"
    );
    // A key that is not 16 bytes of base64: 400.
    let out = raw_exchange(
        srv.addr,
        b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        out.starts_with(b"HTTP/1.1 400"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    // The handler decides: no token, 403, and the connection stays HTTP.
    let (_, head) = handshake(srv.addr, "/auth", "");
    assert!(head.starts_with("HTTP/1.1 403"), "{head}");
    let (_, head) = handshake(srv.addr, "/auth", "Authorization: Bearer ok\r\n");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    // Not a WebSocket route: the upgrade is ignored and the route answers.
    let (_, head) = handshake(srv.addr, "/plaintext", "");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    srv.stop();
}

#[test]
fn bytes_after_the_handshake_are_the_first_frames() {
    let srv = server();
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut req = b"GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        .to_vec();
    req.extend(frame(true, 1, b"early", true));
    s.write_all(&req).unwrap();
    let mut raw = Raw { s, buf: Vec::new() };
    // Skip the 101 head.
    loop {
        let mut b = [0u8; 1];
        raw.s.read_exact(&mut b).unwrap();
        raw.buf.push(b[0]);
        if raw.buf.ends_with(b"\r\n\r\n") {
            raw.buf.clear();
            break;
        }
    }
    assert_eq!(raw.recv(), Some((1, b"early".to_vec())));
    srv.stop();
}

// ---- bad input ----

#[test]
fn an_unmasked_client_frame_closes_1002() {
    let srv = server();
    let mut c = Raw::open(srv.addr, "/echo");
    c.s.write_all(&frame(true, 1, b"hi", false)).unwrap();
    assert_eq!(c.expect_close(), 1002);
    still_serving(srv.addr);
    srv.stop();
}

#[test]
fn a_length_with_the_msb_set_closes_1002_and_2_63_is_too_big() {
    let srv = server();
    let mut c = Raw::open(srv.addr, "/echo");
    let mut f = vec![0x82, 0x80 | 127];
    f.extend_from_slice(&(1u64 << 63).to_be_bytes());
    f.extend_from_slice(&[1, 2, 3, 4]);
    c.s.write_all(&f).unwrap();
    assert_eq!(c.expect_close(), 1002);
    // 2^62: a legal length, far over the frame limit.
    let mut c = Raw::open(srv.addr, "/echo");
    let mut f = vec![0x82, 0x80 | 127];
    f.extend_from_slice(&(1u64 << 62).to_be_bytes());
    f.extend_from_slice(&[1, 2, 3, 4]);
    c.s.write_all(&f).unwrap();
    assert_eq!(c.expect_close(), 1009);
    still_serving(srv.addr);
    srv.stop();
}

#[test]
fn invalid_utf8_split_across_fragments_closes_1007_before_the_end() {
    let srv = server();
    let mut c = Raw::open(srv.addr, "/echo");
    // "é" is C3 A9; C3 followed by 28 can never be valid. The message never ends:
    // the close must come on the bad prefix.
    c.send_frame(false, 1, b"ok \xc3");
    c.send_frame(false, 0, b"\x28 more");
    assert_eq!(c.expect_close(), 1007);
    srv.stop();
}

#[test]
fn ten_thousand_pings_get_bounded_answers() {
    let srv = server();
    let mut c = Raw::open(srv.addr, "/echo");
    let mut all = Vec::new();
    for i in 0..10_000u32 {
        all.extend(frame(true, 9, &i.to_be_bytes(), true));
    }
    // Written from another thread: the server may stop reading.
    let mut w = c.s.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = w.write_all(&all);
    });
    let mut pongs = 0;
    let mut close = None;
    while let Some((op, p)) = c.recv() {
        match op {
            10 => pongs += 1,
            8 => {
                close = Some(u16::from_be_bytes([p[0], p[1]]));
            }
            other => panic!("opcode {other}"),
        }
    }
    writer.join().unwrap();
    // Either answered within the rate limit or cut off with 1008; never more pongs
    // than pings.
    assert!(pongs <= 10_000, "{pongs}");
    if pongs < 10_000 {
        assert_eq!(close, Some(1008), "pongs {pongs}");
    }
    still_serving(srv.addr);
    srv.stop();
}

#[test]
fn a_client_that_never_reads_is_bounded_and_dropped() {
    let counts = Arc::new(Mutex::new((0u64, 0u64)));
    let srv = TestServer::start_with(app(counts.clone()), 2, config());
    let c = Raw::open(srv.addr, "/flood");
    // Never read; the sender must be refused (Full) rather than buffered.
    std::thread::sleep(Duration::from_millis(2500));
    let (sent, refused) = *counts.lock().unwrap();
    assert!(refused > 0, "never refused: sent {sent}");
    // At most the socket buffers, the send buffer's high-water mark and the queue
    // bound (1 MiB), in 64 KiB messages.
    assert!(
        sent < 400,
        "sent {sent} x 64 KiB to a peer that does not read"
    );
    still_serving(srv.addr);
    // The write timeout (2 s) drops it: reading now ends in EOF soon.
    let mut s = c.s;
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let start = Instant::now();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => assert!(start.elapsed() < Duration::from_secs(10)),
        }
    }
    srv.stop();
}

#[test]
fn a_peer_that_never_answers_our_close_is_dropped_after_the_close_timeout() {
    let srv = server();
    let mut c = Raw::open(srv.addr, "/closer");
    let t = Instant::now();
    match c.recv() {
        Some((8, p)) => assert_eq!(u16::from_be_bytes([p[0], p[1]]), 4001),
        other => panic!("{other:?}"),
    }
    // No answer: the server gives up after 500 ms.
    assert_eq!(c.recv(), None);
    let waited = t.elapsed();
    assert!(waited >= Duration::from_millis(400), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    srv.stop();
}

#[test]
fn a_client_close_is_answered_with_its_code_then_tcp_closes() {
    let srv = server();
    let mut c = Raw::open(srv.addr, "/echo");
    c.send_frame(true, 1, b"x");
    assert_eq!(c.recv(), Some((1, b"x".to_vec())));
    let mut p = 1000u16.to_be_bytes().to_vec();
    p.extend_from_slice(b"done");
    c.send_frame(true, 8, &p);
    assert_eq!(c.expect_close(), 1000);
    srv.stop();
}

#[test]
fn drain_closes_websockets_with_1001() {
    let srv = server();
    let mut c = Raw::open(srv.addr, "/echo");
    c.send_frame(true, 1, b"x");
    assert_eq!(c.recv(), Some((1, b"x".to_vec())));
    let stopper = std::thread::spawn(move || srv.stop());
    match c.recv() {
        Some((8, p)) => assert_eq!(u16::from_be_bytes([p[0], p[1]]), 1001),
        other => panic!("{other:?}"),
    }
    // Answer the close; the server then closes and the drain completes.
    c.send_frame(true, 8, &1001u16.to_be_bytes());
    assert_eq!(c.recv(), None);
    stopper.join().unwrap();
}

#[test]
fn many_connections_on_one_worker_and_a_broadcast_from_another_thread() {
    let room = Room::default();
    let r2 = room.clone();
    let srv = TestServer::start_with(
        Router::new().ws("/chat", move |_: &Request| Member {
            room: r2.clone(),
            me: None,
        }),
        1,
        config(),
    );
    let mut clients: Vec<Raw> = (0..200).map(|_| Raw::open(srv.addr, "/chat")).collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while room.0.lock().unwrap().len() < 200 {
        assert!(Instant::now() < deadline, "not all joined");
        std::thread::sleep(Duration::from_millis(10));
    }
    // A thread that is not a worker sends to everyone.
    for m in room.0.lock().unwrap().iter() {
        m.send_text("from outside").unwrap();
    }
    for c in &mut clients {
        assert_eq!(c.recv(), Some((1, b"from outside".to_vec())));
    }
    srv.stop();
}

// ---- over HTTP/2 ----

#[test]
fn websocket_over_h2_extended_connect_with_python_h2() {
    let srv = server();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/ws_h2.py");
    let out = run_ok(Command::new(python()).arg(script).arg(srv.addr.to_string()));
    assert!(out.contains("ws_h2: all passed"), "{out}");
    srv.stop();
}

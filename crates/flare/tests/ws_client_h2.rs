//! `WsClient` over HTTP/2 (RFC 8441 extended CONNECT): against flare's own server
//! (h2 over TLS by ALPN, h2c by prior knowledge), against hypercorn (a Python
//! server this project did not write, h2 over TLS and h2c), the fallback to
//! HTTP/1.1 against servers that do not enable extended CONNECT (flare with the
//! setting off, nginx), refusals with their status, and a hand-driven HTTP/2
//! server that checks how the client ends the stream and the connection.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use flare::client::{Client, Error, ProtocolError, WsClient, WsClientBuilder, WsHttp2, WsMessage};
use flare::prelude::*;
use flare::web::ws::{Message, WebSocketUpgrade, WsHandler, WsSender};
use flare::ServerConfig;
use http::Version;

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn temp_dir(name: &str) -> PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!("flare-ws-h2-{name}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Waits until `port` accepts connections; panics naming `peer` otherwise.
fn wait_port(port: u16, peer: &str, child: &mut Child) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{peer} exited at start: {status}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{peer} never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `n` bytes that deflate cannot shrink (xorshift), so they cross the
/// flow-control windows whether or not permessage-deflate is on.
fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A builder whose `recv` gives up after 20 s, so that a stall fails the test
/// instead of hanging it.
fn ws_builder() -> WsClientBuilder {
    WsClient::builder().read_timeout(Some(Duration::from_secs(20)))
}

/// What flare's WebSocket route saw.
#[derive(Default)]
struct Seen {
    /// The request version of each handshake.
    versions: Mutex<Vec<Version>>,
    /// The close code of each WebSocket.
    closes: Mutex<Vec<Option<u16>>>,
}

struct Echo(Arc<Seen>);

impl WsHandler for Echo {
    fn on_message(&mut self, ws: &WsSender, msg: Message<'_>) {
        let _ = ws.send(msg);
    }
    fn on_close(&mut self, code: Option<u16>, _reason: &str) {
        self.0.closes.lock().unwrap().push(code);
    }
}

/// Closes with 4001 as soon as it opens.
struct Closer;

impl WsHandler for Closer {
    fn on_open(&mut self, ws: &WsSender) {
        let _ = ws.close(4001, "go away");
    }
    fn on_message(&mut self, _ws: &WsSender, _msg: Message<'_>) {}
}

fn app(seen: Arc<Seen>) -> Router {
    Router::new()
        .get("/plaintext", |_: &Request| "Hello, World!")
        .get("/echo", move |req: &Request| {
            seen.versions.lock().unwrap().push(req.version());
            let up = match WebSocketUpgrade::from_req(req) {
                Ok(up) => up,
                Err(refusal) => return refusal,
            };
            let up = if up.protocols().any(|p| p == "chat") {
                up.protocol("chat")
            } else {
                up
            };
            up.on_upgrade(Echo(seen.clone()))
        })
        .get("/refuse", |_: &Request| {
            Response::error(http::StatusCode::FORBIDDEN, "not you")
        })
        .ws("/closer", |_: &Request| Closer)
}

struct TlsServer {
    srv: TestServer,
    ca: Vec<u8>,
    seen: Arc<Seen>,
}

/// flare over TLS (ALPN `alpn`) with `cfg`.
fn flare_tls(cfg: ServerConfig, alpn: &[&[u8]]) -> TlsServer {
    let ca = flare::tls::test_ca("flare ws h2 CA").unwrap();
    let (cert, key) = ca.issue(&["localhost"]).unwrap();
    let tls = flare::tls::ServerConfig::builder()
        .cert_pem(&cert, &key)
        .alpn(alpn)
        .build()
        .unwrap();
    let seen = Arc::new(Seen::default());
    let handle = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(2)
        .config(with_test_backend(cfg))
        .tls(tls)
        .start(app(seen.clone()))
        .unwrap();
    TlsServer {
        srv: TestServer::from_handle(handle),
        ca: ca.cert_pem(),
        seen,
    }
}

/// Text and binary echo, a message past both flow-control windows, a ping.
fn exchange(ws: &mut WsClient) {
    exchange_small(ws);
    // 1.5 MB: more than the server's 1 MiB receive window and the client's.
    let big = noise(1_500_000);
    ws.send_binary(&big).unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Binary(big));
}

/// Text and binary echo (each message well under one TLS record) and a ping.
fn exchange_small(ws: &mut WsClient) {
    for i in 0..50 {
        let text = format!("message {i} {}", "y".repeat(i * 37));
        ws.send_text(&text).unwrap();
        assert_eq!(ws.recv().unwrap(), WsMessage::Text(text));
    }
    ws.send_binary(&[0, 1, 2, 255]).unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Binary(vec![0, 1, 2, 255]));
    ws.ping(b"p").unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Pong(b"p".to_vec()));
}

/// Our close with `code`; the server answers with the same code; after it the
/// WebSocket is closed.
fn close(ws: &mut WsClient, code: u16) {
    ws.close(code, "bye").unwrap();
    match ws.recv().unwrap() {
        WsMessage::Close(Some(c), _) => assert_eq!(c, code),
        other => panic!("{other:?}"),
    }
    assert!(ws.recv().is_err(), "recv after the closing handshake");
}

/// Waits (bounded) until `f` holds.
fn eventually(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(5), "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// The 1.5 MB message over TLS is also the regression test for a server stall:
// drivers read once per readiness event, and records left in the TLS transport
// after one socket read raised no new event, so uploads past one read stalled
// (server/connection.rs `tls_readable` now reads on while input may be held).
#[test]
fn flare_over_tls_by_alpn_h2() {
    let s = flare_tls(ServerConfig::default(), &[b"h2", b"http/1.1"]);
    let port = s.srv.addr.port();
    let url = format!("wss://localhost:{port}/echo");
    let mut ws = ws_builder()
        .http2(WsHttp2::Require)
        .add_root_certificate_pem(&s.ca)
        .protocols(&["chat", "other"])
        .header("x-extra", "1")
        .connect(&url)
        .unwrap();
    assert_eq!(ws.http_version(), Version::HTTP_2);
    assert_eq!(ws.protocol(), Some("chat"));
    assert!(ws.deflate(), "permessage-deflate not negotiated");
    exchange(&mut ws);

    // A normal HTTP/2 request on the same server meanwhile.
    let client = Client::builder()
        .add_root_certificate_pem(&s.ca)
        .build()
        .unwrap();
    let resp = client
        .get(format!("https://localhost:{port}/plaintext"))
        .send()
        .unwrap();
    assert_eq!(resp.version(), Version::HTTP_2);
    assert_eq!(resp.text().unwrap(), "Hello, World!");
    ws.send_text("still here").unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Text("still here".into()));
    close(&mut ws, 1000);

    // Without deflate and without a subprotocol; Prefer picks HTTP/2 too.
    let mut plain = ws_builder()
        .http2(WsHttp2::Prefer)
        .add_root_certificate_pem(&s.ca)
        .no_deflate()
        .connect(&url)
        .unwrap();
    assert_eq!(plain.http_version(), Version::HTTP_2);
    assert!(!plain.deflate());
    assert_eq!(plain.protocol(), None);
    exchange_small(&mut plain);
    close(&mut plain, 4321);

    // The server's close: answered, then the stream ends.
    let mut closed = ws_builder()
        .http2(WsHttp2::Require)
        .add_root_certificate_pem(&s.ca)
        .connect(&format!("wss://localhost:{port}/closer"))
        .unwrap();
    match closed.recv().unwrap() {
        WsMessage::Close(Some(4001), reason) => assert_eq!(reason, "go away"),
        other => panic!("{other:?}"),
    }
    assert!(closed.recv().is_err());

    // The server saw both WebSockets over HTTP/2, and both closes with their codes.
    assert_eq!(
        *s.seen.versions.lock().unwrap(),
        [Version::HTTP_2, Version::HTTP_2]
    );
    eventually("the server saw both closes", || {
        s.seen.closes.lock().unwrap().len() == 2
    });
    assert_eq!(*s.seen.closes.lock().unwrap(), [Some(1000), Some(4321)]);
    s.srv.stop();
}

#[test]
fn flare_h2c_by_prior_knowledge() {
    let seen = Arc::new(Seen::default());
    let srv = TestServer::start(app(seen.clone()));
    let url = format!("ws://127.0.0.1:{}/echo", srv.addr.port());
    // Require on ws:// means h2c by prior knowledge.
    let mut ws = ws_builder()
        .http2(WsHttp2::Require)
        .protocols(&["chat"])
        .connect(&url)
        .unwrap();
    assert_eq!(ws.http_version(), Version::HTTP_2);
    assert_eq!(ws.protocol(), Some("chat"));
    assert!(ws.deflate());
    exchange(&mut ws);
    close(&mut ws, 1000);
    // Prefer with prior knowledge: HTTP/2; Prefer without it: HTTP/1.1 (no ALPN).
    let mut pk = ws_builder()
        .http2(WsHttp2::Prefer)
        .http2_prior_knowledge()
        .connect(&url)
        .unwrap();
    assert_eq!(pk.http_version(), Version::HTTP_2);
    pk.send_text("pk").unwrap();
    assert_eq!(pk.recv().unwrap(), WsMessage::Text("pk".into()));
    close(&mut pk, 1000);
    let mut h1 = ws_builder().http2(WsHttp2::Prefer).connect(&url).unwrap();
    assert_eq!(h1.http_version(), Version::HTTP_11);
    h1.send_text("h1").unwrap();
    assert_eq!(h1.recv().unwrap(), WsMessage::Text("h1".into()));
    close(&mut h1, 1000);
    assert_eq!(
        *seen.versions.lock().unwrap(),
        [Version::HTTP_2, Version::HTTP_2, Version::HTTP_11]
    );
    srv.stop();
}

#[test]
fn a_refused_extended_connect_is_a_status_error() {
    let s = flare_tls(ServerConfig::default(), &[b"h2", b"http/1.1"]);
    let port = s.srv.addr.port();
    let err = ws_builder()
        .http2(WsHttp2::Require)
        .add_root_certificate_pem(&s.ca)
        .connect(&format!("wss://localhost:{port}/refuse"))
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN), "{err}");
    // A route that is not a WebSocket: flare answers the CONNECT like a GET, a
    // 200 with a body, which is no tunnel.
    let err = ws_builder()
        .http2(WsHttp2::Require)
        .add_root_certificate_pem(&s.ca)
        .connect(&format!("wss://localhost:{port}/plaintext"))
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { .. }), "{err:?}");
    s.srv.stop();
}

fn is_no_h2_ws(err: &Error, http2: bool) -> bool {
    matches!(
        err,
        Error::Protocol {
            detail: ProtocolError::NoWebSocketOverHttp2 { http2: h },
            ..
        } if *h == http2
    )
}

#[test]
fn without_extended_connect_prefer_falls_back_and_require_fails() {
    // HTTP/2 without SETTINGS_ENABLE_CONNECT_PROTOCOL (flare_h2::Config's default).
    let cfg = ServerConfig::default().http2(flare_h2::Config::new());
    let s = flare_tls(cfg.clone(), &[b"h2", b"http/1.1"]);
    let url = format!("wss://localhost:{}/echo", s.srv.addr.port());
    let mut ws = ws_builder()
        .http2(WsHttp2::Prefer)
        .add_root_certificate_pem(&s.ca)
        .connect(&url)
        .unwrap();
    assert_eq!(ws.http_version(), Version::HTTP_11);
    assert!(ws.deflate());
    exchange(&mut ws);
    close(&mut ws, 1000);
    let err = ws_builder()
        .http2(WsHttp2::Require)
        .add_root_certificate_pem(&s.ca)
        .connect(&url)
        .unwrap_err();
    assert!(is_no_h2_ws(&err, true), "{err:?}");
    // Only the fallback's upgrade reached the route.
    assert_eq!(*s.seen.versions.lock().unwrap(), [Version::HTTP_11]);
    s.srv.stop();

    // A server that picks HTTP/1.1 by ALPN: Prefer upgrades on that connection.
    let s = flare_tls(ServerConfig::default(), &[b"http/1.1"]);
    let url = format!("wss://localhost:{}/echo", s.srv.addr.port());
    let mut ws = ws_builder()
        .http2(WsHttp2::Prefer)
        .add_root_certificate_pem(&s.ca)
        .connect(&url)
        .unwrap();
    assert_eq!(ws.http_version(), Version::HTTP_11);
    ws.send_text("alpn").unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Text("alpn".into()));
    close(&mut ws, 1000);
    let err = ws_builder()
        .http2(WsHttp2::Require)
        .add_root_certificate_pem(&s.ca)
        .connect(&url)
        .unwrap_err();
    assert!(is_no_h2_ws(&err, false), "{err:?}");
    s.srv.stop();

    // h2c by prior knowledge without the setting: a fresh HTTP/1.1 connection.
    let seen = Arc::new(Seen::default());
    let srv = TestServer::start_with(app(seen.clone()), 1, cfg);
    let url = format!("ws://127.0.0.1:{}/echo", srv.addr.port());
    let mut ws = ws_builder()
        .http2(WsHttp2::Prefer)
        .http2_prior_knowledge()
        .connect(&url)
        .unwrap();
    assert_eq!(ws.http_version(), Version::HTTP_11);
    ws.send_text("h2c").unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Text("h2c".into()));
    close(&mut ws, 1000);
    let err = ws_builder()
        .http2(WsHttp2::Require)
        .connect(&url)
        .unwrap_err();
    assert!(is_no_h2_ws(&err, true), "{err:?}");
    srv.stop();
}

/// nginx speaks HTTP/2 over TLS without RFC 8441, in front of flare's HTTP/1.1
/// WebSocket route.
#[test]
fn nginx_h2_without_extended_connect_falls_back_to_http1() {
    let bin = require("nginx");
    let seen = Arc::new(Seen::default());
    let backend = TestServer::start(app(seen.clone()));
    let dir = temp_dir("nginx");
    let ca = flare::tls::test_ca("flare ws h2 nginx CA").unwrap();
    let (chain, key) = ca.issue(&["localhost"]).unwrap();
    std::fs::write(dir.join("cert.pem"), chain).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let https = free_port();
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;\n\
             error_log {d}/error.log; events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d};\n\
             fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
             server {{ listen 127.0.0.1:{https} ssl http2;\n\
               ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
               location / {{ proxy_pass http://{backend}; proxy_http_version 1.1;\n\
                 proxy_set_header Upgrade $http_upgrade;\n\
                 proxy_set_header Connection \"upgrade\"; }} }} }}\n",
            d = dir.display(),
            backend = backend.addr,
        ),
    )
    .unwrap();
    let mut child = Command::new(&bin)
        .arg("-c")
        .arg(&conf)
        .arg("-p")
        .arg(&dir)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(https, "nginx", &mut child);
    let _nginx = Kill(child);
    let url = format!("wss://localhost:{https}/echo");
    let err = ws_builder()
        .http2(WsHttp2::Require)
        .add_root_certificate_pem(&ca.cert_pem())
        .connect(&url)
        .unwrap_err();
    assert!(is_no_h2_ws(&err, true), "{err:?}");
    let mut ws = ws_builder()
        .http2(WsHttp2::Prefer)
        .add_root_certificate_pem(&ca.cert_pem())
        .protocols(&["chat"])
        .connect(&url)
        .unwrap();
    assert_eq!(ws.http_version(), Version::HTTP_11);
    assert_eq!(ws.protocol(), Some("chat"));
    exchange(&mut ws);
    close(&mut ws, 1000);
    backend.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// hypercorn with the ASGI app in `tests/py/hypercorn_ws_app.py`, over TLS (ALPN
/// `h2`, `http/1.1`) or in clear text (h2c by prior knowledge).
fn hypercorn(tls: bool) -> (Kill, u16, Vec<u8>, PathBuf) {
    let py = python();
    let dir = temp_dir("hypercorn");
    let ca = flare::tls::test_ca("flare ws h2 hypercorn CA").unwrap();
    let (chain, key) = ca.issue(&["localhost"]).unwrap();
    std::fs::write(dir.join("cert.pem"), chain).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let port = free_port();
    let mut cmd = Command::new(py);
    cmd.args(["-m", "hypercorn", "--bind"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["--workers", "1", "--log-level", "warning"])
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py"))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if tls {
        cmd.arg("--certfile")
            .arg(dir.join("cert.pem"))
            .arg("--keyfile")
            .arg(dir.join("key.pem"));
    }
    cmd.arg("hypercorn_ws_app:app");
    let mut child = cmd.spawn().unwrap();
    wait_port(port, "hypercorn", &mut child);
    (Kill(child), port, ca.cert_pem(), dir)
}

#[test]
fn hypercorn_over_tls_h2() {
    let (_k, port, ca, dir) = hypercorn(true);
    let mut ws = ws_builder()
        .http2(WsHttp2::Require)
        .add_root_certificate_pem(&ca)
        .protocols(&["chat", "other"])
        .connect(&format!("wss://localhost:{port}/echo"))
        .unwrap();
    assert_eq!(ws.http_version(), Version::HTTP_2);
    assert_eq!(ws.protocol(), Some("chat"));
    assert!(ws.deflate(), "permessage-deflate not negotiated");
    // hypercorn says which HTTP version carried the WebSocket.
    ws.send_text("version").unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Text("2".into()));
    exchange(&mut ws);
    close(&mut ws, 1000);

    // The server's close with a code.
    let mut ws = ws_builder()
        .http2(WsHttp2::Require)
        .add_root_certificate_pem(&ca)
        .no_deflate()
        .connect(&format!("wss://localhost:{port}/echo"))
        .unwrap();
    assert!(!ws.deflate());
    ws.send_text("close 4002").unwrap();
    match ws.recv().unwrap() {
        WsMessage::Close(Some(4002), _) => {}
        other => panic!("{other:?}"),
    }
    assert!(ws.recv().is_err());

    // A refusal before accepting: hypercorn answers the CONNECT with 403.
    let err = ws_builder()
        .http2(WsHttp2::Require)
        .add_root_certificate_pem(&ca)
        .connect(&format!("wss://localhost:{port}/refuse"))
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn hypercorn_h2c_by_prior_knowledge() {
    let (_k, port, _ca, dir) = hypercorn(false);
    let mut ws = ws_builder()
        .http2(WsHttp2::Prefer)
        .http2_prior_knowledge()
        .connect(&format!("ws://127.0.0.1:{port}/echo"))
        .unwrap();
    assert_eq!(ws.http_version(), Version::HTTP_2);
    ws.send_text("version").unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Text("2".into()));
    exchange(&mut ws);
    close(&mut ws, 1000);
    let _ = std::fs::remove_dir_all(dir);
}

/// What the hand-driven server saw, in order.
fn scripted_server(l: TcpListener, window: u32) -> Vec<String> {
    use flare_h2::{Connection, Event};
    use flare_ws::{Event as WsEvent, Role, WebSocket};
    let (mut sock, _) = l.accept().unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let now = Instant::now;
    let mut h2 = Connection::server(
        flare_h2::Config::new()
            .enable_connect_protocol(true)
            .initial_stream_window(window),
        now(),
    );
    let mut ws = WebSocket::new(Role::Server, flare_ws::Config::default(), None);
    let mut log = Vec::new();
    let mut id = None;
    let mut input = Vec::new();
    let mut frames = Vec::new();
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut goaway = false;
    for _ in 0..100_000 {
        out.clear();
        h2.poll_output(&mut out);
        // Nothing is written after the client's GOAWAY: it has closed its socket,
        // and a write would only draw a TCP reset.
        if !goaway {
            sock.write_all(&out).unwrap();
        }
        let n = match sock.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("scripted server read: {e}"),
        };
        if n == 0 {
            log.push("eof".to_string());
            break;
        }
        h2.recv(&buf[..n], now()).unwrap();
        while let Some(ev) = h2.poll_event() {
            match ev {
                Event::Headers { id: sid, head, .. } => {
                    let field = |name: &[u8]| {
                        head.fields
                            .iter()
                            .find(|(n, _)| n == name)
                            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
                    };
                    log.push(format!(
                        "{} {} {} {} {} v{} p{} x{} host{}",
                        String::from_utf8_lossy(&head.method),
                        String::from_utf8_lossy(head.protocol.as_deref().unwrap_or(b"-")),
                        String::from_utf8_lossy(&head.scheme),
                        String::from_utf8_lossy(head.authority.as_deref().unwrap_or(b"-")),
                        String::from_utf8_lossy(&head.path),
                        field(b"sec-websocket-version").unwrap_or_default(),
                        field(b"sec-websocket-protocol").unwrap_or_default(),
                        field(b"x-token").unwrap_or_default(),
                        field(b"host").is_some(),
                    ));
                    h2.send_headers(sid, 200, &[], false).unwrap();
                    id = Some(sid);
                }
                Event::Data {
                    id: sid,
                    data,
                    end_stream,
                } => {
                    h2.release_capacity(sid, data.len());
                    input.extend_from_slice(&data);
                    let mut start = 0;
                    loop {
                        let (used, ev) = ws.read(&mut input[start..], now()).unwrap();
                        start += used;
                        // Owned, so that the codec is free to answer.
                        let ev = ev.map(|e| match e {
                            WsEvent::Binary(b) => (0u8, b.to_vec(), None),
                            WsEvent::Text(t) => (1, t.as_bytes().to_vec(), None),
                            WsEvent::Close { code, .. } => (2, Vec::new(), code),
                            _ => (3, Vec::new(), None),
                        });
                        match ev {
                            Some((0, b, _)) => {
                                log.push(format!("binary {}", b.len()));
                                ws.send_binary(&b, &mut frames).unwrap();
                            }
                            Some((1, t, _)) => {
                                ws.send_text(std::str::from_utf8(&t).unwrap(), &mut frames)
                                    .unwrap();
                            }
                            Some((2, _, code)) => {
                                log.push(format!("close {}", code.unwrap_or(0)));
                            }
                            Some(_) => {}
                            None if used == 0 => break,
                            None => {}
                        }
                    }
                    input.drain(..start);
                    ws.poll_output(&mut frames);
                    if end_stream {
                        log.push("end_stream".to_string());
                        // Our half ends after the client's, so that flare-h2
                        // does not answer it with RST_STREAM(NO_ERROR).
                        h2.send_data(sid, &[], true).unwrap();
                    }
                }
                Event::GoAway { code, .. } => {
                    goaway = true;
                    log.push(format!("goaway {code:?}"));
                }
                Event::StreamReset { code, .. } => log.push(format!("reset {code:?}")),
                _ => {}
            }
        }
        // The echo waits for the client's WINDOW_UPDATEs like any sender.
        if let Some(sid) = id {
            while !frames.is_empty() {
                let n = h2.send_data(sid, &frames, false).unwrap_or(0);
                if n == 0 {
                    break;
                }
                frames.drain(..n);
            }
        }
    }
    log
}

#[test]
fn the_extended_connect_and_the_end_of_stream_and_connection() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    // A 16 KiB window: the client's 200 kB message must wait for WINDOW_UPDATEs.
    let server = std::thread::spawn(move || scripted_server(l, 16 * 1024));
    let mut ws = ws_builder()
        .http2(WsHttp2::Require)
        .protocols(&["chat"])
        .header("X-Token", "t1")
        .header("Host", "ignored.example")
        .connect(&format!("ws://{addr}/chat?room=1"))
        .unwrap();
    assert_eq!(ws.http_version(), Version::HTTP_2);
    assert_eq!(ws.protocol(), None, "the server chose no subprotocol");
    assert!(!ws.deflate(), "the server accepted no extension");
    let big = noise(200_000);
    ws.send_binary(&big).unwrap();
    assert_eq!(ws.recv().unwrap(), WsMessage::Binary(big));
    close(&mut ws, 1000);
    drop(ws);
    let log = server.join().unwrap();
    assert_eq!(
        log,
        [
            &format!("CONNECT websocket http {addr} /chat?room=1 v13 pchat xt1 hostfalse"),
            "binary 200000",
            "close 1000",
            "end_stream",
            "goaway NoError",
            "eof",
        ]
    );
}

#[test]
fn read_timeout_applies_over_http2() {
    // A WebSocket route that never sends: recv gives up at the read timeout.
    let srv = TestServer::start(Router::new().ws("/silent", |_req: &Request| {
        |_ws: &WsSender, _msg: Message<'_>| {}
    }));
    let mut ws = ws_builder()
        .http2(WsHttp2::Require)
        .read_timeout(Some(Duration::from_millis(300)))
        .connect(&format!("ws://{}/silent", srv.addr))
        .unwrap();
    assert_eq!(ws.http_version(), Version::HTTP_2);
    let t = Instant::now();
    let err = ws.recv().unwrap_err();
    assert!(err.is_timeout(), "{err}");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    // A limit of the codec applies as over HTTP/1.1: a message over the
    // client's max_message_size fails recv.
    let seen = Arc::new(Seen::default());
    let echo = TestServer::start(app(seen));
    let mut small = ws_builder()
        .http2(WsHttp2::Require)
        .config(flare_ws::Config::default().max_message_size(1024))
        .connect(&format!("ws://{}/echo", echo.addr))
        .unwrap();
    small.send_text(&"z".repeat(2048)).unwrap();
    assert!(small.recv().is_err(), "a 2 KiB message past a 1 KiB limit");
    drop((ws, small));
    srv.stop();
    echo.stop();
}

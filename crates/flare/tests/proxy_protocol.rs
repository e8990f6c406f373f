//! The PROXY protocol behind a real HAProxy on loopback: `send-proxy` (v1),
//! `send-proxy-v2` (h1 and h2c) and `send-proxy-v2-ssl` in front of a TLS port
//! (passthrough: flare terminates TLS after the header). The handler must see the
//! client's address (curl's `--local-port`) as the peer and HAProxy's as the
//! socket peer. Plus the refusals: an untrusted sender, a malformed header, one
//! that never completes, and a v2 LOCAL header keeping the socket's address.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use flare::prelude::*;
use flare::server::ProxyProtocol;
use flare::ServerConfig;

fn whoami(req: &Request) -> String {
    format!(
        "peer={} socket={}",
        req.peer_addr().map(|a| a.to_string()).unwrap_or_default(),
        req.socket_peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default()
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_listening(port: u16) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(10), "nothing on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// curl through `port` from a fixed local port; returns (body, that port).
fn curl_from(curl: &std::path::Path, url: &str, extra: &[&str]) -> (String, u16) {
    for _ in 0..20 {
        let local = free_port();
        let out = Command::new(curl)
            .args(["-s", "-m", "10", "--local-port", &local.to_string()])
            .args(extra)
            .arg(url)
            .output()
            .unwrap();
        if out.status.success() {
            return (String::from_utf8_lossy(&out.stdout).into_owned(), local);
        }
        // The port was taken meanwhile (exit 45): another one.
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("curl never got through {url}");
}

#[test]
fn behind_haproxy_the_handler_sees_the_client() {
    let haproxy = require("haproxy");
    let curl = require("curl");
    let dir = std::env::temp_dir().join(format!("flare-haproxy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca = flare_tls::TestCa::new("flare proxy CA").unwrap();
    let (cert, key) = ca.issue(&["localhost"]).unwrap();
    let ca_file = dir.join("ca.pem");
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let tls = flare_tls::ServerConfig::builder()
        .cert_pem(&cert, &key)
        .alpn(&[b"h2", b"http/1.1"])
        .build()
        .unwrap();
    let handle = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(2)
        .config(with_test_backend(ServerConfig::default()))
        .proxy_protocol(ProxyProtocol::new().trust("127.0.0.1/32"))
        .bind_tls("127.0.0.1:0", tls)
        .unwrap()
        .start(whoami)
        .unwrap();
    let plain = handle.local_addrs()[0].port();
    let tls_port = handle.local_addrs()[1].port();
    let (p1, p2, p3) = (free_port(), free_port(), free_port());
    let cfg = dir.join("haproxy.cfg");
    std::fs::write(
        &cfg,
        format!(
            "global\n  maxconn 200\ndefaults\n  mode tcp\n  timeout connect 5s\n  timeout client 10s\n  timeout server 10s\n\
             frontend v1\n  bind 127.0.0.1:{p1}\n  default_backend v1\n\
             backend v1\n  server s 127.0.0.1:{plain} send-proxy\n\
             frontend v2\n  bind 127.0.0.1:{p2}\n  default_backend v2\n\
             backend v2\n  server s 127.0.0.1:{plain} send-proxy-v2\n\
             frontend v2tls\n  bind 127.0.0.1:{p3}\n  default_backend v2tls\n\
             backend v2tls\n  server s 127.0.0.1:{tls_port} send-proxy-v2-ssl\n"
        ),
    )
    .unwrap();
    let child = Command::new(&haproxy)
        .args(["-db", "-f"])
        .arg(&cfg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _k = Kill(child);
    for p in [p1, p2, p3] {
        wait_listening(p);
    }
    let check = |body: &str, client_port: u16, what: &str| {
        assert!(
            body.starts_with(&format!("peer=127.0.0.1:{client_port} socket=127.0.0.1:")),
            "{what}: {body}"
        );
        assert!(
            !body.ends_with(&format!(":{client_port}")),
            "{what}: the socket peer is HAProxy, not the client: {body}"
        );
    };
    let (b, port) = curl_from(&curl, &format!("http://127.0.0.1:{p1}/v1"), &[]);
    check(&b, port, "send-proxy (v1), HTTP/1.1");
    let (b, port) = curl_from(&curl, &format!("http://127.0.0.1:{p2}/v2"), &[]);
    check(&b, port, "send-proxy-v2, HTTP/1.1");
    let (b, port) = curl_from(
        &curl,
        &format!("http://127.0.0.1:{p2}/h2c"),
        &["--http2-prior-knowledge"],
    );
    check(&b, port, "send-proxy-v2, h2c");
    let ca_arg = ca_file.to_str().unwrap().to_string();
    let resolve = format!("localhost:{p3}:127.0.0.1");
    let (b, port) = curl_from(
        &curl,
        &format!("https://localhost:{p3}/tls"),
        &["--cacert", &ca_arg, "--resolve", &resolve, "--http2"],
    );
    check(&b, port, "send-proxy-v2-ssl, TLS passthrough, h2 by ALPN");
    // Many connections through HAProxy, each with its own client.
    for _ in 0..20 {
        let (b, port) = curl_from(&curl, &format!("http://127.0.0.1:{p1}/many"), &[]);
        check(&b, port, "v1 again");
    }
    // A direct connection without a header is refused (closed without answer).
    let out = raw_exchange(
        SocketAddr::from(([127, 0, 0, 1], plain)),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(out.is_empty(), "{:?}", String::from_utf8_lossy(&out));
    handle.shutdown(Duration::from_millis(200));
    handle.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

fn server(pp: ProxyProtocol, cfg: ServerConfig) -> TestServer {
    let handle = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .config(with_test_backend(cfg))
        .proxy_protocol(pp)
        .start(whoami)
        .unwrap();
    TestServer::from_handle(handle)
}

#[test]
fn refusals_untrusted_malformed_incomplete_and_local() {
    // Untrusted: only 10.0.0.0/8 may send headers; we are 127.0.0.1.
    let srv = server(
        ProxyProtocol::new().trust("10.0.0.0/8"),
        ServerConfig::default(),
    );
    let out = raw_exchange(
        srv.addr,
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1111 80\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        out.is_empty(),
        "untrusted: {:?}",
        String::from_utf8_lossy(&out)
    );
    srv.stop();

    let srv = server(
        ProxyProtocol::new().trust("127.0.0.1"),
        ServerConfig::default().header_timeout(Duration::from_millis(500)),
    );
    // A v1 header as HAProxy writes it, then a request: the handler sees it.
    let out = raw_exchange(
        srv.addr,
        b"PROXY TCP4 1.2.3.4 5.6.7.8 1111 80\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(5),
    );
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.ends_with("peer=1.2.3.4:1111 socket=127.0.0.1:")
            || text.contains("peer=1.2.3.4:1111 socket=127.0.0.1:"),
        "{text}"
    );
    // Malformed.
    let out = raw_exchange(
        srv.addr,
        b"PROXY TCP4 999.1.1.1 x\r\nGET / HTTP/1.1\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        out.is_empty(),
        "malformed: {:?}",
        String::from_utf8_lossy(&out)
    );
    // Not a PROXY header at all.
    let out = raw_exchange(
        srv.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        out.is_empty(),
        "no header: {:?}",
        String::from_utf8_lossy(&out)
    );
    // Never completes: closed at the header timeout.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"PROXY TCP4 1.2.3.4").unwrap();
    let t = Instant::now();
    let got = read_to_close(&mut s, Duration::from_secs(5));
    assert!(got.is_empty());
    assert!(
        t.elapsed() >= Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    assert!(t.elapsed() < Duration::from_secs(4), "{:?}", t.elapsed());
    // v2 LOCAL (a health check): the socket's own address stays the peer.
    let mut local = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    local.extend_from_slice(&[0x20, 0x00, 0x00, 0x00]);
    local.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut s = TcpStream::connect(srv.addr).unwrap();
    let me = s.local_addr().unwrap();
    s.write_all(&local).unwrap();
    let mut out = Vec::new();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out);
    assert!(text.contains(&format!("peer={me} socket={me}")), "{text}");
    srv.stop();
}

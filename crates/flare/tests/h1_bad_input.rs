//! Bad input against the real server, from a peer flare did not write: a Python
//! raw-socket suite (`tests/py/bad_input.py`) of smuggling shapes, line-syntax
//! violations, limits at and over their values, invalid chunked bodies, pipelining split
//! at every byte, and keep-alive runs. Each case checks the status, that the
//! connection is closed where RFC 9112 requires it, and that a fresh connection is
//! still served.
//!
//! The suite runs against a server with the default limits and against one with small
//! limits, so every limit is hit on both sides of its value.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::{mpsc, Mutex};
use std::time::{Duration, Instant};

use common::{basic, python, read_response, read_to_close, TestServer};
use flare::h1::Limits;
use flare::prelude::*;
use flare::web::{BodyStream, Frame, StreamContext};
use flare::{HttpServer, ServerConfig, StaticResponse};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/py/bad_input.py");

/// Runs the Python suite against `server`; panics with its whole output unless every
/// case passed.
fn run_suite(server: &TestServer, limits: &Limits) {
    run_suite_on(server.addr.port(), limits, &[]);
}

fn run_suite_on(port: u16, limits: &Limits, extra: &[&str]) {
    let out = Command::new(python())
        .arg(SCRIPT)
        .args(extra)
        .arg("--port")
        .arg(port.to_string())
        .arg("--max-request-line")
        .arg(limits.get_max_request_line().to_string())
        .arg("--max-header-bytes")
        .arg(limits.get_max_header_bytes().to_string())
        .arg("--max-headers")
        .arg(limits.get_max_headers().to_string())
        .arg("--max-body")
        .arg(limits.get_max_body().to_string())
        .arg("--max-chunk-size-digits")
        .arg(limits.get_max_chunk_size_digits().to_string())
        .arg("--max-chunk-ext-bytes")
        .arg(limits.get_max_chunk_ext_bytes().to_string())
        .arg("--max-trailer-bytes")
        .arg(limits.get_max_trailer_bytes().to_string())
        .output()
        .expect("run the Python bad-input suite");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stdout.lines().last().unwrap_or_default();
    let counted = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse::<u32>().ok());
    assert!(
        out.status.success() && counted.is_some_and(|n| n > 0),
        "bad-input suite failed ({}):\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    // Shown with `--nocapture`.
    println!("{stdout}");
}

#[test]
fn bad_input_with_default_limits() {
    let limits = Limits::default();
    // The suite's own defaults mirror these; check the values it is told agree with
    // the documented ones, so a change of default is a visible decision.
    assert_eq!(limits.get_max_request_line(), 8 * 1024);
    assert_eq!(limits.get_max_header_bytes(), 16 * 1024);
    assert_eq!(limits.get_max_headers(), 100);
    assert_eq!(limits.get_max_body(), 2 * 1024 * 1024);
    assert_eq!(limits.get_max_chunk_size_digits(), 16);
    assert_eq!(limits.get_max_chunk_ext_bytes(), 16 * 1024);
    assert_eq!(limits.get_max_trailer_bytes(), 16 * 1024);
    let server = TestServer::start_with(basic, 2, ServerConfig::default());
    run_suite(&server, &limits);
    server.stop();
}

#[test]
fn bad_input_with_small_limits() {
    let limits = Limits::default()
        .max_request_line(200)
        .max_header_bytes(1024)
        .max_headers(12)
        .max_body(3000)
        .max_chunk_size_digits(4)
        .max_chunk_ext_bytes(64)
        .max_trailer_bytes(256);
    let server = TestServer::start_with(basic, 1, ServerConfig::default().limits(limits.clone()));
    run_suite(&server, &limits);
    server.stop();
}

#[test]
fn bad_input_against_the_static_response_path() {
    // `start_static` answers without building a request object: its own branch of the
    // connection code, which must refuse and frame exactly as the handler path does.
    let limits = Limits::default()
        .max_request_line(300)
        .max_header_bytes(2048)
        .max_headers(20)
        .max_body(10_000)
        .max_chunk_size_digits(6)
        .max_chunk_ext_bytes(100)
        .max_trailer_bytes(500);
    let handle = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .config(common::with_test_backend(
            ServerConfig::default().limits(limits.clone()),
        ))
        .start_static(StaticResponse::new(200, "text/plain", "Hello, World!"))
        .unwrap();
    run_suite_on(handle.local_addr().port(), &limits, &["--static"]);
    handle.shutdown(Duration::from_secs(1));
    handle.join().unwrap();
}

// Timeouts: each guards a connection a client holds open without finishing a request.
// The server answers 408 and closes; the tests wait for that close (bounded by a read
// deadline), never sleep.

/// A server with every request-reading timeout at `t`.
fn timeout_server(t: Duration) -> TestServer {
    let cfg = ServerConfig::default()
        .header_timeout(t)
        .body_timeout(t)
        .keep_alive_timeout(t)
        .linger_timeout(t);
    TestServer::start_with(basic, 1, cfg)
}

/// Sends `bytes`, then waits (at most `within`) for the server to answer and close;
/// returns what it sent and how long the close took.
fn wait_for_close(
    addr: std::net::SocketAddr,
    bytes: &[u8],
    within: Duration,
) -> (String, Duration) {
    let start = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(bytes).unwrap();
    s.set_read_timeout(Some(within)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "server did not close within {within:?} ({e}); got {:?}",
                String::from_utf8_lossy(&out)
            ),
        }
    }
    (String::from_utf8_lossy(&out).into_owned(), start.elapsed())
}

#[test]
fn header_timeout_answers_408_and_closes() {
    let server = timeout_server(Duration::from_millis(300));
    let (resp, took) = wait_for_close(
        server.addr,
        b"GET /plaintext HTTP/1.1\r\nHost: t\r\n",
        Duration::from_secs(10),
    );
    assert!(resp.starts_with("HTTP/1.1 408 "), "got {resp:?}");
    assert!(
        took >= Duration::from_millis(300),
        "closed after {took:?}, before the timeout"
    );
}

#[test]
fn header_timeout_is_not_reset_by_trickled_bytes() {
    // Slowloris: one byte of an endless header every 50 ms. The header timeout runs
    // from the first byte, so the server cuts the client off however it trickles.
    let server = timeout_server(Duration::from_millis(300));
    let start = Instant::now();
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        .unwrap();
    // Each read waits 50 ms for the server's answer; no answer means: send a byte more.
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    for _ in 0..400 {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                if s.write_all(b"a").is_err() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let resp = String::from_utf8_lossy(&out);
    assert!(resp.starts_with("HTTP/1.1 408 "), "got {resp:?}");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn body_timeout_when_no_body_byte_arrives() {
    let server = timeout_server(Duration::from_millis(300));
    let (resp, _) = wait_for_close(
        server.addr,
        b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n",
        Duration::from_secs(10),
    );
    assert!(resp.starts_with("HTTP/1.1 408 "), "got {resp:?}");
}

#[test]
fn body_timeout_when_the_body_stalls() {
    let server = timeout_server(Duration::from_millis(300));
    let (resp, _) = wait_for_close(
        server.addr,
        b"POST /len HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhalf",
        Duration::from_secs(10),
    );
    assert!(resp.starts_with("HTTP/1.1 408 "), "got {resp:?}");
}

#[test]
fn body_timeout_when_no_chunk_arrives() {
    let server = timeout_server(Duration::from_millis(300));
    let (resp, _) = wait_for_close(
        server.addr,
        b"POST /len HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n",
        Duration::from_secs(10),
    );
    assert!(resp.starts_with("HTTP/1.1 408 "), "got {resp:?}");
}

#[test]
fn keep_alive_timeout_closes_an_idle_connection() {
    let server = timeout_server(Duration::from_millis(300));
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let (status, body) = read_response(&mut s);
    assert_eq!((status, body.as_slice()), (200, &b"Hello, World!"[..]));
    let start = Instant::now();
    let rest = read_to_close(&mut s, Duration::from_secs(10));
    let took = start.elapsed();
    assert!(
        rest.is_empty(),
        "idle close sent {:?}",
        String::from_utf8_lossy(&rest)
    );
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_secs(9),
        "idle connection closed after {took:?}"
    );
}

#[test]
fn max_requests_per_connection_closes_after_the_last() {
    let cfg = ServerConfig::default().max_requests_per_connection(5);
    let server = TestServer::start_with(basic, 1, cfg);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Pipelined past the limit: the fifth answer says close, the sixth never comes.
    let req = b"GET /plaintext HTTP/1.1\r\nHost: t\r\n\r\n";
    s.write_all(&req.repeat(6)).unwrap();
    let all = String::from_utf8_lossy(&read_to_close(&mut s, Duration::from_secs(10))).into_owned();
    assert_eq!(all.matches("HTTP/1.1 200 OK\r\n").count(), 5, "{all}");
    assert_eq!(all.matches("\r\nconnection: close\r\n").count(), 1, "{all}");
    let last = all.rfind("HTTP/1.1 200 OK").unwrap();
    assert!(all[last..].contains("\r\nconnection: close\r\n"), "{all}");
}

/// An endless stream that reports on `dropped` when the server drops it (its
/// connection was closed).
struct Endless {
    dropped: mpsc::Sender<()>,
}

impl BodyStream for Endless {
    fn poll_frame(&mut self, _cx: &mut StreamContext<'_>) -> Frame {
        Frame::Data(Bytes::from_static(&[b'x'; 64 * 1024]))
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        let _ = self.dropped.send(());
    }
}

#[test]
fn write_timeout_closes_a_client_that_does_not_read() {
    let (tx, rx) = mpsc::channel();
    let tx = Mutex::new(tx);
    let handler = move |_req: &Request| {
        let dropped = tx.lock().unwrap().clone();
        Response::stream(Body::Stream(Box::new(Endless { dropped })))
    };
    let cfg = ServerConfig::default().write_timeout(Duration::from_millis(300));
    let server = TestServer::start_with(handler, 1, cfg);
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // Not reading: the socket buffers fill, the server blocks, and after the write
    // timeout it closes the connection and drops the stream.
    rx.recv_timeout(Duration::from_secs(20))
        .expect("the server kept a connection whose client does not read");
    // What was buffered is still readable, then the connection ends.
    let got = read_to_close(&mut s, Duration::from_secs(20));
    let head_end = common::find(&got, b"\r\n\r\n").expect("a response head");
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(got.len() > head_end + 64 * 1024, "only {} bytes", got.len());
    // A chunked body cut short: no last chunk.
    assert!(!got.ends_with(b"0\r\n\r\n"));
}

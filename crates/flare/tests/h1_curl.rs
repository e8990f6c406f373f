//! The HTTP/1.1 server against curl: keep-alive reuse, sized and chunked uploads,
//! `Expect: 100-continue`, HEAD, response trailers (`--raw`), and HTTP/1.0 (`-0`).
//! Request trailers are not in curl's command line; the Python bad-input suite
//! (`tests/py/bad_input.py`, case "request trailers reach the handler") sends them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{require, TestServer};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use flare::prelude::*;
use flare::web::{BodyStream, Frame, StreamContext};
use flare::ServerConfig;

const ONE_MIB: usize = 1024 * 1024;

fn handler(req: &Request) -> Response {
    match req.path() {
        "/plaintext" => Response::text("Hello, World!"),
        "/echo" => Response::bytes(req.body().to_vec()),
        "/len" => Response::text(req.body().len().to_string()),
        "/stream" => {
            let chunks = [Bytes::from_static(b"hello "), Bytes::from_static(b"world")];
            let trailers = vec![
                (
                    HeaderName::from_static("x-checksum"),
                    HeaderValue::from_static("abc123"),
                ),
                (HeaderName::from_static("x-count"), HeaderValue::from(2u32)),
            ];
            Response::stream(Body::from_chunks_with_trailers(
                chunks.into_iter(),
                trailers,
            ))
        }
        "/big-stream" => {
            // 4 MiB in 1 KiB chunks: more than the send buffer holds, so the server
            // must stop pulling and resume as curl reads.
            let chunks = (0..BIG_CHUNKS).map(|i| Bytes::from(big_chunk(i)));
            Response::stream(Body::from_chunks(chunks))
        }
        "/wake-thread" => Response::stream(Body::Stream(Box::new(WakeStream::new(true)))),
        "/wake-inline" => Response::stream(Body::Stream(Box::new(WakeStream::new(false)))),
        "/stream-plain" => {
            let chunks = (0..3).map(|i| Bytes::from(format!("part {i}\n")));
            Response::stream(Body::from_chunks(chunks))
        }
        _ => Response::error(StatusCode::NOT_FOUND, "not found"),
    }
}

const BIG_CHUNKS: usize = 4096;
const WAKE_ROUNDS: u32 = 200;

fn big_chunk(i: usize) -> Vec<u8> {
    let mut c = vec![b'a' + (i % 26) as u8; 1024];
    c[1023] = b'\n';
    c
}

/// A stream that is pending before every piece and woken either from another thread
/// or from inside `poll_frame` itself (both are allowed by `BodyStream`).
struct WakeStream {
    left: u32,
    ready: Arc<AtomicBool>,
    from_thread: bool,
}

impl WakeStream {
    fn new(from_thread: bool) -> Self {
        WakeStream {
            left: WAKE_ROUNDS,
            ready: Arc::new(AtomicBool::new(false)),
            from_thread,
        }
    }
}

impl BodyStream for WakeStream {
    fn poll_frame(&mut self, cx: &mut StreamContext<'_>) -> Frame {
        if self.left == 0 {
            return Frame::Trailers(vec![(
                HeaderName::from_static("x-rounds"),
                HeaderValue::from(WAKE_ROUNDS),
            )]);
        }
        if self.ready.swap(false, Ordering::SeqCst) {
            self.left -= 1;
            return Frame::Data(Bytes::from(format!("{}\n", self.left)));
        }
        let waker = cx.waker().clone();
        let ready = self.ready.clone();
        let wake = move || {
            ready.store(true, Ordering::SeqCst);
            waker.wake();
        };
        if self.from_thread {
            std::thread::spawn(wake);
        } else {
            wake();
        }
        Frame::Pending
    }
    fn trailer_names(&self) -> Option<String> {
        Some("x-rounds".into())
    }
}

fn server() -> TestServer {
    TestServer::start_with(handler, 2, ServerConfig::default())
}

/// `curl` with the given arguments; stdout and stderr kept apart.
fn curl(args: &[&str]) -> (Vec<u8>, String) {
    let curl = require("curl");
    let out = Command::new(&curl)
        .args(["--silent", "--show-error", "--max-time", "30"])
        .args(args)
        .output()
        .expect("spawn curl");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "curl {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{stderr}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    (out.stdout, stderr)
}

/// The response header lines curl `-v` printed (`< name: value`), lowercased.
fn response_lines(verbose: &str) -> Vec<String> {
    verbose
        .lines()
        .filter_map(|l| l.strip_prefix("< "))
        .map(|l| l.trim_end().to_ascii_lowercase())
        .collect()
}

/// A file of `len` patterned bytes in the test's own temporary directory.
fn upload_file(name: &str, len: usize) -> (PathBuf, Vec<u8>) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("h1_curl");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    (path, data)
}

fn at(path: &Path) -> String {
    format!("@{}", path.display())
}

#[test]
fn keep_alive_reuses_one_connection() {
    let s = server();
    let (u1, u2, u3) = (s.url("/plaintext"), s.url("/len"), s.url("/plaintext"));
    let (out, err) = curl(&["-v", &u1, &u2, &u3]);
    assert_eq!(out, b"Hello, World!0Hello, World!");
    assert_eq!(
        err.matches("Re-using existing connection").count(),
        2,
        "curl did not reuse the connection:\n{err}"
    );
    assert_eq!(err.matches("Connected to").count(), 1, "{err}");
    assert!(
        !response_lines(&err)
            .iter()
            .any(|l| l == "connection: close"),
        "{err}"
    );
}

#[test]
fn sized_upload_of_one_mib() {
    let s = server();
    let (file, data) = upload_file("sized.bin", ONE_MIB);
    // `Expect:` empty: send the body at once (100-continue has its own test).
    let (out, err) = curl(&[
        "-v",
        "-H",
        "Expect:",
        "-H",
        "Content-Type: application/octet-stream",
        "--data-binary",
        &at(&file),
        &s.url("/echo"),
    ]);
    assert!(
        err.contains("> Content-Length: 1048576"),
        "curl did not send a sized body:\n{err}"
    );
    assert!(!err.contains("> Transfer-Encoding"), "{err}");
    assert!(
        response_lines(&err).contains(&"content-length: 1048576".to_string()),
        "{err}"
    );
    assert!(
        out == data,
        "echoed body differs ({} bytes back)",
        out.len()
    );
}

#[test]
fn chunked_upload_of_one_mib() {
    let s = server();
    let (file, data) = upload_file("chunked.bin", ONE_MIB);
    let (out, err) = curl(&[
        "-v",
        "-H",
        "Transfer-Encoding: chunked",
        "-H",
        "Expect:",
        "--data-binary",
        &at(&file),
        &s.url("/echo"),
    ]);
    assert!(
        err.contains("> Transfer-Encoding: chunked"),
        "curl did not send chunked:\n{err}"
    );
    assert!(!err.contains("> Content-Length"), "{err}");
    assert!(
        out == data,
        "echoed body differs ({} bytes back)",
        out.len()
    );
}

#[test]
fn expect_100_continue_with_one_mib() {
    let s = server();
    let (file, _) = upload_file("expect.bin", ONE_MIB);
    let (out, err) = curl(&[
        "-v",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &at(&file),
        &s.url("/len"),
    ]);
    assert!(err.contains("> Expect: 100-continue"), "{err}");
    assert!(
        err.contains("< HTTP/1.1 100 Continue"),
        "no 100 Continue:\n{err}"
    );
    // curl gives up waiting after 1 s and sends anyway; it must not have had to.
    assert!(
        !err.contains("Done waiting for 100-continue"),
        "curl timed out waiting for 100:\n{err}"
    );
    assert_eq!(String::from_utf8_lossy(&out), ONE_MIB.to_string());
}

#[test]
fn expect_100_continue_chunked() {
    let s = server();
    let (file, data) = upload_file("expect-chunked.bin", ONE_MIB);
    let (out, err) = curl(&[
        "-v",
        "-H",
        "Expect: 100-continue",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &at(&file),
        &s.url("/echo"),
    ]);
    assert!(
        err.contains("< HTTP/1.1 100 Continue"),
        "no 100 Continue:\n{err}"
    );
    assert!(!err.contains("Done waiting for 100-continue"), "{err}");
    assert!(
        out == data,
        "echoed body differs ({} bytes back)",
        out.len()
    );
}

#[test]
fn expect_100_continue_over_the_body_limit_gets_413_without_100() {
    let s = TestServer::start_with(handler, 1, ServerConfig::default().max_body(64 * 1024));
    let (file, _) = upload_file("expect-413.bin", ONE_MIB);
    let curl_path = require("curl");
    let out = Command::new(curl_path)
        .args(["-sS", "-v", "--max-time", "30", "-o", "/dev/null"])
        .args(["-w", "%{http_code}", "-H", "Expect: 100-continue"])
        .args(["--data-binary", &at(&file), &s.url("/len")])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "413", "{err}");
    assert!(!err.contains("100 Continue"), "{err}");
    assert!(
        response_lines(&err).contains(&"connection: close".to_string()),
        "{err}"
    );
}

#[test]
fn head_has_length_and_no_body() {
    let s = server();
    let (out, _) = curl(&["-I", &s.url("/plaintext")]);
    let head = String::from_utf8_lossy(&out).to_ascii_lowercase();
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(head.contains("\r\ncontent-length: 13\r\n"), "{head}");
    assert!(head.ends_with("\r\n\r\n"), "{head}");

    // Two HEADs and a GET on one connection: had the server sent a body after a
    // HEAD, the next response would start inside it.
    let u = s.url("/plaintext");
    let (out, err) = curl(&["-v", "-I", &u, &u, "--next", &u]);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 2, "{text}");
    assert!(text.ends_with("Hello, World!"), "{text}");
    assert_eq!(
        err.matches("Re-using existing connection").count(),
        2,
        "{err}"
    );
    assert!(!err.contains("Excess found"), "{err}");
}

#[test]
fn head_of_a_streamed_response_has_no_body() {
    let s = server();
    let u = s.url("/stream");
    let (out, err) = curl(&["-v", "-I", &u, "--next", &u]);
    let text = String::from_utf8_lossy(&out).to_ascii_lowercase();
    assert!(text.contains("transfer-encoding: chunked"), "{text}");
    assert!(text.ends_with("hello world"), "{text}");
    assert_eq!(
        err.matches("Re-using existing connection").count(),
        1,
        "{err}"
    );
}

#[test]
fn response_trailers_raw() {
    let s = server();
    let (out, err) = curl(&["-v", "--raw", &s.url("/stream")]);
    let lines = response_lines(&err);
    assert!(
        lines.contains(&"transfer-encoding: chunked".to_string()),
        "{err}"
    );
    assert!(
        lines.contains(&"trailer: x-checksum, x-count".to_string()),
        "{err}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out),
        "6\r\nhello \r\n5\r\nworld\r\n0\r\nx-checksum: abc123\r\nx-count: 2\r\n\r\n"
    );
}

#[test]
fn response_trailers_decoded() {
    let s = server();
    // curl passes trailer fields to its header callback, so `--dump-header` lists
    // them after the head.
    let (out, _) = curl(&["--dump-header", "-", &s.url("/stream")]);
    let text = String::from_utf8_lossy(&out);
    let (head, rest) = text.split_once("\r\n\r\n").expect("a head");
    assert!(head.contains("\r\ntransfer-encoding: chunked"), "{text:?}");
    assert_eq!(
        rest, "hello worldx-checksum: abc123\r\nx-count: 2\r\n",
        "{text:?}"
    );
}

#[test]
fn http10_closes_by_default() {
    let s = server();
    let (out, err) = curl(&["-0", "-v", &s.url("/plaintext")]);
    assert_eq!(out, b"Hello, World!");
    assert!(err.contains("> GET /plaintext HTTP/1.0"), "{err}");
    let lines = response_lines(&err);
    assert!(lines.contains(&"content-length: 13".to_string()), "{err}");
    assert!(lines.contains(&"connection: close".to_string()), "{err}");
}

#[test]
fn http10_keep_alive_is_reused() {
    let s = server();
    let u = s.url("/plaintext");
    let (out, err) = curl(&["-0", "-v", "-H", "Connection: keep-alive", &u, &u]);
    assert_eq!(out, b"Hello, World!Hello, World!");
    assert!(
        response_lines(&err).contains(&"connection: keep-alive".to_string()),
        "{err}"
    );
    assert_eq!(
        err.matches("Re-using existing connection").count(),
        1,
        "{err}"
    );
}

#[test]
fn http10_stream_is_close_delimited() {
    let s = server();
    // Even when the client asks to keep the connection: HTTP/1.0 has no chunked
    // coding, so a body of unknown length ends with the connection.
    let (out, err) = curl(&[
        "-0",
        "-v",
        "-H",
        "Connection: keep-alive",
        &s.url("/stream-plain"),
    ]);
    assert_eq!(out, b"part 0\npart 1\npart 2\n");
    let lines = response_lines(&err);
    assert!(
        !lines.iter().any(|l| l.starts_with("transfer-encoding")),
        "{err}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("content-length")),
        "{err}"
    );
    assert!(lines.contains(&"connection: close".to_string()), "{err}");

    // The trailers of a streamed body are dropped, not sent as body bytes.
    let (out, _) = curl(&["-0", &s.url("/stream")]);
    assert_eq!(out, b"hello world");
}

#[test]
fn streamed_response_reuses_the_connection() {
    let s = server();
    let (u1, u2) = (s.url("/stream-plain"), s.url("/plaintext"));
    let (out, err) = curl(&["-v", &u1, &u2]);
    assert_eq!(out, b"part 0\npart 1\npart 2\nHello, World!");
    assert_eq!(
        err.matches("Re-using existing connection").count(),
        1,
        "{err}"
    );
}

#[test]
fn large_stream_to_a_slow_reader() {
    let s = server();
    // curl reads at 8 MB/s, so the server's send buffer fills and the stream is
    // paused and resumed many times.
    let (out, err) = curl(&["-v", "--limit-rate", "8M", &s.url("/big-stream")]);
    assert_eq!(out.len(), BIG_CHUNKS * 1024, "{err}");
    let want: Vec<u8> = (0..BIG_CHUNKS).flat_map(big_chunk).collect();
    assert!(out == want, "streamed body differs");
}

#[test]
fn pending_stream_woken_from_another_thread() {
    let s = server();
    let u = s.url("/wake-thread");
    let (out, _) = curl(&["--dump-header", "-", &u, &s.url("/plaintext")]);
    let text = String::from_utf8_lossy(&out);
    let want: String = (0..WAKE_ROUNDS).rev().map(|i| format!("{i}\n")).collect();
    assert!(
        text.contains(&format!("\r\n\r\n{want}x-rounds: 200\r\n")),
        "{text}"
    );
    assert!(text.ends_with("Hello, World!"), "{text}");
}

#[test]
fn pending_stream_woken_inside_poll() {
    let s = server();
    let (out, _) = curl(&["--dump-header", "-", &s.url("/wake-inline")]);
    let text = String::from_utf8_lossy(&out);
    let want: String = (0..WAKE_ROUNDS).rev().map(|i| format!("{i}\n")).collect();
    assert!(
        text.contains(&format!("\r\n\r\n{want}x-rounds: 200\r\n")),
        "{text}"
    );
}

/// A server on `addr` with `handler`, shut down at the end of the test.
fn start_on(addr: &str, shared_listener: bool) -> ServerHandle {
    HttpServer::bind(addr)
        .unwrap()
        .workers(2)
        .shared_listener(shared_listener)
        .configure(common::with_test_backend)
        .start(handler)
        .unwrap()
}

fn stop(h: ServerHandle) {
    h.shutdown(std::time::Duration::from_secs(2));
    h.join().unwrap();
}

#[test]
fn ipv6_loopback() {
    let h = start_on("[::1]:0", false);
    let base = format!("http://[::1]:{}", h.local_addr().port());
    let (file, data) = upload_file("v6.bin", 256 * 1024);
    let (out, err) = curl(&[
        "-v",
        "-g",
        &format!("{base}/plaintext"),
        "--data-binary",
        &at(&file),
        &format!("{base}/echo"),
    ]);
    assert!(out.starts_with(b"Hello, World!"), "{err}");
    assert!(out[13..] == data[..], "echo over IPv6 differs");
    assert_eq!(
        err.matches("Re-using existing connection").count(),
        1,
        "{err}"
    );
    stop(h);
}

#[test]
fn shared_listener_serves_many_connections() {
    let h = start_on("127.0.0.1:0", true);
    let url = format!("http://127.0.0.1:{}/plaintext", h.local_addr().port());
    // Twenty separate connections (`--next` without reuse), all answered.
    let mut args: Vec<&str> = Vec::new();
    for i in 0..20 {
        if i > 0 {
            args.push("--next");
        }
        args.extend(["-v", "-H", "Connection: close", &url]);
    }
    let (out, err) = curl(&args);
    assert_eq!(out, b"Hello, World!".repeat(20), "{err}");
    assert_eq!(err.matches("Connected to").count(), 20, "{err}");
    stop(h);
}

//! Server behaviour on loopback with raw sockets: timeouts, connection limits,
//! back-pressure, panics, streaming with wake-ups.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use flare::prelude::*;
use flare::ServerConfig;
use flare_web::{BodyStream, Frame, StreamContext, StreamWaker};

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_nodelay(true).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

const GET: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";

/// Whether the peer closed: a read returns 0 or a reset within `wait`.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + wait;
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                return false
            }
            Err(_) => return true,
        }
        if Instant::now() > deadline {
            return false;
        }
    }
}

#[test]
fn slowloris_connections_are_closed_at_the_header_deadline_while_others_are_served() {
    let cfg = ServerConfig::default().header_timeout(Duration::from_secs(1));
    let srv = TestServer::start_with(basic, 2, cfg);
    let started = Instant::now();
    let mut slow: Vec<TcpStream> = (0..500)
        .map(|_| {
            let mut s = connect(srv.addr);
            s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    // Trickle one header byte per connection every 100 ms; a normal client is served
    // meanwhile. Every slow connection must be closed by the server, each within the
    // header deadline plus slack, though it keeps sending.
    let mut open = vec![true; slow.len()];
    let mut normal_ok = 0;
    let mut buf = [0u8; 1024];
    while open.iter().any(|o| *o) {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "slow connections still open after 10 s"
        );
        for (i, s) in slow.iter_mut().enumerate() {
            if !open[i] {
                continue;
            }
            match s.read(&mut buf) {
                Ok(0) => open[i] = false,
                Ok(n) => {
                    // The 408 the server sends before closing.
                    assert!(
                        buf[..n].starts_with(b"HTTP/1.1 408"),
                        "{:?}",
                        String::from_utf8_lossy(&buf[..n])
                    );
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if s.write_all(b"X").is_err() {
                        open[i] = false;
                    }
                }
                Err(_) => open[i] = false,
            }
        }
        let t = Instant::now();
        let mut c = connect(srv.addr);
        c.write_all(GET).unwrap();
        let (status, body) = read_response(&mut c);
        assert_eq!((status, &body[..]), (200, &b"Hello, World!"[..]));
        assert!(
            t.elapsed() < Duration::from_secs(1),
            "normal request took {:?}",
            t.elapsed()
        );
        normal_ok += 1;
        std::thread::sleep(Duration::from_millis(100));
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(900),
        "closed before the deadline: {took:?}"
    );
    assert!(
        normal_ok >= 5,
        "the normal client was served {normal_ok} times"
    );
}

#[test]
fn idle_keep_alive_connections_close_at_the_keep_alive_timeout() {
    let cfg = ServerConfig::default().keep_alive_timeout(Duration::from_millis(300));
    let srv = TestServer::start_with(basic, 1, cfg);
    let mut s = connect(srv.addr);
    s.write_all(GET).unwrap();
    assert_eq!(read_response(&mut s).0, 200);
    let t = Instant::now();
    assert!(closed_within(&mut s, Duration::from_secs(5)));
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
}

#[test]
fn a_stalled_body_gets_408_at_the_body_deadline() {
    let cfg = ServerConfig::default().body_timeout(Duration::from_millis(300));
    let srv = TestServer::start_with(basic, 1, cfg);
    let mut s = connect(srv.addr);
    s.write_all(b"POST /len HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let out = read_to_close(&mut s, Duration::from_secs(5));
    assert!(
        out.starts_with(b"HTTP/1.1 408"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn max_requests_per_connection_closes_after_the_last_one() {
    let cfg = ServerConfig::default().max_requests_per_connection(3);
    let srv = TestServer::start_with(basic, 1, cfg);
    let mut s = connect(srv.addr);
    for i in 1..=3 {
        s.write_all(GET).unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).unwrap();
            head.push(b[0]);
        }
        let head = String::from_utf8(head).unwrap();
        assert_eq!(
            head.contains("connection: close"),
            i == 3,
            "request {i}: {head}"
        );
        let mut body = [0u8; 13];
        s.read_exact(&mut body).unwrap();
    }
    assert!(closed_within(&mut s, Duration::from_secs(5)));
}

#[test]
fn max_connections_holds_new_connections_until_one_closes() {
    let cfg = ServerConfig::default().max_connections(2);
    let srv = TestServer::start_with(basic, 1, cfg);
    let mut a = connect(srv.addr);
    let mut b = connect(srv.addr);
    for s in [&mut a, &mut b] {
        s.write_all(GET).unwrap();
        assert_eq!(read_response(s).0, 200);
    }
    // The third is queued by the kernel, not accepted: no answer yet.
    let mut c = connect(srv.addr);
    c.write_all(GET).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut buf = [0u8; 64];
    assert!(
        c.read(&mut buf).is_err(),
        "third connection answered past max_connections"
    );
    drop(a);
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(read_response(&mut c).0, 200);
}

#[test]
fn a_panicking_handler_gets_500_and_the_worker_keeps_serving() {
    let srv = TestServer::start_with(
        |req: &Request| -> Response {
            if req.path() == "/panic" {
                panic!("handler bug");
            }
            Response::text("ok")
        },
        1,
        ServerConfig::default(),
    );
    let mut s = connect(srv.addr);
    s.write_all(b"GET /panic HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s).0, 500);
    s.write_all(GET).unwrap();
    assert_eq!(read_response(&mut s), (200, b"ok".to_vec()));
}

/// An endless body: the server must pull it only as fast as the client reads.
struct Endless(Arc<AtomicUsize>);
impl BodyStream for Endless {
    fn poll_frame(&mut self, _cx: &mut StreamContext<'_>) -> Frame {
        self.0.fetch_add(1, Ordering::Relaxed);
        Frame::Data(Bytes::from_static(&[b'x'; 16 * 1024]))
    }
}

#[test]
fn a_client_that_does_not_read_bounds_buffering_and_hits_the_write_timeout() {
    let produced = Arc::new(AtomicUsize::new(0));
    let p = produced.clone();
    let cfg = ServerConfig::default().write_timeout(Duration::from_millis(500));
    let srv = TestServer::start_with(
        move |_: &Request| Response::stream(Body::Stream(Box::new(Endless(p.clone())))),
        1,
        cfg,
    );
    let mut s = connect(srv.addr);
    s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // Wait until production stalls (socket buffers full), then check the bound.
    let mut last = 0;
    let stalled_at = Instant::now() + Duration::from_secs(10);
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let now = produced.load(Ordering::Relaxed);
        if now == last && now > 0 {
            break;
        }
        last = now;
        assert!(
            Instant::now() < stalled_at,
            "production never stalled: {now} chunks"
        );
    }
    let bytes = last * 16 * 1024;
    assert!(
        bytes < 64 * 1024 * 1024,
        "server buffered {bytes} bytes for a client that does not read"
    );
    // Past the write timeout the server gives up on the connection.
    std::thread::sleep(Duration::from_millis(800));
    let got = read_to_close(&mut s, Duration::from_secs(10));
    assert!(
        got.len() <= bytes + 4096,
        "read {} of {} produced",
        got.len(),
        bytes
    );
}

/// Queued events, the end flag, and the waker of a pending poll.
type Q = Arc<Mutex<(Vec<Bytes>, bool, Option<StreamWaker>)>>;

/// A stream that is pending until another thread pushes events (SSE style).
struct Channel {
    queue: Q,
}
impl BodyStream for Channel {
    fn poll_frame(&mut self, cx: &mut StreamContext<'_>) -> Frame {
        let mut q = self.queue.lock().unwrap();
        if !q.0.is_empty() {
            return Frame::Data(q.0.remove(0));
        }
        if q.1 {
            return Frame::End;
        }
        q.2 = Some(cx.waker().clone());
        Frame::Pending
    }
}

#[test]
fn a_pending_stream_resumes_when_woken_from_another_thread() {
    let slot: Arc<Mutex<Option<Q>>> = Arc::new(Mutex::new(None));
    let s2 = slot.clone();
    let srv = TestServer::start_with(
        move |_: &Request| {
            let q: Q = Arc::new(Mutex::new((Vec::new(), false, None)));
            *s2.lock().unwrap() = Some(q.clone());
            Response::stream(Body::Stream(Box::new(Channel { queue: q })))
                .with_content_type(HeaderValue::from_static("text/event-stream"))
        },
        1,
        ServerConfig::default(),
    );
    let mut s = connect(srv.addr);
    s.write_all(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let q = loop {
        if let Some(q) = slot.lock().unwrap().clone() {
            break q;
        }
        std::thread::yield_now();
    };
    let push = |data: &'static [u8], end: bool| {
        let mut g = q.lock().unwrap();
        g.0.push(Bytes::from_static(data));
        g.1 = end;
        if let Some(w) = g.2.take() {
            w.wake();
        }
    };
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    let mut read_until = |s: &mut TcpStream, got: &mut Vec<u8>, pat: &[u8]| {
        while find(got, pat).is_none() {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
    };
    read_until(&mut s, &mut got, b"\r\n\r\n");
    push(b"data: one\n\n", false);
    read_until(&mut s, &mut got, b"data: one");
    push(b"data: two\n\n", true);
    read_until(&mut s, &mut got, b"0\r\n\r\n");
    let text = String::from_utf8_lossy(&got);
    assert!(text.contains("transfer-encoding: chunked"), "{text}");
    assert!(text.contains("data: two"), "{text}");
    // The connection is still usable afterwards.
    s.write_all(GET).unwrap();
    assert_eq!(read_response(&mut s).0, 200);
}

#[test]
fn http10_gets_a_close_delimited_stream_and_keep_alive_on_request() {
    let srv = TestServer::start_with(
        |req: &Request| {
            if req.path() == "/stream" {
                Response::stream(Body::from_chunks(
                    (0..3).map(|i| Bytes::from(format!("c{i}"))),
                ))
            } else {
                Response::text("Hello, World!")
            }
        },
        1,
        ServerConfig::default(),
    );
    let out = raw_exchange(
        srv.addr,
        b"GET /stream HTTP/1.0\r\n\r\n",
        Duration::from_secs(5),
    );
    let text = String::from_utf8_lossy(&out);
    assert!(!text.contains("chunked"), "{text}");
    assert!(
        text.contains("connection: close") && text.ends_with("c0c1c2"),
        "{text}"
    );
    let mut s = connect(srv.addr);
    s.write_all(b"GET /p HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    assert!(String::from_utf8_lossy(&head).contains("connection: keep-alive"));
}

#[test]
fn serve_static_answers_every_request_with_the_pre_encoded_response() {
    let handle = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .configure(with_test_backend)
        .start_static(StaticResponse::new(200, "text/plain", "Hello, World!"))
        .unwrap();
    let addr = handle.local_addr();
    let mut s = connect(addr);
    // Pipelined: a GET, a POST whose body is read and dropped, a HEAD.
    s.write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcHEAD /c HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    // The GET and POST answers come before the HEAD's: read exactly their bytes.
    let one = {
        let mut probe = connect(addr);
        probe.write_all(GET).unwrap();
        let mut v = Vec::new();
        let mut b = [0u8; 1];
        while !v.ends_with(b"Hello, World!") {
            probe.read_exact(&mut b).unwrap();
            v.push(b[0]);
        }
        v.len()
    };
    let mut two = vec![0u8; 2 * one];
    s.read_exact(&mut two).unwrap();
    assert!(two.ends_with(b"Hello, World!") && two[..one].ends_with(b"Hello, World!"));
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        s.read_exact(&mut b).unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(
        head.contains("content-length: 13") && head.contains("date: "),
        "{head}"
    );
    // No body after the HEAD response: the next bytes are the next response.
    s.write_all(GET).unwrap();
    assert_eq!(read_response(&mut s).0, 200);
    // Bad input still gets its status.
    let out = raw_exchange(
        addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(
        out.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    // HTTP/1.0 without keep-alive is closed after the answer.
    let out = raw_exchange(addr, b"GET / HTTP/1.0\r\n\r\n", Duration::from_secs(5));
    assert!(String::from_utf8_lossy(&out).contains("connection: close"));
    handle.shutdown(Duration::from_secs(1));
    handle.join().unwrap();
}

/// Small uploads on `/small`, large on `/large`, the server default elsewhere.
struct Limited;
impl Handler for Limited {
    fn handle(&self, req: &mut Request) -> Response {
        Response::text(req.body().len().to_string())
    }
    fn body_limit(&self, req: &Request) -> Option<u64> {
        match req.path() {
            "/small" => Some(10),
            "/large" => Some(1_000_000),
            _ => None,
        }
    }
}

#[test]
fn a_handler_sets_the_body_limit_per_request() {
    let srv = TestServer::start_with(Limited, 1, ServerConfig::default().max_body(1000));
    let post = |path: &str, n: usize, chunked: bool| {
        let mut s = connect(srv.addr);
        let body = vec![b'x'; n];
        let mut req = if chunked {
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{n:x}\r\n"
            )
            .into_bytes()
        } else {
            format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n").into_bytes()
        };
        req.extend_from_slice(&body);
        if chunked {
            req.extend_from_slice(b"\r\n0\r\n\r\n");
        }
        let _ = s.write_all(&req);
        read_response(&mut s)
    };
    for chunked in [false, true] {
        assert_eq!(post("/small", 10, chunked), (200, b"10".to_vec()));
        assert_eq!(post("/small", 11, chunked).0, 413);
        assert_eq!(post("/other", 1000, chunked), (200, b"1000".to_vec()));
        assert_eq!(post("/other", 1001, chunked).0, 413);
        assert_eq!(post("/large", 500_000, chunked), (200, b"500000".to_vec()));
    }
}

#[test]
fn file_bodies_are_sent_whole() {
    let dir = std::env::temp_dir().join(format!("flare-sendfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("big.bin");
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let p = path.clone();
    let srv = TestServer::start_with(
        move |req: &Request| {
            let file = std::fs::File::open(&p).unwrap();
            let (offset, len) = if req.path() == "/range" {
                (1000, 10_000)
            } else {
                (0, 5_000_000)
            };
            Response::bytes(Body::File(flare_web::FileBody { file, offset, len }))
        },
        1,
        ServerConfig::default(),
    );
    let mut s = connect(srv.addr);
    s.write_all(b"GET /all HTTP/1.1\r\nHost: x\r\n\r\nGET /range HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut rs = read_responses(&mut s, 2);
    let (status, body) = rs.remove(0);
    assert_eq!(status, 200);
    assert!(body == data, "file body differs ({} bytes)", body.len());
    let (status, body) = rs.remove(0);
    assert_eq!((status, &body[..]), (200, &data[1000..11_000]));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_head_sent_one_byte_per_write_is_parsed_and_checked_the_same() {
    let srv = TestServer::start_with(basic, 1, ServerConfig::default());
    let mut s = connect(srv.addr);
    for b in b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Long: abcdefghijklmnopqrstuvwxyz\r\n\r\n" {
        s.write_all(&[*b]).unwrap();
    }
    assert_eq!(read_response(&mut s), (200, b"Hello, World!".to_vec()));
    // A bad byte in a trickled line is still refused when its line ends.
    let mut s = connect(srv.addr);
    for b in b"GET /plaintext HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n" {
        s.write_all(&[*b]).unwrap();
    }
    let out = read_to_close(&mut s, Duration::from_secs(5));
    assert!(
        out.starts_with(b"HTTP/1.1 400"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    // A request line over the limit is refused before any line feed arrives.
    let cfg = ServerConfig::default().limits(flare::h1::Limits::default().max_request_line(64));
    let srv = TestServer::start_with(basic, 1, cfg);
    let mut s = connect(srv.addr);
    s.write_all(b"GET /").unwrap();
    for _ in 0..80 {
        if s.write_all(b"a").is_err() {
            break;
        }
    }
    let out = read_to_close(&mut s, Duration::from_secs(5));
    assert!(
        out.starts_with(b"HTTP/1.1 414"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
}

/// A stream that promises `hint` bytes and yields `actual`.
struct Sized {
    hint: u64,
    actual: usize,
    done: bool,
}
impl BodyStream for Sized {
    fn poll_frame(&mut self, _cx: &mut StreamContext<'_>) -> Frame {
        if self.done {
            return Frame::End;
        }
        self.done = true;
        Frame::Data(Bytes::from(vec![b'z'; self.actual]))
    }
    fn size_hint(&self) -> Option<u64> {
        Some(self.hint)
    }
}

#[test]
fn a_sized_stream_that_breaks_its_promise_closes_the_connection() {
    let srv = TestServer::start_with(
        |req: &Request| {
            let actual = if req.path() == "/short" { 5 } else { 15 };
            Response::stream(Body::Stream(Box::new(Sized {
                hint: 10,
                actual,
                done: false,
            })))
        },
        1,
        ServerConfig::default(),
    );
    for path in ["/short", "/long"] {
        let mut s = connect(srv.addr);
        // A second request pipelined behind must not be answered on a connection
        // whose framing is broken.
        s.write_all(
            format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
                .as_bytes(),
        )
        .unwrap();
        let out = read_to_close(&mut s, Duration::from_secs(5));
        let text = String::from_utf8_lossy(&out);
        assert_eq!(text.matches("HTTP/1.1 200").count(), 1, "{path}: {text}");
        assert!(text.contains("content-length: 10"), "{text}");
        let body = &out[find(&out, b"\r\n\r\n").unwrap() + 4..];
        assert_eq!(
            body.len(),
            if path == "/short" { 5 } else { 10 },
            "{path}: {text}"
        );
    }
}

/// The head of a plain 200 is cached per connection: the same bytes go out while
/// the content type, body length and `Date` second stay the same, and never after;
/// a `&'static` body is cached with it, so bodies of the same length must differ.
#[test]
fn cached_response_heads_follow_content_type_length_and_date() {
    fn by_path(req: &Request) -> Response {
        match req.path() {
            "/a" => Response::text("a"),
            // Same type and length as /a, another static body.
            "/b" => Response::text("b"),
            // Same again, the body owned (made per response).
            "/o" => Response::text(String::from("o")),
            "/h" => Response::html("h"),
            // Another static content type of the same length as /h's (24 bytes).
            "/g" => Response::bytes(&b"g"[..]),
            "/bb" => Response::text("bb"),
            // A content type made per response (a fresh allocation each time).
            "/t" => Response::new(StatusCode::OK)
                .with_body("t")
                .with_content_type(HeaderValue::from_str("text/x-fresh").unwrap()),
            "/u" => Response::new(StatusCode::OK)
                .with_body("u")
                .with_content_type(HeaderValue::from_str("text/x-other").unwrap()),
            // No content type at all.
            _ => Response::new(StatusCode::OK).with_body("x"),
        }
    }
    let server = TestServer::start_with(by_path, 1, ServerConfig::default());
    let mut s = connect(server.addr);
    let field = |head: &str, name: &str| {
        head.lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
            .unwrap_or_default()
    };
    let mut ask = |path: &str| {
        s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes())
            .unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 1];
        while find(&got, b"\r\n\r\n").is_none() {
            s.read_exact(&mut b).unwrap();
            got.push(b[0]);
        }
        let head = String::from_utf8(got).unwrap();
        let len: usize = field(&head, "content-length").parse().unwrap();
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).unwrap();
        (head, body)
    };
    for (path, ct, body) in [
        ("/a", "text/plain; charset=utf-8", "a"),
        ("/b", "text/plain; charset=utf-8", "b"),
        ("/a", "text/plain; charset=utf-8", "a"),
        ("/o", "text/plain; charset=utf-8", "o"),
        ("/a", "text/plain; charset=utf-8", "a"),
        ("/o", "text/plain; charset=utf-8", "o"),
        ("/b", "text/plain; charset=utf-8", "b"),
        ("/a", "text/plain; charset=utf-8", "a"),
        ("/h", "text/html; charset=utf-8", "h"),
        ("/g", "application/octet-stream", "g"),
        ("/h", "text/html; charset=utf-8", "h"),
        ("/bb", "text/plain; charset=utf-8", "bb"),
        ("/x", "", "x"),
        ("/t", "text/x-fresh", "t"),
        ("/u", "text/x-other", "u"),
        ("/t", "text/x-fresh", "t"),
        ("/a", "text/plain; charset=utf-8", "a"),
    ] {
        let (head, got) = ask(path);
        assert_eq!(field(&head, "content-type"), ct, "{path}: {head}");
        assert_eq!(got, body.as_bytes(), "{path}");
    }
    let (first, _) = ask("/a");
    std::thread::sleep(Duration::from_millis(1100));
    let (second, _) = ask("/a");
    assert_ne!(
        field(&first, "date"),
        field(&second, "date"),
        "Date moved on"
    );
}

/// The handler sees each connection's own peer address, on every request of a
/// keep-alive connection and on a later connection that reuses the first one's
/// pooled buffers (one worker).
#[test]
fn every_request_carries_its_own_connections_peer_address() {
    fn peer(req: &Request) -> Response {
        Response::text(format!("{:?}", req.peer_addr()))
    }
    let server = TestServer::start_with(peer, 1, ServerConfig::default());
    let ask = |s: &mut TcpStream| {
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut got = Vec::new();
        let mut b = [0u8; 1];
        while !got.ends_with(b")") {
            s.read_exact(&mut b).unwrap();
            got.push(b[0]);
        }
        let text = String::from_utf8(got).unwrap();
        text[text.find("\r\n\r\n").unwrap() + 4..].to_string()
    };
    let mut seen = Vec::new();
    for _ in 0..3 {
        let mut s = connect(server.addr);
        let me = format!("{:?}", Some(s.local_addr().unwrap()));
        assert_eq!(ask(&mut s), me);
        assert_eq!(ask(&mut s), me, "second request on the same connection");
        seen.push(me);
        drop(s);
        // Time for the worker to see the close and pool the buffers, so the next
        // connection most likely gets them (the check holds either way).
        std::thread::sleep(Duration::from_millis(50));
    }
    seen.dedup();
    assert_eq!(seen.len(), 3, "three connections, three ports: {seen:?}");
}

//! HTTP/2 on the non-blocking client (`RequestBuilder::start`), on loopback: nginx
//! `listen ... ssl http2` with a test CA (200 `start`s at once on one connection by
//! `$connection`, GET, a 1.5 MiB POST past the 64 KiB window, gzip, the size cap,
//! a dropped `Pending` reset while the connection serves the others: nginx logs
//! 499 for it); nghttpd by prior knowledge; flare's own server with
//! SETTINGS_MAX_CONCURRENT_STREAMS 2 (a second and third connection, no more); a
//! one-worker handler calling an h2c upstream through `then` while its worker
//! answers others; hand-written flare-h2 servers for what real servers will not
//! do on cue: a stream never answered (read and request timeouts, RST_STREAM
//! CANCEL, the other streams unaffected), GOAWAY below an in-flight request (GET
//! retried once, POST not), and a protocol error.
//!
//! The tests run one at a time (a lock): the handler test counts the process's
//! threads.

mod client_support;
mod common;

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use client_support::{free_port, temp_dir, wait_port, Kill};
use common::*;
use flare::client::{Client, Error, ProtocolError, TimeoutKind};
use flare::h2::{Config as H2Config, Connection, ErrorCode, Event as H2Event, StreamId};
use flare::prelude::*;
use flare::web::blocking::BlockingPool;
use flare::ServerConfig;

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

fn builder() -> flare::client::ClientBuilder {
    Client::builder().no_proxy()
}

/// Polls `f` every 10 ms until it holds; panics with `what` after `limit`.
fn wait_for(limit: Duration, what: &str, mut f: impl FnMut() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "{what} (waited {limit:?})");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---- nginx over TLS ---------------------------------------------------------------

struct Nginx {
    _nginx: client_support::Nginx,
    _backend: TestServer,
    https: u16,
    ca: Vec<u8>,
    big: String,
    dir: PathBuf,
}

/// nginx with `listen ssl http2` (certificate for localhost from a throwaway CA):
/// `$connection` at /conn, gzip for text/plain, /echo and /slow (2 s) proxied to a
/// flare server; an access log of `uri status connection`.
fn nginx() -> Nginx {
    let big: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    let ca = flare::tls::test_ca("flare nonblocking h2 test CA").unwrap();
    let (chain, key) = ca.issue(&["localhost"]).unwrap();
    let pool = BlockingPool::new(8, 64);
    let backend = TestServer::start(
        Router::new()
            .post("/echo", |req: &Request| {
                Response::bytes(req.body().to_vec())
            })
            .get(
                "/slow",
                blocking(|_: &Request| {
                    std::thread::sleep(Duration::from_secs(2));
                    "slow"
                })
                .on(&pool),
            ),
    );
    let https = free_port();
    let servers = format!(
        "log_format t '$request_uri $status $connection';\n\
         client_max_body_size 8m; http2_max_concurrent_streams 256;\n\
         gzip on; gzip_min_length 0; gzip_types text/plain;\n\
         server {{ listen 127.0.0.1:{https} ssl http2; root {{d}}/www;\n\
           access_log {{d}}/access.log t;\n\
           ssl_certificate {{d}}/cert.pem; ssl_certificate_key {{d}}/key.pem;\n\
           location = /conn {{ return 200 \"$connection\"; }}\n\
           location = /echo {{ proxy_pass http://{backend}/echo; }}\n\
           location = /slow {{ proxy_pass http://{backend}/slow; }} }}\n",
        backend = backend.addr,
    );
    let n = client_support::nginx("nbh2", &servers, &[https], |dir| {
        let www = dir.join("www");
        std::fs::write(www.join("hello.txt"), "hello from nginx\n").unwrap();
        std::fs::write(www.join("big.txt"), &big).unwrap();
        std::fs::write(dir.join("cert.pem"), chain).unwrap();
        std::fs::write(dir.join("key.pem"), key).unwrap();
    });
    Nginx {
        dir: n.dir.clone(),
        _nginx: n,
        _backend: backend,
        https,
        ca: ca.cert_pem(),
        big,
    }
}

#[test]
fn nginx_h2_over_tls_multiplexes_two_hundred_starts_on_one_connection() {
    let _g = serial();
    let n = nginx();
    let client = builder().add_root_certificate_pem(&n.ca).build().unwrap();
    let url = |p: &str| format!("https://localhost:{}{p}", n.https);

    let r = client.get(url("/hello.txt")).start().wait().unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.text().unwrap(), "hello from nginx\n");
    let first = client.get(url("/conn")).start().wait().unwrap();
    let first = first.text().unwrap();

    // 200 at once, from this thread: every one a stream on the same connection.
    let t = Instant::now();
    let pending: Vec<_> = (0..200).map(|_| client.get(url("/conn")).start()).collect();
    let max_in_flight = client.in_flight();
    let mut conns = HashSet::new();
    for p in pending {
        let r = p.wait().unwrap();
        assert_eq!(r.version(), http::Version::HTTP_2);
        conns.insert(r.text().unwrap());
    }
    println!(
        "200 starts over TLS h2: {:?}, {} connection(s), {max_in_flight} in flight at most",
        t.elapsed(),
        conns.len()
    );
    assert_eq!(conns.len(), 1, "connections: {conns:?}");
    assert!(conns.contains(&first), "{conns:?} vs {first}");
    assert_eq!(client.tls_handshakes().full, 1);

    // A POST of 1.5 MiB: far past the 64 KiB initial window, so it goes out as
    // nginx's WINDOW_UPDATEs come.
    let big_body: Vec<u8> = (0..1536 * 1024).map(|i| (i % 251) as u8).collect();
    let r = client
        .post(url("/echo"))
        .body(big_body.clone())
        .start()
        .wait()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert!(r.bytes().unwrap() == big_body, "1.5 MiB body changed");

    // gzip: decoded, the coding's fields removed; asked for by the user: as sent.
    let r = client.get(url("/big.txt")).start().wait().unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert_eq!(r.text().unwrap(), n.big);
    let r = client
        .get(url("/big.txt"))
        .header("accept-encoding", "gzip")
        .start()
        .wait()
        .unwrap();
    assert_eq!(r.headers()["content-encoding"], "gzip");
    let raw = r.bytes().unwrap();
    assert_eq!(&raw[..2], &[0x1f, 0x8b]);
    assert!(raw.len() < n.big.len() / 3);

    // The size cap: on the body as sent and on the decoded size; the connection
    // is not closed for it (the stream is reset).
    let small = builder()
        .add_root_certificate_pem(&n.ca)
        .max_response_size(1000)
        .build()
        .unwrap();
    let c0 = small
        .get(url("/conn"))
        .start()
        .wait()
        .unwrap()
        .text()
        .unwrap();
    for accept in [Some("identity"), Some("gzip"), None] {
        let mut rb = small.get(url("/big.txt"));
        if let Some(a) = accept {
            rb = rb.header("accept-encoding", a);
        }
        let e = rb.start().wait().unwrap_err();
        assert!(
            matches!(e, Error::BodyTooLarge { limit: 1000, .. }),
            "{accept:?}: {e}"
        );
    }
    let c1 = small
        .get(url("/conn"))
        .start()
        .wait()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(c0, c1, "the size cap closed the connection");

    // A dropped Pending resets its stream: nginx logs 499 for it at once (not
    // after the upstream's 2 s), and the connection serves on.
    let slow = client.get(url("/slow")).start();
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    drop(slow);
    let log = n.dir.join("access.log");
    wait_for(
        Duration::from_secs(5),
        "no 499 for /slow in nginx's log",
        || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("/slow 499")),
    );
    let took = t.elapsed();
    assert!(took < Duration::from_millis(1500), "499 after {took:?}");
    let after = client
        .get(url("/conn"))
        .start()
        .wait()
        .unwrap()
        .text()
        .unwrap();
    assert_eq!(after, first, "the reset closed the connection");
    wait_for(Duration::from_secs(5), "still in flight", || {
        client.in_flight() == 0
    });
    let _ = std::fs::remove_dir_all(&n.dir);
}

// ---- nghttpd by prior knowledge -----------------------------------------------------

#[test]
fn nghttpd_h2c_prior_knowledge_gets_posts_and_concurrent_starts() {
    let _g = serial();
    let bin = require("nghttpd");
    let dir = temp_dir("nghttpd");
    std::fs::write(dir.join("www/hello.txt"), "hello from nghttpd").unwrap();
    let port = free_port();
    let mut child = Command::new(bin)
        .args(["--no-tls", "--echo-upload", "-d"])
        .arg(dir.join("www"))
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_port(port, "nghttpd", &mut child);
    let _k = Kill(child);
    let client = builder().http2_prior_knowledge().build().unwrap();
    let url = format!("http://127.0.0.1:{port}/hello.txt");
    let r = client.get(&url).start().wait().unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    assert_eq!(r.text().unwrap(), "hello from nghttpd");
    // Past nghttpd's 64 KiB initial window, echoed back.
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let echoed = client
        .post(format!("http://127.0.0.1:{port}/echo"))
        .body(body.clone())
        .start()
        .wait()
        .unwrap()
        .bytes()
        .unwrap();
    assert!(echoed == body, "echo changed the body");
    let pending: Vec<_> = (0..100).map(|_| client.get(&url).start()).collect();
    for p in pending {
        assert_eq!(p.wait().unwrap().text().unwrap(), "hello from nghttpd");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ---- flare's server -----------------------------------------------------------------

#[test]
fn a_peer_limit_of_two_streams_opens_a_second_and_third_connection_and_no_more() {
    let _g = serial();
    let pool = BlockingPool::new(16, 64);
    let app = Router::new().get(
        "/who",
        blocking(|req: &Request| {
            std::thread::sleep(Duration::from_millis(300));
            req.peer_addr().map(|a| a.port()).unwrap_or(0).to_string()
        })
        .on(&pool),
    );
    let cfg = ServerConfig::default().http2(H2Config::new().max_concurrent_streams(2));
    let server = TestServer::start_with(app, 1, cfg);
    let client = builder().http2_prior_knowledge().build().unwrap();
    let url = server.url("/who");
    let round = || {
        let pending: Vec<_> = (0..6).map(|_| client.get(&url).start()).collect();
        let mut ports = Vec::new();
        for p in pending {
            let r = p.wait().unwrap();
            assert_eq!(r.version(), http::Version::HTTP_2);
            ports.push(r.text().unwrap());
        }
        ports
    };
    let ports = round();
    let conns: HashSet<_> = ports.iter().cloned().collect();
    println!("6 requests, limit 2 streams: connections {conns:?} ({ports:?})");
    assert_eq!(conns.len(), 3, "{ports:?}");
    for c in &conns {
        assert_eq!(ports.iter().filter(|p| *p == c).count(), 2, "{ports:?}");
    }
    // The three stay pooled and carry the next round.
    let again: HashSet<_> = round().into_iter().collect();
    assert_eq!(again, conns);
}

#[test]
fn a_handler_calling_an_h2_upstream_through_then_keeps_its_worker_serving() {
    let _g = serial();
    let pool = BlockingPool::new(128, 256);
    let upstream = TestServer::start_with(
        Router::new().get(
            "/slow",
            blocking(|req: &Request| {
                std::thread::sleep(Duration::from_millis(300));
                format!("slow {}", req.peer_addr().map(|a| a.port()).unwrap_or(0))
            })
            .on(&pool),
        ),
        1,
        ServerConfig::default(),
    );
    let upstream_client = builder().http2_prior_knowledge().build().unwrap();
    let slow = upstream.url("/slow");
    let c = upstream_client.clone();
    let app = Router::new()
        .get("/plaintext", |_: &Request| "Hello, World!")
        .get("/up", move |_: &Request| {
            c.get(&slow).start().then(|r| match r {
                Ok(resp) if resp.version() == http::Version::HTTP_2 => {
                    Response::text(resp.text().unwrap_or_else(|e| e.to_string()))
                }
                Ok(resp) => Response::text(format!("{:?}", resp.version()))
                    .with_status(StatusCode::BAD_GATEWAY),
                Err(e) => Response::text(e.to_string()).with_status(StatusCode::BAD_GATEWAY),
            })
        });
    let front = TestServer::start_with(app, 1, ServerConfig::default());
    let up_request = b"GET /up HTTP/1.1\r\nhost: front\r\n\r\n";
    let mut s = TcpStream::connect(front.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(up_request).unwrap();
    let (status, body) = read_response(&mut s);
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let warm = String::from_utf8(body).unwrap();
    drop(s);
    let threads_before = threads();

    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        let addr = front.addr;
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let (mut max_latency, mut n, mut max_threads) = (Duration::ZERO, 0, 0);
            let t = Instant::now();
            while !stop.load(Ordering::Acquire) && t.elapsed() < Duration::from_secs(10) {
                let t0 = Instant::now();
                s.write_all(b"GET /plaintext HTTP/1.1\r\nhost: front\r\n\r\n")
                    .unwrap();
                assert_eq!(read_response(&mut s), (200, b"Hello, World!".to_vec()));
                max_latency = max_latency.max(t0.elapsed());
                n += 1;
                max_threads = max_threads.max(threads());
                std::thread::sleep(Duration::from_millis(2));
            }
            (max_latency, n, max_threads)
        })
    };
    let t = Instant::now();
    let mut conns: Vec<TcpStream> = (0..100)
        .map(|_| {
            let mut s = TcpStream::connect(front.addr).unwrap();
            s.write_all(up_request).unwrap();
            s
        })
        .collect();
    let mut upstream_conns = HashSet::new();
    for s in &mut conns {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let (status, body) = read_response(s);
        let body = String::from_utf8(body).unwrap();
        assert_eq!(status, 200, "{body}");
        upstream_conns.insert(body);
    }
    let took = t.elapsed();
    stop.store(true, Ordering::Release);
    let (max_latency, samples, max_threads) = sampler.join().unwrap();
    println!(
        "100 upstream calls over h2c: {took:?}; upstream connections {upstream_conns:?}; \
         /plaintext max {max_latency:?} over {samples}; threads {threads_before} -> {max_threads}"
    );
    assert!(took < Duration::from_secs(5), "100 calls took {took:?}");
    assert_eq!(upstream_conns.len(), 1, "{upstream_conns:?}");
    assert!(
        upstream_conns.contains(&warm),
        "{upstream_conns:?} vs {warm}"
    );
    assert!(samples >= 5, "only {samples} samples");
    assert!(
        max_latency < Duration::from_millis(250),
        "/plaintext waited {max_latency:?}: the worker was blocked"
    );
    assert!(
        max_threads <= threads_before + 3,
        "threads grew from {threads_before} to {max_threads}"
    );
    wait_for(Duration::from_secs(5), "calls still in flight", || {
        upstream_client.in_flight() == 0
    });
}

// ---- hand-written HTTP/2 servers ------------------------------------------------------

/// What a scripted server does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Script {
    /// Answers every request with `ok <path>`, except `/never` (never answered).
    NeverAnswer,
    /// On its first connection: once two requests are in, answers the first and
    /// sends GOAWAY with that one as the last stream, then closes. Later
    /// connections answer everything.
    GoAwayBelowSecond,
    /// Answers nothing; once a request is in, sends DATA on stream 0 (a connection
    /// error, RFC 9113 section 6.1).
    Garbage,
    /// Opens every window to 2^31 - 1, then never reads again.
    Deaf,
}

#[derive(Default)]
struct Seen {
    conns: AtomicUsize,
    /// (connection number, path) of each request.
    requests: Mutex<Vec<(usize, String)>>,
    /// Streams the client reset: (connection number, code).
    resets: Mutex<Vec<(usize, ErrorCode)>>,
    /// Connections the client sent GOAWAY on, and those it closed (EOF).
    goaways: AtomicUsize,
    closed: AtomicUsize,
}

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let mut f = (payload.len() as u32).to_be_bytes()[1..].to_vec();
    f.extend([kind, flags]);
    f.extend(stream.to_be_bytes());
    f.extend_from_slice(payload);
    f
}

/// A flare-h2 server role on a thread per connection (at most 8, 20 s each).
fn scripted(script: Script) -> (SocketAddr, Arc<Seen>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(Seen::default());
    let seen2 = seen.clone();
    std::thread::spawn(move || {
        for s in l.incoming().take(8) {
            let Ok(s) = s else { return };
            let n = seen2.conns.fetch_add(1, Ordering::SeqCst);
            let seen = seen2.clone();
            std::thread::spawn(move || serve(s, n, script, &seen));
        }
    });
    (addr, seen)
}

fn serve(mut s: TcpStream, n: usize, script: Script, seen: &Seen) {
    if script == Script::Deaf {
        // SETTINGS INITIAL_WINDOW_SIZE = 2^31 - 1, an ACK for the client's, and
        // the connection window up to 2^31 - 1.
        let mut settings = 4u16.to_be_bytes().to_vec();
        settings.extend(0x7fff_ffffu32.to_be_bytes());
        let mut out = frame(0x4, 0, 0, &settings);
        out.extend(frame(0x4, 0x1, 0, &[]));
        out.extend(frame(0x8, 0, 0, &(0x7fff_ffffu32 - 65_535).to_be_bytes()));
        let _ = s.write_all(&out);
        std::thread::sleep(Duration::from_secs(10));
        return;
    }
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let mut conn = Connection::server(H2Config::new(), Instant::now());
    let mut out = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut held: Vec<StreamId> = Vec::new();
    let mut close_at = None;
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end && close_at.map_or(true, |t| Instant::now() < t) {
        let mut extra = Vec::new();
        while let Some(ev) = conn.poll_event() {
            match ev {
                H2Event::Headers { id, head, .. } => {
                    let path = String::from_utf8_lossy(&head.path).to_string();
                    seen.requests.lock().unwrap().push((n, path.clone()));
                    let answer = match script {
                        Script::NeverAnswer => path != "/never",
                        Script::GoAwayBelowSecond if n == 0 => {
                            held.push(id);
                            if held.len() == 2 {
                                answer(&mut conn, held[0], "ok first");
                                // GOAWAY, NO_ERROR, last stream = the first.
                                let mut p = held[0].value().to_be_bytes().to_vec();
                                p.extend(0u32.to_be_bytes());
                                extra = frame(0x7, 0, 0, &p);
                                close_at = Some(Instant::now() + Duration::from_millis(300));
                            }
                            false
                        }
                        Script::GoAwayBelowSecond => true,
                        Script::Deaf => false,
                        Script::Garbage => {
                            extra = frame(0x0, 0, 0, b"nope");
                            false
                        }
                    };
                    if answer {
                        answer_path(&mut conn, id, &path);
                    }
                }
                H2Event::Data { id, data, .. } => conn.release_capacity(id, data.len()),
                H2Event::StreamReset { code, by_peer, .. } if by_peer => {
                    seen.resets.lock().unwrap().push((n, code))
                }
                H2Event::GoAway { .. } => {
                    seen.goaways.fetch_add(1, Ordering::SeqCst);
                }
                _ => {}
            }
        }
        conn.poll_output(&mut out);
        out.extend_from_slice(&extra);
        if !out.is_empty() {
            if s.write_all(&out).is_err() {
                return;
            }
            out.clear();
        }
        match s.read(&mut buf) {
            Ok(0) => {
                seen.closed.fetch_add(1, Ordering::SeqCst);
                return;
            }
            Ok(k) => {
                if conn.recv(&buf[..k], Instant::now()).is_err() {
                    conn.poll_output(&mut out);
                    let _ = s.write_all(&out);
                    return;
                }
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

fn answer(conn: &mut Connection, id: StreamId, text: &str) {
    let len = text.len().to_string();
    let fields: [(&[u8], &[u8]); 1] = [(b"content-length", len.as_bytes())];
    conn.send_headers(id, 200, &fields, false).unwrap();
    conn.send_data(id, text.as_bytes(), true).unwrap();
}

fn answer_path(conn: &mut Connection, id: StreamId, path: &str) {
    answer(conn, id, &format!("ok {path}"));
}

#[test]
fn a_stream_never_answered_times_out_alone_and_is_reset() {
    let _g = serial();
    let (addr, seen) = scripted(Script::NeverAnswer);
    let client = builder()
        .http2_prior_knowledge()
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let url = |p: &str| format!("http://{addr}{p}");
    assert_eq!(
        client
            .get(url("/a"))
            .start()
            .wait()
            .unwrap()
            .text()
            .unwrap(),
        "ok /a"
    );
    let t = Instant::now();
    let never = client.get(url("/never")).start();
    // The others on the connection meanwhile: answered at once.
    for i in 0..5 {
        let r = client.get(url(&format!("/b{i}"))).start().wait().unwrap();
        assert_eq!(r.text().unwrap(), format!("ok /b{i}"));
    }
    let e = never.wait().unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Read), "{e}");
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_secs(3),
        "{took:?}"
    );
    wait_for(Duration::from_secs(3), "no RST_STREAM(CANCEL)", || {
        seen.resets.lock().unwrap().as_slice() == [(0, ErrorCode::Cancel)]
    });
    // The whole-request timeout on the same connection, and a dropped Pending.
    let long = builder()
        .http2_prior_knowledge()
        .read_timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = long
        .get(url("/never"))
        .timeout(Duration::from_millis(400))
        .start()
        .wait()
        .unwrap_err();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Request), "{e}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let dropped = long.get(url("/never")).start();
    wait_for(Duration::from_secs(3), "request not at the server", || {
        seen.requests.lock().unwrap().len() == 9
    });
    drop(dropped);
    wait_for(Duration::from_secs(3), "no resets for the others", || {
        seen.resets.lock().unwrap().len() == 3
    });
    assert_eq!(
        long.get(url("/c")).start().wait().unwrap().text().unwrap(),
        "ok /c"
    );
    // Two clients, two connections; nothing else was opened.
    assert_eq!(seen.conns.load(Ordering::SeqCst), 2);
    assert!(seen
        .resets
        .lock()
        .unwrap()
        .iter()
        .all(|r| r.1 == ErrorCode::Cancel));
    wait_for(Duration::from_secs(3), "still in flight", || {
        client.in_flight() == 0 && long.in_flight() == 0
    });
}

#[test]
fn goaway_below_an_in_flight_get_retries_it_once_and_never_a_post() {
    let _g = serial();
    let (addr, seen) = scripted(Script::GoAwayBelowSecond);
    let client = builder().http2_prior_knowledge().build().unwrap();
    let url = |p: &str| format!("http://{addr}{p}");
    let first = client.get(url("/first")).start();
    std::thread::sleep(Duration::from_millis(100));
    let second = client.get(url("/second")).start();
    assert_eq!(first.wait().unwrap().text().unwrap(), "ok first");
    assert_eq!(second.wait().unwrap().text().unwrap(), "ok /second");
    assert_eq!(seen.conns.load(Ordering::SeqCst), 2);
    let paths: Vec<_> = seen.requests.lock().unwrap().clone();
    assert_eq!(
        paths,
        [
            (0, "/first".to_string()),
            (0, "/second".to_string()),
            (1, "/second".to_string())
        ]
    );

    let (addr, seen) = scripted(Script::GoAwayBelowSecond);
    let client = builder().http2_prior_knowledge().build().unwrap();
    let url = |p: &str| format!("http://{addr}{p}");
    let first = client.get(url("/first")).start();
    std::thread::sleep(Duration::from_millis(100));
    let post = client.post(url("/post")).body("once").start();
    assert_eq!(first.wait().unwrap().text().unwrap(), "ok first");
    let e = post.wait().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Protocol {
                detail: ProtocolError::Http2Reset(ErrorCode::RefusedStream),
                ..
            }
        ),
        "{e:?}"
    );
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(
        seen.conns.load(Ordering::SeqCst),
        1,
        "the POST was replayed"
    );
    assert_eq!(seen.requests.lock().unwrap().len(), 2);
}

#[test]
fn a_protocol_error_fails_the_requests_with_a_typed_error() {
    let _g = serial();
    let (addr, _seen) = scripted(Script::Garbage);
    let client = builder().http2_prior_knowledge().build().unwrap();
    let t = Instant::now();
    let e = client
        .get(format!("http://{addr}/x"))
        .start()
        .wait()
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::Protocol {
                detail: ProtocolError::Http2(_),
                ..
            }
        ),
        "{e:?}"
    );
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    assert_eq!(client.in_flight(), 0);
}

#[test]
fn an_idle_connection_stays_for_the_pool_idle_timeout_then_closes_with_goaway() {
    let _g = serial();
    let (addr, seen) = scripted(Script::NeverAnswer);
    let client = builder()
        .http2_prior_knowledge()
        .pool_idle_timeout(Duration::from_millis(600))
        .build()
        .unwrap();
    let url = |p: &str| format!("http://{addr}{p}");
    for i in 0..3 {
        // Within the idle timeout: the same connection.
        let r = client.get(url(&format!("/{i}"))).start().wait().unwrap();
        assert_eq!(r.text().unwrap(), format!("ok /{i}"));
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(seen.conns.load(Ordering::SeqCst), 1);
    assert_eq!(seen.closed.load(Ordering::SeqCst), 0);
    let t = Instant::now();
    wait_for(Duration::from_secs(3), "idle connection not closed", || {
        seen.closed.load(Ordering::SeqCst) == 1
    });
    println!(
        "idle h2 connection closed {:?} after the wait began",
        t.elapsed()
    );
    assert_eq!(
        seen.goaways.load(Ordering::SeqCst),
        1,
        "no GOAWAY before the close"
    );
    // The next request opens a new one.
    let r = client.get(url("/again")).start().wait().unwrap();
    assert_eq!(r.text().unwrap(), "ok /again");
    assert_eq!(seen.conns.load(Ordering::SeqCst), 2);
}

#[test]
fn an_upload_to_a_server_that_stops_reading_hits_the_write_timeout() {
    let _g = serial();
    let (addr, _seen) = scripted(Script::Deaf);
    let client = builder()
        .http2_prior_knowledge()
        .write_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = client
        .post(format!("http://{addr}/upload"))
        .body(vec![7u8; 64 << 20])
        .start()
        .wait()
        .unwrap_err();
    let took = t.elapsed();
    println!("h2 upload to a deaf server: {e} after {took:?}");
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Write), "{e:?}");
    assert!(
        took >= Duration::from_millis(500) && took < Duration::from_secs(8),
        "{took:?}"
    );
    assert_eq!(client.in_flight(), 0);
}

//! The non-blocking client (`RequestBuilder::start`) on loopback: a handler on a
//! one-worker server calling a slow upstream through `Pending::then` (200 at once:
//! all answered in about one upstream delay, the worker's other route stays fast,
//! no thread per call); nginx (GET and POST bodies, 100-continue, chunked, gzip,
//! keep-alive reuse by `$connection`, stale idle connections past
//! `keepalive_timeout 1s`, TLS with a test CA, the size cap); the keep-alive race
//! (GET retried once, POST never replayed); every timeout; the in-flight cap;
//! cancellation by drop; a raw protocol with `on_complete`; what the path refuses
//! (proxies are in `client_nonblocking_proxy.rs`).
//!
//! The tests run one at a time (a lock): the handler test counts the process's
//! threads.

mod common;

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::*;
use flare::client::{Body, Client, Error, TimeoutKind};
use flare::prelude::*;
use flare::tcp::{Context, Protocol, TcpServer};
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

#[test]
fn a_handler_calling_a_slow_upstream_through_then_keeps_its_worker_serving() {
    let _g = serial();
    // The upstream: 300 ms per request, on a pool big enough to sleep 200 at once.
    let pool = BlockingPool::new(256, 256);
    let upstream = TestServer::start_with(
        Router::new().get(
            "/slow",
            blocking(|_: &Request| {
                std::thread::sleep(Duration::from_millis(300));
                "slow done"
            })
            .on(&pool),
        ),
        1,
        ServerConfig::default(),
    );
    let upstream_client = builder().build().unwrap();
    let slow = upstream.url("/slow");
    let c = upstream_client.clone();
    let app = Router::new()
        .get("/plaintext", |_: &Request| "Hello, World!")
        .get("/up", move |_: &Request| {
            c.get(&slow).start().then(|r| match r {
                Ok(resp) => {
                    let status = resp.status();
                    Response::text(resp.text().unwrap_or_else(|e| e.to_string()))
                        .with_status(status)
                }
                Err(e) => Response::text(e.to_string()).with_status(StatusCode::BAD_GATEWAY),
            })
        });
    // One worker: every /up and every /plaintext below share it.
    let front = TestServer::start_with(app, 1, ServerConfig::default());
    let up_request = b"GET /up HTTP/1.1\r\nhost: front\r\n\r\n";

    // Warm up: the client's I/O thread starts with its first request.
    let mut s = TcpStream::connect(front.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(up_request).unwrap();
    assert_eq!(read_response(&mut s), (200, b"slow done".to_vec()));
    drop(s);
    let threads_before = threads();

    // /plaintext on the same worker, measured while the 200 are in flight.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let stop = stop.clone();
        let addr = front.addr;
        let c = upstream_client.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let (mut max_latency, mut n, mut max_threads, mut max_in_flight) =
                (Duration::ZERO, 0, 0, 0);
            let t = Instant::now();
            while !stop.load(Ordering::Acquire) && t.elapsed() < Duration::from_secs(10) {
                let t0 = Instant::now();
                s.write_all(b"GET /plaintext HTTP/1.1\r\nhost: front\r\n\r\n")
                    .unwrap();
                assert_eq!(read_response(&mut s), (200, b"Hello, World!".to_vec()));
                max_latency = max_latency.max(t0.elapsed());
                n += 1;
                max_threads = max_threads.max(threads());
                max_in_flight = max_in_flight.max(c.in_flight());
                std::thread::sleep(Duration::from_millis(2));
            }
            (max_latency, n, max_threads, max_in_flight)
        })
    };

    // 200 requests at once, from this one thread: all sent, then all read.
    let t = Instant::now();
    let mut conns: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(front.addr).unwrap();
            s.write_all(up_request).unwrap();
            s
        })
        .collect();
    for s in &mut conns {
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        assert_eq!(read_response(s), (200, b"slow done".to_vec()));
    }
    let took = t.elapsed();
    stop.store(true, Ordering::Release);
    let (max_latency, samples, max_threads, max_in_flight) = sampler.join().unwrap();
    println!(
        "200 upstream calls: {took:?}; /plaintext max {max_latency:?} over {samples} \
         requests; threads {threads_before} -> max {max_threads}; in flight max {max_in_flight}"
    );
    // 200 x 300 ms one after another would be 60 s; at once it is about 300 ms.
    assert!(took < Duration::from_secs(5), "200 calls took {took:?}");
    assert!(samples >= 5, "only {samples} /plaintext samples");
    assert!(
        max_latency < Duration::from_millis(250),
        "/plaintext waited {max_latency:?}: the worker was blocked"
    );
    assert!(
        max_in_flight >= 100,
        "at most {max_in_flight} calls were in flight at once"
    );
    // The sampler thread is the only new one: no thread per call.
    assert!(
        max_threads <= threads_before + 3,
        "threads grew from {threads_before} to {max_threads}"
    );
    wait_for(Duration::from_secs(5), "calls still in flight", || {
        upstream_client.in_flight() == 0
    });
}

// ---- nginx ----------------------------------------------------------------------

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
    let d = std::env::temp_dir().join(format!("flare-nb-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("www")).unwrap();
    d
}

fn wait_port(port: u16, child: &mut Child) {
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("nginx exited at start: {status}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "nginx never listened on {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Nginx {
    _child: Kill,
    _backend: TestServer,
    http: u16,
    https: u16,
    ca: Vec<u8>,
    big: String,
}

/// nginx with `keepalive_timeout 1s`, gzip for text/plain, a `sub_filter`ed file
/// (sent chunked), `$connection $connection_requests` at /conn, and /echo proxied to
/// a flare server that answers with the request body; and the same /conn over TLS.
fn nginx() -> Nginx {
    let bin = require("nginx");
    let dir = temp_dir("nginx");
    let www = dir.join("www");
    std::fs::write(www.join("hello.txt"), "hello from nginx\n").unwrap();
    let big: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(www.join("big.txt"), &big).unwrap();
    std::fs::write(www.join("sub.txt"), &big).unwrap();
    let ca = flare::tls::test_ca("flare nonblocking client test CA").unwrap();
    let (chain, key) = ca.issue(&["localhost"]).unwrap();
    std::fs::write(dir.join("cert.pem"), chain).unwrap();
    std::fs::write(dir.join("key.pem"), key).unwrap();
    let backend = TestServer::start(basic);
    let (http, https) = (free_port(), free_port());
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;\n\
             error_log {d}/error.log; events {{ worker_connections 4096; }}\n\
             http {{ access_log off; client_body_temp_path {d}; proxy_temp_path {d};\n\
             fastcgi_temp_path {d}; uwsgi_temp_path {d}; scgi_temp_path {d};\n\
             keepalive_timeout 1s; keepalive_requests 100000; client_max_body_size 8m;\n\
             gzip on; gzip_min_length 0; gzip_types text/plain;\n\
             server {{ listen 127.0.0.1:{http}; root {d}/www;\n\
               location = /conn {{ return 200 \"$connection $connection_requests\"; }}\n\
               location = /echo {{ proxy_pass http://{backend}/echo; }}\n\
               location = /redirect {{ return 302 /hello.txt; }}\n\
               location = /cookie-redirect {{ add_header set-cookie \"r=2; Path=/\" always;\n\
                 return 302 /show-cookie; }}\n\
               location = /show-cookie {{ return 200 \"$http_cookie\"; }}\n\
               location = /sub.txt {{ gzip off; sub_filter_types text/plain;\n\
                 sub_filter_once off; sub_filter 'line' 'LINE'; }} }}\n\
             server {{ listen 127.0.0.1:{https} ssl; root {d}/www;\n\
               ssl_certificate {d}/cert.pem; ssl_certificate_key {d}/key.pem;\n\
               location = /conn {{ return 200 \"$connection $connection_requests\"; }} }} }}\n",
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
    wait_port(http, &mut child);
    wait_port(https, &mut child);
    Nginx {
        _child: Kill(child),
        _backend: backend,
        http,
        https,
        ca: ca.cert_pem(),
        big,
    }
}

/// `$connection $connection_requests` from nginx.
fn conn_of(client: &Client, url: &str) -> (u64, u64) {
    let text = client.get(url).start().wait().unwrap().text().unwrap();
    let (c, r) = text.split_once(' ').unwrap();
    (c.parse().unwrap(), r.parse().unwrap())
}

#[test]
fn nginx_get_post_chunked_gzip_keep_alive_and_stale_connections() {
    let _g = serial();
    let n = nginx();
    let client = builder().build().unwrap();
    let url = |p: &str| format!("http://127.0.0.1:{}{p}", n.http);

    let r = client.get(url("/hello.txt")).start().wait().unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()["server"].to_str().unwrap().split('/').next(),
        Some("nginx")
    );
    assert_eq!(r.version(), http::Version::HTTP_11);
    assert_eq!(r.text().unwrap(), "hello from nginx\n");

    // Keep-alive: one nginx connection carries the next requests.
    let (c1, r1) = conn_of(&client, &url("/conn"));
    let (c2, r2) = conn_of(&client, &url("/conn"));
    let (c3, r3) = conn_of(&client, &url("/conn"));
    assert_eq!((c1, c2), (c1, c3), "connection not reused");
    assert_eq!((r2, r3), (r1 + 1, r1 + 2));

    // gzip (nginx sends it chunked): decoded, the coding's fields removed.
    let r = client.get(url("/big.txt")).start().wait().unwrap();
    assert!(r.headers().get("content-encoding").is_none());
    assert_eq!(r.headers()["transfer-encoding"], "chunked");
    assert_eq!(r.text().unwrap(), n.big);
    // Asked for by the user: passed through as sent.
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
    // Chunked without a coding (sub_filter changes the length).
    let r = client.get(url("/sub.txt")).start().wait().unwrap();
    assert_eq!(r.headers()["transfer-encoding"], "chunked");
    assert_eq!(r.text().unwrap(), n.big.replace("line", "LINE"));

    // POST bodies through nginx to flare's echo: small (in the head's write), and
    // 1.5 MiB (past the 1 MiB threshold: Expect: 100-continue, which nginx answers).
    let r = client
        .post(url("/echo"))
        .json(&serde_json::json!({"k": [1, 2, 3]}))
        .unwrap()
        .start()
        .wait()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.text().unwrap(), r#"{"k":[1,2,3]}"#);
    let big_body: Vec<u8> = (0..1536 * 1024).map(|i| (i % 251) as u8).collect();
    let r = client
        .post(url("/echo"))
        .body(big_body.clone())
        .start()
        .wait()
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.bytes().unwrap() == big_body,
        "1.5 MiB body changed on the way"
    );

    // A redirect is followed.
    let r = client.get(url("/redirect")).start().wait().unwrap();
    assert_eq!(r.url().path(), "/hello.txt");
    assert_eq!(r.text().unwrap(), "hello from nginx\n");

    // Cookies: set by the redirect, sent to where it leads and after.
    let jar = builder().cookie_store(true).build().unwrap();
    let r = jar.get(url("/cookie-redirect")).start().wait().unwrap();
    assert_eq!(r.text().unwrap(), "r=2");
    let r = jar.get(url("/show-cookie")).start().wait().unwrap();
    assert_eq!(r.text().unwrap(), "r=2");

    // The size cap: on the body as sent, and on the decoded size of a gzip body.
    let small = builder().max_response_size(1000).build().unwrap();
    for accept in ["identity", "gzip"] {
        let e = small
            .get(url("/big.txt"))
            .header("accept-encoding", accept)
            .start()
            .wait()
            .unwrap_err();
        assert!(
            matches!(e, Error::BodyTooLarge { limit: 1000, .. }),
            "{accept}: {e}"
        );
    }
    let e = small.get(url("/big.txt")).start().wait().unwrap_err();
    assert!(
        matches!(e, Error::BodyTooLarge { limit: 1000, .. }),
        "decoded: {e}"
    );

    // Stale: nginx closes idle connections after 1 s; the pool sees the close and
    // drops them, so the next GET and POST go out on fresh connections and succeed.
    let (before, _) = conn_of(&client, &url("/conn"));
    std::thread::sleep(Duration::from_millis(1500));
    let (after, reqs) = conn_of(&client, &url("/conn"));
    assert_ne!(before, after, "a connection nginx closed was reused");
    assert_eq!(reqs, 1);
    std::thread::sleep(Duration::from_millis(1500));
    let r = client
        .post(url("/echo"))
        .body("after idle")
        .start()
        .wait()
        .unwrap();
    assert_eq!(r.text().unwrap(), "after idle");
    assert_eq!(client.in_flight(), 0);
}

#[test]
fn nginx_over_tls_with_a_test_ca() {
    let _g = serial();
    let n = nginx();
    let client = builder().add_root_certificate_pem(&n.ca).build().unwrap();
    // `localhost` resolves on the I/O thread (RFC 6761, no query); this nginx
    // server has no `http2`, so ALPN settles on HTTP/1.1.
    let url = format!("https://localhost:{}/conn", n.https);
    let r = client.get(&url).start().wait().unwrap();
    assert_eq!(r.version(), http::Version::HTTP_11);
    let first: u64 = r
        .text()
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (c2, r2) = conn_of(&client, &url);
    assert_eq!((c2, r2), (first, 2), "TLS connection not reused");
    assert_eq!(client.tls_handshakes().full, 1);
    // A certificate for another name, and one from an unknown CA, are refused.
    let e = client
        .get(format!("https://127.0.0.1:{}/conn", n.https))
        .start()
        .wait()
        .unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e}");
    let e = Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(&url)
        .start()
        .wait()
        .unwrap_err();
    assert!(matches!(e, Error::Tls { .. }), "{e}");
}

// ---- hand-made servers ------------------------------------------------------------

/// Reads one request (head, and a body by content-length); `None` at EOF.
fn read_request(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut b = [0u8; 4096];
    let end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i + 4;
        }
        match s.read(&mut b) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_string();
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    while buf.len() < end + len {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    Some(head)
}

/// A server whose first connection answers one request, then reads the next and
/// closes without answering (the server side of the keep-alive race); later
/// connections answer everything. Counts connections and requests.
fn racing_server() -> (SocketAddr, Arc<AtomicUsize>, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (conns, reqs) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (c, r) = (conns.clone(), reqs.clone());
    std::thread::spawn(move || {
        for s in l.incoming().take(4) {
            let Ok(mut s) = s else { return };
            let first = c.fetch_add(1, Ordering::SeqCst) == 0;
            let r = r.clone();
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
                let mut answered = 0;
                while read_request(&mut s).is_some() {
                    let n = r.fetch_add(1, Ordering::SeqCst) + 1;
                    if first && answered == 1 {
                        return; // read, never answered: closed
                    }
                    let body = format!("r{n}");
                    let _ = write!(
                        s,
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    answered += 1;
                }
            });
        }
    });
    (addr, conns, reqs)
}

#[test]
fn a_reused_connection_that_dies_is_retried_for_get_and_never_for_post() {
    let _g = serial();
    let client = builder().build().unwrap();
    let (addr, conns, reqs) = racing_server();
    let url = format!("http://{addr}/x");
    assert_eq!(
        client.get(&url).start().wait().unwrap().text().unwrap(),
        "r1"
    );
    // The pooled connection takes the GET and dies: retried once on a new one.
    assert_eq!(
        client.get(&url).start().wait().unwrap().text().unwrap(),
        "r3"
    );
    assert_eq!(
        (conns.load(Ordering::SeqCst), reqs.load(Ordering::SeqCst)),
        (2, 3)
    );

    let client = builder().build().unwrap();
    let (addr, conns, reqs) = racing_server();
    let url = format!("http://{addr}/x");
    assert_eq!(
        client.get(&url).start().wait().unwrap().text().unwrap(),
        "r1"
    );
    let e = client.post(&url).body("once").start().wait().unwrap_err();
    assert!(
        matches!(e, Error::Protocol { .. } | Error::Io { .. }),
        "{e}"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        (conns.load(Ordering::SeqCst), reqs.load(Ordering::SeqCst)),
        (1, 2),
        "the POST was replayed"
    );
}

/// Accepts connections and holds them without a word; reports each request read.
fn silent_server() -> (SocketAddr, mpsc::Receiver<Event>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for s in l.incoming().take(4096) {
            let Ok(mut s) = s else { return };
            let tx = tx.clone();
            std::thread::spawn(move || {
                s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                if read_request(&mut s).is_none() || tx.send(Event::Request).is_err() {
                    return;
                }
                let mut b = [0u8; 64];
                let t = Instant::now();
                let e = match s.read(&mut b) {
                    Ok(0) => Event::Closed(t.elapsed()),
                    _ => Event::Other,
                };
                let _ = tx.send(e);
            });
        }
    });
    (addr, rx)
}

#[derive(Debug, PartialEq)]
enum Event {
    Request,
    Closed(Duration),
    Other,
}

#[test]
fn read_request_and_connect_timeouts_and_a_refused_connect() {
    let _g = serial();
    let (addr, _rx) = silent_server();
    let url = format!("http://{addr}/");

    let c = builder()
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = c.get(&url).start().wait().unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Read), "{e}");
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_secs(3),
        "{took:?}"
    );

    let c = builder()
        .read_timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = c
        .get(&url)
        .timeout(Duration::from_millis(400))
        .start()
        .wait()
        .unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Request), "{e}");
    assert!(
        took >= Duration::from_millis(390) && took < Duration::from_secs(3),
        "{took:?}"
    );

    // A server that never reads: the upload stalls and the write timeout fires.
    let deaf = TcpListener::bind("127.0.0.1:0").unwrap();
    let deaf_addr = deaf.local_addr().unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = deaf.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(10));
        drop(held);
    });
    let c = builder()
        .write_timeout(Duration::from_millis(300))
        .expect_continue_threshold(None)
        .build()
        .unwrap();
    let t = Instant::now();
    let e = c
        .post(format!("http://{deaf_addr}/"))
        .body(vec![0u8; 32 << 20])
        .start()
        .wait()
        .unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Write), "{e}");
    assert!(took < Duration::from_secs(5), "{took:?}");

    // Nobody listens: refused at once.
    let closed = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let e = c
        .get(format!("http://{closed}/"))
        .start()
        .wait()
        .unwrap_err();
    assert!(
        matches!(e, Error::Connect { addr: Some(a), .. } if a == closed),
        "{e}"
    );

    // A TLS server that never answers the ClientHello: the handshake is part of
    // connecting.
    let c = builder()
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = c
        .get(format!("https://{addr}/"))
        .start()
        .wait()
        .unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Connect), "{e}");
    assert!(
        took >= Duration::from_millis(290) && took < Duration::from_secs(3),
        "{took:?}"
    );

    // A listener whose accept queue is full drops SYNs: the connect timeout fires.
    let hole = TcpListener::bind("127.0.0.1:0").unwrap();
    rustix::net::listen(&hole, 0).unwrap();
    let hole_addr = hole.local_addr().unwrap();
    let _fill: Vec<_> = (0..4)
        .filter_map(|_| TcpStream::connect_timeout(&hole_addr, Duration::from_millis(100)).ok())
        .collect();
    let c = builder()
        .connect_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = c
        .get(format!("http://{hole_addr}/"))
        .start()
        .wait()
        .unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Connect), "{e}");
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn names_resolve_on_the_io_thread_and_the_next_address_is_tried() {
    let _g = serial();
    let server = TestServer::start(Router::new().get("/", |_: &Request| "by name"));
    let port = server.addr.port();
    // Nothing listens on 127.0.0.2: refused, then the next address answers.
    let config = flare_dns::ResolverConfig::new()
        .nameservers(Vec::new())
        .hosts(flare_dns::Hosts::parse(
            "127.0.0.2 two.test\n127.0.0.1 two.test\n",
        ));
    let resolver = Arc::new(flare_dns::Resolver::new(config).unwrap());
    let c = builder().resolver(resolver).build().unwrap();
    let r = c
        .get(format!("http://two.test:{port}/"))
        .start()
        .wait()
        .unwrap();
    assert_eq!(r.text().unwrap(), "by name");
    // No such name and no server to ask.
    let e = c
        .get(format!("http://missing.test:{port}/"))
        .start()
        .wait()
        .unwrap_err();
    assert!(matches!(e, Error::Dns { .. }), "{e}");
}

#[test]
fn past_the_in_flight_cap_start_fails_at_once_into_the_closure() {
    let _g = serial();
    let (addr, rx) = silent_server();
    let url = format!("http://{addr}/");
    let c = builder().max_in_flight(2).build().unwrap();
    let p1 = c.get(&url).start();
    let p2 = c.get(&url).start();
    for _ in 0..2 {
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(5)).unwrap(),
            Event::Request
        );
    }
    assert_eq!(c.in_flight(), 2);
    let t = Instant::now();
    let resp = c.get(&url).start().then(|r| match r {
        Err(Error::TooManyInFlight { limit, .. }) => {
            Response::text(format!("limit {limit}")).with_status(StatusCode::SERVICE_UNAVAILABLE)
        }
        other => Response::text(format!("{other:?}")),
    });
    assert!(t.elapsed() < Duration::from_millis(100));
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(&resp.body_bytes().unwrap()[..], b"limit 2");
    let e = c.get(&url).start().wait().unwrap_err();
    assert!(matches!(e, Error::TooManyInFlight { limit: 2, .. }), "{e}");
    // One cancelled: room for one more.
    drop(p1);
    wait_for(Duration::from_secs(5), "cancel not counted", || {
        c.in_flight() == 1
    });
    let p3 = c.get(&url).start();
    assert_eq!(c.in_flight(), 2);
    drop((p2, p3));
    wait_for(Duration::from_secs(5), "cancels not counted", || {
        c.in_flight() == 0
    });
}

#[test]
fn dropping_a_pending_closes_its_connection() {
    let _g = serial();
    let (addr, rx) = silent_server();
    let c = builder().build().unwrap();
    let p = c.get(format!("http://{addr}/")).start();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        Event::Request
    );
    std::thread::sleep(Duration::from_millis(50));
    drop(p);
    match rx.recv_timeout(Duration::from_secs(5)).unwrap() {
        Event::Closed(after) => assert!(after < Duration::from_secs(2), "{after:?}"),
        e => panic!("upstream saw {e:?}"),
    }
    wait_for(Duration::from_secs(5), "still in flight", || {
        c.in_flight() == 0
    });
}

/// A front server (one worker) whose `/up` calls `upstream` through `then`; the
/// upstream's own timeouts are long, so only a cancel can end the exchange early.
fn front_calling(upstream: SocketAddr, c: &Client) -> TestServer {
    let c = c.clone();
    let url = format!("http://{upstream}/");
    let app = Router::new().get("/up", move |_: &Request| {
        c.get(&url).start().then(|r| match r {
            Ok(resp) => Response::text(resp.text().unwrap_or_default()),
            Err(e) => Response::text(e.to_string()).with_status(StatusCode::BAD_GATEWAY),
        })
    });
    TestServer::start_with(app, 1, ServerConfig::default())
}

fn expect_upstream_closed(rx: &mpsc::Receiver<Event>, within: Duration) {
    match rx.recv_timeout(Duration::from_secs(5)).unwrap() {
        Event::Closed(after) => assert!(after < within, "upstream closed after {after:?}"),
        e => panic!("upstream saw {e:?}"),
    }
}

#[test]
fn a_downstream_that_goes_away_cancels_the_upstream_call_over_http1_and_http2() {
    let _g = serial();
    let (addr, rx) = silent_server();
    let c = builder()
        .read_timeout(Duration::from_secs(60))
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let front = front_calling(addr, &c);

    // HTTP/1.1: the downstream closes its connection while the handler's upstream
    // call is in flight.
    let mut s = TcpStream::connect(front.addr).unwrap();
    s.write_all(b"GET /up HTTP/1.1\r\nhost: front\r\n\r\n")
        .unwrap();
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        Event::Request
    );
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(c.in_flight(), 1);
    drop(s);
    expect_upstream_closed(&rx, Duration::from_secs(2));
    wait_for(
        Duration::from_secs(5),
        "h1: the call is still in flight",
        || c.in_flight() == 0,
    );

    // HTTP/2 (h2c): the downstream resets its stream (the client's request times
    // out) and keeps the connection; the upstream call ends with the stream.
    let down = builder()
        .http2_prior_knowledge()
        .timeout(Duration::from_millis(400))
        .build()
        .unwrap();
    let t = Instant::now();
    let e = down.get(front.url("/up")).send().unwrap_err();
    assert_eq!(e.timeout_kind(), Some(TimeoutKind::Request), "{e}");
    assert_eq!(
        rx.recv_timeout(Duration::from_secs(5)).unwrap(),
        Event::Request
    );
    expect_upstream_closed(&rx, Duration::from_secs(2));
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    wait_for(
        Duration::from_secs(5),
        "h2: the call is still in flight",
        || c.in_flight() == 0,
    );

    // A downstream that stays gets its answer as before (nothing cancelled early):
    // the silent upstream is the wrong peer for that, so a one-shot one answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let answer = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        read_request(&mut s).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .unwrap();
    });
    let front2 = front_calling(answer, &c);
    let mut s = TcpStream::connect(front2.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"GET /up HTTP/1.1\r\nhost: front\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut s), (200, b"ok".to_vec()));
    server.join().unwrap();
}

/// A raw protocol: on a line, it calls the upstream; `on_complete` stores the
/// result and wakes the connection; `on_wake` writes it.
struct Relay {
    client: Client,
    url: String,
    result: Arc<Mutex<Option<String>>>,
    asked: bool,
}

impl Protocol for Relay {
    fn on_data(&mut self, input: &[u8], cx: &mut Context<'_>) -> usize {
        if !self.asked && input.contains(&b'\n') {
            self.asked = true;
            let (slot, waker) = (self.result.clone(), cx.waker());
            self.client.get(&self.url).start().on_complete(move |r| {
                let text = r.and_then(|r| r.text()).unwrap_or_else(|e| e.to_string());
                *slot.lock().unwrap() = Some(text);
                waker.wake();
            });
        }
        input.len()
    }

    fn on_wake(&mut self, cx: &mut Context<'_>) {
        if let Some(text) = self.result.lock().unwrap().take() {
            cx.write(text.as_bytes());
            cx.close();
        }
    }
}

#[test]
fn a_raw_protocol_gets_the_result_through_on_complete_and_its_waker() {
    let _g = serial();
    let upstream = TestServer::start(Router::new().get("/hello", |_: &Request| "hello, raw"));
    let c = builder().build().unwrap();
    let url = upstream.url("/hello");
    let server = TcpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .config(with_test_backend(ServerConfig::default()))
        .start(move |_| Relay {
            client: c.clone(),
            url: url.clone(),
            result: Arc::default(),
            asked: false,
        })
        .unwrap();
    let mut s = TcpStream::connect(server.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"go\n").unwrap();
    let got = read_to_close(&mut s, Duration::from_secs(5));
    assert_eq!(String::from_utf8_lossy(&got), "hello, raw");
    server.shutdown(Duration::from_millis(100));
    server.join().unwrap();
}

#[test]
fn what_the_non_blocking_path_does_not_do_fails_with_a_typed_error() {
    let _g = serial();
    // Proxies are on this path (tests/client_nonblocking_proxy.rs): a proxy that
    // is not there is a connect error to it, not a refusal.
    let proxied = Client::builder()
        .proxy("http://127.0.0.1:1", "")
        .unwrap()
        .build()
        .unwrap();
    let e = proxied
        .get("http://example.com/")
        .start()
        .wait()
        .unwrap_err();
    match &e {
        Error::Connect { addr, .. } => {
            assert_eq!(*addr, Some("127.0.0.1:1".parse().unwrap()), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // HTTP/2 by prior knowledge is on this path (tests/client_nonblocking_h2.rs):
    // nobody listening is a connect error, not a refusal.
    let h2 = builder().http2_prior_knowledge().build().unwrap();
    let e = h2.get("http://127.0.0.1:1/").start().wait().unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e}");
    // Through a proxy prior knowledge does not apply (HTTP/1.1 in absolute form,
    // as with `send`): the request goes to the proxy.
    let h2_proxied = Client::builder()
        .proxy("http://127.0.0.1:1", "")
        .unwrap()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    let e = h2_proxied
        .get("http://example.com/")
        .start()
        .wait()
        .unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e}");
    let c = builder().build().unwrap();
    let e = c
        .post("http://127.0.0.1:1/")
        .body(Body::from_reader(std::io::Cursor::new(vec![1u8; 10])))
        .start()
        .wait()
        .unwrap_err();
    assert!(matches!(e, Error::Unsupported { .. }), "{e}");
    let e = c.get("ws://127.0.0.1:1/").start().wait().unwrap_err();
    assert!(matches!(e, Error::InvalidUrl { .. }), "{e}");
    // Nothing reached the I/O thread.
    assert_eq!(c.in_flight(), 0);
}

// ---- measurements (`cargo test -p flare --test client_nonblocking -- --ignored
// --nocapture`): figures, not assertions on speed ----------------------------------

/// CPU time of this process (all threads), from /proc/self/stat.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 (1-based), 12 and 13 after the name.
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

#[test]
#[ignore = "measurement"]
fn measure_cpu_per_request_blocking_and_non_blocking() {
    let _g = serial();
    let n = nginx();
    let url = format!("http://127.0.0.1:{}/hello.txt", n.http);
    const N: usize = 10_000;
    let report = |name: &str, f: &mut dyn FnMut()| {
        let (c0, t0) = (cpu(), Instant::now());
        f();
        let (cpu, wall) = (cpu() - c0, t0.elapsed());
        println!(
            "{name}: {N} GETs in {wall:?}, client CPU {:.1} us/request, {:.0} requests/s",
            cpu.as_secs_f64() * 1e6 / N as f64,
            N as f64 / wall.as_secs_f64()
        );
    };
    let blocking_client = builder().build().unwrap();
    let nb = builder().build().unwrap();
    for _ in 0..100 {
        blocking_client.get(&url).send().unwrap().bytes().unwrap();
        nb.get(&url).start().wait().unwrap().bytes().unwrap();
    }
    report("blocking send()", &mut || {
        for _ in 0..N {
            blocking_client.get(&url).send().unwrap().bytes().unwrap();
        }
    });
    report("start().wait(), 1 in flight", &mut || {
        for _ in 0..N {
            nb.get(&url).start().wait().unwrap().bytes().unwrap();
        }
    });
    for depth in [16, 64] {
        report(&format!("start().wait(), {depth} in flight"), &mut || {
            let mut q = VecDeque::new();
            for _ in 0..N {
                if q.len() == depth {
                    let p: flare::client::Pending = q.pop_front().unwrap();
                    p.wait().unwrap().bytes().unwrap();
                }
                q.push_back(nb.get(&url).start());
            }
            for p in q {
                p.wait().unwrap().bytes().unwrap();
            }
        });
    }
    println!("threads now: {}", threads());
}

#[test]
#[ignore = "measurement"]
fn measure_two_thousand_in_flight_on_one_thread() {
    let _g = serial();
    let (addr, rx) = silent_server();
    let c = builder().read_timeout(None).build().unwrap();
    let url = format!("http://{addr}/");
    drop(c.get(&url).start()); // starts the I/O thread
    wait_for(Duration::from_secs(5), "warm-up", || c.in_flight() == 0);
    let _ = rx.recv_timeout(Duration::from_secs(5));
    let before = threads();
    let t = Instant::now();
    let pending: Vec<_> = (0..2000).map(|_| c.get(&url).start()).collect();
    let mut seen = 0;
    while seen < 2000 && t.elapsed() < Duration::from_secs(30) {
        if let Ok(Event::Request) = rx.recv_timeout(Duration::from_secs(5)) {
            seen += 1;
        }
    }
    // The silent server runs a thread per connection: count the client's own.
    let io_threads = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|e| {
            let p = e.as_ref().unwrap().path().join("comm");
            std::fs::read_to_string(p).unwrap().trim() == "flare-client-io"
        })
        .count();
    println!(
        "{} in flight after {:?} ({seen} requests at the server); client I/O threads: \
         {io_threads}; process threads {before} -> {} (the silent server has one per \
         connection)",
        c.in_flight(),
        t.elapsed(),
        threads()
    );
    drop(pending);
    wait_for(Duration::from_secs(10), "cancels", || c.in_flight() == 0);
}

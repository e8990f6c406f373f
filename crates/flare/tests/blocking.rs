//! The blocking pool: a route that sleeps on the pool leaves its worker free for
//! other connections (against the same route run on the worker, which stalls it);
//! a full queue answers 503 with Retry-After; the cancel token still flips when the
//! client goes; over HTTP/2 too; and a raw protocol completing through its waker.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use flare::prelude::*;
use flare::tcp::{Context, Protocol, TcpServer, Waker};
use flare::web::blocking::{blocking, BlockingPool};
use flare::web::router::Router;
use flare::ServerConfig;

fn sleepy(_req: &Request) -> &'static str {
    std::thread::sleep(Duration::from_millis(400));
    "slept"
}

fn app(pool: &BlockingPool, cancelled: Arc<AtomicBool>) -> Router {
    Router::new()
        .get("/plaintext", |_: &Request| "Hello, World!")
        .get("/sleep", blocking(sleepy).on(pool))
        .get("/sleep-inline", sleepy)
        .get(
            "/until-cancelled",
            blocking(move |req: &Request| {
                let t = Instant::now();
                while t.elapsed() < Duration::from_secs(5) {
                    if req.cancel_token().is_cancelled() {
                        cancelled.store(true, Ordering::SeqCst);
                        return "cancelled";
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                "never cancelled"
            })
            .on(pool),
        )
        .get(
            "/users/{id}",
            blocking(|req: &Request| format!("user {}", req.param("id").unwrap_or("?"))).on(pool),
        )
}

fn get(addr: SocketAddr, path: &str) -> (u16, String, Duration) {
    let t = Instant::now();
    let out = raw_exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        Duration::from_secs(10),
    );
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text, t.elapsed())
}

/// p50 and p99 of /plaintext latencies while four `path` requests are in flight.
fn plaintext_while(
    addr: SocketAddr,
    path: &'static str,
) -> (Duration, Duration, Vec<(u16, Duration)>) {
    let slow: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                let (s, _, d) = get(addr, path);
                (s, d)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    let mut lat: Vec<Duration> = (0..40).map(|_| get(addr, "/plaintext").2).collect();
    let slow: Vec<(u16, Duration)> = slow.into_iter().map(|t| t.join().unwrap()).collect();
    lat.sort();
    (lat[lat.len() / 2], lat[lat.len() * 99 / 100], slow)
}

#[test]
fn a_blocking_route_leaves_the_worker_free_and_an_inline_one_does_not() {
    let pool = BlockingPool::new(8, 16);
    let srv = TestServer::start_with(app(&pool, Arc::default()), 1, ServerConfig::default());
    let (p50, p99, slow) = plaintext_while(srv.addr, "/sleep");
    assert!(slow.iter().all(|(s, _)| *s == 200), "{slow:?}");
    let (i50, i99, _) = plaintext_while(srv.addr, "/sleep-inline");
    println!(
        "/plaintext latency with 4 x 400 ms in flight: on the pool p50 {p50:?} p99 {p99:?}; \
         on the worker p50 {i50:?} p99 {i99:?}"
    );
    // Ordering, not speed: with the pool, every /plaintext was answered while the
    // sleeps were still running (each took 400 ms); inline, the first /plaintext
    // waited behind a sleep.
    assert!(p99 < Duration::from_millis(400), "pool: p99 {p99:?}");
    assert!(i99 >= Duration::from_millis(300), "inline: p99 {i99:?}");
    srv.stop();
}

#[test]
fn a_full_queue_answers_503_with_retry_after() {
    let pool = BlockingPool::new(1, 1);
    let srv = TestServer::start_with(app(&pool, Arc::default()), 1, ServerConfig::default());
    let addr = srv.addr;
    let busy: Vec<_> = (0..2)
        .map(|i| {
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30 * i));
                get(addr, "/sleep").0
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(150));
    let (status, text, _) = get(addr, "/sleep");
    assert_eq!(status, 503, "{text}");
    assert!(
        text.to_ascii_lowercase().contains("retry-after: 1"),
        "{text}"
    );
    let done: Vec<u16> = busy.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(done, [200, 200]);
    // Path parameters reach the pool thread.
    let (status, text, _) = get(addr, "/users/42");
    assert_eq!(status, 200);
    assert!(text.ends_with("user 42"), "{text}");
    srv.stop();
}

#[test]
fn the_cancel_token_flips_when_the_client_goes_away() {
    let pool = BlockingPool::new(2, 4);
    let cancelled = Arc::new(AtomicBool::new(false));
    let srv = TestServer::start_with(app(&pool, cancelled.clone()), 1, ServerConfig::default());
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"GET /until-cancelled HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    std::thread::sleep(Duration::from_millis(100));
    drop(s);
    let t = Instant::now();
    while !cancelled.load(Ordering::SeqCst) {
        assert!(t.elapsed() < Duration::from_secs(4), "never cancelled");
        std::thread::sleep(Duration::from_millis(10));
    }
    srv.stop();
}

#[test]
fn blocking_routes_over_http2() {
    let curl = require("curl");
    let pool = BlockingPool::new(4, 8);
    let srv = TestServer::start_with(app(&pool, Arc::default()), 1, ServerConfig::default());
    let out = run_ok(
        Command::new(curl)
            .args([
                "-s",
                "--http2-prior-knowledge",
                "--parallel",
                "--parallel-immediate",
            ])
            .arg(srv.url("/sleep"))
            .arg(srv.url("/plaintext"))
            .arg(srv.url("/users/7")),
    );
    assert!(
        out.contains("slept") && out.contains("Hello, World!") && out.contains("user 7"),
        "{out}"
    );
    srv.stop();
}

/// A raw protocol that computes on the pool and answers through its waker.
struct Offload {
    pool: BlockingPool,
    result: Arc<Mutex<Option<String>>>,
    waker: Option<Waker>,
}

impl Protocol for Offload {
    fn on_data(&mut self, input: &[u8], cx: &mut Context<'_>) -> usize {
        let Some(nl) = input.iter().position(|&b| b == b'\n') else {
            return 0;
        };
        let word = String::from_utf8_lossy(&input[..nl]).into_owned();
        let waker = self.waker.get_or_insert_with(|| cx.waker()).clone();
        let result = self.result.clone();
        let spawned = self.pool.spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            *result.lock().unwrap() = Some(word.to_uppercase());
            waker.wake();
        });
        if spawned.is_err() {
            cx.write(b"busy\n");
        }
        nl + 1
    }
    fn on_wake(&mut self, cx: &mut Context<'_>) {
        if let Some(r) = self.result.lock().unwrap().take() {
            cx.write(format!("{r}\n").as_bytes());
        }
    }
}

#[test]
fn a_raw_protocol_offloads_and_completes_through_its_waker() {
    let pool = BlockingPool::new(2, 2);
    let handle = TcpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .config(with_test_backend(ServerConfig::default()))
        .start(move |_| Offload {
            pool: pool.clone(),
            result: Arc::default(),
            waker: None,
        })
        .unwrap();
    let mut s = TcpStream::connect(handle.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"hello\n").unwrap();
    let mut buf = [0u8; 6];
    s.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"HELLO\n");
    handle.shutdown(Duration::from_millis(100));
    handle.join().unwrap();
}

//! Zero heap allocations per request at steady state for `GET /plaintext` on a
//! warm HTTP/2 connection (h2c, prior knowledge), counted by a global allocator
//! over at least 10,000 requests and one second (so that the `date` field
//! changes and enters the HPACK table again), ten streams in flight at a time.
//!
//! The client is `flare_h2::Connection::client` over a blocking `TcpStream` on
//! the test's thread; its own allocations (the response heads it decodes) are not
//! counted: a thread-local flag exempts that thread, so what is counted is every
//! other thread of the process, i.e. the server's.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flare::prelude::*;
use flare_h2::{Config, Connection, Event, Request as H2Request};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Set on the client's thread: its allocations are not the server's.
    static EXEMPT: Cell<bool> = const { Cell::new(false) };
}

fn count() {
    if COUNTING.load(Ordering::Relaxed) && !EXEMPT.try_with(Cell::get).unwrap_or(true) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn plaintext(_req: &Request) -> Response {
    Response::text("Hello, World!")
}

/// Streams in flight per round trip (as `h2load -m 10`).
const CONCURRENT: usize = 10;

struct Client {
    sock: TcpStream,
    h2: Connection,
    out: Vec<u8>,
    buf: Vec<u8>,
}

impl Client {
    fn connect(addr: std::net::SocketAddr) -> Client {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_nodelay(true).unwrap();
        Client {
            sock,
            h2: Connection::client(Config::new(), Instant::now()),
            out: Vec::with_capacity(64 * 1024),
            buf: vec![0; 64 * 1024],
        }
    }

    fn flush(&mut self) {
        self.out.clear();
        self.h2.poll_output(&mut self.out);
        if !self.out.is_empty() {
            self.sock.write_all(&self.out).unwrap();
        }
    }

    /// Sends `CONCURRENT` requests and reads until every response ended.
    fn round(&mut self) {
        let req = H2Request::new(b"GET", b"http", b"localhost", b"/plaintext");
        let fields: &[(&[u8], &[u8])] = &[(b"user-agent", b"h2-zero-alloc"), (b"accept", b"*/*")];
        for _ in 0..CONCURRENT {
            self.h2.send_request(&req, fields, true).unwrap();
        }
        self.flush();
        let mut done = 0;
        while done < CONCURRENT {
            let n = self.sock.read(&mut self.buf).unwrap();
            assert!(n > 0, "server closed");
            self.h2.recv(&self.buf[..n], Instant::now()).unwrap();
            while let Some(ev) = self.h2.poll_event() {
                match ev {
                    Event::Headers { head, .. } => assert_eq!(head.status, Some(200)),
                    Event::Data {
                        id,
                        data,
                        end_stream,
                    } => {
                        self.h2.release_capacity(id, data.len());
                        if end_stream {
                            assert_eq!(data, b"Hello, World!");
                            done += 1;
                        }
                    }
                    Event::StreamReset { .. } | Event::GoAway { .. } => panic!("{ev:?}"),
                    _ => {}
                }
            }
            // SETTINGS acks, WINDOW_UPDATEs.
            self.flush();
        }
    }
}

fn run(server_handle: ServerHandle) {
    EXEMPT.with(|e| e.set(true));
    let mut c = Client::connect(server_handle.local_addr());
    const WARM: usize = 1_000;
    const MEASURED: usize = 10_000;
    for _ in 0..WARM / CONCURRENT {
        c.round();
    }
    COUNTING.store(true, Ordering::SeqCst);
    let start = Instant::now();
    let mut requests = 0;
    // At least 10,000 requests, and across at least one change of the `date`
    // value (a new HPACK table entry each second).
    while requests < MEASURED || start.elapsed() < Duration::from_millis(1100) {
        c.round();
        requests += CONCURRENT;
    }
    COUNTING.store(false, Ordering::SeqCst);
    let allocs = ALLOCS.swap(0, Ordering::SeqCst);
    println!(
        "h2 GET /plaintext: {allocs} server allocations over {requests} requests ({:.4} per request)",
        allocs as f64 / requests as f64
    );
    drop(c);
    server_handle.shutdown(std::time::Duration::from_secs(1));
    server_handle.join().unwrap();
    assert_eq!(
        allocs, 0,
        "{allocs} server allocations over {requests} requests on a warm HTTP/2 connection"
    );
}

// One test per process: the counter is global.
#[test]
fn h2_plaintext_allocates_nothing_per_request() {
    let handle = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        // The default (10,000) would close the connection during the run.
        .configure(|c| backend(c).max_requests_per_connection(100_000))
        .start(plaintext)
        .unwrap();
    run(handle);
}

/// `FLARE_TEST_IO_URING=1` runs this on io_uring (as `cargo xtask test` does in its
/// second pass); the common helpers are not shared here to keep the allocator alone.
fn backend(c: flare::ServerConfig) -> flare::ServerConfig {
    c.io_uring(std::env::var("FLARE_TEST_IO_URING").is_ok_and(|v| v == "1"))
}

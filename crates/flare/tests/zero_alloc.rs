//! Zero heap allocations per request at steady state for `GET /plaintext` on a
//! keep-alive connection, counted by a global allocator over 10,000 requests.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use flare::prelude::*;

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static COUNTING: AtomicBool = AtomicBool::new(false);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn plaintext(_req: &Request) -> Response {
    Response::text("Hello, World!")
}

/// Sends one request and reads exactly one response (the body ends the response).
fn roundtrip(s: &mut TcpStream, buf: &mut [u8; 1024]) {
    const REQ: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost\r\nUser-Agent: zero-alloc\r\nAccept: */*\r\n\r\n";
    s.write_all(REQ).unwrap();
    let mut n = 0;
    loop {
        let got = s.read(&mut buf[n..]).unwrap();
        assert!(got > 0, "server closed");
        n += got;
        if buf[..n].ends_with(b"\r\n\r\nHello, World!") {
            return;
        }
        assert!(n < buf.len(), "response too long");
    }
}

fn run(server_handle: ServerHandle) {
    let mut s = TcpStream::connect(server_handle.local_addr()).unwrap();
    s.set_nodelay(true).unwrap();
    let mut buf = [0u8; 1024];
    for _ in 0..1_000 {
        roundtrip(&mut s, &mut buf);
    }
    COUNTING.store(true, Ordering::SeqCst);
    for _ in 0..10_000 {
        roundtrip(&mut s, &mut buf);
    }
    COUNTING.store(false, Ordering::SeqCst);
    let allocs = ALLOCS.swap(0, Ordering::SeqCst);
    drop(s);
    server_handle.shutdown(std::time::Duration::from_secs(1));
    server_handle.join().unwrap();
    assert_eq!(
        allocs, 0,
        "{allocs} allocations over 10,000 keep-alive requests (server and client together)"
    );
}

// One test per process: the counter is global.
#[test]
fn plaintext_keep_alive_allocates_nothing_per_request() {
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

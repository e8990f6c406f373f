//! Allocation accounting with a counting global allocator: no allocation
//! per message at steady state, and what the deflate state costs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

use flare_ws::{Config, DeflateParams, Event, Role, WebSocket};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the measuring thread counts: the test harness's own threads may
    /// allocate meanwhile (seen once in CI: 4 allocations in a steady window).
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn counting() -> bool {
    COUNTING.try_with(|c| c.get()).unwrap_or(false)
}

// SAFETY: forwards to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Relaxed);
            BYTES.fetch_add(layout.size(), Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if counting() {
            ALLOCS.fetch_add(1, Relaxed);
            BYTES.fetch_add(new_size, Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations `f` makes on this thread.
fn counted<R>(f: impl FnOnce() -> R) -> (R, usize, usize) {
    let (a, b) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCS.load(Relaxed) - a, BYTES.load(Relaxed) - b)
}

/// One echo round: the client sends, the server reads and answers, the
/// client reads the answer. Buffers are reused.
fn round(
    client: &mut WebSocket,
    server: &mut WebSocket,
    msg: &str,
    wire: &mut Vec<u8>,
    back: &mut Vec<u8>,
) {
    let now = Instant::now();
    wire.clear();
    back.clear();
    client.send_text(msg, wire).unwrap();
    let mut pos = 0;
    while pos < wire.len() {
        let (n, ev) = server.read(&mut wire[pos..], now).unwrap();
        pos += n;
        if let Some(Event::Text(t)) = ev {
            assert_eq!(t.len(), msg.len());
            server.send_text(msg, back).unwrap();
        }
    }
    let mut pos = 0;
    while pos < back.len() {
        let (n, _) = client.read(&mut back[pos..], now).unwrap();
        pos += n;
    }
}

// The tests share the global counter, so they run as one test.
#[test]
fn allocation_accounting() {
    let msg = "{\"id\":12345,\"method\":\"update\",\"params\":{\"value\":[1,2,3,4,5]}}".repeat(4);
    for deflate in [None, Some(DeflateParams::default())] {
        let config = Config::default().compression_threshold(16);
        let mut client = WebSocket::new(Role::Client, config.clone(), deflate);
        let mut server = WebSocket::new(Role::Server, config, deflate);
        let (mut wire, mut back) = (Vec::with_capacity(1024), Vec::with_capacity(1024));
        let ((), first, bytes) =
            counted(|| round(&mut client, &mut server, &msg, &mut wire, &mut back));
        println!(
            "deflate {}: first round {first} allocations, {bytes} bytes",
            deflate.is_some()
        );
        let ((), steady, _) = counted(|| {
            for _ in 0..100 {
                round(&mut client, &mut server, &msg, &mut wire, &mut back);
            }
        });
        assert_eq!(
            steady,
            0,
            "deflate {}: allocations in 100 steady rounds",
            deflate.is_some()
        );
    }

    // What each deflate state costs when first used: on a new thread, whose
    // pool of released states is empty.
    // (Without the `deflate` feature there are no deflate states.)
    if cfg!(feature = "deflate") {
        std::thread::spawn(state_costs).join().unwrap();
        std::thread::spawn(move || no_context_takeover_reuses_pooled_state(&msg))
            .join()
            .unwrap();
    }
}

fn state_costs() {
    let p = DeflateParams::default();
    let mut server = WebSocket::new(
        Role::Server,
        Config::default().compression_threshold(0),
        Some(p),
    );
    let mut out = Vec::with_capacity(1024);
    let (_, n, compressor) = counted(|| server.send_text("hello", &mut out));
    println!("compressor: {n} allocations, {compressor} bytes");
    let mut client = WebSocket::new(Role::Client, Config::default(), Some(p));
    let (_, n, inflater) = counted(|| {
        let _ = client.read(&mut out, Instant::now());
    });
    println!("decompressor (+ message buffer): {n} allocations, {inflater} bytes");
    assert!(compressor < 400 << 10 && inflater < 64 << 10);
    assert!(
        compressor > 256 << 10 && inflater > 32 << 10,
        "allocated, not pooled"
    );
}

/// No context takeover both ways (the setting for many idle connections):
/// each message's compressor and decompressor are released after it and
/// taken back from the thread's pool by the next, so after warm-up a
/// message allocates nothing, while no connection keeps deflate state
/// between messages.
fn no_context_takeover_reuses_pooled_state(msg: &str) {
    use flare_ws::deflate::pooled_states;
    let nct = DeflateParams {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateParams::default()
    };
    let config = Config::default().compression_threshold(16);
    let mut client = WebSocket::new(Role::Client, config.clone(), Some(nct));
    let mut server = WebSocket::new(Role::Server, config.clone(), Some(nct));
    let (mut wire, mut back) = (Vec::with_capacity(1024), Vec::with_capacity(1024));
    let ((), first, bytes) = counted(|| round(&mut client, &mut server, msg, &mut wire, &mut back));
    println!("no context takeover: first round {first} allocations, {bytes} bytes");
    let ((), steady, steady_bytes) = counted(|| {
        for _ in 0..500 {
            round(&mut client, &mut server, msg, &mut wire, &mut back);
        }
    });
    println!(
        "no context takeover: 1000 messages (500 each way) after warm-up: \
         {steady} allocations, {steady_bytes} bytes"
    );
    assert_eq!(steady, 0, "allocations in 1000 steady messages");
    // Idle between messages: neither end holds a compressor or decompressor.
    assert!(
        !client.memory().1 && !client.memory().2,
        "{:?}",
        client.memory()
    );
    assert!(
        !server.memory().1 && !server.memory().2,
        "{:?}",
        server.memory()
    );
    // The thread's pool holds them. The ends compress and inflate one
    // message at a time, so one compressor and one decompressor serve both.
    assert_eq!(pooled_states(), (1, 1));

    // Many connections, each sending one message and going idle, share
    // the pool: after the first few, none allocates deflate state, and
    // none keeps any.
    let mut conns: Vec<(WebSocket, WebSocket)> = (0..100)
        .map(|_| {
            (
                WebSocket::new(Role::Client, config.clone(), Some(nct)),
                WebSocket::new(Role::Server, config.clone(), Some(nct)),
            )
        })
        .collect();
    let ((), n, bytes) = counted(|| {
        for (c, s) in conns.iter_mut() {
            round(c, s, msg, &mut wire, &mut back);
        }
    });
    println!("100 idle connections, one echo each: {n} allocations, {bytes} bytes");
    // Each end's first inflated message allocates its message buffer;
    // nothing else (a deflate state would be 43-312 KiB).
    assert!(
        n <= 200 && bytes <= 200 * 4096,
        "{n} allocations, {bytes} bytes"
    );
    for (c, s) in &conns {
        for ws in [c, s] {
            let (_, inflater, deflater) = ws.memory();
            assert!(!inflater && !deflater);
        }
    }
    // Connections with context takeover keep their state while open; when
    // they close it goes to the pool, which stays bounded (4 of each).
    let mut open: Vec<(WebSocket, WebSocket)> = (0..10)
        .map(|_| {
            let p = Some(DeflateParams::default());
            (
                WebSocket::new(Role::Client, config.clone(), p),
                WebSocket::new(Role::Server, config.clone(), p),
            )
        })
        .collect();
    for (c, s) in open.iter_mut() {
        round(c, s, msg, &mut wire, &mut back);
        assert!(c.memory().1 && c.memory().2);
    }
    drop(open);
    assert_eq!(pooled_states(), (4, 4));
}

//! `flare::udp::UdpServer` against std `UdpSocket` clients: echo, many clients over
//! several workers, batches with several replies per datagram, replies to a third
//! address, drain on shutdown, the datagram size limit, the send queue bound, a
//! panicking handler, and zero allocations per datagram at steady state.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flare::udp::{Reply, UdpServer, UdpServerHandle, UdpStats};

// Allocations are counted only on threads that set COUNT_HERE: the zero-allocation
// test's handler sets it on its worker, so other tests running alongside do not count.
struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);
thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNT_HERE.try_with(Cell::get).unwrap_or(false) {
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
        if COUNT_HERE.try_with(Cell::get).unwrap_or(false) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn echo(data: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>) {
    reply.send(data);
}

fn client() -> UdpSocket {
    let c = UdpSocket::bind("127.0.0.1:0").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

/// A blocking client with a large receive buffer, for bursts of replies.
fn burst_client() -> UdpSocket {
    let c = flare::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    c.set_recv_buffer_size(4 << 20).unwrap();
    c.set_nonblocking(false).unwrap();
    let c = c.into_std();
    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    c
}

fn roundtrip(c: &UdpSocket, server: SocketAddr, msg: &[u8]) -> Vec<u8> {
    c.send_to(msg, server).unwrap();
    let mut buf = [0u8; 65536];
    let (n, from) = c.recv_from(&mut buf).expect("reply");
    assert_eq!(from, server);
    buf[..n].to_vec()
}

/// Waits until the server's counters satisfy `ok` (they are published per batch).
fn wait_stats(h: &UdpServerHandle, ok: impl Fn(&UdpStats) -> bool) -> UdpStats {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let s = h.stats();
        if ok(&s) || Instant::now() > deadline {
            return s;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn echo_one_worker() {
    let h = UdpServer::bind("127.0.0.1:0").unwrap().start(echo).unwrap();
    let c = client();
    for msg in [&b"hello"[..], b"", &[0xAB; 1500]] {
        assert_eq!(roundtrip(&c, h.local_addr(), msg), msg);
    }
    let s = wait_stats(&h, |s| s.sent == 3);
    assert_eq!((s.received, s.sent, s.dropped, s.oversized), (3, 3, 0, 0));
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
}

#[test]
fn many_clients_over_four_workers() {
    let seen = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let seen2 = seen.clone();
    let h = UdpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(4)
        .start(
            move |data: &[u8], peer: SocketAddr, reply: &mut Reply<'_>| {
                seen2
                    .lock()
                    .unwrap()
                    .insert(std::thread::current().name().unwrap_or("").to_string());
                // Answer with the peer's port and the payload, to check routing.
                reply.send_with(|buf| {
                    buf.extend_from_slice(&peer.port().to_be_bytes());
                    buf.extend_from_slice(data);
                });
            },
        )
        .unwrap();
    let server = h.local_addr();
    let threads: Vec<_> = (0..16)
        .map(|t| {
            std::thread::spawn(move || {
                let c = client();
                let port = c.local_addr().unwrap().port();
                for i in 0..200u32 {
                    let msg = format!("client {t} message {i}");
                    let back = roundtrip(&c, server, msg.as_bytes());
                    assert_eq!(&back[..2], &port.to_be_bytes());
                    assert_eq!(&back[2..], msg.as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let s = wait_stats(&h, |s| s.sent == 3200);
    assert_eq!((s.received, s.sent, s.dropped), (3200, 3200, 0));
    // SO_REUSEPORT spreads 16 source ports over the 4 sockets; more than one
    // worker must have answered.
    assert!(
        seen.lock().unwrap().len() > 1,
        "workers used: {:?}",
        seen.lock().unwrap()
    );
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
}

#[test]
fn a_burst_is_answered_in_batches_with_several_replies_each() {
    // Three replies per datagram, none for "quiet": 300 in, 3 * 290 out.
    let h = UdpServer::bind("127.0.0.1:0")
        .unwrap()
        .batch_size(16)
        .start(|data: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>| {
            if data == b"quiet" {
                return;
            }
            for k in 0..3u8 {
                reply.send_with(|buf| {
                    buf.push(k);
                    buf.extend_from_slice(data);
                });
            }
        })
        .unwrap();
    // Groups of 30 datagrams sent back to back (each group spans two batches of
    // 16), then the group's replies read, so no socket buffer overflows.
    let c = burst_client();
    let mut buf = [0u8; 64];
    let mut got = Vec::new();
    for group in 0..10u32 {
        for i in group * 30..(group + 1) * 30 {
            let msg = if i % 30 == 0 {
                b"quiet".to_vec()
            } else {
                i.to_be_bytes().to_vec()
            };
            c.send_to(&msg, h.local_addr()).unwrap();
        }
        for _ in 0..87 {
            let (n, _) = c.recv_from(&mut buf).expect("reply");
            got.push(buf[..n].to_vec());
        }
    }
    // Replies to one datagram are in order and before the next datagram's.
    let mut want = Vec::new();
    for i in (0..300u32).filter(|i| i % 30 != 0) {
        for k in 0..3u8 {
            let mut m = vec![k];
            m.extend_from_slice(&i.to_be_bytes());
            want.push(m);
        }
    }
    assert_eq!(got, want);
    let s = wait_stats(&h, |s| s.sent == 870);
    assert_eq!((s.received, s.sent, s.dropped), (300, 870, 0));
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
}

#[test]
fn a_reply_can_go_to_another_address() {
    let observer = client();
    let to = observer.local_addr().unwrap();
    let h = UdpServer::bind("127.0.0.1:0")
        .unwrap()
        .start(
            move |data: &[u8], peer: SocketAddr, reply: &mut Reply<'_>| {
                assert_eq!(reply.peer(), peer);
                reply.send_to(data, to);
                reply.send(b"forwarded");
            },
        )
        .unwrap();
    let c = client();
    assert_eq!(roundtrip(&c, h.local_addr(), b"copy me"), b"forwarded");
    let mut buf = [0u8; 64];
    let (n, from) = observer.recv_from(&mut buf).unwrap();
    assert_eq!((&buf[..n], from), (&b"copy me"[..], h.local_addr()));
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
}

#[test]
fn shutdown_answers_what_was_received_then_exits_within_the_grace() {
    let h = UdpServer::bind("127.0.0.1:0")
        .unwrap()
        .recv_buffer_size(1 << 20)
        .start(|data: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>| {
            // Slow enough that the burst is still queued when the drain starts.
            std::thread::sleep(Duration::from_micros(200));
            reply.send(data);
        })
        .unwrap();
    let addr = h.local_addr();
    let c = burst_client();
    for i in 0..200u32 {
        c.send_to(&i.to_be_bytes(), addr).unwrap();
    }
    h.shutdown(Duration::from_secs(3));
    let s = join_within(h, Duration::from_secs(4));
    assert_eq!((s.received, s.sent, s.dropped), (200, 200, 0));
    // Every datagram the kernel held was answered.
    let mut buf = [0u8; 16];
    let mut got = 0;
    c.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    while c.recv_from(&mut buf).is_ok() {
        got += 1;
    }
    assert_eq!(got, 200, "replies after drain");
    // And the socket is closed: nothing answers any more.
    c.send_to(b"late", addr).unwrap();
    assert!(c.recv_from(&mut buf).is_err(), "a reply after shutdown");
}

/// Joins the workers, failing if they take longer than `limit`; returns the final
/// counters.
fn join_within(h: UdpServerHandle, limit: Duration) -> UdpStats {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(h.join().unwrap());
    });
    rx.recv_timeout(limit)
        .expect("workers did not exit in time")
}

#[test]
fn drain_stops_at_the_grace() {
    let h = UdpServer::bind("127.0.0.1:0")
        .unwrap()
        .recv_buffer_size(1 << 20)
        .start(|data: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>| {
            std::thread::sleep(Duration::from_millis(20));
            reply.send(data);
        })
        .unwrap();
    let c = burst_client();
    for i in 0..100u32 {
        c.send_to(&i.to_be_bytes(), h.local_addr()).unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    h.shutdown(Duration::from_millis(300));
    // 100 datagrams at 20 ms each would take 2 s; the grace cuts that short. The
    // batch in the handler when the drain starts still finishes (32 * 20 ms).
    let s = join_within(h, Duration::from_secs(3));
    let took = t.elapsed();
    assert!(took < Duration::from_millis(1500), "drain took {took:?}");
    assert!(s.received < 100, "the drain stopped receiving: {s:?}");
}

#[test]
fn a_datagram_over_the_max_size_is_dropped_and_counted() {
    let h = UdpServer::bind("127.0.0.1:0")
        .unwrap()
        .max_datagram_size(512)
        .start(echo)
        .unwrap();
    let c = client();
    c.send_to(&[1u8; 513], h.local_addr()).unwrap();
    c.send_to(&[2u8; 4000], h.local_addr()).unwrap();
    // Exactly the limit passes, and the worker goes on serving.
    assert_eq!(roundtrip(&c, h.local_addr(), &[3u8; 512]), vec![3u8; 512]);
    let s = wait_stats(&h, |s| s.oversized == 2);
    assert_eq!((s.received, s.sent, s.oversized), (1, 1, 2));
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
}

#[test]
fn replies_past_the_send_queue_bound_are_dropped_and_counted() {
    // A handler that asks for 50 replies per datagram against a queue of 10: the
    // socket buffer is not full, so each batch sends at once, but one datagram's
    // replies overflow the queue before the batch is sent.
    let h = UdpServer::bind("127.0.0.1:0")
        .unwrap()
        .send_queue(10)
        .start(|data: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>| {
            let mut accepted = 0;
            for _ in 0..50 {
                if reply.send(data) {
                    accepted += 1;
                }
            }
            assert_eq!(accepted, 10);
        })
        .unwrap();
    let c = burst_client();
    c.send_to(b"fan out", h.local_addr()).unwrap();
    let mut buf = [0u8; 16];
    for _ in 0..10 {
        c.recv_from(&mut buf).unwrap();
    }
    let s = wait_stats(&h, |s| s.dropped == 40);
    assert_eq!((s.sent, s.dropped, s.panics), (10, 40, 0));
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
}

#[test]
fn a_panicking_handler_is_counted_and_the_worker_goes_on() {
    let h = UdpServer::bind("127.0.0.1:0")
        .unwrap()
        .start(|data: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>| {
            if data == b"boom" {
                panic!("handler panics on purpose");
            }
            reply.send(data);
        })
        .unwrap();
    let c = client();
    c.send_to(b"boom", h.local_addr()).unwrap();
    assert_eq!(roundtrip(&c, h.local_addr(), b"still here"), b"still here");
    let s = wait_stats(&h, |s| s.received == 2);
    assert_eq!((s.received, s.panics), (2, 1));
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
}

#[test]
fn bind_fails_at_once_on_a_taken_port() {
    let taken = UdpSocket::bind("127.0.0.1:0").unwrap();
    let err = UdpServer::bind(taken.local_addr().unwrap()).unwrap_err();
    assert!(err.to_string().contains("socket error"), "{err}");
}

#[test]
fn no_allocation_per_datagram_at_steady_state() {
    let h = UdpServer::bind("127.0.0.1:0")
        .unwrap()
        .start(|data: &[u8], _peer: SocketAddr, reply: &mut Reply<'_>| {
            if data == b"start counting" {
                COUNT_HERE.with(|c| c.set(true));
            }
            reply.send(data);
        })
        .unwrap();
    let c = client();
    // Warm up: the send queue's buffer reaches its size.
    for _ in 0..1000 {
        roundtrip(&c, h.local_addr(), &[9u8; 200]);
    }
    roundtrip(&c, h.local_addr(), b"start counting");
    let before = ALLOCS.load(Ordering::Relaxed);
    for _ in 0..10_000 {
        roundtrip(&c, h.local_addr(), &[9u8; 200]);
    }
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    assert_eq!(
        allocs, 0,
        "{allocs} allocations on the worker over 10,000 datagrams"
    );
    h.shutdown(Duration::from_secs(1));
    h.join().unwrap();
}

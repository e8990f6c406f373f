//! A shared listener with EPOLLEXCLUSIVE, and CPU pinning. Its own test binary: it
//! inspects every worker thread of the process.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use flare::prelude::*;

const GET: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\n";

fn connect(addr: std::net::SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

#[test]
fn a_shared_exclusive_listener_serves_every_connection_and_workers_can_be_pinned() {
    let handle = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(2)
        .shared_listener(true)
        .pin_workers(true)
        .configure(with_test_backend)
        .start(basic)
        .unwrap();
    let addr = handle.local_addr();
    for _ in 0..200 {
        let mut s = connect(addr);
        s.write_all(GET).unwrap();
        assert_eq!(read_response(&mut s).0, 200);
    }
    // Each worker thread is pinned to one CPU (worker i to CPU i % ncpu).
    let ncpu = std::thread::available_parallelism().unwrap().get();
    let mut pinned = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = entry.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if let Some(i) = comm.trim().strip_prefix("flare-worker-") {
            let i: usize = i.parse().unwrap();
            let status = std::fs::read_to_string(dir.join("status")).unwrap();
            let cpus = status
                .lines()
                .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                .unwrap()
                .trim()
                .to_string();
            pinned.push((i, cpus));
        }
    }
    pinned.sort();
    assert_eq!(pinned.len(), 2, "{pinned:?}");
    for (i, cpus) in pinned {
        assert_eq!(cpus, (i % ncpu).to_string());
    }
    handle.shutdown(Duration::from_secs(1));
    handle.join().unwrap();
}

//! Graceful drain: SIGTERM while 200 slow requests are in flight. Every request is
//! answered (with `Connection: close`) and the process exits by itself.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

#[test]
fn sigterm_drains_200_in_flight_slow_requests() {
    let (mut child, addr) = common::spawn_listening(
        Command::new(common::example_bin("server"))
            .args(["--addr", "127.0.0.1:0", "--workers", "2"])
            .args(common::test_backend_args())
            .stderr(Stdio::inherit()),
    );

    const N: usize = 200;
    let barrier = Arc::new(Barrier::new(N + 1));
    let clients: Vec<_> = (0..N)
        .map(|_| {
            let addr = addr.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                s.write_all(b"GET /slow?ms=20 HTTP/1.1\r\nHost: x\r\n\r\n")
                    .unwrap();
                barrier.wait();
                let mut out = Vec::new();
                s.read_to_end(&mut out).unwrap();
                String::from_utf8_lossy(&out).into_owned()
            })
        })
        .collect();
    barrier.wait();
    // All 200 requests are sent; most are still queued behind the 20 ms handler.
    let pid = child.id().to_string();
    common::run_ok(Command::new("kill").args(["-TERM", &pid]));
    let mut ok = 0;
    let mut closing = 0;
    for c in clients {
        let resp = c.join().unwrap();
        assert!(
            resp.starts_with("HTTP/1.1 200 OK"),
            "lost a request: {resp:?}"
        );
        assert!(resp.ends_with("done"), "{resp}");
        ok += 1;
        // Answered during the drain: the server says it closes.
        closing += resp.contains("connection: close") as usize;
    }
    assert_eq!(ok, N);
    assert!(
        closing >= N / 2,
        "only {closing} responses were sent during the drain"
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "server exited with {status}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "server did not exit after the drain"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // Nothing listens any more.
    assert!(TcpStream::connect(&addr).is_err());
}

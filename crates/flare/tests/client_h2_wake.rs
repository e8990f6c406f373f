//! The HTTP/2 client's shared connection when streams fare differently: one
//! stream's timeout, reset or refusal touches that stream only, GOAWAY lets the
//! earlier streams finish, and a connection that dies fails every waiter at once.
//! The server is Python `h2` (tests/py/client_h2_server.py, h2c by prior
//! knowledge), whose routes stall, reset, refuse and close on purpose; every
//! answer names its connection (`conn=N`).

mod common;

use std::process::{Child, Command};
use std::thread;
use std::time::{Duration, Instant};

use common::*;
use flare::client::{Client, Error, ProtocolError, TimeoutKind};

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn server() -> (Kill, String) {
    let (child, addr) = spawn_listening(Command::new(python()).arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/py/client_h2_server.py"
    )));
    (Kill(child), format!("http://{addr}"))
}

fn client(read_timeout: Duration) -> Client {
    Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .read_timeout(read_timeout)
        .build()
        .unwrap()
}

fn get(c: &Client, url: &str) -> String {
    let r = c.get(url).send().unwrap();
    assert_eq!(r.version(), http::Version::HTTP_2);
    r.text().unwrap()
}

#[test]
fn timeouts_fire_per_stream_while_the_others_go_on() {
    let (_k, base) = server();
    let c = client(Duration::from_millis(800));
    assert_eq!(get(&c, &format!("{base}/ok")), "conn=1");
    let t0 = Instant::now();
    // No head within the read timeout.
    let read = {
        let (c, u) = (c.clone(), format!("{base}/stall"));
        thread::spawn(move || c.get(u).send().map(|_| ()).unwrap_err())
    };
    // The whole request's own timeout, shorter than the read timeout.
    let whole = {
        let (c, u) = (c.clone(), format!("{base}/stall"));
        thread::spawn(move || {
            c.get(u)
                .timeout(Duration::from_millis(300))
                .send()
                .map(|_| ())
                .unwrap_err()
        })
    };
    // A head, then no body within the read timeout.
    let body = {
        let (c, u) = (c.clone(), format!("{base}/head-stall"));
        thread::spawn(move || c.get(u).send().unwrap().bytes().unwrap_err())
    };
    for _ in 0..50 {
        assert_eq!(get(&c, &format!("{base}/ok")), "conn=1");
    }
    let whole = whole.join().unwrap();
    assert_eq!(
        whole.timeout_kind(),
        Some(TimeoutKind::Request),
        "{whole:?}"
    );
    let read = read.join().unwrap();
    assert_eq!(read.timeout_kind(), Some(TimeoutKind::Read), "{read:?}");
    let body = body.join().unwrap();
    assert_eq!(body.timeout_kind(), Some(TimeoutKind::Read), "{body:?}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    // The connection outlived them.
    assert_eq!(get(&c, &format!("{base}/ok")), "conn=1");
}

#[test]
fn a_reset_fails_only_its_stream() {
    let (_k, base) = server();
    let c = client(Duration::from_secs(10));
    assert_eq!(get(&c, &format!("{base}/ok")), "conn=1");
    let slow: Vec<_> = (0..4)
        .map(|_| {
            let (c, u) = (c.clone(), format!("{base}/slow?ms=300"));
            thread::spawn(move || get(&c, &u))
        })
        .collect();
    thread::sleep(Duration::from_millis(50));
    let e = c.get(format!("{base}/reset")).send().unwrap_err();
    assert!(
        matches!(
            e,
            Error::Protocol {
                detail: ProtocolError::Http2Reset(flare::h2::ErrorCode::InternalError),
                ..
            }
        ),
        "{e:?}"
    );
    for t in slow {
        assert_eq!(t.join().unwrap(), "conn=1");
    }
    assert_eq!(get(&c, &format!("{base}/ok")), "conn=1");
}

#[test]
fn goaway_lets_earlier_streams_finish_and_refused_ones_retry() {
    let (_k, base) = server();
    let c = client(Duration::from_secs(10));
    assert_eq!(get(&c, &format!("{base}/ok")), "conn=1");
    let slow: Vec<_> = (0..3)
        .map(|_| {
            let (c, u) = (c.clone(), format!("{base}/slow?ms=600"));
            thread::spawn(move || get(&c, &u))
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    // GOAWAY names the stream below this one: this GET is refused (never
    // processed) and retried on a second connection.
    assert_eq!(get(&c, &format!("{base}/goaway-once")), "conn=2");
    for t in slow {
        assert_eq!(t.join().unwrap(), "conn=1");
    }
    assert_eq!(get(&c, &format!("{base}/ok")), "conn=2");
}

#[test]
fn a_dead_connection_fails_every_waiter() {
    let (_k, base) = server();
    let c = client(Duration::from_secs(30));
    assert_eq!(get(&c, &format!("{base}/ok")), "conn=1");
    let t0 = Instant::now();
    // POSTs, so that none is retried on the next connection.
    let waiters: Vec<_> = (0..4)
        .map(|_| {
            let (c, u) = (c.clone(), format!("{base}/stall"));
            thread::spawn(move || c.post(u).body("x").send().map(|_| ()).unwrap_err())
        })
        .collect();
    thread::sleep(Duration::from_millis(200));
    // The server drops the connection under everyone (this GET itself is retried
    // once on a fresh connection, which the server drops too).
    let _ = c.get(format!("{base}/close")).send();
    for t in waiters {
        let e = t.join().unwrap();
        assert!(!e.is_timeout(), "{e:?}");
        assert!(matches!(e, Error::Protocol { .. }), "{e:?}");
    }
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "the waiters waited for their timeouts: {:?}",
        t0.elapsed()
    );
    // And the next request gets a connection of its own.
    let next = get(&c, &format!("{base}/ok"));
    assert!(next.starts_with("conn=") && next != "conn=1", "{next}");
}

//! A server that accepts and never reads: an HTTP/1.1 upload stalls once the
//! socket buffers are full, and `ClientBuilder::write_timeout` (or the request's
//! own timeout) ends it with a typed error. A server that reads slowly but
//! steadily is not cut off. The same over HTTP/2 (prior knowledge): a server
//! that opens its flow-control windows wide and then never reads.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flare::client::{Body, Client, Error, TimeoutKind, DEFAULT_WRITE_TIMEOUT};

/// Accepts one connection and holds it unread until the guard drops (at most 60 s).
struct Deaf {
    addr: SocketAddr,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Deaf {
    fn start() -> Deaf {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let (tx, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let _ = rx.recv_timeout(Duration::from_secs(60));
            drop(s);
        });
        Deaf {
            addr,
            stop: Some(tx),
            thread: Some(thread),
        }
    }
}

impl Drop for Deaf {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

const UPLOAD: usize = 64 << 20;

fn stalled(e: &Error) -> Option<TimeoutKind> {
    e.timeout_kind()
}

#[test]
fn a_server_that_never_reads_hits_the_write_timeout() {
    assert_eq!(DEFAULT_WRITE_TIMEOUT, Duration::from_secs(30));
    let stall = Duration::from_millis(500);
    let client = Client::builder()
        .no_proxy()
        .write_timeout(stall)
        .expect_continue_threshold(None)
        .build()
        .unwrap();
    // In memory, sized.
    let deaf = Deaf::start();
    let url = format!("http://{}/upload", deaf.addr);
    let t = Instant::now();
    let e = client
        .post(&url)
        .body(vec![7u8; UPLOAD])
        .send()
        .unwrap_err();
    let took = t.elapsed();
    eprintln!("sized upload: {e} after {took:?}");
    assert_eq!(stalled(&e), Some(TimeoutKind::Write), "{e:?}");
    assert_eq!(e.url(), url);
    assert!(e.to_string().contains("write timeout"), "{e}");
    assert!(took >= stall && took < Duration::from_secs(10), "{took:?}");
    drop(deaf);

    // Streamed (chunked), after the default `Expect: 100-continue` wait of 1 s goes
    // unanswered.
    let client = Client::builder()
        .no_proxy()
        .write_timeout(stall)
        .build()
        .unwrap();
    let deaf = Deaf::start();
    let url = format!("http://{}/upload", deaf.addr);
    let t = Instant::now();
    let body = Body::from_reader(std::io::repeat(1).take(UPLOAD as u64));
    let e = client.post(&url).body(body).send().unwrap_err();
    let took = t.elapsed();
    eprintln!("streamed upload: {e} after {took:?}");
    assert_eq!(stalled(&e), Some(TimeoutKind::Write), "{e:?}");
    assert!(
        took >= Duration::from_secs(1) + stall && took < Duration::from_secs(12),
        "{took:?}"
    );
}

#[test]
fn without_a_write_timeout_the_request_timeout_ends_a_stall() {
    let client = Client::builder()
        .no_proxy()
        .write_timeout(None)
        .expect_continue_threshold(None)
        .build()
        .unwrap();
    let deaf = Deaf::start();
    let t = Instant::now();
    let e = client
        .put(format!("http://{}/upload", deaf.addr))
        .body(vec![7u8; UPLOAD])
        .timeout(Duration::from_millis(800))
        .send()
        .unwrap_err();
    let took = t.elapsed();
    eprintln!("request timeout: {e} after {took:?}");
    assert_eq!(stalled(&e), Some(TimeoutKind::Request), "{e:?}");
    assert!(
        took >= Duration::from_millis(800) && took < Duration::from_secs(10),
        "{took:?}"
    );
}

#[test]
fn a_slow_reader_that_keeps_reading_is_not_cut_off() {
    // 4 MiB read 128 KiB at a time every 50 ms (about 1.6 s in all) with a 300 ms
    // write stall limit: each write makes progress within the limit.
    let len = 4usize << 20;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 128 * 1024];
        let deadline = Instant::now() + Duration::from_secs(30);
        let body_start = loop {
            assert!(Instant::now() < deadline);
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "client closed before the head");
            seen.extend_from_slice(&buf[..n]);
            if let Some(i) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let mut got = seen.len() - body_start;
        while got < len {
            assert!(Instant::now() < deadline, "upload did not finish");
            std::thread::sleep(Duration::from_millis(50));
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "client closed mid-body");
            got += n;
        }
        s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
            .unwrap();
        got
    });
    let client = Client::builder()
        .no_proxy()
        .write_timeout(Duration::from_millis(300))
        .expect_continue_threshold(None)
        .build()
        .unwrap();
    let t = Instant::now();
    let r = client
        .post(format!("http://{addr}/upload"))
        .body(vec![3u8; len])
        .send()
        .unwrap();
    assert_eq!(r.text().unwrap(), "ok");
    assert_eq!(server.join().unwrap(), len);
    eprintln!("slow reader: 4 MiB in {:?}", t.elapsed());
    // It did stall past 300 ms in all, so the limit was per write, not per upload.
    assert!(
        t.elapsed() > Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
}

/// Accepts one connection, says (as an HTTP/2 server) that the client may send
/// 2^31 - 1 bytes on every stream and on the connection, then never reads.
fn deaf_h2() -> Deaf {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let (tx, rx) = mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let frame = |len: u32, kind: u8, flags: u8, payload: &[u8]| {
            let mut f = len.to_be_bytes()[1..].to_vec();
            f.extend([kind, flags, 0, 0, 0, 0]);
            f.extend_from_slice(payload);
            f
        };
        let mut out = Vec::new();
        // SETTINGS: INITIAL_WINDOW_SIZE = 2^31 - 1.
        let mut settings = 4u16.to_be_bytes().to_vec();
        settings.extend(0x7fff_ffffu32.to_be_bytes());
        out.extend(frame(6, 0x4, 0, &settings));
        // SETTINGS ACK (the client's SETTINGS precede anything it reads).
        out.extend(frame(0, 0x4, 0x1, &[]));
        // WINDOW_UPDATE on the connection up to 2^31 - 1.
        out.extend(frame(4, 0x8, 0, &(0x7fff_ffffu32 - 65_535).to_be_bytes()));
        s.write_all(&out).unwrap();
        let _ = rx.recv_timeout(Duration::from_secs(60));
        drop(s);
    });
    Deaf {
        addr,
        stop: Some(tx),
        thread: Some(thread),
    }
}

#[test]
fn an_http2_server_that_stops_reading_hits_the_write_timeout() {
    let stall = Duration::from_millis(500);
    let client = Client::builder()
        .no_proxy()
        .http2_prior_knowledge()
        .write_timeout(stall)
        .build()
        .unwrap();
    let deaf = deaf_h2();
    let url = format!("http://{}/upload", deaf.addr);
    let t = Instant::now();
    let e = client
        .post(&url)
        .body(vec![7u8; UPLOAD])
        .send()
        .unwrap_err();
    let took = t.elapsed();
    eprintln!("h2 upload: {e} after {took:?}");
    assert_eq!(stalled(&e), Some(TimeoutKind::Write), "{e:?}");
    assert_eq!(e.url(), url);
    assert!(took >= stall && took < Duration::from_secs(10), "{took:?}");
}

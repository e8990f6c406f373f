//! The per-stream wake-up and the combined writes, counted on one connection
//! shared by threads (h2c by prior knowledge): against nghttpd, and against
//! Python `h2` (tests/py/client_h2_server.py) for streams that stall while
//! others are answered. Both peers are installed by `cargo xtask peers`.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, StatusCode};

use super::H2Conn;
use crate::client::body::Body;
use crate::client::transport::{Socket, Transport};

const BODY: &str = "hello from nghttpd\n";

struct Nghttpd {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Drop for Nghttpd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nghttpd(name: &str) -> Nghttpd {
    let found = Command::new("sh")
        .args(["-c", "command -v nghttpd"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "required peer `nghttpd` is missing: run `cargo xtask peers` (or `cargo xtask test`)"
    );
    let dir = std::env::temp_dir().join(format!("flare-h2-wake-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("hello.txt"), BODY).unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("nghttpd")
        .args(["--no-tls", "-d"])
        .arg(&dir)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut n = Nghttpd { child, dir, port };
    let t = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = n.child.try_wait() {
            panic!("nghttpd exited at start: {status}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "nghttpd never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    n.port = port;
    n
}

/// tests/py/client_h2_server.py on the venv's Python.
fn python_h2() -> (Killed, u16) {
    use std::io::BufRead;
    let python = std::env::var_os("FLARE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/venv/bin/python"
            ))
        });
    assert!(
        python.exists(),
        "required peer Python venv missing at {}: run `cargo xtask peers`",
        python.display()
    );
    let mut child = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/py/client_h2_server.py"
        ))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut line);
    }
    let child = Killed(child);
    let port = line
        .trim()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (child, port)
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn connect(port: u16) -> Arc<H2Conn> {
    let tcp = TcpStream::connect(("127.0.0.1", port)).unwrap();
    H2Conn::start(
        Transport::Plain(Socket::new(tcp)),
        Some(Duration::from_secs(30)),
    )
    .unwrap()
}

/// A GET of `path` on `conn`; the body, or the error's text.
fn get(
    conn: &Arc<H2Conn>,
    port: u16,
    path: &str,
    read_timeout: Duration,
) -> Result<String, String> {
    let authority = format!("127.0.0.1:{port}");
    let url = format!("http://{authority}{path}");
    let deadline = Instant::now() + Duration::from_secs(60);
    let (head, mut body) = conn
        .request(
            &Method::GET,
            &authority,
            path,
            &HeaderMap::new(),
            Body::empty(),
            Some(read_timeout),
            Some(deadline),
            &url,
        )
        .map_err(|f| f.map_or("no room".into(), |f| f.error.to_string()))?;
    assert_eq!(head.status, StatusCode::OK);
    let mut text = String::new();
    body.read_to_string(&mut text).map_err(|e| e.to_string())?;
    Ok(text)
}

/// `each` GETs from each of `threads` threads on `conn`, every body checked.
fn load(conn: &Arc<H2Conn>, port: u16, threads: usize, each: usize) {
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let c = conn.clone();
            std::thread::spawn(move || {
                for _ in 0..each {
                    let body = get(&c, port, "/hello.txt", Duration::from_secs(10));
                    assert_eq!(body.as_deref(), Ok(BODY));
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}

/// Wake-ups and socket writes per request on one connection.
fn per_request(conn: &H2Conn) -> (f64, f64, u64) {
    let s = &conn.stats;
    let requests = s.requests.load(Ordering::Relaxed);
    let per = |n: u64| n as f64 / requests.max(1) as f64;
    (
        per(s.wakeups.load(Ordering::Relaxed)),
        per(s.writes.load(Ordering::Relaxed)),
        requests,
    )
}

/// Eight threads on one connection: a wake-up per request (the head and the
/// body usually come in one read) and, because the requests that follow a batch
/// of answers go out together, far fewer socket writes than requests.
#[test]
fn threads_share_writes_and_wake_once_per_request() {
    let n = nghttpd("threads");
    let conn = connect(n.port);
    load(&conn, n.port, 8, 150);
    let (wakeups, writes, requests) = per_request(&conn);
    eprintln!(
        "8 threads: {requests} requests, {wakeups:.2} wake-ups and {writes:.2} writes per request"
    );
    assert_eq!(requests, 8 * 150);
    assert!(wakeups <= 2.0, "{wakeups:.2} wake-ups per request");
    // A write per request (or per event) would be 1 or more.
    assert!(
        writes <= 0.6,
        "{writes:.2} writes per request: no combined writes"
    );
    conn.close();
}

/// One thread: one wake-up and one write per request.
#[test]
fn one_thread_wakes_once_and_writes_once_per_request() {
    let n = nghttpd("one");
    let conn = connect(n.port);
    load(&conn, n.port, 1, 300);
    let (wakeups, writes, requests) = per_request(&conn);
    eprintln!(
        "1 thread: {requests} requests, {wakeups:.2} wake-ups and {writes:.2} writes per request"
    );
    assert!(wakeups <= 2.0, "{wakeups:.2} wake-ups per request");
    assert!(writes <= 1.05, "{writes:.2} writes per request");
    conn.close();
}

/// Six streams wait for answers that never come while another thread makes 200
/// requests: each answer wakes its own waiter only. Waking every waiter per read
/// would give about seven wake-ups per request.
#[test]
fn stalled_streams_sleep_through_the_others_answers() {
    let (_server, port) = python_h2();
    let conn = connect(port);
    assert_eq!(
        get(&conn, port, "/ok", Duration::from_secs(10)).as_deref(),
        Ok("conn=1")
    );
    let stalled: Vec<_> = (0..6)
        .map(|_| {
            let c = conn.clone();
            std::thread::spawn(move || get(&c, port, "/stall", Duration::from_secs(30)))
        })
        .collect();
    let t = Instant::now();
    while conn.stats.requests.load(Ordering::Relaxed) < 7 {
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "stalled requests not sent"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Let them park.
    std::thread::sleep(Duration::from_millis(100));
    let before = conn.stats.wakeups.load(Ordering::Relaxed);
    for _ in 0..200 {
        assert_eq!(
            get(&conn, port, "/ok", Duration::from_secs(10)).as_deref(),
            Ok("conn=1")
        );
    }
    let wakeups = conn.stats.wakeups.load(Ordering::Relaxed) - before;
    let per = wakeups as f64 / 200.0;
    eprintln!("6 stalled streams, 200 answered requests: {per:.2} wake-ups per request");
    assert!(
        per <= 1.5,
        "{per:.2} wake-ups per answered request: stalled waiters are woken by others' answers"
    );
    // A dead connection fails every waiter, at once.
    conn.close();
    for s in stalled {
        let e = s.join().unwrap().unwrap_err();
        assert!(e.contains("closed by the client"), "{e}");
    }
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
}

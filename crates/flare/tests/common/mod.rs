//! Helpers shared by the end-to-end tests: an in-process server on loopback, peers.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use flare::prelude::*;
use flare::ServerConfig;

/// A server on 127.0.0.1:0 running `handler` with `workers` workers; shut down on drop.
pub struct TestServer {
    pub addr: SocketAddr,
    handle: Option<ServerHandle>,
}

impl TestServer {
    pub fn start<H: Handler>(handler: H) -> TestServer {
        Self::start_with(handler, 2, ServerConfig::default())
    }

    pub fn start_with<H: Handler>(handler: H, workers: usize, cfg: ServerConfig) -> TestServer {
        let cfg = with_test_backend(cfg);
        let server = HttpServer::bind("127.0.0.1:0")
            .unwrap()
            .workers(workers)
            .config(cfg);
        let handle = server.start(handler).unwrap();
        TestServer {
            addr: handle.local_addr(),
            handle: Some(handle),
        }
    }

    /// Wraps a server started by the test itself.
    pub fn from_handle(handle: ServerHandle) -> TestServer {
        TestServer {
            addr: handle.local_addr(),
            handle: Some(handle),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Drains and waits for the workers.
    pub fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown(Duration::from_secs(5));
            h.join().unwrap();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown(Duration::from_millis(100));
            let _ = h.join();
        }
    }
}

/// `FLARE_TEST_IO_URING=1` runs the suites' servers on io_uring (`cargo xtask test`
/// runs the end-to-end tests once on each backend).
pub fn with_test_backend(cfg: ServerConfig) -> ServerConfig {
    let on = std::env::var("FLARE_TEST_IO_URING").is_ok_and(|v| v == "1");
    cfg.io_uring(on)
}

/// The example server's flags for the backend `with_test_backend` picks.
pub fn test_backend_args() -> &'static [&'static str] {
    if std::env::var("FLARE_TEST_IO_URING").is_ok_and(|v| v == "1") {
        &["--io-uring"]
    } else {
        &[]
    }
}

/// An example cargo built next to the test binaries (`cargo test -p flare` builds
/// the examples; `--test NAME` alone does not).
pub fn example_bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let p = dir.join("examples").join(name);
    assert!(
        p.exists(),
        "example {name} not built at {} (`cargo test -p flare` builds it)",
        p.display()
    );
    p
}

/// Spawns `cmd` (a server that prints `... http://HOST:PORT ...` as its first line)
/// with stdout piped; returns the child and `HOST:PORT`.
pub fn spawn_listening(cmd: &mut Command) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (child, addr)
}

/// Fails the test (never skips it) when an external peer is missing.
pub fn require(cmd: &str) -> PathBuf {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {cmd}"))
        .output()
        .expect("sh");
    if !out.status.success() {
        panic!("required peer `{cmd}` is missing: run `cargo xtask peers` (or `cargo xtask test`, which installs it)");
    }
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
}

/// The Python with the test packages (`cargo xtask peers` makes it).
pub fn python() -> PathBuf {
    let p = std::env::var_os("FLARE_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/venv/bin/python"
            ))
        });
    if !p.exists() {
        panic!(
            "required peer Python venv missing at {}: run `cargo xtask peers`",
            p.display()
        );
    }
    p
}

/// Runs a command, panicking with its output unless it succeeds.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout + &stderr
}

/// Sends raw bytes and reads until the peer closes or `timeout` passes.
pub fn raw_exchange(addr: SocketAddr, bytes: &[u8], timeout: Duration) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(timeout)).unwrap();
    s.write_all(bytes).unwrap();
    read_to_close(&mut s, timeout)
}

/// Reads until EOF, an error, or the deadline.
pub fn read_to_close(s: &mut TcpStream, timeout: Duration) -> Vec<u8> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

/// Reads one response with a content-length body (or none) from a keep-alive stream.
/// Do not use it for pipelined responses: bytes past the first response are dropped
/// (use [`read_responses`]).
pub fn read_response(s: &mut TcpStream) -> (u16, Vec<u8>) {
    read_responses(s, 1).pop().unwrap()
}

/// Reads `n` responses with content-length bodies (or none) in order; bytes after
/// the `n`th are dropped.
pub fn read_responses(s: &mut TcpStream, n: usize) -> Vec<(u16, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    let mut out = Vec::new();
    while out.len() < n {
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let status: u16 = head[9..12].parse().unwrap();
            let len: usize = head
                .lines()
                .find_map(|l| {
                    let (n, v) = l.split_once(':')?;
                    n.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().unwrap())
                })
                .unwrap_or(0);
            while buf.len() < end + 4 + len {
                let got = s.read(&mut tmp).unwrap();
                assert!(got > 0, "eof inside body");
                buf.extend_from_slice(&tmp[..got]);
            }
            out.push((status, buf[end + 4..end + 4 + len].to_vec()));
            buf.drain(..end + 4 + len);
            continue;
        }
        let got = s.read(&mut tmp).unwrap();
        assert!(
            got > 0,
            "eof before a response head; got {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&tmp[..got]);
    }
    out
}

pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A plain handler with the example server's basic routes, for tests.
pub fn basic(req: &Request) -> Response {
    match req.path() {
        "/plaintext" => Response::text("Hello, World!"),
        "/echo" => Response::bytes(req.body().to_vec()),
        "/len" => Response::text(req.body().len().to_string()),
        "/trailers" => {
            let t: Vec<String> = req
                .trailers()
                .map(|(n, v)| format!("{n}={}", String::from_utf8_lossy(v)))
                .collect();
            Response::text(t.join(","))
        }
        _ => Response::error(StatusCode::NOT_FOUND, "not found"),
    }
}

//! `TcpServer`: a user's `Protocol` on flare's workers over TCP and Unix sockets:
//! greeting on open, pipelined input, a waker from another thread, a protocol
//! deadline, the idle timeout, the input limit, back-pressure from a peer that does
//! not read, and drain. Plus the examples with their real clients: `line_echo`
//! (TCP and Unix) and `resp` against `redis-cli` and `redis-benchmark`; and
//! `HttpServer::bind_unix` with curl `--unix-socket` and nginx `proxy_pass`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use flare::prelude::*;
use flare::tcp::{Context, Protocol, TcpServer, Waker};
use flare::ServerConfig;

/// Greets, echoes lines with a counter, answers `wake` through a thread, `sleep`
/// arms a 200 ms deadline that answers `timeout`, `quit` closes.
struct Lines {
    n: usize,
    wakers: Arc<Mutex<Vec<Waker>>>,
    closed: Arc<Mutex<usize>>,
}

impl Protocol for Lines {
    fn on_open(&mut self, cx: &mut Context<'_>) {
        cx.write(b"hello\n");
    }
    fn on_data(&mut self, input: &[u8], cx: &mut Context<'_>) -> usize {
        let mut used = 0;
        while let Some(i) = input[used..].iter().position(|&b| b == b'\n') {
            let line = &input[used..used + i];
            used += i + 1;
            match line {
                b"quit" => {
                    cx.write(b"bye\n");
                    cx.close();
                    return used;
                }
                b"wake" => {
                    let w = cx.waker();
                    std::thread::spawn(move || {
                        std::thread::sleep(Duration::from_millis(20));
                        w.wake();
                    });
                }
                b"sleep" => cx.set_deadline(Some(cx.now() + Duration::from_millis(200))),
                b"big" => cx.write(&vec![b'x'; 4 << 20]),
                _ => {
                    self.n += 1;
                    cx.write(format!("{} {}\n", self.n, String::from_utf8_lossy(line)).as_bytes());
                }
            }
        }
        used
    }
    fn on_wake(&mut self, cx: &mut Context<'_>) {
        cx.write(b"woken\n");
    }
    fn on_timeout(&mut self, cx: &mut Context<'_>) {
        cx.write(b"timeout\n");
    }
    fn on_drain(&mut self, cx: &mut Context<'_>) {
        cx.write(b"draining\n");
        cx.close();
    }
    fn on_close(&mut self) {
        *self.closed.lock().unwrap() += 1;
        let _ = &self.wakers;
    }
}

struct Srv {
    handle: Option<ServerHandle>,
    addr: std::net::SocketAddr,
    unix: PathBuf,
    closed: Arc<Mutex<usize>>,
}

impl Drop for Srv {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown(Duration::from_millis(200));
            let _ = h.join();
        }
        let _ = std::fs::remove_file(&self.unix);
    }
}

fn start(cfg: ServerConfig) -> Srv {
    let unix = std::env::temp_dir().join(format!(
        "flare-tcp-{}-{}.sock",
        std::process::id(),
        rand_suffix()
    ));
    let closed = Arc::new(Mutex::new(0));
    let c2 = closed.clone();
    let wakers = Arc::new(Mutex::new(Vec::new()));
    let server = TcpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(2)
        .config(with_test_backend(cfg))
        .bind_unix(&unix, Some(0o600))
        .unwrap();
    let addr = server.local_addr();
    let handle = server
        .start(move |_peer| Lines {
            n: 0,
            wakers: wakers.clone(),
            closed: c2.clone(),
        })
        .unwrap();
    Srv {
        handle: Some(handle),
        addr,
        unix,
        closed,
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(0);
    h.finish() % 1_000_000
}

fn lines<R: Read>(r: &mut BufReader<R>, n: usize) -> Vec<String> {
    (0..n)
        .map(|_| {
            let mut s = String::new();
            r.read_line(&mut s).unwrap();
            s.trim_end().to_string()
        })
        .collect()
}

#[test]
fn greets_answers_pipelined_lines_and_wakes_from_another_thread() {
    let srv = start(ServerConfig::default());
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(lines(&mut r, 1), ["hello"]);
    // Pipelined, and split mid-line.
    s.write_all(b"a\nb\nc").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"d\nwake\n").unwrap();
    assert_eq!(lines(&mut r, 4), ["1 a", "2 b", "3 cd", "woken"]);
    s.write_all(b"sleep\n").unwrap();
    let t = Instant::now();
    assert_eq!(lines(&mut r, 1), ["timeout"]);
    assert!(
        t.elapsed() >= Duration::from_millis(150),
        "{:?}",
        t.elapsed()
    );
    s.write_all(b"quit\n").unwrap();
    assert_eq!(lines(&mut r, 1), ["bye"]);
    let mut rest = String::new();
    assert_eq!(r.read_line(&mut rest).unwrap(), 0, "closed after quit");
    let t = Instant::now();
    while *srv.closed.lock().unwrap() < 1 {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "on_close never called"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn the_same_protocol_over_a_unix_socket_with_its_permissions() {
    use std::os::unix::fs::PermissionsExt;
    let srv = start(ServerConfig::default());
    let mode = std::fs::metadata(&srv.unix).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let mut s = UnixStream::connect(&srv.unix).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(lines(&mut r, 1), ["hello"]);
    s.write_all(b"over unix\nwake\n").unwrap();
    assert_eq!(lines(&mut r, 2), ["1 over unix", "woken"]);
}

#[test]
fn a_stale_socket_file_is_replaced_and_a_live_one_refused() {
    let path = std::env::temp_dir().join(format!("flare-stale-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    // A socket file nobody listens on any more.
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let server = TcpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .bind_unix(&path, None)
        .unwrap();
    let handle = server.start(|_| LineEchoP).unwrap();
    // Now it is live: a second server must not take it.
    let again = TcpServer::bind("127.0.0.1:0")
        .unwrap()
        .bind_unix(&path, None);
    assert!(again.is_err(), "bound over a live socket");
    let mut s = UnixStream::connect(&path).unwrap();
    s.write_all(b"x\n").unwrap();
    let mut b = [0u8; 2];
    s.read_exact(&mut b).unwrap();
    assert_eq!(&b, b"x\n");
    handle.shutdown(Duration::from_millis(100));
    handle.join().unwrap();
    let _ = std::fs::remove_file(&path);
}

struct LineEchoP;
impl Protocol for LineEchoP {
    fn on_data(&mut self, input: &[u8], cx: &mut Context<'_>) -> usize {
        match input.iter().rposition(|&b| b == b'\n') {
            Some(i) => {
                cx.write(&input[..=i]);
                i + 1
            }
            None => 0,
        }
    }
}

#[test]
fn idle_connections_close_at_the_idle_timeout_and_input_is_bounded() {
    let srv = start(
        ServerConfig::default()
            .keep_alive_timeout(Duration::from_millis(300))
            .max_input_buffer(8 * 1024),
    );
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let t = Instant::now();
    let got = read_to_close(&mut s, Duration::from_secs(10));
    assert_eq!(got, b"hello\n");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "{:?}",
        t.elapsed()
    );
    // A line that never ends, past the input limit: closed.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(&vec![b'y'; 64 * 1024]);
    let got = read_to_close(&mut s, Duration::from_secs(10));
    assert_eq!(got, b"hello\n");
}

#[test]
fn a_peer_that_does_not_read_holds_back_its_input_and_is_dropped_at_the_write_timeout() {
    let srv = start(ServerConfig::default().write_timeout(Duration::from_millis(500)));
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // 4 MiB answer that we do not read, then more requests.
    s.write_all(b"big\n").unwrap();
    s.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    for _ in 0..100 {
        if s.write_all(b"more\n").is_err() {
            break;
        }
    }
    std::thread::sleep(Duration::from_millis(1500));
    // The server gave up: reading now drains what was sent, then EOF or reset.
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => total += n,
        }
    }
    assert!(total < 5 << 20, "{total}");
}

#[test]
fn drain_tells_every_connection_and_waits_for_it() {
    let mut srv = start(ServerConfig::default());
    let s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(lines(&mut r, 1), ["hello"]);
    let h = srv.handle.take().unwrap();
    h.shutdown(Duration::from_secs(5));
    assert_eq!(lines(&mut r, 1), ["draining"]);
    h.join().unwrap();
    let mut rest = String::new();
    assert_eq!(r.read_line(&mut rest).unwrap(), 0);
}

// ---- the examples with real clients ----

fn spawn_example(name: &str, args: &[&str], marker: &str) -> (std::process::Child, String) {
    let mut child = Command::new(example_bin(name))
        .args(args)
        .args(test_backend_args())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split(marker)
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, addr)
}

struct Kill(std::process::Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn line_echo_example_over_tcp_and_unix() {
    let path = std::env::temp_dir().join(format!("flare-line-echo-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let (child, addr) = spawn_example(
        "line_echo",
        &["--addr", "127.0.0.1:0", "--unix", path.to_str().unwrap()],
        "tcp://",
    );
    let _k = Kill(child);
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"one\ntwo\n").unwrap();
    let mut r = BufReader::new(s);
    assert_eq!(lines(&mut r, 2), ["one", "two"]);
    let mut u = UnixStream::connect(&path).unwrap();
    u.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    u.write_all(b"three\n").unwrap();
    let mut r = BufReader::new(u);
    assert_eq!(lines(&mut r, 1), ["three"]);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn resp_example_with_redis_cli_and_redis_benchmark() {
    let cli = require("redis-cli");
    let bench = require("redis-benchmark");
    let (child, addr) = spawn_example(
        "resp",
        &["--addr", "127.0.0.1:0", "--workers", "2"],
        "redis://",
    );
    let _k = Kill(child);
    let (host, port) = addr.rsplit_once(':').unwrap();
    let redis = |args: &[&str]| -> String {
        run_ok(Command::new(&cli).args(["-h", host, "-p", port]).args(args))
            .trim_end()
            .to_string()
    };
    assert_eq!(redis(&["PING"]), "PONG");
    assert_eq!(redis(&["ECHO", "hé llo"]), "hé llo");
    assert_eq!(redis(&["SET", "k", "v1"]), "OK");
    assert_eq!(redis(&["GET", "k"]), "v1");
    assert_eq!(redis(&["GET", "missing"]), "");
    assert_eq!(redis(&["INCR", "n"]), "1");
    assert_eq!(redis(&["INCR", "n"]), "2");
    assert_eq!(redis(&["DEL", "k", "n", "none"]), "2");
    assert_eq!(redis(&["EXISTS", "k"]), "0");
    assert!(redis(&["INCR", "k", "extra"]).contains("wrong number of arguments"));
    assert_eq!(redis(&["SET", "t", "x", "PX", "100"]), "OK");
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(redis(&["GET", "t"]), "");
    // Pipelined commands from redis-cli --pipe (raw protocol on stdin).
    let mut pipe = Command::new(&cli)
        .args(["-h", host, "-p", port, "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = pipe.stdin.take().unwrap();
        for i in 0..1000 {
            write!(
                stdin,
                "*3\r\n$3\r\nSET\r\n${}\r\nkey{i}\r\n$1\r\nv\r\n",
                3 + i.to_string().len()
            )
            .unwrap();
        }
    }
    let out = pipe.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("errors: 0, replies: 1000"), "{text}");
    assert_eq!(redis(&["DBSIZE"]), "1000");
    // redis-benchmark, bounded: 20,000 requests each, pipelined and not.
    for extra in [&["-P", "16"][..], &[][..]] {
        let out = run_ok(
            Command::new(&bench)
                .args([
                    "-h",
                    host,
                    "-p",
                    port,
                    "-t",
                    "ping,set,get",
                    "-n",
                    "20000",
                    "-c",
                    "20",
                    "-q",
                ])
                .args(extra),
        );
        for t in ["PING_INLINE", "PING_MBULK", "SET", "GET"] {
            assert!(out.contains(t), "{t} missing in {out}");
        }
        assert!(!out.to_lowercase().contains("error"), "{out}");
    }
    // A protocol error: answered, then closed.
    let mut s = TcpStream::connect(&addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"*1\r\n$-5\r\n").unwrap();
    let got = read_to_close(&mut s, Duration::from_secs(5));
    assert!(
        got.starts_with(b"-ERR Protocol error"),
        "{:?}",
        String::from_utf8_lossy(&got)
    );
}

// ---- HTTP over a Unix socket ----

#[test]
fn http_over_a_unix_socket_with_curl_and_behind_nginx() {
    let curl = require("curl");
    let nginx = require("nginx");
    let dir = std::env::temp_dir().join(format!("flare-http-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sock = dir.join("flare.sock");
    let handle = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(2)
        .config(with_test_backend(ServerConfig::default()))
        .bind_unix(&sock, Some(0o666))
        .unwrap()
        .start(|req: &Request| {
            Response::text(format!(
                "hello over unix {} {}",
                req.path(),
                req.header("x-forwarded-for").unwrap_or("-")
            ))
        })
        .unwrap();
    let out = run_ok(
        Command::new(&curl)
            .args(["-s", "--unix-socket"])
            .arg(&sock)
            .arg("http://localhost/a"),
    );
    assert_eq!(out, "hello over unix /a -");
    // Keep-alive over the socket: two requests on one connection.
    let out = run_ok(
        Command::new(&curl)
            .args(["-s", "--unix-socket"])
            .arg(&sock)
            .args(["http://localhost/1", "http://localhost/2"]),
    );
    assert_eq!(out, "hello over unix /1 -hello over unix /2 -");
    // nginx in front: proxy_pass http://unix:PATH:
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let conf = dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "daemon off; master_process off; worker_processes 1; pid {dir}/nginx.pid;\n\
             error_log {dir}/error.log; events {{ worker_connections 64; }}\n\
             http {{ access_log off; client_body_temp_path {dir}; proxy_temp_path {dir};\n\
             fastcgi_temp_path {dir}; uwsgi_temp_path {dir}; scgi_temp_path {dir};\n\
             upstream flare {{ server unix:{sock}; keepalive 4; }}\n\
             server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://flare;\n\
             proxy_http_version 1.1; proxy_set_header Connection \"\";\n\
             proxy_set_header X-Forwarded-For $remote_addr; }} }} }}\n",
            dir = dir.display(),
            sock = sock.display(),
        ),
    )
    .unwrap();
    let child = Command::new(&nginx)
        .args(["-c"])
        .arg(&conf)
        .args(["-p"])
        .arg(&dir)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _k = Kill(child);
    let url = format!("http://127.0.0.1:{port}/via-nginx");
    let t = Instant::now();
    let out = loop {
        let o = Command::new(&curl).args(["-s", &url]).output().unwrap();
        if o.status.success() && !o.stdout.is_empty() {
            break String::from_utf8_lossy(&o.stdout).into_owned();
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "nginx never answered"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(out, "hello over unix /via-nginx 127.0.0.1");
    for i in 0..50 {
        let out = run_ok(Command::new(&curl).args(["-s", &format!("http://127.0.0.1:{port}/{i}")]));
        assert_eq!(out, format!("hello over unix /{i} 127.0.0.1"));
    }
    handle.shutdown(Duration::from_millis(200));
    handle.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

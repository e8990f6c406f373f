//! Zero-downtime restart and socket inheritance, with the example server:
//!
//! - under wrk (`Connection: close`, a new connection per request, so every request
//!   goes through the accept queue), the server is replaced three times with SIGHUP:
//!   each generation starts its successor on the same listening sockets and drains.
//!   wrk must see 0 socket errors and 0 non-2xx. The same with SO_REUSEPORT sockets
//!   bound afresh by a new process would reset what sits in the closing listener's
//!   queue (see `docs/architecture.md`); here no socket is ever closed;
//! - systemd socket activation: `systemd-socket-activate` passes a bound socket
//!   (`LISTEN_FDS`) and the server serves on it.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn pid_of(line: &str) -> u32 {
    line.split("(pid ")
        .nth(1)
        .and_then(|r| r.split(')').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no pid in {line:?}"))
}

fn free_addr() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().to_string()
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .unwrap_or_default()
            .contains(") Z ")
}

#[test]
fn three_sighup_restarts_under_wrk_lose_nothing() {
    let wrk = require("wrk");
    // A fixed port: every generation runs with the same arguments.
    let addr = free_addr();
    let mut child = Command::new(example_bin("server"))
        .args(["--addr", &addr, "--workers", "2"])
        .args(test_backend_args())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let mut pids = vec![pid_of(&line)];
    let url = format!("http://{addr}/plaintext");
    let load = std::thread::spawn(move || {
        Command::new(wrk)
            .args(["-t", "2", "-c", "16", "-d", "7s", "-H", "Connection: close"])
            .arg(&url)
            .output()
            .unwrap()
    });
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(1500));
        let old = *pids.last().unwrap();
        // SAFETY: kill(2) with a pid this test started and a valid signal.
        assert_eq!(unsafe { libc::kill(old as i32, libc::SIGHUP) }, 0);
        // The successor prints its line on the same stdout.
        let mut next = String::new();
        out.read_line(&mut next).unwrap();
        let pid = pid_of(&next);
        assert_ne!(pid, old, "{next}");
        pids.push(pid);
        // The old one drains and exits.
        let t = Instant::now();
        while alive(old) {
            assert!(t.elapsed() < Duration::from_secs(20), "{old} never exited");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let wrk_out = load.join().unwrap();
    let text = String::from_utf8_lossy(&wrk_out.stdout).into_owned();
    let last = *pids.last().unwrap();
    // SAFETY: as above.
    unsafe { libc::kill(last as i32, libc::SIGTERM) };
    let _ = child.wait();
    let t = Instant::now();
    while alive(last) {
        assert!(t.elapsed() < Duration::from_secs(20), "{last} never exited");
        std::thread::sleep(Duration::from_millis(20));
    }
    println!("generations {pids:?}\n{text}");
    assert!(wrk_out.status.success(), "{text}");
    assert!(
        !text.contains("Socket errors"),
        "connection errors across restarts:\n{text}"
    );
    assert!(
        !text.contains("Non-2xx"),
        "non-2xx across restarts:\n{text}"
    );
    let requests: u64 = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(requests > 1000, "{text}");
}

#[test]
fn systemd_socket_activation_serves_on_the_passed_socket() {
    let activate = require("systemd-socket-activate");
    let curl = require("curl");
    let addr = free_addr();
    let mut child = Command::new(activate)
        .args(["-l", &addr])
        .arg(example_bin("server"))
        .args(["--addr", &addr, "--workers", "2"])
        .args(test_backend_args())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // systemd-socket-activate binds, then starts the server at the first
    // connection: curl's request is the one that wakes it.
    let t = Instant::now();
    let body = loop {
        let o = Command::new(&curl)
            .args(["-s", "-m", "5", &format!("http://{addr}/plaintext")])
            .output()
            .unwrap();
        if o.status.success() {
            break String::from_utf8_lossy(&o.stdout).into_owned();
        }
        assert!(t.elapsed() < Duration::from_secs(10), "never answered");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(body, "Hello, World!");
    for _ in 0..20 {
        let out = run_ok(Command::new(&curl).args(["-s", &format!("http://{addr}/json")]));
        assert_eq!(out, r#"{"message":"Hello, World!"}"#);
    }
    let _ = child.kill();
    let _ = child.wait();
}

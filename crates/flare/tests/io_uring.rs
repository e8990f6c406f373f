//! The io_uring backend seen from outside: the example server, run under `strace`,
//! answers curl on one keep-alive connection while making about one syscall per
//! request (`io_uring_enter`) where epoll makes three (`epoll_wait`, `recvfrom`,
//! `sendto`). Both backends are measured in the same test so the comparison cannot
//! pass by accident.
#![cfg(target_os = "linux")]

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use flare::prelude::*;
use flare::ServerConfig;

use common::{require, run_ok};

const REQUESTS: u64 = 1000;

/// Runs the example under `strace -f -c`, sends REQUESTS requests with curl on one
/// connection, stops the server, returns the syscall counts.
fn syscalls(extra: &[&str]) -> HashMap<String, u64> {
    let strace = require("strace");
    let curl = require("curl");
    let out = std::env::temp_dir().join(format!(
        "flare-strace-{}-{}.txt",
        std::process::id(),
        extra.len()
    ));
    let (mut child, addr) = common::spawn_listening(
        Command::new(strace)
            .args(["-f", "-c", "-o"])
            .arg(&out)
            .arg(common::example_bin("server"))
            .args(["--addr", "127.0.0.1:0", "--workers", "1"])
            .args(extra),
    );
    let url = format!("http://{addr}");
    let body = run_ok(Command::new(curl).args([
        "-s",
        "--fail",
        &format!("{url}/plaintext?i=[1-{REQUESTS}]"),
    ]));
    assert_eq!(body, "Hello, World!".repeat(REQUESTS as usize));
    // SIGINT to the server (strace's child): it drains and exits; strace then
    // writes its summary and exits too.
    let children = format!("/proc/{0}/task/{0}/children", child.id());
    let server_pid = std::fs::read_to_string(&children).unwrap();
    let server_pid = server_pid
        .split_whitespace()
        .next()
        .expect("the traced server");
    run_ok(Command::new("kill").args(["-INT", server_pid]));
    assert!(child.wait().unwrap().success());
    let text = std::fs::read_to_string(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    let mut counts = HashMap::new();
    for l in text.lines() {
        let cols: Vec<&str> = l.split_whitespace().collect();
        // % time, seconds, usecs/call, calls, [errors], syscall
        if cols.len() >= 5 && cols[0].parse::<f64>().is_ok() {
            if let Ok(calls) = cols[3].parse::<u64>() {
                counts.insert(cols[cols.len() - 1].to_string(), calls);
            }
        }
    }
    assert!(!counts.is_empty(), "no strace summary in {text}");
    counts
}

#[test]
fn io_uring_answers_curl_with_one_syscall_per_request_where_epoll_needs_three() {
    let get = |m: &HashMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
    let epoll = syscalls(&[]);
    let uring = syscalls(&["--io-uring"]);
    let per_epoll = get(&epoll, "recvfrom")
        + get(&epoll, "sendto")
        + get(&epoll, "epoll_wait")
        + get(&epoll, "epoll_pwait");
    let per_uring = get(&uring, "io_uring_enter");
    eprintln!("epoll: {epoll:?}\nio_uring: {uring:?}");
    // Epoll: a wait, a receive and a send per request (the control).
    assert!(per_epoll >= 3 * REQUESTS, "epoll made {per_epoll} calls");
    // io_uring: the same requests with no socket syscall on the connection.
    assert!(
        get(&uring, "recvfrom") + get(&uring, "sendto") < 10,
        "{uring:?}"
    );
    assert!(
        per_uring >= REQUESTS / 2,
        "io_uring_enter only {per_uring} times"
    );
    assert!(
        per_uring <= REQUESTS + REQUESTS / 5,
        "io_uring_enter {per_uring} times for {REQUESTS} requests"
    );
}

// In-process servers on io_uring whatever FLARE_TEST_IO_URING says: the paths only
// the ring has (staged output outliving its connection, bytes re-offered to a
// driver that could not take them at once).

const BIG: usize = 8 << 20;

fn big(req: &Request) -> Response {
    match req.path() {
        "/big" => Response::bytes(vec![b'x'; BIG]),
        _ => Response::text("ok"),
    }
}

fn uring_server() -> common::TestServer {
    uring_server_with(ServerConfig::default())
}

fn uring_server_with(cfg: ServerConfig) -> common::TestServer {
    let server = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .config(cfg.io_uring(true));
    let handle = server.start(big).unwrap();
    common::TestServer::from_handle(handle)
}

fn body_len_to_close(s: &mut TcpStream) -> usize {
    let got = common::read_to_close(s, Duration::from_secs(20));
    let end = common::find(&got, b"\r\n\r\n").expect("a head") + 4;
    got.len() - end
}

#[test]
fn a_large_response_before_connection_close_arrives_whole() {
    let server = uring_server();
    for pause in [0, 200] {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .unwrap();
        // With a pause, the driver is done (and the connection closed) while most of
        // the body still waits in its staging buffer and socket.
        std::thread::sleep(Duration::from_millis(pause));
        assert_eq!(body_len_to_close(&mut s), BIG, "pause {pause} ms");
    }
    // A client that half-closes after its request: the driver answers and closes at
    // once, with the body still staged; it must still go out whole, then FIN.
    for _ in 0..3 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        assert_eq!(body_len_to_close(&mut s), BIG, "after a half-close");
    }
}

#[test]
fn peers_that_vanish_mid_response_leave_the_worker_serving() {
    let server = uring_server();
    for _ in 0..40 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut first = [0u8; 1024];
        s.read_exact(&mut first).unwrap();
        // Dropped with unread bytes: the kernel resets the connection while the
        // server's send is in flight.
    }
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.write_all(b"GET /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(body_len_to_close(&mut s), BIG);
    server.stop();
}

#[test]
fn a_pipelined_burst_larger_than_every_buffer_is_answered_in_order() {
    let server = uring_server();
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    const N: usize = 2000; // ~70 KiB of requests in one write
    let mut burst = Vec::new();
    for i in 0..N {
        burst.extend_from_slice(format!("GET /n{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&burst).unwrap());
    let answers = common::read_responses(&mut s, N);
    writer.join().unwrap();
    assert_eq!(answers.len(), N);
    assert!(answers
        .iter()
        .all(|(status, body)| *status == 200 && body == b"ok"));
}

/// `conns` clients pipeline 2,000 requests each (~70 KiB) and read nothing for a
/// while; every request is still answered, in order.
fn floods(server: &common::TestServer, conns: usize) {
    const N: usize = 2000;
    let mut burst = Vec::new();
    for i in 0..N {
        burst.extend_from_slice(format!("GET /n{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    let burst = std::sync::Arc::new(burst);
    let clients: Vec<_> = (0..conns)
        .map(|_| {
            let addr = server.addr;
            let burst = burst.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(addr).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut w = s.try_clone().unwrap();
                let writer = std::thread::spawn(move || w.write_all(&burst).unwrap());
                std::thread::sleep(Duration::from_millis(300));
                let answers = common::read_responses(&mut s, N);
                writer.join().unwrap();
                answers
                    .iter()
                    .all(|(status, body)| *status == 200 && body == b"ok")
            })
        })
        .collect();
    for c in clients {
        assert!(c.join().unwrap());
    }
}

#[test]
fn floods_on_many_connections_outrun_the_buffer_pool_and_are_all_answered() {
    // 100 floods run the default 4 MiB pool dry: receives wait for buffers to come
    // back and are re-armed.
    let server = uring_server();
    floods(&server, 100);
    server.stop();
    // The pool's size is a setting: 16 buffers of 1 KiB for 20 floods.
    let server = uring_server_with(ServerConfig::default().io_uring_buffers(16, 1024));
    floods(&server, 20);
    server.stop();
}

#[test]
fn a_buffer_pool_the_kernel_refuses_fails_the_start() {
    let started = HttpServer::bind("127.0.0.1:0")
        .unwrap()
        .workers(1)
        .config(
            ServerConfig::default()
                .io_uring(true)
                .io_uring_buffers(100, 1024),
        )
        .start(big);
    let Err(err) = started else {
        panic!("100 buffers is not a power of two, yet the server started");
    };
    assert!(err.to_string().contains("buffer ring"), "{err}");
}

#[test]
fn a_client_that_stops_reading_gets_its_receive_paused_and_resumed() {
    // Large answers fill the staging buffer, the driver stops taking input, the
    // unread requests pile up in pool buffers until the receive is cancelled; once
    // the client reads, everything resumes and every answer arrives in order.
    let server = uring_server();
    let mut s = TcpStream::connect(server.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut burst = b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2);
    for i in 0..4000 {
        burst.extend_from_slice(format!("GET /n{i} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    }
    let mut w = s.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&burst).unwrap());
    std::thread::sleep(Duration::from_millis(300));
    let answers = common::read_responses(&mut s, 4002);
    writer.join().unwrap();
    assert_eq!(answers[0].1.len(), BIG);
    assert_eq!(answers[1].1.len(), BIG);
    assert!(answers[2..]
        .iter()
        .all(|(status, body)| *status == 200 && body == b"ok"));
    server.stop();
}

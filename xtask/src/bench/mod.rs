//! `cargo xtask bench SUITE`: benchmark suites, each against a named peer
//! measured in the same run.

mod client;
mod dns_server;
mod facts;
mod h1;
mod h2;
mod json;
mod procfs;
mod publish;
mod report;
mod resp;
mod server;
mod spread;
mod strace;
mod suite;
mod tls;
mod wrk;
mod ws;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{Error, Result};
use crate::util::{self, Progress};

const HELP: &str = "\
cargo xtask bench [--quick] [OPTIONS]
cargo xtask bench SUITE [OPTIONS]

Without a suite: the full suite, flare (epoll and io_uring) against nginx,
hyper (current-thread and multi-thread), axum, actix-web and may_minihttp
(benches/peers):
keep-alive, pipelined x16, JSON, Connection: close churn and a constant-rate
run; server CPU us/request, req/s, p50/p99/p99.9, median and sigma over 5
alternating rounds; docs/benchmark.md and docs/benchmark.svg. `--quick`:
1 round of 3 s, keep-alive and pipelined. `cargo xtask bench --help-suite`
for its options.

Suites:
  h1      TechEmpower plaintext: flare on epoll, flare on io_uring and
          nginx (1 worker each), wrk 1 thread / 64 connections, plain and
          pipelined (16 per write), req/s, p50/p99, server CPU us/request
          (user/sys), syscalls/request, and the goals of issue 3.
          Writes target/bench/DATE-SHA/h1.json and the h1 section of
          docs/benchmark.md. `cargo xtask bench h1 --help` for options.
  h2      HTTP/2: flare vs hyper (benches/peers/hyper-h2), h2o and nginx,
          1 worker each, pinned, h2c and TLS (same certificate), after an
          integrity gate (curl over h2): h2load -c16 -m100, -c64 -m10 and
          -c1 -m1 on each; req/s, server CPU us/request, p50/p99, flare's
          ratio to each peer with the goals of issue 19; --callgrind adds
          flare's instructions/request. Writes target/bench/DATE-SHA/h2.json,
          the h2 section of docs/benchmark.md and docs/benchmark-h2.svg.
          `cargo xtask bench h2 --help` for options.
  hpack   cargo run --release --manifest-path benches/hpack/Cargo.toml
  dns     cargo run --release -p flare-dns --example dns_bench
  dns-server  Authoritative DNS over UDP: flare's dns_server example vs
          nsd and unbound (1 worker/thread each, pinned), dnsperf; queries/s
          and server CPU us/query. Writes the dns-server section of
          docs/benchmark.md. `cargo xtask bench dns-server --help`.
  router  cargo run --release --manifest-path benches/router/Cargo.toml
          (flare-web's Router against matchit, 100 routes)
  tls     HTTPS: flare vs nginx (1 worker each, same certificate): wrk
          keep-alive over TLS and full handshakes/s (openssl s_time -new),
          server CPU us per request and per handshake. Writes
          target/bench/DATE-SHA/tls.json and the tls section of
          docs/benchmark.md. `cargo xtask bench tls --help` for options.
  ws      WebSocket echo: flare vs fastwebsockets and tokio-tungstenite
          (deflate: Python websockets), 1 pinned worker each, loaded by
          benches/wsload: 100 x 20 B, 10 x 1 KiB, 10 x 16 KiB, 10 x 1 KiB
          deflate; messages/s and server CPU us/message with ratios. Writes
          target/bench/DATE-SHA/ws.json and the ws section of
          docs/benchmark.md. `cargo xtask bench ws --help` for options.
  resp    Redis protocol: flare's RESP example vs redis-server (1 worker /
          single-threaded, pinned), redis-benchmark -t ping,set,get with
          -P 16 and -P 1, 50 clients; requests/s and server CPU us/request
          with the ratio to redis-server. Writes
          target/bench/DATE-SHA/resp.json and the resp section of
          docs/benchmark.md. `cargo xtask bench resp --help` for options.

  client  flare::client vs ureq and reqwest::blocking (benches/clients):
          100,000 keep-alive GETs from 1 and 16 threads sharing one client
          and HTTP/2 over TLS from 16, against one pinned nginx; requests/s
          and client CPU us/request with flare's ratio to the best other.
          Writes target/bench/DATE-SHA/client.json and the client section
          of docs/benchmark.md. `cargo xtask bench client --help`.

  --quick   (any suite that supports it) a short smoke run
";

/// `cargo xtask bench`.
pub fn main(args: &[String]) -> Result<()> {
    let (suite, rest) = match args.split_first() {
        // No suite name (flags only): the full suite.
        None => return suite::main(args),
        Some((s, _)) if s.starts_with("--") && s != "--help" && s != "--help-suite" => {
            return suite::main(args)
        }
        Some((s, rest)) => (s.as_str(), rest),
    };
    match suite {
        "--help-suite" => suite::main(&["--help".to_string()]),
        "-h" | "--help" => {
            print!("{HELP}");
            Ok(())
        }
        "h1" => h1::main(rest),
        "h2" => h2::main(rest),
        "tls" => tls::main(rest),
        "ws" => ws::main(rest),
        "resp" => resp::main(rest),
        "client" => client::main(rest),
        "dns-server" => dns_server::main(rest),
        "hpack" => external(
            "hpack",
            &util::workspace_root().join("benches/hpack/Cargo.toml"),
            &[
                "run",
                "--release",
                "--manifest-path",
                "benches/hpack/Cargo.toml",
            ],
            rest,
        ),
        "router" => external(
            "router",
            &util::workspace_root().join("benches/router/Cargo.toml"),
            &[
                "run",
                "--release",
                "--manifest-path",
                "benches/router/Cargo.toml",
            ],
            rest,
        ),
        "dns" => external(
            "dns",
            &dns_bench_source(),
            &[
                "run",
                "--release",
                "-p",
                "flare-dns",
                "--example",
                "dns_bench",
            ],
            rest,
        ),
        other => Err(Error::Usage(format!(
            "unknown bench suite `{other}` (have: h1, h2, tls, ws, resp, client, hpack, dns, dns-server, router)"
        ))),
    }
}

/// The DNS bench example, as a single file or a directory.
fn dns_bench_source() -> PathBuf {
    let examples = util::workspace_root().join("crates/flare-dns/examples");
    let dir = examples.join("dns_bench/main.rs");
    if dir.is_file() {
        dir
    } else {
        examples.join("dns_bench.rs")
    }
}

/// A suite another engineer owns: runs its cargo command when its source
/// exists; otherwise says what would run and fails.
fn external(suite: &str, source: &Path, cargo_args: &[&str], rest: &[String]) -> Result<()> {
    let mut cmd = util::cargo();
    cmd.args(cargo_args);
    if !rest.is_empty() {
        cmd.arg("--").args(rest);
    }
    if !source.exists() {
        return Err(Error::Missing {
            what: format!("bench {suite}: {} does not exist yet", source.display()),
            hint: format!("when it does, this runs `{}`", util::describe(&cmd)),
        });
    }
    let mut progress = Progress::new(1);
    progress.step(&format!("bench {suite}"), || util::run(&mut cmd))
}

/// Sends `sig` (e.g. `TERM`) to each pid we started. Through the shell's
/// `kill` builtin, which every system has, so xtask needs no libc binding.
/// Stops a server we started and every process under it: SIGTERM to it, up to 5 s
/// for it to exit (nginx's master reaps its workers first), then SIGKILL to the
/// whole tree as it was before the TERM.
pub fn stop_tree(name: &str, child: &mut std::process::Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pids = procfs::tree_pids(child.id());
    signal(&[child.id()], "TERM");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    println!("    {name} ignored SIGTERM; killing pids {pids:?}");
    signal(&pids, "KILL");
    let _ = child.wait();
}

pub fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let list: Vec<String> = pids.iter().map(u32::to_string).collect();
    let _ = Command::new("sh")
        .arg("-c")
        .arg(format!("kill -s {sig} {} 2>/dev/null", list.join(" ")))
        .stdin(Stdio::null())
        .status();
}

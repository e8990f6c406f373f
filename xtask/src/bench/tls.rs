//! `cargo xtask bench tls`: HTTPS against flare's example server and nginx
//! with the same certificate, the same clients and the same run: keep-alive
//! plaintext over TLS (wrk) and full handshakes per second (`openssl
//! s_time -new`, no resumption), each with the server's CPU per unit of work.

mod report;
mod servers;

use std::fs;
use std::io::Read;
use std::process::{Command, Stdio};
use std::thread;
use std::time::Instant;

use super::facts;
use super::procfs;
use super::publish::RunInfo;
use super::report::{fmt_latency, render_text};
use super::server::{self, pinned, NGINX};
use super::wrk;
use crate::error::{Error, Result};
use crate::util::{self, Progress};
use report::{rows, section, splice, summarize, to_json, RoundResult};
use servers::{certificate, TlsServer};

const HELP: &str = "\
cargo xtask bench tls [OPTIONS]

HTTPS against flare's example server (--tls-cert/--tls-key) and nginx, one
worker each, the same ECDSA P-256 certificate (made once in
target/bench/tls/), server pinned to CPU 1 and clients to CPU 0. Rounds
alternate between servers. Two measurements per round and server:

  keep-alive   wrk -t1 -c64 over https to GET /plaintext: req/s, p50/p99,
               server CPU us per request
  handshakes   N parallel `openssl s_time -new` (a new full handshake per
               connection, no resumption, no request): handshakes/s and
               server CPU us per handshake

Writes target/bench/DATE-SHA/tls.json and the section between
<!-- bench:tls:start/end --> in docs/benchmark.md.

Options:
  --quick            1 round of 3 s each (a smoke test)
  --rounds N         rounds per server (default 3)
  --duration SECS    length of each measurement (default 10)
  --clients N        parallel s_time processes (default 4)
  --servers LIST     comma list of flare,nginx (default both)
  --no-docs          do not touch docs/benchmark.md
";

const CONNECTIONS: u32 = 64;
const SERVER_CPU: &str = "1";
const CLIENT_CPU: &str = "0";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Flare,
    Nginx,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    rounds: u32,
    duration: u64,
    clients: u32,
    targets: Vec<Target>,
    docs: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        rounds: 3,
        duration: 10,
        clients: 4,
        targets: vec![Target::Flare, Target::Nginx],
        docs: true,
    };
    let mut it = args.iter();
    let number = |flag: &str, v: Option<&String>, max: u64| -> Result<u64> {
        v.and_then(|v| v.parse::<u64>().ok())
            .filter(|&n| n > 0 && n <= max)
            .ok_or_else(|| Error::Usage(format!("{flag} wants a number from 1 to {max}")))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => {
                o.rounds = 1;
                o.duration = 3;
            }
            "--rounds" => o.rounds = number(arg, it.next(), 100)? as u32,
            "--duration" => o.duration = number(arg, it.next(), 3600)?,
            "--clients" => o.clients = number(arg, it.next(), 64)? as u32,
            "--servers" => {
                let list = it
                    .next()
                    .ok_or_else(|| Error::Usage("--servers needs flare,nginx".into()))?;
                o.targets = Vec::new();
                for name in list.split(',') {
                    let t = match name.trim() {
                        "flare" => Target::Flare,
                        "nginx" => Target::Nginx,
                        other => {
                            return Err(Error::Usage(format!(
                                "unknown server `{other}` (flare, nginx)"
                            )))
                        }
                    };
                    if !o.targets.contains(&t) {
                        o.targets.push(t);
                    }
                }
            }
            "--no-docs" => o.docs = false,
            other => return Err(Error::Usage(format!("unknown bench tls flag `{other}`"))),
        }
    }
    Ok(Some(o))
}

/// `cargo xtask bench tls`.
pub fn main(args: &[String]) -> Result<()> {
    let Some(o) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    preflight(&o)?;
    let pinned_run = can_pin();
    if !pinned_run {
        println!("warning: fewer than 2 usable CPUs or no taskset; nothing is pinned");
    }
    let (server_cpu, client_cpu) = if pinned_run {
        (Some(SERVER_CPU), Some(CLIENT_CPU))
    } else {
        (None, None)
    };
    let (date, time) = facts::utc_now();
    let commit = facts::commit();
    let out_dir = util::workspace_root()
        .join("target/bench")
        .join(format!("{date}-{}", commit.trim_end_matches("-dirty")));
    util::create_dir(&out_dir)?;
    let tls_dir = util::workspace_root().join("target/bench/tls");
    // Other work on the machine shows up as noise; the report says how much.
    let load_before = load_average();

    let has_flare = o.targets.contains(&Target::Flare);
    let steps = 2 + usize::from(has_flare) + 2 * o.rounds as usize * o.targets.len() + 1;
    let mut progress = Progress::new(steps);
    let cert = progress.step("certificate", || certificate(&tls_dir))?;
    let flare_binary = if has_flare {
        Some(progress.step("build flare", server::build_flare)?)
    } else {
        None
    };
    let mut servers = progress.step("start servers", || {
        let mut started = Vec::new();
        for &t in &o.targets {
            let s = match t {
                Target::Flare => {
                    let bin = flare_binary.as_deref().ok_or_else(|| Error::Missing {
                        what: "flare binary".into(),
                        hint: "the build step did not run".into(),
                    })?;
                    TlsServer::start_flare(bin, &cert, &out_dir, server_cpu)?
                }
                Target::Nginx => TlsServer::start_nginx(&tls_dir.join("nginx"), &cert, server_cpu)?,
            };
            println!(
                "    {} listening on https://127.0.0.1:{} (pids {:?})",
                s.name,
                s.port,
                procfs::tree_pids(s.child.id())
            );
            started.push(s);
        }
        Ok(started)
    })?;

    let mut results = Vec::new();
    for index in 1..=o.rounds {
        for s in servers.iter_mut() {
            let raw = format!("tls-{}-keepalive-r{index}.txt", s.name);
            let step = format!("round {index}/{} keep-alive {}", o.rounds, s.name);
            let args = wrk_args(o.duration, s.port);
            let ka = progress.step(&step, || {
                let before = s.cpu()?;
                let text = run_wrk(client_cpu, &args)?;
                let after = s.cpu()?;
                util::write_file(&out_dir.join(&raw), &text)?;
                let w = wrk::checked(s.name, wrk::parse(&text)?)?;
                let cpu = after.since(before);
                println!(
                    "    {:.0} req/s, p50 {}, p99 {}, {} requests, CPU {} user + {} sys ticks",
                    w.rps,
                    fmt_latency(w.p50_us),
                    fmt_latency(w.p99_us),
                    w.requests,
                    cpu.user,
                    cpu.system
                );
                Ok((w, cpu))
            })?;
            let step = format!("round {index}/{} handshakes {}", o.rounds, s.name);
            let hs = progress.step(&step, || {
                let before = s.cpu()?;
                let run = handshakes(client_cpu, s.port, o.clients, o.duration)?;
                let after = s.cpu()?;
                let cpu = after.since(before);
                println!(
                    "    {} handshakes in {:.2} s = {:.0}/s, CPU {} user + {} sys ticks",
                    run.connections,
                    run.secs,
                    run.rate(),
                    cpu.user,
                    cpu.system
                );
                Ok((run, cpu))
            })?;
            results.push(RoundResult {
                server: s.name,
                index,
                keepalive: ka.0,
                keepalive_cpu: ka.1,
                keepalive_secs: o.duration as f64,
                raw,
                handshakes: hs.0,
                handshake_cpu: hs.1,
            });
        }
    }
    let commands = commands(args, &servers, &o, pinned_run);
    for s in servers.drain(..) {
        s.stop();
    }
    progress.step("report", || {
        let clk_tck = procfs::clock_ticks_per_sec();
        let summaries = summarize(&results, clk_tck);
        let mut settings = vec![
            ("wrk threads".to_string(), "1".to_string()),
            ("connections".into(), CONNECTIONS.to_string()),
            ("duration".into(), format!("{} s", o.duration)),
            ("rounds".into(), o.rounds.to_string()),
            ("s_time processes".into(), o.clients.to_string()),
            ("server workers".into(), "1".into()),
            ("certificate".into(), "ECDSA P-256, self-signed".into()),
            (
                "load average before/after".into(),
                format!("{load_before} / {}", load_average()),
            ),
            ("wrk".into(), facts::version(Command::new("wrk").arg("-v"))),
            (
                "openssl".into(),
                facts::version(Command::new("openssl").arg("version")),
            ),
        ];
        if o.targets.contains(&Target::Nginx) {
            settings.push((
                "nginx".into(),
                facts::version(Command::new(NGINX).arg("-v")),
            ));
        }
        let info = RunInfo {
            when: format!("{date} {time} UTC"),
            commit: commit.clone(),
            cpu_model: facts::cpu_model(),
            kernel: facts::kernel(),
            cores: facts::cores(),
            clk_tck,
            pinned: pinned_run,
            commands,
            settings,
        };
        let json = out_dir.join("tls.json");
        util::write_file(&json, &to_json(&info, &results, &summaries).render())?;
        println!();
        print!("{}", render_text(&rows(&summaries)));
        println!();
        println!("    results: {}", json.display());
        if o.docs {
            let doc = util::workspace_root().join("docs/benchmark.md");
            let old = fs::read_to_string(&doc).ok();
            util::write_file(&doc, &splice(old.as_deref(), &section(&info, &summaries)))?;
            println!("    updated: {}", doc.display());
        }
        Ok(())
    })?;
    println!(
        "==> bench tls done in {}",
        util::fmt_duration(progress.elapsed())
    );
    Ok(())
}

/// Fails early, naming the missing tool, before anything is started.
fn preflight(o: &Options) -> Result<()> {
    let mut needed = vec!["wrk", "openssl", "curl"];
    if o.targets.contains(&Target::Nginx) {
        needed.push("nginx");
    }
    for tool in needed {
        if util::which(tool).is_none() {
            return Err(Error::Missing {
                what: format!("`{tool}` is not installed"),
                hint: "run `cargo xtask peers`".into(),
            });
        }
    }
    Ok(())
}

fn can_pin() -> bool {
    let cpus = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    cpus >= 2 && util::succeeds(Command::new("taskset").args(["-c", SERVER_CPU, "true"]))
}

/// The 1-minute load average (`/proc/loadavg`), `?` when unreadable.
fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn wrk_args(secs: u64, port: u16) -> Vec<String> {
    vec![
        "-t1".into(),
        format!("-c{CONNECTIONS}"),
        format!("-d{secs}s"),
        "--latency".into(),
        format!("https://127.0.0.1:{port}/plaintext"),
    ]
}

fn run_wrk(cpu: Option<&str>, args: &[String]) -> Result<String> {
    let mut cmd = pinned(cpu, "wrk");
    cmd.args(args);
    println!("    $ {}", util::describe(&cmd));
    util::output(&mut cmd)
}

/// Full handshakes completed by parallel `s_time` processes in one run.
#[derive(Debug, Clone, Copy, PartialEq)]
struct HandshakeRun {
    connections: u64,
    /// Wall time from starting the first client to the last one's exit.
    secs: f64,
}

impl HandshakeRun {
    fn rate(&self) -> f64 {
        if self.secs > 0.0 {
            self.connections as f64 / self.secs
        } else {
            0.0
        }
    }
}

fn s_time_args(port: u16, secs: u64) -> Vec<String> {
    vec![
        "s_time".into(),
        "-connect".into(),
        format!("127.0.0.1:{port}"),
        "-new".into(),
        "-time".into(),
        secs.to_string(),
    ]
}

/// Runs `clients` `openssl s_time -new` processes side by side and adds up
/// their connections. `-new` makes every connection a full handshake.
fn handshakes(cpu: Option<&str>, port: u16, clients: u32, secs: u64) -> Result<HandshakeRun> {
    let args = s_time_args(port, secs);
    let mut shown = pinned(cpu, "openssl");
    shown.args(&args);
    println!("    $ {} # x{clients}", util::describe(&shown));
    let start = Instant::now();
    let mut children = Vec::new();
    for _ in 0..clients {
        let mut cmd = pinned(cpu, "openssl");
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            program: util::describe(&cmd),
            source,
        })?;
        children.push(child);
    }
    let mut connections = 0;
    let mut failure = None;
    for mut child in children {
        let mut text = String::new();
        if let Some(mut out) = child.stdout.take() {
            let _ = out.read_to_string(&mut text);
        }
        let status = child
            .wait()
            .map_err(|e| Error::io("waiting for s_time", e))?;
        match s_time_connections(&text) {
            Some(n) if status.success() => connections += n,
            _ => failure = Some(text),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    if let Some(text) = failure {
        return Err(Error::Parse {
            what: "openssl s_time output".into(),
            detail: text.lines().rev().take(3).collect::<Vec<_>>().join(" | "),
        });
    }
    if connections == 0 {
        return Err(Error::Server {
            name: format!("port {port}"),
            detail: "no handshake completed".into(),
        });
    }
    Ok(HandshakeRun { connections, secs })
}

/// `N connections in T real seconds, ...` (the line with whole seconds;
/// the rate is computed from our own wall clock instead).
fn s_time_connections(text: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (n, rest) = l.trim().split_once(" connections in ")?;
        rest.contains("real seconds").then(|| n.parse().ok())?
    })
}

/// The exact commands of the run, with ports spelled `PORT`.
fn commands(
    args: &[String],
    servers: &[TlsServer],
    o: &Options,
    pinned_run: bool,
) -> Vec<(String, String)> {
    let invocation = format!("cargo xtask bench tls {}", args.join(" "));
    let mut out = vec![("this run".to_string(), invocation.trim_end().to_string())];
    out.push((
        "certificate (once)".into(),
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
         -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
         -keyout target/bench/tls/key.pem -out target/bench/tls/cert.pem"
            .into(),
    ));
    if o.targets.contains(&Target::Flare) {
        out.push((
            "build flare".into(),
            "cargo build --profile bench-abort -p flare --example server".into(),
        ));
    }
    let root = format!("{}/", util::workspace_root().display());
    for s in servers {
        let mut cmd = s.command.replace(&root, "");
        // flare's unused plaintext port and the TLS port.
        for word in s.command.split_whitespace() {
            if let Some(p) = word.strip_prefix("127.0.0.1:") {
                cmd = cmd.replace(&format!("127.0.0.1:{p}"), "127.0.0.1:PORT");
            }
        }
        out.push((format!("{} (server)", s.name), cmd));
    }
    let pin = if pinned_run {
        format!("taskset -c {CLIENT_CPU} ")
    } else {
        String::new()
    };
    out.push((
        "keep-alive client".into(),
        format!(
            "{pin}wrk -t1 -c{CONNECTIONS} -d{}s --latency https://127.0.0.1:PORT/plaintext",
            o.duration
        ),
    ));
    out.push((
        format!("handshake clients ({} in parallel)", o.clients),
        format!(
            "{pin}openssl s_time -connect 127.0.0.1:PORT -new -time {}",
            o.duration
        ),
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_and_flags() {
        let o = parse(&[]).expect("parses").expect("not help");
        assert_eq!((o.rounds, o.duration, o.clients), (3, 10, 4));
        assert_eq!(o.targets, [Target::Flare, Target::Nginx]);
        assert!(o.docs);
        let o = parse(&args(&[
            "--quick",
            "--servers",
            "nginx",
            "--clients",
            "2",
            "--no-docs",
        ]))
        .expect("parses")
        .expect("not help");
        assert_eq!((o.rounds, o.duration, o.clients), (1, 3, 2));
        assert_eq!(o.targets, [Target::Nginx]);
        assert!(!o.docs);
        assert!(parse(&args(&["--help"])).expect("help").is_none());
        for bad in [
            &["--rounds"][..],
            &["--clients", "0"],
            &["--duration", "x"],
            &["--servers", "apache"],
            &["--h2"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn s_time_output_is_read() {
        let text = "Collecting connection statistics for 3 seconds\n***\n\n\
                    1971 connections in 1.45s; 1359.31 connections/user sec, bytes read 0\n\
                    1971 connections in 4 real seconds, 0 bytes read per connection\n";
        assert_eq!(s_time_connections(text), Some(1971));
        assert_eq!(s_time_connections("no figures\n"), None);
        let run = HandshakeRun {
            connections: 300,
            secs: 3.0,
        };
        assert_eq!(run.rate(), 100.0);
    }
}

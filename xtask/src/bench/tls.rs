//! `cargo xtask bench tls`: HTTPS against flare's example server and nginx
//! with the same certificate, the same clients and the same run: keep-alive
//! plaintext over TLS (wrk) and full handshakes per second (`openssl
//! s_time -new`, no resumption), each with the server's CPU per unit of work.

use std::fs;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::facts;
use super::json::Json;
use super::procfs::{self, CpuTicks};
use super::publish::RunInfo;
use super::report::{fmt_latency, render_markdown, render_text};
use super::server::{self, free_port, pinned, BODY, NGINX};
use super::signal;
use super::wrk::{self, WrkReport};
use crate::error::{Error, Result};
use crate::util::{self, Progress};

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

/// Start and end markers of the section in `docs/benchmark.md`.
const START: &str = "<!-- bench:tls:start -->";
const END: &str = "<!-- bench:tls:end -->";

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
                let w = checked(s.name, wrk::parse(&text)?)?;
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

/// The certificate both servers present.
struct Cert {
    cert: PathBuf,
    key: PathBuf,
}

/// Makes the ECDSA P-256 certificate once; later runs reuse it.
fn certificate(dir: &Path) -> Result<Cert> {
    util::create_dir(dir)?;
    let c = Cert {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    if c.cert.is_file() && c.key.is_file() {
        println!("    reusing {}", c.cert.display());
        return Ok(c);
    }
    util::output(
        Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "3650",
                "-subj",
                "/CN=localhost",
                "-addext",
                "subjectAltName=DNS:localhost,IP:127.0.0.1",
                "-keyout",
            ])
            .arg(&c.key)
            .arg("-out")
            .arg(&c.cert),
    )?;
    println!("    wrote {}", c.cert.display());
    Ok(c)
}

/// nginx with TLS on one port: one worker, no access log, long keep-alive,
/// TLS 1.2 and 1.3 like flare's default.
fn nginx_config(dir: &Path, cert: &Cert, port: u16) -> String {
    let d = dir.display();
    format!(
        "\
# Generated by `cargo xtask bench tls`; edits are overwritten.
worker_processes 1;
daemon off;
master_process on;
pid {d}/nginx.pid;
error_log {d}/error.log warn;

events {{
    worker_connections 4096;
}}

http {{
    access_log off;
    keepalive_requests 100000;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;

    server {{
        listen 127.0.0.1:{port} ssl;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location /plaintext {{
            default_type text/plain;
            return 200 \"{BODY}\";
        }}
    }}
}}
",
        cert = cert.cert.display(),
        key = cert.key.display(),
    )
}

/// A server under test, listening with TLS on `port`.
struct TlsServer {
    name: &'static str,
    port: u16,
    command: String,
    child: Child,
    log: PathBuf,
}

impl TlsServer {
    fn start_nginx(dir: &Path, cert: &Cert, cpu: Option<&str>) -> Result<TlsServer> {
        util::create_dir(&dir.join("tmp"))?;
        let port = free_port()?;
        let conf = dir.join("nginx.conf");
        util::write_file(&conf, &nginx_config(dir, cert, port))?;
        let mut cmd = pinned(cpu, NGINX);
        cmd.arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"));
        TlsServer::spawn("nginx", cmd, port, dir.join("stderr.log"))
    }

    /// The example server with one worker; its plaintext port is unused.
    fn start_flare(
        binary: &Path,
        cert: &Cert,
        log_dir: &Path,
        cpu: Option<&str>,
    ) -> Result<TlsServer> {
        let plain = free_port()?;
        let port = free_port()?;
        let mut cmd = pinned(cpu, &binary.to_string_lossy());
        cmd.args(["--addr", &format!("127.0.0.1:{plain}"), "--workers", "1"])
            .args(["--tls-addr", &format!("127.0.0.1:{port}"), "--tls-cert"])
            .arg(&cert.cert)
            .arg("--tls-key")
            .arg(&cert.key);
        TlsServer::spawn("flare", cmd, port, log_dir.join("flare-tls-stderr.log"))
    }

    fn spawn(name: &'static str, mut cmd: Command, port: u16, log: PathBuf) -> Result<TlsServer> {
        let command = util::describe(&cmd);
        println!("    $ {command}");
        let err = fs::File::create(&log).map_err(|e| Error::io(log.display().to_string(), e))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            program: command.clone(),
            source,
        })?;
        let mut s = TlsServer {
            name,
            port,
            command,
            child,
            log,
        };
        s.wait_ready()?;
        s.check_answer()?;
        Ok(s)
    }

    fn fail(&self, detail: impl Into<String>) -> Error {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let mut detail = detail.into();
        if !tail.is_empty() {
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            detail = format!("{detail}; stderr: {}", tail.join(" | "));
        }
        Error::Server {
            name: self.name.into(),
            detail,
        }
    }

    fn wait_ready(&mut self) -> Result<()> {
        let addr = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(self.fail(format!("exited before listening ({status})")));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(self.fail(format!("not listening on {addr} after 20 s")));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// One HTTPS `GET /plaintext` (curl, certificate not checked: it is the
    /// same file for both servers) must answer [`BODY`].
    fn check_answer(&self) -> Result<()> {
        let url = format!("https://127.0.0.1:{}/plaintext", self.port);
        let body = util::output(Command::new("curl").args([
            "-sSk",
            "--http1.1",
            "--max-time",
            "5",
            "--fail",
            &url,
        ]))
        .map_err(|e| self.fail(format!("GET {url}: {e}")))?;
        if body == BODY {
            Ok(())
        } else {
            Err(self.fail(format!("GET {url} answered {body:?}, want {BODY:?}")))
        }
    }

    fn cpu(&mut self) -> Result<CpuTicks> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(self.fail(format!("exited during the benchmark ({status})")));
        }
        procfs::tree_cpu(self.child.id())
    }

    fn stop(mut self) {
        self.shutdown();
    }

    /// SIGTERM, then SIGKILL to the whole tree after 5 s.
    fn shutdown(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pids = procfs::tree_pids(self.child.id());
        signal(&[self.child.id()], "TERM");
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        println!("    {} ignored SIGTERM; killing pids {pids:?}", self.name);
        signal(&pids, "KILL");
        let _ = self.child.wait();
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        self.shutdown();
    }
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

/// A run with wrong answers is not a measurement.
fn checked(name: &str, w: WrkReport) -> Result<WrkReport> {
    if w.requests == 0 {
        return Err(Error::Server {
            name: name.into(),
            detail: "wrk completed no requests".into(),
        });
    }
    if w.non_2xx > 0 {
        return Err(Error::Server {
            name: name.into(),
            detail: format!("{} non-2xx responses", w.non_2xx),
        });
    }
    if w.socket_errors > 0 {
        println!(
            "    warning: {} socket errors against {name}",
            w.socket_errors
        );
    }
    Ok(w)
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

/// One round against one server.
struct RoundResult {
    server: &'static str,
    index: u32,
    keepalive: WrkReport,
    keepalive_cpu: CpuTicks,
    raw: String,
    handshakes: HandshakeRun,
    handshake_cpu: CpuTicks,
}

/// Per server over all rounds.
#[derive(Debug, Clone, PartialEq)]
struct Summary {
    server: &'static str,
    rounds: usize,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    /// Server CPU (user + system) per keep-alive request, microseconds.
    cpu_us_per_req: f64,
    handshakes_per_sec: f64,
    /// Server CPU (user + system) per full handshake, microseconds.
    cpu_us_per_handshake: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Medians of the rates; CPU figures as total ticks over total work.
fn summarize(results: &[RoundResult], clk_tck: u64) -> Vec<Summary> {
    let mut names: Vec<&'static str> = Vec::new();
    for r in results {
        if !names.contains(&r.server) {
            names.push(r.server);
        }
    }
    let us_per_tick = 1e6 / clk_tck.max(1) as f64;
    names
        .into_iter()
        .map(|name| {
            let mine: Vec<&RoundResult> = results.iter().filter(|r| r.server == name).collect();
            let ticks = |f: &dyn Fn(&RoundResult) -> CpuTicks| -> f64 {
                mine.iter()
                    .map(|r| {
                        let c = f(r);
                        (c.user + c.system) as f64
                    })
                    .sum::<f64>()
                    * us_per_tick
            };
            let requests: u64 = mine.iter().map(|r| r.keepalive.requests).sum();
            let connections: u64 = mine.iter().map(|r| r.handshakes.connections).sum();
            Summary {
                server: name,
                rounds: mine.len(),
                rps: median(mine.iter().map(|r| r.keepalive.rps).collect()),
                p50_us: median(mine.iter().map(|r| r.keepalive.p50_us).collect()),
                p99_us: median(mine.iter().map(|r| r.keepalive.p99_us).collect()),
                cpu_us_per_req: ticks(&|r| r.keepalive_cpu) / requests.max(1) as f64,
                handshakes_per_sec: median(mine.iter().map(|r| r.handshakes.rate()).collect()),
                cpu_us_per_handshake: ticks(&|r| r.handshake_cpu) / connections.max(1) as f64,
            }
        })
        .collect()
}

/// A header row, one row per server, and a ratio row when nginx is there.
fn rows(summaries: &[Summary]) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "server".to_string(),
        "keep-alive req/s".into(),
        "p50".into(),
        "p99".into(),
        "CPU us/req".into(),
        "handshakes/s".into(),
        "CPU us/handshake".into(),
    ]];
    for s in summaries {
        rows.push(vec![
            s.server.to_string(),
            format!("{:.0}", s.rps),
            fmt_latency(s.p50_us),
            fmt_latency(s.p99_us),
            format!("{:.1}", s.cpu_us_per_req),
            format!("{:.0}", s.handshakes_per_sec),
            format!("{:.0}", s.cpu_us_per_handshake),
        ]);
    }
    let find = |n: &str| summaries.iter().find(|s| s.server == n);
    if let (Some(f), Some(n)) = (find("flare"), find("nginx")) {
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                format!("{:.2}x", a / b)
            } else {
                "-".into()
            }
        };
        rows.push(vec![
            "flare / nginx".into(),
            ratio(f.rps, n.rps),
            ratio(f.p50_us, n.p50_us),
            ratio(f.p99_us, n.p99_us),
            ratio(f.cpu_us_per_req, n.cpu_us_per_req),
            ratio(f.handshakes_per_sec, n.handshakes_per_sec),
            ratio(f.cpu_us_per_handshake, n.cpu_us_per_handshake),
        ]);
    }
    rows
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

fn section(info: &RunInfo, summaries: &[Summary]) -> String {
    let mut s = String::new();
    s.push_str(START);
    s.push_str("\n## HTTPS: flare vs nginx (keep-alive and full handshakes)\n\n");
    s.push_str(&format!(
        "Measured {} at commit `{}` on {} ({} cores), Linux {}; {}.\n\n",
        info.when,
        info.commit,
        info.cpu_model,
        info.cores,
        info.kernel,
        if info.pinned {
            "server pinned to CPU 1, clients to CPU 0"
        } else {
            "not pinned (fewer than 2 CPUs)"
        }
    ));
    s.push_str(&render_markdown(&rows(summaries)));
    s.push_str(
        "\nKeep-alive: wrk over HTTPS (TLS 1.3, HTTP/1.1, no ALPN) to `GET /plaintext`; req/s, p50 \
         and p99 are medians over the rounds. Handshakes: parallel `openssl s_time -new` clients, \
         each connection a full TLS 1.3 handshake (ECDHE X25519, ECDSA P-256 signature, no \
         resumption) and no request; handshakes/s is connections over the wall time, median over \
         the rounds. CPU figures are the server's utime + stime (`/proc/PID/stat`, summed over its \
         processes and threads) across all rounds divided by requests or handshakes. On this \
         2-core machine the clients share CPU 0, so handshakes/s is bounded by the client; CPU \
         us/handshake is the server-side cost. Other work on the machine (see the load average \
         below) is noise both servers share round by round; p99 moves with it most.\n\n",
    );
    s.push_str("Settings: ");
    let settings: Vec<String> = info
        .settings
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    s.push_str(&settings.join(", "));
    s.push_str(".\n\nCommands:\n\n```sh\n");
    for (label, cmd) in &info.commands {
        s.push_str(&format!("# {label}\n{cmd}\n"));
    }
    s.push_str("```\n");
    s.push_str(END);
    s
}

/// Replaces the marked section of `doc`, or appends it.
fn splice(doc: Option<&str>, section: &str) -> String {
    let Some(doc) = doc else {
        return format!("# Benchmarks\n\n{section}\n");
    };
    if let (Some(start), Some(end)) = (doc.find(START), doc.find(END)) {
        if start < end {
            let after = end + END.len();
            return format!("{}{section}{}", &doc[..start], &doc[after..]);
        }
    }
    let sep = if doc.is_empty() || doc.ends_with("\n\n") {
        ""
    } else if doc.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    format!("{doc}{sep}{section}\n")
}

fn to_json(info: &RunInfo, results: &[RoundResult], summaries: &[Summary]) -> Json {
    let pairs = |v: &[(String, String)]| {
        Json::Obj(v.iter().map(|(k, x)| (k.clone(), Json::str(x))).collect())
    };
    Json::obj([
        ("when", Json::str(&info.when)),
        ("commit", Json::str(&info.commit)),
        (
            "machine",
            Json::obj([
                ("cpu", Json::str(&info.cpu_model)),
                ("kernel", Json::str(&info.kernel)),
                ("cores", Json::Int(info.cores as u64)),
                ("clk_tck", Json::Int(info.clk_tck)),
                ("pinned", Json::Bool(info.pinned)),
            ]),
        ),
        ("settings", pairs(&info.settings)),
        ("commands", pairs(&info.commands)),
        (
            "summary",
            Json::Arr(
                summaries
                    .iter()
                    .map(|s| {
                        Json::obj([
                            ("server", Json::str(s.server)),
                            ("rounds", Json::Int(s.rounds as u64)),
                            ("keepalive_rps_median", Json::Num(s.rps)),
                            ("keepalive_p50_us", Json::Num(s.p50_us)),
                            ("keepalive_p99_us", Json::Num(s.p99_us)),
                            ("cpu_us_per_req", Json::Num(s.cpu_us_per_req)),
                            ("handshakes_per_sec_median", Json::Num(s.handshakes_per_sec)),
                            ("cpu_us_per_handshake", Json::Num(s.cpu_us_per_handshake)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "rounds",
            Json::Arr(
                results
                    .iter()
                    .map(|r| {
                        Json::obj([
                            ("server", Json::str(r.server)),
                            ("round", Json::Int(u64::from(r.index))),
                            ("requests", Json::Int(r.keepalive.requests)),
                            ("rps", Json::Num(r.keepalive.rps)),
                            ("p50_us", Json::Num(r.keepalive.p50_us)),
                            ("p99_us", Json::Num(r.keepalive.p99_us)),
                            ("socket_errors", Json::Int(r.keepalive.socket_errors)),
                            ("cpu_user_ticks", Json::Int(r.keepalive_cpu.user)),
                            ("cpu_sys_ticks", Json::Int(r.keepalive_cpu.system)),
                            ("raw", Json::str(&r.raw)),
                            ("handshakes", Json::Int(r.handshakes.connections)),
                            ("handshake_secs", Json::Num(r.handshakes.secs)),
                            ("handshake_cpu_user_ticks", Json::Int(r.handshake_cpu.user)),
                            ("handshake_cpu_sys_ticks", Json::Int(r.handshake_cpu.system)),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
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
    fn nginx_config_serves_tls_with_the_given_certificate() {
        let cert = Cert {
            cert: PathBuf::from("/t/tls/cert.pem"),
            key: PathBuf::from("/t/tls/key.pem"),
        };
        let conf = nginx_config(Path::new("/t/tls/nginx"), &cert, 8443);
        for needle in [
            "worker_processes 1;",
            "access_log off;",
            "keepalive_requests 100000;",
            "listen 127.0.0.1:8443 ssl;",
            "ssl_certificate /t/tls/cert.pem;",
            "ssl_certificate_key /t/tls/key.pem;",
            "ssl_protocols TLSv1.2 TLSv1.3;",
            "return 200 \"Hello, World!\";",
        ] {
            assert!(conf.contains(needle), "missing `{needle}` in\n{conf}");
        }
        assert_eq!(conf.matches('{').count(), conf.matches('}').count());
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

    fn round(server: &'static str, rps: f64, user: u64, hs: u64) -> RoundResult {
        RoundResult {
            server,
            index: 1,
            keepalive: WrkReport {
                requests: (rps * 10.0) as u64,
                rps,
                p50_us: 500.0,
                p99_us: 900.0,
                socket_errors: 0,
                non_2xx: 0,
            },
            keepalive_cpu: CpuTicks { user, system: 0 },
            raw: format!("{server}.txt"),
            handshakes: HandshakeRun {
                connections: hs,
                secs: 10.0,
            },
            handshake_cpu: CpuTicks {
                user: 0,
                system: user,
            },
        }
    }

    #[test]
    fn summaries_take_medians_and_divide_cpu_by_work() {
        let results = [
            round("flare", 100_000.0, 100, 10_000),
            round("nginx", 50_000.0, 100, 5_000),
            round("flare", 120_000.0, 100, 10_000),
            round("nginx", 40_000.0, 100, 5_000),
        ];
        let s = summarize(&results, 100);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].server, "flare");
        assert_eq!(s[0].rps, 110_000.0);
        // 200 ticks = 2 s over 2.2 M requests.
        assert!((s[0].cpu_us_per_req - 2e6 / 2.2e6).abs() < 1e-9);
        assert_eq!(s[0].handshakes_per_sec, 1000.0);
        assert!((s[0].cpu_us_per_handshake - 100.0).abs() < 1e-9);
        assert_eq!(s[1].handshakes_per_sec, 500.0);
        let r = rows(&s);
        assert_eq!(r.len(), 4);
        assert_eq!(r[3][0], "flare / nginx");
        assert_eq!(r[3][1], "2.44x");
        assert_eq!(r[3][5], "2.00x");
    }

    #[test]
    fn splice_replaces_only_the_tls_section() {
        let section = format!("{START}\nnew\n{END}");
        let doc = format!(
            "# Benchmarks\n\n<!-- bench:h1:start -->\nh1\n<!-- bench:h1:end -->\n\n{START}\nold\n{END}\n"
        );
        let once = splice(Some(&doc), &section);
        assert!(once.contains("<!-- bench:h1:start -->\nh1\n<!-- bench:h1:end -->"));
        assert!(once.contains("\nnew\n") && !once.contains("old"));
        assert_eq!(splice(Some(&once), &section), once);
        let fresh = splice(Some("# Benchmarks\n"), &section);
        assert_eq!(fresh, format!("# Benchmarks\n\n{section}\n"));
        assert_eq!(
            splice(None, &section),
            format!("# Benchmarks\n\n{section}\n")
        );
    }
}

//! `cargo xtask bench ws`: WebSocket echo on one pinned worker, flare's
//! example server (`/ws`) against fastwebsockets, tokio-tungstenite and
//! (permessage-deflate) Python `websockets`, all loaded by `benches/wsload`,
//! a client flare did not write, in the shapes of fastwebsockets' benchmark.

use super::spread::Spread;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::facts;
use super::json::Json;
use super::procfs::{self, CpuTicks};
use super::server::{self, pinned};
use crate::error::{Error, Result};
use crate::util::{self, Progress};

const HELP: &str = "\
cargo xtask bench ws [OPTIONS]

WebSocket echo: flare's example server (`/ws`, 1 worker; on epoll, and on
io_uring as `flare-uring`), fastwebsockets
and tokio-tungstenite echo servers (benches/peers, one current-thread tokio
runtime each) and, for permessage-deflate, Python `websockets` (target/venv;
tungstenite has no deflate), each pinned to CPU 1. The load is
benches/wsload (fastwebsockets frames; deflate on tungstenite's frame codec
and flate2), pinned to CPU 0: each connection sends one text message, waits
for its echo, checks it, and repeats, for --seconds or --max-messages.

Shapes (those of fastwebsockets' benchmark, plus deflate):
  small    100 connections x 20 B
  1k       10 connections x 1 KiB
  16k      10 connections x 16 KiB
  deflate  10 connections x 1 KiB JSON-like text, permessage-deflate with
           no context takeover both ways (offered by wsload; a server that
           does not accept it fails the run)

Before measuring, every server echoes known messages (`wsload --check`:
UTF-8 text, every byte value in a 70,000-byte binary, 1 KiB and 64 KiB;
with deflate, replies must come back compressed). Rounds alternate between
servers. Reports messages/s (median +- sigma over rounds), server CPU us per
message (/proc utime+stime around each round, median +- sigma) and flare's
CPU per message as a ratio of each peer's, against the goals: at most 0.7x
fastwebsockets in every plain shape, at most 0.7x the deflate peer.

Writes target/bench/DATE-SHA/ws.json with wsload's raw output, and the
section between <!-- bench:ws:start/end --> in docs/benchmark.md.

Options:
  --quick            1 round of 2 s per shape and server (a smoke test)
  --rounds N         rounds (default 3)
  --seconds S        seconds per round (default 5)
  --max-messages N   messages per round at most (default 10,000,000)
  --shapes LIST      comma list of small,1k,16k,deflate (default all)
  --servers LIST     comma list of flare,flare-uring,fastwebsockets,
                     tokio-tungstenite,python-websockets (default all)
  --no-docs          do not touch docs/benchmark.md
";

const SERVER_CPU: &str = "1";
const CLIENT_CPU: &str = "0";
/// Start and end markers of the ws section in `docs/benchmark.md`.
const START: &str = "<!-- bench:ws:start -->";
const END: &str = "<!-- bench:ws:end -->";
/// flare's CPU per message must be at most this fraction of the peer's.
const GOAL: f64 = 0.7;

/// One load shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    name: &'static str,
    connections: u32,
    size: u32,
    deflate: bool,
}

const SHAPES: [Shape; 4] = [
    Shape {
        name: "small",
        connections: 100,
        size: 20,
        deflate: false,
    },
    Shape {
        name: "1k",
        connections: 10,
        size: 1024,
        deflate: false,
    },
    Shape {
        name: "16k",
        connections: 10,
        size: 16384,
        deflate: false,
    },
    Shape {
        name: "deflate",
        connections: 10,
        size: 1024,
        deflate: true,
    },
];

impl Shape {
    fn label(&self) -> String {
        let size = if self.size >= 1024 {
            format!("{} KiB", self.size / 1024)
        } else {
            format!("{} B", self.size)
        };
        let deflate = if self.deflate { ", deflate" } else { "" };
        format!("{} x {size}{deflate}", self.connections)
    }
}

/// A server under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Flare,
    FlareUring,
    Fastwebsockets,
    Tungstenite,
    PythonWebsockets,
}

const TARGETS: [Target; 5] = [
    Target::Flare,
    Target::FlareUring,
    Target::Fastwebsockets,
    Target::Tungstenite,
    Target::PythonWebsockets,
];

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Flare => "flare",
            Target::FlareUring => "flare-uring",
            Target::Fastwebsockets => "fastwebsockets",
            Target::Tungstenite => "tokio-tungstenite",
            Target::PythonWebsockets => "python-websockets",
        }
    }

    /// Which shapes it runs: tungstenite 0.30 and fastwebsockets have no
    /// permessage-deflate; the Python peer is there for deflate only.
    fn runs(self, shape: &Shape) -> bool {
        match self {
            Target::Flare | Target::FlareUring => true,
            Target::Fastwebsockets | Target::Tungstenite => !shape.deflate,
            Target::PythonWebsockets => shape.deflate,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Options {
    rounds: u32,
    seconds: f64,
    max_messages: u64,
    shapes: Vec<Shape>,
    targets: Vec<Target>,
    docs: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        rounds: 3,
        seconds: 5.0,
        max_messages: 10_000_000,
        shapes: SHAPES.to_vec(),
        targets: TARGETS.to_vec(),
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
                o.seconds = 2.0;
            }
            "--rounds" => o.rounds = number(arg, it.next(), 100)? as u32,
            "--seconds" => o.seconds = number(arg, it.next(), 600)? as f64,
            "--max-messages" => o.max_messages = number(arg, it.next(), 1_000_000_000)?,
            "--shapes" => {
                let list = it.next().map(String::as_str).unwrap_or_default();
                o.shapes = pick(list, &SHAPES, |s| s.name, "shape")?;
            }
            "--servers" => {
                let list = it.next().map(String::as_str).unwrap_or_default();
                o.targets = pick(list, &TARGETS, |t| t.name(), "server")?;
            }
            "--no-docs" => o.docs = false,
            other => return Err(Error::Usage(format!("unknown bench ws flag `{other}`"))),
        }
    }
    Ok(Some(o))
}

/// The members of `all` named in the comma list, in `all`'s order.
fn pick<T: Copy>(list: &str, all: &[T], name: impl Fn(&T) -> &str, what: &str) -> Result<Vec<T>> {
    let names: Vec<&str> = list.split(',').map(str::trim).collect();
    for n in &names {
        if !all.iter().any(|t| name(t) == *n) {
            let known: Vec<&str> = all.iter().map(&name).collect();
            return Err(Error::Usage(format!(
                "unknown {what} `{n}` (have: {})",
                known.join(", ")
            )));
        }
    }
    Ok(all
        .iter()
        .filter(|t| names.contains(&name(t)))
        .copied()
        .collect())
}

/// A server process we started; SIGTERM then SIGKILL on drop.
struct WsServer {
    target: Target,
    port: u16,
    command: String,
    child: Child,
    log: PathBuf,
}

impl WsServer {
    fn spawn(target: Target, mut cmd: Command, port: u16, log: PathBuf) -> Result<WsServer> {
        let command = util::describe(&cmd);
        println!("    $ {command}");
        let err = File::create(&log).map_err(|e| Error::io(log.display().to_string(), e))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            program: command.clone(),
            source,
        })?;
        let mut s = WsServer {
            target,
            port,
            command,
            child,
            log,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = s.child.try_wait() {
                return Err(s.fail(format!("exited before listening ({status})")));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                return Ok(s);
            }
            if Instant::now() >= deadline {
                return Err(s.fail("not listening after 20 s"));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
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
            name: self.target.name().into(),
            detail,
        }
    }

    fn cpu(&mut self) -> Result<CpuTicks> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(self.fail(format!("exited during the benchmark ({status})")));
        }
        procfs::tree_cpu(self.child.id())
    }
}

impl Drop for WsServer {
    fn drop(&mut self) {
        super::stop_tree(self.target.name(), &mut self.child);
    }
}

/// What one wsload run printed.
#[derive(Debug, Clone, PartialEq)]
struct Load {
    messages: u64,
    seconds: f64,
    rate: f64,
    compressed: u64,
    extensions: String,
}

/// Reads `wsload messages=N seconds=S rate=R ... compressed=N extensions="..."`.
fn parse_wsload(text: &str) -> Result<Load> {
    let bad = |detail: &str| Error::Parse {
        what: "wsload output".into(),
        detail: format!("{detail} in {text:?}"),
    };
    let line = text
        .lines()
        .find(|l| l.starts_with("wsload messages="))
        .ok_or_else(|| bad("no `wsload messages=` line"))?;
    let field = |name: &str| -> Option<&str> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    let extensions = line
        .split_once("extensions=")
        .map(|(_, v)| v.trim().trim_matches('"').to_string())
        .unwrap_or_default();
    Ok(Load {
        messages: field("messages")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("messages"))?,
        seconds: field("seconds")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("seconds"))?,
        rate: field("rate")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("rate"))?,
        compressed: field("compressed")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("compressed"))?,
        extensions,
    })
}

struct Round {
    shape: Shape,
    target: Target,
    index: u32,
    load: Load,
    cpu: CpuTicks,
    /// CPU ticks the rest of the machine (neither the server nor wsload
    /// nor xtask) used during the round.
    other: u64,
    raw: String,
}

/// Busy ticks of the whole machine: the `cpu` line of `/proc/stat`, all
/// fields but idle and iowait (USER_HZ, as `/proc/PID/stat`).
fn machine_busy() -> u64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let fields: Vec<u64> = stat
        .lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    fields
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != 3 && i != 4)
        .map(|(_, v)| v)
        .sum()
}

struct Summary {
    shape: Shape,
    target: Target,
    rate: Spread,
    /// Server CPU us per message, per round.
    cpu_us: Spread,
    /// User and system us per message over all rounds.
    user_us: f64,
    sys_us: f64,
}

fn summarize(rounds: &[Round], clk_tck: u64) -> Vec<Summary> {
    let mut out: Vec<Summary> = Vec::new();
    for r in rounds {
        if out
            .iter()
            .any(|s| s.shape == r.shape && s.target == r.target)
        {
            continue;
        }
        let mine: Vec<&Round> = rounds
            .iter()
            .filter(|x| x.shape == r.shape && x.target == r.target)
            .collect();
        let us = |ticks: u64, messages: u64| {
            ticks as f64 * 1e6 / clk_tck.max(1) as f64 / messages.max(1) as f64
        };
        let per_round: Vec<f64> = mine
            .iter()
            .map(|x| us(x.cpu.user + x.cpu.system, x.load.messages))
            .collect();
        let messages: u64 = mine.iter().map(|x| x.load.messages).sum();
        let cpu = mine.iter().fold(CpuTicks::default(), |a, x| a.plus(x.cpu));
        let rates: Vec<f64> = mine.iter().map(|x| x.load.rate).collect();
        out.push(Summary {
            shape: r.shape,
            target: r.target,
            rate: Spread::of(&rates),
            cpu_us: Spread::of(&per_round),
            user_us: us(cpu.user, messages),
            sys_us: us(cpu.system, messages),
        });
    }
    out
}

/// The peer flare is held to in a shape: fastwebsockets, or the deflate peer.
fn goal_peer(shape: &Shape) -> Target {
    if shape.deflate {
        Target::PythonWebsockets
    } else {
        Target::Fastwebsockets
    }
}

/// `ours`' CPU per message over `peer`'s in `shape`, when both ran.
fn ratio(summaries: &[Summary], shape: &Shape, ours: Target, peer: Target) -> Option<f64> {
    let cpu = |t: Target| {
        summaries
            .iter()
            .find(|s| s.shape == *shape && s.target == t)
            .map(|s| s.cpu_us.median)
            .filter(|&c| c > 0.0)
    };
    Some(cpu(ours)? / cpu(peer)?)
}

fn table(summaries: &[Summary], shapes: &[Shape]) -> String {
    let mut s = String::from(
        "| shape | server | messages/s | CPU us/msg | user | sys | flare CPU/msg vs this |\n\
         |---|---|---:|---:|---:|---:|---:|\n",
    );
    for shape in shapes {
        for x in summaries.iter().filter(|x| x.shape == *shape) {
            let vs = if matches!(x.target, Target::Flare | Target::FlareUring) {
                "-".to_string()
            } else {
                ratio(summaries, shape, Target::Flare, x.target)
                    .map_or("-".into(), |r| format!("{r:.2}x"))
            };
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.2} | {:.2} | {vs} |\n",
                shape.label(),
                x.target.name(),
                x.rate.show(0),
                x.cpu_us.show(2),
                x.user_us,
                x.sys_us
            ));
        }
    }
    s
}

/// A goal checked: (shape, flare target, ratio, met).
type GoalResult = (String, &'static str, Option<f64>, bool);

/// One line per shape (and per flare driver measured): the goal, the
/// ratio, met or missed. flare on epoll is the goal; io_uring is shown
/// beside it.
fn goals(summaries: &[Summary], shapes: &[Shape]) -> (String, Vec<GoalResult>) {
    let mut text = String::new();
    let mut list = Vec::new();
    for shape in shapes {
        let peer = goal_peer(shape);
        for ours in [Target::Flare, Target::FlareUring] {
            let ran = summaries
                .iter()
                .any(|s| s.shape == *shape && s.target == ours);
            if ours == Target::FlareUring && !ran {
                continue;
            }
            let r = ratio(summaries, shape, ours, peer);
            let met = r.is_some_and(|r| r <= GOAL);
            let verdict = match r {
                Some(r) if met => format!("{r:.2}x: met"),
                Some(r) => format!("{r:.2}x: **missed**"),
                None => "not measured".into(),
            };
            text.push_str(&format!(
                "- {}: {} CPU/msg at most {GOAL}x {}'s: {verdict}\n",
                shape.label(),
                ours.name(),
                peer.name()
            ));
            list.push((shape.name.to_string(), ours.name(), r, met));
        }
    }
    (text, list)
}

fn wsload_args(shape: &Shape, o: &Options, addr: &str) -> Vec<String> {
    let mut a = vec![
        "--addr".to_string(),
        addr.to_string(),
        "--connections".into(),
        shape.connections.to_string(),
        "--size".into(),
        shape.size.to_string(),
        "--seconds".into(),
        o.seconds.to_string(),
        "--max-messages".into(),
        o.max_messages.to_string(),
    ];
    if shape.deflate {
        a.push("--deflate".into());
    }
    a
}

/// Other processes' CPU during the rounds, as % of one CPU: the mean over
/// all rounds and the busiest round.
fn other_load(rounds: &[Round], clk_tck: u64) -> (f64, f64) {
    let pct =
        |r: &Round| r.other as f64 * 100.0 / clk_tck.max(1) as f64 / r.load.seconds.max(0.001);
    let total: f64 = rounds.iter().map(|r| r.other as f64).sum::<f64>() * 100.0
        / clk_tck.max(1) as f64
        / rounds
            .iter()
            .map(|r| r.load.seconds)
            .sum::<f64>()
            .max(0.001);
    let max = rounds.iter().map(pct).fold(0.0, f64::max);
    (total, max)
}

/// `/proc/loadavg`'s first three fields: other work on the machine.
fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// Builds the peers and wsload (release, benches/peers/target) and returns
/// that release directory.
fn build_peers(o: &Options) -> Result<PathBuf> {
    let root = util::workspace_root();
    let target_dir = root.join("benches/peers/target");
    let mut manifests = vec!["benches/wsload/Cargo.toml"];
    if o.targets
        .iter()
        .any(|t| matches!(t, Target::Fastwebsockets | Target::Tungstenite))
    {
        manifests.push("benches/peers/Cargo.toml");
    }
    for m in manifests {
        let mut cmd = util::cargo();
        cmd.args(["build", "--release", "--manifest-path", m])
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target_dir);
        if m.starts_with("benches/peers") {
            cmd.args(["-p", "ws-fastwebsockets", "-p", "ws-tungstenite"]);
        }
        util::run(&mut cmd)?;
    }
    Ok(target_dir.join("release"))
}

fn start(
    target: Target,
    flare: Option<&Path>,
    peers: &Path,
    cpu: Option<&str>,
    out_dir: &Path,
) -> Result<WsServer> {
    let port = server::free_port()?;
    let addr = format!("127.0.0.1:{port}");
    let cmd = match target {
        Target::Flare | Target::FlareUring => {
            let bin = flare.ok_or_else(|| Error::Missing {
                what: "flare binary".into(),
                hint: "the build step did not run".into(),
            })?;
            let mut c = pinned(cpu, &bin.to_string_lossy());
            c.args(["--addr", &addr, "--workers", "1"]);
            if target == Target::FlareUring {
                c.arg("--io-uring");
            }
            c
        }
        Target::Fastwebsockets | Target::Tungstenite => {
            let bin = peers.join(match target {
                Target::Fastwebsockets => "ws-fastwebsockets",
                _ => "ws-tungstenite",
            });
            let mut c = pinned(cpu, &bin.to_string_lossy());
            c.args(["--addr", &addr]);
            c
        }
        Target::PythonWebsockets => {
            let python = crate::peers::venv_python();
            let script = util::workspace_root().join("benches/peers/ws-python/echo.py");
            let ok = util::succeeds(Command::new(&python).args(["-c", "import websockets"]));
            if !ok {
                return Err(Error::Missing {
                    what: format!("Python `websockets` in {}", python.display()),
                    hint: "run `cargo xtask peers`".into(),
                });
            }
            let mut c = pinned(cpu, &python.to_string_lossy());
            c.arg(script).args(["--addr", &addr]);
            c
        }
    };
    let log = out_dir.join(format!("ws-{}-stderr.log", target.name()));
    WsServer::spawn(target, cmd, port, log)
}

/// Every server echoes known messages exactly, in every mode it is
/// measured in, before anything is measured.
fn integrity(s: &WsServer, wsload: &Path, shapes: &[Shape]) -> Result<()> {
    let modes: Vec<bool> = [false, true]
        .into_iter()
        .filter(|&d| shapes.iter().any(|sh| sh.deflate == d && s.target.runs(sh)))
        .collect();
    for deflate in modes {
        let mut cmd = Command::new(wsload);
        cmd.args(["--addr", &s.addr(), "--check"]);
        if deflate {
            cmd.arg("--deflate");
        }
        let out = util::output(&mut cmd).map_err(|e| s.fail(format!("integrity check: {e}")))?;
        println!("    {}: {}", s.target.name(), out.trim());
    }
    Ok(())
}

/// `cargo xtask bench ws`.
pub fn main(args: &[String]) -> Result<()> {
    let Some(o) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    let cpus = thread::available_parallelism().map_or(1, |n| n.get());
    let pinned_ok =
        cpus >= 2 && util::succeeds(Command::new("taskset").args(["-c", SERVER_CPU, "true"]));
    let (server_cpu, client_cpu) = if pinned_ok {
        (Some(SERVER_CPU), Some(CLIENT_CPU))
    } else {
        println!("warning: fewer than 2 usable CPUs or no taskset; nothing is pinned");
        (None, None)
    };
    let (date, time) = facts::utc_now();
    let commit = facts::commit();
    let out_dir = util::workspace_root()
        .join("target/bench")
        .join(format!("{date}-{}", commit.trim_end_matches("-dirty")));
    util::create_dir(&out_dir)?;
    let has_flare = o
        .targets
        .iter()
        .any(|t| matches!(t, Target::Flare | Target::FlareUring));
    let runs: Vec<(Shape, Target)> = o
        .shapes
        .iter()
        .flat_map(|sh| {
            o.targets
                .iter()
                .filter(|t| t.runs(sh))
                .map(move |&t| (*sh, t))
        })
        .collect();
    let targets: Vec<Target> = TARGETS
        .into_iter()
        .filter(|t| runs.iter().any(|(_, r)| r == t))
        .collect();
    let steps = usize::from(has_flare) + 3 + o.rounds as usize * runs.len() + 1;
    let mut progress = Progress::new(steps);
    let flare: Option<PathBuf> = if has_flare {
        Some(progress.step("build flare", server::build_flare)?)
    } else {
        None
    };
    let peers = progress.step("build peers and wsload", || build_peers(&o))?;
    let wsload = peers.join("wsload");
    let load_before = loadavg();
    let mut servers = progress.step("start servers", || {
        let mut v = Vec::new();
        for &t in &targets {
            let s = start(t, flare.as_deref(), &peers, server_cpu, &out_dir)?;
            println!("    {} listening on {}", t.name(), s.addr());
            v.push(s);
        }
        Ok(v)
    })?;
    progress.step("integrity: known messages echoed", || {
        servers
            .iter()
            .try_for_each(|s| integrity(s, &wsload, &o.shapes))
    })?;
    let mut rounds = Vec::new();
    for index in 1..=o.rounds {
        for &(shape, target) in &runs {
            let Some(s) = servers.iter_mut().find(|s| s.target == target) else {
                continue;
            };
            let name = format!(
                "round {index}/{} {} {}",
                o.rounds,
                shape.name,
                target.name()
            );
            let raw = format!("ws-{}-{}-r{index}.txt", shape.name, target.name());
            let round = progress.step(&name, || {
                let mut cmd = pinned(client_cpu, &wsload.to_string_lossy());
                cmd.args(wsload_args(&shape, &o, &s.addr()));
                let (busy0, own0) = (machine_busy(), procfs::self_and_children());
                let before = s.cpu()?;
                let text = util::output(&mut cmd).map_err(|e| s.fail(e.to_string()))?;
                let after = s.cpu()?;
                let (busy1, own1) = (machine_busy(), procfs::self_and_children());
                util::write_file(&out_dir.join(&raw), &text)?;
                let load = parse_wsload(&text)?;
                if shape.deflate && load.compressed != load.messages {
                    return Err(s.fail(format!(
                        "{} of {} deflate replies came back uncompressed",
                        load.messages - load.compressed,
                        load.messages
                    )));
                }
                let cpu = after.since(before);
                let other = (busy1.saturating_sub(busy0))
                    .saturating_sub(cpu.user + cpu.system)
                    .saturating_sub(own1.saturating_sub(own0));
                println!(
                    "    {:.0} msg/s, {} messages in {:.2} s, CPU {} user + {} sys ticks; \
                     other processes {other} ticks",
                    load.rate, load.messages, load.seconds, cpu.user, cpu.system
                );
                Ok(Round {
                    shape,
                    target,
                    index,
                    load,
                    cpu,
                    other,
                    raw: raw.clone(),
                })
            })?;
            rounds.push(round);
        }
    }
    let load_after = loadavg();
    let commands: Vec<(String, String)> = {
        let root = format!("{}/", util::workspace_root().display());
        let mut c = vec![(
            "this run".to_string(),
            format!("cargo xtask bench ws {}", args.join(" "))
                .trim_end()
                .to_string(),
        )];
        for s in &servers {
            c.push((
                format!("{} (server)", s.target.name()),
                s.command
                    .replace(&root, "")
                    .replace(&s.port.to_string(), "PORT"),
            ));
        }
        let pin = if pinned_ok {
            format!("taskset -c {CLIENT_CPU} ")
        } else {
            String::new()
        };
        for shape in &o.shapes {
            c.push((
                format!("client, {}", shape.label()),
                format!(
                    "{pin}benches/peers/target/release/wsload {}",
                    wsload_args(shape, &o, "127.0.0.1:PORT").join(" ")
                ),
            ));
        }
        c
    };
    servers.clear();
    progress.step("report", || {
        let clk = procfs::clock_ticks_per_sec();
        let summaries = summarize(&rounds, clk);
        let t = table(&summaries, &o.shapes);
        let (goal_text, goal_list) = goals(&summaries, &o.shapes);
        println!();
        print!("{t}");
        println!();
        print!("{goal_text}");
        let (mean, max) = other_load(&rounds, clk);
        println!(
            "    other processes used {mean:.0}% of a CPU during the rounds on average, \
             {max:.0}% at most (load average before {load_before}, after {load_after})"
        );
        let when = format!("{date} {time} UTC");
        let extensions = |shape: &Shape, target: Target| {
            rounds
                .iter()
                .find(|r| r.shape == *shape && r.target == target)
                .map(|r| r.load.extensions.clone())
                .unwrap_or_default()
        };
        let json = Json::obj([
            ("when", Json::str(&when)),
            ("commit", Json::str(&commit)),
            ("cpu", Json::str(facts::cpu_model())),
            ("kernel", Json::str(facts::kernel())),
            ("pinned", Json::Bool(pinned_ok)),
            ("clk_tck", Json::Int(clk)),
            ("seconds_per_round", Json::Num(o.seconds)),
            ("loadavg_before", Json::str(&load_before)),
            ("loadavg_after", Json::str(&load_after)),
            (
                "commands",
                Json::Obj(
                    commands
                        .iter()
                        .map(|(k, v)| (k.clone(), Json::str(v)))
                        .collect(),
                ),
            ),
            (
                "summary",
                Json::Arr(
                    summaries
                        .iter()
                        .map(|s| {
                            Json::obj([
                                ("shape", Json::str(s.shape.name)),
                                ("server", Json::str(s.target.name())),
                                ("rate_median", Json::Num(s.rate.median)),
                                ("rate_sigma", Json::Num(s.rate.sigma)),
                                ("cpu_us_per_msg_median", Json::Num(s.cpu_us.median)),
                                ("cpu_us_per_msg_sigma", Json::Num(s.cpu_us.sigma)),
                                ("cpu_user_us_per_msg", Json::Num(s.user_us)),
                                ("cpu_sys_us_per_msg", Json::Num(s.sys_us)),
                                ("extensions", Json::str(extensions(&s.shape, s.target))),
                            ])
                        })
                        .collect(),
                ),
            ),
            (
                "goals",
                Json::Arr(
                    goal_list
                        .iter()
                        .map(|(shape, ours, r, met)| {
                            Json::obj([
                                ("shape", Json::str(shape)),
                                ("server", Json::str(*ours)),
                                ("ratio", r.map_or(Json::Null, Json::Num)),
                                ("met", Json::Bool(*met)),
                            ])
                        })
                        .collect(),
                ),
            ),
            (
                "rounds",
                Json::Arr(
                    rounds
                        .iter()
                        .map(|r| {
                            Json::obj([
                                ("shape", Json::str(r.shape.name)),
                                ("server", Json::str(r.target.name())),
                                ("round", Json::Int(u64::from(r.index))),
                                ("messages", Json::Int(r.load.messages)),
                                ("seconds", Json::Num(r.load.seconds)),
                                ("rate", Json::Num(r.load.rate)),
                                ("cpu_user_ticks", Json::Int(r.cpu.user)),
                                ("cpu_sys_ticks", Json::Int(r.cpu.system)),
                                ("other_ticks", Json::Int(r.other)),
                                ("raw", Json::str(&r.raw)),
                            ])
                        })
                        .collect(),
                ),
            ),
        ]);
        let path = out_dir.join("ws.json");
        util::write_file(&path, &json.render())?;
        println!("    results: {}", path.display());
        if o.docs {
            let info = DocInfo {
                when: &when,
                commit: &commit,
                pinned: pinned_ok,
                other: other_load(&rounds, clk),
                rounds: o.rounds,
                seconds: o.seconds,
            };
            let sec = section(&info, &t, &goal_text, &commands, &summaries, &o.shapes);
            let doc = util::workspace_root().join("docs/benchmark.md");
            let old = fs::read_to_string(&doc).ok();
            util::write_file(
                &doc,
                &super::publish::splice_marked(old.as_deref(), START, END, &sec),
            )?;
            println!("    updated: {}", doc.display());
        }
        Ok(())
    })?;
    println!(
        "==> bench ws done in {}",
        util::fmt_duration(progress.elapsed())
    );
    Ok(())
}

struct DocInfo<'a> {
    when: &'a str,
    commit: &'a str,
    pinned: bool,
    /// Other processes' CPU during the rounds, % of one CPU: mean and max.
    other: (f64, f64),
    rounds: u32,
    seconds: f64,
}

/// The ws section of docs/benchmark.md, markers included.
fn section(
    info: &DocInfo<'_>,
    table: &str,
    goals: &str,
    commands: &[(String, String)],
    summaries: &[Summary],
    shapes: &[Shape],
) -> String {
    let mut s = format!(
        "{START}\n## WebSocket echo: flare vs fastwebsockets, tokio-tungstenite, Python websockets\n\n\
         Measured {} at commit `{}` on {} ({} cores), Linux {}; {}. Other processes (neither \
         the server nor wsload) used {:.0}% of one CPU during the rounds on average and {:.0}% \
         in the busiest round (`/proc/stat` busy time less the server's and wsload's); \
         anything above a few percent means the figures are noisy.\n\n",
        info.when,
        info.commit,
        facts::cpu_model(),
        facts::cores(),
        facts::kernel(),
        if info.pinned {
            "server pinned to CPU 1, wsload to CPU 0"
        } else {
            "not pinned"
        },
        info.other.0,
        info.other.1,
    );
    s.push_str(table);
    s.push_str("\nGoals:\n\n");
    s.push_str(goals);
    let deflate_ext: Vec<String> = shapes
        .iter()
        .filter(|sh| sh.deflate)
        .flat_map(|sh| summaries.iter().filter(move |x| x.shape == *sh))
        .map(|x| x.target.name().to_string())
        .collect();
    s.push_str(&format!(
        "\nEach connection keeps one text message in flight (send, wait for the echo, check it \
         byte for byte, repeat) for {} s per round, {} rounds alternating servers, 1 server \
         worker (one current-thread tokio runtime for the Rust peers, one asyncio loop for \
         Python). messages/s and CPU us/msg are the median ± sample sigma over the rounds; CPU \
         is the server's utime+stime (`/proc/PID/stat`, all threads) around each round divided \
         by the echoes completed; user and sys are over all rounds. The client is \
         `benches/wsload` (fastwebsockets frames; the handshake written out so it can offer \
         `permessage-deflate; server_no_context_takeover; client_no_context_takeover` and \
         check the answer). tungstenite 0.30 (so tokio-tungstenite) and fastwebsockets have \
         no permessage-deflate, so the deflate shape's peer is Python `websockets` \
         (`compression=\"deflate\"`); every deflate reply ({}) had to come back compressed. \
         `flare-uring` is the same binary with `--io-uring`; the goals are for flare on epoll, \
         the default, with io_uring shown beside them. \
         Before measuring, each server echoed known text (UTF-8), binary (every byte value, \
         70,000 bytes) and 1 KiB and 64 KiB messages exactly.\n\nCommands:\n\n```sh\n",
        info.seconds,
        info.rounds,
        deflate_ext.join(", ")
    ));
    for (label, cmd) in commands {
        s.push_str(&format!("# {label}\n{cmd}\n"));
    }
    s.push_str("```\n");
    s.push_str(END);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wsload_output_is_read() {
        let text = "wsload messages=46328 seconds=1.005 rate=46098.7 connections=100 size=20 \
                    deflate=true compressed=46328 extensions=\"permessage-deflate; \
                    server_no_context_takeover\"\n";
        let l = parse_wsload(text).expect("parses");
        assert_eq!((l.messages, l.compressed), (46328, 46328));
        assert!((l.rate - 46098.7).abs() < 1e-9 && (l.seconds - 1.005).abs() < 1e-9);
        assert_eq!(
            l.extensions,
            "permessage-deflate; server_no_context_takeover"
        );
        assert!(parse_wsload("nothing").is_err());
    }

    #[test]
    fn options() {
        let o = parse(&[]).expect("parses").expect("not help");
        assert_eq!((o.rounds, o.shapes.len(), o.targets.len()), (3, 4, 5));
        let q = parse(&[
            "--quick".into(),
            "--shapes".into(),
            "deflate,small".into(),
            "--servers".into(),
            "flare".into(),
        ])
        .expect("parses")
        .expect("not help");
        assert_eq!(q.rounds, 1);
        let names: Vec<&str> = q.shapes.iter().map(|s| s.name).collect();
        assert_eq!(names, ["small", "deflate"]);
        assert_eq!(q.targets, [Target::Flare]);
        assert!(parse(&["--shapes".into(), "huge".into()]).is_err());
        assert!(parse(&["--rounds".into(), "0".into()]).is_err());
    }

    #[test]
    fn spread_and_ratio() {
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert_eq!(s.median, 2.0);
        assert!((s.sigma - 1.0).abs() < 1e-12);
        assert_eq!(Spread::of(&[4.0]).sigma, 0.0);
        let shape = SHAPES[0];
        let mk = |target, c| Summary {
            shape,
            target,
            rate: Spread::default(),
            cpu_us: Spread {
                median: c,
                sigma: 0.0,
            },
            user_us: 0.0,
            sys_us: 0.0,
        };
        let v = [mk(Target::Flare, 3.0), mk(Target::Fastwebsockets, 6.0)];
        assert_eq!(
            ratio(&v, &shape, Target::Flare, Target::Fastwebsockets),
            Some(0.5)
        );
        let (text, list) = goals(&v, &[shape]);
        assert!(text.contains("0.50x: met"), "{text}");
        assert!(list[0].3 && list.len() == 1);
        assert!(table(&v, &[shape]).contains("| 100 x 20 B | fastwebsockets |"));
    }

    #[test]
    fn machine_and_own_cpu_are_read() {
        assert!(machine_busy() > 0);
        // Our own stat line parses (the sum may still be 0 this early).
        let stat = fs::read_to_string("/proc/self/stat").expect("stat");
        assert!(stat.rfind(')').is_some());
        let _ = procfs::self_and_children();
    }

    #[test]
    fn peers_run_their_shapes() {
        let deflate = SHAPES[3];
        assert!(Target::Flare.runs(&deflate) && Target::PythonWebsockets.runs(&deflate));
        assert!(!Target::Tungstenite.runs(&deflate) && !Target::PythonWebsockets.runs(&SHAPES[0]));
    }
}

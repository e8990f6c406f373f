//! `cargo xtask bench resp`: the Redis protocol, flare's RESP example
//! (`crates/flare/examples/resp.rs`, one worker) against Debian's
//! single-threaded `redis-server`, both loaded by `redis-benchmark`, a client
//! flare did not write.

use super::spread::Spread;
use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::facts;
use super::json::Json;
use super::procfs::{self, CpuTicks};
use super::server::{self, pinned};
use crate::error::{Error, Result};
use crate::util::{self, Progress};

const HELP: &str = "\
cargo xtask bench resp [OPTIONS]

The Redis protocol: flare's RESP example (`cargo build --release --example
resp`, `--workers 1`) against Debian's redis-server (single-threaded;
`--save \"\" --appendonly no --protected-mode no`), each pinned to CPU 1,
loaded by redis-benchmark pinned to CPU 0: `-t ping_inline`, `ping_mbulk`,
`set` and `get`, one test per run, 50 clients, pipelined (`-P 16`) and not
(`-P 1`), `--csv` output read for requests/s.

Before measuring, both servers must answer PING with PONG and, through
redis-cli, SET then GET a value (spaces and punctuation included) back
exactly; after the rounds, GET of redis-benchmark's key must return a
3-byte value (what its SET test wrote). Rounds alternate between servers. Reports
requests/s (median +- sigma over rounds), server CPU us per request
(/proc utime+stime around each run, median +- sigma; user and sys over all
rounds) and flare/redis ratios, against the goal: flare's CPU per request
at most 0.7x redis-server's in every test.

Writes target/bench/DATE-SHA/resp.json with redis-benchmark's raw output,
and the section between <!-- bench:resp:start/end --> in docs/benchmark.md.

Options:
  --quick            1 round, 100,000 pipelined / 20,000 unpipelined requests
  --rounds N         rounds (default 5)
  --requests N       requests per pipelined (-P 16) run (default 1,000,000)
  --requests-p1 N    requests per unpipelined (-P 1) run (default 100,000)
  --clients N        redis-benchmark -c (default 50)
  --tests LIST       comma list of ping_inline,ping_mbulk,set,get (default all)
  --pipelines LIST   comma list of 16,1 (default both)
  --servers LIST     comma list of flare,redis (default both)
  --flare-bin PATH   use this resp binary instead of building one (e.g. built
                     from a clean checkout of a commit while the tree is
                     being edited); the report names it
  --no-docs          do not touch docs/benchmark.md
";

const SERVER_CPU: &str = "1";
const CLIENT_CPU: &str = "0";
const START: &str = "<!-- bench:resp:start -->";
const END: &str = "<!-- bench:resp:end -->";
/// flare's CPU per request must be at most this fraction of redis-server's.
const GOAL: f64 = 0.7;
/// Debian's binaries.
const REDIS_SERVER: &str = "redis-server";
const REDIS_BENCHMARK: &str = "redis-benchmark";
const REDIS_CLI: &str = "redis-cli";

/// A redis-benchmark test: its `-t` name and the name its CSV prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Test {
    arg: &'static str,
    csv: &'static str,
}

const TESTS: [Test; 4] = [
    Test {
        arg: "ping_inline",
        csv: "PING_INLINE",
    },
    Test {
        arg: "ping_mbulk",
        csv: "PING_MBULK",
    },
    Test {
        arg: "set",
        csv: "SET",
    },
    Test {
        arg: "get",
        csv: "GET",
    },
];

const PIPELINES: [u32; 2] = [16, 1];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Flare,
    Redis,
}

const TARGETS: [Target; 2] = [Target::Flare, Target::Redis];

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Flare => "flare",
            Target::Redis => "redis",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Options {
    rounds: u32,
    requests_p16: u64,
    requests_p1: u64,
    clients: u32,
    tests: Vec<Test>,
    pipelines: Vec<u32>,
    targets: Vec<Target>,
    flare_bin: Option<PathBuf>,
    docs: bool,
}

impl Options {
    fn requests(&self, pipeline: u32) -> u64 {
        if pipeline > 1 {
            self.requests_p16
        } else {
            self.requests_p1
        }
    }
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        rounds: 5,
        requests_p16: 1_000_000,
        requests_p1: 100_000,
        clients: 50,
        tests: TESTS.to_vec(),
        pipelines: PIPELINES.to_vec(),
        targets: TARGETS.to_vec(),
        flare_bin: None,
        docs: true,
    };
    let mut it = args.iter();
    let number = |flag: &str, v: Option<&String>, max: u64| -> Result<u64> {
        v.and_then(|v| v.replace([',', '_'], "").parse::<u64>().ok())
            .filter(|&n| n > 0 && n <= max)
            .ok_or_else(|| Error::Usage(format!("{flag} wants a number from 1 to {max}")))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => {
                o.rounds = 1;
                o.requests_p16 = 100_000;
                o.requests_p1 = 20_000;
            }
            "--rounds" => o.rounds = number(arg, it.next(), 100)? as u32,
            "--requests" => o.requests_p16 = number(arg, it.next(), 1_000_000_000)?,
            "--requests-p1" => o.requests_p1 = number(arg, it.next(), 1_000_000_000)?,
            "--clients" => o.clients = number(arg, it.next(), 10_000)? as u32,
            "--tests" => {
                let list = it.next().map(String::as_str).unwrap_or_default();
                o.tests = pick(list, &TESTS, |t| t.arg.to_string(), "test")?;
            }
            "--pipelines" => {
                let list = it.next().map(String::as_str).unwrap_or_default();
                o.pipelines = pick(list, &PIPELINES, u32::to_string, "pipeline")?;
            }
            "--servers" => {
                let list = it.next().map(String::as_str).unwrap_or_default();
                o.targets = pick(list, &TARGETS, |t| t.name().to_string(), "server")?;
            }
            "--flare-bin" => {
                let path = it
                    .next()
                    .ok_or_else(|| Error::Usage("--flare-bin wants a path".into()))?;
                o.flare_bin = Some(PathBuf::from(path));
            }
            "--no-docs" => o.docs = false,
            other => return Err(Error::Usage(format!("unknown bench resp flag `{other}`"))),
        }
    }
    Ok(Some(o))
}

/// The members of `all` named in the comma list, in `all`'s order.
fn pick<T: Copy>(list: &str, all: &[T], name: impl Fn(&T) -> String, what: &str) -> Result<Vec<T>> {
    let names: Vec<String> = list.split(',').map(|s| s.trim().to_lowercase()).collect();
    for n in &names {
        if !all.iter().any(|t| name(t) == *n) {
            let known: Vec<String> = all.iter().map(&name).collect();
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
struct RespServer {
    target: Target,
    port: u16,
    command: String,
    child: Child,
    log: PathBuf,
}

impl RespServer {
    fn start(target: Target, flare: Option<&Path>, cpu: Option<&str>, dir: &Path) -> Result<Self> {
        let port = server::free_port()?;
        let cmd = match target {
            Target::Flare => {
                let bin = flare.ok_or_else(|| Error::Missing {
                    what: "flare's resp binary".into(),
                    hint: "the build step did not run".into(),
                })?;
                let mut c = pinned(cpu, &bin.to_string_lossy());
                c.args(["--addr", &format!("127.0.0.1:{port}"), "--workers", "1"]);
                c
            }
            Target::Redis => {
                let mut c = pinned(cpu, REDIS_SERVER);
                c.args(["--port", &port.to_string()])
                    .args(["--bind", "127.0.0.1"])
                    .args(["--save", ""])
                    .args(["--appendonly", "no"])
                    .args(["--protected-mode", "no"])
                    .arg("--dir")
                    .arg(dir);
                c
            }
        };
        let log = dir.join(format!("resp-{}-stderr.log", target.name()));
        let mut cmd = cmd;
        let command = util::describe(&cmd);
        println!("    $ {command}");
        let out = File::create(&log).map_err(|e| Error::io(log.display().to_string(), e))?;
        let err = out
            .try_clone()
            .map_err(|e| Error::io(log.display().to_string(), e))?;
        cmd.stdin(Stdio::null()).stdout(out).stderr(err);
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            program: command.clone(),
            source,
        })?;
        let mut s = RespServer {
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

    fn fail(&self, detail: impl Into<String>) -> Error {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let mut detail = detail.into();
        if !tail.is_empty() {
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            detail = format!("{detail}; output: {}", tail.join(" | "));
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

    /// `redis-cli -h 127.0.0.1 -p PORT ARGS...`, its stdout trimmed of the
    /// final newline.
    fn cli(&self, args: &[&str]) -> Result<String> {
        let mut cmd = Command::new(REDIS_CLI);
        cmd.args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(args);
        let out = util::output(&mut cmd).map_err(|e| self.fail(format!("redis-cli: {e}")))?;
        Ok(out.strip_suffix('\n').unwrap_or(&out).to_string())
    }

    /// `args` must print exactly `want`.
    fn expect(&self, args: &[&str], want: &str) -> Result<()> {
        let got = self.cli(args)?;
        if got == want {
            Ok(())
        } else {
            Err(self.fail(format!(
                "`redis-cli {}` printed {got:?}, want {want:?}",
                args.join(" ")
            )))
        }
    }
}

impl Drop for RespServer {
    fn drop(&mut self) {
        super::stop_tree(self.target.name(), &mut self.child);
    }
}

/// PING, then SET and GET of a value that must come back byte for byte, and
/// GET of a key never set.
fn integrity(s: &RespServer) -> Result<String> {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let key = format!("xtask:bench:resp:{nanos}");
    let value = format!(
        "flare {nanos}: \"quoted\", tab\there, 0123456789 {}",
        "x".repeat(200)
    );
    s.expect(&["PING"], "PONG")?;
    s.expect(&["SET", &key, &value], "OK")?;
    s.expect(&["GET", &key], &value)?;
    s.expect(&["GET", &format!("{key}:never-set")], "")?;
    s.expect(&["DEL", &key], "1")?;
    Ok(format!(
        "PING -> PONG, SET/GET of {} bytes exact, missing key -> nil",
        value.len()
    ))
}

/// requests/s of `test` in redis-benchmark's `--csv` output.
fn parse_csv(text: &str, test: &str) -> Result<f64> {
    let bad = |detail: &str| Error::Parse {
        what: "redis-benchmark --csv output".into(),
        detail: format!("{detail} in {text:?}"),
    };
    let want = format!("\"{test}\"");
    let line = text
        .lines()
        .find(|l| l.split(',').next() == Some(want.as_str()))
        .ok_or_else(|| bad(&format!("no {want} line")))?;
    line.split(',')
        .nth(1)
        .map(|v| v.trim().trim_matches('"'))
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|r| *r > 0.0)
        .ok_or_else(|| bad("no requests/s"))
}

fn benchmark_args(test: &Test, pipeline: u32, o: &Options, port: &str) -> Vec<String> {
    [
        "-h",
        "127.0.0.1",
        "-p",
        port,
        "-t",
        test.arg,
        "-c",
        &o.clients.to_string(),
        "-n",
        &o.requests(pipeline).to_string(),
        "-P",
        &pipeline.to_string(),
        "--csv",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

struct Round {
    test: Test,
    pipeline: u32,
    target: Target,
    index: u32,
    requests: u64,
    rate: f64,
    seconds: f64,
    cpu: CpuTicks,
    /// Ticks the rest of the machine used during the run (neither the
    /// server nor redis-benchmark nor xtask).
    other: u64,
    raw: String,
}

/// Busy ticks of the whole machine: `/proc/stat`'s `cpu` line less idle
/// and iowait.
fn machine_busy() -> u64 {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    stat.lines()
        .find(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse::<u64>().ok())
                .enumerate()
                .filter(|&(i, _)| i != 3 && i != 4)
                .map(|(_, v)| v)
                .sum()
        })
        .unwrap_or(0)
}

struct Summary {
    test: Test,
    pipeline: u32,
    target: Target,
    rate: Spread,
    cpu_us: Spread,
    user_us: f64,
    sys_us: f64,
}

fn summarize(rounds: &[Round], clk_tck: u64) -> Vec<Summary> {
    let mut out: Vec<Summary> = Vec::new();
    for r in rounds {
        let same = |x: &Round| x.test == r.test && x.pipeline == r.pipeline && x.target == r.target;
        if out
            .iter()
            .any(|s| s.test == r.test && s.pipeline == r.pipeline && s.target == r.target)
        {
            continue;
        }
        let mine: Vec<&Round> = rounds.iter().filter(|x| same(x)).collect();
        let us = |ticks: u64, n: u64| ticks as f64 * 1e6 / clk_tck.max(1) as f64 / n.max(1) as f64;
        let per_round: Vec<f64> = mine
            .iter()
            .map(|x| us(x.cpu.user + x.cpu.system, x.requests))
            .collect();
        let requests: u64 = mine.iter().map(|x| x.requests).sum();
        let cpu = mine.iter().fold(CpuTicks::default(), |a, x| a.plus(x.cpu));
        let rates: Vec<f64> = mine.iter().map(|x| x.rate).collect();
        out.push(Summary {
            test: r.test,
            pipeline: r.pipeline,
            target: r.target,
            rate: Spread::of(&rates),
            cpu_us: Spread::of(&per_round),
            user_us: us(cpu.user, requests),
            sys_us: us(cpu.system, requests),
        });
    }
    out
}

fn find<'a>(s: &'a [Summary], test: &Test, pipeline: u32, t: Target) -> Option<&'a Summary> {
    s.iter()
        .find(|x| x.test == *test && x.pipeline == pipeline && x.target == t)
}

/// flare over redis: (CPU per request, requests/s), when both ran.
fn ratios(s: &[Summary], test: &Test, pipeline: u32) -> (Option<f64>, Option<f64>) {
    let f = find(s, test, pipeline, Target::Flare);
    let r = find(s, test, pipeline, Target::Redis);
    match (f, r) {
        (Some(f), Some(r)) => (
            (r.cpu_us.median > 0.0).then(|| f.cpu_us.median / r.cpu_us.median),
            (r.rate.median > 0.0).then(|| f.rate.median / r.rate.median),
        ),
        _ => (None, None),
    }
}

fn ratio_text(r: Option<f64>) -> String {
    r.map_or("-".into(), |r| format!("{r:.2}x"))
}

/// One row per test, pipeline and server.
fn table(s: &[Summary], o: &Options) -> String {
    let mut t = String::from(
        "| test | pipeline | server | requests/s | CPU us/req | user | sys |\n\
         |---|---:|---|---:|---:|---:|---:|\n",
    );
    for &p in &o.pipelines {
        for test in &o.tests {
            for &target in &o.targets {
                if let Some(x) = find(s, test, p, target) {
                    t.push_str(&format!(
                        "| {} | P{p} | {} | {} | {} | {:.3} | {:.3} |\n",
                        test.csv,
                        target.name(),
                        x.rate.show(0),
                        x.cpu_us.show(3),
                        x.user_us,
                        x.sys_us
                    ));
                }
            }
        }
    }
    t
}

/// One row per test and pipeline: the ratios flare/redis.
fn ratio_table(s: &[Summary], o: &Options) -> String {
    let mut t = String::from(
        "| test | pipeline | flare req/s | redis req/s | req/s flare/redis | flare CPU us/req | \
         redis CPU us/req | CPU/req flare/redis |\n|---|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for &p in &o.pipelines {
        for test in &o.tests {
            let f = find(s, test, p, Target::Flare);
            let r = find(s, test, p, Target::Redis);
            let (cpu, rate) = ratios(s, test, p);
            let rps =
                |x: Option<&Summary>| x.map_or("-".into(), |x| format!("{:.0}", x.rate.median));
            let us =
                |x: Option<&Summary>| x.map_or("-".into(), |x| format!("{:.3}", x.cpu_us.median));
            t.push_str(&format!(
                "| {} | P{p} | {} | {} | {} | {} | {} | {} |\n",
                test.csv,
                rps(f),
                rps(r),
                ratio_text(rate),
                us(f),
                us(r),
                ratio_text(cpu)
            ));
        }
    }
    t
}

/// (test, pipeline, CPU ratio, met).
type GoalResult = (String, u32, Option<f64>, bool);

fn goals(s: &[Summary], o: &Options) -> (String, Vec<GoalResult>) {
    let mut text = String::new();
    let mut list = Vec::new();
    for &p in &o.pipelines {
        for test in &o.tests {
            let (r, _) = ratios(s, test, p);
            let met = r.is_some_and(|r| r <= GOAL);
            let verdict = match r {
                Some(r) if met => format!("{r:.2}x: met"),
                Some(r) => format!("{r:.2}x: **missed**"),
                None => "not measured".into(),
            };
            text.push_str(&format!(
                "- {} P{p}: flare CPU/request at most {GOAL}x redis-server's: {verdict}\n",
                test.csv
            ));
            list.push((test.csv.to_string(), p, r, met));
        }
    }
    (text, list)
}

/// Other processes' CPU during the runs, % of one CPU: mean and busiest run.
fn other_load(rounds: &[Round], clk_tck: u64) -> (f64, f64) {
    let clk = clk_tck.max(1) as f64;
    let pct = |r: &Round| r.other as f64 * 100.0 / clk / r.seconds.max(0.001);
    let secs: f64 = rounds.iter().map(|r| r.seconds).sum();
    let total = rounds.iter().map(|r| r.other as f64).sum::<f64>() * 100.0 / clk / secs.max(0.001);
    (total, rounds.iter().map(pct).fold(0.0, f64::max))
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// Builds flare's RESP example (release) and returns the binary.
fn build_flare() -> Result<PathBuf> {
    let source = util::workspace_root().join("crates/flare/examples/resp.rs");
    if !source.is_file() {
        return Err(Error::Missing {
            what: format!("{} does not exist", source.display()),
            hint: "benchmark redis-server alone with `--servers redis`".into(),
        });
    }
    util::run(util::cargo().args(["build", "--release", "-p", "flare", "--example", "resp"]))?;
    let binary = util::target_dir().join("release/examples/resp");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(Error::Missing {
            what: format!("{} after the build", binary.display()),
            hint: "check the build output".into(),
        })
    }
}

fn check_tools(o: &Options) -> Result<()> {
    let mut need = vec![(REDIS_BENCHMARK, "redis-tools"), (REDIS_CLI, "redis-tools")];
    if o.targets.contains(&Target::Redis) {
        need.push((REDIS_SERVER, "redis-server"));
    }
    for (bin, package) in need {
        if util::which(bin).is_none() {
            return Err(Error::MissingPeer {
                peer: format!("{bin} (Debian package {package})"),
                detail: format!("not on PATH; `apt-get install {package}`"),
            });
        }
    }
    Ok(())
}

/// `cargo xtask bench resp`.
pub fn main(args: &[String]) -> Result<()> {
    let Some(o) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    check_tools(&o)?;
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
    let has_flare = o.targets.contains(&Target::Flare);
    let runs: Vec<(u32, Test)> = o
        .pipelines
        .iter()
        .flat_map(|&p| o.tests.iter().map(move |&t| (p, t)))
        .collect();
    let steps = usize::from(has_flare) + 3 + o.rounds as usize * runs.len() * o.targets.len() + 1;
    let mut progress = Progress::new(steps);
    let flare = match (&o.flare_bin, has_flare) {
        (_, false) => None,
        (Some(bin), true) => Some(progress.step("flare's resp binary (given)", || {
            if bin.is_file() {
                Ok(bin.clone())
            } else {
                Err(Error::Missing {
                    what: format!("--flare-bin {}", bin.display()),
                    hint: "build it with `cargo build --release --example resp`".into(),
                })
            }
        })?),
        (None, true) => Some(progress.step("build flare's resp example", build_flare)?),
    };
    let redis_version = facts::version(Command::new(REDIS_SERVER).arg("--version"));
    let bench_version = facts::version(Command::new(REDIS_BENCHMARK).arg("--version"));
    let load_before = loadavg();
    let mut servers = progress.step("start servers", || {
        let mut v = Vec::new();
        for &t in &o.targets {
            let s = RespServer::start(t, flare.as_deref(), server_cpu, &out_dir)?;
            println!("    {} listening on 127.0.0.1:{}", t.name(), s.port);
            v.push(s);
        }
        Ok(v)
    })?;
    progress.step("integrity: PING, SET then GET via redis-cli", || {
        for s in &servers {
            println!("    {}: {}", s.target.name(), integrity(s)?);
        }
        Ok(())
    })?;
    let mut rounds = Vec::new();
    for index in 1..=o.rounds {
        for &(pipeline, test) in &runs {
            for s in servers.iter_mut() {
                let name = format!(
                    "round {index}/{} {} P{pipeline} {}",
                    o.rounds,
                    test.csv,
                    s.target.name()
                );
                let raw = format!(
                    "resp-{}-p{pipeline}-{}-r{index}.csv",
                    test.arg,
                    s.target.name()
                );
                let round = progress.step(&name, || {
                    let mut cmd = pinned(client_cpu, REDIS_BENCHMARK);
                    cmd.args(benchmark_args(&test, pipeline, &o, &s.port.to_string()));
                    let (busy0, own0) = (machine_busy(), procfs::self_and_children());
                    let before = s.cpu()?;
                    let t0 = Instant::now();
                    let text = util::output(&mut cmd).map_err(|e| s.fail(e.to_string()))?;
                    let seconds = t0.elapsed().as_secs_f64();
                    let after = s.cpu()?;
                    let (busy1, own1) = (machine_busy(), procfs::self_and_children());
                    util::write_file(&out_dir.join(&raw), &text)?;
                    let rate = parse_csv(&text, test.csv)?;
                    let cpu = after.since(before);
                    let other = busy1
                        .saturating_sub(busy0)
                        .saturating_sub(cpu.user + cpu.system)
                        .saturating_sub(own1.saturating_sub(own0));
                    println!(
                        "    {rate:.0} req/s, {} requests in {seconds:.2} s, CPU {} user + {} sys \
                         ticks; other processes {other} ticks",
                        o.requests(pipeline),
                        cpu.user,
                        cpu.system
                    );
                    Ok(Round {
                        test,
                        pipeline,
                        target: s.target,
                        index,
                        requests: o.requests(pipeline),
                        rate,
                        seconds,
                        cpu,
                        other,
                        raw: raw.clone(),
                    })
                })?;
                rounds.push(round);
            }
        }
    }
    // redis-benchmark's SET writes a 3-byte value (-d 3, random letters) to
    // `key:__rand_int__` (no -r), which its GET then reads: both servers must
    // hold one.
    if o.tests.iter().any(|t| t.arg == "set") {
        for s in &servers {
            let got = s.cli(&["GET", "key:__rand_int__"])?;
            if got.len() != 3 {
                return Err(s.fail(format!(
                    "GET key:__rand_int__ after redis-benchmark's SET printed {got:?}, \
                     want its 3-byte value"
                )));
            }
            println!("    {}: GET key:__rand_int__ -> {got:?}", s.target.name());
        }
    }
    let load_after = loadavg();
    let commands: Vec<(String, String)> = {
        let root = format!("{}/", util::workspace_root().display());
        let mut c = vec![(
            "this run".to_string(),
            format!("cargo xtask bench resp {}", args.join(" "))
                .trim_end()
                .to_string(),
        )];
        for s in &servers {
            c.push((
                format!("{} (server)", s.target.name()),
                s.command
                    .replace(&format!("{}", out_dir.display()), "DIR")
                    .replace(&root, "")
                    .replace(&s.port.to_string(), "PORT"),
            ));
        }
        let pin = if pinned_ok {
            format!("taskset -c {CLIENT_CPU} ")
        } else {
            String::new()
        };
        let tests: Vec<&str> = o.tests.iter().map(|t| t.arg).collect();
        for &p in &o.pipelines {
            let test = Test {
                arg: "TEST",
                csv: "TEST",
            };
            c.push((
                format!("client, P{p}, one run per TEST in {}", tests.join(" ")),
                format!(
                    "{pin}redis-benchmark {}",
                    benchmark_args(&test, p, &o, "PORT").join(" ")
                ),
            ));
        }
        c
    };
    servers.clear();
    progress.step("report", || {
        let clk = procfs::clock_ticks_per_sec();
        let summaries = summarize(&rounds, clk);
        let t = table(&summaries, &o);
        let rt = ratio_table(&summaries, &o);
        let (goal_text, goal_list) = goals(&summaries, &o);
        println!();
        print!("{t}");
        println!();
        print!("{rt}");
        println!();
        print!("{goal_text}");
        let other = other_load(&rounds, clk);
        println!(
            "    other processes used {:.0}% of a CPU during the runs on average, {:.0}% at \
             most (load average before {load_before}, after {load_after})",
            other.0, other.1
        );
        let when = format!("{date} {time} UTC");
        let json = Json::obj([
            ("when", Json::str(&when)),
            ("commit", Json::str(&commit)),
            ("cpu", Json::str(facts::cpu_model())),
            ("kernel", Json::str(facts::kernel())),
            ("redis_server", Json::str(&redis_version)),
            ("redis_benchmark", Json::str(&bench_version)),
            ("pinned", Json::Bool(pinned_ok)),
            ("clk_tck", Json::Int(clk)),
            ("clients", Json::Int(u64::from(o.clients))),
            ("requests_p16", Json::Int(o.requests_p16)),
            ("requests_p1", Json::Int(o.requests_p1)),
            ("loadavg_before", Json::str(&load_before)),
            ("loadavg_after", Json::str(&load_after)),
            ("other_cpu_pct_mean", Json::Num(other.0)),
            ("other_cpu_pct_max", Json::Num(other.1)),
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
                                ("test", Json::str(s.test.csv)),
                                ("pipeline", Json::Int(u64::from(s.pipeline))),
                                ("server", Json::str(s.target.name())),
                                ("rate_median", Json::Num(s.rate.median)),
                                ("rate_sigma", Json::Num(s.rate.sigma)),
                                ("cpu_us_per_req_median", Json::Num(s.cpu_us.median)),
                                ("cpu_us_per_req_sigma", Json::Num(s.cpu_us.sigma)),
                                ("cpu_user_us_per_req", Json::Num(s.user_us)),
                                ("cpu_sys_us_per_req", Json::Num(s.sys_us)),
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
                        .map(|(test, p, r, met)| {
                            Json::obj([
                                ("test", Json::str(test)),
                                ("pipeline", Json::Int(u64::from(*p))),
                                ("cpu_ratio", r.map_or(Json::Null, Json::Num)),
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
                                ("test", Json::str(r.test.csv)),
                                ("pipeline", Json::Int(u64::from(r.pipeline))),
                                ("server", Json::str(r.target.name())),
                                ("round", Json::Int(u64::from(r.index))),
                                ("requests", Json::Int(r.requests)),
                                ("seconds", Json::Num(r.seconds)),
                                ("rate", Json::Num(r.rate)),
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
        let path = out_dir.join("resp.json");
        util::write_file(&path, &json.render())?;
        println!("    results: {}", path.display());
        if o.docs {
            let info = DocInfo {
                when: &when,
                commit: &commit,
                pinned: pinned_ok,
                other,
                redis: &redis_version,
                bench: &bench_version,
                o: &o,
            };
            let sec = section(&info, &t, &rt, &goal_text, &commands);
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
        "==> bench resp done in {}",
        util::fmt_duration(progress.elapsed())
    );
    Ok(())
}

struct DocInfo<'a> {
    when: &'a str,
    commit: &'a str,
    pinned: bool,
    other: (f64, f64),
    redis: &'a str,
    bench: &'a str,
    o: &'a Options,
}

/// The RESP section of docs/benchmark.md, markers included.
fn section(
    info: &DocInfo<'_>,
    table: &str,
    ratios: &str,
    goals: &str,
    commands: &[(String, String)],
) -> String {
    let mut s = format!(
        "{START}\n## RESP (Redis protocol): flare vs redis-server\n\n\
         Measured {} at commit `{}` on {} ({} cores), Linux {}; {}; redis-server {}, \
         redis-benchmark {}. Other processes (neither the servers nor redis-benchmark) used \
         {:.0}% of one CPU during the runs on average and {:.0}% in the busiest run \
         (`/proc/stat` busy time less the server's and redis-benchmark's); anything above a \
         few percent means the figures are noisy.\n\n",
        info.when,
        info.commit,
        facts::cpu_model(),
        facts::cores(),
        facts::kernel(),
        if info.pinned {
            "server pinned to CPU 1, redis-benchmark to CPU 0"
        } else {
            "not pinned"
        },
        info.redis,
        info.bench,
        info.other.0,
        info.other.1,
    );
    s.push_str(ratios);
    s.push_str("\nGoals:\n\n");
    s.push_str(goals);
    s.push_str("\nPer server:\n\n");
    s.push_str(table);
    s.push_str(&format!(
        "\nOne redis-benchmark run per test, pipeline depth and server, {} clients, {} requests \
         per pipelined (`-P 16`) run and {} per unpipelined (`-P 1`) run, {} rounds alternating \
         servers. requests/s is redis-benchmark's (`--csv`); CPU us/req is the server's \
         utime+stime (`/proc/PID/stat`, all threads) around the run divided by the requests, \
         so it includes the 50 connections' setup and redis-benchmark's initial CONFIG GET; \
         both are the median ± sample sigma over the rounds; user and sys are over all rounds. \
         flare is `crates/flare/examples/resp.rs` (one worker, a 64-shard mutex-guarded \
         keyspace); redis-server runs with no persistence. Before measuring, both servers \
         answered PING and returned a value of over 200 bytes (spaces, quotes, a tab) SET \
         through redis-cli byte for byte, and nil for a missing key; after the rounds both returned a 3-byte value (what \
         redis-benchmark's SET test wrote) for `key:__rand_int__`.\n\nCommands:\n\n```sh\n",
        info.o.clients, info.o.requests_p16, info.o.requests_p1, info.o.rounds,
    ));
    if let Some(bin) = &info.o.flare_bin {
        let at = s.rfind("\n\nCommands:").unwrap_or(s.len());
        s.insert_str(
            at,
            &format!(
                " flare's binary was given (`--flare-bin {}`), not built by this run, so the \
                 commit above is the checkout's and not necessarily the binary's.",
                bin.display()
            ),
        );
    }
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
    fn csv_is_read() {
        let text = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\"\n\
                    \"PING_INLINE\",\"540540.56\",\"1.107\",\"0.096\"\n\
                    \"GET\",\"35945.36\",\"1.131\",\"0.128\"\n";
        assert!((parse_csv(text, "PING_INLINE").expect("ping") - 540540.56).abs() < 1e-6);
        assert!((parse_csv(text, "GET").expect("get") - 35945.36).abs() < 1e-6);
        assert!(parse_csv(text, "SET").is_err());
        assert!(parse_csv("nothing", "GET").is_err());
    }

    #[test]
    fn options() {
        let o = parse(&[]).expect("parses").expect("not help");
        assert_eq!(
            (o.rounds, o.tests.len(), o.pipelines, o.targets.len()),
            (5, 4, vec![16, 1], 2)
        );
        let q = parse(&[
            "--quick".into(),
            "--tests".into(),
            "get,SET".into(),
            "--pipelines".into(),
            "1".into(),
            "--requests".into(),
            "200,000".into(),
        ])
        .expect("parses")
        .expect("not help");
        assert_eq!(
            (q.rounds, q.requests_p16, q.requests_p1),
            (1, 200_000, 20_000)
        );
        let names: Vec<&str> = q.tests.iter().map(|t| t.csv).collect();
        assert_eq!(names, ["SET", "GET"]);
        assert_eq!(q.pipelines, [1]);
        assert!(parse(&["--tests".into(), "incr".into()]).is_err());
        assert!(parse(&["--pipelines".into(), "8".into()]).is_err());
        assert!(parse(&["--rounds".into(), "0".into()]).is_err());
    }

    #[test]
    fn benchmark_command() {
        let o = parse(&[]).expect("parses").expect("not help");
        let a = benchmark_args(&TESTS[2], 16, &o, "6379").join(" ");
        assert_eq!(
            a,
            "-h 127.0.0.1 -p 6379 -t set -c 50 -n 1000000 -P 16 --csv"
        );
        let a = benchmark_args(&TESTS[3], 1, &o, "6379").join(" ");
        assert!(a.contains("-n 100000 -P 1 "), "{a}");
    }

    #[test]
    fn summaries_ratios_and_goals() {
        let o = parse(&[
            "--tests".into(),
            "get".into(),
            "--pipelines".into(),
            "16".into(),
        ])
        .expect("parses")
        .expect("not help");
        let round = |target, ticks, rate| Round {
            test: TESTS[3],
            pipeline: 16,
            target,
            index: 1,
            requests: 1_000_000,
            rate,
            seconds: 2.0,
            cpu: CpuTicks {
                user: ticks,
                system: 0,
            },
            other: 0,
            raw: String::new(),
        };
        // 100 ticks at 100 Hz over 1e6 requests = 1 us/request.
        let rounds = [
            round(Target::Flare, 60, 600_000.0),
            round(Target::Redis, 100, 500_000.0),
        ];
        let s = summarize(&rounds, 100);
        assert_eq!(s.len(), 2);
        let (cpu, rate) = ratios(&s, &TESTS[3], 16);
        assert!((cpu.expect("cpu") - 0.6).abs() < 1e-12);
        assert!((rate.expect("rate") - 1.2).abs() < 1e-12);
        let (text, list) = goals(&s, &o);
        assert!(
            text.contains("GET P16") && text.contains("0.60x: met"),
            "{text}"
        );
        assert!(list.len() == 1 && list[0].3);
        assert!(table(&s, &o).contains("| GET | P16 | flare | 600000 | 0.600 |"));
        assert!(ratio_table(&s, &o).contains("| 1.20x | 0.600 | 1.000 | 0.60x |"));
        let sp = Spread::of(&[3.0, 1.0, 2.0]);
        assert!(sp.median == 2.0 && (sp.sigma - 1.0).abs() < 1e-12);
    }
}

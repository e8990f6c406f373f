//! `cargo xtask bench client`: flare's blocking HTTP client (`flare::client`)
//! against `ureq` and `reqwest::blocking`, the same keep-alive GET loop in each
//! (benches/clients), against one nginx, measuring the *client's* CPU.

use super::spread::Spread;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::facts;
use super::json::Json;
use super::procfs::{self, CpuTicks};
use super::server::{self, pinned, BODY, NGINX};
use crate::error::{Error, Result};
use crate::util::{self, Progress};

const HELP: &str = "\
cargo xtask bench client [OPTIONS]

flare's blocking HTTP client (flare::client::Client) against ureq 3 and
reqwest 0.12 (blocking; rustls), each a binary of benches/clients running
the same loop: one client shared by T threads, N keep-alive GETs of
/plaintext, every response checked (200, body \"Hello, World!\", the HTTP
version asked for; a wrong one fails the run). The server is one nginx
(1 worker, pinned to CPU 1) the bench starts on loopback with a generated
config (`return 200 \"...\"`), plain HTTP/1.1 on one port and
`listen ... ssl http2` with a throwaway CA and certificate on another; the
clients are pinned to CPU 0.

Shapes:
  h1-1    HTTP/1.1, 1 thread
  h1-16   HTTP/1.1, 16 threads sharing one client
  h2-1    HTTP/2 over TLS (ALPN h2), 1 thread; flare and reqwest (ureq
          has no HTTP/2)
  h2-16   HTTP/2 over TLS, 16 threads sharing one client (one connection)

Each client prints `ready` once built and waits; the bench reads its CPU
time (/proc/PID/stat utime+stime, all threads), starts it, reads it again
when it has printed its figures (it waits for stdin to close before
exiting). So client CPU per request covers the connections, the threads
and the requests, not building the client. Rounds alternate between
clients. Reports requests/s and client CPU us per request (median +- sigma
over rounds), nginx's CPU per request for reference, other processes'
CPU, and flare's CPU per request over the best other client's, against the
goal: at most 0.7x in every shape.

Writes target/bench/DATE-SHA/client.json and the section between
<!-- bench:client:start/end --> in docs/benchmark.md.

Options:
  --quick            1 round of 10,000 requests per shape and client
  --rounds N         rounds (default 3)
  --requests N       requests per run (default 100,000)
  --shapes LIST      comma list of h1-1,h1-16,h2-1,h2-16 (default all)
  --clients LIST     comma list of flare,ureq,reqwest (default all)
  --no-docs          do not touch docs/benchmark.md
";

const SERVER_CPU: &str = "1";
const CLIENT_CPU: &str = "0";
const START: &str = "<!-- bench:client:start -->";
const END: &str = "<!-- bench:client:end -->";
/// flare's client CPU per request must be at most this fraction of the best
/// other client's.
const GOAL: f64 = 0.7;

/// One load shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shape {
    name: &'static str,
    threads: u32,
    h2: bool,
}

const SHAPES: [Shape; 4] = [
    Shape {
        name: "h1-1",
        threads: 1,
        h2: false,
    },
    Shape {
        name: "h1-16",
        threads: 16,
        h2: false,
    },
    Shape {
        name: "h2-1",
        threads: 1,
        h2: true,
    },
    Shape {
        name: "h2-16",
        threads: 16,
        h2: true,
    },
];

impl Shape {
    fn label(&self) -> String {
        let proto = if self.h2 {
            "HTTP/2 over TLS"
        } else {
            "HTTP/1.1"
        };
        let t = if self.threads == 1 {
            "1 thread".to_string()
        } else {
            format!("{} threads", self.threads)
        };
        format!("{proto}, {t}")
    }
}

/// A client under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Flare,
    Ureq,
    Reqwest,
}

const TARGETS: [Target; 3] = [Target::Flare, Target::Ureq, Target::Reqwest];

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::Flare => "flare",
            Target::Ureq => "ureq",
            Target::Reqwest => "reqwest",
        }
    }

    fn binary(self) -> String {
        format!("client-{}", self.name())
    }

    /// ureq has no HTTP/2.
    fn runs(self, shape: &Shape) -> bool {
        !(shape.h2 && self == Target::Ureq)
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Options {
    rounds: u32,
    requests: u64,
    shapes: Vec<Shape>,
    targets: Vec<Target>,
    docs: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        rounds: 3,
        requests: 100_000,
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
                o.requests = 10_000;
            }
            "--rounds" => o.rounds = number(arg, it.next(), 100)? as u32,
            "--requests" => o.requests = number(arg, it.next(), 100_000_000)?,
            "--shapes" => {
                let list = it.next().map(String::as_str).unwrap_or_default();
                o.shapes = pick(list, &SHAPES, |s| s.name, "shape")?;
            }
            "--clients" => {
                let list = it.next().map(String::as_str).unwrap_or_default();
                o.targets = pick(list, &TARGETS, |t| t.name(), "client")?;
            }
            "--no-docs" => o.docs = false,
            other => return Err(Error::Usage(format!("unknown bench client flag `{other}`"))),
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

/// The CA and the server certificate signed by it (CA:FALSE, SAN localhost
/// and 127.0.0.1), made once; later runs reuse them.
struct Cert {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

fn certificate(dir: &Path) -> Result<Cert> {
    util::create_dir(dir)?;
    let c = Cert {
        ca: dir.join("ca.pem"),
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    if c.ca.is_file() && c.cert.is_file() && c.key.is_file() {
        println!("    reusing {}", c.cert.display());
        return Ok(c);
    }
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    util::output(
        Command::new("openssl")
            .args(["req", "-x509"])
            .args(ec)
            .args([
                "-days",
                "3650",
                "-subj",
                "/CN=flare bench client CA",
                "-keyout",
            ])
            .arg(dir.join("ca-key.pem"))
            .arg("-out")
            .arg(&c.ca),
    )?;
    let csr = dir.join("server.csr");
    util::output(
        Command::new("openssl")
            .arg("req")
            .args(ec)
            .args(["-subj", "/CN=localhost", "-keyout"])
            .arg(&c.key)
            .arg("-out")
            .arg(&csr),
    )?;
    let ext = dir.join("server.ext");
    util::write_file(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )?;
    util::output(
        Command::new("openssl")
            .args(["x509", "-req", "-days", "3650", "-set_serial", "2", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(&c.ca)
            .arg("-CAkey")
            .arg(dir.join("ca-key.pem"))
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&c.cert),
    )?;
    println!("    wrote {} (CA {})", c.cert.display(), c.ca.display());
    Ok(c)
}

/// nginx: one worker, plain HTTP/1.1 on `plain`, HTTP/2 over TLS on `tls`,
/// both answering `/plaintext` with [`BODY`]; keep-alive connections are never
/// closed for their request count during a run.
fn nginx_config(dir: &Path, cert: &Cert, plain: u16, tls: u16) -> String {
    let location = format!(
        "        keepalive_requests 100000000;
        location /plaintext {{
            default_type text/plain;
            return 200 \"{BODY}\";
        }}
"
    );
    let tls_server = format!(
        "    server {{
        listen 127.0.0.1:{tls} ssl http2;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
{location}    }}
",
        cert = cert.cert.display(),
        key = cert.key.display(),
    );
    server::nginx_config_with(
        "cargo xtask bench client",
        dir,
        1,
        &tls_server,
        &format!("127.0.0.1:{plain}"),
        &location,
    )
}

/// The nginx we started; SIGTERM then SIGKILL on drop.
struct Nginx {
    plain: u16,
    tls: u16,
    command: String,
    child: Child,
    log: PathBuf,
}

impl Nginx {
    fn start(dir: &Path, cert: &Cert, cpu: Option<&str>) -> Result<Nginx> {
        util::create_dir(&dir.join("tmp"))?;
        let (plain, tls) = (server::free_port()?, server::free_port()?);
        let conf = dir.join("nginx.conf");
        util::write_file(&conf, &nginx_config(dir, cert, plain, tls))?;
        let mut cmd = pinned(cpu, NGINX);
        cmd.arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"));
        let command = util::describe(&cmd);
        println!("    $ {command}");
        let log = dir.join("stderr.log");
        let err = File::create(&log).map_err(|e| Error::io(log.display().to_string(), e))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            program: command.clone(),
            source,
        })?;
        let mut n = Nginx {
            plain,
            tls,
            command,
            child,
            log,
        };
        for port in [plain, tls] {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                if let Ok(Some(status)) = n.child.try_wait() {
                    return Err(n.fail(format!("exited before listening ({status})")));
                }
                if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                    break;
                }
                if Instant::now() >= deadline {
                    return Err(n.fail(format!("not listening on {addr} after 20 s")));
                }
                thread::sleep(Duration::from_millis(50));
            }
        }
        Ok(n)
    }

    fn url(&self, shape: &Shape) -> String {
        if shape.h2 {
            format!("https://127.0.0.1:{}/plaintext", self.tls)
        } else {
            format!("http://127.0.0.1:{}/plaintext", self.plain)
        }
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
            name: "nginx".into(),
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

impl Drop for Nginx {
    fn drop(&mut self) {
        super::stop_tree("nginx", &mut self.child);
    }
}

/// The arguments of a client binary for `shape`.
fn client_args(shape: &Shape, requests: u64, url: &str, ca: &str) -> Vec<String> {
    let mut a = vec![
        "--url".to_string(),
        url.to_string(),
        "--requests".into(),
        requests.to_string(),
        "--threads".into(),
        shape.threads.to_string(),
    ];
    if shape.h2 {
        a.extend(["--h2".to_string(), "--ca".into(), ca.to_string()]);
    }
    a
}

/// What one client run printed.
#[derive(Debug, Clone, PartialEq)]
struct Load {
    requests: u64,
    seconds: f64,
    rate: f64,
    version: String,
}

/// Reads `clients client=NAME requests=N threads=T seconds=S rate=R version=V`.
fn parse_load(line: &str) -> Result<Load> {
    let bad = |detail: &str| Error::Parse {
        what: "client output".into(),
        detail: format!("{detail} in {line:?}"),
    };
    if !line.starts_with("clients ") {
        return Err(bad("no `clients ` line"));
    }
    let field = |name: &str| -> Option<&str> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
    };
    Ok(Load {
        requests: field("requests")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("requests"))?,
        seconds: field("seconds")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("seconds"))?,
        rate: field("rate")
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| bad("rate"))?,
        version: field("version").unwrap_or_default().to_string(),
    })
}

/// A client process in its ready/go/stay protocol.
struct Running {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    log: PathBuf,
}

impl Running {
    fn spawn(name: String, mut cmd: Command, log: PathBuf) -> Result<Running> {
        let err = File::create(&log).map_err(|e| Error::io(log.display().to_string(), e))?;
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(err);
        let program = util::describe(&cmd);
        let mut child = cmd
            .spawn()
            .map_err(|source| Error::Spawn { program, source })?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(BufReader::new);
        let Some(stdout) = stdout else {
            return Err(Error::Server {
                name,
                detail: "no stdout pipe".into(),
            });
        };
        Ok(Running {
            name,
            child,
            stdin,
            stdout,
            log,
        })
    }

    /// The next line of stdout, or the client's stderr as the error.
    fn line(&mut self) -> Result<String> {
        let mut l = String::new();
        let n = self.stdout.read_line(&mut l).unwrap_or(0);
        if n == 0 {
            let _ = self.child.wait();
            return Err(self.fail("exited early"));
        }
        Ok(l.trim_end().to_string())
    }

    fn fail(&self, detail: &str) -> Error {
        let log = fs::read_to_string(&self.log).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(5).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        Error::Server {
            name: self.name.clone(),
            detail: format!("{detail}; stderr: {}", tail.join(" | ")),
        }
    }

    fn go(&mut self) -> Result<()> {
        let ok = self
            .stdin
            .as_mut()
            .is_some_and(|s| s.write_all(b"go\n").and_then(|()| s.flush()).is_ok());
        if ok {
            Ok(())
        } else {
            Err(self.fail("could not start it (stdin)"))
        }
    }

    fn cpu(&self) -> Result<CpuTicks> {
        procfs::tree_cpu(self.child.id())
    }

    /// Closes stdin and waits; a failure status is an error.
    fn finish(mut self) -> Result<()> {
        drop(self.stdin.take());
        let mut rest = String::new();
        let _ = self.stdout.read_to_string(&mut rest);
        match self.child.wait() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(self.fail(&format!("exited with {s}"))),
            Err(e) => Err(self.fail(&format!("wait: {e}"))),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Round {
    shape: Shape,
    target: Target,
    index: u32,
    load: Load,
    cpu: CpuTicks,
    nginx: CpuTicks,
    /// CPU ticks the rest of the machine (neither the client, nginx nor
    /// xtask) used during the round.
    other: u64,
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

/// xtask's own CPU: utime and stime of `/proc/self/stat`.
fn own_cpu() -> u64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rfind(')').map_or("", |i| &stat[i + 1..]);
    rest.split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
}

/// `/proc/loadavg`'s first three fields.
fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

struct Summary {
    shape: Shape,
    target: Target,
    rate: Spread,
    /// Client CPU us per request, per round.
    cpu_us: Spread,
    /// User and system us per request over all rounds.
    user_us: f64,
    sys_us: f64,
    /// nginx's CPU us per request over all rounds (reference).
    nginx_us: f64,
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
        let us = |ticks: u64, n: u64| ticks as f64 * 1e6 / clk_tck.max(1) as f64 / n.max(1) as f64;
        let per_round: Vec<f64> = mine
            .iter()
            .map(|x| us(x.cpu.user + x.cpu.system, x.load.requests))
            .collect();
        let n: u64 = mine.iter().map(|x| x.load.requests).sum();
        let cpu = mine.iter().fold(CpuTicks::default(), |a, x| a.plus(x.cpu));
        let ng = mine
            .iter()
            .fold(CpuTicks::default(), |a, x| a.plus(x.nginx));
        let rates: Vec<f64> = mine.iter().map(|x| x.load.rate).collect();
        out.push(Summary {
            shape: r.shape,
            target: r.target,
            rate: Spread::of(&rates),
            cpu_us: Spread::of(&per_round),
            user_us: us(cpu.user, n),
            sys_us: us(cpu.system, n),
            nginx_us: us(ng.user + ng.system, n),
        });
    }
    out
}

/// The other client with the lowest CPU per request in `shape`.
fn best_other<'a>(summaries: &'a [Summary], shape: &Shape) -> Option<&'a Summary> {
    summaries
        .iter()
        .filter(|s| s.shape == *shape && s.target != Target::Flare && s.cpu_us.median > 0.0)
        .min_by(|a, b| a.cpu_us.median.total_cmp(&b.cpu_us.median))
}

/// flare's CPU per request over `peer`'s in `shape`.
fn ratio(summaries: &[Summary], shape: &Shape, peer: Target) -> Option<f64> {
    let cpu = |t: Target| {
        summaries
            .iter()
            .find(|s| s.shape == *shape && s.target == t)
            .map(|s| s.cpu_us.median)
            .filter(|&c| c > 0.0)
    };
    Some(cpu(Target::Flare)? / cpu(peer)?)
}

fn table(summaries: &[Summary], shapes: &[Shape]) -> String {
    let mut s = String::from(
        "| shape | client | requests/s | client CPU us/req | user | sys | nginx CPU us/req | flare CPU/req vs this |\n\
         |---|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for shape in shapes {
        for x in summaries.iter().filter(|x| x.shape == *shape) {
            let vs = if x.target == Target::Flare {
                "-".to_string()
            } else {
                ratio(summaries, shape, x.target).map_or("-".into(), |r| format!("{r:.2}x"))
            };
            s.push_str(&format!(
                "| {} | {} | {} | {} | {:.2} | {:.2} | {:.2} | {vs} |\n",
                shape.label(),
                x.target.name(),
                x.rate.show(0),
                x.cpu_us.show(2),
                x.user_us,
                x.sys_us,
                x.nginx_us
            ));
        }
    }
    s
}

/// A goal checked: (shape, best other client, ratio, met).
type GoalResult = (String, String, Option<f64>, bool);

fn goals(summaries: &[Summary], shapes: &[Shape]) -> (String, Vec<GoalResult>) {
    let mut text = String::new();
    let mut list = Vec::new();
    for shape in shapes {
        let best = best_other(summaries, shape);
        let peer = best.map_or("the best other client", |b| b.target.name());
        let r = best.and_then(|b| ratio(summaries, shape, b.target));
        let met = r.is_some_and(|r| r <= GOAL);
        let verdict = match r {
            Some(r) if met => format!("{r:.2}x: met"),
            Some(r) => format!("{r:.2}x: **missed**"),
            None => "not measured".into(),
        };
        text.push_str(&format!(
            "- {}: flare CPU/req at most {GOAL}x the best other ({peer}): {verdict}\n",
            shape.label()
        ));
        list.push((shape.name.to_string(), peer.to_string(), r, met));
    }
    (text, list)
}

/// Other processes' CPU during the rounds, as % of one CPU: mean and max.
fn other_load(rounds: &[Round], clk_tck: u64) -> (f64, f64) {
    let clk = clk_tck.max(1) as f64;
    let pct = |r: &Round| r.other as f64 * 100.0 / clk / r.load.seconds.max(0.001);
    let secs: f64 = rounds
        .iter()
        .map(|r| r.load.seconds)
        .sum::<f64>()
        .max(0.001);
    let total = rounds.iter().map(|r| r.other as f64).sum::<f64>() * 100.0 / clk / secs;
    (total, rounds.iter().map(pct).fold(0.0, f64::max))
}

/// Builds benches/clients (release, once) and returns its release directory.
fn build_clients() -> Result<PathBuf> {
    let root = util::workspace_root();
    let target_dir = root.join("benches/clients/target");
    let mut cmd = util::cargo();
    cmd.args([
        "build",
        "--release",
        "--manifest-path",
        "benches/clients/Cargo.toml",
    ])
    .current_dir(&root)
    .env("CARGO_TARGET_DIR", &target_dir);
    util::run(&mut cmd)?;
    Ok(target_dir.join("release"))
}

/// One measured run: the client's CPU between `ready` and its figures.
fn measure(
    bin: &Path,
    args: &[String],
    cpu: Option<&str>,
    nginx: &mut Nginx,
    log: PathBuf,
    name: String,
) -> Result<(Load, CpuTicks, CpuTicks, u64)> {
    let mut cmd = pinned(cpu, &bin.to_string_lossy());
    cmd.args(args);
    let mut c = Running::spawn(name, cmd, log)?;
    let ready = c.line()?;
    if ready != "ready" {
        return Err(c.fail(&format!("said {ready:?}, want `ready`")));
    }
    let (busy0, own0, ng0, cpu0) = (machine_busy(), own_cpu(), nginx.cpu()?, c.cpu()?);
    c.go()?;
    let line = c.line()?;
    let (cpu1, ng1, busy1, own1) = (c.cpu()?, nginx.cpu()?, machine_busy(), own_cpu());
    let load = parse_load(&line).map_err(|e| c.fail(&e.to_string()))?;
    c.finish()?;
    let (cpu, ng) = (cpu1.since(cpu0), ng1.since(ng0));
    let other = busy1
        .saturating_sub(busy0)
        .saturating_sub(cpu.user + cpu.system)
        .saturating_sub(ng.user + ng.system)
        .saturating_sub(own1.saturating_sub(own0));
    Ok((load, cpu, ng, other))
}

/// `cargo xtask bench client`.
pub fn main(args: &[String]) -> Result<()> {
    let Some(o) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    if !Path::new(NGINX).is_file() {
        return Err(Error::Missing {
            what: format!("nginx ({NGINX})"),
            hint: "apt-get install nginx-light".into(),
        });
    }
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
    let steps = 4 + o.rounds as usize * runs.len() + 1;
    let mut progress = Progress::new(steps);
    let bins = progress.step("build benches/clients (release)", build_clients)?;
    let cert_dir = util::workspace_root().join("target/bench/client");
    let cert = progress.step("certificate", || certificate(&cert_dir))?;
    let ca = cert.ca.to_string_lossy().to_string();
    let load_before = loadavg();
    let mut nginx = progress.step("start nginx", || {
        let n = Nginx::start(&cert_dir.join("nginx"), &cert, server_cpu)?;
        println!(
            "    nginx: HTTP/1.1 on {}, HTTP/2 over TLS on {}",
            n.plain, n.tls
        );
        Ok(n)
    })?;
    progress.step("integrity: 200 and the body, every response", || {
        for &(shape, target) in &runs {
            let mut cmd = Command::new(bins.join(target.binary()));
            cmd.args(client_args(&shape, 500, &nginx.url(&shape), &ca))
                .arg("--no-wait");
            let out = util::output(&mut cmd).map_err(|e| Error::Server {
                name: target.name().into(),
                detail: format!("{} check: {e}", shape.name),
            })?;
            let load = parse_load(out.trim())?;
            println!(
                "    {} {}: {} requests, {}",
                target.name(),
                shape.name,
                load.requests,
                load.version
            );
        }
        Ok(())
    })?;
    let mut rounds = Vec::new();
    for index in 1..=o.rounds {
        for &(shape, target) in &runs {
            let name = format!(
                "round {index}/{} {} {}",
                o.rounds,
                shape.name,
                target.name()
            );
            let round = progress.step(&name, || {
                let args = client_args(&shape, o.requests, &nginx.url(&shape), &ca);
                let log = out_dir.join(format!(
                    "client-{}-{}-r{index}-stderr.log",
                    shape.name,
                    target.name()
                ));
                let (load, cpu, ng, other) = measure(
                    &bins.join(target.binary()),
                    &args,
                    client_cpu,
                    &mut nginx,
                    log,
                    target.name().to_string(),
                )?;
                println!(
                    "    {:.0} req/s, {} requests in {:.2} s ({}), client CPU {} user + {} sys \
                     ticks, nginx {} ticks; other processes {other} ticks",
                    load.rate,
                    load.requests,
                    load.seconds,
                    load.version,
                    cpu.user,
                    cpu.system,
                    ng.user + ng.system
                );
                Ok(Round {
                    shape,
                    target,
                    index,
                    load,
                    cpu,
                    nginx: ng,
                    other,
                })
            })?;
            rounds.push(round);
        }
    }
    let load_after = loadavg();
    let commands: Vec<(String, String)> = {
        let root = format!("{}/", util::workspace_root().display());
        let mut c = vec![
            (
                "this run".to_string(),
                format!("cargo xtask bench client {}", args.join(" "))
                    .trim_end()
                    .to_string(),
            ),
            (
                "nginx (server)".to_string(),
                nginx.command.replace(&root, ""),
            ),
        ];
        let pin = if pinned_ok {
            format!("taskset -c {CLIENT_CPU} ")
        } else {
            String::new()
        };
        for shape in &o.shapes {
            let url = if shape.h2 {
                "https://127.0.0.1:TLS_PORT/plaintext"
            } else {
                "http://127.0.0.1:PORT/plaintext"
            };
            let ca = "target/bench/client/ca.pem";
            c.push((
                format!("clients, {}", shape.label()),
                format!(
                    "{pin}benches/clients/target/release/client-{{{}}} {}",
                    o.targets
                        .iter()
                        .filter(|t| t.runs(shape))
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(","),
                    client_args(shape, o.requests, url, ca).join(" ")
                ),
            ));
        }
        c
    };
    drop(nginx);
    progress.step("report", || {
        let clk = procfs::clock_ticks_per_sec();
        let summaries = summarize(&rounds, clk);
        let t = table(&summaries, &o.shapes);
        let (goal_text, goal_list) = goals(&summaries, &o.shapes);
        let (mean, max) = other_load(&rounds, clk);
        println!();
        print!("{t}");
        println!();
        print!("{goal_text}");
        println!(
            "    other processes used {mean:.0}% of a CPU during the rounds on average, \
             {max:.0}% at most (load average before {load_before}, after {load_after})"
        );
        let when = format!("{date} {time} UTC");
        let nginx_version = facts::version(Command::new(NGINX).arg("-v"));
        let json = Json::obj([
            ("when", Json::str(&when)),
            ("commit", Json::str(&commit)),
            ("cpu", Json::str(facts::cpu_model())),
            ("kernel", Json::str(facts::kernel())),
            ("nginx", Json::str(&nginx_version)),
            ("pinned", Json::Bool(pinned_ok)),
            ("clk_tck", Json::Int(clk)),
            ("requests_per_round", Json::Int(o.requests)),
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
                                ("client", Json::str(s.target.name())),
                                ("rate_median", Json::Num(s.rate.median)),
                                ("rate_sigma", Json::Num(s.rate.sigma)),
                                ("cpu_us_per_req_median", Json::Num(s.cpu_us.median)),
                                ("cpu_us_per_req_sigma", Json::Num(s.cpu_us.sigma)),
                                ("cpu_user_us_per_req", Json::Num(s.user_us)),
                                ("cpu_sys_us_per_req", Json::Num(s.sys_us)),
                                ("nginx_cpu_us_per_req", Json::Num(s.nginx_us)),
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
                        .map(|(shape, peer, r, met)| {
                            Json::obj([
                                ("shape", Json::str(shape)),
                                ("best_other", Json::str(peer)),
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
                                ("client", Json::str(r.target.name())),
                                ("round", Json::Int(u64::from(r.index))),
                                ("requests", Json::Int(r.load.requests)),
                                ("seconds", Json::Num(r.load.seconds)),
                                ("rate", Json::Num(r.load.rate)),
                                ("cpu_user_ticks", Json::Int(r.cpu.user)),
                                ("cpu_sys_ticks", Json::Int(r.cpu.system)),
                                ("nginx_ticks", Json::Int(r.nginx.user + r.nginx.system)),
                                ("other_ticks", Json::Int(r.other)),
                            ])
                        })
                        .collect(),
                ),
            ),
        ]);
        let path = out_dir.join("client.json");
        util::write_file(&path, &json.render())?;
        println!("    results: {}", path.display());
        if o.docs {
            let info = DocInfo {
                when: &when,
                commit: &commit,
                pinned: pinned_ok,
                other: (mean, max),
                load: (&load_before, &load_after),
                rounds: o.rounds,
                requests: o.requests,
                nginx: &nginx_version,
            };
            let sec = section(&info, &t, &goal_text, &commands);
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
        "==> bench client done in {}",
        util::fmt_duration(progress.elapsed())
    );
    Ok(())
}

struct DocInfo<'a> {
    when: &'a str,
    commit: &'a str,
    pinned: bool,
    other: (f64, f64),
    load: (&'a str, &'a str),
    rounds: u32,
    requests: u64,
    nginx: &'a str,
}

/// `n` with commas every three digits: 100,000.
fn thousands(n: u64) -> String {
    let digits: Vec<char> = n.to_string().chars().collect();
    let groups: Vec<String> = digits
        .rchunks(3)
        .rev()
        .map(|g| g.iter().collect())
        .collect();
    groups.join(",")
}

/// The client section of docs/benchmark.md, markers included.
fn section(info: &DocInfo<'_>, table: &str, goals: &str, commands: &[(String, String)]) -> String {
    let mut s = format!(
        "{START}\n## Client: flare::client vs ureq, reqwest (blocking)\n\n\
         Measured {} at commit `{}` on {} ({} cores), Linux {}, {}; {}. Other processes \
         (neither the client nor nginx) used {:.0}% of one CPU during the rounds on average and \
         {:.0}% in the busiest round (`/proc/stat` busy time less the client's and nginx's; \
         load average {} before, {} after); anything above a few percent means the figures \
         are noisy.\n\n",
        info.when,
        info.commit,
        facts::cpu_model(),
        facts::cores(),
        facts::kernel(),
        info.nginx,
        if info.pinned {
            "nginx pinned to CPU 1, the client to CPU 0"
        } else {
            "not pinned"
        },
        info.other.0,
        info.other.1,
        info.load.0,
        info.load.1,
    );
    s.push_str(table);
    s.push_str("\nGoals:\n\n");
    s.push_str(goals);
    s.push_str(&format!(
        "\nEach run is {} keep-alive `GET /plaintext` from the given threads sharing one client \
         (`flare::client::Client`, `ureq::Agent`, `reqwest::blocking::Client`; benches/clients, \
         one loop for all three), {} rounds alternating clients. Every response is checked: \
         status 200, body `{BODY}`, and the HTTP version of the shape. Client CPU is the client \
         process's utime+stime (`/proc/PID/stat`, all threads, reqwest's runtime thread \
         included) from just after the client is built until its last response, divided by the \
         requests; requests/s and CPU us/req are the median ± sample sigma over the rounds, \
         user, sys and nginx's CPU over all rounds. Pool limits are raised to 64 idle \
         connections per host in flare and ureq (ureq keeps 3 by default, which would close \
         and reopen connections with 16 threads); everything else is each client's default \
         (reqwest and flare on rustls with ring). HTTP/2: TLS (1.2 or 1.3, as negotiated) and ALPN h2 to nginx \
         `listen ... ssl http2` with a throwaway CA the clients are given; one connection \
         multiplexes the 16 threads; ureq has no HTTP/2. The goal is flare's CPU per request \
         at most {GOAL}x the best other client's in each shape.\n\nCommands:\n\n```sh\n",
        thousands(info.requests),
        info.rounds
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
    fn client_output_is_read() {
        let l = parse_load(
            "clients client=flare requests=20000 threads=16 seconds=0.898 rate=22278.9 version=HTTP/2",
        )
        .expect("parses");
        assert_eq!((l.requests, l.version.as_str()), (20000, "HTTP/2"));
        assert!((l.rate - 22278.9).abs() < 1e-9 && (l.seconds - 0.898).abs() < 1e-9);
        assert!(parse_load("ready").is_err());
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(999), "999");
    }

    #[test]
    fn options() {
        let o = parse(&[]).expect("parses").expect("not help");
        assert_eq!(
            (o.rounds, o.requests, o.shapes.len(), o.targets.len()),
            (3, 100_000, 4, 3)
        );
        let q = parse(&[
            "--quick".into(),
            "--shapes".into(),
            "h2-16,h1-1".into(),
            "--clients".into(),
            "flare".into(),
        ])
        .expect("parses")
        .expect("not help");
        assert_eq!((q.rounds, q.requests), (1, 10_000));
        let names: Vec<&str> = q.shapes.iter().map(|s| s.name).collect();
        assert_eq!(names, ["h1-1", "h2-16"]);
        assert_eq!(q.targets, [Target::Flare]);
        assert!(parse(&["--shapes".into(), "h3".into()]).is_err());
        assert!(parse(&["--requests".into(), "0".into()]).is_err());
        assert!(!Target::Ureq.runs(&SHAPES[3]) && Target::Ureq.runs(&SHAPES[1]));
    }

    #[test]
    fn config_serves_both_ports() {
        let c = Cert {
            ca: "/t/ca.pem".into(),
            cert: "/t/cert.pem".into(),
            key: "/t/key.pem".into(),
        };
        let conf = nginx_config(Path::new("/t/nginx"), &c, 8001, 8002);
        for needle in [
            "listen 127.0.0.1:8001;",
            "listen 127.0.0.1:8002 ssl http2;",
            "ssl_certificate /t/cert.pem;",
            "return 200 \"Hello, World!\";",
            "keepalive_requests 100000000;",
        ] {
            assert!(conf.contains(needle), "missing `{needle}` in\n{conf}");
        }
        assert_eq!(conf.matches('{').count(), conf.matches('}').count());
    }

    #[test]
    fn ratios_are_to_the_best_other() {
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
            nginx_us: 0.0,
        };
        let v = [
            mk(Target::Flare, 3.0),
            mk(Target::Ureq, 6.0),
            mk(Target::Reqwest, 5.0),
        ];
        assert_eq!(
            best_other(&v, &shape).map(|s| s.target),
            Some(Target::Reqwest)
        );
        let (text, list) = goals(&v, &[shape]);
        assert!(text.contains("(reqwest): 0.60x: met"), "{text}");
        assert!(list[0].3);
        assert!(table(&v, &[shape]).contains("| HTTP/1.1, 1 thread | ureq |"));
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert!((s.median - 2.0).abs() < 1e-12 && (s.sigma - 1.0).abs() < 1e-12);
    }
}

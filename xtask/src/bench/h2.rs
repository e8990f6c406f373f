//! `cargo xtask bench h2`: HTTP/2 cleartext (prior knowledge) plaintext GET,
//! flare against nginx in the same run with the same client (h2load).

use std::fs::{self, File};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::facts;
use super::json::Json;
use super::procfs::{self, CpuTicks};
use super::server::{self, pinned, NGINX};
use super::signal;
use crate::error::{Error, Result};
use crate::util::{self, Progress};

const HELP: &str = "\
cargo xtask bench h2 [OPTIONS]

HTTP/2 over cleartext (prior knowledge), GET /plaintext -> `Hello, World!`,
against flare's example server and nginx (`listen ... http2`, h2c), 1 worker
each, pinned to CPU 1; h2load pinned to CPU 0 with 1 thread, 16 connections
and 100 concurrent streams per connection. Rounds alternate between servers.
Reports median req/s and server CPU time per request (/proc utime+stime over
the rounds divided by the requests), and flare's CPU per request as a ratio
of nginx's.

Writes target/bench/DATE-SHA/h2.json with h2load's raw output, and the
section between <!-- bench:h2:start/end --> in docs/benchmark.md.

Options:
  --quick            1 round of 100,000 requests (a smoke test)
  --rounds N         rounds per server (default 3)
  --requests N       requests per h2load run (default 500,000)
  --servers LIST     comma list of flare,nginx (default both)
  --no-docs          do not touch docs/benchmark.md
";

const CONNECTIONS: u32 = 16;
const STREAMS: u32 = 100;
const SERVER_CPU: &str = "1";
const CLIENT_CPU: &str = "0";
/// Start and end markers of the h2 section in `docs/benchmark.md`.
const START: &str = "<!-- bench:h2:start -->";
const END: &str = "<!-- bench:h2:end -->";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    rounds: u32,
    requests: u64,
    targets: Vec<&'static str>,
    docs: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        rounds: 3,
        requests: 500_000,
        targets: vec!["flare", "nginx"],
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
                o.requests = 100_000;
            }
            "--rounds" => o.rounds = number(arg, it.next(), 100)? as u32,
            "--requests" => o.requests = number(arg, it.next(), 100_000_000)?,
            "--servers" => {
                let list = it
                    .next()
                    .ok_or_else(|| Error::Usage("--servers needs flare,nginx".into()))?;
                o.targets.clear();
                for name in list.split(',') {
                    let t = match name.trim() {
                        "flare" => "flare",
                        "nginx" => "nginx",
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
            other => return Err(Error::Usage(format!("unknown bench h2 flag `{other}`"))),
        }
    }
    Ok(Some(o))
}

/// The nginx configuration: one worker, h2c on the listener, no access log.
fn nginx_config(dir: &Path, port: u16) -> String {
    server::nginx_config_with(
        "cargo xtask bench h2",
        dir,
        1,
        "    http2_max_concurrent_streams 128;\n",
        &format!("127.0.0.1:{port} http2"),
        &format!(
            "        location /plaintext {{
            default_type text/plain;
            return 200 \"{body}\";
        }}
",
            body = server::BODY
        ),
    )
}

/// A server process we started; SIGTERM then SIGKILL on drop.
struct H2Server {
    name: &'static str,
    port: u16,
    command: String,
    child: Child,
}

impl H2Server {
    fn spawn(name: &'static str, mut cmd: Command, port: u16, log: &Path) -> Result<H2Server> {
        let command = util::describe(&cmd);
        println!("    $ {command}");
        let err = File::create(log).map_err(|e| Error::io(log.display().to_string(), e))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(err);
        let child = cmd.spawn().map_err(|source| Error::Spawn {
            program: command.clone(),
            source,
        })?;
        let mut s = H2Server {
            name,
            port,
            command,
            child,
        };
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = s.child.try_wait() {
                return Err(s.fail(format!("exited before listening ({status})")));
            }
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() >= deadline {
                return Err(s.fail("not listening after 20 s"));
            }
            thread::sleep(Duration::from_millis(50));
        }
        // The right answer over h2c before anything is measured.
        let out = util::output(Command::new("h2load").args(["-n", "10", "-c", "1", &s.url()]))?;
        let r = parse_h2load(&out)?;
        if r.succeeded != 10 || r.status_2xx != 10 {
            return Err(s.fail(format!("h2c check: {out}")));
        }
        Ok(s)
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/plaintext", self.port)
    }

    fn fail(&self, detail: impl Into<String>) -> Error {
        Error::Server {
            name: self.name.into(),
            detail: detail.into(),
        }
    }

    fn cpu(&mut self) -> Result<CpuTicks> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return Err(self.fail(format!("exited during the benchmark ({status})")));
        }
        procfs::tree_cpu(self.child.id())
    }
}

impl Drop for H2Server {
    fn drop(&mut self) {
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
        signal(&pids, "KILL");
        let _ = self.child.wait();
    }
}

/// What one h2load run reports.
#[derive(Debug, Clone, Copy, PartialEq)]
struct H2loadReport {
    rps: f64,
    done: u64,
    succeeded: u64,
    failed: u64,
    errored: u64,
    status_2xx: u64,
}

/// Reads `finished in 1.23s, 81234.56 req/s, ...`, the `requests:` line and
/// the `status codes:` line of h2load's output.
fn parse_h2load(text: &str) -> Result<H2loadReport> {
    let bad = |detail: &str| Error::Parse {
        what: "h2load output".into(),
        detail: detail.into(),
    };
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("finished in "))
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|v| v.strip_suffix(" req/s"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or_else(|| bad("no `finished in ..., N req/s` line"))?;
    let requests = text
        .lines()
        .find_map(|l| l.strip_prefix("requests: "))
        .ok_or_else(|| bad("no `requests:` line"))?;
    let field = |line: &str, name: &str| -> Option<u64> {
        line.split(", ")
            .find_map(|p| p.trim().strip_suffix(name))
            .and_then(|n| n.trim().parse().ok())
    };
    let codes = text
        .lines()
        .find_map(|l| l.strip_prefix("status codes: "))
        .ok_or_else(|| bad("no `status codes:` line"))?;
    Ok(H2loadReport {
        rps,
        done: field(requests, " done").ok_or_else(|| bad("requests done"))?,
        succeeded: field(requests, " succeeded").ok_or_else(|| bad("requests succeeded"))?,
        failed: field(requests, " failed").ok_or_else(|| bad("requests failed"))?,
        errored: field(requests, " errored").ok_or_else(|| bad("requests errored"))?,
        status_2xx: field(codes, " 2xx").ok_or_else(|| bad("2xx count"))?,
    })
}

struct Round {
    server: &'static str,
    index: u32,
    report: H2loadReport,
    cpu: CpuTicks,
    raw: String,
}

struct Summary {
    server: &'static str,
    rps: f64,
    cpu_us: f64,
    user_us: f64,
    sys_us: f64,
}

fn summarize(rounds: &[Round], targets: &[&'static str], clk_tck: u64) -> Vec<Summary> {
    targets
        .iter()
        .map(|&server| {
            let mine: Vec<&Round> = rounds.iter().filter(|r| r.server == server).collect();
            let requests: u64 = mine.iter().map(|r| r.report.succeeded).sum();
            let cpu = mine.iter().fold(CpuTicks::default(), |a, r| a.plus(r.cpu));
            let per = |t: u64| t as f64 * 1e6 / clk_tck as f64 / requests.max(1) as f64;
            let mut rps: Vec<f64> = mine.iter().map(|r| r.report.rps).collect();
            rps.sort_by(|a, b| a.total_cmp(b));
            Summary {
                server,
                rps: rps.get(rps.len() / 2).copied().unwrap_or(0.0),
                cpu_us: per(cpu.user + cpu.system),
                user_us: per(cpu.user),
                sys_us: per(cpu.system),
            }
        })
        .collect()
}

fn table(summaries: &[Summary]) -> String {
    let nginx = summaries.iter().find(|s| s.server == "nginx");
    let mut s = String::from(
        "| server | req/s (median) | CPU us/req | user | sys | CPU/req vs nginx |\n|---|---:|---:|---:|---:|---:|\n",
    );
    for x in summaries {
        let ratio = nginx
            .filter(|n| n.cpu_us > 0.0)
            .map_or("-".to_string(), |n| format!("{:.2}x", x.cpu_us / n.cpu_us));
        s.push_str(&format!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {ratio} |\n",
            x.server, x.rps, x.cpu_us, x.user_us, x.sys_us
        ));
    }
    s
}

/// Replaces the h2 section of `doc`, or appends it.
fn splice(doc: Option<&str>, section: &str) -> String {
    super::publish::splice_marked(doc, START, END, section)
}

/// `cargo xtask bench h2`.
pub fn main(args: &[String]) -> Result<()> {
    let Some(o) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    let mut needed = vec!["h2load"];
    if o.targets.contains(&"nginx") {
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
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
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
    let has_flare = o.targets.contains(&"flare");
    let steps = usize::from(has_flare) + 1 + o.rounds as usize * o.targets.len() + 1;
    let mut progress = Progress::new(steps);
    let binary: Option<PathBuf> = if has_flare {
        Some(progress.step("build flare", server::build_flare)?)
    } else {
        None
    };
    let mut servers = progress.step("start servers", || {
        let mut v = Vec::new();
        for &t in &o.targets {
            let port = server::free_port()?;
            let s = if t == "flare" {
                let bin = binary.as_deref().ok_or_else(|| Error::Missing {
                    what: "flare binary".into(),
                    hint: "the build step did not run".into(),
                })?;
                let mut cmd = pinned(server_cpu, &bin.to_string_lossy());
                cmd.args(["--addr", &format!("127.0.0.1:{port}"), "--workers", "1"]);
                H2Server::spawn("flare", cmd, port, &out_dir.join("flare-h2-stderr.log"))?
            } else {
                let dir = util::workspace_root().join("target/bench/nginx-h2");
                util::create_dir(&dir.join("tmp"))?;
                let conf = dir.join("nginx.conf");
                util::write_file(&conf, &nginx_config(&dir, port))?;
                let mut cmd = pinned(server_cpu, NGINX);
                cmd.arg("-p").arg(&dir).arg("-c").arg(&conf);
                cmd.arg("-e").arg(dir.join("error.log"));
                H2Server::spawn("nginx", cmd, port, &dir.join("stderr.log"))?
            };
            println!("    {} listening on 127.0.0.1:{}", s.name, s.port);
            v.push(s);
        }
        Ok(v)
    })?;
    let mut rounds = Vec::new();
    for index in 1..=o.rounds {
        for s in servers.iter_mut() {
            let name = format!("round {index}/{} {}", o.rounds, s.name);
            let raw = format!("h2-{}-r{index}.txt", s.name);
            let round = progress.step(&name, || {
                let mut cmd = pinned(client_cpu, "h2load");
                cmd.args(h2load_args(o.requests, &s.url()));
                println!("    $ {}", util::describe(&cmd));
                let before = s.cpu()?;
                let text = util::output(&mut cmd)?;
                let after = s.cpu()?;
                util::write_file(&out_dir.join(&raw), &text)?;
                let report = parse_h2load(&text)?;
                if report.failed > 0 || report.errored > 0 || report.status_2xx != report.done {
                    return Err(s.fail(format!(
                        "{} failed, {} errored, {} of {} answered 2xx",
                        report.failed, report.errored, report.status_2xx, report.done
                    )));
                }
                let cpu = after.since(before);
                println!(
                    "    {:.0} req/s, {} requests, CPU {} user + {} sys ticks",
                    report.rps, report.succeeded, cpu.user, cpu.system
                );
                Ok(Round {
                    server: s.name,
                    index,
                    report,
                    cpu,
                    raw: raw.clone(),
                })
            })?;
            rounds.push(round);
        }
    }
    let commands: Vec<(String, String)> = {
        let root = format!("{}/", util::workspace_root().display());
        let mut c = vec![(
            "this run".to_string(),
            format!("cargo xtask bench h2 {}", args.join(" "))
                .trim_end()
                .to_string(),
        )];
        for s in &servers {
            c.push((
                format!("{} (server)", s.name),
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
        c.push((
            "client".into(),
            format!(
                "{pin}h2load {}",
                h2load_args(o.requests, "http://127.0.0.1:PORT/plaintext").join(" ")
            ),
        ));
        c
    };
    servers.clear();
    progress.step("report", || {
        let clk = procfs::clock_ticks_per_sec();
        let summaries = summarize(&rounds, &o.targets, clk);
        let t = table(&summaries);
        println!();
        print!("{t}");
        let when = format!("{date} {time} UTC");
        let json = Json::obj([
            ("when", Json::str(&when)),
            ("commit", Json::str(&commit)),
            ("cpu", Json::str(facts::cpu_model())),
            ("kernel", Json::str(facts::kernel())),
            ("pinned", Json::Bool(pinned_ok)),
            ("clk_tck", Json::Int(clk)),
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
                                ("server", Json::str(s.server)),
                                ("rps_median", Json::Num(s.rps)),
                                ("cpu_total_us_per_req", Json::Num(s.cpu_us)),
                                ("cpu_user_us_per_req", Json::Num(s.user_us)),
                                ("cpu_sys_us_per_req", Json::Num(s.sys_us)),
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
                                ("server", Json::str(r.server)),
                                ("round", Json::Int(u64::from(r.index))),
                                ("requests", Json::Int(r.report.succeeded)),
                                ("rps", Json::Num(r.report.rps)),
                                ("cpu_user_ticks", Json::Int(r.cpu.user)),
                                ("cpu_sys_ticks", Json::Int(r.cpu.system)),
                                ("raw", Json::str(&r.raw)),
                            ])
                        })
                        .collect(),
                ),
            ),
        ]);
        let path = out_dir.join("h2.json");
        util::write_file(&path, &json.render())?;
        println!("    results: {}", path.display());
        if o.docs {
            let mut sec = format!(
                "{START}\n## HTTP/2 cleartext plaintext: flare vs nginx\n\nMeasured {when} at commit `{commit}` on {} ({} cores), Linux {}; {}.\n\n",
                facts::cpu_model(),
                facts::cores(),
                facts::kernel(),
                if pinned_ok {
                    "server pinned to CPU 1, h2load to CPU 0"
                } else {
                    "not pinned"
                }
            );
            sec.push_str(&t);
            sec.push_str(&format!(
                "\nh2load: {} requests per run, 1 thread, {CONNECTIONS} connections, {STREAMS} streams \
                 each; {} rounds alternating servers; 1 server worker. req/s is the median over the \
                 rounds; CPU us/req is the server's utime+stime (`/proc/PID/stat`, all processes and \
                 threads) over all rounds divided by the requests completed.\n\nCommands:\n\n```sh\n",
                o.requests, o.rounds
            ));
            for (label, cmd) in &commands {
                sec.push_str(&format!("# {label}\n{cmd}\n"));
            }
            sec.push_str("```\n");
            sec.push_str(END);
            let doc = util::workspace_root().join("docs/benchmark.md");
            let old = fs::read_to_string(&doc).ok();
            util::write_file(&doc, &splice(old.as_deref(), &sec))?;
            println!("    updated: {}", doc.display());
        }
        Ok(())
    })?;
    println!(
        "==> bench h2 done in {}",
        util::fmt_duration(progress.elapsed())
    );
    Ok(())
}

fn h2load_args(requests: u64, url: &str) -> Vec<String> {
    vec![
        "-n".into(),
        requests.to_string(),
        "-c".into(),
        CONNECTIONS.to_string(),
        "-m".into(),
        STREAMS.to_string(),
        "-t".into(),
        "1".into(),
        url.into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2load_output_is_read() {
        let text = "\
finished in 1.02s, 98039.22 req/s, 3.46MB/s
requests: 100000 total, 100000 started, 100000 done, 99990 succeeded, 10 failed, 0 errored, 0 timeout
status codes: 99990 2xx, 0 3xx, 0 4xx, 0 5xx
";
        let r = parse_h2load(text).expect("parses");
        assert_eq!(
            (r.done, r.succeeded, r.failed, r.errored, r.status_2xx),
            (100000, 99990, 10, 0, 99990)
        );
        assert!((r.rps - 98039.22).abs() < 1e-6);
        assert!(parse_h2load("nothing").is_err());
    }

    #[test]
    fn options_and_nginx_config() {
        let o = parse(&[]).expect("parses").expect("not help");
        assert_eq!((o.rounds, o.requests), (3, 500_000));
        let q = parse(&["--quick".into(), "--servers".into(), "nginx".into()])
            .expect("parses")
            .expect("not help");
        assert_eq!(
            (q.rounds, q.requests, q.targets.clone()),
            (1, 100_000, vec!["nginx"])
        );
        assert!(parse(&["--rounds".into(), "0".into()]).is_err());
        let conf = nginx_config(Path::new("/t"), 8123);
        assert!(conf.contains("listen 127.0.0.1:8123 http2;"));
        assert!(conf.contains("keepalive_requests 100000;"));
        assert!(conf.contains("worker_processes 1;"));
    }

    #[test]
    fn splicing_replaces_only_the_h2_section() {
        let sec = format!("{START}\nnew\n{END}");
        let doc = format!(
            "# B\n\n<!-- bench:h1:start -->\nh1\n<!-- bench:h1:end -->\n\n{START}\nold\n{END}\n"
        );
        let out = splice(Some(&doc), &sec);
        assert!(out.contains("h1\n") && out.contains("new") && !out.contains("old"));
        assert_eq!(splice(Some(&out), &sec), out);
    }
}

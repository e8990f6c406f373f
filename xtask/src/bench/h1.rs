//! `cargo xtask bench h1`: TechEmpower plaintext, flare against nginx in
//! the same run with the same client, plain and pipelined.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::procfs;
use super::report::{self, Round, RunInfo, SyscallRun, Variant};
use super::server::{self, Server};
use super::strace;
use super::wrk;
use crate::error::{Error, Result};
use crate::util::{self, Progress};

const HELP: &str = "\
cargo xtask bench h1 [OPTIONS]

TechEmpower plaintext (GET /plaintext -> `Hello, World!`) against flare's
example server and nginx, 1 worker each, pinned to CPU 1; wrk pinned to
CPU 0 with 1 thread and 64 connections. Rounds alternate between servers.
Per server and variant it reports median req/s, p50/p99 latency, server
CPU time per request (user, system, total; /proc utime+stime over the
rounds divided by requests) and syscalls per request (a separate run
under `strace -c -f`, top 5 by name).

Builds flare with `cargo build --profile bench-abort -p flare --example
server`. Writes target/bench/DATE-SHA/h1.json with wrk's raw output, and
the section between <!-- bench:h1:start/end --> in docs/benchmark.md.

Options:
  --quick            1 round of 3 s, 2 s strace runs (a smoke test)
  --rounds N         rounds per server and variant (default 3)
  --duration SECS    length of each wrk run (default 10)
  --servers LIST     comma list of flare,nginx (default both)
  --depth N          pipelined requests per write (default 16)
  --no-pipeline      skip the pipelined variant
  --no-strace        skip the syscall runs
  --no-docs          do not touch docs/benchmark.md
";

const CONNECTIONS: u32 = 64;
const SERVER_CPU: &str = "1";
const CLIENT_CPU: &str = "0";
const SCRIPT: &str = "benches/lua/pipeline.lua";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Flare,
    Nginx,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    rounds: u32,
    duration: u64,
    strace_secs: u64,
    targets: Vec<Target>,
    depth: u32,
    pipeline: bool,
    strace: bool,
    docs: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        rounds: 3,
        duration: 10,
        strace_secs: 3,
        targets: vec![Target::Flare, Target::Nginx],
        depth: 16,
        pipeline: true,
        strace: true,
        docs: true,
    };
    let mut it = args.iter();
    let number = |flag: &str, v: Option<&String>| -> Result<u64> {
        v.and_then(|v| v.parse::<u64>().ok())
            .filter(|&n| n > 0 && n <= 3600)
            .ok_or_else(|| Error::Usage(format!("{flag} wants a number from 1 to 3600")))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => {
                o.rounds = 1;
                o.duration = 3;
                o.strace_secs = 2;
            }
            "--rounds" => o.rounds = number(arg, it.next())? as u32,
            "--duration" => o.duration = number(arg, it.next())?,
            "--depth" => o.depth = number(arg, it.next())? as u32,
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
            "--no-pipeline" => o.pipeline = false,
            "--no-strace" => o.strace = false,
            "--no-docs" => o.docs = false,
            other => return Err(Error::Usage(format!("unknown bench h1 flag `{other}`"))),
        }
    }
    Ok(Some(o))
}

/// `cargo xtask bench h1`.
pub fn main(args: &[String]) -> Result<()> {
    let Some(o) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    let mut needed = vec!["wrk"];
    if o.targets.contains(&Target::Nginx) {
        needed.push("nginx");
    }
    if o.strace {
        needed.push("strace");
    }
    for tool in needed {
        if util::which(tool).is_none() {
            return Err(Error::Missing {
                what: format!("`{tool}` is not installed"),
                hint: "run `cargo xtask peers`".into(),
            });
        }
    }
    if o.targets.contains(&Target::Nginx) && !Path::new(server::NGINX).is_file() {
        return Err(Error::Missing {
            what: format!("{} does not exist", server::NGINX),
            hint: "run `cargo xtask peers`".into(),
        });
    }
    let pinned = can_pin();
    if !pinned {
        println!(
            "warning: fewer than 2 usable CPUs or no taskset; server and client are not pinned"
        );
    }
    let (server_cpu, client_cpu) = if pinned {
        (Some(SERVER_CPU), Some(CLIENT_CPU))
    } else {
        (None, None)
    };

    let variants: Vec<Variant> = if o.pipeline {
        vec![Variant::Plain, Variant::Pipelined]
    } else {
        vec![Variant::Plain]
    };
    let runs = o.rounds as usize * variants.len() * o.targets.len();
    let traces = if o.strace {
        variants.len() * o.targets.len()
    } else {
        0
    };
    let has_flare = o.targets.contains(&Target::Flare);
    let mut progress = Progress::new(usize::from(has_flare) + 1 + runs + traces + 1);

    let root = util::workspace_root();
    let flare_binary = if has_flare {
        Some(progress.step("build flare", build_flare)?)
    } else {
        None
    };

    let (date, time) = report::utc_now();
    let commit = commit();
    let out_dir = root
        .join("target/bench")
        .join(format!("{date}-{}", commit.trim_end_matches("-dirty")));
    util::create_dir(&out_dir)?;

    let mut servers: Vec<Server> = progress.step("start servers", || {
        let mut started = Vec::new();
        for t in &o.targets {
            let s = match t {
                Target::Flare => {
                    let bin = flare_binary.as_deref().ok_or_else(|| Error::Missing {
                        what: "flare binary".into(),
                        hint: "build step did not run".into(),
                    })?;
                    Server::start_flare(bin, &out_dir, server_cpu)?
                }
                Target::Nginx => Server::start_nginx(&root.join("target/bench/nginx"), server_cpu)?,
            };
            println!(
                "    {} listening on 127.0.0.1:{} (pids {:?})",
                s.name,
                s.port,
                s.pids()
            );
            started.push(s);
        }
        Ok(started)
    })?;

    let wrk_args = |variant: Variant, secs: u64, port: u16| -> Vec<String> {
        let mut a = vec![
            "-t1".to_string(),
            format!("-c{CONNECTIONS}"),
            format!("-d{secs}s"),
            "--latency".into(),
        ];
        if variant == Variant::Pipelined {
            a.extend(["-s".into(), SCRIPT.into()]);
        }
        a.push(format!("http://127.0.0.1:{port}/plaintext"));
        if variant == Variant::Pipelined {
            a.extend(["--".into(), o.depth.to_string()]);
        }
        a
    };

    let mut rounds: Vec<Round> = Vec::new();
    for index in 1..=o.rounds {
        for &variant in &variants {
            for server in servers.iter_mut() {
                let name = format!(
                    "round {index}/{} {} {}",
                    o.rounds,
                    variant.name(),
                    server.name
                );
                let raw = format!("{}-{}-r{index}.txt", server.name, variant.name());
                let args = wrk_args(variant, o.duration, server.port);
                let round = progress.step(&name, || {
                    let before = server.cpu()?;
                    let text = run_wrk(client_cpu, &args)?;
                    let after = server.cpu()?;
                    util::write_file(&out_dir.join(&raw), &text)?;
                    let wrk = checked(server.name, wrk::parse(&text)?)?;
                    let cpu = after.since(before);
                    println!(
                        "    {:.0} req/s, p50 {}, p99 {}, {} requests, CPU {} user + {} sys ticks",
                        wrk.rps,
                        report::fmt_latency(wrk.p50_us),
                        report::fmt_latency(wrk.p99_us),
                        wrk.requests,
                        cpu.user,
                        cpu.system
                    );
                    Ok(Round {
                        server: server.name,
                        variant,
                        index,
                        wrk,
                        cpu,
                        raw: raw.clone(),
                    })
                })?;
                rounds.push(round);
            }
        }
    }

    let mut traced: Vec<SyscallRun> = Vec::new();
    if o.strace {
        for &variant in &variants {
            for server in &servers {
                let name = format!("strace {} {}", variant.name(), server.name);
                let file = format!("{}-{}-strace.txt", server.name, variant.name());
                let args = wrk_args(variant, o.strace_secs, server.port);
                let run = progress.step(&name, || {
                    let tracer = strace::attach(&server.pids(), server_cpu, &out_dir.join(&file))?;
                    let text = run_wrk(client_cpu, &args);
                    let counts = tracer.finish()?;
                    let text = text?;
                    util::write_file(
                        &out_dir.join(format!("{}-{}-strace-wrk.txt", server.name, variant.name())),
                        &text,
                    )?;
                    let wrk = checked(server.name, wrk::parse(&text)?)?;
                    println!(
                        "    {} syscalls over {} requests = {:.2}/request",
                        counts.total,
                        wrk.requests,
                        counts.total as f64 / wrk.requests.max(1) as f64
                    );
                    Ok(SyscallRun {
                        server: server.name,
                        variant,
                        requests: wrk.requests,
                        counts,
                    })
                })?;
                traced.push(run);
            }
        }
    }

    let commands = commands(&servers, &o, pinned);
    for s in servers.drain(..) {
        s.stop();
    }

    progress.step("report", || {
        let clk_tck = procfs::clock_ticks_per_sec();
        let summaries = report::summarize(&rounds, &traced, clk_tck);
        let info = RunInfo {
            when: format!("{date} {time} UTC"),
            commit: commit.clone(),
            cpu_model: cpu_model(),
            kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_string(),
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            clk_tck,
            pinned,
            commands,
            settings: vec![
                ("wrk threads".into(), "1".into()),
                ("connections".into(), CONNECTIONS.to_string()),
                ("duration".into(), format!("{} s", o.duration)),
                ("rounds".into(), o.rounds.to_string()),
                ("pipeline depth".into(), o.depth.to_string()),
                ("strace run".into(), format!("{} s", o.strace_secs)),
                ("server workers".into(), "1".into()),
                (
                    "nginx".into(),
                    version_line(Command::new(server::NGINX).arg("-v")),
                ),
                ("wrk".into(), version_line(Command::new("wrk").arg("-v"))),
            ],
        };
        let json = out_dir.join("h1.json");
        util::write_file(
            &json,
            &report::to_json(&info, &rounds, &traced, &summaries).render(),
        )?;
        println!();
        print!("{}", report::render_text(&report::main_rows(&summaries)));
        if !traced.is_empty() {
            println!();
            print!("{}", report::render_text(&report::syscall_rows(&summaries)));
        }
        println!();
        println!("    results: {}", json.display());
        if o.docs {
            let doc = root.join("docs/benchmark.md");
            let old = fs::read_to_string(&doc).ok();
            let new =
                report::splice_section(old.as_deref(), &report::docs_section(&info, &summaries));
            util::write_file(&doc, &new)?;
            println!("    updated: {}", doc.display());
        }
        Ok(())
    })?;
    println!(
        "==> bench h1 done in {}",
        util::fmt_duration(progress.elapsed())
    );
    Ok(())
}

/// A run with wrong answers is not a measurement; socket errors are
/// reported but tolerated (a closing server can reset a few).
fn checked(server: &str, w: wrk::WrkReport) -> Result<wrk::WrkReport> {
    if w.requests == 0 {
        return Err(Error::Server {
            name: server.into(),
            detail: "wrk completed no requests".into(),
        });
    }
    if w.non_2xx > 0 {
        return Err(Error::Server {
            name: server.into(),
            detail: format!("{} non-2xx responses", w.non_2xx),
        });
    }
    if w.socket_errors > 0 {
        println!(
            "    warning: {} socket errors against {server}",
            w.socket_errors
        );
    }
    Ok(w)
}

fn run_wrk(cpu: Option<&str>, args: &[String]) -> Result<String> {
    let mut cmd = server::pinned(cpu, "wrk");
    cmd.args(args).current_dir(util::workspace_root());
    println!("    $ {}", util::describe(&cmd));
    util::output(&mut cmd)
}

fn build_flare() -> Result<PathBuf> {
    let crate_dir = util::workspace_root().join("crates/flare");
    let sources = [
        crate_dir.join("examples/server.rs"),
        crate_dir.join("examples/server/main.rs"),
    ];
    if !sources.iter().any(|p| p.is_file()) {
        return Err(Error::Missing {
            what: "flare's example server (crates/flare/examples/server.rs) does not exist yet"
                .into(),
            hint: "benchmark nginx alone with `cargo xtask bench h1 --servers nginx`".into(),
        });
    }
    util::run(util::cargo().args([
        "build",
        "--profile",
        "bench-abort",
        "-p",
        "flare",
        "--example",
        "server",
    ]))?;
    let binary = util::target_dir().join("bench-abort/examples/server");
    if binary.is_file() {
        Ok(binary)
    } else {
        Err(Error::Missing {
            what: format!("{} after the build", binary.display()),
            hint: "check the build output".into(),
        })
    }
}

fn can_pin() -> bool {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    cpus >= 2 && util::succeeds(Command::new("taskset").args(["-c", SERVER_CPU, "true"]))
}

/// Short commit hash, with `-dirty` when the work tree has changes.
fn commit() -> String {
    let git = |args: &[&str]| {
        util::output(
            Command::new("git")
                .args(args)
                .current_dir(util::workspace_root()),
        )
    };
    let sha = git(&["rev-parse", "--short", "HEAD"])
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .map(|s| !s.trim().is_empty())
        .unwrap_or(false);
    if dirty {
        format!("{sha}-dirty")
    } else {
        sha
    }
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// First line a `-v` prints, on stdout or stderr (nginx and wrk use
/// stderr and wrk exits 1).
fn version_line(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .and_then(|o| {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
            text.lines().next().map(|l| l.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// The exact commands of the run, with the port spelled `PORT`.
fn commands(servers: &[Server], o: &Options, pinned: bool) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if o.targets.contains(&Target::Flare) {
        out.push((
            "build flare".into(),
            "cargo build --profile bench-abort -p flare --example server".into(),
        ));
    }
    for s in servers {
        out.push((
            format!("{} (server)", s.name),
            s.command.replace(&s.port.to_string(), "PORT"),
        ));
    }
    let pin = if pinned {
        format!("taskset -c {CLIENT_CPU} ")
    } else {
        String::new()
    };
    let base = format!("{pin}wrk -t1 -c{CONNECTIONS} -d{}s --latency", o.duration);
    out.push((
        "client, plain".into(),
        format!("{base} http://127.0.0.1:PORT/plaintext"),
    ));
    if o.pipeline {
        out.push((
            "client, pipelined".into(),
            format!(
                "{base} -s {SCRIPT} http://127.0.0.1:PORT/plaintext -- {}",
                o.depth
            ),
        ));
    }
    if o.strace {
        out.push((
            "syscalls (during a wrk run of the same shape)".into(),
            format!("strace -c -f -p SERVER_PID... # wrk -d{}s", o.strace_secs),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn defaults_match_the_issue() {
        let o = parse(&[]).expect("parses").expect("not help");
        assert_eq!((o.rounds, o.duration, o.depth), (3, 10, 16));
        assert_eq!(o.targets, [Target::Flare, Target::Nginx]);
        assert!(o.pipeline && o.strace && o.docs);
    }

    #[test]
    fn flags_adjust_the_run() {
        let o = parse(&args(&[
            "--quick",
            "--servers",
            "nginx",
            "--no-docs",
            "--no-strace",
            "--depth",
            "8",
        ]))
        .expect("parses")
        .expect("not help");
        assert_eq!((o.rounds, o.duration, o.depth), (1, 3, 8));
        assert_eq!(o.targets, [Target::Nginx]);
        assert!(!o.docs && !o.strace && o.pipeline);
        assert!(parse(&args(&["--help"])).expect("help").is_none());
    }

    #[test]
    fn bad_flags_are_refused() {
        for bad in [
            &["--rounds"][..],
            &["--rounds", "0"],
            &["--duration", "x"],
            &["--servers", "apache"],
            &["--fast"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_pipeline_script_exists_and_takes_a_depth() {
        let script =
            fs::read_to_string(util::workspace_root().join(SCRIPT)).expect("script present");
        assert!(script.contains("init = function(args)"));
        assert!(script.contains("request = function()"));
    }
}

//! `cargo xtask bench h1`: TechEmpower plaintext, flare (on epoll and on
//! io_uring) against nginx in the same run with the same client, plain and
//! pipelined, with the goals of issue 3 checked at the end.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::facts;
use super::procfs;
use super::publish::{self, RunInfo};
use super::report::{self, Round, SyscallRun, Variant};
use super::server::{self, Server};
use super::strace;
use super::wrk;
use crate::error::{Error, Result};
use crate::util::{self, Progress};

const HELP: &str = "\
cargo xtask bench h1 [OPTIONS]

TechEmpower plaintext (GET /plaintext -> `Hello, World!`) against flare's
example server on epoll (`flare`), the same binary with `--io-uring`
(`flare-uring`) and nginx, 1 worker each, pinned to CPU 1; wrk pinned to
CPU 0 with 1 thread and 64 connections. Rounds alternate between servers.
Per server and variant it reports median req/s, p50/p99 latency, server
CPU time per request (user, system, total; /proc utime+stime over the
rounds divided by requests) and syscalls per request (a separate run
under `strace -c -f`, all calls including io_uring_enter, top 5 by
name), then whether each flare target meets the goals of issue 3: user
CPU <= 0.5 us/request at keep-alive, total CPU and syscalls per request
below nginx's at keep-alive, total CPU <= 0.6 us/request pipelined x16.

Builds flare with `cargo build --profile bench-abort -p flare --example
server`. Writes target/bench/DATE-SHA/h1.json with wrk's raw output, and
the section between <!-- bench:h1:start/end --> in docs/benchmark.md.

Options:
  --quick            1 round of 3 s, 2 s strace runs (a smoke test)
  --rounds N         rounds per server and variant (default 3)
  --duration SECS    length of each wrk run (default 10)
  --servers LIST     comma list of flare,flare-uring,nginx (default all)
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
    /// flare's example server on epoll.
    Flare,
    /// The same binary with `--io-uring`.
    FlareUring,
    Nginx,
}

impl Target {
    const ALL: [Target; 3] = [Target::Flare, Target::FlareUring, Target::Nginx];

    /// Name in `--servers`, tables, file names and h1.json.
    fn name(self) -> &'static str {
        match self {
            Target::Flare => "flare",
            Target::FlareUring => "flare-uring",
            Target::Nginx => "nginx",
        }
    }

    fn from_name(name: &str) -> Option<Target> {
        Target::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Runs flare's example server (and needs it built).
    fn is_flare(self) -> bool {
        matches!(self, Target::Flare | Target::FlareUring)
    }
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
        targets: Target::ALL.to_vec(),
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
                let list = it.next().ok_or_else(|| {
                    Error::Usage("--servers needs a list of flare,flare-uring,nginx".into())
                })?;
                o.targets = Vec::new();
                for name in list.split(',') {
                    let t = Target::from_name(name.trim()).ok_or_else(|| {
                        Error::Usage(format!(
                            "unknown server `{}` (flare, flare-uring, nginx)",
                            name.trim()
                        ))
                    })?;
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

/// What one invocation runs, fixed before anything starts.
struct Plan {
    o: Options,
    variants: Vec<Variant>,
    /// CPUs for server and client, when pinning is possible.
    server_cpu: Option<&'static str>,
    client_cpu: Option<&'static str>,
    /// `target/bench/DATE-SHA`.
    out_dir: PathBuf,
    date: String,
    time: String,
    commit: String,
}

impl Plan {
    fn wrk_args(&self, variant: Variant, secs: u64, port: u16) -> Vec<String> {
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
            a.extend(["--".into(), self.o.depth.to_string()]);
        }
        a
    }
}

/// `cargo xtask bench h1`.
pub fn main(args: &[String]) -> Result<()> {
    let Some(o) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    preflight(&o)?;
    let pinned = can_pin();
    if !pinned {
        println!("warning: fewer than 2 usable CPUs or no taskset; nothing is pinned");
    }
    let (date, time) = facts::utc_now();
    let commit = facts::commit();
    let out_dir = util::workspace_root()
        .join("target/bench")
        .join(format!("{date}-{}", commit.trim_end_matches("-dirty")));
    util::create_dir(&out_dir)?;
    let variants = if o.pipeline {
        vec![Variant::Plain, Variant::Pipelined]
    } else {
        vec![Variant::Plain]
    };
    let plan = Plan {
        server_cpu: pinned.then_some(SERVER_CPU),
        client_cpu: pinned.then_some(CLIENT_CPU),
        variants,
        out_dir,
        date,
        time,
        commit,
        o,
    };

    let o = &plan.o;
    let has_flare = o.targets.iter().any(|t| t.is_flare());
    let pairs = plan.variants.len() * o.targets.len();
    let traces = if o.strace { pairs } else { 0 };
    let steps = usize::from(has_flare) + 1 + o.rounds as usize * pairs + traces + 1;
    let mut progress = Progress::new(steps);

    let flare_binary = if has_flare {
        Some(progress.step("build flare", server::build_flare)?)
    } else {
        None
    };
    let mut servers = progress.step("start servers", || {
        start_servers(&plan, flare_binary.as_deref())
    })?;
    let rounds = measure(&plan, &mut progress, &mut servers)?;
    let traced = if o.strace {
        trace(&plan, &mut progress, &servers)?
    } else {
        Vec::new()
    };
    let invocation = format!("cargo xtask bench h1 {}", args.join(" "));
    let commands = commands(invocation.trim_end(), &servers, o, pinned);
    for s in servers.drain(..) {
        s.stop();
    }
    progress.step("report", || {
        write_report(&plan, pinned, commands, &rounds, &traced)
    })?;
    println!(
        "==> bench h1 done in {}",
        util::fmt_duration(progress.elapsed())
    );
    Ok(())
}

/// Fails early, naming the missing tool, before anything is started.
fn preflight(o: &Options) -> Result<()> {
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
    Ok(())
}

fn start_servers(plan: &Plan, flare_binary: Option<&Path>) -> Result<Vec<Server>> {
    let mut started = Vec::new();
    for t in &plan.o.targets {
        let s = match (t, flare_binary) {
            (Target::Flare | Target::FlareUring, Some(bin)) => Server::start_flare(
                t.name(),
                bin,
                *t == Target::FlareUring,
                &plan.out_dir,
                plan.server_cpu,
            )?,
            (Target::Flare | Target::FlareUring, None) => {
                return Err(Error::Missing {
                    what: "flare binary".into(),
                    hint: "the build step did not run".into(),
                })
            }
            (Target::Nginx, _) => {
                let dir = util::workspace_root().join("target/bench/nginx");
                Server::start_nginx(&dir, plan.server_cpu)?
            }
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
}

/// The timed rounds: round by round, variant by variant, alternating
/// servers, with the server's CPU time read right before and after wrk.
fn measure(plan: &Plan, progress: &mut Progress, servers: &mut [Server]) -> Result<Vec<Round>> {
    let o = &plan.o;
    let mut rounds = Vec::new();
    for index in 1..=o.rounds {
        for &variant in &plan.variants {
            for server in servers.iter_mut() {
                let name = format!(
                    "round {index}/{} {} {}",
                    o.rounds,
                    variant.name(),
                    server.name
                );
                let raw = format!("{}-{}-r{index}.txt", server.name, variant.name());
                let args = plan.wrk_args(variant, o.duration, server.port);
                let round = progress.step(&name, || {
                    let before = server.cpu()?;
                    let text = run_wrk(plan.client_cpu, &args)?;
                    let after = server.cpu()?;
                    util::write_file(&plan.out_dir.join(&raw), &text)?;
                    let wrk = wrk::checked(server.name, wrk::parse(&text)?)?;
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
    Ok(rounds)
}

/// One shorter run per server and variant with strace attached to every
/// server process; syscalls are divided by that run's requests.
fn trace(plan: &Plan, progress: &mut Progress, servers: &[Server]) -> Result<Vec<SyscallRun>> {
    let mut traced = Vec::new();
    for &variant in &plan.variants {
        for server in servers {
            let name = format!("strace {} {}", variant.name(), server.name);
            let stem = format!("{}-{}-strace", server.name, variant.name());
            let args = plan.wrk_args(variant, plan.o.strace_secs, server.port);
            let run = progress.step(&name, || {
                let summary = plan.out_dir.join(format!("{stem}.txt"));
                let tracer = strace::attach(&server.pids(), plan.server_cpu, &summary)?;
                let text = run_wrk(plan.client_cpu, &args);
                // Detach before looking at wrk's result, whatever it is.
                let counts = tracer.finish()?;
                let text = text?;
                util::write_file(&plan.out_dir.join(format!("{stem}-wrk.txt")), &text)?;
                let wrk = wrk::checked(server.name, wrk::parse(&text)?)?;
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
    Ok(traced)
}

fn write_report(
    plan: &Plan,
    pinned: bool,
    commands: Vec<(String, String)>,
    rounds: &[Round],
    traced: &[SyscallRun],
) -> Result<()> {
    let o = &plan.o;
    let clk_tck = procfs::clock_ticks_per_sec();
    let summaries = report::summarize(rounds, traced, clk_tck);
    let goals = report::goals(&summaries, o.depth);
    let mut settings = vec![
        ("wrk threads".to_string(), "1".to_string()),
        ("connections".into(), CONNECTIONS.to_string()),
        ("duration".into(), format!("{} s", o.duration)),
        ("rounds".into(), o.rounds.to_string()),
        ("pipeline depth".into(), o.depth.to_string()),
        ("strace run".into(), format!("{} s", o.strace_secs)),
        ("server workers".into(), "1".into()),
        ("wrk".into(), facts::version(Command::new("wrk").arg("-v"))),
    ];
    if o.targets.contains(&Target::Nginx) {
        settings.push((
            "nginx".into(),
            facts::version(Command::new(server::NGINX).arg("-v")),
        ));
    }
    let info = RunInfo {
        when: format!("{} {} UTC", plan.date, plan.time),
        commit: plan.commit.clone(),
        cpu_model: facts::cpu_model(),
        kernel: facts::kernel(),
        cores: facts::cores(),
        clk_tck,
        pinned,
        commands,
        settings,
    };
    let json = plan.out_dir.join("h1.json");
    util::write_file(
        &json,
        &publish::to_json(&info, rounds, traced, &summaries, &goals).render(),
    )?;
    println!();
    print!("{}", report::render_text(&report::main_rows(&summaries)));
    if !traced.is_empty() {
        println!();
        print!("{}", report::render_text(&report::syscall_rows(&summaries)));
    }
    if !goals.is_empty() {
        println!();
        println!("  Where flare stands (goals of issue 3):");
        for line in report::render_goals(&goals, false).lines() {
            println!("  {line}");
        }
    }
    println!();
    println!("    results: {}", json.display());
    if o.docs {
        let doc = util::workspace_root().join("docs/benchmark.md");
        let old = fs::read_to_string(&doc).ok();
        let section = publish::docs_section(&info, &summaries, &goals);
        util::write_file(&doc, &publish::splice_section(old.as_deref(), &section))?;
        println!("    updated: {}", doc.display());
    }
    Ok(())
}

fn run_wrk(cpu: Option<&str>, args: &[String]) -> Result<String> {
    let mut cmd = server::pinned(cpu, "wrk");
    cmd.args(args).current_dir(util::workspace_root());
    println!("    $ {}", util::describe(&cmd));
    util::output(&mut cmd)
}

fn can_pin() -> bool {
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    cpus >= 2 && util::succeeds(Command::new("taskset").args(["-c", SERVER_CPU, "true"]))
}

/// The exact commands of the run, with the port spelled `PORT`.
fn commands(
    invocation: &str,
    servers: &[Server],
    o: &Options,
    pinned: bool,
) -> Vec<(String, String)> {
    let mut out = vec![("this run".to_string(), invocation.to_string())];
    if o.targets.iter().any(|t| t.is_flare()) {
        out.push((
            "build flare".into(),
            "cargo build --profile bench-abort -p flare --example server".into(),
        ));
    }
    let root = format!("{}/", util::workspace_root().display());
    for s in servers {
        let cmd = s
            .command
            .replace(&root, "")
            .replace(&s.port.to_string(), "PORT");
        out.push((format!("{} (server)", s.name), cmd));
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
            "syscalls: strace attached to every server process".into(),
            format!(
                "taskset -c {SERVER_CPU} strace -c -f -p PID [-p PID]... # during a wrk -d{}s run",
                o.strace_secs
            ),
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
        assert_eq!(
            o.targets,
            [Target::Flare, Target::FlareUring, Target::Nginx]
        );
        assert!(o.pipeline && o.strace && o.docs);
    }

    #[test]
    fn flare_on_io_uring_is_a_target_of_its_own() {
        let o = parse(&args(&["--servers", "flare-uring, nginx,flare-uring"]))
            .expect("parses")
            .expect("not help");
        assert_eq!(o.targets, [Target::FlareUring, Target::Nginx]);
        let o = parse(&args(&["--servers", "flare,flare-uring,nginx"]))
            .expect("parses")
            .expect("not help");
        assert_eq!(o.targets, Target::ALL);
        for t in Target::ALL {
            assert_eq!(Target::from_name(t.name()), Some(t));
        }
        assert_eq!(Target::FlareUring.name(), "flare-uring");
        assert!(Target::FlareUring.is_flare() && Target::Flare.is_flare());
        assert!(!Target::Nginx.is_flare());
        assert!(parse(&args(&["--servers", "uring"])).is_err());
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

//! `cargo xtask bench h2`: HTTP/2, flare's example server against hyper
//! (benches/peers/hyper-h2), h2o and nginx in the same run with the same
//! client (h2load): h2c with prior knowledge and h2 over TLS, three load
//! shapes each, server CPU per request and flare's ratio to each peer with
//! the goals of issue 19.

mod callgrind;
mod gate;
mod load;
mod report;
mod servers;
mod svg;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::facts;
use super::procfs;
use super::publish::RunInfo;
use super::report::render_text;
use super::server::{self, pinned, NGINX};
use crate::error::{Error, Result};
use crate::util::{self, Progress};
use load::{h2load_args, latency_from_log, parse_h2load, Length, Shape};
use report::{Extras, Round};
use servers::{certificate, leftovers, H2Server, Start, Target, H2O};

const HELP: &str = "\
cargo xtask bench h2 [OPTIONS]

HTTP/2 GET /plaintext against flare's example server, hyper 1.x
(benches/peers/hyper-h2, one current-thread runtime), h2o (one thread,
file.file) and nginx (one worker, return 200), each serving h2c (prior
knowledge) on one port and h2 over TLS (ALPN h2, one throwaway ECDSA P-256
certificate for all) on another. Servers pinned to CPU 1, h2load to CPU 0
with 1 thread. First an integrity gate: /plaintext and /json over h2c and
TLS must answer 200 with the right body (curl), or nothing is measured.

Shapes (h2load -c CONNECTIONS -m STREAMS), each on h2c and on TLS:
  h2c-16x100 h2c-64x10 h2c-1x1 tls-16x100 tls-64x10 tls-1x1
Per round, shape and server (rounds alternate: flare, hyper, h2o, nginx,
flare, ...): a measured run (req/s; server utime+stime from /proc over the
requests; other processes' CPU), then a short run with h2load --log-file
for p50/p99. Reports medians and sigmas, and flare's CPU per request over
each peer's with the goals of issue 19 (h2c 16x100: <= 0.8x h2o; other h2c
shapes <= 1.0x h2o; TLS <= 1.0x h2o and <= 0.8x nginx).

Writes target/bench/DATE-SHA/h2.json (raw h2load output included), the
section between <!-- bench:h2:start/end --> in docs/benchmark.md and
docs/benchmark-h2.svg. Scratch files (configs, h2o's files, nginx's temp
dirs) go to target/bench/h2/. The default run takes about 7 minutes.

Options:
  --quick            1 round, 2 s runs, 500 ms latency runs (a smoke test)
  --rounds N         rounds (default 3)
  --duration SECS    length of each measured run (default 4)
  --requests N       each measured run sends N requests instead (h2load -n)
  --latency-ms MS    length of each latency run (default 1000)
  --servers LIST     comma list of flare,hyper,h2o,nginx (default all)
  --shapes LIST      comma list of the shapes above, or h2c / tls for three
                     (default all six)
  --callgrind        also count flare's instructions per request under
                     valgrind --tool=callgrind (h2c, h2load -c 1 -m 10,
                     22,000 minus 2,000 requests; about a minute)
  --no-docs          do not touch docs/benchmark.md or the chart
";

const SERVER_CPU: &str = "1";
const CLIENT_CPU: &str = "0";

#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    rounds: u32,
    length: Length,
    latency_ms: u64,
    targets: Vec<Target>,
    shapes: Vec<Shape>,
    callgrind: bool,
    docs: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        rounds: 3,
        length: Length::Millis(4_000),
        latency_ms: 1_000,
        targets: Target::ALL.to_vec(),
        shapes: Shape::ALL.to_vec(),
        callgrind: false,
        docs: true,
    };
    let mut it = args.iter();
    let number = |flag: &str, v: Option<&String>, min: u64, max: u64| -> Result<u64> {
        v.and_then(|v| v.parse::<u64>().ok())
            .filter(|&n| n >= min && n <= max)
            .ok_or_else(|| Error::Usage(format!("{flag} wants a number from {min} to {max}")))
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => {
                o.rounds = 1;
                o.length = Length::Millis(2_000);
                o.latency_ms = 500;
            }
            "--rounds" => o.rounds = number(arg, it.next(), 1, 100)? as u32,
            "--duration" => o.length = Length::Millis(number(arg, it.next(), 1, 600)? * 1000),
            "--requests" => o.length = Length::Requests(number(arg, it.next(), 1, 1_000_000_000)?),
            "--latency-ms" => o.latency_ms = number(arg, it.next(), 100, 60_000)?,
            "--servers" => {
                let list = it.next().ok_or_else(|| {
                    Error::Usage("--servers needs a list of flare,hyper,h2o,nginx".into())
                })?;
                o.targets.clear();
                for name in list.split(',').map(str::trim) {
                    let t = Target::parse(name).ok_or_else(|| {
                        Error::Usage(format!(
                            "unknown server `{name}` (flare, hyper, h2o, nginx)"
                        ))
                    })?;
                    if !o.targets.contains(&t) {
                        o.targets.push(t);
                    }
                }
                // Rounds alternate in report order whatever order the list gave.
                o.targets
                    .sort_by_key(|t| Target::ALL.iter().position(|a| a == t));
            }
            "--shapes" => {
                let list = it.next().ok_or_else(|| {
                    Error::Usage("--shapes needs a list (h2c, tls, h2c-16x100, ...)".into())
                })?;
                o.shapes = Shape::parse_list(list)?;
            }
            "--callgrind" => o.callgrind = true,
            "--no-docs" => o.docs = false,
            other => return Err(Error::Usage(format!("unknown bench h2 flag `{other}`"))),
        }
    }
    Ok(Some(o))
}

/// Fails early, naming the missing tool, before anything is built or started.
fn preflight(o: &Options) -> Result<()> {
    let mut needed = vec!["h2load", "curl", "openssl"];
    if o.targets.contains(&Target::Nginx) {
        needed.push(NGINX);
    }
    if o.targets.contains(&Target::H2o) {
        needed.push(H2O);
    }
    if o.callgrind {
        needed.push("valgrind");
    }
    for tool in needed {
        let present = if tool.starts_with('/') {
            Path::new(tool).is_file()
        } else {
            util::which(tool).is_some()
        };
        if !present {
            return Err(Error::Missing {
                what: format!("`{tool}` is not installed"),
                hint: if tool == "valgrind" {
                    "apt-get install valgrind, or leave out --callgrind".into()
                } else {
                    "run `cargo xtask peers`".into()
                },
            });
        }
    }
    Ok(())
}

fn can_pin() -> bool {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    cpus >= 2 && util::succeeds(Command::new("taskset").args(["-c", SERVER_CPU, "true"]))
}

/// Builds hyper-h2 (release, the peers' profile, benches/peers/target) and
/// returns its binary.
fn build_hyper() -> Result<PathBuf> {
    let root = util::workspace_root();
    let target_dir = root.join("benches/peers/target");
    util::run(
        util::cargo()
            .args([
                "build",
                "--release",
                "--manifest-path",
                "benches/peers/Cargo.toml",
            ])
            .args(["-p", "hyper-h2"])
            .current_dir(&root)
            .env("CARGO_TARGET_DIR", &target_dir),
    )?;
    let bin = target_dir.join("release/hyper-h2");
    if bin.is_file() {
        Ok(bin)
    } else {
        Err(Error::Missing {
            what: format!("{} after the build", bin.display()),
            hint: "check the build output".into(),
        })
    }
}

/// The last word of the first line a `--version` prints: `h2o version 2.2.5`
/// -> `2.2.5`, `h2load nghttp2/1.52.0` -> `nghttp2/1.52.0`.
fn last_word(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout);
            text.lines()
                .next()
                .and_then(|l| l.split_whitespace().last())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

/// A package's version in a Cargo.lock, `?` when absent.
fn locked_version(lock: &Path, name: &str) -> String {
    let text = fs::read_to_string(lock).unwrap_or_default();
    let header = format!("name = \"{name}\"\n");
    text.split("[[package]]")
        .find(|p| p.trim_start().starts_with(header.trim_end()))
        .and_then(|p| p.lines().find_map(|l| l.strip_prefix("version = \"")))
        .map_or("?".into(), |v| v.trim_end_matches('"').to_string())
}

/// `cargo xtask bench h2`.
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
    let root = util::workspace_root();
    let out_dir = root
        .join("target/bench")
        .join(format!("{date}-{}", commit.trim_end_matches("-dirty")));
    let work = root.join("target/bench/h2");
    util::create_dir(&out_dir)?;
    util::create_dir(&work)?;
    leftovers::sweep(&work);

    let has = |t: Target| o.targets.contains(&t);
    let runs = o.rounds as usize * o.shapes.len() * o.targets.len();
    let per_run_ms = match o.length {
        Length::Millis(ms) => ms,
        Length::Requests(_) => 0,
    } + o.latency_ms
        + 300;
    println!(
        "==> {runs} measured runs (+ as many latency runs), about {} s of load",
        runs as u64 * per_run_ms / 1000
    );
    let steps = 1
        + usize::from(has(Target::Flare) || o.callgrind)
        + usize::from(has(Target::Hyper))
        + 2
        + runs
        + usize::from(o.callgrind)
        + 1;
    let mut progress = Progress::new(steps);
    let cert = progress.step("certificate", || certificate(&out_dir.join("h2-cert")))?;
    let flare_bin = if has(Target::Flare) || o.callgrind {
        Some(progress.step("build flare", server::build_flare)?)
    } else {
        None
    };
    let hyper_bin = if has(Target::Hyper) {
        Some(progress.step("build hyper-h2", build_hyper)?)
    } else {
        None
    };
    let mut servers = progress.step("start servers", || {
        let start = Start {
            flare: flare_bin.as_deref(),
            hyper: hyper_bin.as_deref(),
            cert: &cert,
            work: &work,
            logs: &out_dir,
            cpu: server_cpu,
        };
        let mut v = Vec::new();
        for &t in &o.targets {
            let s = H2Server::start(t, &start)?;
            println!(
                "    {} on h2c 127.0.0.1:{} and TLS 127.0.0.1:{} (pids {:?})",
                s.name(),
                s.plain_port,
                s.tls_port,
                s.pids()
            );
            v.push(s);
        }
        Ok(v)
    })?;
    progress.step("integrity gate", || {
        servers.iter().try_for_each(gate::check)
    })?;

    let mut rounds = Vec::new();
    let clk_tck = procfs::clock_ticks_per_sec();
    for index in 1..=o.rounds {
        for &shape in &o.shapes {
            for s in servers.iter_mut() {
                let step = format!("round {index}/{} {} {}", o.rounds, shape.name(), s.name());
                let round = progress.step(&step, || {
                    measure(s, shape, index, &o, client_cpu, &work, clk_tck)
                })?;
                rounds.push(round);
            }
        }
    }
    let commands = commands(args, &servers, &out_dir.join("h2-cert"), &o, pinned_run);
    servers.clear();
    leftovers::clear(&work);

    let cg = if o.callgrind {
        let bin = flare_bin.as_deref().ok_or_else(|| Error::Missing {
            what: "flare binary".into(),
            hint: "the build step did not run".into(),
        })?;
        Some(progress.step("callgrind flare", || {
            callgrind::measure(bin, &out_dir.join("h2-callgrind"))
        })?)
    } else {
        None
    };

    progress.step("report", || {
        let summaries = report::summarize(&rounds, clk_tck);
        let goals = report::goals(&summaries);
        let other = report::other_load(&rounds, clk_tck);
        println!();
        print!("{}", render_text(&report::main_rows(&summaries)));
        println!();
        print!("{}", render_text(&report::ratio_rows(&summaries, &goals)));
        println!(
            "\n    other processes used {:.0}% of a CPU on average during the runs, {:.0}% in the busiest",
            other.0, other.1
        );
        if let Some(c) = cg {
            println!("    flare: {:.0} instructions per request (callgrind)", c.per_request());
        }
        let length = match o.length {
            Length::Millis(ms) => format!("{} s each (`h2load -D`)", ms as f64 / 1000.0),
            Length::Requests(n) => format!("{n} requests each (`h2load -n`)"),
        };
        let info = RunInfo {
            when: format!("{date} {time} UTC"),
            commit: commit.clone(),
            cpu_model: facts::cpu_model(),
            kernel: facts::kernel(),
            cores: facts::cores(),
            clk_tck,
            pinned: pinned_run,
            commands,
            settings: settings(&o, &length, &root),
        };
        let extras = Extras {
            callgrind: cg,
            length,
            latency_ms: o.latency_ms,
            rounds: o.rounds,
        };
        let json = out_dir.join("h2.json");
        util::write_file(
            &json,
            &report::to_json(&info, &rounds, &summaries, &goals, &extras, clk_tck).render(),
        )?;
        println!("    results: {}", json.display());
        if o.docs {
            let doc = root.join("docs/benchmark.md");
            let old = fs::read_to_string(&doc).ok();
            let section = report::section(&info, &summaries, &goals, &extras, other);
            let new = super::publish::splice_marked(
                old.as_deref(),
                report::START,
                report::END,
                &section,
            );
            util::write_file(&doc, &new)?;
            let caption = format!(
                "{}, commit {}, {} ({} cores), Linux {}; median of {} round(s), whiskers +-1 sigma",
                info.when, info.commit, info.cpu_model, info.cores, info.kernel, o.rounds
            );
            let chart = root.join("docs/benchmark-h2.svg");
            util::write_file(&chart, &svg::chart(&summaries, &caption))?;
            println!("    updated: {} and {}", doc.display(), chart.display());
        }
        Ok(())
    })?;
    println!(
        "==> bench h2 done in {}",
        util::fmt_duration(progress.elapsed())
    );
    Ok(())
}

/// One measured run of `s` in `shape`, then its latency run.
fn measure(
    s: &mut H2Server,
    shape: Shape,
    index: u32,
    o: &Options,
    client_cpu: Option<&str>,
    work: &Path,
    clk_tck: u64,
) -> Result<Round> {
    let port = s.port(shape.tls).to_string();
    let mut cmd = pinned(client_cpu, "h2load");
    cmd.args(h2load_args(shape, o.length, &port, None));
    println!("    $ {}", util::describe(&cmd));
    let (busy0, own0) = (procfs::machine_busy(), procfs::self_and_children());
    let before = s.cpu()?;
    let started = Instant::now();
    let raw = util::output(&mut cmd).map_err(|e| s.fail(e.to_string()))?;
    let secs = started.elapsed().as_secs_f64();
    let after = s.cpu()?;
    let (busy1, own1) = (procfs::machine_busy(), procfs::self_and_children());
    let report = parse_h2load(&raw)?;
    report
        .check(shape)
        .map_err(|e| s.fail(format!("{}: {e}", shape.name())))?;
    let cpu = after.since(before);
    let other = busy1
        .saturating_sub(busy0)
        .saturating_sub(cpu.user + cpu.system)
        .saturating_sub(own1.saturating_sub(own0));

    let log = work.join(format!("latency-{}-{}.tsv", s.name(), shape.name()));
    let mut lat_cmd = pinned(client_cpu, "h2load");
    lat_cmd.args(h2load_args(
        shape,
        Length::Millis(o.latency_ms),
        &port,
        Some(&log),
    ));
    let logged = util::output(&mut lat_cmd)
        .map_err(|e| s.fail(e.to_string()))
        .and_then(|raw| {
            parse_h2load(&raw)?
                .check(shape)
                .map_err(|e| s.fail(format!("{} latency run: {e}", shape.name())))?;
            Ok((raw, latency_from_log(&log)?))
        });
    // The log is tens of MB; it goes whatever happened.
    let _ = fs::remove_file(&log);
    let (latency_raw, latency) = logged?;

    let round = Round {
        target: s.target,
        shape,
        index,
        report,
        cpu,
        secs,
        other,
        latency,
        raw,
        latency_raw,
    };
    let pct = round.other_pct(clk_tck);
    let per_req = |t: u64| t as f64 * 1e6 / clk_tck as f64 / round.report.succeeded.max(1) as f64;
    println!(
        "    {:.0} req/s, {} requests, CPU {:.2} us/req ({} user + {} sys ticks), p50 {} p99 {}; \
         other processes {pct:.0}% of a CPU",
        round.report.rps,
        round.report.succeeded,
        per_req(cpu.user + cpu.system),
        cpu.user,
        cpu.system,
        super::report::fmt_latency(round.latency.p50_us),
        super::report::fmt_latency(round.latency.p99_us),
    );
    Ok(round)
}

/// What the run used, for the section's settings list.
fn settings(o: &Options, length: &str, root: &Path) -> Vec<(String, String)> {
    let lock = root.join("benches/peers/Cargo.lock");
    let mut v = vec![
        ("rounds".to_string(), o.rounds.to_string()),
        ("measured runs".into(), length.to_string()),
        (
            "latency run".into(),
            format!("{} ms with `--log-file`", o.latency_ms),
        ),
        ("server workers / threads".into(), "1".into()),
        (
            "certificate".into(),
            "ECDSA P-256, self-signed, made fresh for the run (the same file for every server)"
                .into(),
        ),
        (
            "h2load".into(),
            last_word(Command::new("h2load").arg("--version")),
        ),
    ];
    for t in &o.targets {
        let (name, version) = match t {
            Target::Flare => continue,
            Target::Hyper => (
                "hyper",
                format!(
                    "{} (h2 {}, tokio {}, rustls {} on ring; release, fat LTO, 1 codegen unit)",
                    locked_version(&lock, "hyper"),
                    locked_version(&lock, "h2"),
                    locked_version(&lock, "tokio"),
                    locked_version(&lock, "rustls"),
                ),
            ),
            Target::H2o => (
                "h2o",
                format!(
                    "{} (num-threads 1, file.file for both routes, no access log)",
                    last_word(Command::new(H2O).arg("--version"))
                ),
            ),
            Target::Nginx => (
                "nginx",
                format!(
                    "{} (1 worker, `return 200`, no access log)",
                    facts::version(Command::new(NGINX).arg("-v"))
                ),
            ),
        };
        v.push((name.into(), version));
    }
    v
}

/// The exact commands of the run, with ports spelled `PORT` and `TLS_PORT`.
fn commands(
    args: &[String],
    servers: &[H2Server],
    cert_dir: &Path,
    o: &Options,
    pinned_run: bool,
) -> Vec<(String, String)> {
    let root = format!("{}/", util::workspace_root().display());
    let invocation = format!("cargo xtask bench h2 {}", args.join(" "));
    let mut out = vec![
        ("this run".to_string(), invocation.trim_end().to_string()),
        ("certificate".into(), servers::CERT_COMMAND.into()),
    ];
    if o.targets.contains(&Target::Flare) || o.callgrind {
        out.push((
            "build flare".into(),
            "cargo build --profile bench-abort -p flare --example server".into(),
        ));
    }
    if o.targets.contains(&Target::Hyper) {
        out.push((
            "build hyper-h2".into(),
            "CARGO_TARGET_DIR=benches/peers/target cargo build --release \
             --manifest-path benches/peers/Cargo.toml -p hyper-h2"
                .into(),
        ));
    }
    for s in servers {
        let cert_dir = format!("{}", cert_dir.display());
        let cmd = s
            .command
            .replace(&cert_dir, "DIR")
            .replace(&root, "")
            .replace(&format!("127.0.0.1:{}", s.tls_port), "127.0.0.1:TLS_PORT")
            .replace(&format!("127.0.0.1:{}", s.plain_port), "127.0.0.1:PORT");
        out.push((format!("{} (server)", s.name()), cmd));
    }
    out.push((
        "integrity gate (each server, /plaintext and /json)".into(),
        format!("{}\n{}", gate::shown(false), gate::shown(true)),
    ));
    let pin = if pinned_run {
        format!("taskset -c {CLIENT_CPU} ")
    } else {
        String::new()
    };
    for &shape in &o.shapes {
        let port = if shape.tls { "TLS_PORT" } else { "PORT" };
        out.push((
            format!("{} (measured, then latency)", shape.name()),
            format!(
                "{pin}h2load {}\n{pin}h2load {}",
                h2load_args(shape, o.length, port, None).join(" "),
                h2load_args(
                    shape,
                    Length::Millis(o.latency_ms),
                    port,
                    Some(Path::new("LOG.tsv"))
                )
                .join(" ")
            ),
        ));
    }
    if o.callgrind {
        out.push((
            "callgrind (twice: -n 2000 and -n 22000)".into(),
            format!(
                "{}\nh2load {}",
                callgrind::command(
                    "target/bench-abort/examples/server",
                    "PORT",
                    "callgrind.N.out"
                ),
                h2load_args(callgrind::SHAPE, Length::Requests(2_000), "PORT", None).join(" ")
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
    fn defaults_and_flags() {
        let o = parse(&[]).expect("parses").expect("not help");
        assert_eq!(
            (o.rounds, o.length, o.latency_ms),
            (3, Length::Millis(4000), 1000)
        );
        assert_eq!(o.targets, Target::ALL);
        assert_eq!(o.shapes, Shape::ALL);
        assert!(o.docs && !o.callgrind);
        let o = parse(&args(&[
            "--quick",
            "--servers",
            "nginx,flare",
            "--shapes",
            "tls",
            "--callgrind",
            "--no-docs",
        ]))
        .expect("parses")
        .expect("not help");
        assert_eq!(
            (o.rounds, o.length, o.latency_ms),
            (1, Length::Millis(2000), 500)
        );
        assert_eq!(o.targets, [Target::Flare, Target::Nginx]);
        assert_eq!(o.shapes, Shape::ALL[3..]);
        assert!(!o.docs && o.callgrind);
        let o = parse(&args(&["--requests", "1000", "--rounds", "5"]))
            .expect("parses")
            .expect("not help");
        assert_eq!((o.rounds, o.length), (5, Length::Requests(1000)));
        assert!(parse(&args(&["--help"])).expect("help").is_none());
        for bad in [
            &["--rounds"][..],
            &["--rounds", "0"],
            &["--duration", "x"],
            &["--latency-ms", "5"],
            &["--servers", "apache"],
            &["--shapes", "h3-1x1"],
            &["--tls"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn help_names_every_flag_the_parser_takes() {
        for flag in [
            "--quick",
            "--rounds",
            "--duration",
            "--requests",
            "--latency-ms",
            "--servers",
            "--shapes",
            "--callgrind",
            "--no-docs",
        ] {
            assert!(HELP.contains(flag), "{flag}");
        }
        for s in Shape::ALL {
            assert!(HELP.contains(&s.name()), "{}", s.name());
        }
    }

    #[test]
    fn versions_from_a_lock_file() {
        let dir = std::env::temp_dir().join(format!("xtask-h2-lock-{}", std::process::id()));
        util::create_dir(&dir).expect("dir");
        let lock = dir.join("Cargo.lock");
        util::write_file(
            &lock,
            "[[package]]\nname = \"h2\"\nversion = \"0.4.21\"\n\n[[package]]\nname = \"hyper\"\nversion = \"1.12.0\"\n\n[[package]]\nname = \"hyper-util\"\nversion = \"0.1.21\"\n",
        )
        .expect("write");
        assert_eq!(locked_version(&lock, "hyper"), "1.12.0");
        assert_eq!(locked_version(&lock, "h2"), "0.4.21");
        assert_eq!(locked_version(&lock, "tokio"), "?");
        let _ = fs::remove_dir_all(&dir);
    }
}

//! `cargo xtask bench` (no suite name) and `cargo xtask bench --quick`:
//! flare against the servers users would pick instead (nginx, hyper,
//! axum, actix-web, may_minihttp), TechEmpower plaintext and JSON, with
//! server CPU time per request as the headline figure.

mod doc;
mod gate;
mod load;
mod stats;
mod svg;
mod targets;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::facts;
use super::procfs;
use super::server::pinned;
use crate::error::{Error, Result};
use crate::util::{self, Progress};
use load::{Config, Measured};
use stats::Run;
use targets::{Running, Target};

const HELP: &str = "\
cargo xtask bench [--quick] [OPTIONS]

The full suite: flare's example server, on epoll (flare) and with
--io-uring (flare-uring), against nginx (Debian) and the crates.io peers
of benches/peers (hyper-ct, hyper-mt, axum, actix-web, may-minihttp), one
worker each, server pinned to CPU 1 and the client to CPU 0. An integrity gate first asks every target for /plaintext and /json
and leaves out any that breaks the TechEmpower rules. Then, per config,
rounds alternate targets (A B C ... A B C):

  keepalive   wrk, 64 connections, GET /plaintext
  pipelined   wrk, 64 connections, 16 requests per write
  json        wrk, 64 connections, GET /json
  close       wrk, 64 connections, `Connection: close` (a connection per request)
  rate        oha --latency-correction at 80% of the slowest peer's
              keep-alive req/s, capped at 50% of oha's own closed-loop
              ceiling on one core (oha from target/tools/bin or PATH:
              `cargo install oha --locked --root target/tools`)

Per run: req/s, server CPU us/request (user, system; /proc of the server's
process tree over the run / completed requests), p50, p99, p99.9; reported
as median and sigma over rounds. Writes target/bench/DATE-SHA/suite.json
with the raw client output and machine facts, regenerates the section
between <!-- bench:suite:start/end --> of docs/benchmark.md and
docs/benchmark.svg.

Options:
  --quick            1 round of 3 s, keepalive and pipelined only (< 5 min)
  --rounds N         rounds per target and config (default 5)
  --duration SECS    length of each run (default 8)
  --targets LIST     comma list (default all): flare,flare-uring,nginx,
                     hyper-ct,hyper-mt,axum,actix-web,may-minihttp
  --configs LIST     comma list (default all): keepalive,pipelined,json,
                     close,rate
  --no-docs          do not touch docs/benchmark.md or docs/benchmark.svg
";

const SERVER_CPU: &str = "1";
const CLIENT_CPU: &str = "0";
const WORKERS: usize = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Options {
    rounds: u32,
    duration: u64,
    targets: Vec<Target>,
    configs: Vec<Config>,
    docs: bool,
}

fn parse(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        rounds: 5,
        duration: 8,
        targets: Target::ALL.to_vec(),
        configs: Config::ALL.to_vec(),
        docs: true,
    };
    let number = |flag: &str, v: Option<&String>| -> Result<u64> {
        v.and_then(|v| v.parse::<u64>().ok())
            .filter(|&n| n > 0 && n <= 3600)
            .ok_or_else(|| Error::Usage(format!("{flag} wants a number from 1 to 3600")))
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(None),
            "--quick" => {
                o.rounds = 1;
                o.duration = 3;
                o.configs = vec![Config::KeepAlive, Config::Pipelined];
            }
            "--rounds" => o.rounds = number(arg, it.next())? as u32,
            "--duration" => o.duration = number(arg, it.next())?,
            "--targets" => o.targets = list(arg, it.next(), Target::from_name)?,
            "--configs" => o.configs = list(arg, it.next(), Config::from_name)?,
            "--no-docs" => o.docs = false,
            other => return Err(Error::Usage(format!("unknown bench flag `{other}`"))),
        }
    }
    o.targets.sort();
    o.configs.sort();
    Ok(Some(o))
}

/// A comma list of names, each known to `lookup`, without repeats.
fn list<T: PartialEq>(
    flag: &str,
    value: Option<&String>,
    lookup: fn(&str) -> Option<T>,
) -> Result<Vec<T>> {
    let value = value.ok_or_else(|| Error::Usage(format!("{flag} needs a comma list")))?;
    let mut out = Vec::new();
    for name in value.split(',').map(str::trim) {
        let item =
            lookup(name).ok_or_else(|| Error::Usage(format!("{flag}: unknown name `{name}`")))?;
        if !out.contains(&item) {
            out.push(item);
        }
    }
    Ok(out)
}

/// A server that passed the gate, and whether it may take the churn config.
struct Active {
    server: Running,
    honors_close: bool,
}

/// `cargo xtask bench [--quick] [OPTIONS]`.
pub fn main(args: &[String]) -> Result<()> {
    let Some(o) = parse(args)? else {
        print!("{HELP}");
        return Ok(());
    };
    for tool in ["wrk", "taskset"] {
        if util::which(tool).is_none() {
            return Err(Error::Missing {
                what: format!("`{tool}` is not installed"),
                hint: "run `cargo xtask peers`".into(),
            });
        }
    }
    let pinned_ok = can_pin();
    let (server_cpu, client_cpu) = if pinned_ok {
        (Some(SERVER_CPU), Some(CLIENT_CPU))
    } else {
        println!("warning: fewer than 2 usable CPUs; nothing is pinned");
        (None, None)
    };
    let (date, time) = facts::utc_now();
    let commit = facts::commit();
    let out_dir = util::workspace_root()
        .join("target/bench")
        .join(format!("{date}-{}", commit.trim_end_matches("-dirty")));
    util::create_dir(&out_dir)?;

    let mut skipped = Vec::new();
    let oha = oha_binary();
    if o.configs.contains(&Config::Rate) && oha.is_none() {
        skipped.push((
            Config::Rate,
            "oha is not installed (`cargo install oha --locked --root target/tools`); \
             the constant-rate latency run is missing, not replaced"
                .to_string(),
        ));
    }
    if o.targets.contains(&Target::Nginx) && util::which("nginx").is_none() {
        return Err(Error::Missing {
            what: "nginx is not installed".into(),
            hint: "run `cargo xtask peers` or leave it out with --targets".into(),
        });
    }

    let mut setup = Progress::new(2);
    let bins = setup.step("build flare and the peers", || targets::build(&o.targets))?;
    let mut gate_rows = Vec::new();
    let active = setup.step("start servers and run the integrity gate", || {
        let mut active = Vec::new();
        for &t in &o.targets {
            match Running::start(t, &bins, &out_dir, server_cpu, WORKERS) {
                Err(e) => {
                    println!("    {}: did not start: {e}", t.name());
                    gate_rows.push((t, vec![format!("did not start: {e}")], false));
                }
                Ok(server) => {
                    let v = gate::check(server.addr());
                    if v.problems.is_empty() {
                        println!(
                            "    {} passed on port {} (closes on Connection: close: {})",
                            t.name(),
                            server.port,
                            v.honors_close
                        );
                        active.push(Active {
                            server,
                            honors_close: v.honors_close,
                        });
                    } else {
                        println!("    {} LEFT OUT: {}", t.name(), v.problems.join("; "));
                    }
                    gate_rows.push((t, v.problems, v.honors_close));
                }
            }
        }
        Ok(active)
    })?;
    let mut active = active;
    if active.is_empty() {
        return Err(Error::Server {
            name: "every target".into(),
            detail: "none passed the integrity gate".into(),
        });
    }

    let clk_tck = procfs::clock_ticks_per_sec();
    let configs: Vec<Config> = o
        .configs
        .iter()
        .copied()
        .filter(|c| !skipped.iter().any(|(s, _)| s == c))
        .collect();
    let per_round = |c: &Config| {
        active
            .iter()
            .filter(|a| *c != Config::Close || a.honors_close)
            .count()
    };
    let calibration = usize::from(configs.contains(&Config::Rate));
    let total = configs.iter().map(per_round).sum::<usize>() * o.rounds as usize + calibration + 1;
    let mut progress = Progress::new(total);
    let mut runs: Vec<Run> = Vec::new();
    let mut failed = Vec::new();
    let mut rate_used = None;
    let mut rate_note = None;
    for &config in &configs {
        let rate = if config == Config::Rate {
            let summaries = stats::summarize(&runs, clk_tck);
            let peers_rate = stats::constant_rate(&summaries, load::RATE_SHARE);
            let fastest = summaries
                .iter()
                .filter(|s| s.config == Config::KeepAlive)
                .max_by(|a, b| a.rps.median.total_cmp(&b.rps.median))
                .and_then(|s| active.iter().position(|a| a.server.target == s.target));
            match (peers_rate, fastest, oha.as_deref()) {
                (Some(r), Some(i), Some(oha)) => {
                    let server = &active[i].server;
                    let ceiling = match progress.step("rate: oha's closed-loop ceiling", || {
                        client_ceiling(oha, client_cpu, o.duration.min(3), server, &out_dir)
                    }) {
                        Ok(c) => c,
                        Err(e) => {
                            skipped.push((config, format!("oha's ceiling run failed: {e}")));
                            continue;
                        }
                    };
                    let cap = (ceiling * load::CLIENT_SHARE).round() as u64;
                    let chosen = r.min(cap).max(1);
                    let note = format!(
                        "{:.0}% of the slowest peer's median keep-alive req/s is {r}; oha's own \
                         closed-loop ceiling from one core is {ceiling:.0} req/s (against {}), so \
                         the offered rate is {chosen} req/s{}",
                        load::RATE_SHARE * 100.0,
                        server.target.name(),
                        if chosen < r {
                            format!(
                                ", capped at {:.0}% of that ceiling so the client is not the \
                                 bottleneck",
                                load::CLIENT_SHARE * 100.0
                            )
                        } else {
                            String::new()
                        }
                    );
                    println!("    {note}");
                    rate_used = Some(chosen);
                    rate_note = Some(note);
                    Some(chosen)
                }
                _ => {
                    skipped.push((
                        config,
                        "needs the keep-alive figures of at least one peer".into(),
                    ));
                    continue;
                }
            }
        } else {
            None
        };
        for round in 1..=o.rounds {
            for a in active.iter_mut() {
                let name = format!(
                    "{} round {round}/{} {}",
                    config.name(),
                    o.rounds,
                    a.server.target.name()
                );
                if config == Config::Close && !a.honors_close {
                    println!(
                        "==> {name}: skipped (keeps the connection after `Connection: close`)"
                    );
                    continue;
                }
                let raw = format!("{}-{}-r{round}.txt", config.name(), a.server.target.name());
                let client = Client {
                    cpu: client_cpu,
                    oha: oha.as_deref(),
                    out_dir: &out_dir,
                };
                let result = progress.step(&name, || {
                    client.measure(&mut a.server, config, round, o.duration, rate, &raw)
                });
                match result {
                    Ok(run) => runs.push(run),
                    Err(e) => {
                        println!("    left out: {e}");
                        failed.push((a.server.target, config, round, e.to_string()));
                    }
                }
            }
        }
    }
    let invocation = format!("cargo xtask bench {}", args.join(" "));
    let commands = commands(invocation.trim_end(), &active, &o, pinned_ok, rate_used);
    for a in active.drain(..) {
        drop(a.server);
    }

    progress.step("report", || {
        let summaries = stats::summarize(&runs, clk_tck);
        let mut settings = vec![
            ("server workers".to_string(), WORKERS.to_string()),
            ("connections".into(), load::CONNECTIONS.to_string()),
            ("pipeline depth".into(), load::DEPTH.to_string()),
            ("run length".into(), format!("{} s", o.duration)),
            ("rounds".into(), o.rounds.to_string()),
            ("wrk".into(), facts::version(Command::new("wrk").arg("-v"))),
        ];
        if let Some(oha) = &oha {
            settings.push((
                "oha".into(),
                facts::version(Command::new(oha).arg("--version")),
            ));
        }
        if let Some(r) = rate_used {
            settings.push(("constant rate".into(), format!("{r} req/s")));
        }
        if o.targets.contains(&Target::Nginx) {
            settings.push((
                "nginx".into(),
                facts::version(Command::new(super::server::NGINX).arg("-v")),
            ));
        }
        let info = doc::RunInfo {
            when: format!("{date} {time} UTC"),
            commit: commit.clone(),
            cpu_model: facts::cpu_model(),
            kernel: facts::kernel(),
            cores: facts::cores(),
            clk_tck,
            pinned: pinned_ok,
            settings,
            commands,
            gate: gate_rows,
            skipped,
            failed,
            rate: rate_used,
            rate_note,
        };
        write_report(&o, &out_dir, &info, &runs, &summaries)
    })?;
    println!(
        "==> bench suite done in {}",
        util::fmt_duration(progress.elapsed())
    );
    Ok(())
}

/// The client side of one run.
struct Client<'a> {
    cpu: Option<&'a str>,
    oha: Option<&'a Path>,
    out_dir: &'a Path,
}

impl Client<'_> {
    /// One client run with the server's CPU time read right before and
    /// after; a run with wrong answers or no requests is an error.
    fn measure(
        &self,
        server: &mut Running,
        config: Config,
        round: u32,
        secs: u64,
        rate: Option<u64>,
        raw: &str,
    ) -> Result<Run> {
        let (program, args) = match (config, rate, self.oha) {
            (Config::Rate, Some(rate), Some(oha)) => (
                oha.to_string_lossy().into_owned(),
                load::oha_args(secs, rate, server.port),
            ),
            (Config::Rate, _, _) => {
                return Err(Error::Missing {
                    what: "oha or the constant rate".into(),
                    hint: "cargo install oha --locked --root target/tools".into(),
                })
            }
            _ => ("wrk".to_string(), config.wrk_args(secs, server.port)),
        };
        let mut cmd = pinned(self.cpu, &program);
        cmd.args(&args).current_dir(util::workspace_root());
        println!("    $ {}", util::describe(&cmd));
        let before = server.cpu()?;
        let text = util::output(&mut cmd)?;
        let after = server.cpu()?;
        util::write_file(&self.out_dir.join(raw), &text)?;
        let measured: Measured = if config == Config::Rate {
            load::parse_oha(&text)?
        } else {
            load::parse_wrk(&text)?
        };
        if measured.requests == 0 {
            return Err(server.fail("no request completed"));
        }
        if measured.bad > 0 {
            return Err(server.fail(format!("{} non-2xx responses", measured.bad)));
        }
        let cpu = after.since(before);
        let run = Run {
            target: server.target,
            config,
            round,
            measured,
            cpu,
            raw: raw.to_string(),
        };
        let (user, sys) = run.cpu_us(procfs::clock_ticks_per_sec());
        println!(
            "    {:.0} req/s, CPU {:.3} us/req ({user:.3} user + {sys:.3} sys), p50 {:.0} us, \
             p99 {:.0} us, p99.9 {:.0} us, {} errors",
            run.measured.rps,
            user + sys,
            run.measured.p50_us,
            run.measured.p99_us,
            run.measured.p999_us,
            run.measured.errors
        );
        Ok(run)
    }
}

/// What oha pushes closed-loop (no rate limit) from the client CPU for
/// `secs` seconds against `server`: the ceiling of any constant rate.
fn client_ceiling(
    oha: &Path,
    cpu: Option<&str>,
    secs: u64,
    server: &Running,
    out_dir: &Path,
) -> Result<f64> {
    let mut cmd = pinned(cpu, &oha.to_string_lossy());
    cmd.args(load::oha_closed_args(secs, server.port));
    println!("    $ {}", util::describe(&cmd));
    let text = util::output(&mut cmd)?;
    util::write_file(&out_dir.join("rate-oha-ceiling.txt"), &text)?;
    let m = load::parse_oha(&text)?;
    if m.requests == 0 || m.bad > 0 {
        return Err(server.fail("oha's closed-loop run got no or non-2xx answers"));
    }
    Ok(m.rps)
}

/// oha from `target/tools/bin` (where the help says to install it), else
/// from PATH.
fn oha_binary() -> Option<PathBuf> {
    let local = util::workspace_root().join("target/tools/bin/oha");
    if local.is_file() {
        Some(local)
    } else {
        util::which("oha")
    }
}

fn can_pin() -> bool {
    facts::cores() >= 2 && util::succeeds(Command::new("taskset").args(["-c", SERVER_CPU, "true"]))
}

fn write_report(
    o: &Options,
    out_dir: &Path,
    info: &doc::RunInfo,
    runs: &[Run],
    summaries: &[stats::Summary],
) -> Result<()> {
    let json = out_dir.join("suite.json");
    util::write_file(&json, &doc::to_json(info, runs, summaries).render())?;
    let mut facts_text = format!(
        "cpu: {}\nkernel: {}\ncores: {}\nclk_tck: {}\ncommit: {}\nwhen: {}\n",
        info.cpu_model, info.kernel, info.cores, info.clk_tck, info.commit, info.when
    );
    for (k, v) in &info.settings {
        facts_text.push_str(&format!("{k}: {v}\n"));
    }
    util::write_file(&out_dir.join("facts.txt"), &facts_text)?;
    let section = doc::section(info, summaries);
    println!();
    println!("{section}");
    println!();
    println!("    results: {}", json.display());
    if o.docs {
        let docs = util::workspace_root().join("docs");
        let page = docs.join("benchmark.md");
        let old = fs::read_to_string(&page).ok();
        util::write_file(&page, &doc::splice(old.as_deref(), &section))?;
        util::write_file(
            &docs.join("benchmark.svg"),
            &svg::chart(summaries, &info.caption()),
        )?;
        println!("    updated: {} and benchmark.svg", page.display());
    }
    Ok(())
}

/// The exact commands of the run, ports spelled `PORT`.
fn commands(
    invocation: &str,
    active: &[Active],
    o: &Options,
    pinned: bool,
    rate: Option<u64>,
) -> Vec<(String, String)> {
    let mut out = vec![("this run".to_string(), invocation.to_string())];
    if o.targets.iter().any(|t| t.is_flare()) {
        out.push((
            "build flare".into(),
            "cargo build --profile bench-abort -p flare --example server".into(),
        ));
    }
    if o.targets.iter().any(|t| t.is_cargo_peer()) {
        out.push((
            "build the peers (own workspace, LTO, panic = abort)".into(),
            format!(
                "CARGO_TARGET_DIR=benches/peers/target cargo build --release --manifest-path {}",
                targets::PEERS_MANIFEST
            ),
        ));
    }
    let root = format!("{}/", util::workspace_root().display());
    for a in active {
        let cmd = a
            .server
            .command
            .replace(&root, "")
            .replace(&a.server.port.to_string(), "PORT");
        out.push((format!("{} (server)", a.server.target.name()), cmd));
    }
    let pin = if pinned {
        format!("taskset -c {CLIENT_CPU} ")
    } else {
        String::new()
    };
    for &config in &o.configs {
        let line = if config == Config::Rate {
            let rate = rate.map_or("RATE".to_string(), |r| r.to_string());
            let args = load::oha_args(o.duration, 1, 0)
                .join(" ")
                .replace("-q 1 ", &format!("-q {rate} "))
                .replace(":0/", ":PORT/");
            format!("{pin}target/tools/bin/oha {args}")
        } else {
            let args: Vec<String> = config
                .wrk_args(o.duration, 0)
                .into_iter()
                .map(|a| {
                    if a.contains(' ') {
                        format!("'{a}'")
                    } else {
                        a.replace(":0/", ":PORT/")
                    }
                })
                .collect();
            format!("{pin}wrk {}", args.join(" "))
        };
        out.push((format!("client, {}", config.name()), line));
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
        assert_eq!(o.rounds, 5);
        assert_eq!(o.targets, Target::ALL);
        assert_eq!(o.configs, Config::ALL);
        // 8 targets x 5 configs x 5 rounds x 8 s = 26.7 min of load: the
        // full run fits in 45 minutes with builds and gaps.
        let load_secs = o.targets.len() * o.configs.len() * o.rounds as usize * o.duration as usize;
        assert!(load_secs <= 30 * 60, "{load_secs} s");
    }

    #[test]
    fn quick_is_short() {
        let o = parse(&args(&["--quick"]))
            .expect("parses")
            .expect("not help");
        assert_eq!((o.rounds, o.duration), (1, 3));
        assert_eq!(o.configs, [Config::KeepAlive, Config::Pipelined]);
        let load_secs = o.targets.len() * o.configs.len() * o.duration as usize;
        assert!(load_secs <= 120, "{load_secs} s");
    }

    #[test]
    fn lists_and_bad_flags() {
        let o = parse(&args(&[
            "--targets",
            "nginx,flare,nginx",
            "--configs",
            "json",
        ]))
        .expect("parses")
        .expect("not help");
        assert_eq!(o.targets, [Target::Flare, Target::Nginx]);
        assert_eq!(o.configs, [Config::Json]);
        let o = parse(&args(&["--targets", "nginx,flare-uring,flare"]))
            .expect("parses")
            .expect("not help");
        assert_eq!(
            o.targets,
            [Target::Flare, Target::FlareUring, Target::Nginx]
        );
        for bad in [
            &["--targets", "apache"][..],
            &["--configs"],
            &["--rounds", "0"],
            &["--duration", "x"],
            &["--slow"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
        }
        assert!(parse(&args(&["--help"])).expect("help").is_none());
    }
}

//! Where the suite's results go: `suite.json` in the results folder and
//! the `<!-- bench:suite:start/end -->` section of docs/benchmark.md.

use std::fmt::Write;

use super::load::{Config, CLIENT_SHARE, CONNECTIONS, DEPTH, RATE_SHARE};
use super::stats::{self, Run, Spread, Summary};
use super::svg::kilo;
use super::targets::Target;
use crate::bench::json::Json;
use crate::bench::report::{fmt_latency, render_markdown};

/// Start marker of the suite's section.
pub const START: &str = "<!-- bench:suite:start -->";
/// End marker.
pub const END: &str = "<!-- bench:suite:end -->";

/// Where, when and how the run was made.
pub struct RunInfo {
    /// `YYYY-MM-DD HH:MM UTC`.
    pub when: String,
    /// Short commit, `-dirty` when the tree had changes.
    pub commit: String,
    /// CPU model.
    pub cpu_model: String,
    /// Kernel release.
    pub kernel: String,
    /// Online CPUs.
    pub cores: usize,
    /// Clock ticks per second of the CPU figures.
    pub clk_tck: u64,
    /// Server on CPU 1 and client on CPU 0.
    pub pinned: bool,
    /// `(name, value)` settings.
    pub settings: Vec<(String, String)>,
    /// `(label, command line)`.
    pub commands: Vec<(String, String)>,
    /// The integrity gate per target: `(target, problems, honors close)`.
    pub gate: Vec<(Target, Vec<String>, bool)>,
    /// Why a config did not run (e.g. oha missing).
    pub skipped: Vec<(Config, String)>,
    /// Runs that failed and were left out: `(target, config, round, why)`.
    pub failed: Vec<(Target, Config, u32, String)>,
    /// The constant rate offered, when that config ran.
    pub rate: Option<u64>,
    /// How that rate was chosen.
    pub rate_note: Option<String>,
}

impl RunInfo {
    /// The one-line machine caption of the chart.
    pub fn caption(&self) -> String {
        format!(
            "{}, commit {}, {} ({} cores), Linux {}; median of the rounds, whiskers +-1 sigma",
            self.when, self.commit, self.cpu_model, self.cores, self.kernel
        )
    }
}

fn spread(s: Spread) -> Json {
    Json::obj([
        ("median", Json::Num(s.median)),
        ("sigma", Json::Num(s.sigma)),
    ])
}

/// `suite.json`.
pub fn to_json(info: &RunInfo, runs: &[Run], summaries: &[Summary]) -> Json {
    let pairs = |v: &[(String, String)]| {
        Json::Obj(v.iter().map(|(k, x)| (k.clone(), Json::str(x))).collect())
    };
    let runs = runs
        .iter()
        .map(|r| {
            let (user, sys) = r.cpu_us(info.clk_tck);
            Json::obj([
                ("target", Json::str(r.target.name())),
                ("config", Json::str(r.config.name())),
                ("round", Json::Int(u64::from(r.round))),
                ("requests", Json::Int(r.measured.requests)),
                ("rps", Json::Num(r.measured.rps)),
                ("cpu_user_ticks", Json::Int(r.cpu.user)),
                ("cpu_system_ticks", Json::Int(r.cpu.system)),
                ("cpu_user_us_per_req", Json::Num(user)),
                ("cpu_sys_us_per_req", Json::Num(sys)),
                ("p50_us", Json::Num(r.measured.p50_us)),
                ("p99_us", Json::Num(r.measured.p99_us)),
                ("p999_us", Json::Num(r.measured.p999_us)),
                ("errors", Json::Int(r.measured.errors)),
                ("raw", Json::str(&r.raw)),
            ])
        })
        .collect();
    let sums = summaries
        .iter()
        .map(|s| {
            Json::obj([
                ("target", Json::str(s.target.name())),
                ("config", Json::str(s.config.name())),
                ("rounds", Json::Int(s.rounds as u64)),
                ("rps", spread(s.rps)),
                ("cpu_us_per_req", spread(s.cpu_us)),
                ("user_us_per_req", spread(s.user_us)),
                ("sys_us_per_req", spread(s.sys_us)),
                ("p50_us", spread(s.p50_us)),
                ("p99_us", spread(s.p99_us)),
                ("p999_us", spread(s.p999_us)),
                ("errors", Json::Int(s.errors)),
            ])
        })
        .collect();
    let standings = Target::ALL
        .into_iter()
        .filter(|t| t.is_flare())
        .flat_map(|t| Config::ALL.into_iter().map(move |c| (t, c)))
        .filter_map(|(t, c)| stats::standing(summaries, t, c))
        .map(|st| {
            Json::obj([
                ("target", Json::str(st.target.name())),
                ("config", Json::str(st.config.name())),
                ("cpu_vs_best_peer", Json::Num(st.cpu_vs_best)),
                ("best_cpu_peer", Json::str(st.best_cpu_peer.name())),
                ("user_vs_best_peer", Json::Num(st.user_vs_best)),
                ("best_user_peer", Json::str(st.best_user_peer.name())),
                ("rps_vs_best_peer", Json::Num(st.rps_vs_best)),
                ("best_rps_peer", Json::str(st.best_rps_peer.name())),
            ])
        })
        .collect();
    let gate = info
        .gate
        .iter()
        .map(|(t, problems, close)| {
            Json::obj([
                ("target", Json::str(t.name())),
                ("passed", Json::Bool(problems.is_empty())),
                (
                    "problems",
                    Json::Arr(problems.iter().map(Json::str).collect()),
                ),
                ("honors_connection_close", Json::Bool(*close)),
            ])
        })
        .collect();
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
        ("gate", Json::Arr(gate)),
        (
            "skipped",
            Json::Obj(
                info.skipped
                    .iter()
                    .map(|(c, why)| (c.name().to_string(), Json::str(why)))
                    .collect(),
            ),
        ),
        ("runs", Json::Arr(runs)),
        ("summaries", Json::Arr(sums)),
        ("flare_vs_best_peer", Json::Arr(standings)),
    ])
}

fn pm(s: Spread, f: impl Fn(f64) -> String) -> String {
    if s.sigma > 0.0 {
        format!("{} ± {}", f(s.median), f(s.sigma))
    } else {
        f(s.median)
    }
}

fn us(v: f64) -> String {
    format!("{v:.3}")
}

/// One table for one config.
fn config_table(summaries: &[Summary], config: Config) -> String {
    let rows: Vec<&Summary> = summaries.iter().filter(|s| s.config == config).collect();
    let flare = rows.iter().find(|s| s.target == Target::Flare);
    let mut table = vec![vec![
        "target".to_string(),
        "req/s".into(),
        "CPU us/req".into(),
        "user".into(),
        "sys".into(),
        "p50".into(),
        "p99".into(),
        "p99.9".into(),
        "flare CPU / this".into(),
        "flare req/s / this".into(),
    ]];
    for s in &rows {
        let vs = |f: fn(&Summary) -> f64| match flare {
            Some(fl) if s.target != Target::Flare && f(s) > 0.0 => {
                format!("{:.2}x", f(fl) / f(s))
            }
            _ => String::new(),
        };
        table.push(vec![
            s.target.name().to_string(),
            pm(s.rps, kilo),
            pm(s.cpu_us, us),
            pm(s.user_us, us),
            pm(s.sys_us, us),
            pm(s.p50_us, fmt_latency),
            pm(s.p99_us, fmt_latency),
            pm(s.p999_us, fmt_latency),
            vs(|s| s.cpu_us.median),
            vs(|s| s.rps.median),
        ]);
    }
    render_markdown(&table)
}

/// The goals the suite measures, checked against this run for each flare
/// target (epoll, io_uring) that was measured.
fn goals(summaries: &[Summary]) -> String {
    let mut out = String::new();
    let verdict = |ok: bool| if ok { "met" } else { "**not met**" };
    for who in Target::ALL.into_iter().filter(|t| t.is_flare()) {
        let name = who.name();
        if let Some(st) = stats::standing(summaries, who, Config::KeepAlive) {
            let _ = writeln!(
                out,
                "- {name}, keep-alive: total CPU per request below every peer's: {} \
                 ({name} / best peer {} = {:.2}x).",
                verdict(st.cpu_vs_best < 1.0),
                st.best_cpu_peer.name(),
                st.cpu_vs_best
            );
            let _ = writeln!(
                out,
                "- {name}, keep-alive: user CPU per request at most half the best peer's: {} \
                 ({name} / {} = {:.2}x).",
                verdict(st.user_vs_best <= 0.5),
                st.best_user_peer.name(),
                st.user_vs_best
            );
        }
        if let Some(st) = stats::standing(summaries, who, Config::Pipelined) {
            let _ = writeln!(
                out,
                "- {name}, pipelined x{DEPTH}: total CPU per request at most 0.9x the best \
                 peer's: {} ({name} / {} = {:.2}x).",
                verdict(st.cpu_vs_best <= 0.9),
                st.best_cpu_peer.name(),
                st.cpu_vs_best
            );
        }
        for config in Config::ALL {
            if config == Config::Rate {
                continue; // a fixed offered rate: req/s is not a result there
            }
            if let Some(st) = stats::standing(summaries, who, config) {
                let _ = writeln!(
                    out,
                    "- {name}, {}: req/s at least every peer's: {} ({name} / {} = {:.2}x).",
                    config.name(),
                    verdict(st.rps_vs_best >= 1.0),
                    st.best_rps_peer.name(),
                    st.rps_vs_best
                );
            }
        }
    }
    out
}

/// The section, markers included.
pub fn section(info: &RunInfo, summaries: &[Summary]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "{START}");
    s.push_str("## The suite: flare against the servers users would pick instead\n\n");
    let _ = writeln!(
        s,
        "Measured {} at commit `{}` on {} ({} cores), Linux {}; {}. Every server runs \
         one worker. Generated by `cargo xtask bench`; do not edit by hand.\n",
        info.when,
        info.commit,
        info.cpu_model,
        info.cores,
        info.kernel,
        if info.pinned {
            "server pinned to CPU 1, client to CPU 0 (`taskset`)"
        } else {
            "not pinned (fewer than 2 CPUs)"
        }
    );
    s.push_str("![Server CPU per request and req/s per target, median with ±1 sigma whiskers](benchmark.svg)\n\n");
    s.push_str("### Method\n\n");
    let _ = writeln!(
        s,
        "- Targets: flare's example server (`bench-abort` profile) on epoll (`flare`) and the \
         same binary with `--io-uring` (`flare-uring`), nginx (Debian, generated \
         config: `worker_processes 1`, `access_log off`, `keepalive_requests 100000`, `return \
         200`), and minimal TechEmpower servers from crates.io in `benches/peers` (hyper 1.x \
         with a current-thread runtime per worker and on the multi-thread runtime, axum, \
         actix-web, may_minihttp), built with LTO, one codegen unit and panic = abort. \
         The hyper peers set `pipeline_flush` and `TCP_NODELAY` as hyper's TechEmpower entry \
         does; axum runs `axum::serve` with `TCP_NODELAY` and otherwise its defaults; \
         nginx answers `/json` with a fixed string (`return 200`), the others serialize \
         per request."
    );
    s.push_str(
        "- Integrity gate: before measuring, each target is asked once for `/plaintext` and \
         `/json`; status 200, the exact body, `Content-Type`, `Content-Length`, `Server` and \
         an IMF-fixdate `Date` are required, and a target that fails is left out. A target \
         that does not close after answering `Connection: close` is left out of the churn \
         config.\n",
    );
    let _ = writeln!(
        s,
        "- Load: wrk, 1 thread, {CONNECTIONS} connections, closed loop (pipelined: \
         {DEPTH} requests per write; churn: `Connection: close`); the constant-rate run uses \
         oha with `--latency-correction` (coordinated omission corrected) at {:.0}% of the \
         slowest peer's median keep-alive req/s, capped at {:.0}% of what oha itself pushes \
         closed-loop from its one core (measured in the same run).",
        RATE_SHARE * 100.0,
        CLIENT_SHARE * 100.0
    );
    s.push_str(
        "- CPU per request, the headline figure: utime and stime of the server's process \
         tree (`/proc/PID/stat`, all threads and child processes) read right before and after \
         each run, divided by the requests the client completed. req/s is what one client \
         core could push.\n\
         - Rounds alternate targets (A B C ... A B C) so drift hits everyone alike. Figures are \
         the median ± the sample standard deviation over rounds; a large sigma means a run \
         hit a saturation cliff or a noisy neighbour.\n\n",
    );
    s.push_str("### Where flare stands\n\n");
    let g = goals(summaries);
    if g.is_empty() {
        s.push_str("flare or every peer was missing from this run.\n\n");
    } else {
        s.push_str(&g);
        s.push('\n');
    }
    s.push_str("### Integrity gate\n\n");
    let mut gate = vec![vec![
        "target".to_string(),
        "result".into(),
        "closes on `Connection: close`".into(),
    ]];
    for (t, problems, close) in &info.gate {
        gate.push(vec![
            t.name().to_string(),
            if problems.is_empty() {
                "passed".into()
            } else {
                format!("left out: {}", problems.join("; ").replace('|', "\\|"))
            },
            if *close { "yes" } else { "no" }.into(),
        ]);
    }
    s.push_str(&render_markdown(&gate));
    s.push('\n');
    for config in Config::ALL {
        let _ = writeln!(s, "### {}\n", config.title());
        if let Some((_, why)) = info.skipped.iter().find(|(c, _)| *c == config) {
            let _ = writeln!(s, "Not run: {why}.\n");
            continue;
        }
        if summaries.iter().any(|x| x.config == config) {
            s.push_str(&config_table(summaries, config));
            s.push('\n');
            if let (Config::Rate, Some(rate)) = (config, info.rate) {
                let _ = writeln!(
                    s,
                    "Offered rate: {rate} req/s to every target (oha, latency corrected): {}. \
                     A target whose req/s falls short of it did not keep up, and its latency \
                     then includes the queueing.\n",
                    info.rate_note.as_deref().unwrap_or("")
                );
            }
        } else {
            s.push_str("Not in this run.\n\n");
        }
    }
    if !info.failed.is_empty() {
        s.push_str("Runs that failed and were left out:\n\n");
        for (t, c, round, why) in &info.failed {
            let _ = writeln!(s, "- {} {} round {round}: {why}", t.name(), c.name());
        }
        s.push('\n');
    }
    s.push_str("Settings: ");
    let settings: Vec<String> = info
        .settings
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    s.push_str(&settings.join(", "));
    s.push_str(".\n\n### Commands\n\n```sh\n");
    for (label, cmd) in &info.commands {
        let _ = writeln!(s, "# {label}\n{cmd}");
    }
    s.push_str("```\n");
    s.push_str(END);
    s
}

/// Replaces the suite's section of `doc` (or appends it), leaving every other
/// section alone.
pub fn splice(doc: Option<&str>, section: &str) -> String {
    crate::bench::publish::splice_marked(doc, START, END, section)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::procfs::CpuTicks;
    use crate::bench::suite::load::Measured;

    fn run(target: Target, config: Config, rps: f64, user: u64, sys: u64) -> Run {
        Run {
            target,
            config,
            round: 1,
            measured: Measured {
                requests: (rps * 10.0) as u64,
                rps,
                p50_us: 100.0,
                p99_us: 900.0,
                p999_us: 2000.0,
                errors: 0,
                bad: 0,
            },
            cpu: CpuTicks { user, system: sys },
            raw: "x.txt".into(),
        }
    }

    fn info() -> RunInfo {
        RunInfo {
            when: "2026-11-26 02:00 UTC".into(),
            commit: "abc1234".into(),
            cpu_model: "Test CPU".into(),
            kernel: "6.1".into(),
            cores: 2,
            clk_tck: 100,
            pinned: true,
            settings: vec![("rounds".into(), "5".into())],
            commands: vec![("this run".into(), "cargo xtask bench".into())],
            gate: vec![
                (Target::Flare, vec![], true),
                (Target::Axum, vec!["GET /json: no Date header".into()], true),
            ],
            skipped: vec![(Config::Rate, "oha is not installed".into())],
            failed: vec![],
            rate: None,
            rate_note: None,
        }
    }

    #[test]
    fn the_section_has_every_part() {
        let runs = vec![
            run(Target::Flare, Config::KeepAlive, 200_000.0, 100, 800),
            run(Target::FlareUring, Config::KeepAlive, 250_000.0, 100, 600),
            run(Target::Nginx, Config::KeepAlive, 150_000.0, 300, 900),
        ];
        let sums = stats::summarize(&runs, 100);
        let s = section(&info(), &sums);
        assert!(s.starts_with(START) && s.ends_with(END));
        for needle in [
            "![Server CPU per request",
            "(benchmark.svg)",
            "### Method",
            "### Where flare stands",
            "total CPU per request below every peer's: met",
            "### Integrity gate",
            "left out: GET /json: no Date header",
            "### plaintext, keep-alive, 64 connections",
            "| flare | 200k |",
            "| flare-uring | 250k |",
            "- flare-uring, keep-alive: total CPU per request below every peer's: met \
             (flare-uring / best peer nginx = 0.35x).",
            "Not run: oha is not installed.",
            "cargo xtask bench",
        ] {
            assert!(s.contains(needle), "missing {needle:?} in\n{s}");
        }
        let json = to_json(&info(), &runs, &sums).render();
        assert!(json.contains("\"flare_vs_best_peer\""));
        assert!(json.contains("\"target\": \"flare-uring\""));
        assert!(json.contains("\"cpu_user_us_per_req\""));
    }

    #[test]
    fn splice_keeps_other_sections() {
        let other = "# Benchmarks\n\n<!-- bench:h1:start -->\nh1\n<!-- bench:h1:end -->\n";
        let once = splice(Some(other), &format!("{START}\nA\n{END}"));
        assert!(once.contains("h1\n<!-- bench:h1:end -->") && once.contains("\nA\n"));
        let twice = splice(Some(&once), &format!("{START}\nB\n{END}"));
        assert!(twice.contains("\nB\n") && !twice.contains("\nA\n"));
        assert!(twice.contains("<!-- bench:h1:start -->\nh1"));
        assert!(splice(None, "S").starts_with("# Benchmarks\n\nS"));
    }
}

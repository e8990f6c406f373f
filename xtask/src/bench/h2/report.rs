//! From rounds to figures: per server and shape the medians and sigmas, flare's
//! CPU per request as a ratio of each peer's with the goals of issue 19, the
//! tables, the results file and the docs section.

use super::callgrind::{self, Callgrind};
use super::load::{H2loadReport, Latency, Shape};
use super::servers::Target;
use crate::bench::json::Json;
use crate::bench::procfs::CpuTicks;
use crate::bench::publish::{run_json, RunInfo};
use crate::bench::report::{fmt_latency, render_markdown};
use crate::bench::spread::Spread;

/// Start and end markers of the h2 section in `docs/benchmark.md`.
pub(super) const START: &str = "<!-- bench:h2:start -->";
pub(super) const END: &str = "<!-- bench:h2:end -->";

/// One measured run of one server in one shape, and its latency run.
pub(super) struct Round {
    pub(super) target: Target,
    pub(super) shape: Shape,
    pub(super) index: u32,
    pub(super) report: H2loadReport,
    pub(super) cpu: CpuTicks,
    /// Wall time of the measured run.
    pub(super) secs: f64,
    /// CPU ticks the rest of the machine used meanwhile (neither this
    /// server nor xtask and its h2load).
    pub(super) other: u64,
    pub(super) latency: Latency,
    /// h2load's output, measured run then latency run.
    pub(super) raw: String,
    pub(super) latency_raw: String,
}

impl Round {
    fn per_request_us(&self, ticks: u64, clk_tck: u64) -> f64 {
        ticks as f64 * 1e6 / clk_tck.max(1) as f64 / self.report.succeeded.max(1) as f64
    }

    /// Other processes' CPU during the run, in % of one CPU.
    pub(super) fn other_pct(&self, clk_tck: u64) -> f64 {
        self.other as f64 * 100.0 / clk_tck.max(1) as f64 / self.secs.max(0.001)
    }
}

/// One server in one shape over all rounds.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Summary {
    pub(super) target: Target,
    pub(super) shape: Shape,
    pub(super) rounds: usize,
    pub(super) rps: Spread,
    pub(super) cpu_us: Spread,
    pub(super) user_us: Spread,
    pub(super) sys_us: Spread,
    /// Medians over the rounds' latency runs.
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
    /// Other processes in the busiest of its rounds, % of one CPU.
    pub(super) other_max_pct: f64,
}

pub(super) fn summarize(rounds: &[Round], clk_tck: u64) -> Vec<Summary> {
    let mut out = Vec::new();
    for shape in Shape::ALL {
        for target in Target::ALL {
            let mine: Vec<&Round> = rounds
                .iter()
                .filter(|r| r.shape == shape && r.target == target)
                .collect();
            if mine.is_empty() {
                continue;
            }
            let spread = |f: &dyn Fn(&Round) -> f64| {
                Spread::of(&mine.iter().map(|r| f(r)).collect::<Vec<_>>())
            };
            out.push(Summary {
                target,
                shape,
                rounds: mine.len(),
                rps: spread(&|r| r.report.rps),
                cpu_us: spread(&|r| r.per_request_us(r.cpu.user + r.cpu.system, clk_tck)),
                user_us: spread(&|r| r.per_request_us(r.cpu.user, clk_tck)),
                sys_us: spread(&|r| r.per_request_us(r.cpu.system, clk_tck)),
                p50_us: spread(&|r| r.latency.p50_us).median,
                p99_us: spread(&|r| r.latency.p99_us).median,
                other_max_pct: mine
                    .iter()
                    .map(|r| r.other_pct(clk_tck))
                    .fold(0.0, f64::max),
            });
        }
    }
    out
}

/// A goal of issue 19: flare's CPU per request at most `limit` times `peer`'s.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Goal {
    pub(super) shape: Shape,
    pub(super) peer: Target,
    pub(super) limit: f64,
    /// flare / peer, when both ran.
    pub(super) ratio: Option<f64>,
}

impl Goal {
    pub(super) fn met(&self) -> Option<bool> {
        self.ratio.map(|r| r <= self.limit)
    }

    fn verdict(&self) -> &'static str {
        match self.met() {
            Some(true) => "met",
            Some(false) => "missed",
            None => "not measured",
        }
    }
}

/// The goals that apply to `shape` (issue 19).
pub(super) fn goal_limits(shape: Shape) -> Vec<(Target, f64)> {
    match (shape.tls, shape.connections, shape.streams) {
        (false, 16, 100) => vec![(Target::H2o, 0.8)],
        (false, _, _) => vec![(Target::H2o, 1.0)],
        (true, _, _) => vec![(Target::H2o, 1.0), (Target::Nginx, 0.8)],
    }
}

fn find(summaries: &[Summary], target: Target, shape: Shape) -> Option<&Summary> {
    summaries
        .iter()
        .find(|s| s.target == target && s.shape == shape)
}

/// flare's CPU per request over `peer`'s in `shape`.
pub(super) fn ratio(summaries: &[Summary], peer: Target, shape: Shape) -> Option<f64> {
    let f = find(summaries, Target::Flare, shape)?.cpu_us.median;
    let p = find(summaries, peer, shape)?.cpu_us.median;
    (p > 0.0 && f.is_finite()).then(|| f / p)
}

pub(super) fn goals(summaries: &[Summary]) -> Vec<Goal> {
    let mut out = Vec::new();
    for shape in Shape::ALL {
        if !summaries.iter().any(|s| s.shape == shape) {
            continue;
        }
        for (peer, limit) in goal_limits(shape) {
            out.push(Goal {
                shape,
                peer,
                limit,
                ratio: ratio(summaries, peer, shape),
            });
        }
    }
    out
}

/// Server x shape: req/s, CPU per request (user, sys), latency, other load.
pub(super) fn main_rows(summaries: &[Summary]) -> Vec<Vec<String>> {
    let mut rows = vec![[
        "shape",
        "server",
        "req/s",
        "CPU us/req",
        "user",
        "sys",
        "p50",
        "p99",
        "other CPU (max)",
    ]
    .map(String::from)
    .to_vec()];
    for s in summaries {
        rows.push(vec![
            s.shape.title(),
            s.target.name().into(),
            s.rps.show(0),
            s.cpu_us.show(2),
            format!("{:.2}", s.user_us.median),
            format!("{:.2}", s.sys_us.median),
            fmt_latency(s.p50_us),
            fmt_latency(s.p99_us),
            format!("{:.0}%", s.other_max_pct),
        ]);
    }
    rows
}

/// Per shape: flare's CPU per request over each peer's, and the goals.
pub(super) fn ratio_rows(summaries: &[Summary], goals: &[Goal]) -> Vec<Vec<String>> {
    let peers = [Target::Hyper, Target::H2o, Target::Nginx];
    let mut header = vec!["shape".to_string()];
    header.extend(peers.iter().map(|p| format!("flare / {}", p.name())));
    header.push("goal (issue 19)".into());
    header.push("result".into());
    let mut rows = vec![header];
    for shape in Shape::ALL {
        if find(summaries, Target::Flare, shape).is_none() {
            continue;
        }
        let mut row = vec![shape.title()];
        for p in peers {
            row.push(ratio(summaries, p, shape).map_or("-".into(), |r| format!("{r:.2}x")));
        }
        let mine: Vec<&Goal> = goals.iter().filter(|g| g.shape == shape).collect();
        row.push(
            mine.iter()
                .map(|g| format!("<= {:.1}x {}", g.limit, g.peer.name()))
                .collect::<Vec<_>>()
                .join(", "),
        );
        row.push(
            mine.iter()
                .map(|g| format!("{} ({})", g.verdict(), g.peer.name()))
                .collect::<Vec<_>>()
                .join(", "),
        );
        rows.push(row);
    }
    rows
}

/// Everything the results file and the section need besides the rounds.
pub(super) struct Extras {
    pub(super) callgrind: Option<Callgrind>,
    /// Length of each measured run and of each latency run, for the text.
    pub(super) length: String,
    pub(super) latency_ms: u64,
    pub(super) rounds: u32,
}

pub(super) fn to_json(
    info: &RunInfo,
    rounds: &[Round],
    summaries: &[Summary],
    goals: &[Goal],
    extras: &Extras,
    clk_tck: u64,
) -> Json {
    let spread = |s: &Spread| {
        Json::obj([
            ("median", Json::Num(s.median)),
            ("sigma", Json::Num(s.sigma)),
        ])
    };
    let summary = summaries
        .iter()
        .map(|s| {
            Json::obj([
                ("server", Json::str(s.target.name())),
                ("shape", Json::str(s.shape.name())),
                ("rounds", Json::Int(s.rounds as u64)),
                ("rps", spread(&s.rps)),
                ("cpu_us_per_req", spread(&s.cpu_us)),
                ("user_us_per_req", spread(&s.user_us)),
                ("sys_us_per_req", spread(&s.sys_us)),
                ("p50_us", Json::Num(s.p50_us)),
                ("p99_us", Json::Num(s.p99_us)),
                ("other_cpu_max_pct", Json::Num(s.other_max_pct)),
            ])
        })
        .collect();
    let goal_json = goals
        .iter()
        .map(|g| {
            Json::obj([
                ("shape", Json::str(g.shape.name())),
                ("peer", Json::str(g.peer.name())),
                ("limit", Json::Num(g.limit)),
                ("ratio", g.ratio.map_or(Json::Null, Json::Num)),
                ("met", g.met().map_or(Json::Null, Json::Bool)),
            ])
        })
        .collect();
    let round_json = rounds
        .iter()
        .map(|r| {
            Json::obj([
                ("server", Json::str(r.target.name())),
                ("shape", Json::str(r.shape.name())),
                ("round", Json::Int(u64::from(r.index))),
                ("requests", Json::Int(r.report.succeeded)),
                ("rps", Json::Num(r.report.rps)),
                ("secs", Json::Num(r.secs)),
                ("cpu_user_ticks", Json::Int(r.cpu.user)),
                ("cpu_sys_ticks", Json::Int(r.cpu.system)),
                ("other_ticks", Json::Int(r.other)),
                ("other_cpu_pct", Json::Num(r.other_pct(clk_tck))),
                ("latency_requests", Json::Int(r.latency.requests)),
                ("p50_us", Json::Num(r.latency.p50_us)),
                ("p99_us", Json::Num(r.latency.p99_us)),
                ("p999_us", Json::Num(r.latency.p999_us)),
                ("h2load", Json::str(&r.raw)),
                ("h2load_latency_run", Json::str(&r.latency_raw)),
            ])
        })
        .collect();
    let cg = extras.callgrind.map_or(Json::Null, |c| {
        Json::obj([
            ("requests_small", Json::Int(callgrind::SMALL)),
            ("requests_large", Json::Int(callgrind::LARGE)),
            ("ir_small", Json::Int(c.small_ir)),
            ("ir_large", Json::Int(c.large_ir)),
            ("ir_per_request", Json::Num(c.per_request())),
        ])
    });
    run_json(
        info,
        [
            ("summary", Json::Arr(summary)),
            ("goals", Json::Arr(goal_json)),
            ("callgrind_flare", cg),
            ("rounds", Json::Arr(round_json)),
        ],
    )
}

/// Other processes' CPU over all rounds (mean, busiest round), % of a CPU.
pub(super) fn other_load(rounds: &[Round], clk_tck: u64) -> (f64, f64) {
    let secs: f64 = rounds.iter().map(|r| r.secs).sum();
    let ticks: u64 = rounds.iter().map(|r| r.other).sum();
    let mean = ticks as f64 * 100.0 / clk_tck.max(1) as f64 / secs.max(0.001);
    let max = rounds
        .iter()
        .map(|r| r.other_pct(clk_tck))
        .fold(0.0, f64::max);
    (mean, max)
}

/// The section of docs/benchmark.md, markers included.
pub(super) fn section(
    info: &RunInfo,
    summaries: &[Summary],
    goals: &[Goal],
    extras: &Extras,
    other: (f64, f64),
) -> String {
    let mut s = format!(
        "{START}\n## HTTP/2: flare vs hyper, h2o and nginx (h2c and TLS)\n\n\
         Measured {} at commit `{}` on {} ({} cores), Linux {}; {}. Other processes used \
         {:.0}% of a CPU on average during the measured runs, {:.0}% in the busiest one \
         (the last column: figures from a noisy run are only as good as that).\n\n\
         ![Server CPU per request per server and shape, median with ±1 sigma whiskers](benchmark-h2.svg)\n\n",
        info.when,
        info.commit,
        info.cpu_model,
        info.cores,
        info.kernel,
        if info.pinned {
            "each server pinned to CPU 1, h2load to CPU 0"
        } else {
            "not pinned (fewer than 2 CPUs)"
        },
        other.0,
        other.1,
    );
    s.push_str(&render_markdown(&main_rows(summaries)));
    s.push_str(&format!(
        "\nEach cell: {} round(s), alternating servers within each shape (flare, hyper, h2o, \
         nginx, flare, ...), `GET /plaintext`, h2load with 1 thread, measured runs of {}. \
         req/s and CPU us/req are medians ± sample sigma over the rounds; CPU us/req is the \
         server's utime+stime (`/proc/PID/stat`, all its processes and threads) during the \
         run over the requests completed. p50/p99 are not h2load's (it prints only min/max/mean/sd): after each \
         measured run a separate {} ms run of the same shape writes `--log-file`, and the \
         percentiles of its per-request times are taken (nearest rank), median over the \
         rounds. Writing that log slows h2load by about half, so in the closed-loop shapes \
         these latencies describe a slower client than the req/s column. TLS runs offer only \
         TLS 1.3 with `{}` so that every server uses the same cipher.\n\n",
        extras.rounds,
        extras.length,
        extras.latency_ms,
        super::load::TLS13_CIPHER,
    ));
    s.push_str("flare's server CPU per request over each peer's, and the goals of issue 19:\n\n");
    s.push_str(&render_markdown(&ratio_rows(summaries, goals)));
    s.push('\n');
    match extras.callgrind {
        Some(c) => s.push_str(&format!(
            "Instructions per request (callgrind, flare on h2c): {:.0}, from two runs of the \
             example server under `valgrind --tool=callgrind` loaded with `h2load -n {} -c 1 \
             -m 10` and `-n {}`; (Ir of the larger - Ir of the smaller) / {} requests, so \
             start-up, the connection and shutdown cancel out.\n\n",
            c.per_request(),
            callgrind::SMALL,
            callgrind::LARGE,
            callgrind::LARGE - callgrind::SMALL,
        )),
        None => s.push_str(
            "Instructions per request (callgrind) were not measured in this run; \
             `cargo xtask bench h2 --callgrind` adds them.\n\n",
        ),
    }
    s.push_str(
        "Allocations per request: zero for `GET /plaintext` at steady state on a warm h2c \
         connection, asserted by `crates/flare/tests/h2_zero_alloc.rs` (a counting global \
         allocator over at least 10,000 requests and one `date` change; \
         `cargo test -p flare --test h2_zero_alloc`). The peers are not counted.\n\n",
    );
    s.push_str("Settings:\n\n");
    for (k, v) in &info.settings {
        s.push_str(&format!("- {k}: {v}\n"));
    }
    s.push_str("\nCommands:\n\n```sh\n");
    for (label, cmd) in &info.commands {
        s.push_str(&format!("# {label}\n{cmd}\n"));
    }
    s.push_str("```\n");
    s.push_str(END);
    s
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::bench::h2) fn summary(target: Target, shape: Shape, cpu: f64) -> Summary {
        let sp = |m: f64| Spread {
            median: m,
            sigma: m / 10.0,
        };
        Summary {
            target,
            shape,
            rounds: 3,
            rps: sp(100_000.0 / cpu),
            cpu_us: sp(cpu),
            user_us: sp(cpu * 0.7),
            sys_us: sp(cpu * 0.3),
            p50_us: 900.0,
            p99_us: 2100.0,
            other_max_pct: 12.0,
        }
    }

    fn round(target: Target, index: u32, succeeded: u64, user: u64, system: u64) -> Round {
        Round {
            target,
            shape: Shape::ALL[0],
            index,
            report: H2loadReport {
                rps: succeeded as f64 / 2.0,
                done: succeeded,
                succeeded,
                failed: 0,
                errored: 0,
                timeout: 0,
                status_2xx: succeeded,
                status_other: 0,
                alpn: None,
                cipher: None,
            },
            cpu: CpuTicks { user, system },
            secs: 2.0,
            other: 50,
            latency: Latency {
                requests: 10,
                p50_us: 100.0 * f64::from(index),
                p99_us: 300.0,
                p999_us: 400.0,
            },
            raw: String::new(),
            latency_raw: String::new(),
        }
    }

    #[test]
    fn medians_per_round_and_other_load() {
        // 100 ticks/s: 150 ticks over 1,000,000 requests is 1.5 us/req.
        let rounds = [
            round(Target::Flare, 1, 1_000_000, 100, 50),
            round(Target::Flare, 2, 1_000_000, 100, 100),
            round(Target::Flare, 3, 1_000_000, 200, 100),
            round(Target::H2o, 1, 500_000, 50, 50),
        ];
        let s = summarize(&rounds, 100);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].target, Target::Flare);
        assert!((s[0].cpu_us.median - 2.0).abs() < 1e-9);
        assert!((s[0].user_us.median - 1.0).abs() < 1e-9);
        assert!((s[0].p50_us - 200.0).abs() < 1e-9);
        assert!(s[0].cpu_us.sigma > 0.0);
        assert!((s[1].cpu_us.median - 2.0).abs() < 1e-9);
        // 50 ticks in 2 s = 25% of a CPU in every round.
        let (mean, max) = other_load(&rounds, 100);
        assert!((mean - 25.0).abs() < 1e-9 && (max - 25.0).abs() < 1e-9);
    }

    #[test]
    fn goals_of_issue_19() {
        let [c16, c64, _, t16, ..] = Shape::ALL;
        let s = vec![
            summary(Target::Flare, c16, 1.2),
            summary(Target::H2o, c16, 1.6),
            summary(Target::Flare, c64, 1.7),
            summary(Target::H2o, c64, 1.6),
            summary(Target::Flare, t16, 2.0),
            summary(Target::H2o, t16, 2.5),
            summary(Target::Nginx, t16, 2.4),
        ];
        let g = goals(&s);
        let verdicts: Vec<(String, &str, Option<bool>)> = g
            .iter()
            .map(|g| (g.shape.name(), g.peer.name(), g.met()))
            .collect();
        assert_eq!(
            verdicts,
            [
                ("h2c-16x100".into(), "h2o", Some(true)),
                ("h2c-64x10".into(), "h2o", Some(false)),
                ("tls-16x100".into(), "h2o", Some(true)),
                ("tls-16x100".into(), "nginx", Some(false)),
            ]
        );
        let rows = ratio_rows(&s, &g);
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1][2], "0.75x");
        assert_eq!(rows[1][1], "-");
        assert!(rows[3][5].contains("met (h2o)") && rows[3][5].contains("missed (nginx)"));
    }

    #[test]
    fn section_is_marked_and_names_its_method() {
        let info = RunInfo {
            when: "2026-12-07 01:00 UTC".into(),
            commit: "abc1234".into(),
            cpu_model: "cpu".into(),
            kernel: "6.1".into(),
            cores: 2,
            clk_tck: 100,
            pinned: true,
            commands: vec![("this run".into(), "cargo xtask bench h2".into())],
            settings: vec![("certificate".into(), "ECDSA P-256".into())],
        };
        let s = vec![summary(Target::Flare, Shape::ALL[0], 1.0)];
        let extras = Extras {
            callgrind: Some(Callgrind {
                small_ir: 10,
                large_ir: 10 + 20_000 * 5_000,
            }),
            length: "4 s per run".into(),
            latency_ms: 1000,
            rounds: 3,
        };
        let text = section(&info, &s, &goals(&s), &extras, (5.0, 9.0));
        assert!(text.starts_with(START) && text.ends_with(END));
        for needle in [
            "benchmark-h2.svg",
            "h2_zero_alloc.rs",
            "Instructions per request (callgrind, flare on h2c): 5000",
            "--log-file",
            "| h2c -c 16 -m 100 | flare |",
            "not measured (h2o)",
            "- certificate: ECDSA P-256",
        ] {
            assert!(text.contains(needle), "missing `{needle}`");
        }
        let json = to_json(&info, &[], &s, &goals(&s), &extras, 100).render();
        assert!(json.contains("\"ir_per_request\": 5000"));
    }
}

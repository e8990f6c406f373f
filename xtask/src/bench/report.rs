//! Turning benchmark rounds into figures: medians, CPU per request,
//! syscalls per request, ratios against nginx, as table rows; and the goals
//! of issue 3 checked against them.

use super::procfs::CpuTicks;
use super::strace::SyscallCounts;
use super::wrk::WrkReport;

/// The two load shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    /// One request per write, keep-alive.
    Plain,
    /// 16 requests per write (`benches/lua/pipeline.lua`).
    Pipelined,
}

impl Variant {
    /// Lower-case name used in files and tables.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Plain => "plain",
            Variant::Pipelined => "pipelined",
        }
    }
}

/// One wrk run against one server.
pub struct Round {
    /// `flare`, `flare-uring` or `nginx`.
    pub server: &'static str,
    /// Load shape.
    pub variant: Variant,
    /// 1-based round number.
    pub index: u32,
    /// What wrk measured.
    pub wrk: WrkReport,
    /// Server CPU time spent during the run.
    pub cpu: CpuTicks,
    /// File name of wrk's raw output in the results directory.
    pub raw: String,
}

/// One run under strace.
pub struct SyscallRun {
    /// `flare`, `flare-uring` or `nginx`.
    pub server: &'static str,
    /// Load shape.
    pub variant: Variant,
    /// Requests wrk completed while strace was attached.
    pub requests: u64,
    /// What strace counted.
    pub counts: SyscallCounts,
}

/// Figures for one server and variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// `flare`, `flare-uring` or `nginx`.
    pub server: &'static str,
    /// Load shape.
    pub variant: Variant,
    /// Rounds summarised.
    pub rounds: usize,
    /// Median requests per second.
    pub rps: f64,
    /// Median of the rounds' p50 latency, microseconds.
    pub p50_us: f64,
    /// Median of the rounds' p99 latency, microseconds.
    pub p99_us: f64,
    /// User CPU microseconds per request (all rounds' time / requests).
    pub user_us: f64,
    /// System CPU microseconds per request.
    pub sys_us: f64,
    /// Socket errors over all rounds.
    pub socket_errors: u64,
    /// Syscalls per request, when traced.
    pub syscalls_per_req: Option<f64>,
    /// The most frequent syscalls, per request.
    pub top_syscalls: Vec<(String, f64)>,
}

impl Summary {
    /// User plus system CPU per request.
    pub fn cpu_us(&self) -> f64 {
        self.user_us + self.sys_us
    }
}

/// Summaries by variant, then by server in first-seen order.
pub fn summarize(rounds: &[Round], traced: &[SyscallRun], clk_tck: u64) -> Vec<Summary> {
    let mut keys: Vec<(Variant, &'static str)> = Vec::new();
    for variant in [Variant::Plain, Variant::Pipelined] {
        for r in rounds.iter().filter(|r| r.variant == variant) {
            if !keys.contains(&(variant, r.server)) {
                keys.push((variant, r.server));
            }
        }
    }
    keys.into_iter()
        .map(|(variant, server)| {
            let mine: Vec<&Round> = rounds
                .iter()
                .filter(|r| r.variant == variant && r.server == server)
                .collect();
            let requests: u64 = mine.iter().map(|r| r.wrk.requests).sum();
            let cpu = mine
                .iter()
                .fold(CpuTicks::default(), |acc, r| acc.plus(r.cpu));
            let per_req_us =
                |ticks: u64| ticks as f64 * 1e6 / clk_tck as f64 / requests.max(1) as f64;
            let trace = traced
                .iter()
                .find(|t| t.variant == variant && t.server == server);
            let per_traced_req =
                |calls: u64| trace.map_or(0.0, |t| calls as f64 / t.requests.max(1) as f64);
            Summary {
                server,
                variant,
                rounds: mine.len(),
                rps: median(mine.iter().map(|r| r.wrk.rps).collect()),
                p50_us: median(mine.iter().map(|r| r.wrk.p50_us).collect()),
                p99_us: median(mine.iter().map(|r| r.wrk.p99_us).collect()),
                user_us: per_req_us(cpu.user),
                sys_us: per_req_us(cpu.system),
                socket_errors: mine.iter().map(|r| r.wrk.socket_errors).sum(),
                syscalls_per_req: trace.map(|t| per_traced_req(t.counts.total)),
                top_syscalls: trace
                    .map(|t| {
                        t.counts
                            .by_name
                            .iter()
                            .take(5)
                            .map(|(n, c)| (n.clone(), per_traced_req(*c)))
                            .collect()
                    })
                    .unwrap_or_default(),
            }
        })
        .collect()
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    match (v.get(mid), v.len() % 2) {
        (Some(&m), 1) => m,
        (Some(&m), _) => (m + v.get(mid - 1).copied().unwrap_or(m)) / 2.0,
        (None, _) => f64::NAN,
    }
}

/// `209us`, `1.38ms`; `-` for no figure: wrk 4.1 prints `0.00us` for a
/// percentile its histogram has no sample for (seen on short pipelined runs).
pub fn fmt_latency(us: f64) -> String {
    if us.is_nan() || us <= 0.0 {
        "-".into()
    } else if us < 1000.0 {
        format!("{us:.0}us")
    } else {
        format!("{:.2}ms", us / 1000.0)
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 && a.is_finite() && b.is_finite() {
        format!("{:.2}x", a / b)
    } else {
        "-".into()
    }
}

/// The main table: a header row, then one row per summary.
pub fn main_rows(summaries: &[Summary]) -> Vec<Vec<String>> {
    let header = [
        "variant",
        "server",
        "req/s (median)",
        "p50",
        "p99",
        "CPU us/req user",
        "sys",
        "total",
        "syscalls/req",
        "req/s vs nginx",
        "CPU/req vs nginx",
        "syscalls vs nginx",
    ];
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for s in summaries {
        let nginx = summaries
            .iter()
            .find(|n| n.server == "nginx" && n.variant == s.variant && s.server != "nginx");
        let calls = |x: &Summary| x.syscalls_per_req.unwrap_or(f64::NAN);
        rows.push(vec![
            s.variant.name().into(),
            s.server.into(),
            format!("{:.0}", s.rps),
            fmt_latency(s.p50_us),
            fmt_latency(s.p99_us),
            format!("{:.2}", s.user_us),
            format!("{:.2}", s.sys_us),
            format!("{:.2}", s.cpu_us()),
            s.syscalls_per_req.map_or("-".into(), |c| format!("{c:.2}")),
            nginx.map_or("-".into(), |n| ratio(s.rps, n.rps)),
            nginx.map_or("-".into(), |n| ratio(s.cpu_us(), n.cpu_us())),
            nginx.map_or("-".into(), |n| ratio(calls(s), calls(n))),
        ]);
    }
    rows
}

/// The syscall breakdown: top five per request by name.
pub fn syscall_rows(summaries: &[Summary]) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "variant".to_string(),
        "server".into(),
        "syscalls/req".into(),
        "top 5 per request".into(),
    ]];
    for s in summaries.iter().filter(|s| s.syscalls_per_req.is_some()) {
        let top: Vec<String> = s
            .top_syscalls
            .iter()
            .map(|(n, c)| format!("{n} {c:.2}"))
            .collect();
        rows.push(vec![
            s.variant.name().into(),
            s.server.into(),
            s.syscalls_per_req.map_or("-".into(), |c| format!("{c:.2}")),
            top.join(", "),
        ]);
    }
    rows
}

/// Issue 3: user CPU per request at keep-alive, at most this (us).
pub const GOAL_USER_US: f64 = 0.5;
/// Issue 3: total CPU per request pipelined x[`GOAL_DEPTH`], at most this (us).
pub const GOAL_PIPELINED_US: f64 = 0.6;
/// The pipeline depth the pipelined goal is stated for.
pub const GOAL_DEPTH: u32 = 16;

/// One goal of issue 3 for one server.
#[derive(Debug, Clone, PartialEq)]
pub struct Goal {
    /// `flare` or `flare-uring`.
    pub server: &'static str,
    /// What is asked, e.g. `keep-alive: user CPU <= 0.50 us/request`.
    pub goal: String,
    /// Met or not; `None` when this run cannot tell (not measured).
    pub met: Option<bool>,
    /// The figures behind the verdict, or why there is none.
    pub detail: String,
}

/// The goals of issue 3 for every server but nginx, in table order:
/// keep-alive user CPU, keep-alive total CPU and syscalls against nginx's,
/// pipelined total CPU (only at depth [`GOAL_DEPTH`]; the run used `depth`).
pub fn goals(summaries: &[Summary], depth: u32) -> Vec<Goal> {
    let find = |server: &str, variant: Variant| {
        summaries
            .iter()
            .find(|s| s.server == server && s.variant == variant)
    };
    let nginx = find("nginx", Variant::Plain);
    let mut servers: Vec<&'static str> = Vec::new();
    for s in summaries.iter().filter(|s| s.server != "nginx") {
        if !servers.contains(&s.server) {
            servers.push(s.server);
        }
    }
    let mut out = Vec::new();
    for server in servers {
        let plain = find(server, Variant::Plain);
        let mut goal = |goal: String, verdict: std::result::Result<(bool, String), String>| {
            let (met, detail) = match verdict {
                Ok((met, detail)) => (Some(met), detail),
                Err(why) => (None, why),
            };
            out.push(Goal {
                server,
                goal,
                met,
                detail,
            });
        };
        let no_plain = || "keep-alive not measured".to_string();
        goal(
            format!("keep-alive: user CPU <= {GOAL_USER_US:.2} us/request"),
            plain
                .map(|p| (p.user_us <= GOAL_USER_US, format!("{:.2} us", p.user_us)))
                .ok_or_else(no_plain),
        );
        goal(
            "keep-alive: total CPU per request below nginx's".into(),
            match (plain, nginx) {
                (None, _) => Err(no_plain()),
                (_, None) => Err("nginx not measured".into()),
                (Some(p), Some(n)) => Ok((
                    p.cpu_us() < n.cpu_us(),
                    format!(
                        "{:.2} us vs nginx {:.2} us, {}",
                        p.cpu_us(),
                        n.cpu_us(),
                        ratio(p.cpu_us(), n.cpu_us())
                    ),
                )),
            },
        );
        goal(
            "keep-alive: syscalls per request below nginx's".into(),
            match (plain, nginx) {
                (None, _) => Err(no_plain()),
                (_, None) => Err("nginx not measured".into()),
                (Some(p), Some(n)) => match (p.syscalls_per_req, n.syscalls_per_req) {
                    (Some(a), Some(b)) => {
                        // Below as printed: 2.02 against 2.02 is a tie, not a win,
                        // whatever the third decimal says.
                        let fewer = (a * 100.0).round() < (b * 100.0).round();
                        Ok((fewer, format!("{a:.2} vs nginx {b:.2}, {}", ratio(a, b))))
                    }
                    _ => Err("not traced".into()),
                },
            },
        );
        goal(
            format!("pipelined x{GOAL_DEPTH}: total CPU <= {GOAL_PIPELINED_US:.2} us/request"),
            match find(server, Variant::Pipelined) {
                None => Err("pipelined not measured".into()),
                Some(_) if depth != GOAL_DEPTH => {
                    Err(format!("this run pipelined x{depth}, not x{GOAL_DEPTH}"))
                }
                Some(p) => Ok((
                    p.cpu_us() <= GOAL_PIPELINED_US,
                    format!("{:.2} us", p.cpu_us()),
                )),
            },
        );
    }
    out
}

/// The goals as a list, one line each: `- SERVER, GOAL: met (FIGURES)`; a
/// goal not met is in bold when `markdown`.
pub fn render_goals(goals: &[Goal], markdown: bool) -> String {
    let mut out = String::new();
    for g in goals {
        let verdict = match g.met {
            Some(true) => "met",
            Some(false) if markdown => "**not met**",
            Some(false) => "NOT MET",
            None => "not known",
        };
        out.push_str(&format!(
            "- {}, {}: {verdict} ({})\n",
            g.server, g.goal, g.detail
        ));
    }
    out
}

/// Columns padded for a terminal.
pub fn render_text(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, &w)| format!("{cell:<w$}"))
            .collect();
        out.push_str("  ");
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// A GitHub-flavoured Markdown table (first row is the header).
pub fn render_markdown(rows: &[Vec<String>]) -> String {
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        out.push_str("| ");
        out.push_str(&row.join(" | "));
        out.push_str(" |\n");
        if i == 0 {
            out.push('|');
            out.push_str(&"---|".repeat(row.len()));
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn wrk(requests: u64, rps: f64, p50: f64, p99: f64) -> WrkReport {
        WrkReport {
            requests,
            rps,
            p50_us: p50,
            p99_us: p99,
            socket_errors: 0,
            non_2xx: 0,
        }
    }

    fn round(server: &'static str, index: u32, rps: f64, user: u64, system: u64) -> Round {
        Round {
            server,
            variant: Variant::Plain,
            index,
            wrk: wrk(1_000_000, rps, 200.0, 1000.0 + rps / 1000.0),
            cpu: CpuTicks { user, system },
            raw: format!("{server}-plain-r{index}.txt"),
        }
    }

    pub(in crate::bench) fn sample() -> (Vec<Round>, Vec<SyscallRun>) {
        let rounds = vec![
            round("flare", 1, 120_000.0, 100, 300),
            round("nginx", 1, 100_000.0, 200, 500),
            round("flare", 2, 110_000.0, 100, 300),
            round("nginx", 2, 90_000.0, 200, 500),
            round("flare", 3, 130_000.0, 100, 300),
            round("nginx", 3, 95_000.0, 200, 500),
        ];
        let counts = |total: u64| SyscallCounts {
            by_name: vec![("recvfrom".into(), total / 2), ("writev".into(), total / 2)],
            total,
        };
        let traced = vec![
            SyscallRun {
                server: "flare",
                variant: Variant::Plain,
                requests: 1000,
                counts: counts(1500),
            },
            SyscallRun {
                server: "nginx",
                variant: Variant::Plain,
                requests: 1000,
                counts: counts(2000),
            },
        ];
        (rounds, traced)
    }

    #[test]
    fn summary_takes_medians_and_cpu_over_all_requests() {
        let (rounds, traced) = sample();
        let s = summarize(&rounds, &traced, 100);
        assert_eq!(s.len(), 2);
        let flare = &s[0];
        assert_eq!((flare.server, flare.rounds), ("flare", 3));
        assert_eq!(flare.rps, 120_000.0);
        assert_eq!(flare.p99_us, 1120.0);
        // 300 user ticks = 3 s over 3M requests = 1 us/request.
        assert!((flare.user_us - 1.0).abs() < 1e-9);
        assert!((flare.sys_us - 3.0).abs() < 1e-9);
        assert_eq!(flare.syscalls_per_req, Some(1.5));
        assert_eq!(flare.top_syscalls[0], ("recvfrom".to_string(), 0.75));
        assert_eq!(s[1].rps, 95_000.0);
    }

    #[test]
    fn table_has_ratios_against_nginx_only_for_others() {
        let (rounds, traced) = sample();
        let rows = main_rows(&summarize(&rounds, &traced, 100));
        assert_eq!(rows.len(), 3);
        assert!(rows.iter().all(|r| r.len() == rows[0].len()));
        let flare = &rows[1];
        assert_eq!(&flare[9..], ["1.26x", "0.57x", "0.75x"]);
        assert_eq!(&rows[2][9..], ["-", "-", "-"]);
        let md = render_markdown(&rows);
        assert!(md.lines().nth(1).is_some_and(|l| l.starts_with("|---|")));
        assert_eq!(md.lines().count(), 4);
        let text = render_text(&rows);
        assert_eq!(text.lines().count(), 3);
    }

    fn summary(
        server: &'static str,
        variant: Variant,
        user_us: f64,
        sys_us: f64,
        calls: Option<f64>,
    ) -> Summary {
        Summary {
            server,
            variant,
            rounds: 1,
            rps: 100_000.0,
            p50_us: 200.0,
            p99_us: 900.0,
            user_us,
            sys_us,
            socket_errors: 0,
            syscalls_per_req: calls,
            top_syscalls: Vec::new(),
        }
    }

    #[test]
    fn goals_of_issue_3_per_flare_target() {
        let sums = vec![
            summary("flare", Variant::Plain, 0.8, 4.7, Some(2.03)),
            summary("flare-uring", Variant::Plain, 0.45, 3.0, Some(1.02)),
            summary("nginx", Variant::Plain, 1.7, 4.8, Some(2.03)),
            summary("flare", Variant::Pipelined, 0.3, 0.4, Some(0.13)),
            summary("flare-uring", Variant::Pipelined, 0.3, 0.2, Some(0.07)),
            summary("nginx", Variant::Pipelined, 1.3, 3.2, Some(1.07)),
        ];
        let g = goals(&sums, 16);
        assert_eq!(g.len(), 8);
        let met: Vec<(&str, Option<bool>)> = g.iter().map(|g| (g.server, g.met)).collect();
        assert_eq!(
            met,
            [
                ("flare", Some(false)), // user 0.8 > 0.5
                ("flare", Some(true)),  // total 5.5 < 6.5
                ("flare", Some(false)), // 2.03 is not below 2.03
                ("flare", Some(false)), // pipelined 0.7 > 0.6
                ("flare-uring", Some(true)),
                ("flare-uring", Some(true)),
                ("flare-uring", Some(true)),
                ("flare-uring", Some(true)),
            ]
        );
        assert_eq!(g[6].detail, "1.02 vs nginx 2.03, 0.50x");
        let text = render_goals(&g, true);
        assert_eq!(text.lines().count(), 8);
        assert!(text.starts_with(
            "- flare, keep-alive: user CPU <= 0.50 us/request: **not met** (0.80 us)\n"
        ));
        assert!(render_goals(&g, false).contains("NOT MET"));

        // Without nginx, strace or depth 16 the verdicts are unknown, not invented.
        let alone = vec![
            summary("flare-uring", Variant::Plain, 0.4, 3.0, None),
            summary("flare-uring", Variant::Pipelined, 0.2, 0.2, None),
        ];
        let g = goals(&alone, 8);
        assert_eq!(g[0].met, Some(true));
        assert!(g[1..].iter().all(|g| g.met.is_none()), "{g:?}");
        assert_eq!(g[3].detail, "this run pipelined x8, not x16");
        let g = goals(&[summary("nginx", Variant::Plain, 1.0, 1.0, None)], 16);
        assert!(g.is_empty());
    }

    #[test]
    fn latencies_and_missing_ones() {
        assert_eq!(fmt_latency(209.4), "209us");
        assert_eq!(fmt_latency(1380.0), "1.38ms");
        assert_eq!(fmt_latency(0.0), "-");
        assert_eq!(fmt_latency(f64::NAN), "-");
    }

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }
}

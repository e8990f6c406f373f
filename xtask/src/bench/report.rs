//! Turning benchmark rounds into figures: medians, CPU per request,
//! syscalls per request, ratios against nginx; printed as a table, saved as
//! JSON and spliced into `docs/benchmark.md`.

use std::time::{SystemTime, UNIX_EPOCH};

use super::json::Json;
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
    /// `flare` or `nginx`.
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
    /// `flare` or `nginx`.
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
    /// `flare` or `nginx`.
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

/// `209us`, `1.38ms`.
pub fn fmt_latency(us: f64) -> String {
    if us < 1000.0 {
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

/// Where and how the run was made.
pub struct RunInfo {
    /// `YYYY-MM-DD HH:MM UTC`.
    pub when: String,
    /// Short commit hash, `-dirty` appended when the tree had changes.
    pub commit: String,
    /// `/proc/cpuinfo` model name.
    pub cpu_model: String,
    /// `uname -r`.
    pub kernel: String,
    /// Online CPUs.
    pub cores: usize,
    /// Clock ticks per second used for CPU figures.
    pub clk_tck: u64,
    /// Whether server and client were pinned to CPUs 1 and 0.
    pub pinned: bool,
    /// `(label, command line)` in the order they ran.
    pub commands: Vec<(String, String)>,
    /// Settings as `(name, value)`, e.g. `("connections", "64")`.
    pub settings: Vec<(String, String)>,
}

/// Start and end markers of the h1 section in `docs/benchmark.md`.
pub const START: &str = "<!-- bench:h1:start -->";
/// End marker.
pub const END: &str = "<!-- bench:h1:end -->";

/// The docs section, markers included.
pub fn docs_section(info: &RunInfo, summaries: &[Summary]) -> String {
    let mut s = String::new();
    s.push_str(START);
    s.push_str("\n## HTTP/1.1 plaintext (TechEmpower style): flare vs nginx\n\n");
    s.push_str(&format!(
        "Measured {} at commit `{}` on {} ({} cores), Linux {}; {}.\n\n",
        info.when,
        info.commit,
        info.cpu_model,
        info.cores,
        info.kernel,
        if info.pinned {
            "server pinned to CPU 1, wrk to CPU 0"
        } else {
            "not pinned (fewer than 2 CPUs)"
        }
    ));
    s.push_str(&render_markdown(&main_rows(summaries)));
    s.push_str(
        "\nreq/s, p50 and p99 are medians over the rounds. CPU us/req is the server's utime and \
         stime (`/proc/PID/stat`, summed over its processes and threads) across all rounds, divided \
         by the requests wrk completed. Syscalls/req come from a separate shorter run with \
         `strace -c -f` attached to the server, divided by that run's requests.\n\n",
    );
    if summaries.iter().any(|x| x.syscalls_per_req.is_some()) {
        s.push_str("Most frequent syscalls, per request:\n\n");
        s.push_str(&render_markdown(&syscall_rows(summaries)));
        s.push('\n');
    }
    s.push_str("Settings: ");
    let settings: Vec<String> = info
        .settings
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    s.push_str(&settings.join(", "));
    s.push_str(".\n\nCommands:\n\n```sh\ncargo xtask bench h1\n");
    for (label, cmd) in &info.commands {
        s.push_str(&format!("# {label}\n{cmd}\n"));
    }
    s.push_str("```\n");
    s.push_str(END);
    s
}

/// Replaces the marked section of `doc`, or appends it; a missing doc
/// becomes a heading plus the section.
pub fn splice_section(doc: Option<&str>, section: &str) -> String {
    let Some(doc) = doc else {
        return format!("# Benchmarks\n\n{section}\n");
    };
    if let (Some(start), Some(end)) = (doc.find(START), doc.find(END)) {
        if start < end {
            let after = end + END.len();
            return format!("{}{section}{}", &doc[..start], &doc[after..]);
        }
    }
    let sep = if doc.ends_with("\n\n") || doc.is_empty() {
        ""
    } else if doc.ends_with('\n') {
        "\n"
    } else {
        "\n\n"
    };
    format!("{doc}{sep}{section}\n")
}

/// The results file.
pub fn to_json(
    info: &RunInfo,
    rounds: &[Round],
    traced: &[SyscallRun],
    summaries: &[Summary],
) -> Json {
    let pairs = |v: &[(String, String)]| {
        Json::Obj(v.iter().map(|(k, x)| (k.clone(), Json::str(x))).collect())
    };
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
        (
            "summary",
            Json::Arr(
                summaries
                    .iter()
                    .map(|s| {
                        Json::obj([
                            ("server", Json::str(s.server)),
                            ("variant", Json::str(s.variant.name())),
                            ("rounds", Json::Int(s.rounds as u64)),
                            ("rps_median", Json::Num(s.rps)),
                            ("p50_us", Json::Num(s.p50_us)),
                            ("p99_us", Json::Num(s.p99_us)),
                            ("cpu_user_us_per_req", Json::Num(s.user_us)),
                            ("cpu_sys_us_per_req", Json::Num(s.sys_us)),
                            ("cpu_total_us_per_req", Json::Num(s.cpu_us())),
                            ("socket_errors", Json::Int(s.socket_errors)),
                            (
                                "syscalls_per_req",
                                s.syscalls_per_req.map_or(Json::Null, Json::Num),
                            ),
                            (
                                "top_syscalls_per_req",
                                Json::Obj(
                                    s.top_syscalls
                                        .iter()
                                        .map(|(n, c)| (n.clone(), Json::Num(*c)))
                                        .collect(),
                                ),
                            ),
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
                            ("variant", Json::str(r.variant.name())),
                            ("round", Json::Int(u64::from(r.index))),
                            ("requests", Json::Int(r.wrk.requests)),
                            ("rps", Json::Num(r.wrk.rps)),
                            ("p50_us", Json::Num(r.wrk.p50_us)),
                            ("p99_us", Json::Num(r.wrk.p99_us)),
                            ("socket_errors", Json::Int(r.wrk.socket_errors)),
                            ("non_2xx", Json::Int(r.wrk.non_2xx)),
                            ("cpu_user_ticks", Json::Int(r.cpu.user)),
                            ("cpu_sys_ticks", Json::Int(r.cpu.system)),
                            ("raw", Json::str(&r.raw)),
                        ])
                    })
                    .collect(),
            ),
        ),
        (
            "syscall_runs",
            Json::Arr(
                traced
                    .iter()
                    .map(|t| {
                        Json::obj([
                            ("server", Json::str(t.server)),
                            ("variant", Json::str(t.variant.name())),
                            ("requests", Json::Int(t.requests)),
                            ("total_calls", Json::Int(t.counts.total)),
                            (
                                "calls",
                                Json::Obj(
                                    t.counts
                                        .by_name
                                        .iter()
                                        .map(|(n, c)| (n.clone(), Json::Int(*c)))
                                        .collect(),
                                ),
                            ),
                        ])
                    })
                    .collect(),
            ),
        ),
    ])
}

/// Now as `(YYYY-MM-DD, HH:MM)` in UTC.
pub fn utc_now() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let day_secs = secs % 86_400;
    (
        format!("{y:04}-{m:02}-{d:02}"),
        format!("{:02}:{:02}", day_secs / 3600, day_secs % 3600 / 60),
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Hinnant's
/// algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
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

    fn sample() -> (Vec<Round>, Vec<SyscallRun>) {
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

    #[test]
    fn median_of_even_and_odd_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(vec![]).is_nan());
    }

    #[test]
    fn splicing_keeps_everything_outside_the_markers() {
        let section = format!("{START}\nnew\n{END}");
        assert_eq!(
            splice_section(None, &section),
            format!("# Benchmarks\n\n{section}\n")
        );
        let doc = format!("# B\n\nintro\n\n{START}\nold\n{END}\n\n## hpack\nkept\n");
        assert_eq!(
            splice_section(Some(&doc), &section),
            format!("# B\n\nintro\n\n{section}\n\n## hpack\nkept\n")
        );
        let plain = "# B\n\nother\n";
        assert_eq!(
            splice_section(Some(plain), &section),
            format!("{plain}\n{section}\n")
        );
        // Twice is the same as once.
        let once = splice_section(Some(plain), &section);
        assert_eq!(splice_section(Some(&once), &section), once);
    }

    #[test]
    fn docs_section_is_marked_and_has_the_facts() {
        let (rounds, traced) = sample();
        let info = RunInfo {
            when: "2026-11-26 01:40 UTC".into(),
            commit: "abc1234".into(),
            cpu_model: "Test CPU".into(),
            kernel: "6.1.0".into(),
            cores: 2,
            clk_tck: 100,
            pinned: true,
            commands: vec![("client".into(), "wrk -t1 -c64 -d10s --latency URL".into())],
            settings: vec![("connections".into(), "64".into())],
        };
        let summaries = summarize(&rounds, &traced, 100);
        let s = docs_section(&info, &summaries);
        assert!(s.starts_with(START) && s.ends_with(END));
        for needle in [
            "2026-11-26 01:40 UTC",
            "abc1234",
            "Test CPU",
            "2 cores",
            "6.1.0",
            "wrk -t1 -c64",
            "recvfrom 0.75",
        ] {
            assert!(s.contains(needle), "missing {needle} in\n{s}");
        }
        let json = to_json(&info, &rounds, &traced, &summaries).render();
        assert!(json.contains("\"cpu_user_us_per_req\": 1"));
        assert!(json.contains("\"raw\": \"nginx-plain-r3.txt\""));
    }

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(20_418), (2025, 11, 26));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}

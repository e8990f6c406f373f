//! Where results go: the JSON results file and the marked section of
//! `docs/benchmark.md`.

use super::json::Json;
use super::report::{
    main_rows, render_goals, render_markdown, syscall_rows, Goal, Round, Summary, SyscallRun,
};

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
pub fn docs_section(info: &RunInfo, summaries: &[Summary], goals: &[Goal]) -> String {
    let mut s = String::new();
    s.push_str(START);
    s.push_str("\n## HTTP/1.1 plaintext (TechEmpower style): flare (epoll, io_uring) vs nginx\n\n");
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
         `strace -c -f` attached to the server, divided by that run's requests (every call \
         counts, `io_uring_enter` included). `flare` is the example server on epoll, \
         `flare-uring` the same binary with `--io-uring`.\n\n",
    );
    if !goals.is_empty() {
        s.push_str("Where flare stands against the goals of issue 3:\n\n");
        s.push_str(&render_goals(goals, true));
        s.push('\n');
    }
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
    s.push_str(".\n\nCommands:\n\n```sh\n");
    for (label, cmd) in &info.commands {
        s.push_str(&format!("# {label}\n{cmd}\n"));
    }
    s.push_str("```\n");
    s.push_str(END);
    s
}

/// Replaces the section of `doc` between the `start` and `end` markers (the
/// markers included, as `section` carries its own), or appends it; a missing doc
/// becomes a heading plus the section. Every bench suite writes its own section of
/// docs/benchmark.md through this.
pub fn splice_marked(doc: Option<&str>, start: &str, end: &str, section: &str) -> String {
    let Some(doc) = doc else {
        return format!("# Benchmarks\n\n{section}\n");
    };
    if let (Some(s), Some(e)) = (doc.find(start), doc.find(end)) {
        if s < e {
            let after = e + end.len();
            return format!(
                "{}{section}{}",
                doc.get(..s).unwrap_or_default(),
                doc.get(after..).unwrap_or_default()
            );
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

/// Replaces the h1 section of `doc`, or appends it.
pub fn splice_section(doc: Option<&str>, section: &str) -> String {
    splice_marked(doc, START, END, section)
}

/// A results file: when, commit, machine facts, settings and commands of `info`,
/// then the bench's own fields.
pub fn run_json<const N: usize>(info: &RunInfo, fields: [(&str, Json); N]) -> Json {
    let pairs = |v: &[(String, String)]| {
        Json::Obj(v.iter().map(|(k, x)| (k.clone(), Json::str(x))).collect())
    };
    let mut all = vec![
        ("when".to_string(), Json::str(&info.when)),
        ("commit".to_string(), Json::str(&info.commit)),
        (
            "machine".to_string(),
            Json::obj([
                ("cpu", Json::str(&info.cpu_model)),
                ("kernel", Json::str(&info.kernel)),
                ("cores", Json::Int(info.cores as u64)),
                ("clk_tck", Json::Int(info.clk_tck)),
                ("pinned", Json::Bool(info.pinned)),
            ]),
        ),
        ("settings".to_string(), pairs(&info.settings)),
        ("commands".to_string(), pairs(&info.commands)),
    ];
    all.extend(fields.into_iter().map(|(k, v)| (k.to_string(), v)));
    Json::Obj(all)
}

/// The results file.
pub fn to_json(
    info: &RunInfo,
    rounds: &[Round],
    traced: &[SyscallRun],
    summaries: &[Summary],
    goals: &[Goal],
) -> Json {
    run_json(
        info,
        [
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
                "goals",
                Json::Arr(
                    goals
                        .iter()
                        .map(|g| {
                            Json::obj([
                                ("server", Json::str(g.server)),
                                ("goal", Json::str(&g.goal)),
                                ("met", g.met.map_or(Json::Null, Json::Bool)),
                                ("detail", Json::str(&g.detail)),
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
        ],
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::{goals, summarize, tests::sample};

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
        let goals = goals(&summaries, 16);
        let s = docs_section(&info, &summaries, &goals);
        assert!(s.starts_with(START) && s.ends_with(END));
        for needle in [
            "2026-11-26 01:40 UTC",
            "abc1234",
            "Test CPU",
            "2 cores",
            "6.1.0",
            "wrk -t1 -c64",
            "recvfrom 0.75",
            "goals of issue 3",
            "- flare, keep-alive: syscalls per request below nginx's: met (1.50 vs nginx 2.00, 0.75x)",
        ] {
            assert!(s.contains(needle), "missing {needle} in\n{s}");
        }
        let json = to_json(&info, &rounds, &traced, &summaries, &goals).render();
        assert!(json.contains("\"cpu_user_us_per_req\": 1"));
        assert!(json.contains("\"raw\": \"nginx-plain-r3.txt\""));
        assert!(json.contains("\"goal\": \"keep-alive: user CPU <= 0.50 us/request\""));
    }
}

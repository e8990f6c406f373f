//! Summaries of a `bench tls` run: medians and CPU per unit of work, the
//! table, the JSON results file and the marked section of
//! `docs/benchmark.md`.

use super::HandshakeRun;
use crate::bench::json::Json;
use crate::bench::procfs::CpuTicks;
use crate::bench::publish::RunInfo;
use crate::bench::report::{fmt_latency, render_markdown};
use crate::bench::wrk::WrkReport;

/// Start and end markers of the section in `docs/benchmark.md`.
const START: &str = "<!-- bench:tls:start -->";
/// End marker.
const END: &str = "<!-- bench:tls:end -->";

/// One round against one server.
pub(super) struct RoundResult {
    pub(super) server: &'static str,
    pub(super) index: u32,
    pub(super) keepalive: WrkReport,
    pub(super) keepalive_cpu: CpuTicks,
    /// Length of the keep-alive run, seconds.
    pub(super) keepalive_secs: f64,
    pub(super) raw: String,
    pub(super) handshakes: HandshakeRun,
    pub(super) handshake_cpu: CpuTicks,
}

/// Per server over all rounds.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Summary {
    server: &'static str,
    rounds: usize,
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    /// Server CPU (user + system) per keep-alive request, microseconds.
    cpu_us_per_req: f64,
    /// How busy the server was during the keep-alive runs, in percent of one
    /// CPU: well under 100 means the client, not the server, set the rate.
    keepalive_busy: f64,
    handshakes_per_sec: f64,
    /// Server CPU (user + system) per full handshake, microseconds.
    cpu_us_per_handshake: f64,
    /// The same during the handshake runs.
    handshake_busy: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Medians of the rates; CPU figures as total ticks over total work.
pub(super) fn summarize(results: &[RoundResult], clk_tck: u64) -> Vec<Summary> {
    let mut names: Vec<&'static str> = Vec::new();
    for r in results {
        if !names.contains(&r.server) {
            names.push(r.server);
        }
    }
    let us_per_tick = 1e6 / clk_tck.max(1) as f64;
    names
        .into_iter()
        .map(|name| {
            let mine: Vec<&RoundResult> = results.iter().filter(|r| r.server == name).collect();
            let ticks = |f: &dyn Fn(&RoundResult) -> CpuTicks| -> f64 {
                mine.iter()
                    .map(|r| {
                        let c = f(r);
                        (c.user + c.system) as f64
                    })
                    .sum::<f64>()
                    * us_per_tick
            };
            let requests: u64 = mine.iter().map(|r| r.keepalive.requests).sum();
            let connections: u64 = mine.iter().map(|r| r.handshakes.connections).sum();
            // CPU microseconds over wall microseconds, in percent.
            let busy = |cpu_us: f64, secs: f64| {
                if secs > 0.0 {
                    cpu_us / (secs * 1e4)
                } else {
                    0.0
                }
            };
            let ka_secs: f64 = mine.iter().map(|r| r.keepalive_secs).sum();
            let hs_secs: f64 = mine.iter().map(|r| r.handshakes.secs).sum();
            Summary {
                server: name,
                rounds: mine.len(),
                rps: median(mine.iter().map(|r| r.keepalive.rps).collect()),
                p50_us: median(mine.iter().map(|r| r.keepalive.p50_us).collect()),
                p99_us: median(mine.iter().map(|r| r.keepalive.p99_us).collect()),
                cpu_us_per_req: ticks(&|r| r.keepalive_cpu) / requests.max(1) as f64,
                keepalive_busy: busy(ticks(&|r| r.keepalive_cpu), ka_secs),
                handshakes_per_sec: median(mine.iter().map(|r| r.handshakes.rate()).collect()),
                cpu_us_per_handshake: ticks(&|r| r.handshake_cpu) / connections.max(1) as f64,
                handshake_busy: busy(ticks(&|r| r.handshake_cpu), hs_secs),
            }
        })
        .collect()
}

/// A header row, one row per server, and a ratio row when nginx is there.
pub(super) fn rows(summaries: &[Summary]) -> Vec<Vec<String>> {
    let mut rows = vec![vec![
        "server".to_string(),
        "keep-alive req/s".into(),
        "p50".into(),
        "p99".into(),
        "CPU us/req".into(),
        "server busy".into(),
        "handshakes/s".into(),
        "CPU us/handshake".into(),
        "server busy".into(),
    ]];
    for s in summaries {
        rows.push(vec![
            s.server.to_string(),
            format!("{:.0}", s.rps),
            fmt_latency(s.p50_us),
            fmt_latency(s.p99_us),
            format!("{:.1}", s.cpu_us_per_req),
            format!("{:.0}%", s.keepalive_busy),
            format!("{:.0}", s.handshakes_per_sec),
            format!("{:.0}", s.cpu_us_per_handshake),
            format!("{:.0}%", s.handshake_busy),
        ]);
    }
    let find = |n: &str| summaries.iter().find(|s| s.server == n);
    if let (Some(f), Some(n)) = (find("flare"), find("nginx")) {
        let ratio = |a: f64, b: f64| {
            if b > 0.0 {
                format!("{:.2}x", a / b)
            } else {
                "-".into()
            }
        };
        rows.push(vec![
            "flare / nginx".into(),
            ratio(f.rps, n.rps),
            ratio(f.p50_us, n.p50_us),
            ratio(f.p99_us, n.p99_us),
            ratio(f.cpu_us_per_req, n.cpu_us_per_req),
            "-".into(),
            ratio(f.handshakes_per_sec, n.handshakes_per_sec),
            ratio(f.cpu_us_per_handshake, n.cpu_us_per_handshake),
            "-".into(),
        ]);
    }
    rows
}

pub(super) fn section(info: &RunInfo, summaries: &[Summary]) -> String {
    let mut s = String::new();
    s.push_str(START);
    s.push_str("\n## HTTPS: flare vs nginx (keep-alive and full handshakes)\n\n");
    s.push_str(&format!(
        "Measured {} at commit `{}` on {} ({} cores), Linux {}; {}.\n\n",
        info.when,
        info.commit,
        info.cpu_model,
        info.cores,
        info.kernel,
        if info.pinned {
            "server pinned to CPU 1, clients to CPU 0"
        } else {
            "not pinned (fewer than 2 CPUs)"
        }
    ));
    s.push_str(&render_markdown(&rows(summaries)));
    s.push_str(
        "\nKeep-alive: wrk over HTTPS (TLS 1.3, HTTP/1.1, no ALPN) to `GET /plaintext`; req/s, p50 \
         and p99 are medians over the rounds. Handshakes: parallel `openssl s_time -new` clients, \
         each connection a full TLS 1.3 handshake (ECDHE X25519, ECDSA P-256 signature, no \
         resumption) and no request; handshakes/s is connections over the wall time, median over \
         the rounds. CPU figures are the server's utime + stime (`/proc/PID/stat`, summed over its \
         processes and threads) across all rounds divided by requests or handshakes. Server busy \
         is that CPU time over the wall time, in percent of one CPU: well under 100% means the \
         clients on CPU 0 (one wrk thread, the s_time processes), not the server, set the rate, \
         and the CPU columns are the comparison that counts. Other work on the machine (see the load average \
         below) is noise both servers share round by round; p99 moves with it most.\n\n",
    );
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

/// Replaces the tls section of `doc`, or appends it.
pub(super) fn splice(doc: Option<&str>, section: &str) -> String {
    crate::bench::publish::splice_marked(doc, START, END, section)
}

pub(super) fn to_json(info: &RunInfo, results: &[RoundResult], summaries: &[Summary]) -> Json {
    crate::bench::publish::run_json(
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
                                ("rounds", Json::Int(s.rounds as u64)),
                                ("keepalive_rps_median", Json::Num(s.rps)),
                                ("keepalive_p50_us", Json::Num(s.p50_us)),
                                ("keepalive_p99_us", Json::Num(s.p99_us)),
                                ("cpu_us_per_req", Json::Num(s.cpu_us_per_req)),
                                ("keepalive_server_busy_pct", Json::Num(s.keepalive_busy)),
                                ("handshakes_per_sec_median", Json::Num(s.handshakes_per_sec)),
                                ("cpu_us_per_handshake", Json::Num(s.cpu_us_per_handshake)),
                                ("handshake_server_busy_pct", Json::Num(s.handshake_busy)),
                            ])
                        })
                        .collect(),
                ),
            ),
            (
                "rounds",
                Json::Arr(
                    results
                        .iter()
                        .map(|r| {
                            Json::obj([
                                ("server", Json::str(r.server)),
                                ("round", Json::Int(u64::from(r.index))),
                                ("requests", Json::Int(r.keepalive.requests)),
                                ("rps", Json::Num(r.keepalive.rps)),
                                ("p50_us", Json::Num(r.keepalive.p50_us)),
                                ("p99_us", Json::Num(r.keepalive.p99_us)),
                                ("socket_errors", Json::Int(r.keepalive.socket_errors)),
                                ("cpu_user_ticks", Json::Int(r.keepalive_cpu.user)),
                                ("cpu_sys_ticks", Json::Int(r.keepalive_cpu.system)),
                                ("raw", Json::str(&r.raw)),
                                ("handshakes", Json::Int(r.handshakes.connections)),
                                ("handshake_secs", Json::Num(r.handshakes.secs)),
                                ("handshake_cpu_user_ticks", Json::Int(r.handshake_cpu.user)),
                                ("handshake_cpu_sys_ticks", Json::Int(r.handshake_cpu.system)),
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

    fn round(server: &'static str, rps: f64, user: u64, hs: u64) -> RoundResult {
        RoundResult {
            server,
            index: 1,
            keepalive: WrkReport {
                requests: (rps * 10.0) as u64,
                rps,
                p50_us: 500.0,
                p99_us: 900.0,
                socket_errors: 0,
                non_2xx: 0,
            },
            keepalive_cpu: CpuTicks { user, system: 0 },
            keepalive_secs: 10.0,
            raw: format!("{server}.txt"),
            handshakes: HandshakeRun {
                connections: hs,
                secs: 10.0,
            },
            handshake_cpu: CpuTicks {
                user: 0,
                system: user,
            },
        }
    }

    #[test]
    fn summaries_take_medians_and_divide_cpu_by_work() {
        let results = [
            round("flare", 100_000.0, 100, 10_000),
            round("nginx", 50_000.0, 100, 5_000),
            round("flare", 120_000.0, 100, 10_000),
            round("nginx", 40_000.0, 100, 5_000),
        ];
        let s = summarize(&results, 100);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].server, "flare");
        assert_eq!(s[0].rps, 110_000.0);
        // 200 ticks = 2 s over 2.2 M requests.
        assert!((s[0].cpu_us_per_req - 2e6 / 2.2e6).abs() < 1e-9);
        assert_eq!(s[0].handshakes_per_sec, 1000.0);
        assert!((s[0].cpu_us_per_handshake - 100.0).abs() < 1e-9);
        assert_eq!(s[1].handshakes_per_sec, 500.0);
        let r = rows(&s);
        assert_eq!(r.len(), 4);
        assert_eq!(r[3][0], "flare / nginx");
        assert_eq!(r[3][1], "2.44x");
        assert_eq!(r[3][6], "2.00x");
        // 100 ticks (1 s of CPU) per 10 s round: 10% busy, both runs.
        assert_eq!((r[1][5].as_str(), r[1][8].as_str()), ("10%", "10%"));
    }

    #[test]
    fn splice_replaces_only_the_tls_section() {
        let section = format!("{START}\nnew\n{END}");
        let doc = format!(
            "# Benchmarks\n\n<!-- bench:h1:start -->\nh1\n<!-- bench:h1:end -->\n\n{START}\nold\n{END}\n"
        );
        let once = splice(Some(&doc), &section);
        assert!(once.contains("<!-- bench:h1:start -->\nh1\n<!-- bench:h1:end -->"));
        assert!(once.contains("\nnew\n") && !once.contains("old"));
        assert_eq!(splice(Some(&once), &section), once);
        let fresh = splice(Some("# Benchmarks\n"), &section);
        assert_eq!(fresh, format!("# Benchmarks\n\n{section}\n"));
        assert_eq!(
            splice(None, &section),
            format!("# Benchmarks\n\n{section}\n")
        );
    }
}

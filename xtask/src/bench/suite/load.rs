//! The load configs and the clients that drive them: wrk for closed-loop
//! throughput, oha for the constant-rate run with coordinated-omission
//! corrected latency; and reading what they print.

use crate::error::{Error, Result};

/// wrk's script: optional pipelining plus p50/p99/p99.9 at the end.
pub const WRK_SCRIPT: &str = "benches/peers/wrk/suite.lua";
/// Connections of every run.
pub const CONNECTIONS: u32 = 64;
/// Requests per write in the pipelined config.
pub const DEPTH: u32 = 16;
/// The constant rate is this share of the slowest peer's keep-alive peak.
pub const RATE_SHARE: f64 = 0.8;
/// ... capped at this share of what oha pushes closed-loop from one core:
/// oha (tokio, one core) tops out near the servers' own peak here, and a
/// client near saturation measures its own queueing, not the server's.
pub const CLIENT_SHARE: f64 = 0.5;

/// One load shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Config {
    /// `GET /plaintext`, keep-alive, one request per write.
    KeepAlive,
    /// `GET /plaintext`, 16 requests per write.
    Pipelined,
    /// `GET /json`, keep-alive.
    Json,
    /// `GET /plaintext` with `Connection: close`: a connection per request.
    Close,
    /// `GET /plaintext` at a constant rate (oha, latency corrected).
    Rate,
}

impl Config {
    /// Every config, in run order (Rate needs KeepAlive's figures).
    pub const ALL: [Config; 5] = [
        Config::KeepAlive,
        Config::Pipelined,
        Config::Json,
        Config::Close,
        Config::Rate,
    ];

    /// Name in files, JSON and `--configs`.
    pub fn name(self) -> &'static str {
        match self {
            Config::KeepAlive => "keepalive",
            Config::Pipelined => "pipelined",
            Config::Json => "json",
            Config::Close => "close",
            Config::Rate => "rate",
        }
    }

    /// The config called `name`.
    pub fn from_name(name: &str) -> Option<Config> {
        Config::ALL.into_iter().find(|c| c.name() == name)
    }

    /// A heading for tables and the chart.
    pub fn title(self) -> String {
        match self {
            Config::KeepAlive => format!("plaintext, keep-alive, {CONNECTIONS} connections"),
            Config::Pipelined => {
                format!("plaintext, pipelined x{DEPTH}, {CONNECTIONS} connections")
            }
            Config::Json => format!("JSON, keep-alive, {CONNECTIONS} connections"),
            Config::Close => {
                format!("plaintext, `Connection: close` churn, {CONNECTIONS} connections")
            }
            Config::Rate => format!(
                "plaintext, constant rate (oha, latency corrected), {CONNECTIONS} connections"
            ),
        }
    }

    /// wrk's arguments (after `wrk`) against `port`.
    pub fn wrk_args(self, secs: u64, port: u16) -> Vec<String> {
        let mut a = vec![
            "-t1".to_string(),
            format!("-c{CONNECTIONS}"),
            format!("-d{secs}s"),
            "--latency".into(),
            "-s".into(),
            WRK_SCRIPT.into(),
        ];
        if self == Config::Close {
            a.extend(["-H".into(), "Connection: close".into()]);
        }
        let path = if self == Config::Json {
            "json"
        } else {
            "plaintext"
        };
        a.push(format!("http://127.0.0.1:{port}/{path}"));
        let depth = if self == Config::Pipelined { DEPTH } else { 1 };
        a.extend(["--".into(), depth.to_string()]);
        a
    }
}

/// oha's arguments (after `oha`) for `secs` seconds at `rate` req/s.
pub fn oha_args(secs: u64, rate: u64, port: u16) -> Vec<String> {
    vec![
        "-z".into(),
        format!("{secs}s"),
        "-c".into(),
        CONNECTIONS.to_string(),
        "-q".into(),
        rate.to_string(),
        "--latency-correction".into(),
        "--no-tui".into(),
        "--output-format".into(),
        "json".into(),
        format!("http://127.0.0.1:{port}/plaintext"),
    ]
}

/// oha's arguments for a closed-loop run (no rate limit) of `secs` seconds.
pub fn oha_closed_args(secs: u64, port: u16) -> Vec<String> {
    let mut a = oha_args(secs, 1, port);
    // Drop `-q 1` and `--latency-correction` (which needs -q).
    a.retain(|x| x != "--latency-correction");
    if let Some(i) = a.iter().position(|x| x == "-q") {
        a.drain(i..i + 2);
    }
    a
}

/// What one client run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measured {
    /// Completed requests (2xx for oha; all for wrk, whose non-2xx count
    /// is in `bad`).
    pub requests: u64,
    /// Requests per second.
    pub rps: f64,
    /// Latency percentiles, microseconds.
    pub p50_us: f64,
    /// 99th.
    pub p99_us: f64,
    /// 99.9th.
    pub p999_us: f64,
    /// Socket errors (wrk) or failed requests (oha).
    pub errors: u64,
    /// Non-2xx answers.
    pub bad: u64,
}

/// Reads wrk's report plus the script's `suite-latency` lines.
pub fn parse_wrk(text: &str) -> Result<Measured> {
    let w = crate::bench::wrk::parse(text)?;
    let mut p = [None; 3];
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() != Some("suite-latency") {
            continue;
        }
        let slot = match words.next() {
            Some("p50") => 0,
            Some("p99") => 1,
            Some("p99.9") => 2,
            _ => continue,
        };
        if let (Some(cell), Some(v)) = (p.get_mut(slot), words.next()) {
            *cell = v.parse::<f64>().ok();
        }
    }
    let [p50, p99, p999] = p;
    Ok(Measured {
        requests: w.requests,
        rps: w.rps,
        p50_us: p50.unwrap_or(w.p50_us),
        p99_us: p99.unwrap_or(w.p99_us),
        p999_us: p999.ok_or_else(|| Error::Parse {
            what: "wrk output".into(),
            detail: format!("no `suite-latency p99.9` line (is {WRK_SCRIPT} in use?)"),
        })?,
        errors: w.socket_errors,
        bad: w.non_2xx,
    })
}

/// Reads oha's `--output-format json` report.
pub fn parse_oha(text: &str) -> Result<Measured> {
    let err = |detail: &str| Error::Parse {
        what: "oha JSON".into(),
        detail: detail.into(),
    };
    let object = |key: &str| -> Option<&str> {
        let at = text.find(&format!("\"{key}\""))?;
        let rest = text.get(at..)?;
        let open = rest.find('{')?;
        let close = rest.get(open..)?.find('}')?;
        rest.get(open + 1..open + close)
    };
    let percentiles = object("latencyPercentiles").ok_or_else(|| err("no latencyPercentiles"))?;
    let secs = |key: &str| -> Result<f64> {
        number(percentiles, key)
            .map(|s| s * 1e6)
            .ok_or_else(|| err(&format!("no latencyPercentiles.{key}")))
    };
    let statuses = object("statusCodeDistribution").unwrap_or_default();
    let mut ok = 0u64;
    let mut bad = 0u64;
    for entry in statuses.split(',') {
        let Some((code, n)) = entry.split_once(':') else {
            continue;
        };
        let code = code.trim().trim_matches('"');
        let n = n.trim().parse::<u64>().map_err(|_| err(entry))?;
        if code.starts_with('2') {
            ok += n;
        } else {
            bad += n;
        }
    }
    let errors: u64 = object("errorDistribution")
        .unwrap_or_default()
        .split(',')
        .filter_map(|e| e.split_once(':'))
        .filter_map(|(_, n)| n.trim().parse::<u64>().ok())
        .sum();
    let summary = object("summary").ok_or_else(|| err("no summary"))?;
    let total_secs = number(summary, "total").ok_or_else(|| err("no summary.total"))?;
    Ok(Measured {
        requests: ok,
        rps: if total_secs > 0.0 {
            ok as f64 / total_secs
        } else {
            0.0
        },
        p50_us: secs("p50")?,
        p99_us: secs("p99")?,
        p999_us: secs("p99.9")?,
        errors,
        bad,
    })
}

/// The number after `"key":` in a flat JSON object body.
fn number(body: &str, key: &str) -> Option<f64> {
    let at = body.find(&format!("\"{key}\""))? + key.len() + 2;
    let rest = body.get(at..)?.trim_start().strip_prefix(':')?.trim_start();
    let end = rest
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(rest.len());
    rest.get(..end)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "\
Running 3s test @ http://127.0.0.1:1/plaintext
  1 threads and 64 connections
  Latency Distribution
     50%  209.00us
     75%  333.00us
     90%  459.00us
     99%    1.38ms
  332395 requests in 2.00s, 51.04MB read
Requests/sec: 166062.99
Transfer/sec:     25.50MB
suite-latency p50 211
suite-latency p99 1391
suite-latency p99.9 4012
";

    #[test]
    fn wrk_with_the_script_percentiles() {
        let m = parse_wrk(WRK).expect("parses");
        assert_eq!(m.requests, 332_395);
        assert_eq!((m.p50_us, m.p99_us, m.p999_us), (211.0, 1391.0, 4012.0));
        let without: String = WRK
            .lines()
            .filter(|l| !l.contains("p99.9"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert!(parse_wrk(&without).is_err());
    }

    #[test]
    fn oha_json_report() {
        let text = r#"{
  "summary": { "successRate": 1.0, "total": 2.0, "slowest": 0.01, "requestsPerSec": 999.0 },
  "latencyPercentiles": { "p10": 0.0001, "p50": 0.0002, "p99": 0.001, "p99.9": 0.004, "p99.99": 0.005 },
  "statusCodeDistribution": { "200": 1998, "503": 2 },
  "errorDistribution": { "connection closed": 3 }
}"#;
        let m = parse_oha(text).expect("parses");
        assert_eq!((m.requests, m.bad, m.errors), (1998, 2, 3));
        assert!((m.rps - 999.0).abs() < 1e-9);
        assert!((m.p50_us - 200.0).abs() < 1e-6);
        assert!((m.p999_us - 4000.0).abs() < 1e-6);
        assert!(parse_oha("{}").is_err());
    }

    #[test]
    fn wrk_arguments_per_config() {
        let ka = Config::KeepAlive.wrk_args(8, 9000).join(" ");
        assert_eq!(
            ka,
            format!("-t1 -c64 -d8s --latency -s {WRK_SCRIPT} http://127.0.0.1:9000/plaintext -- 1")
        );
        assert!(Config::Pipelined
            .wrk_args(8, 1)
            .join(" ")
            .ends_with("-- 16"));
        assert!(Config::Json.wrk_args(8, 1).join(" ").contains("/json"));
        assert!(Config::Close
            .wrk_args(8, 1)
            .contains(&"Connection: close".to_string()));
        for c in Config::ALL {
            assert_eq!(Config::from_name(c.name()), Some(c));
        }
    }

    #[test]
    fn the_script_pipelines_and_prints_percentiles() {
        let script = std::fs::read_to_string(crate::util::workspace_root().join(WRK_SCRIPT))
            .expect("script");
        assert!(script.contains("init = function(args)"));
        assert!(script.contains("suite-latency p%g"));
    }
}

//! The load: h2load shapes (connections x streams, h2c or TLS), its command
//! line, what its report says, and latency percentiles from its per-request
//! log.

use std::fs;
use std::path::Path;

use crate::error::{Error, Result};

/// One load shape: `-c connections -m streams`, on h2c or TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    pub(super) tls: bool,
    pub(super) connections: u32,
    pub(super) streams: u32,
}

impl Shape {
    /// The six shapes of issue 19, in report order.
    pub(super) const ALL: [Shape; 6] = [
        Shape::new(false, 16, 100),
        Shape::new(false, 64, 10),
        Shape::new(false, 1, 1),
        Shape::new(true, 16, 100),
        Shape::new(true, 64, 10),
        Shape::new(true, 1, 1),
    ];

    const fn new(tls: bool, connections: u32, streams: u32) -> Shape {
        Shape {
            tls,
            connections,
            streams,
        }
    }

    /// `h2c-16x100`, `tls-1x1`, ...: the `--shapes` spelling.
    pub(super) fn name(self) -> String {
        format!("{}-{}x{}", self.transport(), self.connections, self.streams)
    }

    pub(super) fn transport(self) -> &'static str {
        if self.tls {
            "tls"
        } else {
            "h2c"
        }
    }

    /// How the report's tables spell it: `h2c -c 16 -m 100`.
    pub(super) fn title(self) -> String {
        format!(
            "{} -c {} -m {}",
            self.transport(),
            self.connections,
            self.streams
        )
    }

    /// `h2c-16x100`, or `h2c`/`tls` for the three shapes of that transport.
    pub(super) fn parse_list(list: &str) -> Result<Vec<Shape>> {
        let mut out = Vec::new();
        for word in list.split(',').map(str::trim) {
            let matched: Vec<Shape> = Shape::ALL
                .into_iter()
                .filter(|s| s.name() == word || s.transport() == word)
                .collect();
            if matched.is_empty() {
                let names: Vec<String> = Shape::ALL.iter().map(|s| s.name()).collect();
                return Err(crate::error::Error::Usage(format!(
                    "unknown shape `{word}` (h2c, tls, {})",
                    names.join(", ")
                )));
            }
            for s in matched {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        // Report order, whatever order the list gave.
        out.sort_by_key(|s| Shape::ALL.iter().position(|a| a == s));
        Ok(out)
    }
}

/// How long one h2load run lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Length {
    /// `-D MS` in milliseconds.
    Millis(u64),
    /// `-n N` requests.
    Requests(u64),
}

/// The TLS 1.3 suite every server is held to, so the TLS shapes compare
/// servers and not ciphers.
pub(super) const TLS13_CIPHER: &str = "TLS_AES_128_GCM_SHA256";

/// h2load's arguments for one run against `port` (`/plaintext`), with a
/// per-request log when `log` is given.
pub(super) fn h2load_args(
    shape: Shape,
    length: Length,
    port: &str,
    log: Option<&Path>,
) -> Vec<String> {
    let mut a = match length {
        Length::Millis(ms) => vec!["-D".to_string(), format!("{ms}ms")],
        Length::Requests(n) => vec!["-n".to_string(), n.to_string()],
    };
    a.extend([
        "-c".into(),
        shape.connections.to_string(),
        "-m".into(),
        shape.streams.to_string(),
        "-t".into(),
        "1".into(),
    ]);
    if shape.tls {
        a.push(format!("--tls13-ciphers={TLS13_CIPHER}"));
    }
    if let Some(log) = log {
        a.push(format!("--log-file={}", log.display()));
    }
    let scheme = if shape.tls { "https" } else { "http" };
    a.push(format!("{scheme}://127.0.0.1:{port}/plaintext"));
    a
}

/// What one h2load run reports.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct H2loadReport {
    pub(super) rps: f64,
    pub(super) done: u64,
    pub(super) succeeded: u64,
    pub(super) failed: u64,
    pub(super) errored: u64,
    pub(super) timeout: u64,
    pub(super) status_2xx: u64,
    /// 3xx, 4xx and 5xx together.
    pub(super) status_other: u64,
    /// `Application protocol:` (TLS runs only).
    pub(super) alpn: Option<String>,
    /// `Cipher:` (TLS runs only).
    pub(super) cipher: Option<String>,
}

impl H2loadReport {
    /// Every request answered 2xx, none failed, and TLS runs spoke h2 with
    /// the pinned cipher.
    pub(super) fn check(&self, shape: Shape) -> std::result::Result<(), String> {
        if self.succeeded == 0 {
            return Err("no request succeeded".into());
        }
        // A timed run stops with streams in flight: a response whose head
        // came in but whose body did not counts as 2xx but not as succeeded.
        if self.failed + self.errored + self.timeout + self.status_other > 0
            || self.status_2xx < self.succeeded
        {
            return Err(format!(
                "{} succeeded, {} failed, {} errored, {} timed out; {} 2xx, {} other statuses",
                self.succeeded,
                self.failed,
                self.errored,
                self.timeout,
                self.status_2xx,
                self.status_other
            ));
        }
        if shape.tls {
            if self.alpn.as_deref() != Some("h2") {
                return Err(format!("TLS negotiated ALPN {:?}, want h2", self.alpn));
            }
            if self.cipher.as_deref() != Some(TLS13_CIPHER) {
                return Err(format!("TLS cipher {:?}, want {TLS13_CIPHER}", self.cipher));
            }
        }
        Ok(())
    }
}

/// Reads `finished in 1.23s, 81234.56 req/s, ...`, the `requests:` and
/// `status codes:` lines, and for TLS the `Application protocol:` and
/// `Cipher:` lines of h2load's output.
pub(super) fn parse_h2load(text: &str) -> Result<H2loadReport> {
    let bad = |detail: &str| Error::Parse {
        what: "h2load output".into(),
        detail: detail.into(),
    };
    let line = |prefix: &str| text.lines().find_map(|l| l.strip_prefix(prefix));
    let rps = line("finished in ")
        .and_then(|l| l.split(", ").nth(1))
        .and_then(|v| v.strip_suffix(" req/s"))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .ok_or_else(|| bad("no `finished in ..., N req/s` line"))?;
    let requests = line("requests: ").ok_or_else(|| bad("no `requests:` line"))?;
    let codes = line("status codes: ").ok_or_else(|| bad("no `status codes:` line"))?;
    let field = |line: &str, name: &str| -> Result<u64> {
        line.split(", ")
            .find_map(|p| p.trim().strip_suffix(name))
            .and_then(|n| n.trim().parse().ok())
            .ok_or_else(|| bad(&format!("no `N{name}` count")))
    };
    Ok(H2loadReport {
        rps,
        done: field(requests, " done")?,
        succeeded: field(requests, " succeeded")?,
        failed: field(requests, " failed")?,
        errored: field(requests, " errored")?,
        timeout: field(requests, " timeout").unwrap_or(0),
        status_2xx: field(codes, " 2xx")?,
        status_other: field(codes, " 3xx")? + field(codes, " 4xx")? + field(codes, " 5xx")?,
        alpn: line("Application protocol: ").map(|s| s.trim().to_string()),
        cipher: line("Cipher: ").map(|s| s.trim().to_string()),
    })
}

/// Latency percentiles of one logged run, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Latency {
    pub(super) requests: u64,
    pub(super) p50_us: f64,
    pub(super) p99_us: f64,
    pub(super) p999_us: f64,
}

/// Reads h2load's `--log-file` (start time, status, microseconds until the
/// end of the response; tab-separated) and takes the percentiles of the
/// third column. A row with a status other than 200 (`-1`: a failed stream)
/// is an error: the integrity of the run is part of the figure.
pub(super) fn latency_from_log(path: &Path) -> Result<Latency> {
    let text = fs::read_to_string(path).map_err(|e| Error::io(path.display().to_string(), e))?;
    latency_from_text(&text).map_err(|detail| Error::Parse {
        what: format!("h2load log {}", path.display()),
        detail,
    })
}

fn latency_from_text(text: &str) -> std::result::Result<Latency, String> {
    let mut us: Vec<u64> = Vec::with_capacity(text.len() / 24);
    for (i, row) in text.lines().enumerate() {
        let mut cols = row.split('\t');
        let (_, status, micros) = (cols.next(), cols.next(), cols.next());
        if status != Some("200") {
            return Err(format!("row {}: status {status:?}, want 200", i + 1));
        }
        let v = micros
            .and_then(|m| m.trim().parse::<u64>().ok())
            .ok_or_else(|| format!("row {}: no latency in `{row}`", i + 1))?;
        us.push(v);
    }
    if us.is_empty() {
        return Err("no requests logged".into());
    }
    us.sort_unstable();
    // Nearest rank: the smallest value with at least q of the rows at or below it.
    let rank = |q: f64| {
        let idx = ((q * us.len() as f64).ceil() as usize).clamp(1, us.len()) - 1;
        us.get(idx).copied().unwrap_or(0) as f64
    };
    Ok(Latency {
        requests: us.len() as u64,
        p50_us: rank(0.50),
        p99_us: rank(0.99),
        p999_us: rank(0.999),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h2load_output_is_read_and_checked() {
        let text = "\
TLS Protocol: TLSv1.3
Cipher: TLS_AES_128_GCM_SHA256
Application protocol: h2
finished in 1.02s, 98039.22 req/s, 3.46MB/s
requests: 100000 total, 100000 started, 100000 done, 100000 succeeded, 0 failed, 0 errored, 0 timeout
status codes: 100000 2xx, 0 3xx, 0 4xx, 0 5xx
";
        let r = parse_h2load(text).expect("parses");
        assert_eq!(
            (r.done, r.succeeded, r.failed, r.status_2xx),
            (100000, 100000, 0, 100000)
        );
        assert!((r.rps - 98039.22).abs() < 1e-6);
        assert_eq!(r.alpn.as_deref(), Some("h2"));
        let tls = Shape::ALL[3];
        assert!(r.check(tls).is_ok());
        let mut http11 = r.clone();
        http11.alpn = Some("http/1.1".into());
        assert!(http11.check(tls).unwrap_err().contains("ALPN"));
        let mut failing = r.clone();
        failing.failed = 3;
        assert!(failing.check(Shape::ALL[0]).is_err());
        let mut not_2xx = r.clone();
        not_2xx.status_2xx = 99_999;
        assert!(not_2xx.check(Shape::ALL[0]).is_err());
        let mut in_flight = r.clone();
        in_flight.status_2xx = 100_001;
        assert!(in_flight.check(Shape::ALL[0]).is_ok());
        let mut a_404 = r;
        a_404.status_other = 1;
        assert!(a_404.check(Shape::ALL[0]).is_err());
        assert!(parse_h2load("nothing").is_err());
    }

    #[test]
    fn shapes_args_and_lists() {
        assert_eq!(Shape::ALL[0].name(), "h2c-16x100");
        assert_eq!(Shape::ALL[5].title(), "tls -c 1 -m 1");
        let a = h2load_args(Shape::ALL[4], Length::Millis(4000), "PORT", None).join(" ");
        assert_eq!(
            a,
            "-D 4000ms -c 64 -m 10 -t 1 --tls13-ciphers=TLS_AES_128_GCM_SHA256 https://127.0.0.1:PORT/plaintext"
        );
        let log = Path::new("/t/l.tsv");
        let a = h2load_args(Shape::ALL[2], Length::Requests(9), "1", Some(log)).join(" ");
        assert_eq!(
            a,
            "-n 9 -c 1 -m 1 -t 1 --log-file=/t/l.tsv http://127.0.0.1:1/plaintext"
        );
        assert_eq!(
            Shape::parse_list("tls").expect("tls"),
            Shape::ALL[3..].to_vec()
        );
        assert_eq!(
            Shape::parse_list("tls-1x1,h2c-16x100,h2c-16x100").expect("two"),
            vec![Shape::ALL[0], Shape::ALL[5]]
        );
        assert!(Shape::parse_list("h3").is_err());
    }

    #[test]
    fn percentiles_from_the_log() {
        let rows: String = (1..=1000)
            .map(|i| format!("1796606547075790\t200\t{i}\n"))
            .collect();
        let l = latency_from_text(&rows).expect("reads");
        assert_eq!(
            (l.requests, l.p50_us, l.p99_us, l.p999_us),
            (1000, 500.0, 990.0, 999.0)
        );
        assert!(latency_from_text("1\t-1\t5\n")
            .unwrap_err()
            .contains("status"));
        assert!(latency_from_text("").is_err());
        assert!(latency_from_text("1\t200\n").is_err());
    }
}
